//! The read point's routes. Every error is a problem+json naming the offending parameter.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::get,
};
use owp_collections::Visibility;
use owp_platform::http::{
    Problem,
    openapi::{Internal, Unauthorized, Unavailable},
};
use owp_protocol::Violation;
use owp_readstore::{AnyStore, CollectionName, ListQuery, ReadStore, Sort, StoredDoc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use uuid::Uuid;

use crate::{Access, CursorKey, Settings, lookups::Lookups, waiters::Waiters};

/// The collection of each document's outcome, which the translator configuration must define
/// (checked when it is loaded, see `access`).
pub const MESSAGES: &str = "messages";
/// The key of [`MESSAGES`]: a document's outcome is looked up by its id.
pub(crate) const MESSAGE_KEY: &str = "document_id";
/// The field of a message naming the user whose session sent the document.
const MESSAGE_OWNER: &str = "owner_user_id";
const MAX_LIMIT: u32 = 500;

#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<AnyStore>,
    /// Outcome look-ups, coalesced across requests.
    pub lookups: Lookups,
    pub waiters: Waiters,
    pub settings: Settings,
    /// Who may read what; sessions are checked against the projection in this pool.
    pub access: Access,
    pub pool: sqlx::PgPool,
    /// Signs the cursors listings hand out, and opens the ones they are given.
    pub cursors: CursorKey,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/documents/{document_id}", get(document_outcome))
        .route("/v1/collections/{collection}/{key}", get(collection_document))
        .route("/v1/collections/{collection}", get(collection_list))
        .route("/v1/messages", get(messages))
        .with_state(state)
}

fn invalid(parameter: &str, detail: impl Into<String>) -> Problem {
    let detail = detail.into();
    Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", "A parameter is invalid")
        .detail(format!("{parameter}: {detail}"))
        .errors(vec![Violation::new(format!("/{parameter}"), detail)])
}

fn store_problem(err: owp_readstore::Error) -> Problem {
    match err {
        owp_readstore::Error::UnknownCollection(name) => {
            Problem::new(StatusCode::NOT_FOUND, "unknown-collection", "No such collection")
                .detail(format!("no collection named {name:?}"))
                .errors(vec![Violation::new("/collection", "no such collection")])
        }
        owp_readstore::Error::Query(detail) => invalid("query", detail),
        err if err.is_transient() => {
            tracing::warn!(error = %err, "read store unavailable");
            Problem::unavailable("the read store does not answer", Duration::from_secs(1))
        }
        err => {
            tracing::error!(error = %err, "read store failed");
            Problem::internal()
        }
    }
}

/// Axum's own refusals are plain text; every answer of this service is a problem.
fn path_problem(rejection: PathRejection) -> Problem {
    invalid("path", rejection.body_text())
}

fn query_problem(rejection: QueryRejection) -> Problem {
    invalid("query", rejection.body_text())
}

fn unknown_collection(name: &str) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "unknown-collection", "No such collection")
        .detail(format!("no collection named {name:?}"))
        .errors(vec![Violation::new("/collection", "no such collection")])
}

fn collection_name(name: &str) -> Result<CollectionName, Problem> {
    CollectionName::parse(name).map_err(|_| unknown_collection(name))
}

fn uuid_param(parameter: &str, value: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(value).map_err(|_| invalid(parameter, "must be a UUID"))
}

// --- Answer types, for the OpenAPI document ---------------------------------------------------

/// Where a submitted document stands.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    Pending,
    Accepted,
    Rejected,
}

/// The user-facing message of a document's outcome.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OutcomeMessage {
    /// "Your new business has been created!", or the reason it was rejected.
    pub text: Option<String>,
    pub kind: Option<String>,
    pub occurred_at: Option<String>,
}

/// The outcome of a submitted document.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Outcome {
    pub document_id: Uuid,
    pub status: OutcomeStatus,
    /// Empty while pending.
    pub messages: Vec<OutcomeMessage>,
}

