//! Whether a session is live, as the command robots decide it.

use std::time::Duration;

use owp_protocol::SessionId;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

/// The user of `session` if it is live at `at`: started, not ended, and (with an idle timeout)
/// used recently. `at` is the command's receive time, so a re-decision decides the same.
pub async fn live_user(
    conn: &mut PgConnection,
    session: Option<SessionId>,
    at: OffsetDateTime,
    idle: Option<Duration>,
) -> sqlx::Result<Option<Uuid>> {
    let Some(session) = session else { return Ok(None) };
    let row = sqlx::query(
        "SELECT s.user_id, GREATEST(s.started_at, a.last_active_at), s.ended_at
           FROM sessions s LEFT JOIN session_activity a USING (session_id) WHERE s.session_id = $1",
    )
    .bind(session.as_uuid())
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|row| {
        let ended: Option<OffsetDateTime> = row.get(2);
        let last_active: OffsetDateTime = row.get(1);
        let expired = idle.is_some_and(|idle| last_active + idle < at);
        (ended.is_none_or(|ended| ended > at) && !expired).then(|| row.get(0))
    }))
}
