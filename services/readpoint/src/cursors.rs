//! Listing cursors the read point hands out, signed so that it can refuse one it did not: a
//! cursor carries a sort value and a key that the read store turns into a query, and a crafted
//! one must never reach it. The signature also binds a cursor to the listing it came from (the
//! collection and its order), so one cannot be replayed against another.
//!
//! The key comes from `OWP_CURSOR_KEY`, the same on every instance behind a load balancer; without
//! one, each process makes its own and its cursors work only with it (fine on one machine).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use owp_readstore::Cursor;
use sha2::Sha256;

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
    /// A key from configuration, or a random one for this process.
    pub fn from_setting(configured: Option<&str>) -> Result<Self, String> {
        match configured {
            Some(text) if text.len() >= MIN_KEY_BYTES => Ok(Self(text.as_bytes().to_vec())),
            Some(_) => Err(format!("OWP_CURSOR_KEY must be at least {MIN_KEY_BYTES} characters")),
            None => {
                tracing::info!("no OWP_CURSOR_KEY: this process signs its cursors with a key of its own");
                Ok(Self(rand::random::<[u8; 32]>().to_vec()))
            }
        }
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
    pub fn open(&self, context: &str, text: &str) -> Result<Cursor, &'static str> {
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
    fn only_a_cursor_signed_here_for_this_listing_opens() {
        let key = CursorKey::from_setting(Some(&"k".repeat(32))).unwrap();
        let inner = Cursor { sort_value: serde_json::json!("2026-01-01"), key: "k1".into() };
        let signed = key.sign("businesses?sort=name", &inner.encode());
        assert_eq!(key.open("businesses?sort=name", &signed).unwrap(), inner);
        // Another listing, another key, a changed or unsigned cursor: refused.
        assert!(key.open("profiles?sort=name", &signed).is_err());
        let other = CursorKey::from_setting(None).unwrap();
        assert!(other.open("businesses?sort=name", &signed).is_err());
        let forged = Cursor { sort_value: serde_json::json!("9999"), key: "k1".into() }.encode();
        let (_, tag) = signed.rsplit_once('.').unwrap();
        assert!(key.open("businesses?sort=name", &format!("{forged}.{tag}")).is_err());
        assert!(key.open("businesses?sort=name", &inner.encode()).is_err());
        assert!(key.open("businesses?sort=name", "").is_err());
        assert!(CursorKey::from_setting(Some("short")).is_err());
        assert!(!format!("{key:?}").contains('k'.to_string().repeat(32).as_str()));
    }
}
