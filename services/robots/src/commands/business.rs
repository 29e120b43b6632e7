//! `business`: created when the session is live; renamed by its owner; otherwise rejected. A
//! rename never moves ownership.

use owp_protocol::{
    Command,
    facts::{self, kind},
};
use owp_robot_framework::HandlerError;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{Decide, DecideContext, Decision, NO_LIVE_SESSION};
use owp_projection::sessions::Sessions;

#[derive(Debug, Default)]
pub struct Business;

impl Decide for Business {
    const ITEM_TYPE: &'static str = "business";

    async fn decide(
        &self,
        conn: &mut PgConnection,
        command: &Command,
        context: &DecideContext,
        sessions: &Sessions,
    ) -> Result<Decision, HandlerError> {
        let Some(owner) = context.live_user(sessions, command) else {
            return Ok(Decision::rejected(kind::BUSINESS_REJECTED, NO_LIVE_SESSION));
        };
        let name = command.body.get("name").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let named =
            command.body.get("business_id").and_then(|v| v.as_str()).and_then(|id| Uuid::parse_str(id).ok());
        match named {
            None => Ok(Decision::new(
                kind::BUSINESS_CREATED,
                facts::BusinessChanged {
                    business_id: *command.document_id.as_uuid(),
                    owner_user_id: owner,
                    name,
                },
            )),
            Some(business_id) => {
                let row = sqlx::query("SELECT owner_user_id FROM businesses WHERE business_id = $1")
                    .bind(business_id)
                    .fetch_optional(&mut *conn)
                    .await?;
                match row.map(|row| row.get::<Uuid, _>(0)) {
                    Some(existing) if existing == owner => Ok(Decision::new(
                        kind::BUSINESS_UPDATED,
                        facts::BusinessChanged { business_id, owner_user_id: owner, name },
                    )),
                    Some(_) => Ok(Decision::rejected(
                        kind::BUSINESS_REJECTED,
                        "the business belongs to someone else",
                    )),
                    None => Ok(Decision::rejected(kind::BUSINESS_REJECTED, "there is no such business")),
                }
            }
        }
    }
}
