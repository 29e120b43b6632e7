//! The three routes. Each writes one fact, waits until the projector has applied it, answers
//! (a failed login does not wait: its fact is the audit trail, not the throttle's input).
//! Each handler's `#[utoipa::path]` lists every status it can answer (see `crate::openapi`).

use std::time::{Duration, Instant};

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::post,
};
use owp_platform::{
    http::{
        Problem, body,
        credential::{self, SESSION_COOKIE, USE_THE_HEADER},
        openapi::{Internal, Invalid, JsonBodyRefusals, TooLarge, Unauthorized, Unavailable},
    },
    kafka,
};
use owp_projection::accounts::Accounts;
use owp_protocol::{
    DocumentId, Event, EventId, MessageKey, SessionId, TopicName, Violation,
    facts::{self, kind},
};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    Error, Settings,
    client::ClientAddress,
    openapi::{CredentialMisplaced, Locked},
    password::Passwords,
    throttle::{Admission, Throttle},
};

#[derive(Clone)]
#[allow(missing_debug_implementations)] // the producer has no Debug
pub struct AppState {
    /// The projector's tables.
    pub accounts: Accounts,
    pub producer: FutureProducer,
    pub events_topic: TopicName,
    pub settings: Settings,
    pub passwords: Passwords,
    pub throttle: Throttle,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/signup", post(signup))
        .route("/v1/login", post(login))
        .route("/v1/logout", post(logout))
        .with_state(state)
}

/// A username and password, for signing up and logging in.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    /// 3 to 64 ASCII letters, digits, `.`, `_`, `-` or `@`.
    #[schema(min_length = 3, max_length = 64, pattern = r"^[A-Za-z0-9._@-]{3,64}$", example = "joel")]
    username: String,
    /// 8 to 1024 characters; it reaches the log only as an argon2 hash.
    #[schema(min_length = 8, max_length = 1024, example = "vegetables are good")]
    password: String,
}

/// Answer to a sign-up.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedUp {
    pub user_id: Uuid,
    pub username: String,
}

/// Answer to a login: the session id to send documents with.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedIn {
    pub session_id: Uuid,
    pub user_id: Uuid,
}

/// Answer to a logout.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedOut {
    pub session_id: Uuid,
    /// Always true.
    pub ended: bool,
}

/// Reads a JSON body into `T`, naming the offending field on failure.
async fn read<T: for<'de> Deserialize<'de>>(headers: &HeaderMap, request: Body) -> Result<T, Problem> {
    let bytes = body::read(headers, request, body::Expect::Json, 64 * 1024).await?;
    let value = body::parse_json(&bytes)?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        let mut pointer = pointer(err.path());
        let detail = err.into_inner().to_string();
        // A missing field is reported at its parent; serde's message names it.
        if let Some(field) = detail.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
            pointer.push('/');
            pointer.push_str(&escape(field));
        }
        Problem::invalid(vec![Violation::new(pointer, detail)])
    })
}

/// The JSON pointer to where deserialising stopped (`""` for the whole body).
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .map(|segment| match segment {
            Segment::Seq { index } => format!("/{index}"),
            Segment::Map { key } => format!("/{}", escape(key)),
            Segment::Enum { variant } => format!("/{}", escape(variant)),
            Segment::Unknown => String::new(),
        })
        .collect()
}

/// RFC 6901 escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The username and password rules, for sign-up and login alike: a name that could not have
/// signed up cannot log in either, and it never reaches the database or the log.
fn validate(credentials: &Credentials) -> Result<(), Problem> {
    let mut violations = Vec::new();
    let name_ok = (3..=64).contains(&credentials.username.len())
        && credentials.username.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if !name_ok {
        violations.push(Violation::new("/username", "3 to 64 of letters, digits, '.', '_', '-', '@'"));
    }
    if !(8..=1024).contains(&credentials.password.chars().count()) {
        violations.push(Violation::new("/password", "8 to 1024 characters"));
    }
    if violations.is_empty() { Ok(()) } else { Err(Problem::invalid(violations)) }
}

fn respond(result: Result<Response, Problem>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Signs a user up; answers once the account exists, so a login can follow at once.
#[utoipa::path(
    post,
    path = "/v1/signup",
    tag = "auth",
    request_body(content = Credentials, content_type = "application/json"),
    responses(
        (status = 201, description = "The account exists", body = SignedUp),
        JsonBodyRefusals,
        Invalid,
        (status = 409, description = "The username is taken (`/problems/username-taken`)",
         body = Problem, content_type = "application/problem+json"),
        Internal,
        Unavailable,
    ),
)]
pub(crate) async fn signup(State(state): State<AppState>, headers: HeaderMap, request: Body) -> Response {
    respond(
        async {
            let credentials: Credentials = read(&headers, request).await?;
            validate(&credentials)?;
            if state.accounts.username_taken(&credentials.username).await.map_err(Error::from)? {
                return Err(taken());
            }
            let hash = state.passwords.hash(credentials.password).await?;
            let user_id = Uuid::new_v4();
            let fact =
                facts::UserSignedUp { user_id, username: credentials.username.clone(), password_hash: hash };
            append(&state, kind::USER_SIGNED_UP, None, MessageKey::new(user_id.to_string()), json!(fact))
                .await?;
            let owner = wait_for(&state, || state.accounts.user_id(&credentials.username)).await?;
            match owner {
                owner if owner == user_id => {
                    Ok((StatusCode::CREATED, Json(SignedUp { user_id, username: credentials.username }))
                        .into_response())
                }
                _ => Err(taken()),
            }
        }
        .await,
    )
}

