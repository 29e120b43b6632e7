//! Whether a session is live, as the command robots decide it.

use std::{collections::HashMap, time::Duration};

use owp_protocol::SessionId;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

/// The sessions one batch of commands names, read in one query: a statement per command was,
/// at hundreds of documents a second, a good part of the database's work. The command robot
/// writes no sessions itself (the projector does, from facts), so a view taken at the start of
/// the batch is what a look per command would have seen.
#[derive(Debug, Default)]
pub struct Sessions(HashMap<Uuid, Session>);

#[derive(Debug)]
struct Session {
    user_id: Uuid,
    last_active: OffsetDateTime,
    ended_at: Option<OffsetDateTime>,
}

impl Sessions {
    pub async fn load(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Self> {
        if ids.is_empty() {
            return Ok(Self::default());
        }
        let rows = sqlx::query(
            "SELECT s.session_id, s.user_id, GREATEST(s.started_at, a.last_active_at), s.ended_at
               FROM sessions s LEFT JOIN session_activity a USING (session_id) WHERE s.session_id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(conn)
        .await?;
        Ok(Self(
            rows.iter()
                .map(|row| {
                    (
                        row.get(0),
                        Session { user_id: row.get(1), last_active: row.get(2), ended_at: row.get(3) },
                    )
                })
                .collect(),
        ))
    }

    /// The user of `session` if it is live at `at`: started, not ended, and (with an idle
    /// timeout) used recently. `at` is the command's receive time, so a re-decision decides the
    /// same.
    pub fn live_user(
        &self,
        session: Option<SessionId>,
        at: OffsetDateTime,
        idle: Option<Duration>,
    ) -> Option<Uuid> {
        let found = self.0.get(session?.as_uuid())?;
        let expired = idle.is_some_and(|idle| found.last_active + idle < at);
        (found.ended_at.is_none_or(|ended| ended > at) && !expired).then_some(found.user_id)
    }
}
