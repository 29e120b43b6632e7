//! The search-engine read store: Elasticsearch or OpenSearch, through the official
//! `elasticsearch` crate. It uses only APIs the two share (index and alias management, `_bulk`,
//! `_doc`, `_mget`, `_search`, `_cluster/health`); the crate sends plain `application/json` with
//! no compatibility header and checks no product header, so OpenSearch answers it as it would
//! its own client. Where the two answer differently, both answers are read (`_mget` on a missing
//! index). The contract suite runs against OpenSearch 2.19.
//!
//! - Versions are indices `<prefix>-<collection>-v<n>` (prefix `owp` unless
//!   `OWP_READ_STORE_PREFIX` says otherwise); readers use the alias `<prefix>-<collection>`,
//!   which [`ElasticStore::publish`] moves in one `_aliases` call (atomic in the cluster).
//! - Writes are `_bulk` with `version_type=external`: the cluster refuses (409) a version that is
//!   not newer than the stored one, which we count as done, since something at least as new is
//!   there. Every item's status is checked: a 200 answer with `errors: true` is not success. Items
//!   refused with 429 or a 5xx are sent again, and only those, with backoff; anything else fails
//!   the write naming the key and the reason.
//! - A write returns once searches can find what it wrote (`refresh=wait_for`), except a write
//!   that goes only to versions this store created and has not published yet: nobody reads
//!   those, and waiting up to a refresh interval (1 s) after every bulk of a rebuild made it
//!   several times slower; [`ElasticStore::publish`] refreshes a version before swapping it in.
//! - The source of a stored document is `{"key": …, "doc": {…}}` so the key has a keyword field
//!   to sort on (sorting on `_id` is off by default); strings are keywords with a `text`
//!   sub-field, and date detection is off so that a field never changes type by accident.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use elasticsearch::{
    BulkParts, Elasticsearch, GetParts, MgetParts, SearchParts,
    auth::Credentials,
    http::{
        Method, StatusCode, Url,
        headers::HeaderMap,
        request::JsonBody,
        transport::{SingleNodeConnectionPool, TransportBuilder},
    },
    indices::{
        IndicesCreateParts, IndicesDeleteParts, IndicesGetAliasParts, IndicesGetParts, IndicesRefreshParts,
    },
    params::{ExpandWildcards, Refresh},
};
use owp_platform::retry::Backoff;
use serde_json::{Value, json};

use crate::{
    CollectionName, DocWrite, Error, ListQuery, Page, ReadStore, Result, StoredDoc, Target, VersionWrite,
};

/// How often one write re-sends items the cluster refused for now.
const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone)]
pub struct ElasticStore {
    client: Elasticsearch,
    prefix: String,
    /// Indices this store created and has not published since: writes only to these need not
    /// wait for a refresh. Shared by clones; an index another process created is not in it, so
    /// writes to it wait (the safe side).
    building: Arc<Mutex<HashSet<String>>>,
}

fn err(context: impl Into<String>, reason: impl ToString, transient: bool) -> Error {
    Error::Elastic { context: context.into(), reason: reason.to_string(), transient }
}

fn transport_error(context: &str, error: elasticsearch::Error) -> Error {
    // Connection failures and timeouts are worth retrying; a malformed request is not.
    let transient = error.is_timeout() || error.status_code().is_none_or(|s| retryable(s.as_u16()));
    err(context, error, transient)
}

fn retryable(status: u16) -> bool {
    status == 429 || status >= 500
}

impl ElasticStore {
    /// `url` may carry credentials (`https://user:password@host:9200`).
    pub fn connect(url: &str) -> Result<Self> {
        Self::connect_with_prefix(url, "owp")
    }