/// A page of a collection's documents.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CollectionPage {
    pub collection: String,
    /// The denormalized documents, as the translator configuration shapes them.
    pub items: Vec<serde_json::Map<String, Value>>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// A page of the caller's messages, newest first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MessagesPage {
    pub user_id: Uuid,
    /// Each document's outcome: document_id, owner_user_id, status, kind, text, occurred_at.
    pub messages: Vec<serde_json::Map<String, Value>>,
    pub next_cursor: Option<String>,
}

/// 400: a path or query parameter is invalid; `errors[].pointer` names it.
#[derive(Debug, Clone, Copy)]
pub struct BadParameter;

impl utoipa::IntoResponses for BadParameter {
    fn responses()
    -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::response::Response>> {
        owp_platform::http::openapi::problem(
            StatusCode::BAD_REQUEST,
            "A parameter is invalid; `errors[].pointer` names it (`/problems/invalid-parameter`)",
            false,
        )
    }
}

/// 404: no such collection, or no such document.
#[derive(Debug, Clone, Copy)]
pub struct NotFound;

impl utoipa::IntoResponses for NotFound {
    fn responses()
    -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::response::Response>> {
        owp_platform::http::openapi::problem(
            StatusCode::NOT_FOUND,
            "No such collection (`/problems/unknown-collection`) or document (`/problems/no-document`)",
            false,
        )
    }
}

// --- GET /v1/documents/{document_id} -------------------------------------------------------

/// The outcome of a submitted document, from the `messages` collection.
#[utoipa::path(
    get,
    path = "/v1/documents/{document_id}",
    operation_id = "document_outcome",
    tag = "read",
    params(
        ("document_id" = Uuid, Path, description = "The id the document was sent with"),
        ("Authorization" = Option<String>, Header, description = "`Bearer <session_id>`: a session of the user who sent the document (needed when it was sent with one)"),
        ("wait" = Option<String>, Query, pattern = "^[0-9]{1,6}(ms|s)$", description = "Answer as soon as the outcome is readable, or `pending` after this long (e.g. `5s`, `250ms`; a wait beyond the server's maximum, 30 s by default, is shortened to it)"),
    ),
    responses(
        (status = 200, description = "The outcome: pending, accepted or rejected", body = Outcome),
        BadParameter,
        Unauthorized,
        (status = 404, description = "The document was sent by another user (`/problems/no-document`): whose it is does not leak",
         body = Problem, content_type = "application/problem+json"),
        Internal,
        Unavailable,
    ),
)]
pub(crate) async fn document_outcome(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<Outcome>, Problem> {
    let caller = state.access.caller(&state.pool, &headers, &uri).await?;
    let Path(document_id) = path.map_err(path_problem)?;
    let Query(params) = query.map_err(query_problem)?;
    let document_id = uuid_param("document_id", &document_id)?;
    if let Some(unknown) = params.keys().find(|k| k.as_str() != "wait") {
        return Err(invalid(unknown, "unknown parameter (known: wait)"));
    }
    // A longer wait than the server allows is shortened to it, not refused: the answer is the
    // same either way (`pending` when the wait ends), and a client need not know the limit.
    let wait = match params.get("wait") {
        None => Duration::ZERO,
        Some(text) => humantime::parse_duration(text)
            .map_err(|_| invalid("wait", format!("{text:?} is not a duration like 5s or 250ms")))?
            .min(state.settings.max_wait),
    };
    let key = document_id.to_string();
    let collection = collection_name(MESSAGES)?;
    let deadline = Instant::now() + wait;
    let registration = (!wait.is_zero()).then(|| state.waiters.register(MESSAGES, &key));
    loop {
        // Enabled before the look, so a notification between the look and the wait is kept.
        let woken = registration.as_ref().map(|r| r.notify.notified());
        tokio::pin!(woken);
        if let Some(woken) = woken.as_mut().as_pin_mut() {
            woken.enable();
        }
        let found = match state.lookups.get(&collection, &key).await {
            Ok(found) => found,
            // Before the translator first publishes its messages, nothing is readable yet.
            Err(owp_readstore::Error::UnknownCollection(_)) => None,
            Err(err) => return Err(store_problem(err)),
        };
        if let Some(found) = found {
            return outcome(document_id, caller, found).map(Json);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Json(Outcome { document_id, status: OutcomeStatus::Pending, messages: Vec::new() }));
        }
        // With notifications arriving, a waiter looks again when its key is written (and, as
        // a safety net, every few seconds); without them, it polls. Polling every waiter often
        // would cost the store a query per waiter per interval, which at hundreds of
        // waiting requests is most of the database's work.
        let interval = if state.waiters.listening() { state.settings.poll * 8 } else { state.settings.poll };
        let nap = (deadline - now).min(interval);
        match woken.as_mut().as_pin_mut() {
            Some(woken) => {
                let _ = tokio::time::timeout(nap, woken).await;
            }
            None => tokio::time::sleep(nap).await,
        }
    }
}

