//! A configuration checked against PostgreSQL and turned into the SQL the translator runs.
//!
//! For each entry, at load:
//! - the query must prepare, and its columns must include the key column;
//! - the tables it reads are found with `EXPLAIN (VERBOSE)`, and each must be followed by change
//!   capture (the capture triggers, see capture), or its changes would never reach a document;
//! - three statements are derived and prepared: the entry's rows for a set of keys (incremental
//!   updates and rebuild chunks), all its keys (rebuild), and, per table it reads, the keys a set of
//!   changed rows of that table affects (below).
//!
//! Which documents does a changed row affect? The entry's own query answers it: run it with the
//! changed table replaced by just the changed rows (their before and after images), by naming a
//! CTE after the table, which shadows it. The keys it returns are the documents to rebuild. This
//! holds for any query shape the entry uses (joins, filters, aggregates) as long as it names its
//! tables without a schema and does not join a table with itself.

use std::collections::{BTreeMap, BTreeSet};

use owp_readstore::CollectionName;
use serde_json::Value;
use sqlx::{Column, Executor, PgConnection, TypeInfo};

use crate::{
    Error, Result,
    config::{Config, Entry},
};

/// One entry, ready to run.
#[derive(Debug, Clone)]
pub struct EntryPlan {
    pub label: String,
    pub key: String,
    /// Where several rows for one key go; `always` when the config asked for an array.
    pub array_field: String,
    pub always_array: bool,
    /// Tables the query reads (unqualified names).
    pub sources: BTreeSet<String>,
    /// `$1`: keys as text. Returns `(key text, row jsonb)`.
    pub rows_sql: String,
    /// Returns every key, as text.
    pub keys_sql: String,
    /// Per source table; `$1`: a JSON array of that table's rows. Returns affected keys as text.
    pub delta_sql: BTreeMap<String, String>,
    /// The entry's query as configured, and the SQL type of its key column.
    sql: String,
    key_type: String,
}

impl EntryPlan {
    /// [`EntryPlan::rows_sql`] with its keys in parameter `$n`, to be one part of a statement
    /// that reads several entries at once.
    pub fn rows_sql_at(&self, n: usize) -> String {
        rows_sql(&self.sql, &self.key, &self.key_type, n)
    }

    /// [`EntryPlan::delta_sql`] of `table` with the changed rows in parameter `$n`; `None` when
    /// the entry does not read `table`.
    pub fn delta_sql_at(&self, table: &str, n: usize) -> Option<String> {
        self.sources.contains(table).then(|| delta_sql(&self.sql, &self.key, table, n))
    }
}

fn rows_sql(sql: &str, key: &str, key_type: &str, n: usize) -> String {
    let k = quote(key);
    format!("SELECT e.{k}::text, to_jsonb(e) FROM ({sql}) AS e WHERE e.{k} = ANY(${n}::text[]::{key_type}[])")
}

fn delta_sql(sql: &str, key: &str, table: &str, n: usize) -> String {
    let (k, t) = (quote(key), quote(table));
    format!(
        "WITH {t} AS (SELECT * FROM jsonb_populate_recordset(NULL::{t}, ${n}::jsonb)) \
         SELECT DISTINCT e.{k}::text FROM ({sql}) AS e WHERE e.{k} IS NOT NULL"
    )
}

#[derive(Debug, Clone)]
pub struct CollectionPlan {
    pub name: CollectionName,
    pub hash: String,
    pub entries: Vec<EntryPlan>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub config: Config,
    pub collections: BTreeMap<CollectionName, CollectionPlan>,
}

impl Plan {
    /// Checks every entry of `config` against the database `conn` points at (its search_path
    /// names the projection schema).
    pub async fn check(conn: &mut PgConnection, config: Config) -> Result<Self> {
        let followed = followed_tables(conn).await?;
        let mut collections = BTreeMap::new();
        for (name, entries) in &config.collections {
            let mut plans = Vec::new();
            for entry in entries {
                plans.push(plan_entry(conn, &config, entry, &followed).await?);
            }
            let plan = CollectionPlan { name: name.clone(), hash: collection_hash(entries), entries: plans };
            collections.insert(name.clone(), plan);
        }
        Ok(Self { config, collections })
    }
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Tables of the current schema that carry the capture triggers.
async fn followed_tables(conn: &mut PgConnection) -> Result<BTreeSet<String>> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT c.relname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         WHERE t.tgname = 'translator_capture_insert' AND c.relnamespace = current_schema()::regnamespace",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|source| Error::Database {
        context: "cannot list the tables change capture follows".into(),
        source,
    })?;
    Ok(rows.into_iter().collect())
}

