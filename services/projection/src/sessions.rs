//! Whether a session is live: as the command robots decide it for a document, and as the read
//! point decides it for a request. One rule, one place.

use std::{collections::HashMap, time::Duration};

use owp_platform::duration;
use owp_protocol::SessionId;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

/// How long a session lives. Both limits always apply: a session id that leaks (a log, a shared
/// machine) stops working on its own.
#[derive(Debug, Clone, Copy, clap::Args)]
#[group(id = "session_limits")]
pub struct SessionLimits {
    /// A session unused for this long is no longer live (a rejected document does not count as use).
    #[arg(long = "session-idle-timeout", env = "OWP_SESSION_IDLE_TIMEOUT", default_value = "30m", value_parser = duration::parse)]
    pub idle: Duration,
    /// A session is no longer live this long after login, however much it is used.
    #[arg(long = "session-max-age", env = "OWP_SESSION_MAX_AGE", default_value = "12h", value_parser = duration::parse)]
    pub max_age: Duration,
}

impl SessionLimits {
    /// The defaults, as `--help` shows them, with any `OWP_*` variable applied.
    /// The defaults, as `--help` shows them, with any `OWP_*` variable applied.
    pub fn defaults() -> Self {
        owp_platform::config::from_env()
    }
}

/// The sessions one batch of commands names, read in one query: a statement per command was,
/// at hundreds of documents a second, a good part of the database's work. The command robot
/// writes no sessions itself (the projector does, from facts), so a view taken at the start of
/// the batch is what a look per command would have seen.
#[derive(Debug, Default)]
pub struct Sessions(HashMap<Uuid, Session>);

#[derive(Debug)]
struct Session {
    user_id: Uuid,
    started_at: OffsetDateTime,
    last_active: OffsetDateTime,
    ended_at: Option<OffsetDateTime>,
}

impl Session {
    fn live_at(&self, at: OffsetDateTime, limits: SessionLimits) -> bool {
        let ended = self.ended_at.is_some_and(|ended| ended <= at);
        let idle = self.last_active + limits.idle < at;
        let too_old = self.started_at + limits.max_age < at;
        !(ended || idle || too_old)
    }
}

const SELECT: &str =
    "SELECT s.session_id, s.user_id, s.started_at, GREATEST(s.started_at, a.last_active_at), s.ended_at
   FROM sessions s LEFT JOIN session_activity a USING (session_id) WHERE s.session_id = ANY($1)";

fn from_row(row: &sqlx::postgres::PgRow) -> (Uuid, Session) {
    let session = Session {
        user_id: row.get(1),
        started_at: row.get(2),
        last_active: row.get(3),
        ended_at: row.get(4),
    };
    (row.get(0), session)
}

impl Sessions {
    pub async fn load(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Self> {
        if ids.is_empty() {
            return Ok(Self::default());
        }
        let rows = sqlx::query(SELECT).bind(ids).fetch_all(conn).await?;
        Ok(Self(rows.iter().map(from_row).collect()))
    }

    /// The user of `session` if it is live at `at`: started, not ended, used within the idle
    /// limit and younger than the maximum age. For a command, `at` is its receive time, so a
    /// re-decision decides the same.
    pub fn live_user(
        &self,
        session: Option<SessionId>,
        at: OffsetDateTime,
        limits: SessionLimits,
    ) -> Option<Uuid> {
        let found = self.0.get(session?.as_uuid())?;
        found.live_at(at, limits).then_some(found.user_id)
    }
}

/// The user of `session` if it is live now, read from the projection in `schema` (the read
/// point's check of a request's credential).
pub async fn live_user_now(
    pool: &sqlx::PgPool,
    schema: &str,
    session: SessionId,
    limits: SessionLimits,
) -> sqlx::Result<Option<Uuid>> {
    let qualified = SELECT
        .replace("FROM sessions", &format!("FROM \"{schema}\".sessions"))
        .replace("JOIN session_activity", &format!("JOIN \"{schema}\".session_activity"));
    let row = sqlx::query(&qualified).bind(vec![*session.as_uuid()]).fetch_optional(pool).await?;
    let now = OffsetDateTime::now_utc();
    Ok(row.map(|row| from_row(&row).1).and_then(|found| found.live_at(now, limits).then_some(found.user_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    #[test]
    fn sessions_expire_by_default_when_idle_and_when_old() {
        let limits = SessionLimits::defaults();
        assert_eq!(
            (limits.idle, limits.max_age),
            (Duration::from_secs(30 * 60), Duration::from_secs(12 * 3600))
        );
        let id = SessionId::new_random();
        let user = Uuid::new_v4();
        let session =
            |last_active, ended_at| Session { user_id: user, started_at: at(0), last_active, ended_at };
        let sessions = |s| Sessions(HashMap::from([(*id.as_uuid(), s)]));
        // Used a minute ago: live.
        assert_eq!(sessions(session(at(3600), None)).live_user(Some(id), at(3660), limits), Some(user));
        // Idle past the limit.
        assert_eq!(sessions(session(at(3600), None)).live_user(Some(id), at(3600 + 31 * 60), limits), None);
        // In use, but older than the maximum age.
        let old = 12 * 3600 + 1;
        assert_eq!(sessions(session(at(old - 60), None)).live_user(Some(id), at(old), limits), None);
        // Ended.
        assert_eq!(sessions(session(at(3600), Some(at(3630)))).live_user(Some(id), at(3660), limits), None);
        // Unknown, or none.
        assert_eq!(
            sessions(session(at(3600), None)).live_user(Some(SessionId::new_random()), at(3660), limits),
            None
        );
        assert_eq!(sessions(session(at(3600), None)).live_user(None, at(3660), limits), None);
    }
}
