//! A listing cursor as a client sends it back: `<listing context>\n<cursor>`. Only a cursor this
//! key signed for this context opens; whatever opens (or decodes) survives a round trip, and a
//! cursor signed for one listing never opens for another.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use owp_collections::{Cursor, CursorKey};

static KEY: LazyLock<CursorKey> =
    LazyLock::new(|| CursorKey::from_setting("owp fuzz cursor key: 32+ bytes long").expect("a long key"));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (context, cursor) = text.split_once('\n').unwrap_or(("businesses?sort=name", text));
    if let Ok(opened) = KEY.open(context, cursor) {
        let again = KEY.sign(context, &opened.encode());
        assert_eq!(KEY.open(context, &again).as_ref(), Ok(&opened));
        assert!(KEY.open(&format!("{context}!"), cursor).is_err());
    }
    if let Ok(decoded) = Cursor::decode(cursor) {
        let signed = KEY.sign(context, &decoded.encode());
        assert_eq!(KEY.open(context, &signed), Ok(decoded));
    }
});
