//! The release signing keys, in minisign's own file formats so that `minisign -V` can check a
//! release by hand: the secret key signs manifests in CI, the public key is configured on every
//! deployer.

use std::{
    io::Cursor,
    path::{Path, PathBuf},
};

use crate::{Error, Result};

/// A public key that release signatures are checked against.
#[derive(Clone)]
pub struct PublicKey {
    pub(crate) key: minisign::PublicKey,
    /// Where it came from, for error messages.
    pub(crate) origin: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({}, key id {})", self.origin, self.key_id())
    }
}

impl PublicKey {
    /// Reads a minisign public key file (`untrusted comment:` line and the key) or a file that
    /// holds only the base64 key line.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| key_error(path, format!("cannot read the public key: {err}")))?;
        Self::parse(&text, path.display().to_string()).map_err(|message| key_error(path, message))
    }

    /// Parses the key from text, in either of the forms [`PublicKey::from_file`] accepts.
    pub fn parse(text: &str, origin: String) -> Result<Self, String> {
        let text = text.trim();
        let key = if text.starts_with("untrusted comment:") {
            minisign::PublicKeyBox::from_string(text).and_then(|boxed| boxed.into_public_key())
        } else {
            minisign::PublicKey::from_base64(text)
        }
        .map_err(|err| format!("not a minisign public key: {err}"))?;
        Ok(Self { key, origin })
    }

    /// The minisign key id, as `minisign` prints it.
    pub fn key_id(&self) -> String {
        key_id(self.key.keynum())
    }

    /// The key as minisign's two-line public key file.
    pub fn to_file_text(&self) -> Result<String> {
        self.key
            .to_box()
            .map(|boxed| boxed.into_string())
            .map_err(|err| Error::Key { path: PathBuf::from(&self.origin), message: err.to_string() })
    }

    /// Checks `signature` (minisign format) over `data`.
    pub fn verify(&self, data: &[u8], signature: &str) -> Result<String, String> {
        let boxed = minisign::SignatureBox::from_string(signature)
            .map_err(|err| format!("the signature is not in minisign format: {err}"))?;
        check_global_signature(signature)?;
        let signed_by = key_id(boxed.keynum());
        if boxed.keynum() != self.key.keynum() {
            return Err(format!(
                "signed with key {signed_by}, but the configured public key ({}) is {}",
                self.origin,
                self.key_id()
            ));
        }
        // Legacy (non-prehashed) signatures are refused: every OWP release is signed prehashed.
        minisign::verify(&self.key, &boxed, Cursor::new(data), true, false, false)
            .map_err(|err| format!("bad signature for key {signed_by}: {err}"))?;
        boxed.trusted_comment().map_err(|err| format!("unreadable trusted comment: {err}"))
    }
}

/// A secret key that signs release manifests (CI holds it; deployers never do).
pub struct SecretKey {
    key: minisign::SecretKey,
    public: Option<minisign::PublicKey>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// Reads a minisign secret key file; `password` decrypts an encrypted one.
    pub fn from_file(path: &Path, password: Option<String>) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| key_error(path, format!("cannot read the secret key: {err}")))?;
        let boxed = minisign::SecretKeyBox::from_string(&text)
            .map_err(|err| key_error(path, format!("not a minisign secret key: {err}")))?;
        let key = match password {
            Some(password) => boxed.into_secret_key(Some(password)),
            None => boxed.into_unencrypted_secret_key(),
        }
        .map_err(|err| {
            key_error(path, format!("cannot open the secret key (encrypted keys need a password): {err}"))
        })?;
        let public = minisign::PublicKey::from_secret_key(&key).ok();
        Ok(Self { key, public })
    }

    /// The public half, so that whoever signs a pointer can first check that the release it
    /// names was signed by the same key.
    pub fn public_key(&self) -> Result<PublicKey> {
        let key = self.public.clone().ok_or_else(|| Error::Key {
            path: PathBuf::from("(secret key)"),
            message: "the public half cannot be derived from this secret key".into(),
        })?;
        Ok(PublicKey { key, origin: "the public half of the signing key".into() })
    }

    /// Signs `data`, with `trusted_comment` signed along with it.
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<String> {
        minisign::sign(self.public.as_ref(), &self.key, Cursor::new(data), Some(trusted_comment), None)
            .map(|signature| signature.into_string())
            .map_err(|err| Error::Package(format!("cannot sign: {err}")))
    }
}

