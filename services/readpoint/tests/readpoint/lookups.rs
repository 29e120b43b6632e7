//! Outcome look-ups of concurrent requests become one read-store request.

use std::sync::Arc;

use owp_readpoint::Lookups;
use owp_readstore::{AnyStore, CollectionName, DocWrite, ElasticStore, PgStore, ReadStore, Target};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::{harness::opensearch_url, support::Names};

/// A counter's value in the registry's text encoding.
fn counter(registry: &prometheus_client::registry::Registry, name: &str) -> f64 {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in {text}"))
}

// One thread: the look-ups below are all queued before the worker first runs, so the test does
// not depend on timing.
mod concurrent_lookups_are_one_store_request_and_each_gets_its_document {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn postgres() {
        let names = Names::create().await;
        let store = PgStore::new(names.database.pool("owp_read", 4).await.unwrap());
        super::concurrent_lookups_are_one_store_request_and_each_gets_its_document(AnyStore::Postgres(store))
            .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn opensearch() {
        let prefix = format!("owp-test-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let store = ElasticStore::connect_with_prefix(&opensearch_url(), &prefix).unwrap();
        super::concurrent_lookups_are_one_store_request_and_each_gets_its_document(AnyStore::Elastic(
            store.clone(),
        ))
        .await;
        store.drop_all().await.unwrap();
    }
}

async fn concurrent_lookups_are_one_store_request_and_each_gets_its_document(store: AnyStore) {
    let collection = CollectionName::parse("messages").unwrap();
    let target = Target::new(collection.clone(), 1);
    store.create_version(&target).await.unwrap();
    store.publish(&target).await.unwrap();
    let docs: Vec<DocWrite> = (0..60)
        .map(|i| DocWrite { key: format!("doc-{i}"), version: 1, doc: Some(json!({"n": i})) })
        .collect();
    store.write(&target, &docs).await.unwrap();

    let mut registry = prometheus_client::registry::Registry::default();
    let stop = CancellationToken::new();
    let lookups = Lookups::start(Arc::new(store), &mut registry, stop.clone());
    // 100 look-ups: 60 documents that exist, 20 that do not, and 20 asked for twice.
    let keys: Vec<String> = (0..80).chain(0..20).map(|i| format!("doc-{i}")).collect();
    let answers = futures::future::join_all(keys.iter().map(|key| lookups.get(&collection, key))).await;
    for (key, answer) in keys.iter().zip(answers) {
        let n: usize = key.trim_start_matches("doc-").parse().unwrap();
        let found = answer.unwrap();
        match n {
            0..60 => assert_eq!(found.map(|d| d.doc), Some(json!({"n": n})), "{key}"),
            _ => assert!(found.is_none(), "{key} does not exist"),
        }
    }
    assert_eq!(counter(&registry, "readpoint_lookup_requests_total"), 1.0);
    assert_eq!(counter(&registry, "readpoint_lookup_keys_total"), 80.0, "each key once");

    // A lone look-up goes straight through.
    assert!(lookups.get(&collection, "doc-3").await.unwrap().is_some());
    assert_eq!(counter(&registry, "readpoint_lookup_requests_total"), 2.0);
    stop.cancel();
}
