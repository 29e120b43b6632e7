//! The facts on `owp.events.v1`: their kinds and body shapes. Robots, the projector and auth
//! agree on these; a body is decoded with [`Event::body_as`](crate::Event::body_as).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Event kinds, `<entity>.<verb>`.
pub mod kind {
    pub const USER_SIGNED_UP: &str = "user.signed_up";
    pub const SESSION_STARTED: &str = "session.started";
    pub const SESSION_ENDED: &str = "session.ended";
    pub const LOGIN_FAILED: &str = "login.failed";
    pub const PROFILE_CREATED: &str = "profile.created";
    pub const PROFILE_UPDATED: &str = "profile.updated";
    pub const PROFILE_REJECTED: &str = "profile.rejected";
    pub const BUSINESS_CREATED: &str = "business.created";
    pub const BUSINESS_UPDATED: &str = "business.updated";
    pub const BUSINESS_REJECTED: &str = "business.rejected";
    pub const LOGOUT_REJECTED: &str = "logout.rejected";
    /// A document a robot gave up on (parked); a retry may still give it a real outcome.
    pub const DOCUMENT_FAILED: &str = "document.failed";
}

/// The id slot of a document's outcome fact: one per document, whatever the decision was, so a
/// re-decided document can never get a second outcome.
pub const OUTCOME_SLOT: &str = "outcome";
/// The id slot of the "we gave up" fact of a parked document.
pub const FAILED_SLOT: &str = "failed";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserSignedUp {
    pub user_id: Uuid,
    pub username: String,
    /// An argon2 PHC string; the password itself never reaches the log.
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStarted {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionEnded {
    pub session_id: Uuid,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginFailed {
    pub username: String,
}

/// `profile.created` carries every field; `profile.updated` only the changed ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileChanged {
    pub profile_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessChanged {
    pub business_id: Uuid,
    pub owner_user_id: Uuid,
    pub name: String,
}

/// Body of every `*.rejected` and of `document.failed`: why, in words for the sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub reason: String,
}
