//! Documents built from the current PostgreSQL state: every entry of a collection runs once for
//! a whole set of keys, and its rows are merged into one JSON object per key. A key that no entry
//! returns a row for has no document (it is deleted from the store).

use std::collections::HashMap;

use serde_json::{Map, Value};
use sqlx::PgConnection;

use crate::{Error, Result, plan::CollectionPlan};

/// The documents for `keys`, in the same order; `None` where the key has no rows any more.
pub async fn build(
    conn: &mut PgConnection,
    plan: &CollectionPlan,
    keys: &[String],
) -> Result<Vec<(String, Option<Value>)>> {
    let mut docs: HashMap<String, Map<String, Value>> = HashMap::with_capacity(keys.len());
    for entry in &plan.entries {
        let rows: Vec<(String, Value)> =
            sqlx::query_as(&entry.rows_sql).bind(keys).fetch_all(&mut *conn).await.map_err(|source| {
                Error::Database { context: format!("{} {}", plan.name, entry.label), source }
            })?;
        let mut by_key: HashMap<String, Vec<Value>> = HashMap::new();
        for (key, row) in rows {
            by_key.entry(key).or_default().push(row);
        }
        for (key, mut rows) in by_key {
            let doc = docs.entry(key).or_default();
            if !entry.always_array && rows.len() == 1 {
                if let Some(Value::Object(fields)) = rows.pop() {
                    doc.extend(fields);
                }
            } else {
                // The database returns rows in no particular order; a stable order keeps a
                // rebuilt document identical to the incrementally maintained one.
                rows.sort_by_cached_key(|row| row.to_string());
                doc.insert(entry.array_field.clone(), Value::Array(rows));
            }
        }
    }
    Ok(keys.iter().map(|key| (key.clone(), docs.remove(key.as_str()).map(Value::Object))).collect())
}
