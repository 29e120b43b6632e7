//! The fleet lease: at most one deployer of an environment changes its instance at a time.
//!
//! The lease is one S3 object, written only with conditional requests: `If-None-Match: *` to
//! create it, `If-Match: <etag>` to renew, take over or release it, so of two deployers racing
//! for it exactly one write succeeds. It never has to be unlocked by hand:
//!
//! - **TTL and heartbeat.** The holder rewrites the object every `renew_every`; each write changes
//!   the object (a beat counter), so its ETag changes. A contender that sees the *same* ETag for
//!   longer than the TTL, timed on its own monotonic clock, takes the lease over. No wall clocks
//!   are compared between machines, so clock skew cannot expire a live lease.
//! - **Self-abort.** The holder counts its lease valid for one TTL from the moment it *sent* its
//!   last successful renewal, which is never later than any contender's view; when renewal fails
//!   past that point the guard reports the lease lost and the deploy stops.
//! - **Fencing.** Every acquisition increments a counter stored in the lease. Before each
//!   state-changing step the holder re-reads the lease and continues only if the counter and its
//!   session are still the ones it acquired; a stalled holder that wakes up after a takeover is
//!   fenced off instead of deregistering a second instance.
//! - **Release** writes the lease back with no holder (keeping the counter, which must only grow),
//!   so the next deployer need not wait for the TTL.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use tokio::{sync::Mutex, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    Error, Result,
    store::{Condition, S3, Written, now_rfc3339},
};

/// Who holds the lease, and for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub instance: String,
    /// One per deployer process: a restarted deployer is a new holder and waits like any other.
    pub session: String,
    pub deploy_id: String,
    pub version: String,
}

/// The lease object as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub holder: Option<Holder>,
    /// The fencing counter: incremented by every acquisition, never by a renewal or release.
    pub counter: u64,
    /// Incremented by every renewal, so that every renewal changes the ETag.
    pub beat: u64,
    /// The holder's TTL: how long contenders wait after the last change they saw.
    pub ttl_ms: u64,
    /// Wall-clock time of the last write, for people reading `deployer status` only.
    pub written_at: String,
}

/// How the lease is held.
#[derive(Debug, Clone, Copy)]
pub struct LeaseSettings {
    pub ttl: Duration,
    pub renew_every: Duration,
}

/// The outcome of one attempt to take the lease.
#[derive(Debug)]
pub enum Attempt {
    Acquired(LeaseGuard),
    /// Someone else holds it; `expires_in` is how long until it may be taken over if the holder
    /// does not renew (as far as this deployer has watched).
    Busy {
        holder: Option<Holder>,
        expires_in: Option<Duration>,
    },
}

#[derive(Debug)]
struct Observed {
    etag: String,
    since: Instant,
}

/// One deployer's handle on the fleet lease.
#[derive(Debug)]
pub struct Lease {
    s3: S3,
    key: String,
    instance: String,
    session: String,
    settings: LeaseSettings,
    observed: std::sync::Mutex<Option<Observed>>,
}

impl Lease {
    pub fn new(s3: S3, key: String, instance: String, settings: LeaseSettings) -> Self {
        Self {
            s3,
            key,
            instance,
            session: uuid::Uuid::new_v4().to_string(),
            settings,
            observed: std::sync::Mutex::new(None),
        }
    }

    pub fn session(&self) -> &str {
        &self.session
    }

    /// The lease as stored, with its ETag.
    pub async fn read(&self) -> Result<Option<(LeaseRecord, String)>> {
        read(&self.s3, &self.key).await
    }

    /// Tries once to take the lease for a deploy.
    pub async fn try_acquire(&self, deploy_id: &str, version: &str) -> Result<Attempt> {
        let me = Holder {
            instance: self.instance.clone(),
            session: self.session.clone(),
            deploy_id: deploy_id.to_owned(),
            version: version.to_owned(),
        };
        let Some((record, etag)) = self.read().await? else {
            return self.write_acquisition(me, 1, Condition::IfAbsent, None).await;
        };
        let Some(holder) = record.holder.clone() else {
            return self.write_acquisition(me, record.counter + 1, Condition::IfMatch(etag), None).await;
        };
        let ttl = Duration::from_millis(record.ttl_ms);
        let unchanged_for = {
            let mut observed = self.observed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match observed.as_ref() {
                Some(seen) if seen.etag == etag => seen.since.elapsed(),
                _ => {
                    *observed = Some(Observed { etag: etag.clone(), since: Instant::now() });
                    Duration::ZERO
                }
            }
        };
        if unchanged_for < ttl {
            return Ok(Attempt::Busy { holder: Some(holder), expires_in: Some(ttl - unchanged_for) });
        }
        tracing::warn!(
            holder = %holder.instance,
            session = %holder.session,
            counter = record.counter,
            unchanged_ms = unchanged_for.as_millis() as u64,
            "the fleet lease was not renewed within its TTL; taking it over"
        );
        self.write_acquisition(me, record.counter + 1, Condition::IfMatch(etag), Some(holder)).await
    }

