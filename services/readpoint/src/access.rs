//! Who may read what: the caller's session, checked against the projection, and each
//! collection's visibility, as the translator configuration declares it.
//!
//! The configuration file is the one the translator runs; it is read again when it changes (a
//! stat per request), so a collection's visibility follows an edit without a restart. An edit the
//! translator would refuse is refused here too and the previous declarations stay.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::SystemTime,
};

use axum::http::{HeaderMap, Uri};
use owp_collections::{Config, Visibility};
use owp_platform::{
    db::PROJECTION_SCHEMA,
    http::{Problem, credential},
};
use owp_projection::{SessionLimits, sessions};
use owp_readstore::CollectionName;
use uuid::Uuid;

use crate::routes::{MESSAGE_KEY, MESSAGES};

#[derive(Debug, Clone)]
pub struct Access {
    file: PathBuf,
    limits: SessionLimits,
    declared: Arc<RwLock<Declared>>,
}

#[derive(Debug)]
struct Declared {
    modified: Option<SystemTime>,
    visibility: BTreeMap<CollectionName, Visibility>,
    sortable: BTreeMap<CollectionName, BTreeSet<String>>,
}

/// The configuration `file`, refused unless it defines what the read point's own routes serve:
/// the collection of documents' outcomes, keyed by document id (`GET /v1/documents/{id}`,
/// `GET /v1/messages`).
fn load_serving(file: &Path) -> owp_collections::Result<Config> {
    let config = Config::load(file)?;
    let refuse = |reason: String| owp_collections::Error::Config {
        file: file.to_owned(),
        entry: format!("collection_name = {MESSAGES:?}"),
        reason,
    };
    let Some(entries) = CollectionName::parse(MESSAGES).ok().and_then(|name| config.collections.get(&name))
    else {
        return Err(refuse(format!(
            "the read point answers GET /v1/documents/{{id}} and GET /v1/messages from the collection {MESSAGES:?}, which this file does not define"
        )));
    };
    if let Some(entry) = entries.iter().find(|entry| entry.config.key_to_denormalize_upon != MESSAGE_KEY) {
        return Err(refuse(format!(
            "{}: the outcomes collection must be keyed by {MESSAGE_KEY:?}, not {:?}",
            entry.label, entry.config.key_to_denormalize_upon
        )));
    }
    Ok(config)
}

fn modified(file: &Path) -> Option<SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

impl Access {
    /// Reads the collections' visibility from the translator configuration `file`.
    pub fn load(file: &Path, limits: SessionLimits) -> owp_collections::Result<Self> {
        let stamp = modified(file);
        let config = load_serving(file)?;
        let declared = Declared { modified: stamp, visibility: config.visibility, sortable: config.sortable };
        Ok(Self { file: file.to_owned(), limits, declared: Arc::new(RwLock::new(declared)) })
    }

    /// Who may read `collection`; a collection the configuration does not define is private.
    pub fn visibility(&self, collection: &CollectionName) -> Visibility {
        self.refresh();
        let declared = self.declared.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        declared.visibility.get(collection).cloned().unwrap_or(Visibility::Private)
    }

    /// The fields a listing of `collection` may sort by, besides its key.
    pub fn sortable(&self, collection: &CollectionName) -> BTreeSet<String> {
        self.refresh();
        let declared = self.declared.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        declared.sortable.get(collection).cloned().unwrap_or_default()
    }

    fn refresh(&self) {
        let stamp = modified(&self.file);
        let stale = self.declared.read().map(|d| d.modified != stamp).unwrap_or(true);
        if !stale {
            return;
        }
        let mut declared = self.declared.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        declared.modified = stamp;
        match load_serving(&self.file) {
            Ok(config) => {
                declared.visibility = config.visibility;
                declared.sortable = config.sortable;
            }
            Err(err) => {
                tracing::warn!(error = %err, "translator configuration refused; visibility unchanged")
            }
        }
    }

    /// The user whose live session the request carries; `None` without a credential. A
    /// credential that names no live session is a 401: the client should log in again.
    pub async fn caller(
        &self,
        pool: &sqlx::PgPool,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<Option<Uuid>, Problem> {
        let Some(session) = credential::session(headers, uri)? else { return Ok(None) };
        match sessions::live_user_now(pool, PROJECTION_SCHEMA, session, self.limits).await {
            Ok(Some(user)) => Ok(Some(user)),
            Ok(None) => Err(credential::unauthorized(
                "the session has ended or expired, or never existed: log in again",
            )),
            Err(err) => {
                tracing::warn!(error = %err, "cannot check a session");
                Err(Problem::unavailable(
                    "sessions cannot be checked right now",
                    std::time::Duration::from_secs(1),
                ))
            }
        }
    }

    /// The caller's user, or a 401 for a route that needs one.
    pub async fn required_caller(
        &self,
        pool: &sqlx::PgPool,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<Uuid, Problem> {
        self.caller(pool, headers, uri)
            .await?
            .ok_or_else(|| credential::unauthorized(credential::USE_THE_HEADER))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(toml: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("translator.toml");
        std::fs::write(&file, toml).unwrap();
        let error = Access::load(&file, SessionLimits::defaults()).expect_err("refused").to_string();
        assert!(error.contains(&file.display().to_string()), "names the file: {error}");
        error
    }

    #[test]
    fn a_configuration_without_the_outcomes_collection_is_refused_naming_it() {
        let error = refusal(
            r#"
[[entries]]
collection_name = "profiles"
key_to_denormalize_upon = "user_id"
visibility = "public"
sql = "SELECT user_id, display_name FROM profiles"
"#,
        );
        assert!(error.contains("collection_name = \"messages\""), "names the entry: {error}");
        assert!(error.contains("does not define"), "{error}");

        let error = refusal(
            r#"
[[entries]]
collection_name = "messages"
key_to_denormalize_upon = "session_id"
visibility = "private"
sql = "SELECT session_id, status FROM messages"
"#,
        );
        assert!(error.contains("must be keyed by \"document_id\""), "{error}");
    }

    #[test]
    fn the_shipped_configuration_is_served() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../translator.toml");
        Access::load(&shipped, SessionLimits::defaults()).expect("translator.toml serves the read point");
    }
}
