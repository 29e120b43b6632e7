//! Release verification: a good release installs; a tampered tarball, a wrong key, an unsigned
//! release, extra files and path tricks are refused with a reason, never installed.

use owp_release::{Error, MANIFEST, Manifest, SIGNATURE, unpack_verified};

use crate::helpers::{keypair, package, rewrite_tarball, version};

fn refused(result: Result<(std::path::PathBuf, Manifest), Error>) -> String {
    match result {
        Err(Error::Refused { version, reason }) => format!("{version}: {reason}"),
        other => panic!("expected the release to be refused, got {other:?}"),
    }
}

#[test]
fn a_signed_release_installs_and_matches_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, _) = keypair(dir.path(), "release");
    let packaged = package(dir.path(), "v1", "exit 0", &secret);
    let releases = dir.path().join("releases");
    let (installed, manifest) =
        unpack_verified(&packaged.tarball, &releases, &version("v1"), &public).unwrap();
    assert_eq!(installed, releases.join("v1"));
    assert_eq!(manifest.git_commit, "0123456789abcdef");
    assert!(manifest.files.contains_key("bin/svc"));
    assert!(manifest.files.contains_key("systemd/owp-writepoint.service"), "the repository's units ship");
    assert!(manifest.files.contains_key("config/writepoint.toml"), "the default configuration ships");
    assert!(manifest.files.contains_key("migrations/0001_test.sql"), "migrations ship");
    assert_eq!(manifest.files["bin/svc"].mode, 0o755);
    // Installing again verifies the installed copy instead of unpacking twice.
    unpack_verified(&packaged.tarball, &releases, &version("v1"), &public).unwrap();
}

#[test]
fn a_tampered_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, _) = keypair(dir.path(), "release");
    let packaged = package(dir.path(), "v1", "echo good", &secret);
    let tampered = dir.path().join("tampered.tar.gz");
    rewrite_tarball(
        &packaged.tarball,
        &tampered,
        |name, bytes| Some(if name == "bin/svc" { b"#!/bin/sh\necho evil\n".to_vec() } else { bytes }),
        &[],
    );
    let releases = dir.path().join("releases");
    let reason = refused(unpack_verified(&tampered, &releases, &version("v1"), &public));
    assert!(reason.contains("bin/svc does not match the signed manifest"), "{reason}");
    assert!(!releases.join("v1").exists(), "a refused release must not be installed");
}

#[test]
fn an_edited_manifest_fails_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, _) = keypair(dir.path(), "release");
    let packaged = package(dir.path(), "v1", "echo good", &secret);
    let tampered = dir.path().join("tampered.tar.gz");
    // Change the file and its recorded hash together: only the signature can notice.
    let evil = b"#!/bin/sh\necho evil\n".to_vec();
    let evil_sha = hex_sha256(&evil);
    rewrite_tarball(
        &packaged.tarball,
        &tampered,
        |name, bytes| match name {
            "bin/svc" => Some(evil.clone()),
            MANIFEST => {
                let mut manifest = Manifest::from_json(&bytes).unwrap();
                let entry = manifest.files.get_mut("bin/svc").unwrap();
                entry.sha256 = evil_sha.clone();
                entry.size = evil.len() as u64;
                Some(manifest.to_json().unwrap())
            }
            _ => Some(bytes),
        },
        &[],
    );
    let reason = refused(unpack_verified(&tampered, &dir.path().join("releases"), &version("v1"), &public));
    assert!(reason.contains("signature check failed") && reason.contains("bad signature"), "{reason}");
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public, _) = keypair(dir.path(), "trusted");
    let (attacker, attacker_public, _) = keypair(dir.path(), "attacker");
    let packaged = package(dir.path(), "v1", "echo good", &attacker);
    let reason =
        refused(unpack_verified(&packaged.tarball, &dir.path().join("releases"), &version("v1"), &public));
    assert!(reason.contains(&format!("signed with key {}", attacker_public.key_id())), "{reason}");
    assert!(reason.contains(&public.key_id()), "{reason}");
}

#[test]
fn unsigned_extra_and_misnamed_releases_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public, _) = keypair(dir.path(), "release");
    let packaged = package(dir.path(), "v1", "echo good", &secret);
    let releases = dir.path().join("releases");

    let unsigned = dir.path().join("unsigned.tar.gz");
    rewrite_tarball(&packaged.tarball, &unsigned, |name, bytes| (name != SIGNATURE).then_some(bytes), &[]);
    let reason = refused(unpack_verified(&unsigned, &releases, &version("v1"), &public));
    assert!(reason.contains("unsigned"), "{reason}");

    let extra = dir.path().join("extra.tar.gz");
    rewrite_tarball(&packaged.tarball, &extra, |_, bytes| Some(bytes), &[("bin/backdoor", b"#!/bin/sh\n")]);
    let reason = refused(unpack_verified(&extra, &releases, &version("v1"), &public));
    assert!(reason.contains("bin/backdoor is not listed in the signed manifest"), "{reason}");

    // A genuine v1 offered as v2 (a replayed old release) is refused too.
    let reason = refused(unpack_verified(&packaged.tarball, &releases, &version("v2"), &public));
    assert!(reason.contains("is for version v1"), "{reason}");

    let garbage = dir.path().join("garbage.tar.gz");
    std::fs::write(&garbage, b"not a tarball").unwrap();
    let reason = refused(unpack_verified(&garbage, &releases, &version("v1"), &public));
    assert!(reason.contains("not a readable tar.gz"), "{reason}");
    assert!(std::fs::read_dir(&releases).unwrap().next().is_none(), "nothing may be left behind");
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
