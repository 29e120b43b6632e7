//! The session credential of a request, one way for every service: `Authorization: Bearer
//! <session_id>`, or for browsers the `owp_session` cookie that auth's login sets (`HttpOnly;
//! Secure; SameSite=Strict`, so scripts cannot read it and other sites cannot send it).
//!
//! A session id in the URL is refused, never used: query strings end up in load balancer, WAF
//! and proxy logs, and in browser history, where a credential must not.

use axum::http::{HeaderMap, StatusCode, Uri, header};
use owp_protocol::{SessionId, Violation};

use super::Problem;

/// The cookie auth's login sets.
pub const SESSION_COOKIE: &str = "owp_session";

/// Where a session goes, for problems that name it.
pub const USE_THE_HEADER: &str =
    "send the session as the Authorization header (`Authorization: Bearer <session_id>`)";

/// The request's session, if it names one. A malformed credential is a 401, not "no session":
/// a client that meant to send one should learn it did not work.
pub fn session(headers: &HeaderMap, uri: &Uri) -> Result<Option<SessionId>, Problem> {
    refuse_in_query(uri)?;
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        return match token.map(SessionId::parse) {
            Some(Ok(session)) => Ok(Some(session)),
            _ => Err(unauthorized("the Authorization header must be `Bearer <session_id>`, a UUID")),
        };
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE);
    match cookie.map(|(_, value)| SessionId::parse(value.trim())) {
        None => Ok(None),
        Some(Ok(session)) => Ok(Some(session)),
        Some(Err(_)) => Err(unauthorized("the owp_session cookie is not a session id")),
    }
}

/// 400 for a `session_id` in the query string, naming the header to use instead.
pub fn refuse_in_query(uri: &Uri) -> Result<(), Problem> {
    let named = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair.split('=').next().is_some_and(|name| name.eq_ignore_ascii_case("session_id")));
    if named {
        return Err(Problem::new(StatusCode::BAD_REQUEST, "credential-in-url", "A session id in the URL")
            .detail(format!("a session id in the URL is refused: {USE_THE_HEADER}"))
            .errors(vec![Violation::new("/session_id", USE_THE_HEADER)]));
    }
    Ok(())
}

/// 401: the request needs a live session and does not carry a usable one.
pub fn unauthorized(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "A live session is required").detail(detail)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const ID: &str = "5b6f2c0e-2a55-4e4e-9a53-8a2f86f1d0a7";

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_and_cookie_are_read() {
        let uri: Uri = "/v1/messages".parse().unwrap();
        let bearer = session(&headers(header::AUTHORIZATION, &format!("Bearer {ID}")), &uri).unwrap();
        assert_eq!(bearer.unwrap().to_string(), ID);
        let cookie =
            session(&headers(header::COOKIE, &format!("theme=dark; owp_session={ID}")), &uri).unwrap();
        assert_eq!(cookie.unwrap().to_string(), ID);
        assert_eq!(session(&HeaderMap::new(), &uri).unwrap(), None);
    }

    #[test]
    fn a_malformed_credential_is_401() {
        let uri: Uri = "/v1/messages".parse().unwrap();
        for value in ["Basic abc", "Bearer not-a-uuid", "Bearer"] {
            let problem = session(&headers(header::AUTHORIZATION, value), &uri).unwrap_err();
            assert_eq!(problem.status, 401, "{value}");
        }
    }

    #[test]
    fn a_session_in_the_query_is_400_naming_the_header() {
        let uri: Uri = format!("/v1/messages?limit=5&session_id={ID}").parse().unwrap();
        let problem = session(&headers(header::AUTHORIZATION, &format!("Bearer {ID}")), &uri).unwrap_err();
        assert_eq!(problem.status, 400);
        assert!(problem.detail.unwrap().contains("Authorization: Bearer"));
        assert_eq!(problem.errors[0].pointer, "/session_id");
    }
}
