//! What the translator is doing, for `GET /status` and for operators: its role, the
//! configuration in force, every collection's published and building versions, and the last
//! refused configuration edit with its reason.

use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::plan::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Starting,
    Standby,
    Leader,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CollectionStatus {
    pub name: String,
    pub published_version: Option<u32>,
    pub building_version: Option<u32>,
    pub entries: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Refusal {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub error: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub role: Role,
    pub config_file: Option<String>,
    pub config_hash: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub config_applied_at: Option<OffsetDateTime>,
    pub collections: Vec<CollectionStatus>,
    /// The last configuration edit that failed validation (the previous one stayed in force).
    pub config_refused: Option<Refusal>,
    pub last_error: Option<Refusal>,
}

#[derive(Debug, Clone)]
pub struct SharedStatus(Arc<Mutex<Status>>);

impl Default for SharedStatus {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Status {
            role: Role::Starting,
            config_file: None,
            config_hash: None,
            config_applied_at: None,
            collections: Vec::new(),
            config_refused: None,
            last_error: None,
        })))
    }
}

impl SharedStatus {
    fn update(&self, change: impl FnOnce(&mut Status)) {
        let mut status = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut status);
    }

    pub fn snapshot(&self) -> Status {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub fn set_role(&self, role: Role) {
        self.update(|s| s.role = role);
    }

    pub fn config_applied(&self, plan: &Plan) {
        self.update(|s| {
            s.config_file = Some(plan.config.file.display().to_string());
            s.config_hash = Some(plan.config.content_hash.clone());
            s.config_applied_at = Some(OffsetDateTime::now_utc());
        });
    }

    pub fn config_refused(&self, error: &crate::Error) {
        self.update(|s| {
            s.config_refused = Some(Refusal { at: OffsetDateTime::now_utc(), error: error.to_string() })
        });
    }

    pub fn error(&self, error: &crate::Error) {
        self.update(|s| {
            s.last_error = Some(Refusal { at: OffsetDateTime::now_utc(), error: error.to_string() })
        });
    }

    pub fn set_collections(&self, collections: Vec<CollectionStatus>) {
        self.update(|s| s.collections = collections);
    }
}
