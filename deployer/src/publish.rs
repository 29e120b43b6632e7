//! `deployer publish`: uploads a release tarball (create-only: a version, once uploaded, never
//! changes) and points the environment's `current` pointer at it. The pointer is signed with the
//! release key (see `owp_release::SignedPointer`): either here (`--secret-key`), or earlier,
//! where the key is, by `deployer sign-pointer` (`--pointer FILE`), so that the step that moves
//! the pointer never holds the key. A new pointer must be newer (by sequence) than the current
//! one, and a pointer to an older release than the current one must be signed as a rollback
//! (`--rollback`), exactly as the deployers will demand. `upload_only` stops before the pointer,
//! so a pipeline can upload a release in one step and deploy it in another, under its own lock.

use std::path::Path;

use owp_release::{Manifest, Pointer, PublicKey, SecretKey, SignedPointer, Version};

use crate::{
    Error, Result,
    store::{Condition, CurrentObject, ReleaseStore, Written},
};

/// What `publish` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub pointer: Pointer,
    /// `false` when the tarball was already in S3 (identical), or none was given.
    pub uploaded: bool,
    /// `false` when the current pointer was already exactly this one (a retried deploy).
    pub moved: bool,
    /// Why the pointer that was replaced did not verify, when it did not (it is overwritten).
    pub replaced_untrusted: Option<String>,
}

