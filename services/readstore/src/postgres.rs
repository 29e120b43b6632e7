//! The PostgreSQL read store: one table per collection version in schema `owp_read`
//! (`<collection>__v<n>`), and one view per collection (`<collection>`) that points at the
//! published version. Replacing the view is atomic, which is the swap.
//!
//! Each table has a GIN index on the document (`jsonb_path_ops`, for `field = value` filters with
//! `@>`) and one on its words (for `q`). The words are a column the store fills as it writes:
//! every string value of the document except identifiers (UUIDs) and timestamps, which are for
//! `field = value` filters; left in, they made up most of the index (a UUID is five words to the
//! text parser, a timestamp seven), and building it took six times as long. Deletions are
//! tombstones (`doc IS NULL`) so that the version rule holds for them too; the view hides them.

use std::sync::Arc;

use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use tokio::sync::OnceCell;

use crate::{CollectionName, Error, ListQuery, Page, ReadStore, Result, StoredDoc, Target, VersionWrite};

const SCHEMA: &str = "owp_read";

/// The schema's own tables (`published`, and the layout of the collections' tables), migrated
/// by the writer before its first write: a reader's role may not change the schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// [`MIGRATOR`] run, once per process.
    migrated: Arc<OnceCell<()>>,
}

/// The search text of a document: its string values, but for identifiers and timestamps.
fn words(doc: &Value) -> String {
    fn walk(value: &Value, out: &mut String) {
        match value {
            Value::String(text) if !is_uuid(text) && !is_timestamp(text) => {
                out.push_str(text);
                out.push('\n');
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            Value::Object(fields) => fields.values().for_each(|field| walk(field, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(doc, &mut out);
    out
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Starts like an ISO 8601 date and time: `YYYY-MM-DDTHH:MM` (or a space for the `T`).
fn is_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| range.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() >= 16
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b[10] == b'T' || b[10] == b' ')
        && digits(11..13)
        && b[13] == b':'
}

fn table(target: &Target) -> String {
    format!("{SCHEMA}.\"{}__v{}\"", target.collection, target.version)
}

fn view(collection: &CollectionName) -> String {
    format!("{SCHEMA}.\"{collection}\"")
}

/// The indexes of a published version: `field = value` filters (containment) and `q` (words).
fn index_statements(target: &Target) -> [String; 2] {
    let name = format!("{}__v{}", target.collection, target.version);
    let table = table(target);
    [
        format!(
            "CREATE INDEX IF NOT EXISTS \"{name}_doc\" ON {table} USING gin (doc jsonb_path_ops) {GIN_OPTIONS}"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS \"{name}_text\" ON {table} USING gin ({TEXT_SEARCH}) {GIN_OPTIONS}"
        ),
    ]
}

/// A GIN index takes writes into a pending list that the write which finds it full merges into
/// the index. With PostgreSQL's 4 MB list, that write waited 150 ms (batches of 37 documents, as
/// the translator writes at 500 documents/s); without the list, every batch took 6 ms on average
/// instead of 2.4; a 64 kB list gave 3 ms on average and 13 ms at most.
const GIN_OPTIONS: &str = "WITH (fastupdate = on, gin_pending_list_limit = 64)";

/// What `q` is matched against; the index is on exactly this expression.
const TEXT_SEARCH: &str = "to_tsvector('simple', words)";

/// "relation does not exist": the collection has no published view.
fn undefined_table(err: &sqlx::Error) -> bool {
    err.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "42P01")
}

impl PgStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool, migrated: Arc::default() }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the schema if it is missing and runs [`MIGRATOR`] in it, once per process.
    pub async fn migrate(&self) -> Result<()> {
        self.migrated.get_or_try_init(|| migrate(&self.pool)).await?;
        Ok(())
    }
}

async fn migrate(pool: &PgPool) -> Result<()> {
    // Not CREATE SCHEMA IF NOT EXISTS, which needs CREATE on the database even when the schema
    // is there: the translator's role owns this schema but may create no other. Two processes
    // may race to create it; the loser's duplicate error is harmless.
    let create = format!(
        "DO $$ BEGIN IF to_regnamespace('{SCHEMA}') IS NULL THEN CREATE SCHEMA {SCHEMA}; END IF; END $$"
    );
    if let Err(err) = sqlx::query(&create).execute(pool).await {
        let race =
            err.as_database_error().and_then(|e| e.code()).is_some_and(|c| c == "23505" || c == "42P06");
        if !race {
            return Err(Error::pg("cannot create the read store schema")(err));
        }
    }
    // The migrations' own table lives in the schema they migrate: a connection of its own, set
    // to it, and closed afterwards rather than returned to the pool so set.
    let mut conn = pool.acquire().await.map_err(Error::pg("cannot connect"))?.detach();
    sqlx::query(&format!("SET search_path TO {SCHEMA}"))
        .execute(&mut conn)
        .await
        .map_err(Error::pg("cannot migrate the read store schema"))?;
    // `run_direct`: sqlx's way around `run`'s future not being Send for every lifetime, which the
    // translator's spawned rebuilds need.
    MIGRATOR.run_direct(&mut conn).await?;
    use sqlx::Connection;
    conn.close().await.map_err(Error::pg("cannot migrate the read store schema"))?;
    Ok(())
}

impl ReadStore for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn create_version(&self, target: &Target) -> Result<()> {
        self.migrate().await?;
        // Only the key's index now: a version is filled first and indexed for queries when it
        // is published, because building a GIN index once is far cheaper than maintaining it
        // through every insert of a rebuild.
        let statement = format!(
            "CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, doc jsonb, version bigint NOT NULL, words text)",
            table(target)
        );
        sqlx::query(&statement)
            .execute(&self.pool)
            .await
            .map_err(Error::pg(format!("cannot create {target}")))?;
        Ok(())
    }

    async fn write_all(&self, writes: &[VersionWrite<'_>]) -> Result<()> {
        let writes: Vec<&VersionWrite<'_>> = writes.iter().filter(|w| !w.docs.is_empty()).collect();
        if writes.is_empty() {
            return Ok(());
        }
        self.migrate().await?;
        // One statement for every version, an INSERT each in a WITH: one round trip and one
        // commit. The WHERE keeps the newer version on conflict; DISTINCT ON keeps the newest
        // write when a batch names a key twice.
        let mut statement = String::from("WITH ");
        for (i, write) in writes.iter().enumerate() {
            let p = 4 * i;
            if i > 0 {
                statement.push_str(", ");
            }
            statement.push_str(&format!(
                "w{i} AS (INSERT INTO {} AS t (key, doc, version, words) \
                 SELECT DISTINCT ON (key) key, doc, version, words \
                 FROM UNNEST(${}::text[], ${}::jsonb[], ${}::int8[], ${}::text[]) AS w(key, doc, version, words) \
                 ORDER BY key, version DESC \
                 ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, version = excluded.version, words = excluded.words \
                 WHERE t.version < excluded.version)",
                table(write.target),
                p + 1,
                p + 2,
                p + 3,
                p + 4
            ));
        }
        statement.push_str(" SELECT 1");
        let mut query = sqlx::query(&statement);
        for write in &writes {
            let keys: Vec<&str> = write.docs.iter().map(|d| d.key.as_str()).collect();
            let bodies: Vec<Option<&Value>> = write.docs.iter().map(|d| d.doc.as_ref()).collect();
            let versions: Vec<i64> = write.docs.iter().map(|d| d.version).collect();
            let texts: Vec<Option<String>> = write.docs.iter().map(|d| d.doc.as_ref().map(words)).collect();
            query = query.bind(keys).bind(bodies).bind(versions).bind(texts);
        }
        query.execute(&self.pool).await.map_err(|source| {
            let targets: Vec<String> =
                writes.iter().map(|w| format!("{} documents to {}", w.docs.len(), w.target)).collect();
            Error::Postgres { context: format!("cannot write {}", targets.join(", ")), source }
        })?;
        Ok(())
    }

    async fn publish(&self, target: &Target) -> Result<()> {
        self.migrate().await?;
        for statement in index_statements(target) {
            sqlx::query(&statement)
                .execute(&self.pool)
                .await
                .map_err(Error::pg(format!("cannot index {target}")))?;
        }
        let mut tx = self.pool.begin().await.map_err(Error::pg("cannot begin"))?;
        let statement = format!(
            "CREATE OR REPLACE VIEW {} AS SELECT key, doc, version, words FROM {} WHERE doc IS NOT NULL",
            view(&target.collection),
            table(target)
        );
        sqlx::query(&statement)
            .execute(&mut *tx)
            .await
            .map_err(Error::pg(format!("cannot publish {target}")))?;
        sqlx::query(&format!(
            "INSERT INTO {SCHEMA}.published (collection, version) VALUES ($1, $2) \
             ON CONFLICT (collection) DO UPDATE SET version = excluded.version"
        ))
        .bind(target.collection.as_str())
        .bind(target.version as i32)
        .execute(&mut *tx)
        .await
        .map_err(Error::pg(format!("cannot record {target} as published")))?;
        tx.commit().await.map_err(Error::pg(format!("cannot publish {target}")))?;
        Ok(())
    }

    async fn published(&self, collection: &CollectionName) -> Result<Option<Target>> {
        let found = sqlx::query_scalar::<_, i32>(&format!(
            "SELECT version FROM {SCHEMA}.published WHERE collection = $1"
        ))
        .bind(collection.as_str())
        .fetch_optional(&self.pool)
        .await;
        match found {
            Ok(version) => Ok(version.map(|v| Target::new(collection.clone(), v as u32))),
            Err(err) if undefined_table(&err) => Ok(None),
            Err(err) => Err(Error::Postgres {
                context: format!("cannot read what {collection} publishes"),
                source: err,
            }),
        }
    }

    async fn drop_version(&self, target: &Target) -> Result<()> {
        if self.published(&target.collection).await?.as_ref() == Some(target) {
            return Err(Error::Query(format!("{target} is published; publish another version first")));
        }
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", table(target)))
            .execute(&self.pool)
            .await
            .map_err(Error::pg(format!("cannot drop {target}")))?;
        Ok(())
    }

    async fn unpublish(&self, collection: &CollectionName) -> Result<()> {
        self.migrate().await?;
        let mut tx = self.pool.begin().await.map_err(Error::pg("cannot begin"))?;
        sqlx::query(&format!("DROP VIEW IF EXISTS {}", view(collection)))
            .execute(&mut *tx)
            .await
            .map_err(Error::pg(format!("cannot withdraw {collection}")))?;
        sqlx::query(&format!("DELETE FROM {SCHEMA}.published WHERE collection = $1"))
            .bind(collection.as_str())
            .execute(&mut *tx)
            .await
            .map_err(Error::pg(format!("cannot withdraw {collection}")))?;
        tx.commit().await.map_err(Error::pg(format!("cannot withdraw {collection}")))?;
        Ok(())
    }

    async fn get(&self, collection: &CollectionName, key: &str) -> Result<Option<StoredDoc>> {
        let row = sqlx::query(&format!("SELECT key, doc, version FROM {} WHERE key = $1", view(collection)))
            .bind(key)
            .fetch_optional(&self.pool)
            .await;
        match row {
            Ok(row) => Ok(row.map(|r| StoredDoc { key: r.get(0), doc: r.get(1), version: r.get(2) })),
            Err(err) if undefined_table(&err) => Err(Error::UnknownCollection(collection.to_string())),
            Err(err) => {
                Err(Error::Postgres { context: format!("cannot read {collection}/{key}"), source: err })
            }
        }
    }

    async fn get_many(&self, collection: &CollectionName, keys: &[String]) -> Result<Vec<StoredDoc>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows =
            sqlx::query(&format!("SELECT key, doc, version FROM {} WHERE key = ANY($1)", view(collection)))
                .bind(keys)
                .fetch_all(&self.pool)
                .await;
        match rows {
            Ok(rows) => Ok(rows
                .iter()
                .map(|r| StoredDoc { key: r.get(0), doc: r.get(1), version: r.get(2) })
                .collect()),
            Err(err) if undefined_table(&err) => Err(Error::UnknownCollection(collection.to_string())),
            Err(err) => Err(Error::Postgres {
                context: format!("cannot read {} documents of {collection}", keys.len()),
                source: err,
            }),
        }
    }

    async fn list(&self, collection: &CollectionName, query: &ListQuery) -> Result<Page> {
        query.check()?;
        let mut sql: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT key, doc, version FROM {} WHERE true", view(collection)));
        for (field, value) in &query.filters {
            // Each alternative is a containment, so the GIN index answers all of them.
            sql.push(" AND (false");
            for candidate in ListQuery::candidates(value) {
                sql.push(" OR doc @> ").push_bind(json!({ field: candidate })).push("::jsonb");
                sql.push(" OR doc @> ").push_bind(json!({ field: [candidate] })).push("::jsonb");
            }
            sql.push(")");
        }
        if let Some(text) = &query.text {
            sql.push(format!(" AND {TEXT_SEARCH} @@ plainto_tsquery('simple', "))
                .push_bind(text.clone())
                .push(")");
        }
        let (sort_expr, direction, compare) = match &query.sort {
            Some(sort) => (
                format!("COALESCE(doc -> '{}', 'null'::jsonb)", sort.field),
                if sort.descending { "DESC" } else { "ASC" },
                if sort.descending { "<" } else { ">" },
            ),
            None => ("'null'::jsonb".to_owned(), "ASC", ">"),
        };
        if let Some(cursor) = &query.cursor {
            sql.push(format!(" AND ({sort_expr}, key) {compare} ("))
                .push_bind(cursor.sort_value.clone())
                .push("::jsonb, ")
                .push_bind(cursor.key.clone())
                .push(")");
        }
        sql.push(format!(" ORDER BY {sort_expr} {direction}, key {direction} LIMIT "))
            .push_bind(i64::from(query.limit) + 1);
        let rows = sql.build().fetch_all(&self.pool).await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(err) if undefined_table(&err) => {
                return Err(Error::UnknownCollection(collection.to_string()));
            }
            Err(err) => {
                return Err(Error::Postgres { context: format!("cannot list {collection}"), source: err });
            }
        };
        let items =
            rows.into_iter().map(|r| StoredDoc { key: r.get(0), doc: r.get(1), version: r.get(2) }).collect();
        Ok(Page::from_fetched(items, query))
    }

    async fn ready(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(Error::pg("the database does not answer"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_the_text_values_without_ids_and_timestamps() {
        let doc = json!({
            "business_id": "0f3c1a52-5c1e-4f43-9d0e-5a4b8f1e2d3c",
            "name": "Country Vegetables",
            "created_at": "2026-12-02T03:04:05.123456+00:00",
            "employees": 12,
            "open": true,
            "websites": [{"url": "veg.example"}, {"url": "fruit.example"}],
            "founded": "2019-04-01",
        });
        let text = words(&doc);
        for word in ["Country Vegetables", "veg.example", "fruit.example", "2019-04-01"] {
            assert!(text.contains(word), "{word} in {text:?}");
        }
        for left_out in ["0f3c1a52", "03:04", "12", "true"] {
            assert!(!text.contains(left_out), "{left_out} in {text:?}");
        }
    }

    #[test]
    fn ids_and_timestamps_are_recognised_by_shape() {
        assert!(is_uuid("0F3C1A52-5c1e-4f43-9d0e-5a4b8f1e2d3c"));
        assert!(!is_uuid("0f3c1a52-5c1e-4f43-9d0e-5a4b8f1e2d3"));
        assert!(!is_uuid("0f3c1a52x5c1e-4f43-9d0e-5a4b8f1e2d3c"));
        assert!(is_timestamp("2026-12-02T03:04:05Z"));
        assert!(is_timestamp("2026-12-02 03:04"));
        assert!(!is_timestamp("2026-12-02"));
        assert!(!is_timestamp("the 2026-12-02T03:04 meeting"));
    }
}