    async fn write_acquisition(
        &self,
        me: Holder,
        counter: u64,
        condition: Condition,
        took_over_from: Option<Holder>,
    ) -> Result<Attempt> {
        let record = LeaseRecord {
            holder: Some(me),
            counter,
            beat: 0,
            ttl_ms: self.settings.ttl.as_millis() as u64,
            written_at: now_rfc3339(),
        };
        let sent = Instant::now();
        match write(&self.s3, &self.key, &record, condition).await? {
            Written::Ok { etag } => {
                *self.observed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
                Ok(Attempt::Acquired(LeaseGuard::start(
                    self.s3.clone(),
                    self.key.clone(),
                    record,
                    etag,
                    sent,
                    self.settings,
                    took_over_from,
                )))
            }
            Written::PreconditionFailed => Ok(Attempt::Busy { holder: None, expires_in: None }),
        }
    }
}

#[derive(Debug)]
struct Held {
    record: LeaseRecord,
    etag: String,
    valid_until: Instant,
}

#[derive(Debug)]
struct GuardInner {
    s3: S3,
    key: String,
    ttl: Duration,
    held: Mutex<Held>,
}

impl GuardInner {
    async fn renew(&self) -> Result<()> {
        let mut held = self.held.lock().await;
        for _ in 0..2 {
            let mut record = held.record.clone();
            record.beat += 1;
            record.written_at = now_rfc3339();
            let sent = Instant::now();
            let attempt = tokio::time::timeout(
                self.ttl / 3,
                write(&self.s3, &self.key, &record, Condition::IfMatch(held.etag.clone())),
            )
            .await
            .map_err(|_| Error::Timeout { what: "renewing the fleet lease".into(), after: self.ttl / 3 })?;
            match attempt? {
                Written::Ok { etag } => {
                    *held = Held { record, etag, valid_until: sent + self.ttl };
                    return Ok(());
                }
                // An earlier write of ours may have landed without us seeing its ETag (a
                // timed-out request); only someone else's write means the lease is lost.
                Written::PreconditionFailed if self.resync(&mut held).await? => continue,
                Written::PreconditionFailed => break,
            }
        }
        Err(Error::LeaseLost("another deployer changed the lease (taken over after our TTL)".into()))
    }

    /// Re-reads the lease; when it is still ours (same session and counter), adopts its ETag.
    async fn resync(&self, held: &mut Held) -> Result<bool> {
        let Some((record, etag)) = read(&self.s3, &self.key).await? else { return Ok(false) };
        let ours = record.counter == held.record.counter
            && record.holder.as_ref().map(|h| &h.session) == held.record.holder.as_ref().map(|h| &h.session);
        if ours {
            held.record = record;
            held.etag = etag;
        }
        Ok(ours)
    }
}

/// Proof of holding the lease, with its heartbeat running. Dropping it stops the heartbeat
/// without releasing (as a crash would: the lease then expires on its own).
#[derive(Debug)]
pub struct LeaseGuard {
    inner: Arc<GuardInner>,
    counter: u64,
    session: String,
    lost: CancellationToken,
    /// Stops the heartbeat between renewals (never in the middle of one).
    stop: CancellationToken,
    heartbeat: JoinHandle<()>,
    took_over_from: Option<Holder>,
}

impl LeaseGuard {
    fn start(
        s3: S3,
        key: String,
        record: LeaseRecord,
        etag: String,
        sent: Instant,
        settings: LeaseSettings,
        took_over_from: Option<Holder>,
    ) -> Self {
        let counter = record.counter;
        let session = record.holder.as_ref().map(|h| h.session.clone()).unwrap_or_default();
        let inner = Arc::new(GuardInner {
            s3,
            key,
            ttl: settings.ttl,
            held: Mutex::new(Held { record, etag, valid_until: sent + settings.ttl }),
        });
        let lost = CancellationToken::new();
        let stop = CancellationToken::new();
        let heartbeat =
            tokio::spawn(heartbeat(Arc::clone(&inner), settings.renew_every, lost.clone(), stop.clone()));
        Self { inner, counter, session, lost, stop, heartbeat, took_over_from }
    }

