//! `profile`: a new profile (owned by the session's user when there is a live session), or an
//! update of the profile named by `profile_id`.

use owp_protocol::{
    Command,
    facts::{self, kind},
};
use owp_robot::HandlerError;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Decide, DecideContext, Decision};
use crate::sessions::Sessions;

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
        let named = text(command, "profile_id").and_then(|id| Uuid::parse_str(&id).ok());
        let change = |profile_id| facts::ProfileChanged {
            profile_id,
            user_id: user,
            first_name: text(command, "first_name"),
            last_name: text(command, "last_name"),
            phone: text(command, "phone"),
            company_id: text(command, "company_id"),
        };
        match named {
            None => Ok(Decision::new(kind::PROFILE_CREATED, change(*command.document_id.as_uuid()))),
            Some(profile_id) => {
                let exists: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM profiles WHERE profile_id = $1)")
                        .bind(profile_id)
                        .fetch_one(conn)
                        .await?;
                if exists {
                    Ok(Decision::new(kind::PROFILE_UPDATED, change(profile_id)))
                } else {
                    Ok(Decision::rejected(kind::PROFILE_REJECTED, "there is no such profile"))
                }
            }
        }
    }
}
