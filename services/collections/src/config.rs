//! The translator's configuration file: a list of entries, each one SQL query whose rows are
//! merged, around a key column, into the documents of one collection.
//!
//! ```toml
//! [[entries]]
//! collection_name = "businesses"
//! key_to_denormalize_upon = "business_id"
//! sql = "SELECT business_id, name FROM businesses"
//!
//! [[entries]]
//! collection_name = "businesses"
//! key_to_denormalize_upon = "business_id"
//! sql = "SELECT business_id, url FROM business_websites"
//! array_field = "websites"   # optional: always an array, even of one row
//! visibility = "public"      # who the read point serves it to (below)
//! sortable = ["name"]        # optional: fields listings may sort by (besides the key)
//! ```
//!
//! Every collection declares who may read it (on any of its entries; entries that repeat it must
//! agree): `public` (anyone), `owner` with `owner_field` naming the top-level field that holds the
//! owner's user id (only that user's live session reads or lists it; anyone else finds nothing),
//! or `private` (never served as a collection; the read point may still use it for its own
//! answers). There is no default: a collection nobody thought about must not end up public.
//!
//! This module checks the shape of the file; the translator then checks each entry against
//! PostgreSQL. Both report the file, the entry and the reason.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

use crate::{CollectionName, Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntryConfig {
    pub sql: String,
    pub key_to_denormalize_upon: String,
    pub collection_name: String,
    /// Put this entry's rows in an array field of this name (the default puts one row's columns
    /// at the top level, and several rows in an array named after the entry's first table).
    #[serde(default)]
    pub array_field: Option<String>,
    /// Who may read the collection; not part of the collection's fingerprint, as a change of
    /// who may read it changes no document.
    #[serde(default, skip_serializing)]
    pub visibility: Option<VisibilityName>,
    /// With `visibility = "owner"`: the top-level field holding the owner's user id.
    #[serde(default, skip_serializing)]
    pub owner_field: Option<String>,
    /// Top-level fields a listing may be sorted by (`sort=field` or `-field`); the key always.
    #[serde(default, skip_serializing)]
    pub sortable: Vec<String>,
}

/// The values `visibility` takes in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VisibilityName {
    Public,
    Owner,
    Private,
}

/// Who the read point serves a collection to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    Public,
    /// Only to the user whose id is in this top-level field.
    Owner {
        field: String,
    },
    Private,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    entries: Vec<EntryConfig>,
}

/// One entry, with where it came from for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `entries[2]`, as a person finds it in the file.
    pub label: String,
    pub collection: CollectionName,
    pub config: EntryConfig,
}

/// A parsed file: entries grouped by collection, in file order.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub collections: BTreeMap<CollectionName, Vec<Entry>>,
    /// Who may read each collection.
    pub visibility: BTreeMap<CollectionName, Visibility>,
    /// The fields each collection's listings may be sorted by (the union of its entries').
    pub sortable: BTreeMap<CollectionName, BTreeSet<String>>,
    /// Of the file's bytes; tells a changed file from a touched one.
    pub content_hash: String,
}

/// A short fingerprint of `bytes` (the file's, or a collection's canonical entries).
pub fn hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..12])
}