/// Logs a user in; the session id works at once. Unknown usernames fail like wrong passwords,
/// and take as long.
#[utoipa::path(
    post,
    path = "/v1/login",
    tag = "auth",
    request_body(content = Credentials, content_type = "application/json"),
    params(
        ("X-Forwarded-For" = Option<String>, Header,
         description = "Read only behind `--trusted-proxies` proxies: failed logins are counted per client address"),
    ),
    responses(
        (status = 200, description = "A new live session; also set as the `owp_session` cookie for browsers",
         body = LoggedIn,
         headers(("Set-Cookie" = String,
                  description = "`owp_session=<session_id>; HttpOnly; Secure; SameSite=Strict; Path=/`"))),
        JsonBodyRefusals,
        Invalid,
        (status = 401, description = "Wrong username or password (`/problems/login-failed`)",
         body = Problem, content_type = "application/problem+json"),
        Locked,
        Internal,
        Unavailable,
    ),
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    address: ClientAddress,
    headers: HeaderMap,
    request: Body,
) -> Response {
    respond(
        async {
            let credentials: Credentials = read(&headers, request).await?;
            validate(&credentials)?;
            let reservation = match state.throttle.reserve(&credentials.username, &address).await? {
                Admission::Admitted(reservation) => reservation,
                Admission::Refused(wait) => {
                    return Err(Problem::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "locked",
                        "Too many failed logins",
                    )
                    .detail("too many failed logins from this address; try again after Retry-After seconds")
                    .retry_after(wait));
                }
            };
            let login = state.accounts.login(&credentials.username).await.map_err(Error::from)?;
            let (user_id, hash) = login.map(|login| (login.user_id, login.password_hash)).unzip();
            let matches = match state.passwords.verify(credentials.password, hash).await {
                Ok(matches) => matches,
                Err(err) => {
                    // Not checked, so not a failure: the attempt is given back.
                    if let Err(cancel) = state.throttle.cancel(&reservation).await {
                        tracing::warn!(error = %cancel, "cannot give back a login attempt");
                    }
                    return Err(err.into());
                }
            };
            let Some(user_id) = user_id.filter(|_| matches) else {
                // Unknown names fail like wrong passwords: a login must not reveal who has an account.
                append(
                    &state,
                    kind::LOGIN_FAILED,
                    None,
                    MessageKey::new(credentials.username.clone()),
                    json!(facts::LoginFailed { username: credentials.username.clone() }),
                )
                .await?;
                return Err(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "login-failed",
                    "Wrong username or password",
                ));
            };
            state.throttle.succeeded(&reservation).await?;
            let session_id = SessionId::new_random();
            let fact = facts::SessionStarted {
                session_id: *session_id.as_uuid(),
                user_id,
                username: credentials.username,
            };
            append(
                &state,
                kind::SESSION_STARTED,
                Some(session_id),
                MessageKey::new(session_id.to_string()),
                json!(fact),
            )
            .await?;
            wait_for(&state, || applied(state.accounts.session_started(*session_id.as_uuid()))).await?;
            // For browsers: scripts cannot read it (HttpOnly), it never travels in clear (Secure),
            // and other sites' pages cannot make the browser send it (SameSite=Strict).
            let cookie = format!("{SESSION_COOKIE}={session_id}; HttpOnly; Secure; SameSite=Strict; Path=/");
            Ok((
                [(header::SET_COOKIE, cookie)],
                Json(LoggedIn { session_id: *session_id.as_uuid(), user_id }),
            )
                .into_response())
        }
        .await,
    )
}

