//! The error behind a 503 from `/readyz` goes to the log, whole. A test binary of its own: tracing
//! caches whether a log line is wanted per call site, process-wide, so a test that captures logs
//! with a scoped subscriber must be the only one to reach that call site.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use axum::{body::Body, http::StatusCode};
use http_body_util::BodyExt;
use owp_platform::http::{Health, NotReady, ReadyCheck};
use tower::ServiceExt;

const RAW: &str = "error returned from database: password authentication failed for user \"owp_app\"";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_error_is_logged_and_the_body_names_the_dependency() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let ready = ReadyCheck::new(|| async { Err(NotReady::database(RAW)) });
    let request = axum::http::Request::get("/readyz").body(Body::empty()).unwrap();
    let response = Health::new(ready, Arc::default()).routes::<()>().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("the database does not answer") && !body.contains("owp_app"), "{body}");

    let logged = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("WARN") && logged.contains("not ready"), "{logged}");
    assert!(logged.contains(r#"dependency="the database does not answer""#), "{logged}");
    assert!(logged.contains(RAW), "the error is not in the log: {logged}");
}