    /// The fencing counter this acquisition got.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// The holder whose expired lease this acquisition took over, if it was one.
    pub fn took_over_from(&self) -> Option<&Holder> {
        self.took_over_from.as_ref()
    }

    /// Cancelled when the lease is lost; deploy steps wait on it alongside their own work.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// The fence, called before every state-changing step: the lease must still carry our
    /// session and counter, and our last renewal must be less than a TTL old.
    pub async fn check(&self) -> Result<()> {
        if self.lost.is_cancelled() {
            return Err(Error::LeaseLost("it could not be renewed within its TTL".into()));
        }
        let Some((record, _)) = read(&self.inner.s3, &self.inner.key).await? else {
            return Err(Error::LeaseLost("the lease object is gone".into()));
        };
        let holder = record.holder.as_ref();
        if record.counter != self.counter || holder.map(|h| h.session.as_str()) != Some(self.session.as_str())
        {
            self.lost.cancel();
            return Err(Error::LeaseLost(format!(
                "fenced off: the lease now has fencing counter {} (held by {}), ours was {}",
                record.counter,
                holder.map_or("nobody", |h| h.instance.as_str()),
                self.counter
            )));
        }
        if Instant::now() >= self.inner.held.lock().await.valid_until {
            self.lost.cancel();
            return Err(Error::LeaseLost("not renewed within its TTL".into()));
        }
        Ok(())
    }

    /// Renews now (the heartbeat does this on its own; exposed for tests and long steps).
    pub async fn renew(&self) -> Result<()> {
        let result = self.inner.renew().await;
        if matches!(result, Err(Error::LeaseLost(_))) {
            self.lost.cancel();
        }
        result
    }

    /// Hands the lease back: written with no holder, same counter. Refused (and harmless) when
    /// someone else holds it by now.
    pub async fn release(mut self) -> Result<()> {
        // Let a renewal in flight finish, so that its ETag is the one the release names.
        self.stop.cancel();
        let _ = (&mut self.heartbeat).await;
        let mut held = self.inner.held.lock().await;
        for _ in 0..2 {
            let record = LeaseRecord {
                holder: None,
                beat: held.record.beat + 1,
                written_at: now_rfc3339(),
                ..held.record.clone()
            };
            match write(&self.inner.s3, &self.inner.key, &record, Condition::IfMatch(held.etag.clone()))
                .await?
            {
                Written::Ok { .. } => return Ok(()),
                Written::PreconditionFailed if self.inner.resync(&mut held).await? => continue,
                Written::PreconditionFailed => break,
            }
        }
        Err(Error::LeaseLost("it was taken over before we released it; left as it is".into()))
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

async fn heartbeat(
    inner: Arc<GuardInner>,
    every: Duration,
    lost: CancellationToken,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = lost.cancelled() => return,
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        match inner.renew().await {
            Ok(()) => tracing::debug!("fleet lease renewed"),
            Err(err @ Error::LeaseLost(_)) => {
                tracing::error!(error = %err, "stopping: the fleet lease is lost");
                lost.cancel();
                return;
            }
            Err(err) => {
                let valid_until = inner.held.lock().await.valid_until;
                if Instant::now() >= valid_until {
                    tracing::error!(error = %err, "stopping: the fleet lease could not be renewed within its TTL");
                    lost.cancel();
                    return;
                }
                tracing::warn!(error = %err, "cannot renew the fleet lease; retrying");
            }
        }
    }
}

async fn read(s3: &S3, key: &str) -> Result<Option<(LeaseRecord, String)>> {
    match s3.get(key).await? {
        Some(object) => {
            let record = serde_json::from_slice(&object.body).map_err(|err| {
                Error::json(format!("the lease s3://{}/{key} is not a lease record", s3.bucket()), err)
            })?;
            Ok(Some((record, object.etag)))
        }
        None => Ok(None),
    }
}

async fn write(s3: &S3, key: &str, record: &LeaseRecord, condition: Condition) -> Result<Written> {
    let body = serde_json::to_vec(record).map_err(|err| Error::json("lease record", err))?;
    s3.put(key, body, condition).await
}
