//! The read store contract, written once and run against every store: PostgreSQL and a search
//! engine, OpenSearch (what `scripts/services start` runs) or Elasticsearch. Both halves are
//! mandatory: without a search engine to talk to, its half fails and says how to get one.

use owp_platform::db::DatabaseSettings;
use owp_readstore::{
    CollectionName, Cursor, DocWrite, ElasticStore, Error, ListQuery, PgStore, ReadStore, Sort, Target,
    VersionWrite,
};
use serde_json::{Value, json};

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

async fn postgres() -> PgStore {
    let base = std::env::var("OWP_TEST_DATABASE_BASE")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let database = DatabaseSettings::new(format!("{base}/owp_test_{}", unique()));
    database.create_database_if_missing().await.unwrap();
    PgStore::new(database.pool("public", 4).await.unwrap())
}

/// The search engine's URL: `OWP_TEST_OPENSEARCH_URL`, or `ELASTICSEARCH_URL` as before.
fn search_engine_url() -> String {
    ["OWP_TEST_OPENSEARCH_URL", "ELASTICSEARCH_URL"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|url| !url.is_empty()))
        .unwrap_or_else(|| {
            panic!(
                "no search engine to test against: run `scripts/services start` (it starts OpenSearch on \
                 127.0.0.1:9200) and set OWP_TEST_OPENSEARCH_URL=http://127.0.0.1:9200, or point \
                 OWP_TEST_OPENSEARCH_URL (or ELASTICSEARCH_URL) at another Elasticsearch or OpenSearch cluster"
            )
        })
}

/// A store with indices of its own (`owp-test-<random>-…`), so that tests run in parallel.
async fn search_engine() -> ElasticStore {
    let url = search_engine_url();
    let store = ElasticStore::connect_with_prefix(&url, &format!("owp-test-{}", unique())).unwrap();
    if let Err(error) = store.ready().await {
        panic!(
            "the search engine at {url} does not answer ({error}): is `scripts/services start` running it?"
        );
    }
    store
}

/// Runs one contract function against each store.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn postgres() {
                super::$name(&super::postgres().await).await;
            }
            #[tokio::test]
            async fn search_engine() {
                let store = super::search_engine().await;
                super::$name(&store).await;
                // Only after a pass: a failed test leaves its indices to look at.
                store.drop_all().await.unwrap();
            }
        }
    )*};
}

contract!(
    versions_decide_which_write_wins,
    unknown_collections_are_reported,
    rebuild_is_swapped_in_atomically,
    listing_filters_searches_sorts_and_pages,
    bad_listing_requests_are_refused,
    one_write_reaches_several_versions,
    many_documents_are_read_in_one_request
);

fn collection(name: &str) -> CollectionName {
    CollectionName::parse(&format!("{name}_{}", unique())).unwrap()
}

fn put(key: &str, version: i64, doc: Value) -> DocWrite {
    DocWrite { key: key.into(), version, doc: Some(doc) }
}

fn delete(key: &str, version: i64) -> DocWrite {
    DocWrite { key: key.into(), version, doc: None }
}

async fn published_v1<S: ReadStore>(store: &S, name: &str) -> Target {
    let target = Target::new(collection(name), 1);
    store.create_version(&target).await.unwrap();
    store.publish(&target).await.unwrap();
    target
}

async fn versions_decide_which_write_wins<S: ReadStore>(store: &S) {
    let target = published_v1(store, "versions").await;
    let c = &target.collection;
    store.write(&target, &[put("a", 5, json!({"name": "five"}))]).await.unwrap();
    let got = store.get(c, "a").await.unwrap().expect("written document");
    assert_eq!((got.doc, got.version), (json!({"name": "five"}), 5));

    // An older write, and an older deletion, change nothing.
    store.write(&target, &[put("a", 3, json!({"name": "three"})), delete("a", 4)]).await.unwrap();
    assert_eq!(store.get(c, "a").await.unwrap().unwrap().doc, json!({"name": "five"}));

    store.write(&target, &[put("a", 7, json!({"name": "seven"}))]).await.unwrap();
    assert_eq!(store.get(c, "a").await.unwrap().unwrap().doc, json!({"name": "seven"}));

    // A newer deletion removes it, and a late older write cannot bring it back.
    store.write(&target, &[delete("a", 8)]).await.unwrap();
    assert_eq!(store.get(c, "a").await.unwrap(), None);
    store.write(&target, &[put("a", 6, json!({"name": "six"}))]).await.unwrap();
    assert_eq!(store.get(c, "a").await.unwrap(), None);

    // Writing the same version again is harmless (a retried batch).
    store.write(&target, &[put("b", 2, json!({"n": 1}))]).await.unwrap();
    store.write(&target, &[put("b", 2, json!({"n": 1}))]).await.unwrap();
    assert_eq!(store.get(c, "b").await.unwrap().unwrap().doc, json!({"n": 1}));
    // Deleting what is not there is done, not an error.
    store.write(&target, &[delete("never", 1)]).await.unwrap();
}