/// How the new pointer gets its signature.
#[derive(Debug)]
pub enum Signing<'a> {
    /// Signed here with the release key; `rollback` signs a deliberate move to an older release.
    Key { key: &'a SecretKey, rollback: bool },
    /// Signed earlier by `deployer sign-pointer`; checked against the public key before use.
    Signed { pointer: SignedPointer, public_key: &'a PublicKey },
}

/// Uploads `tarball` (when given) and makes its version current with a signed pointer. With
/// `public_key`, the tarball is verified before the upload, exactly as the deployers will.
pub async fn publish(
    store: &ReleaseStore,
    tarball: Option<&Path>,
    version: Option<Version>,
    public_key: Option<&PublicKey>,
    signing: Signing<'_>,
) -> Result<Published> {
    let (version, uploaded) = match tarball {
        Some(tarball) => {
            let (version, _, uploaded) = upload(store, tarball, version, public_key).await?;
            (Some(version), uploaded)
        }
        None => (version, false),
    };
    let current = store.current().await?;
    let (signed, pointer, trusted_key) = match signing {
        Signing::Signed { pointer: signed, public_key } => {
            let pointer = signed
                .verify(public_key)
                .map_err(|reason| Error::Publish(format!("the signed pointer does not verify: {reason}")))?;
            if let Some(version) = &version {
                if version != &pointer.version {
                    return Err(Error::Publish(format!(
                        "the signed pointer names release {}, not {version}",
                        pointer.version
                    )));
                }
            }
            let sha256 = uploaded_sha256(store, &pointer.version).await?;
            if sha256 != pointer.sha256 {
                return Err(Error::Publish(format!(
                    "release {} in S3 has sha256 {sha256}, but the signed pointer names {}",
                    pointer.version, pointer.sha256
                )));
            }
            (signed, pointer, public_key.clone())
        }
        Signing::Key { key, rollback } => {
            let version = version.ok_or_else(|| {
                Error::Publish("give --tarball, or --release-version of an uploaded release".into())
            })?;
            let public = key.public_key()?;
            let sha256 = uploaded_sha256(store, &version).await?;
            // Only a release signed by this very key gets a pointer signed by it.
            let manifest = match tarball {
                Some(tarball) => verified_manifest(tarball, &version, &public).await?,
                None => {
                    let scratch = tempfile::tempdir()
                        .map_err(|err| Error::io("cannot create a scratch directory", err))?;
                    let path = scratch.path().join(owp_release::tarball_name(&version));
                    store.download(&version, &path).await?;
                    verified_manifest(&path, &version, &public).await?
                }
            };
            let previous = trusted_pointer(current.as_ref(), &public, store).ok().flatten();
            let pointer = Pointer::new(
                store.layout().environment(),
                version,
                sha256,
                manifest.created_at,
                rollback,
                previous.as_ref(),
            );
            (SignedPointer::sign(&pointer, key)?, pointer, public)
        }
    };
    if pointer.environment != store.layout().environment() {
        return Err(Error::Publish(format!(
            "the pointer is signed for environment {}, not {}",
            pointer.environment,
            store.layout().environment()
        )));
    }
    if let Some(marker) = store.bad_marker(&pointer.version).await? {
        return Err(Error::Publish(format!(
            "release {} is marked bad ({}, by {} at {}); publish a new version instead",
            pointer.version, marker.reason, marker.instance, marker.marked_at
        )));
    }
    let (condition, replaced_untrusted) =
        match (&current, trusted_pointer(current.as_ref(), &trusted_key, store)) {
            (None, _) => (Condition::IfAbsent, None),
            (Some(object), Ok(Some(previous))) => {
                if previous == pointer {
                    // A retried deploy: the pointer is already exactly this one.
                    return Ok(Published { pointer, uploaded, moved: false, replaced_untrusted: None });
                }
                check_successor(&previous, &pointer)?;
                (Condition::IfMatch(object.etag.clone()), None)
            }
            (Some(object), Ok(None)) => (Condition::IfMatch(object.etag.clone()), None),
            (Some(object), Err(reason)) => (Condition::IfMatch(object.etag.clone()), Some(reason)),
        };
    match store.set_current(&signed, condition).await? {
        Written::Ok { .. } => Ok(Published { pointer, uploaded, moved: true, replaced_untrusted }),
        Written::PreconditionFailed => Err(Error::Publish(
            "the current pointer changed while publishing (another publish at the same time?); nothing was changed, try again".into(),
        )),
    }
}

/// Signs a pointer to the release in `tarball` for `environment`, to be published later with
/// `publish` (`Signing::Signed`) by a step that does not hold the key. The tarball must verify
/// under the key's public half.
pub async fn sign_pointer(
    tarball: &Path,
    environment: &str,
    key: &SecretKey,
    rollback: bool,
) -> Result<SignedPointer> {
    crate::store::Layout::new("releases/", environment)?;
    let manifest = unverified_manifest(tarball).await?;
    let manifest = verified_manifest(tarball, &manifest.version, &key.public_key()?).await?;
    let sha256 = tarball_sha256(tarball).await?;
    let pointer = Pointer::new(environment, manifest.version, sha256, manifest.created_at, rollback, None);
    Ok(SignedPointer::sign(&pointer, key)?)
}

/// The rules a deployer applies, applied before publishing so that the pipeline fails with the
/// reason instead of the fleet refusing the pointer.
fn check_successor(previous: &Pointer, next: &Pointer) -> Result<()> {
    if next.sequence <= previous.sequence {
        return Err(Error::Publish(format!(
            "the pointer to {} has sequence {}, not newer than the current pointer's {} (to {}): it was signed before the current one; sign a new one",
            next.version, next.sequence, previous.sequence, previous.version
        )));
    }
    if next.version != previous.version
        && !next.rollback
        && next.release_older_than(&previous.release_created_at) == Some(true)
    {
        return Err(Error::Publish(format!(
            "release {} (packaged {}) is older than the current release {} (packaged {}): going back is a rollback; publish it with --rollback",
            next.version, next.release_created_at, previous.version, previous.release_created_at
        )));
    }
    Ok(())
}

/// The current pointer when it verifies under `key` for this environment (`Ok(None)`: there is
/// none); otherwise why it is not trusted.
fn trusted_pointer(
    current: Option<&CurrentObject>,
    key: &PublicKey,
    store: &ReleaseStore,
) -> Result<Option<Pointer>, String> {
    let Some(current) = current else { return Ok(None) };
    let pointer = SignedPointer::from_bytes(&current.bytes)?.verify(key)?;
    if pointer.environment != store.layout().environment() {
        return Err(format!("it is signed for environment {}", pointer.environment));
    }
    Ok(Some(pointer))
}

async fn uploaded_sha256(store: &ReleaseStore, version: &Version) -> Result<String> {
    store.release_sha256(version).await?.ok_or_else(|| {
        Error::Publish(format!(
            "release {version} was never uploaded (s3://{}/{})",
            store.s3().bucket(),
            store.layout().tarball(version)
        ))
    })
}

/// The manifest of `tarball`, once it verified under `key` as release `version`.
async fn verified_manifest(tarball: &Path, version: &Version, key: &PublicKey) -> Result<Manifest> {
    let (path, key, expected) = (tarball.to_owned(), key.clone(), version.clone());
    tokio::task::spawn_blocking(move || {
        let scratch =
            tempfile::tempdir().map_err(|err| Error::io("cannot create a scratch directory", err))?;
        let (_, manifest) = owp_release::unpack_verified(&path, scratch.path(), &expected, &key)?;
        Ok(manifest)
    })
    .await
    .map_err(|err| Error::Publish(format!("verification failed to run: {err}")))?
}

/// The manifest of `tarball`, not verified: only to learn which release it says it is. A tarball
/// that is no release is a publishing error, since publishing is what was asked of it.
async fn unverified_manifest(tarball: &Path) -> Result<Manifest> {
    let path = tarball.to_owned();
    let read = tokio::task::spawn_blocking(move || owp_release::read_manifest_from_tarball(&path))
        .await
        .map_err(|err| Error::Publish(format!("reading the manifest failed: {err}")))?;
    match read {
        Ok(manifest) => Ok(manifest),
        Err(err @ owp_release::Error::NotARelease { .. }) => Err(Error::Publish(err.to_string())),
        Err(err) => Err(err.into()),
    }
}

async fn tarball_sha256(tarball: &Path) -> Result<String> {
    let path = tarball.to_owned();
    let (sha256, _) = tokio::task::spawn_blocking(move || owp_release::sha256_file(&path))
        .await
        .map_err(|err| Error::Publish(format!("hashing failed to run: {err}")))??;
    Ok(sha256)
}

/// Uploads `tarball` (verified first with `public_key`, when given; its manifest must name
/// `version`, when given) without moving the pointer. Returns the version and whether it was
/// uploaded now (`false`: already there, identical).
pub async fn upload_only(
    store: &ReleaseStore,
    tarball: &Path,
    version: Option<Version>,
    public_key: Option<&PublicKey>,
) -> Result<(Version, bool)> {
    let (version, _, uploaded) = upload(store, tarball, version, public_key).await?;
    Ok((version, uploaded))
}

async fn upload(
    store: &ReleaseStore,
    tarball: &Path,
    version: Option<Version>,
    public_key: Option<&PublicKey>,
) -> Result<(Version, String, bool)> {
    let manifest = unverified_manifest(tarball).await?;
    if let Some(version) = &version {
        if version != &manifest.version {
            return Err(Error::Publish(format!(
                "{} holds release {}, not {version}",
                tarball.display(),
                manifest.version
            )));
        }
    }
    let version = manifest.version;
    if let Some(key) = public_key {
        verified_manifest(tarball, &version, key).await?;
    }
    let sha256 = tarball_sha256(tarball).await?;
    let key = store.layout().tarball(&version);
    match store.s3().upload_file(&key, tarball, &[("sha256", &sha256)], true).await? {
        Written::Ok { .. } => Ok((version, sha256, true)),
        Written::PreconditionFailed => match store.release_sha256(&version).await? {
            Some(existing) if existing == sha256 => Ok((version, sha256, false)),
            _ => Err(Error::Publish(format!(
                "release {version} is already uploaded with different contents; releases are immutable, package a new version"
            ))),
        },
    }
}
