//! `deployer publish`: uploads a release tarball (create-only: a version, once uploaded, never
//! changes) and points the environment's `current` pointer at it. Publishing a version that is
//! already uploaded only moves the pointer, which is also how a fleet is sent back to an older
//! release. `upload_only` stops before the pointer, so a pipeline can upload a release in one
//! step and deploy it (move the pointer) in another, under its own lock.

use std::path::Path;

use crate::{
    Error, Result,
    release::{self, PublicKey, Version},
    store::{CurrentRelease, ReleaseStore, Written, now_rfc3339},
};

/// What `publish` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub current: CurrentRelease,
    /// `false` when the tarball was already in S3 (identical), so only the pointer moved.
    pub uploaded: bool,
}

/// Uploads `tarball` (when given) and makes its version current. With `public_key`, the
/// tarball is verified first, exactly as the deployers will verify it.
pub async fn publish(
    store: &ReleaseStore,
    tarball: Option<&Path>,
    version: Option<Version>,
    public_key: Option<&PublicKey>,
) -> Result<Published> {
    let (version, sha256, uploaded) = match tarball {
        Some(tarball) => upload(store, tarball, version, public_key).await?,
        None => {
            let version = version.ok_or_else(|| {
                Error::Publish("give --tarball, or --release-version of an uploaded release".into())
            })?;
            let sha256 = store.release_sha256(&version).await?.ok_or_else(|| {
                Error::Publish(format!(
                    "release {version} was never uploaded (s3://{}/{})",
                    store.s3().bucket(),
                    store.layout().tarball(&version)
                ))
            })?;
            (version, sha256, false)
        }
    };
    if let Some(marker) = store.bad_marker(&version).await? {
        return Err(Error::Publish(format!(
            "release {version} is marked bad ({}, by {} at {}); publish a new version instead",
            marker.reason, marker.instance, marker.marked_at
        )));
    }
    let current = CurrentRelease { version, published_at: now_rfc3339(), sha256 };
    store.set_current(&current).await?;
    Ok(Published { current, uploaded })
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
    let path = tarball.to_owned();
    let manifest = tokio::task::spawn_blocking(move || release::read_manifest_from_tarball(&path))
        .await
        .map_err(|err| Error::Publish(format!("reading the manifest failed: {err}")))??;
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
        let (path, key, expected) = (tarball.to_owned(), key.clone(), version.clone());
        tokio::task::spawn_blocking(move || {
            let scratch =
                tempfile::tempdir().map_err(|err| Error::io("cannot create a scratch directory", err))?;
            release::unpack_verified(&path, scratch.path(), &expected, &key).map(|_| ())
        })
        .await
        .map_err(|err| Error::Publish(format!("verification failed to run: {err}")))??;
    }
    let path = tarball.to_owned();
    let (sha256, _) = tokio::task::spawn_blocking(move || release::sha256_file(&path))
        .await
        .map_err(|err| Error::Publish(format!("hashing failed to run: {err}")))??;
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