async fn unknown_collections_are_reported<S: ReadStore>(store: &S) {
    let missing = collection("missing");
    assert!(matches!(store.get(&missing, "k").await, Err(Error::UnknownCollection(_))));
    assert!(matches!(store.list(&missing, &ListQuery::default()).await, Err(Error::UnknownCollection(_))));
    assert_eq!(store.published(&missing).await.unwrap(), None);
}

async fn rebuild_is_swapped_in_atomically<S: ReadStore>(store: &S) {
    let v1 = published_v1(store, "swap").await;
    let c = v1.collection.clone();
    store.write(&v1, &[put("old", 1, json!({"from": "v1"}))]).await.unwrap();

    let v2 = Target::new(c.clone(), 2);
    store.create_version(&v2).await.unwrap();
    store.write(&v2, &[put("new", 2, json!({"from": "v2"}))]).await.unwrap();
    // Readers keep seeing v1 until the swap.
    assert!(store.get(&c, "old").await.unwrap().is_some());
    assert_eq!(store.get(&c, "new").await.unwrap(), None);
    assert_eq!(store.published(&c).await.unwrap(), Some(v1.clone()));

    store.publish(&v2).await.unwrap();
    assert_eq!(store.get(&c, "old").await.unwrap(), None);
    assert_eq!(store.get(&c, "new").await.unwrap().unwrap().doc, json!({"from": "v2"}));
    // Searches see everything the rebuild wrote as soon as it is published.
    let listed = store.list(&c, &ListQuery::default()).await.unwrap();
    assert_eq!(listed.items.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(), vec!["new"]);
    assert_eq!(store.published(&c).await.unwrap(), Some(v2.clone()));

    // The published version cannot be dropped; the old one can.
    assert!(store.drop_version(&v2).await.is_err());
    store.drop_version(&v1).await.unwrap();
    assert!(store.get(&c, "new").await.unwrap().is_some());

    store.unpublish(&c).await.unwrap();
    assert!(matches!(store.get(&c, "new").await, Err(Error::UnknownCollection(_))));
    assert_eq!(store.published(&c).await.unwrap(), None);
}

async fn listing_filters_searches_sorts_and_pages<S: ReadStore>(store: &S) {
    let target = published_v1(store, "listing").await;
    let c = &target.collection;
    let docs: Vec<DocWrite> = (0..25)
        .map(|i| {
            put(
                &format!("k{i:02}"),
                1,
                json!({
                    "session_id": if i % 2 == 0 { "even" } else { "odd" },
                    "rank": i,
                    "at": format!("2026-01-01T00:00:{i:02}Z"),
                    "tags": if i % 5 == 0 { json!(["fifth", "any"]) } else { json!(["any"]) },
                    "title": if i == 7 { "Country Vegetables" } else { "Town Fruit" },
                }),
            )
        })
        .collect();
    store.write(&target, &docs).await.unwrap();

    let keys = |page: &owp_readstore::Page| page.items.iter().map(|d| d.key.clone()).collect::<Vec<_>>();
    let filter = |field: &str, value: &str| ListQuery {
        filters: vec![(field.into(), value.into())],
        limit: 100,
        ..ListQuery::default()
    };

    let odd = store.list(c, &filter("session_id", "odd")).await.unwrap();
    assert_eq!(odd.items.len(), 12);
    assert!(odd.next_cursor.is_none());
    assert_eq!(keys(&store.list(c, &filter("rank", "7")).await.unwrap()), vec!["k07"]);
    assert_eq!(
        keys(&store.list(c, &filter("tags", "fifth")).await.unwrap()),
        vec!["k00", "k05", "k10", "k15", "k20"]
    );
    assert!(store.list(c, &filter("session_id", "nobody")).await.unwrap().items.is_empty());

    let text = ListQuery { text: Some("vegetables".into()), ..ListQuery::default() };
    assert_eq!(keys(&store.list(c, &text).await.unwrap()), vec!["k07"]);

    // Pages of 10, newest first, through the cursor: every document exactly once, in order.
    let mut query = ListQuery {
        filters: vec![("tags".into(), "any".into())],
        sort: Some(Sort { field: "at".into(), descending: true }),
        limit: 10,
        ..ListQuery::default()
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.list(c, &query).await.unwrap();
        pages += 1;
        seen.extend(keys(&page));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(Cursor::decode(&cursor).unwrap()),
            None => break,
        }
        assert!(pages < 10, "paging must end");
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("k{i:02}")).collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);

    // Ordered by key when no sort is given.
    let first = store.list(c, &ListQuery { limit: 3, ..ListQuery::default() }).await.unwrap();
    assert_eq!(keys(&first), vec!["k00", "k01", "k02"]);
    assert!(first.next_cursor.is_some());
}

