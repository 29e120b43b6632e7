//! A request body at the write point: JSON parsing, the envelope rules, the item's schema and
//! session rule. Whatever the bytes, the answer is a submission or an error, never a panic; an
//! accepted document's command survives a round trip through JSON (what goes on the log).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use owp_protocol::{Command, Registry, SessionId};
use time::OffsetDateTime;

static REGISTRY: LazyLock<Registry> =
    LazyLock::new(|| Registry::embedded().expect("the embedded item schemas load"));

fuzz_target!(|data: &[u8]| {
    // The first byte decides whether the request carried a session, as a header would.
    let Some((&with_session, body)) = data.split_first() else { return };
    let Ok(document) = serde_json::from_slice(body) else { return };
    let session = (with_session & 1 == 1).then(SessionId::new_random);
    if let Ok(submission) = REGISTRY.parse_document(document, session, OffsetDateTime::UNIX_EPOCH) {
        let json = serde_json::to_vec(&submission.command).expect("a command serializes");
        let back: Command = serde_json::from_slice(&json).expect("a command reads back");
        assert_eq!(back, submission.command);
    }
});