/// Writes a new unencrypted key pair in minisign's file formats; refuses to overwrite either file.
pub fn generate_keypair(secret_path: &Path, public_path: &Path) -> Result<PublicKey> {
    for path in [secret_path, public_path] {
        if path.exists() {
            return Err(key_error(path, "already exists; refusing to overwrite a key".into()));
        }
    }
    let pair = minisign::KeyPair::generate_unencrypted_keypair()
        .map_err(|err| key_error(secret_path, format!("cannot generate a key pair: {err}")))?;
    let secret = pair
        .sk
        .to_box(Some("OWP release signing key"))
        .map_err(|err| key_error(secret_path, err.to_string()))?
        .into_string();
    let public = PublicKey { key: pair.pk, origin: public_path.display().to_string() };
    write_new(secret_path, secret.as_bytes(), 0o600)?;
    write_new(public_path, public.to_file_text()?.as_bytes(), 0o644)?;
    Ok(public)
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|err| key_error(path, format!("cannot create: {err}")))?;
    file.write_all(contents).map_err(|err| key_error(path, format!("cannot write: {err}")))
}

/// minisign 0.10 slices the signature over the trusted comment (the fourth line) as 64 bytes
/// without checking its length, so a valid signature with that line cut short would panic in
/// `minisign::verify`; it is checked here first, on the line `SignatureBox::from_string` read.
fn check_global_signature(signature: &str) -> Result<(), String> {
    use base64::Engine;
    let line = signature.lines().nth(3).unwrap_or_default().trim();
    let length = base64::engine::general_purpose::STANDARD.decode(line).map_or(0, |bytes| bytes.len());
    if length != 64 {
        return Err(format!(
            "the signature is not in minisign format: the trusted comment's signature is {length} bytes, not 64"
        ));
    }
    Ok(())
}

fn key_id(keynum: &[u8]) -> String {
    // minisign prints the little-endian key number in upper-case hex.
    keynum.iter().rev().map(|b| format!("{b:02X}")).collect()
}

fn key_error(path: &Path, message: String) -> Error {
    Error::Key { path: path.to_owned(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_checks_out_only_under_its_own_key() {
        let dir = tempfile::tempdir().unwrap();
        let (secret, public) = (dir.path().join("k.key"), dir.path().join("k.pub"));
        let public_key = generate_keypair(&secret, &public).unwrap();
        let secret_key = SecretKey::from_file(&secret, None).unwrap();
        let signature = secret_key.sign(b"manifest", "owp release v1").unwrap();
        assert_eq!(public_key.verify(b"manifest", &signature).unwrap(), "owp release v1");
        assert!(public_key.verify(b"manifest!", &signature).unwrap_err().contains("bad signature"));

        let other = generate_keypair(&dir.path().join("o.key"), &dir.path().join("o.pub")).unwrap();
        let err = other.verify(b"manifest", &signature).unwrap_err();
        assert!(err.contains(&public_key.key_id()) && err.contains(&other.key_id()), "{err}");

        // The public key file round-trips, in both accepted forms.
        let loaded = PublicKey::from_file(&public).unwrap();
        assert_eq!(loaded.key_id(), public_key.key_id());
        let base64_line = std::fs::read_to_string(&public).unwrap().lines().nth(1).unwrap().to_owned();
        assert_eq!(PublicKey::parse(&base64_line, "line".into()).unwrap().key_id(), public_key.key_id());
        assert!(generate_keypair(&secret, &dir.path().join("x.pub")).is_err(), "must not overwrite");
    }

    #[test]
    fn a_short_global_signature_is_refused_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let (secret, public) = (dir.path().join("k.key"), dir.path().join("k.pub"));
        let public_key = generate_keypair(&secret, &public).unwrap();
        let signature = SecretKey::from_file(&secret, None).unwrap().sign(b"pointer", "owp pointer").unwrap();
        // The data signature still checks out; only the signature over the trusted comment (the
        // fourth line) is cut short, to 48 bytes and to none.
        let mut lines: Vec<String> = signature.lines().map(str::to_owned).collect();
        for short in [lines[3][..64].to_owned(), String::new()] {
            lines[3] = short;
            let err = public_key.verify(b"pointer", &lines.join("\n")).unwrap_err();
            assert!(err.contains("not in minisign format"), "{err}");
        }
    }
}
