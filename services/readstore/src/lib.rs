//! The read store: where the translator puts denormalized documents and the read point reads
//! them. One trait, [`ReadStore`], two implementations: PostgreSQL JSONB ([`PgStore`], the
//! embedded default) and a search engine, Elasticsearch or OpenSearch ([`ElasticStore`]).
//! [`AnyStore`] picks one from `OWP_READ_STORE`.
//!
//! The model every store follows:
//! - a collection has numbered versions; exactly one is *published* (an alias in the search
//!   engine, a view in PostgreSQL) and that is what readers see, so a full rebuild is built
//!   beside the live version and swapped in atomically;
//! - every written document carries a version number from the translator; a write with a lower
//!   or equal version than the stored one is ignored, so a late writer can never overwrite newer
//!   content, and a deletion is a write too (a tombstone in PostgreSQL).

mod elastic;
mod error;
mod model;
mod postgres;

pub use elastic::ElasticStore;
pub use error::{Error, Result};
pub use model::{DocWrite, ListQuery, Page, Sort, StoredDoc, Target, VersionWrite};
pub use owp_collections::{CollectionName, Cursor};
pub use postgres::PgStore;

/// How the stores keep documents. Bumped when that changes in a way only a rebuild brings to the
/// documents already written (2: the PostgreSQL store's search words leave out identifiers and
/// timestamps); the translator counts it in every collection's fingerprint, so that it rebuilds
/// each collection once after an upgrade.
pub const LAYOUT: u32 = 2;

/// Where documents live; see the crate documentation for the model.
#[allow(async_fn_in_trait)] // used through generics and [`AnyStore`], never as a trait object
pub trait ReadStore: Send + Sync {
    /// A short name for messages and metrics (`postgres`, `elasticsearch`).
    fn kind(&self) -> &'static str;
    /// Creates the physical version if it does not exist yet.
    async fn create_version(&self, target: &Target) -> Result<()>;
    /// Writes documents (or deletes them, `doc: None`) into several versions, each at most once,
    /// in as few requests as the store allows (one); each document only if its version is newer.
    async fn write_all(&self, writes: &[VersionWrite<'_>]) -> Result<()>;
    /// Writes documents (or deletes them, `doc: None`) into one version, each only if its
    /// version is newer.
    async fn write(&self, target: &Target, docs: &[DocWrite]) -> Result<()> {
        self.write_all(&[VersionWrite { target, docs }]).await
    }
    /// Makes `target` the version readers see, atomically.
    async fn publish(&self, target: &Target) -> Result<()>;
    /// The published version of a collection, if any.
    async fn published(&self, collection: &CollectionName) -> Result<Option<Target>>;
    /// Removes a version that is not published (any more).
    async fn drop_version(&self, target: &Target) -> Result<()>;
    /// Withdraws a collection: readers no longer see it. Its versions stay until dropped.
    async fn unpublish(&self, collection: &CollectionName) -> Result<()>;
    /// One document of the published version.
    async fn get(&self, collection: &CollectionName, key: &str) -> Result<Option<StoredDoc>>;
    /// The documents of the published version that exist among `keys`, in one request, in no
    /// particular order.
    async fn get_many(&self, collection: &CollectionName, keys: &[String]) -> Result<Vec<StoredDoc>>;
    /// A filtered page of the published version.
    async fn list(&self, collection: &CollectionName, query: &ListQuery) -> Result<Page>;
    /// Answers when the store is reachable.
    async fn ready(&self) -> Result<()>;
}

/// The store named by `OWP_READ_STORE`: `postgres` or the URL of an Elasticsearch or OpenSearch
/// cluster.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Postgres(PgStore),
    Elastic(ElasticStore),
}

impl AnyStore {
    /// `setting` is the value of `OWP_READ_STORE`; `pool` is used when it says `postgres`,
    /// `index_prefix` when it is a URL.
    pub fn from_setting(setting: &str, index_prefix: &str, pool: sqlx::PgPool) -> Result<Self> {
        match setting.trim() {
            "postgres" | "postgresql" => Ok(Self::Postgres(PgStore::new(pool))),
            url if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Self::Elastic(ElasticStore::connect_with_prefix(url, index_prefix)?))
            }
            other => Err(Error::Setting(format!(
                "OWP_READ_STORE is {other:?}: expected `postgres` or the URL (http:// or https://) of an Elasticsearch or OpenSearch cluster"
            ))),
        }
    }
}

macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Postgres($store) => $call,
            AnyStore::Elastic($store) => $call,
        }
    };
}

impl ReadStore for AnyStore {
    fn kind(&self) -> &'static str {
        delegate!(self, s => s.kind())
    }
    async fn create_version(&self, target: &Target) -> Result<()> {
        delegate!(self, s => s.create_version(target).await)
    }
    async fn write_all(&self, writes: &[VersionWrite<'_>]) -> Result<()> {
        delegate!(self, s => s.write_all(writes).await)
    }
    async fn publish(&self, target: &Target) -> Result<()> {
        delegate!(self, s => s.publish(target).await)
    }
    async fn published(&self, collection: &CollectionName) -> Result<Option<Target>> {
        delegate!(self, s => s.published(collection).await)
    }
    async fn drop_version(&self, target: &Target) -> Result<()> {
        delegate!(self, s => s.drop_version(target).await)
    }
    async fn unpublish(&self, collection: &CollectionName) -> Result<()> {
        delegate!(self, s => s.unpublish(collection).await)
    }
    async fn get(&self, collection: &CollectionName, key: &str) -> Result<Option<StoredDoc>> {
        delegate!(self, s => s.get(collection, key).await)
    }
    async fn get_many(&self, collection: &CollectionName, keys: &[String]) -> Result<Vec<StoredDoc>> {
        delegate!(self, s => s.get_many(collection, keys).await)
    }
    async fn list(&self, collection: &CollectionName, query: &ListQuery) -> Result<Page> {
        delegate!(self, s => s.list(collection, query).await)
    }
    async fn ready(&self) -> Result<()> {
        delegate!(self, s => s.ready().await)
    }
}

/// The `OWP_READ_STORE` settings, shared by the translator and the read point.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "read_store_settings")]
pub struct ReadStoreSettings {
    /// Where read documents live: `postgres` (JSONB tables in the OWP database) or the URL of an
    /// Elasticsearch or OpenSearch cluster (`https://user:password@host:9200`).
    #[arg(long = "read-store", env = "OWP_READ_STORE", default_value = "postgres")]
    pub read_store: String,
    /// In a search engine, the first part of every index and alias name
    /// (`<prefix>-<collection>-v<n>`), so that several deployments (or tests) share a cluster.
    #[arg(long = "read-store-prefix", env = "OWP_READ_STORE_PREFIX", default_value = "owp")]
    pub index_prefix: String,
}

impl Default for ReadStoreSettings {
    fn default() -> Self {
        owp_platform::config::defaults()
    }
}

impl ReadStoreSettings {
    /// The store, with `pool` for the PostgreSQL one.
    pub fn open(&self, pool: sqlx::PgPool) -> Result<AnyStore> {
        AnyStore::from_setting(&self.read_store, &self.index_prefix, pool)
    }

    /// The URL without its password, for messages.
    pub fn redacted(&self) -> String {
        match self
            .read_store
            .split_once("://")
            .and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?)))
        {
            Some((scheme, (_, host))) => format!("{scheme}://***@{host}"),
            None => self.read_store.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_store_is_postgres_with_the_owp_prefix() {
        let settings = super::ReadStoreSettings::default();
        assert_eq!((settings.read_store.as_str(), settings.index_prefix.as_str()), ("postgres", "owp"));
    }
}