fn plain_identifier(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Config {
    pub fn load(file: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(file)
            .map_err(|source| Error::ConfigRead { file: file.to_owned(), source })?;
        Self::parse(file, &text)
    }

    pub fn parse(file: &Path, text: &str) -> Result<Self> {
        let fail = |entry: &str, reason: String| Error::Config {
            file: file.to_owned(),
            entry: entry.into(),
            reason,
        };
        let parsed: FileConfig =
            toml::from_str(text).map_err(|err| fail("(file)", err.message().to_owned()))?;
        let mut collections: BTreeMap<CollectionName, Vec<Entry>> = BTreeMap::new();
        for (i, config) in parsed.entries.into_iter().enumerate() {
            let label = format!("entries[{i}] (collection {:?})", config.collection_name);
            let collection = CollectionName::parse(&config.collection_name)
                .map_err(|err| fail(&label, format!("collection_name: {err}")))?;
            if !plain_identifier(&config.key_to_denormalize_upon) {
                return Err(fail(
                    &label,
                    "key_to_denormalize_upon must be a column name (letters, digits, _)".into(),
                ));
            }
            if config.sql.trim().is_empty() {
                return Err(fail(&label, "sql is empty".into()));
            }
            if config.sql.contains(';') {
                return Err(fail(&label, "sql must be one SELECT without `;`".into()));
            }
            if let Some(field) = &config.array_field
                && !plain_identifier(field)
            {
                return Err(fail(
                    &label,
                    "array_field must be a plain field name (letters, digits, _)".into(),
                ));
            }
            let entries = collections.entry(collection.clone()).or_default();
            if let Some(first) = entries.first()
                && first.config.key_to_denormalize_upon != config.key_to_denormalize_upon
            {
                return Err(fail(
                    &label,
                    format!(
                        "every entry of collection {collection} must use the same key_to_denormalize_upon; {} uses {:?}",
                        first.label, first.config.key_to_denormalize_upon
                    ),
                ));
            }
            entries.push(Entry { label, collection, config });
        }
        if collections.is_empty() {
            return Err(fail("(file)", "no [[entries]]: nothing to translate".into()));
        }
        let mut visibility = BTreeMap::new();
        let mut sortable: BTreeMap<CollectionName, BTreeSet<String>> = BTreeMap::new();
        for (collection, entries) in &collections {
            for entry in entries {
                if let Some(field) = entry.config.sortable.iter().find(|f| !plain_identifier(f)) {
                    return Err(fail(
                        &entry.label,
                        format!("sortable: {field:?} is not a plain field name (letters, digits, _)"),
                    ));
                }
                sortable.entry(collection.clone()).or_default().extend(entry.config.sortable.iter().cloned());
            }
            visibility.insert(
                collection.clone(),
                collection_visibility(collection, entries).map_err(|(label, reason)| fail(&label, reason))?,
            );
        }
        Ok(Self {
            file: file.to_owned(),
            collections,
            visibility,
            sortable,
            content_hash: hash(text.as_bytes()),
        })
    }

    /// Who may read `collection`; `None` for a collection the file does not define.
    pub fn visibility_of(&self, collection: &CollectionName) -> Option<&Visibility> {
        self.visibility.get(collection)
    }
}

/// The one visibility a collection's entries declare, or the entry and reason it is refused.
fn collection_visibility(
    collection: &CollectionName,
    entries: &[Entry],
) -> std::result::Result<Visibility, (String, String)> {
    let mut found: Option<(&Entry, Visibility)> = None;
    for entry in entries {
        let config = &entry.config;
        let declared = match (config.visibility, &config.owner_field) {
            (None, None) => continue,
            (None, Some(_)) => {
                return Err((entry.label.clone(), "owner_field needs visibility = \"owner\"".into()));
            }
            (Some(VisibilityName::Owner), Some(field)) if plain_identifier(field) => {
                Visibility::Owner { field: field.clone() }
            }
            (Some(VisibilityName::Owner), Some(_)) => {
                return Err((
                    entry.label.clone(),
                    "owner_field must be a plain field name (letters, digits, _)".into(),
                ));
            }
            (Some(VisibilityName::Owner), None) => {
                return Err((
                    entry.label.clone(),
                    "visibility = \"owner\" needs owner_field, the field holding the owner's user id".into(),
                ));
            }
            (Some(_), Some(_)) => {
                return Err((entry.label.clone(), "owner_field is only for visibility = \"owner\"".into()));
            }
            (Some(VisibilityName::Public), None) => Visibility::Public,
            (Some(VisibilityName::Private), None) => Visibility::Private,
        };
        match &found {
            Some((first, earlier)) if *earlier != declared => {
                return Err((
                    entry.label.clone(),
                    format!(
                        "collection {collection} is declared {earlier:?} by {}; its entries must agree",
                        first.label
                    ),
                ));
            }
            Some(_) => {}
            None => found = Some((entry, declared)),
        }
    }
    found.map(|(_, visibility)| visibility).ok_or_else(|| {
        (
            entries.first().map(|e| e.label.clone()).unwrap_or_default(),
            format!(
                "collection {collection} declares no visibility: add visibility = \"public\", \"owner\" (with owner_field) or \"private\""
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("translator.toml"), text)
    }

    const TWO: &str = r#"
        [[entries]]
        collection_name = "businesses"
        key_to_denormalize_upon = "business_id"
        sql = "SELECT business_id, name FROM businesses"
        visibility = "public"

        [[entries]]
        collection_name = "businesses"
        key_to_denormalize_upon = "business_id"
        sql = "SELECT business_id, url FROM websites"
        array_field = "websites"
    "#;

    #[test]
    fn entries_group_by_collection_in_file_order() {
        let config = parse(TWO).unwrap();
        let entries = &config.collections[&CollectionName::parse("businesses").unwrap()];
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].config.array_field.as_deref(), Some("websites"));
        assert_eq!(entries[1].label, "entries[1] (collection \"businesses\")");
    }

    #[test]
    fn errors_name_the_file_the_entry_and_the_reason() {
        let cases = [
            (
                "[[entries]]\ncollection_name = \"Bad Name\"\nkey_to_denormalize_upon = \"id\"\nsql = \"SELECT 1 AS id\"",
                "collection_name",
            ),
            (
                "[[entries]]\ncollection_name = \"a\"\nkey_to_denormalize_upon = \"id; drop\"\nsql = \"SELECT 1 AS id\"",
                "key_to_denormalize_upon",
            ),
            (
                "[[entries]]\ncollection_name = \"a\"\nkey_to_denormalize_upon = \"id\"\nsql = \"SELECT 1 AS id; DELETE FROM x\"",
                "one SELECT",
            ),
            ("[[entries]]\ncollection_name = \"a\"\nkey_to_denormalize_upon = \"id\"", "missing field `sql`"),
            (
                "[[entries]]\ncollection_name = \"a\"\nkey_to_denormalize_upon = \"id\"\nsql = \"SELECT 1 AS id\"\nsqll = 1",
                "unknown field",
            ),
            ("", "no [[entries]]"),
            (
                "[[entries]]\ncollection_name = \"a\"\nkey_to_denormalize_upon = \"id\"\nsql = \"SELECT 1 AS id\"",
                "declares no visibility",
            ),
            (
                "[[entries]]\ncollection_name = \"a\"\nkey_to_denormalize_upon = \"id\"\nsql = \"SELECT 1 AS id\"\nvisibility = \"owner\"",
                "needs owner_field",
            ),
            (
                "[[entries]]\ncollection_name = \"a\"\nkey_to_denormalize_upon = \"id\"\nsql = \"SELECT 1 AS id\"\nvisibility = \"everyone\"",
                "unknown variant",
            ),
        ];
        for (text, reason) in cases {
            let message = parse(text).unwrap_err().to_string();
            assert!(message.starts_with("translator.toml: "), "{message}");
            assert!(message.contains(reason), "{message:?} should say {reason:?}");
        }
        let mixed = format!(
            "{TWO}\n[[entries]]\ncollection_name = \"businesses\"\nkey_to_denormalize_upon = \"other\"\nsql = \"SELECT 1 AS other\""
        );
        let message = parse(&mixed).unwrap_err().to_string();
        assert!(
            message.contains("entries[2]") && message.contains("same key_to_denormalize_upon"),
            "{message}"
        );
    }

    #[test]
    fn each_collection_has_one_declared_visibility() {
        let text = format!(
            "{TWO}\n[[entries]]\ncollection_name = \"pages\"\nkey_to_denormalize_upon = \"user_id\"\nsql = \"SELECT 1 AS user_id\"\nvisibility = \"owner\"\nowner_field = \"user_id\""
        );
        let config = parse(&text).unwrap();
        let name = |n| CollectionName::parse(n).unwrap();
        assert_eq!(config.visibility_of(&name("businesses")), Some(&Visibility::Public));
        assert_eq!(
            config.visibility_of(&name("pages")),
            Some(&Visibility::Owner { field: "user_id".into() })
        );
        assert_eq!(config.visibility_of(&name("elsewhere")), None);
        let disagreeing = TWO.replacen(
            "array_field = \"websites\"",
            "array_field = \"websites\"\nvisibility = \"private\"",
            1,
        );
        let message = parse(&disagreeing).unwrap_err().to_string();
        assert!(message.contains("entries[1]") && message.contains("must agree"), "{message}");
    }
}
