//! The signed `current` pointer: which release an environment should run. It is signed with the
//! release key, the same minisign key and the same code that sign release manifests, so whoever
//! can write to the bucket but does not hold the key can neither point a fleet at an older
//! signed release nor at one meant for another environment.
//!
//! The object in S3 is `{"pointer": "<JSON text>", "signature": "<minisign signature>"}`: the
//! signature covers the exact bytes of `pointer`, which is kept as text so that verifying never
//! depends on how a reader re-serialises it.
//!
//! What a deployer accepts ([`judge`]): a pointer that verifies under its configured key, names
//! its own environment, carries a sequence no lower than the newest pointer it accepted before
//! (a replayed older pointer is refused, however validly signed), and names a release at least
//! as new as the one it runs, unless the pointer is a signed rollback.

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{Error, PublicKey, Result, SecretKey, Version};

/// Bumped when the pointer's meaning changes; older deployers refuse newer formats.
pub const POINTER_FORMAT: u32 = 1;

/// What a signed pointer says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pointer {
    pub format: u32,
    /// The environment it is for (`OWP_DEPLOYER_ENVIRONMENT`); every other one refuses it.
    pub environment: String,
    pub version: Version,
    /// Strictly increasing per environment: milliseconds since the Unix epoch when it was signed,
    /// or one more than the pointer it replaced when the clock says less.
    pub sequence: u64,
    /// RFC 3339, when it was signed (for people; `sequence` is what is compared).
    pub signed_at: String,
    /// sha256 of the release tarball.
    pub sha256: String,
    /// The release's `created_at` from its signed manifest: what "older release" means.
    pub release_created_at: String,
    /// Signed as a deliberate move to an older release (`deployer publish --rollback`).
    pub rollback: bool,
}

impl Pointer {
    /// A pointer for `environment` to a release, signed now, after `previous` (the pointer it
    /// replaces, if any).
    pub fn new(
        environment: &str,
        version: Version,
        sha256: String,
        release_created_at: String,
        rollback: bool,
        previous: Option<&Pointer>,
    ) -> Self {
        let now = OffsetDateTime::now_utc();
        let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let sequence = previous.map_or(millis, |previous| millis.max(previous.sequence.saturating_add(1)));
        Self {
            format: POINTER_FORMAT,
            environment: environment.to_owned(),
            version,
            sequence,
            signed_at: now.format(&Rfc3339).unwrap_or_else(|_| "unknown".into()),
            sha256,
            release_created_at,
            rollback,
        }
    }

    /// Whether this pointer's release was packaged before `created_at` (an RFC 3339 time);
    /// `None` when either time cannot be read.
    pub fn release_older_than(&self, created_at: &str) -> Option<bool> {
        let ours = OffsetDateTime::parse(&self.release_created_at, &Rfc3339).ok()?;
        let theirs = OffsetDateTime::parse(created_at, &Rfc3339).ok()?;
        Some(ours < theirs)
    }

    /// One line for logs and `deployer status`.
    pub fn describe(&self) -> String {
        format!(
            "{} for {} (sequence {}, signed {}{})",
            self.version,
            self.environment,
            self.sequence,
            self.signed_at,
            if self.rollback { ", rollback" } else { "" }
        )
    }
}

/// The `current` object as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedPointer {
    /// The [`Pointer`] as JSON text: exactly the bytes the signature covers.
    pub pointer: String,
    /// minisign signature of `pointer`, made with the release key.
    pub signature: String,
}

impl SignedPointer {
    pub fn sign(pointer: &Pointer, key: &SecretKey) -> Result<Self> {
        let text = serde_json::to_string(pointer).map_err(|err| Error::json("pointer", err))?;
        let signature = key.sign(text.as_bytes(), &trusted_comment(pointer))?;
        Ok(Self { pointer: text, signature })
    }

