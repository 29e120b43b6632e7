//! The notification the translator sends after each batch, naming the keys it wrote, so that the
//! read point wakes exactly the requests waiting for them. PostgreSQL `NOTIFY` on
//! [`READ_CHANNEL`]; a payload is the collection's name and its keys, tab-separated, and a batch
//! with many keys sends several payloads, each under PostgreSQL's 8,000-byte limit.

use crate::CollectionName;

/// The PostgreSQL channel the translator notifies and the read point listens on.
pub const READ_CHANNEL: &str = "owp_read";

/// Room left in a payload for one more key; PostgreSQL refuses payloads of 8,000 bytes or more.
const PAYLOAD_BUDGET: usize = 7000;

/// The payloads naming `keys` of `collection`: none for no keys.
pub fn payloads<'a>(collection: &CollectionName, keys: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = collection.to_string();
    for key in keys {
        if current.len() + key.len() + 1 > PAYLOAD_BUDGET && current.len() > collection.as_str().len() {
            payloads.push(std::mem::replace(&mut current, collection.to_string()));
        }
        current.push('\t');
        current.push_str(key);
    }
    if current.len() > collection.as_str().len() {
        payloads.push(current);
    }
    payloads
}

/// The collection and keys a payload names; `None` for an empty payload.
pub fn parse(payload: &str) -> Option<(&str, impl Iterator<Item = &str>)> {
    let mut parts = payload.split('\t');
    let collection = parts.next().filter(|c| !c.is_empty())?;
    Some((collection, parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_stay_small_and_name_every_key() {
        let name = CollectionName::parse("messages").unwrap();
        let keys: Vec<String> = (0..1000).map(|i| format!("{i:036}")).collect();
        let sent = payloads(&name, keys.iter().map(String::as_str));
        assert!(sent.len() > 1);
        let mut received = Vec::new();
        for payload in &sent {
            assert!(payload.len() < 8000);
            let (collection, keys) = parse(payload).unwrap();
            assert_eq!(collection, "messages");
            received.extend(keys.map(str::to_owned));
        }
        assert_eq!(received, keys);
        assert!(payloads(&name, []).is_empty());
        assert!(parse("").is_none());
    }
}
