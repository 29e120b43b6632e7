//! A release tarball as the deployer downloads it: read for its manifest, and unpacked and
//! verified. The first byte picks whether the rest is the `.tar.gz` itself or a plain tar that
//! this target compresses (so that the fuzzer mutates tar headers, not gzip's checksum). Every
//! tarball is installed or refused with an error, never a panic, and nothing is ever written
//! outside the releases directory.
#![no_main]

use std::{io::Write, path::Path, sync::LazyLock};

use flate2::{Compression, write::GzEncoder};
use libfuzzer_sys::fuzz_target;
use owp_release::{PublicKey, Version, generate_keypair, read_manifest_from_tarball, unpack_verified};

static KEY: LazyLock<PublicKey> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    generate_keypair(&dir.path().join("fuzz.key"), &dir.path().join("fuzz.pub")).expect("a key pair")
});

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            out.push(entry.path());
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let tarball = dir.path().join("owp-1.0.0.tar.gz");
    let bytes = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(rest).expect("in memory");
        gz.finish().expect("in memory")
    };
    std::fs::write(&tarball, bytes).expect("a temporary file");
    let _ = read_manifest_from_tarball(&tarball);

    let outside = dir.path().join("outside");
    let releases = outside.join("releases");
    std::fs::create_dir_all(&releases).expect("a releases directory");
    let version: Version = "1.0.0".parse().expect("a version");
    // Signed by another key (or not at all): never installed.
    assert!(unpack_verified(&tarball, &releases, &version, &KEY).is_err());
    assert!(
        files_under(&releases).is_empty(),
        "an unverified release (or its staging) was left: {:?}",
        files_under(&releases)
    );
    assert_eq!(files_under(&outside), vec![releases.clone()], "something was written beside the releases");
});
