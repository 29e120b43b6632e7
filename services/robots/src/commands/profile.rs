//! `profile`: a new profile (owned by the session's user; without a session, as its schema
//! allows, it has no owner), or an update of the profile named by `profile_id` by its owner.
//! An update never moves ownership: the owner is whoever created it.

use owp_protocol::{
    Command,
    facts::{self, kind},
};
use owp_robot_framework::HandlerError;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Decide, DecideContext, Decision, NO_LIVE_SESSION};
use owp_projection::sessions::Sessions;

#[derive(Debug, Default)]
pub struct Profile;

fn text(command: &Command, field: &str) -> Option<String> {
    command.body.get(field).and_then(|v| v.as_str()).map(str::to_owned)
}

impl Decide for Profile {
    const ITEM_TYPE: &'static str = "profile";

    async fn decide(
        &self,
        conn: &mut PgConnection,
        command: &Command,
        context: &DecideContext,
        sessions: &Sessions,
    ) -> Result<Decision, HandlerError> {
        let user = context.live_user(sessions, command);
        if command.session_id.is_some() && user.is_none() {
            return Ok(Decision::rejected(kind::PROFILE_REJECTED, NO_LIVE_SESSION));
        }
        let named = text(command, "profile_id").and_then(|id| Uuid::parse_str(&id).ok());
        let change = |profile_id, user_id| facts::ProfileChanged {
            profile_id,
            user_id,
            first_name: text(command, "first_name"),
            last_name: text(command, "last_name"),
            phone: text(command, "phone"),
            company_id: text(command, "company_id"),
        };
        let Some(profile_id) = named else {
            return Ok(Decision::new(kind::PROFILE_CREATED, change(*command.document_id.as_uuid(), user)));
        };
        let owner: Option<Option<Uuid>> =
            sqlx::query_scalar("SELECT user_id FROM profiles WHERE profile_id = $1")
                .bind(profile_id)
                .fetch_optional(conn)
                .await?;
        match (owner, user) {
            (None, _) => Ok(Decision::rejected(kind::PROFILE_REJECTED, "there is no such profile")),
            (Some(_), None) => Ok(Decision::rejected(kind::PROFILE_REJECTED, NO_LIVE_SESSION)),
            (Some(Some(owner)), Some(user)) if owner == user => {
                Ok(Decision::new(kind::PROFILE_UPDATED, change(profile_id, None)))
            }
            (Some(_), Some(_)) => {
                Ok(Decision::rejected(kind::PROFILE_REJECTED, "the profile belongs to someone else"))
            }
        }
    }
}