    /// With another index prefix, so that tests (or two stacks) can share one cluster. Index
    /// names are `<prefix>-<collection>-v<n>`: the prefix is lower case letters, digits, `-` and
    /// `_`, starting with a letter or a digit.
    pub fn connect_with_prefix(url: &str, prefix: &str) -> Result<Self> {
        let valid = prefix.len() <= 64
            && prefix.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid {
            return Err(Error::Setting(format!(
                "index prefix {prefix:?}: use up to 64 of a-z, 0-9, - and _, starting with a letter or a digit"
            )));
        }
        let mut url =
            Url::parse(url).map_err(|e| Error::Setting(format!("OWP_READ_STORE is not a URL: {e}")))?;
        let credentials = (!url.username().is_empty()).then(|| {
            Credentials::Basic(url.username().to_owned(), url.password().unwrap_or_default().to_owned())
        });
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let mut builder =
            TransportBuilder::new(SingleNodeConnectionPool::new(url)).timeout(Duration::from_secs(30));
        if let Some(credentials) = credentials {
            builder = builder.auth(credentials);
        }
        let transport =
            builder.build().map_err(|e| Error::Setting(format!("Elasticsearch/OpenSearch client: {e}")))?;
        Ok(Self {
            client: Elasticsearch::new(transport),
            prefix: prefix.to_owned(),
            building: Arc::default(),
        })
    }

    /// Deletes every index under this store's prefix, and with them their aliases: what a test
    /// or a benchmark that owns its prefix leaves behind. The indices are named one by one,
    /// since a cluster may refuse to delete by wildcard (`action.destructive_requires_name`).
    pub async fn drop_all(&self) -> Result<()> {
        let pattern = format!("{}-*", self.prefix);
        let response = self
            .client
            .indices()
            .get(IndicesGetParts::Index(&[&pattern]))
            .expand_wildcards(&[ExpandWildcards::All])
            .send()
            .await
            .map_err(|e| transport_error("cannot list indices", e))?;
        let status = response.status_code();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(err(
                format!("cannot list {pattern}"),
                format!("{status}: {answer}"),
                retryable(status.as_u16()),
            ));
        }
        let names: Vec<&str> =
            answer.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        // A URL names at most a few hundred indices comfortably.
        for names in names.chunks(100) {
            let response = self
                .client
                .indices()
                .delete(IndicesDeleteParts::Index(names))
                .send()
                .await
                .map_err(|e| transport_error("cannot delete indices", e))?;
            let status = response.status_code();
            if !status.is_success() && status != StatusCode::NOT_FOUND {
                return Err(err(format!("cannot delete {pattern}"), status, retryable(status.as_u16())));
            }
        }
        Ok(())
    }

    fn building(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // The set stays consistent whatever panicked while holding it: one insert or remove.
        self.building.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn index(&self, target: &Target) -> String {
        format!("{}-{}-v{}", self.prefix, target.collection, target.version)
    }

    fn alias(&self, collection: &CollectionName) -> String {
        format!("{}-{}", self.prefix, collection)
    }

    /// Sends the documents, each to its index, in one `_bulk` request and returns the items that
    /// failed for now, with the last reason.
    async fn bulk_once(&self, docs: &[(&str, &DocWrite)], refresh: Refresh) -> Result<(Vec<usize>, String)> {
        let mut body: Vec<JsonBody<Value>> = Vec::with_capacity(docs.len() * 2);
        for (index, doc) in docs {
            let meta = json!({ "_index": index, "_id": doc.key, "version": doc.version, "version_type": "external" });
            match &doc.doc {
                Some(source) => {
                    body.push(json!({ "index": meta }).into());
                    body.push(json!({ "key": doc.key, "doc": source }).into());
                }
                None => body.push(json!({ "delete": meta }).into()),
            }
        }
        let response = self
            .client
            .bulk(BulkParts::None)
            .refresh(refresh)
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error("bulk request failed", e))?;
        let status = response.status_code().as_u16();
        if retryable(status) {
            return Ok(((0..docs.len()).collect(), format!("bulk answered {status}")));
        }
        let answer: Value =
            response.json().await.map_err(|e| transport_error("bulk answer unreadable", e))?;
        if !(200..300).contains(&status) {
            return Err(err("bulk", format!("{status}: {answer}"), false));
        }
        let mut again = Vec::new();
        let mut reason = String::new();
        let items = answer["items"].as_array().cloned().unwrap_or_default();
        if items.len() != docs.len() {
            return Err(err("bulk", format!("{} items answered for {} sent", items.len(), docs.len()), true));
        }
        for (i, item) in items.iter().enumerate() {
            let result = item.as_object().and_then(|o| o.values().next()).cloned().unwrap_or(Value::Null);
            let item_status = result["status"].as_u64().unwrap_or(0) as u16;
            match item_status {
                200..=299 => {}
                // Something at least as new is stored already.
                409 => {}
                // Deleting what is not there is done.
                404 if docs[i].1.doc.is_none() => {}
                s if retryable(s) => {
                    again.push(i);
                    reason = result["error"].to_string();
                }
                s => {
                    return Err(err(
                        format!("document {:?} in {}", docs[i].1.key, docs[i].0),
                        format!("{s}: {}", result["error"]),
                        false,
                    ));
                }
            }
        }
        Ok((again, reason))
    }

    async fn alias_indices(&self, alias: &str) -> Result<Vec<String>> {
        let response = self
            .client
            .indices()
            .get_alias(IndicesGetAliasParts::Name(&[alias]))
            .send()
            .await
            .map_err(|e| transport_error("cannot read aliases", e))?;
        if response.status_code() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let answer: Value = response.json().await.map_err(|e| transport_error("aliases unreadable", e))?;
        Ok(answer.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default())
    }

    /// Applies alias actions in one `_aliases` call, which the cluster applies atomically.
    async fn update_aliases(&self, actions: Vec<Value>, context: &str) -> Result<()> {
        let response = self
            .client
            .indices()
            .update_aliases()
            .body(json!({ "actions": actions }))
            .send()
            .await
            .map_err(|e| transport_error(context, e))?;
        let status = response.status_code();
        if status.is_success() {
            return Ok(());
        }
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        Err(err(context, format!("{status}: {answer}"), retryable(status.as_u16())))
    }

    fn to_stored(hit: &Value) -> Option<StoredDoc> {
        Some(StoredDoc {
            key: hit["_source"]["key"].as_str()?.to_owned(),
            version: hit["_version"].as_i64().unwrap_or_default(),
            doc: hit["_source"]["doc"].clone(),
        })
    }
}