/// 404 for a document that exists but is not the caller's: the same answer as for one that
/// does not exist, so an id tells a stranger nothing.
fn no_document(detail: String) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no-document", "No such document")
        .detail(detail)
        .errors(vec![Violation::new("/key", "no document with this key")])
}

/// Whether `doc` may be shown to `caller` under an owner rule on `field`.
fn owned_by(doc: &Value, field: &str, caller: Option<Uuid>) -> bool {
    let owner = doc.get(field).and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
    owner.is_some() && owner == caller
}

/// A document sent with a session is its user's; one sent without is readable by whoever holds
/// its id (the sender, who made or was given the random id).
fn outcome(document_id: Uuid, caller: Option<Uuid>, found: StoredDoc) -> Result<Outcome, Problem> {
    let doc = found.doc;
    if doc.get(MESSAGE_OWNER).is_some() && !owned_by(&doc, MESSAGE_OWNER, caller) {
        return Err(Problem::new(StatusCode::NOT_FOUND, "no-document", "No such document")
            .detail(format!("no document {document_id} of this caller"))
            .errors(vec![Violation::new("/document_id", "no document of this caller with this id")]));
    }
    // A parked document ("failed") is, for its sender, a rejection with a reason.
    let status = match doc.get("status").and_then(Value::as_str) {
        Some("accepted") => OutcomeStatus::Accepted,
        _ => OutcomeStatus::Rejected,
    };
    let text = |field: &str| doc.get(field).and_then(Value::as_str).map(str::to_owned);
    let message = OutcomeMessage { text: text("text"), kind: text("kind"), occurred_at: text("occurred_at") };
    Ok(Outcome { document_id, status, messages: vec![message] })
}

// --- GET /v1/collections/{collection}/{key} ------------------------------------------------

