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
    let mut built = build_many(conn, &[(plan, keys)]).await?;
    Ok(built.pop().unwrap_or_default())
}

/// The documents of several collections at once, each for its own keys: every entry of every
/// collection in one statement (one round trip however many entries there are). For each
/// request, its documents in the order of its keys.
pub async fn build_many(
    conn: &mut PgConnection,
    requests: &[(&CollectionPlan, &[String])],
) -> Result<Vec<Vec<(String, Option<Value>)>>> {
    // Request i, entry j: `SELECT i, j, key, row` from the entry's rows for request i's keys,
    // which are the n-th parameter (requests without keys have none).
    let mut parts = Vec::new();
    let mut n = 0;
    for (i, (plan, keys)) in requests.iter().enumerate() {
        if keys.is_empty() {
            continue;
        }
        n += 1;
        for (j, entry) in plan.entries.iter().enumerate() {
            parts.push(format!("SELECT {i}::int4, {j}::int4, r.* FROM ({}) AS r", entry.rows_sql_at(n)));
        }
    }
    let mut rows_by: Vec<Vec<Vec<(String, Value)>>> =
        requests.iter().map(|(plan, _)| vec![Vec::new(); plan.entries.len()]).collect();
    if !parts.is_empty() {
        let statement = parts.join(" UNION ALL ");
        let mut query = sqlx::query_as::<_, (i32, i32, String, Value)>(&statement);
        for (_, keys) in requests.iter().filter(|(_, keys)| !keys.is_empty()) {
            query = query.bind(*keys);
        }
        let rows = query.fetch_all(&mut *conn).await.map_err(|source| {
            let names: Vec<&str> = requests.iter().map(|(plan, _)| plan.name.as_str()).collect();
            Error::Database { context: format!("the documents of {}", names.join(", ")), source }
        })?;
        for (i, j, key, row) in rows {
            if let Some(entry_rows) =
                rows_by.get_mut(i as usize).and_then(|entries| entries.get_mut(j as usize))
            {
                entry_rows.push((key, row));
            }
        }
    }
    Ok(requests.iter().zip(rows_by).map(|((plan, keys), rows)| merge(plan, keys, rows)).collect())
}

/// Merges each entry's rows, in the entries' order, into one document per key.
fn merge(
    plan: &CollectionPlan,
    keys: &[String],
    rows_by_entry: Vec<Vec<(String, Value)>>,
) -> Vec<(String, Option<Value>)> {
    let mut docs: HashMap<String, Map<String, Value>> = HashMap::with_capacity(keys.len());
    for (entry, rows) in plan.entries.iter().zip(rows_by_entry) {
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
    keys.iter().map(|key| (key.clone(), docs.remove(key.as_str()).map(Value::Object))).collect()
}