    /// Reads the stored object; an error says why it is not a signed pointer. Fuzzed: any bytes
    /// give a pointer or a reason, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|err| {
            format!("not a signed pointer (an unsigned or hand-written pointer is never trusted): {err}")
        })
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|err| Error::json("signed pointer", err))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// The pointer, once its signature checked out under `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<Pointer, String> {
        let comment = key.verify(self.pointer.as_bytes(), &self.signature)?;
        let pointer: Pointer = serde_json::from_str(&self.pointer)
            .map_err(|err| format!("the signed pointer is not readable: {err}"))?;
        if pointer.format != POINTER_FORMAT {
            return Err(format!(
                "pointer format {} is not {POINTER_FORMAT}; this deployer is too old for it",
                pointer.format
            ));
        }
        // The trusted comment is signed too; a mismatch means the signer was not this code.
        if comment != trusted_comment(&pointer) {
            return Err(format!("the trusted comment {comment:?} does not describe the pointer"));
        }
        Ok(pointer)
    }

    /// The pointer's fields without checking the signature, for display only.
    pub fn unverified(&self) -> Option<Pointer> {
        serde_json::from_str(&self.pointer).ok()
    }
}

/// The minisign trusted comment of a pointer signature, as `minisign -V` shows it.
fn trusted_comment(pointer: &Pointer) -> String {
    format!(
        "owp pointer {} {} sequence {}{}",
        pointer.environment,
        pointer.version,
        pointer.sequence,
        if pointer.rollback { " rollback" } else { "" }
    )
}

/// What a deployer knows when it judges a pointer.
#[derive(Debug, Clone, Copy)]
pub struct Judging<'a> {
    pub key: &'a PublicKey,
    pub environment: &'a str,
    /// The newest pointer this deployer accepted before, if any.
    pub accepted: Option<&'a Pointer>,
    /// The release the instance runs and its manifest's `created_at`, if it runs one.
    pub running: Option<(&'a Version, &'a str)>,
}

