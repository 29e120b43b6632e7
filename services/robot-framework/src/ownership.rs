//! Which partitions this process handles: one PostgreSQL session advisory lock per
//! (consumer group, partition), held on a connection of its own.
//!
//! Why not the broker's group membership: the lock dies with the process — a robot killed with
//! SIGKILL hands its partitions to a standby the moment PostgreSQL notices the closed connection,
//! without waiting for the group's session timeout and a rebalance (`owp-bench takeover` on
//! Kafka 3.9: a median of 1.9 s by lock against 5.5 s by a cooperative-sticky group with its 6 s
//! minimum session timeout). Offsets live in PostgreSQL anyway, so the lock and the offsets are
//! in one place. A process takes every free partition; further processes are hot standbys.

use std::{collections::BTreeSet, time::Duration};

use sqlx::{Connection, PgConnection, PgPool};

/// How often a robot tries to take partitions nobody holds (and checks that its locks are alive).
pub const OWNERSHIP_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Ownership {
    pool: PgPool,
    group: String,
    conn: Option<PgConnection>,
    owned: BTreeSet<i32>,
}

impl Ownership {
    pub fn new(pool: PgPool, group: String) -> Self {
        Self { pool, group, conn: None, owned: BTreeSet::new() }
    }

    pub fn owned(&self) -> &BTreeSet<i32> {
        &self.owned
    }

    /// Tries to take every partition of `partitions` not held yet. Returns whether the owned set
    /// changed. If the lock connection is gone, so are the locks: everything is given up.
    pub async fn refresh(&mut self, partitions: &[i32]) -> bool {
        let before = self.owned.clone();
        if let Err(err) = self.try_take(partitions).await {
            tracing::warn!(group = %self.group, error = %err, "lost the partition locks' connection; giving up all partitions");
            self.conn = None;
            self.owned.clear();
        }
        self.owned != before
    }

    async fn try_take(&mut self, partitions: &[i32]) -> sqlx::Result<()> {
        if self.conn.is_none() {
            self.conn = Some(self.pool.acquire().await?.detach());
        }
        let Some(conn) = self.conn.as_mut() else { return Ok(()) };
        // A cheap round trip tells whether the held locks still exist.
        sqlx::query("SELECT 1").execute(&mut *conn).await?;
        for partition in partitions {
            if self.owned.contains(partition) {
                continue;
            }
            let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1), $2)")
                .bind(&self.group)
                .bind(partition)
                .fetch_one(&mut *conn)
                .await?;
            if taken {
                self.owned.insert(*partition);
            }
        }
        Ok(())
    }

    /// Gives every partition back (at shutdown), so a standby takes over at once.
    pub async fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
        self.owned.clear();
    }
}
