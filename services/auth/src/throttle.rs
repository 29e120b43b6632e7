//! Login throttling, per (username, client address) with exponential backoff and per client
//! address overall, in auth's own tables.
//!
//! An attempt is reserved — counted as a failure — before its password is checked, in one
//! transaction whose `INSERT ... ON CONFLICT DO UPDATE` statements lock the counters' rows: of
//! any number of parallel guesses, only as many as the limits allow get to argon2, and the rest
//! are refused. A success then clears its pair's failures and gives back its address's count.
//! Keying the pair by address means a stranger's guesses never lock a user out from elsewhere.

use std::time::Duration;

use sqlx::PgPool;
use time::OffsetDateTime;

use crate::{Error, Settings, client::ClientAddress};

/// Whether an attempt may go on to the password check.
#[derive(Debug)]
pub enum Admission {
    Admitted(Reservation),
    /// Refused; the client may try again after this long.
    Refused(Duration),
}

/// An attempt counted in advance; settle it with [`Throttle::succeeded`] or
/// [`Throttle::cancel`], or leave it as the failure it was counted as.
#[derive(Debug)]
pub struct Reservation {
    username: String,
    address: String,
    /// The address window the attempt was counted in, so that giving it back touches that window
    /// only.
    window_start: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct Throttle {
    pool: PgPool,
    policy: Policy,
}

/// The limits, from the settings.
#[derive(Debug, Clone, Copy)]
struct Policy {
    free_failures: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    failure_memory: Duration,
    address_limit: u32,
    address_window: Duration,
}

impl Policy {
    fn new(settings: &Settings) -> Self {
        Self {
            free_failures: settings.login_failures_before_backoff,
            backoff_base: settings.login_backoff_base,
            backoff_max: settings.login_backoff_max,
            failure_memory: settings.login_failure_memory,
            address_limit: settings.login_address_limit,
            address_window: settings.login_address_window,
        }
    }

    /// How long a pair waits after its `failures`-th failure (counting the attempt under way):
    /// nothing until the free failures are used up, then the base, doubling, up to the maximum.
    fn backoff(&self, failures: u32) -> Option<Duration> {
        let beyond = failures.checked_sub(self.free_failures)?;
        let factor = 1u32.checked_shl(beyond).unwrap_or(u32::MAX);
        Some(
            self.backoff_base.checked_mul(factor).map_or(self.backoff_max, |wait| wait.min(self.backoff_max)),
        )
    }
}

impl Throttle {
    /// `pool` resolves to auth's own schema.
    pub fn new(pool: PgPool, settings: &Settings) -> Self {
        Self { pool, policy: Policy::new(settings) }
    }

    /// Counts the attempt, or refuses it if the pair is waiting out its backoff or the address has
    /// used up its window.
    pub async fn reserve(&self, username: &str, address: &ClientAddress) -> Result<Admission, Error> {
        let mut tx = self.pool.begin().await?;
        // A refused attempt leaves the row as it was (the WHERE fails), so it does not extend its
        // own wait; the row is locked either way, so the decision and the count are one step.
        let failures: Option<i32> = sqlx::query_scalar(
            "INSERT INTO login_pair_failures AS t (username, address, failures, last_attempt_at, blocked_until)
             VALUES ($1, $2, 1, now(), now())
             ON CONFLICT (username, address) DO UPDATE SET
                 failures = CASE WHEN t.last_attempt_at < now() - make_interval(secs => $3)
                                 THEN 1 ELSE t.failures + 1 END,
                 last_attempt_at = now()
             WHERE t.blocked_until <= now()
             RETURNING failures",
        )
        .bind(username)
        .bind(address.as_str())
        .bind(self.policy.failure_memory.as_secs_f64())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(failures) = failures else {
            let left: f64 = sqlx::query_scalar(
                "SELECT extract(epoch FROM blocked_until - now())::float8
                 FROM login_pair_failures WHERE username = $1 AND address = $2",
            )
            .bind(username)
            .bind(address.as_str())
            .fetch_one(&mut *tx)
            .await?;
            return Ok(Admission::Refused(whole_seconds(left)));
        };
        if let Some(wait) = self.policy.backoff(u32::try_from(failures).unwrap_or(u32::MAX)) {
            sqlx::query(
                "UPDATE login_pair_failures SET blocked_until = now() + make_interval(secs => $3)
                 WHERE username = $1 AND address = $2",
            )
            .bind(username)
            .bind(address.as_str())
            .bind(wait.as_secs_f64())
            .execute(&mut *tx)
            .await?;
        }
        let window_start: Option<OffsetDateTime> = sqlx::query_scalar(
            "INSERT INTO login_address_failures AS t (address, window_start, failures)
             VALUES ($1, now(), 1)
             ON CONFLICT (address) DO UPDATE SET
                 window_start = CASE WHEN t.window_start <= now() - make_interval(secs => $2)
                                     THEN now() ELSE t.window_start END,
                 failures = CASE WHEN t.window_start <= now() - make_interval(secs => $2)
                                 THEN 1 ELSE t.failures + 1 END
             WHERE t.window_start <= now() - make_interval(secs => $2) OR t.failures < $3
             RETURNING window_start",
        )
        .bind(address.as_str())
        .bind(self.policy.address_window.as_secs_f64())
        .bind(i32::try_from(self.policy.address_limit).unwrap_or(i32::MAX))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(window_start) = window_start else {
            let left: f64 = sqlx::query_scalar(
                "SELECT extract(epoch FROM window_start + make_interval(secs => $2) - now())::float8
                 FROM login_address_failures WHERE address = $1",
            )
            .bind(address.as_str())
            .bind(self.policy.address_window.as_secs_f64())
            .fetch_one(&mut *tx)
            .await?;
            // Dropping the transaction rolls the pair's count back: this attempt was not made.
            return Ok(Admission::Refused(whole_seconds(left)));
        };
        tx.commit().await?;
        Ok(Admission::Admitted(Reservation {
            username: username.to_owned(),
            address: address.as_str().to_owned(),
            window_start,
        }))
    }

