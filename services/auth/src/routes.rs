//! The three routes. Each writes one fact, waits until the projector has applied it, answers.
//! Each handler's `#[utoipa::path]` lists every status it can answer (see `crate::openapi`).

use std::time::{Duration, Instant};

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use owp_platform::{
    http::{
        Problem, body,
        openapi::{Internal, Invalid, JsonBodyRefusals, Unavailable},
    },
    kafka,
};
use owp_protocol::{
    DocumentId, Event, EventId, MessageKey, SessionId, TopicName, Violation,
    facts::{self, kind},
};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgPool, Row};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Settings, openapi::Locked, password};

#[derive(Clone)]
#[allow(missing_debug_implementations)] // the producer has no Debug
pub struct AppState {
    pub pool: PgPool,
    pub producer: FutureProducer,
    pub events_topic: TopicName,
    pub settings: Settings,
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

/// The session to end.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Logout {
    session_id: Uuid,
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
            if username_taken(&state.pool, &credentials.username).await? {
                return Err(taken());
            }
            let hash = password::hash(credentials.password).await.map_err(internal)?;
            let user_id = Uuid::new_v4();
            let fact =
                facts::UserSignedUp { user_id, username: credentials.username.clone(), password_hash: hash };
            append(&state, kind::USER_SIGNED_UP, None, MessageKey::new(user_id.to_string()), json!(fact))
                .await?;
            let owner: Option<Uuid> =
                wait_for(&state, "SELECT user_id FROM users WHERE username = $1", &credentials.username)
                    .await?;
            match owner {
                Some(owner) if owner == user_id => {
                    Ok((StatusCode::CREATED, Json(SignedUp { user_id, username: credentials.username }))
                        .into_response())
                }
                _ => Err(taken()),
            }
        }
        .await,
    )
}

/// Logs a user in; the session id works at once. Unknown usernames fail like wrong passwords.
#[utoipa::path(
    post,
    path = "/v1/login",
    tag = "auth",
    request_body(content = Credentials, content_type = "application/json"),
    responses(
        (status = 200, description = "A new live session", body = LoggedIn),
        JsonBodyRefusals,
        Invalid,
        (status = 401, description = "Wrong username or password (`/problems/login-failed`)",
         body = Problem, content_type = "application/problem+json"),
        Locked,
        Internal,
        Unavailable,
    ),
)]
pub(crate) async fn login(State(state): State<AppState>, headers: HeaderMap, request: Body) -> Response {
    respond(async {
        let credentials: Credentials = read(&headers, request).await?;
        validate(&credentials)?;
        if let Some(wait) = locked_for(&state, &credentials.username).await? {
            return Err(Problem::new(StatusCode::TOO_MANY_REQUESTS, "locked", "Too many failed logins")
                .detail("the account is locked for a while after repeated failed logins")
                .retry_after(wait));
        }
        let row = sqlx::query(
            "SELECT u.user_id, c.password_hash FROM users u JOIN credentials c USING (user_id) WHERE u.username = $1",
        )
        .bind(&credentials.username)
        .fetch_optional(&state.pool)
        .await
        .map_err(database)?;
        let verified = match row {
            Some(row) => {
                let hash: String = row.get(1);
                password::verify(credentials.password, hash).await.map_err(internal)?.then(|| row.get::<Uuid, _>(0))
            }
            None => None,
        };
        let Some(user_id) = verified else {
            // Unknown names fail like wrong passwords: a login must not reveal who has an account.
            let event = append(
                &state,
                kind::LOGIN_FAILED,
                None,
                MessageKey::new(credentials.username.clone()),
                json!(facts::LoginFailed { username: credentials.username.clone() }),
            )
            .await?;
            let _: Option<Uuid> = wait_for(&state, "SELECT event_id FROM login_failures WHERE event_id = $1", event.as_uuid()).await?;
            return Err(Problem::new(StatusCode::UNAUTHORIZED, "login-failed", "Wrong username or password"));
        };
        let session_id = SessionId::new_random();
        let fact = facts::SessionStarted { session_id: *session_id.as_uuid(), user_id, username: credentials.username };
        append(&state, kind::SESSION_STARTED, Some(session_id), MessageKey::new(session_id.to_string()), json!(fact)).await?;
        let _: Option<Uuid> =
            wait_for(&state, "SELECT session_id FROM sessions WHERE session_id = $1", session_id.as_uuid()).await?;
        Ok(Json(LoggedIn { session_id: *session_id.as_uuid(), user_id }).into_response())
    }
    .await)
}