impl ReadStore for ElasticStore {
    fn kind(&self) -> &'static str {
        "elasticsearch"
    }

    async fn create_version(&self, target: &Target) -> Result<()> {
        let index = self.index(target);
        let body = json!({
            "mappings": {
                "date_detection": false,
                "dynamic_templates": [{
                    "strings": {
                        "match_mapping_type": "string",
                        "mapping": { "type": "keyword", "ignore_above": 1024, "fields": { "text": { "type": "text" } } }
                    }
                }],
                "properties": { "key": { "type": "keyword" } }
            }
        });
        let response = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(&index))
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error("cannot create an index", e))?;
        let status = response.status_code();
        if status.is_success() {
            self.building().insert(index);
            return Ok(());
        }
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if answer["error"]["type"] == "resource_already_exists_exception" {
            return Ok(());
        }
        Err(err(format!("cannot create {index}"), format!("{status}: {answer}"), retryable(status.as_u16())))
    }

    async fn write_all(&self, writes: &[VersionWrite<'_>]) -> Result<()> {
        let indices: Vec<String> = writes.iter().map(|w| self.index(w.target)).collect();
        let mut pending: Vec<(&str, &DocWrite)> = writes
            .iter()
            .zip(&indices)
            .flat_map(|(write, index)| write.docs.iter().map(move |doc| (index.as_str(), doc)))
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let refresh = {
            let building = self.building();
            if indices.iter().all(|index| building.contains(index)) {
                Refresh::False
            } else {
                Refresh::WaitFor
            }
        };
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        for attempt in 1..=MAX_ATTEMPTS {
            let (again, reason) = match self.bulk_once(&pending, refresh).await {
                Ok(result) => result,
                Err(error) if error.is_transient() && attempt < MAX_ATTEMPTS => {
                    ((0..pending.len()).collect(), error.to_string())
                }
                Err(error) => return Err(error),
            };
            if again.is_empty() {
                return Ok(());
            }
            tracing::warn!(
                items = again.len(),
                attempt,
                reason,
                "the search engine refused items for now; re-sending them"
            );
            pending = again.into_iter().map(|i| pending[i]).collect();
            if attempt < MAX_ATTEMPTS {
                backoff.pause().await;
            }
        }
        Err(err(
            format!("bulk into {}", indices.join(", ")),
            format!("{} items still refused after {MAX_ATTEMPTS} attempts", pending.len()),
            true,
        ))
    }

    async fn publish(&self, target: &Target) -> Result<()> {
        let alias = self.alias(&target.collection);
        let index = self.index(target);
        let mut actions: Vec<Value> = self
            .alias_indices(&alias)
            .await?
            .into_iter()
            .filter(|old| *old != index)
            .map(|old| json!({ "remove": { "index": old, "alias": alias } }))
            .collect();
        actions.push(json!({ "add": { "index": index, "alias": alias } }));
        // From here on writes wait for refreshes again; the refresh makes what the rebuild wrote
        // without them searchable before readers are pointed at it.
        self.building().remove(&index);
        let response = self
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[&index]))
            .send()
            .await
            .map_err(|e| transport_error("cannot refresh an index", e))?;
        let status = response.status_code();
        if !status.is_success() {
            return Err(err(format!("cannot refresh {index}"), status, retryable(status.as_u16())));
        }
        self.update_aliases(actions, &format!("cannot publish {target}")).await
    }

    async fn published(&self, collection: &CollectionName) -> Result<Option<Target>> {
        let prefix = format!("{}-{}-v", self.prefix, collection);
        let indices = self.alias_indices(&self.alias(collection)).await?;
        Ok(indices
            .iter()
            .filter_map(|index| index.strip_prefix(&prefix)?.parse::<u32>().ok())
            .max()
            .map(|version| Target::new(collection.clone(), version)))
    }

    async fn drop_version(&self, target: &Target) -> Result<()> {
        if self.published(&target.collection).await?.as_ref() == Some(target) {
            return Err(Error::Query(format!("{target} is published; publish another version first")));
        }
        let index = self.index(target);
        self.building().remove(&index);
        let response = self
            .client
            .indices()
            .delete(IndicesDeleteParts::Index(&[&index]))
            .send()
            .await
            .map_err(|e| transport_error("cannot delete an index", e))?;
        let status = response.status_code();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(err(format!("cannot drop {index}"), status, retryable(status.as_u16())))
        }
    }

    async fn unpublish(&self, collection: &CollectionName) -> Result<()> {
        let alias = self.alias(collection);
        let actions: Vec<Value> = self
            .alias_indices(&alias)
            .await?
            .into_iter()
            .map(|index| json!({ "remove": { "index": index, "alias": alias } }))
            .collect();
        if actions.is_empty() {
            return Ok(());
        }
        self.update_aliases(actions, &format!("cannot withdraw {collection}")).await
    }

    async fn get(&self, collection: &CollectionName, key: &str) -> Result<Option<StoredDoc>> {
        let alias = self.alias(collection);
        let response = self
            .client
            .get(GetParts::IndexId(&alias, key))
            .send()
            .await
            .map_err(|e| transport_error("get failed", e))?;
        let status = response.status_code();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status == StatusCode::NOT_FOUND {
            if answer["error"]["type"] == "index_not_found_exception" {
                return Err(Error::UnknownCollection(collection.to_string()));
            }
            return Ok(None);
        }
        if !status.is_success() {
            return Err(err(format!("cannot read {collection}/{key}"), status, retryable(status.as_u16())));
        }
        Ok(Self::to_stored(&answer))
    }

    async fn get_many(&self, collection: &CollectionName, keys: &[String]) -> Result<Vec<StoredDoc>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let alias = self.alias(collection);
        let response = self
            .client
            .mget(MgetParts::Index(&alias))
            .body(json!({ "ids": keys }))
            .send()
            .await
            .map_err(|e| transport_error("mget failed", e))?;
        let status = response.status_code();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status == StatusCode::NOT_FOUND && answer["error"]["type"] == "index_not_found_exception" {
            return Err(Error::UnknownCollection(collection.to_string()));
        }
        if !status.is_success() {
            return Err(err(
                format!("cannot read {} documents of {collection}", keys.len()),
                format!("{status}: {answer}"),
                retryable(status.as_u16()),
            ));
        }
        let docs = answer["docs"].as_array().map(Vec::as_slice).unwrap_or_default();
        // OpenSearch answers a missing index with 200 and the error in every item (Elasticsearch
        // with a 404 above); an item's error is never "not found".
        if let Some(error) = docs.iter().map(|doc| &doc["error"]).find(|e| !e.is_null()) {
            if error["type"] == "index_not_found_exception" {
                return Err(Error::UnknownCollection(collection.to_string()));
            }
            return Err(err(format!("cannot read {} documents of {collection}", keys.len()), error, false));
        }
        Ok(docs.iter().filter(|doc| doc["found"] == true).filter_map(Self::to_stored).collect())
    }

    async fn list(&self, collection: &CollectionName, query: &ListQuery) -> Result<Page> {
        query.check()?;
        let mut filters: Vec<Value> = Vec::new();
        for (field, value) in &query.filters {
            let path = format!("doc.{field}");
            let alternatives: Vec<Value> =
                ListQuery::candidates(value).into_iter().map(|v| json!({ "term": { &path: v } })).collect();
            filters.push(json!({ "bool": { "should": alternatives, "minimum_should_match": 1 } }));
        }
        let mut must: Vec<Value> = Vec::new();
        if let Some(text) = &query.text {
            must.push(json!({ "simple_query_string": { "query": text, "fields": ["doc.*.text"], "default_operator": "and" } }));
        }
        let order = |descending: bool| if descending { "desc" } else { "asc" };
        let mut sort: Vec<Value> = Vec::new();
        let descending = query.sort.as_ref().is_some_and(|s| s.descending);
        if let Some(s) = &query.sort {
            sort.push(json!({ format!("doc.{}", s.field): { "order": order(s.descending), "missing": if s.descending { "_last" } else { "_first" }, "unmapped_type": "keyword" } }));
        }
        sort.push(json!({ "key": { "order": order(descending) } }));
        let mut body = json!({
            "size": query.limit + 1,
            "version": true,
            "query": { "bool": { "filter": filters, "must": must } },
            "sort": sort,
        });
        if let Some(cursor) = &query.cursor {
            body["search_after"] = match &query.sort {
                Some(_) => json!([cursor.sort_value, cursor.key]),
                None => json!([cursor.key]),
            };
        }
        let alias = self.alias(collection);
        let response = self
            .client
            .search(SearchParts::Index(&[&alias]))
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error("search failed", e))?;
        let status = response.status_code();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status == StatusCode::NOT_FOUND {
            return Err(Error::UnknownCollection(collection.to_string()));
        }
        if !status.is_success() {
            return Err(err(
                format!("cannot list {collection}"),
                format!("{status}: {answer}"),
                retryable(status.as_u16()),
            ));
        }
        let items = answer["hits"]["hits"]
            .as_array()
            .map(|hits| hits.iter().filter_map(Self::to_stored).collect())
            .unwrap_or_default();
        Ok(Page::from_fetched(items, query))
    }

    async fn ready(&self) -> Result<()> {
        let response = self
            .client
            .send::<(), ()>(Method::Get, "/_cluster/health", HeaderMap::new(), None, None, None)
            .await
            .map_err(|e| transport_error("the cluster does not answer", e))?;
        let status = response.status_code();
        if status.is_success() { Ok(()) } else { Err(err("cluster health", status, true)) }
    }
}