    /// The password was right: the pair starts afresh, and the address gets its count back.
    pub async fn succeeded(&self, reservation: &Reservation) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM login_pair_failures WHERE username = $1 AND address = $2")
            .bind(&reservation.username)
            .bind(&reservation.address)
            .execute(&mut *tx)
            .await?;
        self.give_back_address(&mut tx, reservation).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The password was never checked (no hashing slot): both counts are given back. A wait the
    /// attempt started stays, which errs on the side of refusing.
    pub async fn cancel(&self, reservation: &Reservation) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE login_pair_failures SET failures = failures - 1
             WHERE username = $1 AND address = $2 AND failures > 0",
        )
        .bind(&reservation.username)
        .bind(&reservation.address)
        .execute(&mut *tx)
        .await?;
        self.give_back_address(&mut tx, reservation).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn give_back_address(
        &self,
        tx: &mut sqlx::PgConnection,
        reservation: &Reservation,
    ) -> Result<(), Error> {
        sqlx::query(
            "UPDATE login_address_failures SET failures = failures - 1
             WHERE address = $1 AND window_start = $2 AND failures > 0",
        )
        .bind(&reservation.address)
        .bind(reservation.window_start)
        .execute(tx)
        .await?;
        Ok(())
    }

    /// Deletes counters that no longer hold anything back, so the tables stay as small as the set
    /// of recent failures.
    pub async fn purge(&self) -> Result<u64, Error> {
        let pairs = sqlx::query(
            "DELETE FROM login_pair_failures
             WHERE last_attempt_at < now() - make_interval(secs => $1) AND blocked_until < now()",
        )
        .bind(self.policy.failure_memory.as_secs_f64())
        .execute(&self.pool)
        .await?;
        let addresses = sqlx::query(
            "DELETE FROM login_address_failures WHERE window_start < now() - make_interval(secs => $1)",
        )
        .bind(self.policy.address_window.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(pairs.rows_affected() + addresses.rows_affected())
    }
}

/// `seconds` rounded up, and at least one: a client that waits what `Retry-After` says must not
/// be refused again for a fraction left over.
fn whole_seconds(seconds: f64) -> Duration {
    if seconds.is_finite() && seconds > 1.0 {
        Duration::from_secs_f64(seconds.ceil())
    } else {
        Duration::from_secs(1)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_backoff_doubles_after_the_free_failures_up_to_the_maximum() {
        let mut settings = Settings::defaults();
        settings.login_failures_before_backoff = 3;
        settings.login_backoff_base = Duration::from_secs(2);
        settings.login_backoff_max = Duration::from_secs(60);
        let policy = Policy::new(&settings);
        let waits: Vec<_> = (1..=10).map(|n| policy.backoff(n).map(|d| d.as_secs())).collect();
        assert_eq!(
            waits,
            [None, None, Some(2), Some(4), Some(8), Some(16), Some(32), Some(60), Some(60), Some(60)]
        );
        assert_eq!(policy.backoff(u32::MAX), Some(Duration::from_secs(60)));
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(whole_seconds(0.2), Duration::from_secs(1));
        assert_eq!(whole_seconds(1.2), Duration::from_secs(2));
        assert_eq!(whole_seconds(f64::NAN), Duration::from_secs(1));
    }
}
