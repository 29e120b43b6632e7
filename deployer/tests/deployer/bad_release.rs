//! The bad-release marker in S3: the first marker wins, and a release marked bad cannot be
//! published again. (The daemon test shows a failed release getting marked and skipped.)

use deployer::store::{BadMarker, now_rfc3339};

use crate::helpers::{bucket, keypair, package, signed_by, store, version};

#[tokio::test]
async fn a_marked_release_stays_marked_and_cannot_be_published() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, _, _) = keypair(dir.path(), "release");
    let store = store(bucket().await);
    let v1 = package(dir.path(), "v1", "echo one", &secret);
    deployer::publish::publish(&store, Some(&v1.tarball), None, None, signed_by(&secret)).await.unwrap();
    assert_eq!(store.bad_marker(&version("v1")).await.unwrap(), None);

    let marker = |instance: &str, reason: &str| BadMarker {
        version: version("v1"),
        reason: reason.into(),
        instance: instance.into(),
        deploy_id: "d1".into(),
        marked_at: now_rfc3339(),
    };
    store.mark_bad(&marker("i-1", "ready failed: /readyz answered 503")).await.unwrap();
    // A second instance marking it too does not overwrite the first verdict.
    store.mark_bad(&marker("i-2", "something else")).await.unwrap();
    let found = store.bad_marker(&version("v1")).await.unwrap().expect("the marker");
    assert_eq!(
        (found.instance.as_str(), found.reason.as_str()),
        ("i-1", "ready failed: /readyz answered 503")
    );
    assert_eq!(store.bad_marker(&version("v2")).await.unwrap(), None, "markers are per version");

    let err = deployer::publish::publish(&store, None, Some(version("v1")), None, signed_by(&secret))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("marked bad") && err.contains("/readyz answered 503"), "{err}");
}
