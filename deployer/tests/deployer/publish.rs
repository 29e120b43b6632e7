//! `publish` against moto: upload, the signed current pointer, create-only releases, going back
//! only as a signed rollback, publishing a pointer signed elsewhere, and refusing a tarball that
//! does not verify.

use deployer::{
    Error,
    publish::{Signing, publish, sign_pointer, upload_only},
};
use owp_release::SignedPointer;

use crate::helpers::{bucket, current_pointer, keypair, package, rewrite_tarball, signed_by, store, version};

#[tokio::test]
async fn publish_uploads_once_and_moves_a_signed_pointer() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, _) = keypair(dir.path(), "release");
    let store = store(bucket().await);
    assert_eq!(store.current().await.unwrap(), None);

    let v1 = package(dir.path(), "v1", "echo one", &secret);
    let published =
        publish(&store, Some(&v1.tarball), None, Some(&public), signed_by(&secret)).await.unwrap();
    assert!(published.uploaded && published.moved);
    let first = current_pointer(&store, &public).await.expect("a current release");
    assert_eq!(first, published.pointer);
    assert_eq!((first.version.as_str(), first.environment.as_str(), first.rollback), ("v1", "test", false));
    assert_eq!(first.sha256, release_sha(&v1.tarball));
    assert_eq!(first.release_created_at, v1.manifest.created_at);
    assert!(store.has_release(&version("v1")).await.unwrap());

    let v2 = package(dir.path(), "v2", "echo two", &secret);
    publish(&store, Some(&v2.tarball), Some(version("v2")), Some(&public), signed_by(&secret)).await.unwrap();
    let second = current_pointer(&store, &public).await.unwrap();
    assert_eq!(second.version, version("v2"));
    assert!(second.sequence > first.sequence, "{second:?} after {first:?}");

    // Going back to an older release is a rollback, and only a signed one.
    let err =
        publish(&store, Some(&v1.tarball), None, None, signed_by(&secret)).await.unwrap_err().to_string();
    assert!(err.contains("older than the current release v2") && err.contains("--rollback"), "{err}");
    assert_eq!(current_pointer(&store, &public).await.unwrap(), second, "the pointer must not move");
    let back =
        publish(&store, None, Some(version("v1")), None, Signing::Key { key: &secret, rollback: true })
            .await
            .unwrap();
    assert!(!back.uploaded);
    let rollback = current_pointer(&store, &public).await.unwrap();
    assert_eq!((rollback.version.as_str(), rollback.rollback), ("v1", true));
    assert!(rollback.sequence > second.sequence);
    // Forward again needs no flag.
    publish(&store, None, Some(version("v2")), None, signed_by(&secret)).await.unwrap();
    assert_eq!(current_pointer(&store, &public).await.unwrap().version, version("v2"));

    // A key that did not sign the release cannot sign a pointer to it.
    let (other, _, _) = keypair(dir.path(), "other");
    match publish(&store, None, Some(version("v2")), None, signed_by(&other)).await {
        Err(Error::Release(owp_release::Error::Refused { reason, .. })) => {
            assert!(reason.contains("signed with key"), "{reason}")
        }
        other => panic!("another key signed a pointer to v2: {other:?}"),
    }

    // A different tarball under an existing version is refused: releases are immutable.
    let other_dir = tempfile::tempdir().unwrap();
    let imposter = package(other_dir.path(), "v1", "echo other", &secret);
    let err = publish(&store, Some(&imposter.tarball), None, None, signed_by(&secret))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("already uploaded with different contents"), "{err}");
    assert_eq!(
        current_pointer(&store, &public).await.unwrap().version,
        version("v2"),
        "the pointer must not move"
    );

    let err =
        publish(&store, None, Some(version("v9")), None, signed_by(&secret)).await.unwrap_err().to_string();
    assert!(err.contains("never uploaded"), "{err}");
    let err = publish(&store, Some(&v2.tarball), Some(version("v3")), None, signed_by(&secret))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds release v2, not v3"), "{err}");
}