fn relations(plan: &Value, out: &mut BTreeSet<String>) {
    match plan {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("Relation Name") {
                out.insert(name.clone());
            }
            map.values().for_each(|v| relations(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| relations(v, out)),
        _ => {}
    }
}

/// A collection's fingerprint: its entries, and the stores' layout (a new layout makes every
/// collection rebuild once). A change means the collection is rebuilt; who may read it is not
/// part of it, as that changes no document.
pub fn collection_hash(entries: &[Entry]) -> String {
    let configs: Vec<_> = entries.iter().map(|e| &e.config).collect();
    let canonical = serde_json::to_vec(&(owp_readstore::LAYOUT, configs)).unwrap_or_default();
    crate::config::hash(&canonical)
}

async fn plan_entry(
    conn: &mut PgConnection,
    config: &Config,
    entry: &Entry,
    followed: &BTreeSet<String>,
) -> Result<EntryPlan> {
    let fail = |reason: String| {
        Error::Config(owp_collections::Error::Config {
            file: config.file.clone(),
            entry: entry.label.clone(),
            reason,
        })
    };
    let db_reason = |err: sqlx::Error| match err.as_database_error() {
        Some(db) => db.message().to_owned(),
        None => err.to_string(),
    };
    let sql = entry.config.sql.trim();
    let key = &entry.config.key_to_denormalize_upon;
    let wrapped = format!("SELECT * FROM ({sql}) AS e");
    let described = conn
        .describe(&wrapped)
        .await
        .map_err(|err| fail(format!("the query does not prepare: {}", db_reason(err))))?;
    let columns: Vec<&str> = described.columns().iter().map(|c| c.name()).collect();
    let Some(key_column) = described.columns().iter().find(|c| c.name() == key.as_str()) else {
        return Err(fail(format!(
            "key_to_denormalize_upon {key:?} is not a column of the query (columns: {})",
            columns.join(", ")
        )));
    };
    let key_type = key_column.type_info().name().to_owned();
    // A session id is a credential: a served document must never carry one.
    let served = config.visibility_of(&entry.collection) != Some(&crate::config::Visibility::Private);
    if served && columns.contains(&"session_id") {
        return Err(fail(format!(
            "collection {} is served (not private) and this query returns session_id, a credential: leave it out",
            entry.collection
        )));
    }

    let explained: Value = sqlx::query_scalar(&format!("EXPLAIN (VERBOSE, FORMAT JSON) {sql}"))
        .fetch_one(&mut *conn)
        .await
        .map_err(|err| fail(format!("the query cannot be planned: {}", db_reason(err))))?;
    let mut sources = BTreeSet::new();
    relations(&explained, &mut sources);
    if sources.is_empty() {
        return Err(fail("the query reads no table, so no change would ever update its documents".into()));
    }
    if let Some(unfollowed) = sources.iter().find(|t| !followed.contains(*t)) {
        return Err(fail(format!(
            "table {unfollowed:?} is not followed by change capture (followed: {}), so its changes would never reach a document",
            followed.iter().cloned().collect::<Vec<_>>().join(", ")
        )));
    }

    let k = quote(key);
    let rows = rows_sql(sql, key, &key_type, 1);
    let keys_sql = format!("SELECT DISTINCT e.{k}::text FROM ({sql}) AS e WHERE e.{k} IS NOT NULL");
    let delta: BTreeMap<String, String> =
        sources.iter().map(|table| (table.clone(), delta_sql(sql, key, table, 1))).collect();
    for derived in [&rows, &keys_sql].into_iter().chain(delta.values()) {
        conn.describe(derived).await.map_err(|err| {
            fail(format!("the query cannot be used by key ({}): {}", key_type, db_reason(err)))
        })?;
    }
    let default_array = sources.iter().next().cloned().unwrap_or_else(|| "rows".into());
    Ok(EntryPlan {
        label: entry.label.clone(),
        key: key.clone(),
        array_field: entry.config.array_field.clone().unwrap_or(default_array),
        always_array: entry.config.array_field.is_some(),
        sources,
        rows_sql: rows,
        keys_sql,
        delta_sql: delta,
        sql: sql.to_owned(),
        key_type,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> owp_collections::Result<Config> {
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
    fn visibility_is_not_part_of_the_fingerprint() {
        let a = parse(TWO).unwrap();
        let b = parse(&TWO.replace("visibility = \"public\"", "visibility = \"private\"")).unwrap();
        let name = CollectionName::parse("businesses").unwrap();
        assert_eq!(collection_hash(&a.collections[&name]), collection_hash(&b.collections[&name]));
    }

    #[test]
    fn collection_hash_changes_with_the_entries() {
        let a = parse(TWO).unwrap();
        let b = parse(&TWO.replace("url FROM", "url, title FROM")).unwrap();
        let name = CollectionName::parse("businesses").unwrap();
        assert_ne!(collection_hash(&a.collections[&name]), collection_hash(&b.collections[&name]));
        assert_eq!(
            collection_hash(&a.collections[&name]),
            collection_hash(&parse(TWO).unwrap().collections[&name])
        );
    }
}
