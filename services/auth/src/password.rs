//! Password hashing with argon2id at OWASP's parameters, off the async runtime (it is
//! deliberately slow) and a bounded number at a time: each hash holds 19 MiB and a CPU, and
//! unbounded, a burst of logins would exhaust memory and starve every other request.

use std::{sync::Arc, time::Duration};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Error;

/// OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// Hashes and verifies passwords, at most `concurrency` at once.
#[derive(Debug, Clone)]
pub struct Passwords {
    slots: Arc<Semaphore>,
    wait: Duration,
    /// What an unknown username is checked against, so that it costs what a known one does and
    /// the answer's timing does not tell who has an account. Made at start, with our parameters.
    dummy: Arc<str>,
}

fn argon2() -> Result<Argon2<'static>, Error> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None)
        .map_err(|err| Error::Internal(format!("bad argon2 parameters: {err}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_now(password: &[u8]) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()?
        .hash_password(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| Error::Internal(format!("cannot hash password: {err}")))
}

fn verify_now(password: &[u8], hash: &str) -> Result<bool, Error> {
    let parsed =
        PasswordHash::new(hash).map_err(|err| Error::Internal(format!("stored hash unreadable: {err}")))?;
    // The stored hash's own parameters apply (a hash made with other ones still verifies).
    Ok(argon2()?.verify_password(password, &parsed).is_ok())
}

/// A hashing task that panicked or was cancelled.
fn lost(err: tokio::task::JoinError) -> Error {
    Error::Internal(format!("password hashing task: {err}"))
}

impl Passwords {
    /// `concurrency` hashes at once; a caller waits at most `wait` for a slot.
    pub async fn new(concurrency: usize, wait: Duration) -> Result<Self, Error> {
        let secret = uuid::Uuid::new_v4().to_string();
        let dummy =
            tokio::task::spawn_blocking(move || hash_now(secret.as_bytes())).await.map_err(lost)??;
        Ok(Self { slots: Arc::new(Semaphore::new(concurrency.max(1))), wait, dummy: dummy.into() })
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit, Error> {
        match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(Error::Internal(format!("no hashing slot: {closed}"))),
            Err(_elapsed) => Err(Error::HashingBusy),
        }
    }

    /// Runs `work` on the blocking pool holding a slot. The slot goes with the work, so a client
    /// that gives up does not free it while argon2 still runs.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let permit = self.slot().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(lost)?
    }

    pub async fn hash(&self, password: String) -> Result<String, Error> {
        self.run(move || hash_now(password.as_bytes())).await
    }

    /// Whether `password` matches `hash`; with no hash (an unknown username), the dummy is checked
    /// at the same cost and the answer is false.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, Error> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.to_string());
        let matches = self.run(move || verify_now(password.as_bytes(), &hash)).await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let passwords = Passwords::new(2, Duration::from_secs(60)).await.unwrap();
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(passwords.verify("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!passwords.verify("wrong".into(), Some(hash)).await.unwrap());
        assert!(passwords.dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!passwords.verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_saturated_hasher_says_busy() {
        let passwords = Passwords::new(1, Duration::from_millis(1)).await.unwrap();
        let held = passwords.slot().await.unwrap();
        assert!(matches!(passwords.hash("long enough".into()).await, Err(Error::HashingBusy)));
        drop(held);
        assert!(passwords.hash("long enough".into()).await.is_ok());
    }
}
