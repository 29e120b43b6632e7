//! The PostgreSQL read store: one table per collection version in schema `owp_read`
//! (`<collection>__v<n>`), and one view per collection (`<collection>`) that points at the
//! published version. Replacing the view is atomic, which is the swap.
//!
//! Each table has a GIN index on the document (`jsonb_path_ops`, for `field = value` filters with
//! `@>`) and one on its words (`jsonb_to_tsvector`, for `q`). Deletions are tombstones (`doc IS
//! NULL`) so that the version rule holds for them too; the view hides them.

use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use crate::{CollectionName, DocWrite, Error, ListQuery, Page, ReadStore, Result, StoredDoc, Target};

const SCHEMA: &str = "owp_read";

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
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
            "CREATE INDEX IF NOT EXISTS \"{name}_words\" ON {table} \
             USING gin (jsonb_to_tsvector('simple', doc, '[\"string\"]')) {GIN_OPTIONS}"
        ),
    ]
}

/// A GIN index takes writes into a pending list that the write which finds it full merges into
/// the index. With PostgreSQL's 4 MB list, that write waited 150 ms (batches of 37 documents, as
/// the translator writes at 500 documents/s); without the list, every batch took 6 ms on average
/// instead of 2.4; a 64 kB list gave 3 ms on average and 13 ms at most.
const GIN_OPTIONS: &str = "WITH (fastupdate = on, gin_pending_list_limit = 64)";

/// "relation does not exist": the collection has no published view.
fn undefined_table(err: &sqlx::Error) -> bool {
    err.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "42P01")
}

impl PgStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn ensure_schema(&self) -> Result<()> {
        // Two processes may race to create the schema; the loser's unique violation is harmless.
        let statements = [
            format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"),
            format!(
                "CREATE TABLE IF NOT EXISTS {SCHEMA}.published (collection text PRIMARY KEY, version integer NOT NULL)"
            ),
        ];
        for statement in statements {
            if let Err(err) = sqlx::query(&statement).execute(&self.pool).await {
                let race = err.as_database_error().and_then(|e| e.code()).is_some_and(|c| c == "23505");
                if !race {
                    return Err(Error::Postgres {
                        context: "cannot create the read store schema".into(),
                        source: err,
                    });
                }
            }
        }
        Ok(())
    }
}

impl ReadStore for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn create_version(&self, target: &Target) -> Result<()> {
        self.ensure_schema().await?;
        // Only the key's index now: a version is filled first and indexed for queries when it
        // is published, because building a GIN index once is far cheaper than maintaining it
        // through every insert of a rebuild.
        let statement = format!(
            "CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, doc jsonb, version bigint NOT NULL)",
            table(target)
        );
        sqlx::query(&statement)
            .execute(&self.pool)
            .await
            .map_err(Error::pg(format!("cannot create {target}")))?;
        Ok(())
    }

    async fn write(&self, target: &Target, docs: &[DocWrite]) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = docs.iter().map(|d| d.key.as_str()).collect();
        let bodies: Vec<Option<&Value>> = docs.iter().map(|d| d.doc.as_ref()).collect();
        let versions: Vec<i64> = docs.iter().map(|d| d.version).collect();
        let table = table(target);
        // One statement for the whole batch; the WHERE keeps the newer version on conflict.
        // DISTINCT ON keeps the newest write when a batch names a key twice.
        let statement = format!(
            "INSERT INTO {table} AS t (key, doc, version) \
             SELECT DISTINCT ON (key) key, doc, version FROM UNNEST($1::text[], $2::jsonb[], $3::int8[]) AS w(key, doc, version) \
             ORDER BY key, version DESC \
             ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, version = excluded.version \
             WHERE t.version < excluded.version"
        );
        sqlx::query(&statement)
            .bind(&keys)
            .bind(&bodies)
            .bind(&versions)
            .execute(&self.pool)
            .await
            .map_err(Error::pg(format!("cannot write {} documents to {target}", docs.len())))?;
        Ok(())
    }

    async fn publish(&self, target: &Target) -> Result<()> {
        self.ensure_schema().await?;
        for statement in index_statements(target) {
            sqlx::query(&statement)
                .execute(&self.pool)
                .await
                .map_err(Error::pg(format!("cannot index {target}")))?;
        }
        let mut tx = self.pool.begin().await.map_err(Error::pg("cannot begin"))?;
        let statement = format!(
            "CREATE OR REPLACE VIEW {} AS SELECT key, doc, version FROM {} WHERE doc IS NOT NULL",
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
        self.ensure_schema().await?;
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
            sql.push(" AND jsonb_to_tsvector('simple', doc, '[\"string\"]') @@ plainto_tsquery('simple', ")
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
