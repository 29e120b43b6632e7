//! `owp replay`: deleting the projection and rebuilding it from the log gives the same rows.

use owp_robots::replay::{self, ReplayOptions};
use serde_json::json;

use crate::support::{Stack, snapshot};

#[tokio::test]
async fn a_rebuild_from_the_log_equals_the_live_projection() {
    let stack = Stack::start().await;
    let session = stack.session("rebuilder").await;
    let mut last = String::new();
    for index in 0..20 {
        last = stack.post_as(&session, json!({"item_type": "business", "name": format!("B{index}")})).await;
    }
    stack.post_as(&uuid::Uuid::new_v4(), json!({"item_type": "business", "name": "bogus"})).await;
    let profile = stack.post(json!({"item_type": "profile", "first_name": "A", "last_name": "V"})).await;
    stack.outcome(&last).await;
    stack.outcome(&profile).await;
    let _ = stack.login("rebuilder", "wrong password").await;

    let options = ReplayOptions { group_prefix: stack.names.group_prefix(), batch: 7 };
    let names = &stack.names;
    let report = replay::replay(&names.kafka, &names.topics, &names.database, &options, true, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.checks.len(), replay::TABLES.len());
    for check in &report.checks {
        assert!(check.equal(), "{check:?}");
    }
    let before = snapshot(&stack.pool).await;
    assert!(before.iter().any(|(table, rows, _)| table == "businesses" && *rows == 20), "{before:?}");

    // Swap a rebuilt projection in: same rows.
    let report = replay::replay(&names.kafka, &names.topics, &names.database, &options, false, &|_, _| {})
        .await
        .unwrap();
    assert!(report.events > 20);
    let fresh = names.pool().await;
    assert_eq!(snapshot(&fresh).await, before);

    // The live robots continue on the swapped-in schema.
    let after = stack.post_as(&session, json!({"item_type": "business", "name": "after the swap"})).await;
    assert_eq!(
        crate::support::wait_outcome(&fresh, &after, std::time::Duration::from_secs(30)).await.0,
        "accepted"
    );
    stack.stop().await;
}
