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
use owp_platform::http::{Problem, credential};
use owp_readstore::CollectionName;
use owp_robots::{PROJECTION_SCHEMA, SessionLimits, sessions};
use uuid::Uuid;

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

fn modified(file: &Path) -> Option<SystemTime> {
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

impl Access {
    /// Reads the collections' visibility from the translator configuration `file`.
    pub fn load(file: &Path, limits: SessionLimits) -> owp_collections::Result<Self> {
        let stamp = modified(file);
        let config = Config::load(file)?;
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
        match Config::load(&self.file) {
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