/// Ends a live session.
#[utoipa::path(
    post,
    path = "/v1/logout",
    tag = "auth",
    request_body(content = Logout, content_type = "application/json"),
    responses(
        (status = 200, description = "The session has ended", body = LoggedOut),
        JsonBodyRefusals,
        Invalid,
        (status = 404, description = "No such live session (`/problems/no-session`)",
         body = Problem, content_type = "application/problem+json"),
        Unavailable,
    ),
)]
pub(crate) async fn logout(State(state): State<AppState>, headers: HeaderMap, request: Body) -> Response {
    respond(
        async {
            let Logout { session_id } = read(&headers, request).await?;
            let live: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sessions WHERE session_id = $1 AND ended_at IS NULL)",
            )
            .bind(session_id)
            .fetch_one(&state.pool)
            .await
            .map_err(database)?;
            if !live {
                return Err(Problem::new(StatusCode::NOT_FOUND, "no-session", "No such live session")
                    .errors(vec![Violation::new("/session_id", "names no live session")]));
            }
            let session = SessionId::from_uuid(session_id);
            let fact = facts::SessionEnded { session_id, reason: "logout".into() };
            append(
                &state,
                kind::SESSION_ENDED,
                Some(session),
                MessageKey::new(session_id.to_string()),
                json!(fact),
            )
            .await?;
            let _: Option<Uuid> = wait_for(
                &state,
                "SELECT session_id FROM sessions WHERE session_id = $1 AND ended_at IS NOT NULL",
                &session_id,
            )
            .await?;
            Ok(Json(LoggedOut { session_id, ended: true }).into_response())
        }
        .await,
    )
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

/// Polls until `query` finds a row (bounded by the apply timeout).
async fn wait_for<T, P>(state: &AppState, query: &str, parameter: P) -> Result<Option<T>, Problem>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    P: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Sync + Clone,
{
    let deadline = Instant::now() + state.settings.apply_timeout;
    loop {
        let found: Option<T> = sqlx::query_scalar(query)
            .bind(parameter.clone())
            .fetch_optional(&state.pool)
            .await
            .map_err(database)?;
        if found.is_some() {
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

async fn username_taken(pool: &PgPool, username: &str) -> Result<bool, Problem> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)")
        .bind(username)
        .fetch_one(pool)
        .await
        .map_err(database)
}

/// How long the account stays locked, if it is.
async fn locked_for(state: &AppState, username: &str) -> Result<Option<Duration>, Problem> {
    let window = state.settings.lockout_window;
    let since = OffsetDateTime::now_utc() - window;
    let failures: Vec<OffsetDateTime> = sqlx::query_scalar(
        "SELECT failed_at FROM login_failures WHERE username = $1 AND failed_at > $2 ORDER BY failed_at DESC LIMIT $3",
    )
    .bind(username)
    .bind(since)
    .bind(state.settings.lockout_failures)
    .fetch_all(&state.pool)
    .await
    .map_err(database)?;
    if i64::try_from(failures.len()).unwrap_or(i64::MAX) < state.settings.lockout_failures {
        return Ok(None);
    }
    let oldest = failures.last().copied().unwrap_or(since);
    let until = oldest + window;
    let left = (until - OffsetDateTime::now_utc()).max(time::Duration::seconds(1));
    Ok(Some(Duration::from_secs(u64::try_from(left.whole_seconds()).unwrap_or(1).max(1))))
}

fn taken() -> Problem {
    Problem::new(StatusCode::CONFLICT, "username-taken", "The username is taken")
        .errors(vec![Violation::new("/username", "is taken")])
}

fn database(err: sqlx::Error) -> Problem {
    tracing::error!(error = %err, "database error");
    Problem::unavailable("the database is unavailable", Duration::from_secs(1))
}

fn internal(err: anyhow::Error) -> Problem {
    tracing::error!(error = %err, "internal error");
    Problem::internal()
}
