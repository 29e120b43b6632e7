//! The read documents are a cache of PostgreSQL, which is a cache of the log: replaying the log
//! and rebuilding the collections gives the same documents, and changes made around the swap of
//! a replayed projection all reach them.

use std::{collections::BTreeMap, time::Duration};

use owp_readstore::{AnyStore, CollectionName, ListQuery, ReadStore};
use serde_json::{Value, json};

use crate::harness::ReadStack;

owp_testkit::end_to_end! {
    replay_then_translator_rebuild_reproduces_the_same_documents on postgres & opensearch;
    changes_around_a_replay_swap_reach_the_documents on postgres;
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
    owp_testkit::until("the translator has caught up", Duration::from_secs(30), async || {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM owp_capture.translator_outbox")
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

    replay(&read).await;
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

/// `owp replay` swaps in a projection schema without change capture. The translator puts its
/// capture there and rebuilds every collection, so that neither a change made before the capture
/// is back nor one made after is lost.
async fn changes_around_a_replay_swap_reach_the_documents(read: ReadStack) {
    let session = read.stack.session("finn").await;
    let before =
        read.stack.post_as(&session, json!({"item_type": "business", "name": "Before the swap"})).await;
    read.document_until("businesses", &before, |doc| doc["name"] == "Before the swap").await;

    // The capture's install lock (the translator's migrations/capture) keeps the translator from
    // putting its capture on the swapped-in schema until the change below is made.
    let mut hold = read.stack.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('owp_capture.follow'))")
        .execute(&mut *hold)
        .await
        .unwrap();
    replay(&read).await;
    // A change to the swapped-in schema before its capture is in place, as the projector may
    // make one.
    let renamed =
        sqlx::query("UPDATE businesses SET name = 'Renamed before the capture' WHERE business_id = $1::uuid")
            .bind(&before)
            .execute(&read.stack.pool)
            .await
            .unwrap();
    assert_eq!(renamed.rows_affected(), 1);
    hold.commit().await.unwrap();
    // And one after.
    let after =
        read.stack.post_as(&session, json!({"item_type": "business", "name": "After the swap"})).await;

    read.document_until("businesses", &before, |doc| doc["name"] == "Renamed before the capture").await;
    read.document_until("businesses", &after, |doc| doc["name"] == "After the swap").await;
    read.stop().await;
}

/// `owp replay` of the stack's projection, swapped in.
async fn replay(read: &ReadStack) {
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
}
