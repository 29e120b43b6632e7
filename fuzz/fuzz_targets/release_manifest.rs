//! What a deployer reads before it trusts anything: a release's `manifest.json` and the signed
//! `current` pointer. The first byte picks what the rest is: a manifest; a stored pointer as it
//! comes from the bucket (forged or garbled); or a pointer's JSON that this target signs with its
//! own key, so that the decision after the signature (environment, replay, downgrade, rollback)
//! is fuzzed too. Any bytes give a value or a reason, never a panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use owp_release::{
    Judging, Manifest, Pointer, PublicKey, SecretKey, SignedPointer, Version, generate_keypair, judge,
};

struct Keys {
    secret: SecretKey,
    public: PublicKey,
    accepted: Pointer,
    running: Version,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (secret_path, public_path) = (dir.path().join("fuzz.key"), dir.path().join("fuzz.pub"));
    let public = generate_keypair(&secret_path, &public_path).expect("a key pair");
    let secret = SecretKey::from_file(&secret_path, None).expect("the secret key reads back");
    let running: Version = "2026.12.01-1".parse().expect("a version");
    let accepted = Pointer {
        format: owp_release::POINTER_FORMAT,
        environment: "prod".into(),
        version: running.clone(),
        sequence: 1_764_547_200_000,
        signed_at: "2025-12-01T00:00:00Z".into(),
        sha256: "0".repeat(64),
        release_created_at: "2025-12-01T00:00:00Z".into(),
        rollback: false,
    };
    Keys { secret, public, accepted, running }
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let keys = &*KEYS;
    let judging = Judging {
        key: &keys.public,
        environment: "prod",
        accepted: Some(&keys.accepted),
        running: Some((&keys.running, "2025-12-01T00:00:00Z")),
    };
    match mode % 3 {
        0 => {
            if let Ok(manifest) = Manifest::from_json(rest) {
                let json = manifest.to_json().expect("a manifest serializes");
                assert_eq!(Manifest::from_json(&json).expect("and reads back"), manifest);
            }
        }
        1 => {
            // Nobody but the key's holder signs: stored bytes from elsewhere are refused.
            let refused = judge(rest, judging);
            assert!(refused.is_err() || SignedPointer::from_bytes(rest).is_ok());
        }
        _ => {
            let Ok(pointer) = serde_json::from_slice::<Pointer>(rest) else { return };
            let signed = SignedPointer::sign(&pointer, &keys.secret).expect("a pointer signs");
            let bytes = signed.to_bytes().expect("a signed pointer serializes");
            if let Ok(accepted) = judge(&bytes, judging) {
                assert_eq!(accepted, pointer);
                assert_eq!(accepted.environment, "prod");
                assert!(accepted.sequence > keys.accepted.sequence || accepted == keys.accepted);
            }
        }
    }
});