/// Accepts the stored `current` object or says why not, in a sentence for the log and
/// `deployer status`. Fuzzed: any bytes give a pointer or a reason, never a panic.
pub fn judge(bytes: &[u8], judging: Judging<'_>) -> Result<Pointer, String> {
    let signed = SignedPointer::from_bytes(bytes)?;
    let pointer = signed.verify(judging.key).map_err(|reason| format!("signature check failed: {reason}"))?;
    if pointer.environment != judging.environment {
        return Err(format!(
            "the pointer is signed for environment {:?}, this deployer serves {:?}",
            pointer.environment, judging.environment
        ));
    }
    if let Some(accepted) = judging.accepted {
        if pointer.sequence < accepted.sequence
            || (pointer.sequence == accepted.sequence && pointer != *accepted)
        {
            return Err(format!(
                "replayed older pointer: sequence {} (to {}) is older than sequence {} (to {}), the newest this instance accepted",
                pointer.sequence, pointer.version, accepted.sequence, accepted.version
            ));
        }
    }
    if let Some((running, created_at)) = judging.running {
        if &pointer.version != running
            && !pointer.rollback
            && pointer.release_older_than(created_at) == Some(true)
        {
            return Err(format!(
                "release {} (packaged {}) is older than {running} (packaged {created_at}), which runs, and the pointer is not a signed rollback",
                pointer.version, pointer.release_created_at
            ));
        }
    }
    Ok(pointer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate_keypair;

    fn keys(dir: &std::path::Path, name: &str) -> (SecretKey, PublicKey) {
        let (secret, public) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
        let public = generate_keypair(&secret, &public).unwrap();
        (SecretKey::from_file(&secret, None).unwrap(), public)
    }

    fn pointer(version: &str, created: &str, rollback: bool, previous: Option<&Pointer>) -> Pointer {
        Pointer::new("prod", version.parse().unwrap(), "00".into(), created.into(), rollback, previous)
    }

    #[test]
    fn a_pointer_is_judged_on_key_environment_sequence_and_age() {
        let dir = tempfile::tempdir().unwrap();
        let (secret, public) = keys(dir.path(), "release");
        let (other_secret, _) = keys(dir.path(), "other");
        let (v1, v2): (Version, Version) = ("v1".parse().unwrap(), "v2".parse().unwrap());
        let (t1, t2) = ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00.5Z");
        let judging = Judging { key: &public, environment: "prod", accepted: None, running: Some((&v1, t1)) };
        let bytes = |pointer: &Pointer, key: &SecretKey| {
            SignedPointer::sign(pointer, key).unwrap().to_bytes().unwrap()
        };

        let forward = pointer("v2", t2, false, None);
        assert_eq!(judge(&bytes(&forward, &secret), judging).unwrap(), forward);

        let err = judge(br#"{"version":"v2","published_at":"x","sha256":"00"}"#, judging).unwrap_err();
        assert!(err.contains("not a signed pointer"), "{err}");
        let err = judge(&bytes(&forward, &other_secret), judging).unwrap_err();
        assert!(err.contains("signed with key") && err.contains(&public.key_id()), "{err}");
        let mut edited = SignedPointer::sign(&forward, &secret).unwrap();
        edited.pointer = edited.pointer.replace("\"v2\"", "\"v3\"");
        let err = judge(&edited.to_bytes().unwrap(), judging).unwrap_err();
        assert!(err.contains("bad signature"), "{err}");

        let staging = Pointer { environment: "staging".into(), ..forward.clone() };
        let err = judge(&bytes(&staging, &secret), judging).unwrap_err();
        assert!(err.contains("environment \"staging\""), "{err}");

        // Running v2: v1 is older, so only a rollback may name it.
        let running_v2 = Judging { running: Some((&v2, t2)), accepted: Some(&forward), ..judging };
        let downgrade = pointer("v1", t1, false, Some(&forward));
        let err = judge(&bytes(&downgrade, &secret), running_v2).unwrap_err();
        assert!(err.contains("older than v2") && err.contains("not a signed rollback"), "{err}");
        let rollback = pointer("v1", t1, true, Some(&forward));
        assert!(rollback.sequence > forward.sequence);
        assert_eq!(judge(&bytes(&rollback, &secret), running_v2).unwrap(), rollback);

        // After the rollback, the earlier forward pointer is a replay.
        let after = Judging { running: Some((&v1, t1)), accepted: Some(&rollback), ..judging };
        let err = judge(&bytes(&forward, &secret), after).unwrap_err();
        assert!(err.contains("replayed older pointer"), "{err}");
        // The accepted pointer itself is still fine to see again.
        assert!(judge(&bytes(&rollback, &secret), after).is_ok());
    }

    #[test]
    fn a_pointer_with_its_comment_signature_cut_short_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (secret, public) = keys(dir.path(), "release");
        let judging = Judging { key: &public, environment: "prod", accepted: None, running: None };
        let mut signed =
            SignedPointer::sign(&pointer("v1", "2024-01-01T00:00:00Z", false, None), &secret).unwrap();
        let mut lines: Vec<&str> = signed.signature.lines().collect();
        lines[3] = "AAAA";
        signed.signature = lines.join("\n");
        let err = judge(&signed.to_bytes().unwrap(), judging).unwrap_err();
        assert!(err.starts_with("signature check failed: the signature is not in minisign format"), "{err}");
    }

    #[test]
    fn arbitrary_bytes_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (_, public) = keys(dir.path(), "release");
        let judging = Judging { key: &public, environment: "prod", accepted: None, running: None };
        for bytes in [
            &b""[..],
            b"null",
            b"\xff\xfe",
            br#"{"pointer":"{}","signature":""}"#,
            br#"{"pointer":"","signature":"untrusted comment: x\n\n\n"}"#,
            br#"{"pointer":"x","signature":"untrusted comment: x\nRUQ=\ntrusted comment: y\nAA=="}"#,
        ] {
            assert!(judge(bytes, judging).is_err(), "{}", String::from_utf8_lossy(bytes));
        }
    }
}
