//! Listing cursors the read point hands out, signed so that it can refuse one it did not: a
//! cursor carries a sort value and a key that the read store turns into a query, and a crafted
//! one must never reach it. The signature also binds a cursor to the listing it came from (the
//! collection and its order), so one cannot be replayed against another.
//!
//! The key comes from `OWP_CURSOR_KEY`; without one it is derived from the database credentials,
//! which every read point of a deployment shares and nobody outside it knows, so cursors work
//! across the instances behind one load balancer with no secret of their own to distribute (and
//! a password rotation also rotates the cursor key: cursors are short-lived).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::{Error, Result};

/// Where the next page of a listing starts: the last item's sort value and key. Clients see it
/// only signed ([`CursorKey`]), as one opaque string.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub sort_value: Value,
    pub key: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = serde_json::to_vec(&(&self.sort_value, &self.key)).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(text: &str) -> Result<Self> {
        let raw =
            URL_SAFE_NO_PAD.decode(text).map_err(|_| Error::Cursor("not a cursor from this API".into()))?;
        let (sort_value, key): (Value, String) =
            serde_json::from_slice(&raw).map_err(|_| Error::Cursor("not a cursor from this API".into()))?;
        Ok(Self { sort_value, key })
    }
}

/// The secret cursors are signed with; its `Debug` never shows it.
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(redacted)")
    }
}

/// The shortest key accepted: HMAC-SHA256's own block of security.
const MIN_KEY_BYTES: usize = 32;

impl CursorKey {
    /// A key from configuration.
    pub fn from_setting(configured: &str) -> std::result::Result<Self, String> {
        if configured.len() >= MIN_KEY_BYTES {
            Ok(Self(configured.as_bytes().to_vec()))
        } else {
            Err(format!("OWP_CURSOR_KEY must be at least {MIN_KEY_BYTES} characters"))
        }
    }

    /// A key derived from a secret the deployment's read points share (the database URL).
    pub fn derived_from(secret: &str) -> Self {
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
        Self(mac.chain_update(b"owp listing cursor key v1").finalize().into_bytes().to_vec())
    }

    fn mac(&self, context: &str, cursor: &str) -> Hmac<Sha256> {
        // A key of any length is accepted by HMAC; the error case cannot happen.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(cursor.as_bytes());
        mac
    }

    /// `cursor` (as the store encoded it) with its signature for `context`.
    pub fn sign(&self, context: &str, cursor: &str) -> String {
        let tag = self.mac(context, cursor).finalize().into_bytes();
        format!("{cursor}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The cursor inside `text` if this key signed it for `context`; compared in constant time.
    pub fn open(&self, context: &str, text: &str) -> std::result::Result<Cursor, &'static str> {
        const FORGED: &str = "not a cursor this API handed out for this listing";
        let (cursor, tag) = text.rsplit_once('.').ok_or(FORGED)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| FORGED)?;
        self.mac(context, cursor).verify_slice(&tag).map_err(|_| FORGED)?;
        Cursor::decode(cursor).map_err(|_| FORGED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = Cursor { sort_value: serde_json::json!("2026-01-01"), key: "k1".into() };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(Cursor::decode("not base64 !").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode(b"[1]")).is_err());
    }

    #[test]
    fn only_a_cursor_signed_here_for_this_listing_opens() {
        let key = CursorKey::from_setting(&"k".repeat(32)).unwrap();
        let inner = Cursor { sort_value: serde_json::json!("2026-01-01"), key: "k1".into() };
        let signed = key.sign("businesses?sort=name", &inner.encode());
        assert_eq!(key.open("businesses?sort=name", &signed).unwrap(), inner);
        // Another listing, another key, a changed or unsigned cursor: refused.
        assert!(key.open("profiles?sort=name", &signed).is_err());
        let other = CursorKey::derived_from("postgres://owp:secret@db/owp");
        assert!(other.open("businesses?sort=name", &signed).is_err());
        // Instances sharing the database credentials share the derived key; others do not.
        let shared = other.sign("businesses?sort=name", &inner.encode());
        let same = CursorKey::derived_from("postgres://owp:secret@db/owp");
        assert_eq!(same.open("businesses?sort=name", &shared).unwrap(), inner);
        let elsewhere = CursorKey::derived_from("postgres://owp:other@db/owp");
        assert!(elsewhere.open("businesses?sort=name", &shared).is_err());
        let forged = Cursor { sort_value: serde_json::json!("9999"), key: "k1".into() }.encode();
        let (_, tag) = signed.rsplit_once('.').unwrap();
        assert!(key.open("businesses?sort=name", &format!("{forged}.{tag}")).is_err());
        assert!(key.open("businesses?sort=name", &inner.encode()).is_err());
        assert!(key.open("businesses?sort=name", "").is_err());
        assert!(CursorKey::from_setting("short").is_err());
        assert!(!format!("{key:?}").contains('k'.to_string().repeat(32).as_str()));
    }
}