/// One denormalized document, with an ETag.
#[utoipa::path(
    get,
    path = "/v1/collections/{collection}/{key}",
    operation_id = "collection_document",
    tag = "read",
    params(
        ("collection" = String, Path, description = "A collection of the translator configuration (e.g. `businesses`)"),
        ("key" = String, Path, description = "The document's key (e.g. the business id)"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer"),
        ("Authorization" = Option<String>, Header, description = "`Bearer <session_id>`: needed for a collection readable by its owners only"),
    ),
    responses(
        (status = 200, description = "The document", body = Object,
         headers(("ETag" = String, description = "Changes when the content changes"))),
        (status = 304, description = "Unchanged since the ETag given in If-None-Match"),
        BadParameter,
        Unauthorized,
        NotFound,
        Internal,
        Unavailable,
    ),
)]
pub(crate) async fn collection_document(
    State(state): State<AppState>,
    uri: Uri,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let Path((collection, key)) = path.map_err(path_problem)?;
    let name = collection_name(&collection)?;
    let owner_field = match state.access.visibility(&name) {
        Visibility::Public => {
            state.access.caller(&state.pool, &headers, &uri).await?;
            None
        }
        Visibility::Owner { field } => {
            Some((field, state.access.required_caller(&state.pool, &headers, &uri).await?))
        }
        Visibility::Private => return Err(unknown_collection(&collection)),
    };
    let missing = || no_document(format!("collection {collection} has no document with key {key:?}"));
    let Some(found) = state.store.get(&name, &key).await.map_err(store_problem)? else {
        return Err(missing());
    };
    if let Some((field, user)) = owner_field
        && !owned_by(&found.doc, &field, Some(user))
    {
        return Err(missing());
    }
    let body = serde_json::to_vec(&found.doc).unwrap_or_default();
    // From the content, so every instance gives the same tag and a rewrite with the same
    // content does not invalidate caches.
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&body)[..16]));
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(etag.as_str())
        });
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok((
        StatusCode::OK,
        [(header::ETAG, etag_value), (header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response())
}

// --- GET /v1/collections/{collection} and GET /v1/messages ---------------------------------

/// Reads the paging parameters; everything else in `params` is left for the caller. A cursor
/// must be one `keys` signed for `listing`.
fn paging(
    params: &mut BTreeMap<String, String>,
    keys: &CursorKey,
    listing: &str,
) -> Result<ListQuery, Problem> {
    let limit = match params.remove("limit") {
        None => ListQuery::default().limit,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return Err(invalid("limit", format!("must be a whole number from 1 to {MAX_LIMIT}"))),
        },
    };
    let cursor = params
        .remove("cursor")
        .map(|c| keys.open(listing, &c))
        .transpose()
        .map_err(|e| invalid("cursor", e))?;
    Ok(ListQuery { limit, cursor, ..ListQuery::default() })
}

fn plain_field(parameter: &str, field: &str) -> Result<(), Problem> {
    let plain = !field.is_empty()
        && field.len() <= 64
        && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain { Ok(()) } else { Err(invalid(parameter, "a top-level field name (letters, digits, _)")) }
}

/// A filtered, paged listing of a collection. Any other query parameter `field=value` filters
/// on a top-level field (a string, number or boolean written the same way, or an array holding it).
#[utoipa::path(
    get,
    path = "/v1/collections/{collection}",
    operation_id = "collection_list",
    tag = "read",
    params(
        ("collection" = String, Path, description = "A collection of the translator configuration"),
        ("q" = Option<String>, Query, description = "Words that must all appear in the document's strings"),
        ("sort" = Option<String>, Query, pattern = "^-?[A-Za-z0-9_]{1,64}$", description = "A field the collection declares sortable (translator.toml), `-field` for descending; by key when absent"),
        ("limit" = Option<u32>, Query, description = "Documents per page, 1 to 500 (default 50)", minimum = 1, maximum = 500),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}$", description = "`next_cursor` of the previous page (opaque and signed: one this API did not hand out for this listing is refused)"),
        ("Authorization" = Option<String>, Header, description = "`Bearer <session_id>`: needed for a collection readable by its owners only, which lists the caller's documents only"),
    ),
    responses(
        (status = 200, description = "A page of documents", body = CollectionPage),
        BadParameter,
        Unauthorized,
        NotFound,
        Internal,
        Unavailable,
    ),
)]
pub(crate) async fn collection_list(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, Problem> {
    let Path(collection) = path.map_err(path_problem)?;
    let Query(mut params) = query.map_err(query_problem)?;
    let name = collection_name(&collection)?;
    let owner = match state.access.visibility(&name) {
        Visibility::Public => {
            state.access.caller(&state.pool, &headers, &uri).await?;
            None
        }
        Visibility::Owner { field } => {
            Some((field, state.access.required_caller(&state.pool, &headers, &uri).await?))
        }
        Visibility::Private => return Err(unknown_collection(&collection)),
    };
    let sort = params.remove("sort");
    let listing = format!("{collection}?sort={}", sort.as_deref().unwrap_or_default());
    let mut query = paging(&mut params, &state.cursors, &listing)?;
    query.text = params.remove("q").filter(|q| !q.trim().is_empty());
    if let Some(sort) = sort {
        let (field, descending) = match sort.strip_prefix('-') {
            Some(field) => (field.to_owned(), true),
            None => (sort.clone(), false),
        };
        plain_field("sort", &field)?;
        // Only what the collection declares: ordering by an arbitrary field is a query the
        // store may not be able to answer well, and a way to probe fields one cannot filter.
        let sortable = state.access.sortable(&name);
        if !sortable.contains(&field) {
            let known: Vec<&str> = sortable.iter().map(String::as_str).collect();
            return Err(invalid(
                "sort",
                format!(
                    "not a sortable field of {collection} (sortable: {})",
                    if known.is_empty() { "none but the key".to_owned() } else { known.join(", ") }
                ),
            ));
        }
        query.sort = Some(Sort { field, descending });
    }
    for (field, value) in params {
        plain_field(&field, &field)?;
        query.filters.push((field, value));
    }
    // The owner filter is added last and always: a client's own filter on the field can only
    // narrow it further.
    if let Some((field, user)) = owner {
        query.filters.push((field, user.to_string()));
    }
    let page = state.store.list(&name, &query).await.map_err(store_problem)?;
    let items: Vec<Value> = page.items.into_iter().map(|d| d.doc).collect();
    let next = page.next_cursor.map(|c| state.cursors.sign(&listing, &c));
    Ok(Json(json!({ "collection": collection, "items": items, "next_cursor": next })))
}

/// The caller's messages (each outcome of a document the user sent), newest first.
#[utoipa::path(
    get,
    path = "/v1/messages",
    operation_id = "messages",
    tag = "read",
    params(
        ("Authorization" = String, Header, description = "`Bearer <session_id>`: whose messages to list (that session's user's, from any of their sessions)"),
        ("limit" = Option<u32>, Query, description = "Messages per page, 1 to 500 (default 50)", minimum = 1, maximum = 500),
        ("cursor" = Option<String>, Query, pattern = "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}$", description = "`next_cursor` of the previous page (opaque and signed: one this API did not hand out for this listing is refused)"),
    ),
    responses(
        (status = 200, description = "A page of messages", body = MessagesPage),
        BadParameter,
        Unauthorized,
        Internal,
        Unavailable,
    ),
)]
pub(crate) async fn messages(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, Problem> {
    let user = state.access.required_caller(&state.pool, &headers, &uri).await?;
    let Query(mut params) = query.map_err(query_problem)?;
    // Bound to the user as well: one user's cursor is no use to another.
    let listing = format!("{MESSAGES}?user={user}");
    let mut query = paging(&mut params, &state.cursors, &listing)?;
    if let Some(unknown) = params.keys().next() {
        return Err(invalid(unknown, "unknown parameter (known: limit, cursor)"));
    }
    query.filters.push((MESSAGE_OWNER.into(), user.to_string()));
    query.sort = Some(Sort { field: "occurred_at".into(), descending: true });
    let collection = collection_name(MESSAGES)?;
    let page = match state.store.list(&collection, &query).await {
        Ok(page) => page,
        // Before the translator's first run there are simply no messages yet.
        Err(owp_readstore::Error::UnknownCollection(_)) => {
            owp_readstore::Page { items: Vec::new(), next_cursor: None }
        }
        Err(err) => return Err(store_problem(err)),
    };
    let items: Vec<Value> = page.items.into_iter().map(|d| d.doc).collect();
    let next = page.next_cursor.map(|c| state.cursors.sign(&listing, &c));
    Ok(Json(json!({ "user_id": user, "messages": items, "next_cursor": next })))
}