async fn bad_listing_requests_are_refused<S: ReadStore>(store: &S) {
    let target = published_v1(store, "bad").await;
    let bad_field = ListQuery { filters: vec![("a'b".into(), "x".into())], ..ListQuery::default() };
    assert!(matches!(store.list(&target.collection, &bad_field).await, Err(Error::Query(_))));
    let zero = ListQuery { limit: 0, ..ListQuery::default() };
    assert!(matches!(store.list(&target.collection, &zero).await, Err(Error::Query(_))));
}

/// The translator writes a batch into the published version of each collection it touches (and
/// the one being built beside it) with one call; each version gets its own documents.
async fn one_write_reaches_several_versions<S: ReadStore>(store: &S) {
    let first = published_v1(store, "first").await;
    let second = published_v1(store, "second").await;
    let building = Target::new(second.collection.clone(), 2);
    store.create_version(&building).await.unwrap();
    let a = [put("a", 3, json!({"name": "in first"})), delete("gone", 3)];
    let b = [put("b", 3, json!({"name": "in second"}))];
    let writes = [
        VersionWrite { target: &first, docs: &a },
        VersionWrite { target: &second, docs: &b },
        VersionWrite { target: &building, docs: &b },
        VersionWrite { target: &building, docs: &[] },
    ];
    store.write_all(&writes).await.unwrap();
    let name = |doc: Option<owp_readstore::StoredDoc>| doc.map(|d| d.doc["name"].clone());
    assert_eq!(name(store.get(&first.collection, "a").await.unwrap()), Some(json!("in first")));
    assert_eq!(name(store.get(&first.collection, "b").await.unwrap()), None);
    assert_eq!(name(store.get(&second.collection, "b").await.unwrap()), Some(json!("in second")));
    store.publish(&building).await.unwrap();
    assert_eq!(name(store.get(&second.collection, "b").await.unwrap()), Some(json!("in second")));
    // Nothing to write is no request at all, and no error.
    store.write_all(&[]).await.unwrap();
}

/// A read store written by the version before the search words had a column of their own keeps
/// working with this one: its tables and views are brought up to date on first use, writes go
/// on, and what is written from then on is found by `q` (the translator rebuilds every
/// collection after such an upgrade, see `owp_readstore::LAYOUT`).
#[tokio::test]
async fn postgres_tables_of_the_earlier_layout_are_brought_up_to_date() {
    let store = postgres().await;
    let c = collection("legacy");
    for statement in [
        "CREATE SCHEMA owp_read".to_owned(),
        "CREATE TABLE owp_read.published (collection text PRIMARY KEY, version integer NOT NULL)".to_owned(),
        format!(
            "CREATE TABLE owp_read.\"{c}__v1\" (key text PRIMARY KEY, doc jsonb, version bigint NOT NULL)"
        ),
        format!(
            "CREATE VIEW owp_read.\"{c}\" AS SELECT key, doc, version FROM owp_read.\"{c}__v1\" WHERE doc IS NOT NULL"
        ),
        format!("INSERT INTO owp_read.published VALUES ('{c}', 1)"),
        format!("INSERT INTO owp_read.\"{c}__v1\" VALUES ('old', '{{\"name\": \"Old Mill\"}}', 1)"),
    ] {
        sqlx::query(&statement).execute(store.pool()).await.unwrap();
    }
    let target = Target::new(c.clone(), 1);
    store.write(&target, &[put("new", 2, json!({"name": "New Mill"}))]).await.unwrap();
    let search = |text: &str| ListQuery { text: Some(text.into()), ..ListQuery::default() };
    let found = store.list(&c, &search("mill")).await.unwrap();
    assert_eq!(found.items.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(), vec!["new"]);
    assert_eq!(store.get(&c, "old").await.unwrap().map(|d| d.doc["name"].clone()), Some(json!("Old Mill")));
}

/// The read point looks up the outcomes of many waiting requests at once.
async fn many_documents_are_read_in_one_request<S: ReadStore>(store: &S) {
    let target = published_v1(store, "many").await;
    let c = &target.collection;
    let docs = [put("a", 1, json!({"n": 1})), put("b", 1, json!({"n": 2})), put("gone", 1, json!({"n": 3}))];
    store.write(&target, &docs).await.unwrap();
    store.write(&target, &[delete("gone", 2)]).await.unwrap();
    let keys: Vec<String> = ["b", "missing", "gone", "a"].map(String::from).to_vec();
    let mut found = store.get_many(c, &keys).await.unwrap();
    found.sort_by(|x, y| x.key.cmp(&y.key));
    let found: Vec<(&str, Value)> = found.iter().map(|d| (d.key.as_str(), d.doc["n"].clone())).collect();
    assert_eq!(found, vec![("a", json!(1)), ("b", json!(2))], "only what exists, deletions included");
    assert!(store.get_many(c, &[]).await.unwrap().is_empty());
    let unknown = collection("never_published");
    assert!(matches!(store.get_many(&unknown, &keys).await, Err(Error::UnknownCollection(_))));
}