/// Ends the live session the request carries: `Authorization: Bearer <session_id>`, or the
/// `owp_session` cookie. A session id in the query string or the body is refused.
#[utoipa::path(
    post,
    path = "/v1/logout",
    tag = "auth",
    params(
        ("Authorization" = Option<String>, Header, description = "`Bearer <session_id>` (from login)"),
    ),
    responses(
        (status = 200, description = "The session has ended; the `owp_session` cookie is cleared",
         body = LoggedOut,
         headers(("Set-Cookie" = String, description = "`owp_session=; Max-Age=0; HttpOnly; Secure; SameSite=Strict; Path=/`"))),
        CredentialMisplaced,
        Unauthorized,
        (status = 404, description = "No such live session (`/problems/no-session`)",
         body = Problem, content_type = "application/problem+json"),
        TooLarge,
        Unavailable,
    ),
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    request: Body,
) -> Response {
    respond(
        async {
            credential::refuse_in_query(&uri)?;
            refuse_in_body(request).await?;
            let Some(session) = credential::session(&headers, &uri)? else {
                return Err(credential::unauthorized(format!("logout needs the session: {USE_THE_HEADER}")));
            };
            let session_id = *session.as_uuid();
            let live = state.accounts.session_open(session_id).await.map_err(Error::from)?;
            if !live {
                return Err(Problem::new(StatusCode::NOT_FOUND, "no-session", "No such live session")
                    .detail("the session has ended, or never started"));
            }
            let fact = facts::SessionEnded { session_id, reason: "logout".into() };
            append(
                &state,
                kind::SESSION_ENDED,
                Some(session),
                MessageKey::new(session_id.to_string()),
                json!(fact),
            )
            .await?;
            wait_for(&state, || applied(state.accounts.session_ended(session_id))).await?;
            let clear = format!("{SESSION_COOKIE}=; Max-Age=0; HttpOnly; Secure; SameSite=Strict; Path=/");
            Ok(([(header::SET_COOKIE, clear)], Json(LoggedOut { session_id, ended: true })).into_response())
        }
        .await,
    )
}

/// The largest logout body read (to look for a misplaced session id); logout needs none.
const LOGOUT_BODY_LIMIT: usize = 64 * 1024;

/// 400 for a body that names a session (`{"session_id": ...}` or a form field): request bodies
/// get logged and cached where a credential must not be, so the session goes in a header only.
async fn refuse_in_body(request: Body) -> Result<(), Problem> {
    let bytes = axum::body::to_bytes(request, LOGOUT_BODY_LIMIT).await.map_err(|err| {
        let inner = err.into_inner();
        if inner.is::<http_body_util::LengthLimitError>() {
            Problem::too_large(LOGOUT_BODY_LIMIT)
        } else {
            Problem::malformed(format!("could not read the request body: {inner}"))
        }
    })?;
    let in_json = serde_json::from_slice::<serde_json::Value>(&bytes)
        .is_ok_and(|value| value.get("session_id").is_some());
    let in_form = std::str::from_utf8(&bytes).is_ok_and(|text| {
        text.split('&').any(|pair| pair.split('=').next().is_some_and(|name| name.trim() == "session_id"))
    });
    if in_json || in_form {
        return Err(Problem::new(StatusCode::BAD_REQUEST, "credential-in-body", "A session id in the body")
            .detail(format!("a session id in the request body is refused: {USE_THE_HEADER}"))
            .errors(vec![Violation::new("/session_id", USE_THE_HEADER)]));
    }
    Ok(())
}

/// Writes one fact and waits for the broker's acknowledgement. Its document id is fresh: auth
/// facts answer requests, not documents.
async fn append(
    state: &AppState,
    kind: &str,
    session_id: Option<SessionId>,
    key: MessageKey,
    body: serde_json::Value,
) -> Result<EventId, Problem> {
    let document_id = DocumentId::new_random();
    let event = Event {
        event_id: EventId::derive(document_id, kind),
        kind: kind.to_owned(),
        document_id,
        session_id,
        occurred_at: OffsetDateTime::now_utc(),
        body,
    };
    let payload = event.to_json();
    let record = FutureRecord::to(state.events_topic.as_str())
        .key(key.as_str())
        .payload(&payload)
        .headers(kafka::event_headers(&event));
    state.producer.send(record, Duration::from_secs(5)).await.map_err(|(err, _)| {
        tracing::warn!(error = %err, "cannot append to the events topic");
        Problem::unavailable("the log did not acknowledge the request in time", Duration::from_secs(1))
    })?;
    Ok(event.event_id)
}

/// Looks up until `lookup` finds what a fact just appended makes (bounded by the apply timeout).
async fn wait_for<T, F, Fut>(state: &AppState, mut lookup: F) -> Result<T, Problem>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = sqlx::Result<Option<T>>>,
{
    let deadline = Instant::now() + state.settings.apply_timeout;
    loop {
        if let Some(found) = lookup().await.map_err(Error::from)? {
            return Ok(found);
        }
        if Instant::now() > deadline {
            return Err(Problem::unavailable(
                "the request was recorded but is not visible yet; try again shortly",
                Duration::from_secs(1),
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A yes-or-no lookup as one [`wait_for`] awaits.
async fn applied(found: impl Future<Output = sqlx::Result<bool>>) -> sqlx::Result<Option<()>> {
    found.await.map(|found| found.then_some(()))
}

fn taken() -> Problem {
    Problem::new(StatusCode::CONFLICT, "username-taken", "The username is taken")
        .errors(vec![Violation::new("/username", "is taken")])
}
