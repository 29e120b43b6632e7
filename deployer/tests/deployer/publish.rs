//! `publish` against moto: upload, the current pointer, create-only releases, re-pointing to an
//! uploaded release, and refusing a tarball that does not verify.

use deployer::{
    Error,
    publish::{publish, upload_only},
};

use crate::helpers::{bucket, keypair, package, rewrite_tarball, store, version};

#[tokio::test]
async fn publish_uploads_once_and_moves_the_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, _) = keypair(dir.path(), "release");
    let store = store(bucket().await);
    assert_eq!(store.current().await.unwrap(), None);

    let v1 = package(dir.path(), "v1", "echo one", &secret);
    let published = publish(&store, Some(&v1.tarball), None, Some(&public)).await.unwrap();
    assert!(published.uploaded);
    let current = store.current().await.unwrap().expect("a current release");
    assert_eq!(current.version, version("v1"));
    assert_eq!(current.sha256, release_sha(&v1.tarball));
    assert!(store.has_release(&version("v1")).await.unwrap());

    let v2 = package(dir.path(), "v2", "echo two", &secret);
    publish(&store, Some(&v2.tarball), Some(version("v2")), Some(&public)).await.unwrap();
    assert_eq!(store.current().await.unwrap().unwrap().version, version("v2"));

    // Publishing the same tarball again only moves the pointer: back to v1 here.
    let again = publish(&store, Some(&v1.tarball), None, None).await.unwrap();
    assert!(!again.uploaded);
    assert_eq!(store.current().await.unwrap().unwrap().version, version("v1"));
    // And so does naming an uploaded version.
    publish(&store, None, Some(version("v2")), None).await.unwrap();
    assert_eq!(store.current().await.unwrap().unwrap().version, version("v2"));

    // A different tarball under an existing version is refused: releases are immutable.
    let other_dir = tempfile::tempdir().unwrap();
    let imposter = package(other_dir.path(), "v1", "echo other", &secret);
    let err = publish(&store, Some(&imposter.tarball), None, None).await.unwrap_err().to_string();
    assert!(err.contains("already uploaded with different contents"), "{err}");
    assert_eq!(store.current().await.unwrap().unwrap().version, version("v2"), "the pointer must not move");

    let err = publish(&store, None, Some(version("v9")), None).await.unwrap_err().to_string();
    assert!(err.contains("never uploaded"), "{err}");
    let err = publish(&store, Some(&v2.tarball), Some(version("v3")), None).await.unwrap_err().to_string();
    assert!(err.contains("holds release v2, not v3"), "{err}");
}

#[tokio::test]
async fn publish_refuses_a_tarball_that_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, _) = keypair(dir.path(), "release");
    let (_, other_public, _) = keypair(dir.path(), "other");
    let store = store(bucket().await);
    let v1 = package(dir.path(), "v1", "echo one", &secret);
    match publish(&store, Some(&v1.tarball), None, Some(&other_public)).await {
        Err(Error::Refused { reason, .. }) => assert!(reason.contains("signed with key"), "{reason}"),
        other => panic!("a release signed by another key was published: {other:?}"),
    }
    let tampered = dir.path().join("tampered.tar.gz");
    rewrite_tarball(
        &v1.tarball,
        &tampered,
        |name, bytes| Some(if name == "bin/svc" { b"evil".to_vec() } else { bytes }),
        &[],
    );
    assert!(matches!(
        publish(&store, Some(&tampered), None, Some(&public)).await,
        Err(Error::Refused { .. })
    ));
    assert_eq!(store.current().await.unwrap(), None, "nothing was published");
    assert!(!store.has_release(&version("v1")).await.unwrap(), "nothing was uploaded");
}

fn release_sha(path: &std::path::Path) -> String {
    deployer::release::sha256_file(path).unwrap().0
}

#[tokio::test]
async fn upload_only_leaves_the_pointer_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, _) = keypair(dir.path(), "release");
    let store = store(bucket().await);
    let v1 = package(dir.path(), "v1", "echo one", &secret);
    publish(&store, Some(&v1.tarball), None, Some(&public)).await.unwrap();

    let v2 = package(dir.path(), "v2", "echo two", &secret);
    let (uploaded_version, uploaded) = upload_only(&store, &v2.tarball, None, Some(&public)).await.unwrap();
    assert_eq!((uploaded_version, uploaded), (version("v2"), true));
    assert!(store.has_release(&version("v2")).await.unwrap());
    assert_eq!(store.current().await.unwrap().unwrap().version, version("v1"), "the pointer must not move");
    // Uploading the same tarball again is not an error, and deploying it is moving the pointer.
    assert!(!upload_only(&store, &v2.tarball, Some(version("v2")), None).await.unwrap().1);
    publish(&store, None, Some(version("v2")), None).await.unwrap();
    assert_eq!(store.current().await.unwrap().unwrap().version, version("v2"));

    let err = upload_only(&store, &v2.tarball, Some(version("v3")), None).await.unwrap_err().to_string();
    assert!(err.contains("holds release v2, not v3"), "{err}");
}
