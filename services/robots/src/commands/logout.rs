//! `logout`: ends a live session.

use owp_protocol::{
    Command,
    facts::{self, kind},
};
use owp_robot_framework::HandlerError;
use sqlx::PgConnection;

use super::{Decide, DecideContext, Decision};
use owp_projection::sessions::Sessions;

#[derive(Debug, Default)]
pub struct Logout;

impl Decide for Logout {
    const ITEM_TYPE: &'static str = "logout";

    async fn decide(
        &self,
        _conn: &mut PgConnection,
        command: &Command,
        context: &DecideContext,
        sessions: &Sessions,
    ) -> Result<Decision, HandlerError> {
        match (command.session_id, context.live_user(sessions, command)) {
            (Some(session), Some(_)) => Ok(Decision::new(
                kind::SESSION_ENDED,
                facts::SessionEnded { session_id: *session.as_uuid(), reason: "logout".into() },
            )),
            _ => Ok(Decision::rejected(
                kind::LOGOUT_REJECTED,
                "there is no live session to end: it has ended or expired",
            )),
        }
    }
}
