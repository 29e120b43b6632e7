//! The read path in process (feature `read-path`): the stack of [`crate::services`] with the
//! translator and the read point, on a temporary copy of the shipped `translator.toml` and on one
//! of the read stores: PostgreSQL, or the OpenSearch node `scripts/services start` runs (at
//! `OWP_TEST_OPENSEARCH_URL`, or `ELASTICSEARCH_URL`), each test in indices of its own. Shared by
//! the translator's and the read point's tests.

use std::{path::PathBuf, time::Duration};

use owp_platform::shutdown::ShutdownSettings;
use owp_readstore::{AnyStore, ReadStoreSettings};
use serde_json::Value;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::services::{Names, Stack};

/// The configuration the repository ships.
pub fn shipped_config() -> String {
    // The directory cargo runs the test in: a build cache shared by clones keeps the path an
    // unchanged test was compiled in.
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    std::fs::read_to_string(PathBuf::from(crate_dir).join("../../translator.toml")).unwrap()
}

/// Runs an end-to-end test body, `async fn body(read: ReadStack)`, once per read store named:
/// `end_to_end! { body on postgres & opensearch; }` makes the tests `body::postgres` and
/// `body::opensearch`.
#[macro_export]
macro_rules! end_to_end {
    ($($body:ident on $($store:ident)&+;)*) => {$(
        mod $body {$(
            #[tokio::test]
            async fn $store() {
                super::$body($crate::read_path::ReadStack::$store().await).await;
            }
        )+}
    )*};
}

/// The search engine's URL; a test that needs one and finds none fails, saying how to get one.
pub fn opensearch_url() -> String {
    ["OWP_TEST_OPENSEARCH_URL", "ELASTICSEARCH_URL"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|url| !url.is_empty()))
        .unwrap_or_else(|| {
            panic!(
                "no OpenSearch to test against: run `scripts/services start` (it starts OpenSearch on \
                 127.0.0.1:9200) and set OWP_TEST_OPENSEARCH_URL=http://127.0.0.1:9200"
            )
        })
}

pub struct ReadStack {
    pub stack: Stack,
    /// The read store the translator writes and the read point reads, for a test to look into.
    pub store: AnyStore,
    pub readpoint: String,
    pub translator: String,
    pub config: PathBuf,
    _dir: tempfile::TempDir,
    shutdown: CancellationToken,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl std::fmt::Debug for ReadStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadStack")
            .field("readpoint", &self.readpoint)
            .field("translator", &self.translator)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ReadStack {
    /// The stack with the PostgreSQL read store.
    pub async fn postgres() -> Self {
        Self::start(ReadStoreSettings::default()).await
    }

    /// The stack with the OpenSearch read store, in indices named after the test's topics.
    pub async fn opensearch() -> Self {
        let url = opensearch_url();
        Self::start(ReadStoreSettings { read_store: url, ..ReadStoreSettings::default() }).await
    }

    async fn start(mut store: ReadStoreSettings) -> Self {
        let stack = Stack::start_on(Names::create().await, true).await;
        store.index_prefix = stack.names.prefix.replace('.', "-");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("translator.toml");
        std::fs::write(&config, shipped_config()).unwrap();
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let opened = store.open(owp_translator::pool(&stack.names.database, 2).await.unwrap()).unwrap();
        if let Err(error) = owp_readstore::ReadStore::ready(&opened).await {
            panic!(
                "the read store {} does not answer ({error}): is `scripts/services start` running it?",
                store.redacted()
            );
        }

        let settings = owp_translator::Settings {
            config: config.clone(),
            addr: ([127, 0, 0, 1], 0).into(),
            poll: Duration::from_millis(200),
            ..owp_translator::Settings::default()
        };
        let translator = owp_translator::Translator::build(
            &stack.names.database,
            &store,
            &ShutdownSettings::default(),
            settings,
        )
        .await
        .unwrap();
        let translator_url = format!("http://{}", translator.local_addr());
        let stop = shutdown.clone();
        tasks.spawn(async move { Ok(translator.run(stop).await?) });

        let settings = owp_readpoint::Settings {
            addr: ([127, 0, 0, 1], 0).into(),
            ..owp_readpoint::Settings::default()
        };
        let access = owp_readpoint::Access::load(&config, owp_projection::SessionLimits::defaults()).unwrap();
        let readpoint = owp_readpoint::Application::build(
            &stack.names.database,
            &store,
            &ShutdownSettings::default(),
            settings,
            access,
        )
        .await
        .unwrap();
        let readpoint_url = format!("http://{}", readpoint.local_addr());
        let stop = shutdown.clone();
        tasks.spawn(async move { Ok(readpoint.run(stop).await?) });

        let this = Self {
            stack,
            store: opened,
            readpoint: readpoint_url,
            translator: translator_url,
            config,
            _dir: dir,
            shutdown,
            tasks,
        };
        // Ready once every shipped collection is published.
        crate::until("the shipped collections are published", Duration::from_secs(60), async || {
            let status = this.status().await;
            let collections = status["collections"].as_array().cloned().unwrap_or_default();
            collections.len() == 3 && collections.iter().all(|c| c["published_version"].is_u64())
        })
        .await;
        this
    }

    /// Stops everything; only a test that passed gets here, and its OpenSearch indices go (a
    /// failed one leaves them to look at).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            joined.unwrap().unwrap();
        }
        self.stack.stop().await;
        if let AnyStore::Elastic(store) = &self.store {
            store.drop_all().await.unwrap();
        }
    }

    pub async fn status(&self) -> Value {
        self.stack
            .client
            .get(format!("{}/status", self.translator))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.stack.client.get(format!("{}{path}", self.readpoint)).send().await.unwrap()
    }

    /// GET with `Authorization: Bearer <session>`.
    pub async fn get_as(&self, session: &str, path: &str) -> reqwest::Response {
        self.stack.client.get(format!("{}{path}", self.readpoint)).bearer_auth(session).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_json_as(&self, session: &str, path: &str) -> (u16, Value) {
        let response = self.get_as(session, path).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The document at `collection/key` once `check` holds for it.
    pub async fn document_until(&self, collection: &str, key: &str, check: impl Fn(&Value) -> bool) -> Value {
        self.document_until_as(None, collection, key, check).await
    }

    /// [`Self::document_until`], read with `session` when one is given.
    pub async fn document_until_as(
        &self,
        session: Option<&str>,
        collection: &str,
        key: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let path = format!("/v1/collections/{collection}/{key}");
        let mut last = Value::Null;
        let found = crate::eventually(Duration::from_secs(30), Duration::from_millis(50), async || {
            let (status, body) = match session {
                Some(session) => self.get_json_as(session, &path).await,
                None => self.get_json(&path).await,
            };
            let held = status == 200 && check(&body);
            last = body;
            held.then(|| last.clone())
        })
        .await;
        found.unwrap_or_else(|| panic!("{path}: condition not met within 30 s; last answer {last}"))
    }
}
