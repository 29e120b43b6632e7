//! The read documents are a cache of PostgreSQL, which is a cache of the log: replaying the log
//! and rebuilding the collections gives the same documents.

use std::{collections::BTreeMap, time::Duration};

use owp_readstore::{AnyStore, CollectionName, ListQuery, ReadStore};
use serde_json::{Value, json};

use crate::harness::ReadStack;

end_to_end! {
    replay_then_translator_rebuild_reproduces_the_same_documents on postgres & opensearch;
}

async fn all_documents(store: &AnyStore) -> BTreeMap<String, Vec<(String, Value)>> {
    let mut out = BTreeMap::new();
    for name in ["businesses", "profiles", "messages"] {
        let collection = CollectionName::parse(name).unwrap();
        let mut query = ListQuery { limit: 500, ..ListQuery::default() };
        let mut docs = Vec::new();
        loop {
            let page = store.list(&collection, &query).await.unwrap();
            docs.extend(page.items.into_iter().map(|d| (d.key, d.doc)));
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(owp_readstore::Cursor::decode(&cursor).unwrap()),
                None => break,
            }
        }
        out.insert(name.to_owned(), docs);
    }
    out
}

async fn replay_then_translator_rebuild_reproduces_the_same_documents(read: ReadStack) {
    let session = read.stack.session("eve").await;
    let mut last = String::new();
    for i in 0..20 {
        last =
            read.stack.post_as(&session, json!({"item_type": "business", "name": format!("Shop {i}")})).await;
    }
    let profile = read
        .stack
        .post_as(&session, json!({"item_type": "profile", "first_name": "Eve", "last_name": "Ng"}))
        .await;
    read.stack.post_as(&uuid::Uuid::new_v4(), json!({"item_type": "business", "name": "Rejected"})).await;
    for id in [&last, &profile] {
        let (_, outcome) = read.get_json_as(&session, &format!("/v1/documents/{id}?wait=10s")).await;
        assert_eq!(outcome["status"], "accepted");
    }
    // Everything projected has reached the documents once the outbox is empty.
    read.until("the translator has caught up", Duration::from_secs(30), async || {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM translator_outbox")
            .fetch_one(&read.stack.pool)
            .await
            .unwrap()
            == 0
    })
    .await;
    let before = all_documents(&read.store).await;
    assert_eq!(before["businesses"].len(), 20);
    let messages: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages").fetch_one(&read.stack.pool).await.unwrap();
    assert_eq!(before["messages"].len() as i64, messages, "one message document per outcome");
    assert!(messages >= 22, "20 businesses, the profile and the rejection: {messages}");

    let options = owp_robots::replay::ReplayOptions {
        group_prefix: read.stack.names.group_prefix(),
        ..Default::default()
    };
    owp_robots::replay::replay(
        &read.stack.names.kafka,
        &read.stack.names.topics,
        &read.stack.names.database,
        &options,
        false,
        &|_, _| {},
    )
    .await
    .unwrap();
    let versions = read.status().await["collections"].clone();
    let rebuilt =
        owp_translator::operator::rebuild(&read.stack.names.database, &[], Duration::from_secs(60), &|_| {})
            .await
            .unwrap();
    assert_eq!(rebuilt.len(), 3);
    let after = all_documents(&read.store).await;
    assert_eq!(after, before, "the same documents after replay and rebuild");
    assert_ne!(read.status().await["collections"], versions, "new versions were published");
    read.stop().await;
}