#[tokio::test]
async fn a_pointer_signed_elsewhere_is_published_only_when_it_is_newer_and_for_this_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, _) = keypair(dir.path(), "release");
    let (_, other_public, _) = keypair(dir.path(), "other");
    let store = store(bucket().await);
    let v1 = package(dir.path(), "v1", "echo one", &secret);
    let v2 = package(dir.path(), "v2", "echo two", &secret);

    // Signed where the key is, before anything is uploaded; published where it is not.
    let early = sign_pointer(&v1.tarball, "test", &secret, false).await.unwrap();
    let for_v2 = sign_pointer(&v2.tarball, "test", &secret, false).await.unwrap();
    let for_prod = sign_pointer(&v2.tarball, "prod", &secret, false).await.unwrap();
    upload_only(&store, &v1.tarball, None, Some(&public)).await.unwrap();
    let signed = |pointer: &SignedPointer| Signing::Signed { pointer: pointer.clone(), public_key: &public };

    let err = publish(&store, None, None, None, signed(&for_v2)).await.unwrap_err().to_string();
    assert!(err.contains("release v2 was never uploaded"), "{err}");
    upload_only(&store, &v2.tarball, None, Some(&public)).await.unwrap();
    let err = publish(&store, None, None, None, signed(&for_prod)).await.unwrap_err().to_string();
    assert!(err.contains("signed for environment prod, not test"), "{err}");
    let wrong_key = Signing::Signed { pointer: for_v2.clone(), public_key: &other_public };
    let err = publish(&store, None, None, None, wrong_key).await.unwrap_err().to_string();
    assert!(err.contains("does not verify") && err.contains("signed with key"), "{err}");
    assert_eq!(store.current().await.unwrap(), None, "nothing was published");

    let published = publish(&store, None, None, None, signed(&for_v2)).await.unwrap();
    assert!(published.moved && published.pointer.version == version("v2"));
    assert_eq!(SignedPointer::from_bytes(&store.current().await.unwrap().unwrap().bytes).unwrap(), for_v2);
    // Publishing it again (a retried deploy) changes nothing.
    assert!(!publish(&store, None, None, None, signed(&for_v2)).await.unwrap().moved);
    // One signed before the current one is refused, whatever release it names.
    let err = publish(&store, None, None, None, signed(&early)).await.unwrap_err().to_string();
    assert!(err.contains("not newer than the current pointer"), "{err}");
    assert_eq!(current_pointer(&store, &public).await.unwrap().version, version("v2"));
}

#[tokio::test]
async fn publish_refuses_a_tarball_that_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, _) = keypair(dir.path(), "release");
    let (_, other_public, _) = keypair(dir.path(), "other");
    let store = store(bucket().await);
    let v1 = package(dir.path(), "v1", "echo one", &secret);
    match publish(&store, Some(&v1.tarball), None, Some(&other_public), signed_by(&secret)).await {
        Err(Error::Release(owp_release::Error::Refused { reason, .. })) => {
            assert!(reason.contains("signed with key"), "{reason}")
        }
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
        publish(&store, Some(&tampered), None, Some(&public), signed_by(&secret)).await,
        Err(Error::Release(owp_release::Error::Refused { .. }))
    ));
    assert_eq!(store.current().await.unwrap(), None, "nothing was published");
    assert!(!store.has_release(&version("v1")).await.unwrap(), "nothing was uploaded");
}

fn release_sha(path: &std::path::Path) -> String {
    owp_release::sha256_file(path).unwrap().0
}

#[tokio::test]
async fn upload_only_leaves_the_pointer_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, _) = keypair(dir.path(), "release");
    let store = store(bucket().await);
    let v1 = package(dir.path(), "v1", "echo one", &secret);
    publish(&store, Some(&v1.tarball), None, Some(&public), signed_by(&secret)).await.unwrap();

    let v2 = package(dir.path(), "v2", "echo two", &secret);
    let (uploaded_version, uploaded) = upload_only(&store, &v2.tarball, None, Some(&public)).await.unwrap();
    assert_eq!((uploaded_version, uploaded), (version("v2"), true));
    assert!(store.has_release(&version("v2")).await.unwrap());
    assert_eq!(
        current_pointer(&store, &public).await.unwrap().version,
        version("v1"),
        "the pointer must not move"
    );
    // Uploading the same tarball again is not an error, and deploying it is moving the pointer.
    assert!(!upload_only(&store, &v2.tarball, Some(version("v2")), None).await.unwrap().1);
    publish(&store, None, Some(version("v2")), None, signed_by(&secret)).await.unwrap();
    assert_eq!(current_pointer(&store, &public).await.unwrap().version, version("v2"));

    let err = upload_only(&store, &v2.tarball, Some(version("v3")), None).await.unwrap_err().to_string();
    assert!(err.contains("holds release v2, not v3"), "{err}");
}
