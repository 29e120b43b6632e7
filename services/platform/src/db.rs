//! PostgreSQL connections, written once: the database setting, pools pinned to a schema, and
//! creating a database that does not exist yet (the local stack and the tests).

use std::{str::FromStr, time::Duration};

use sqlx::{
    ConnectOptions, Connection, PgPool,
    postgres::{PgConnectOptions, PgConnection, PgPoolOptions},
};

use crate::{Error, Result};

#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseSettings {
    /// PostgreSQL connection URL.
    #[arg(
        long,
        env = "OWP_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/owp",
        global = true
    )]
    pub database_url: String,
}

impl DatabaseSettings {
    pub fn new(url: impl Into<String>) -> Self {
        Self { database_url: url.into() }
    }

    fn options(&self) -> Result<PgConnectOptions> {
        PgConnectOptions::from_str(&self.database_url).map_err(|err| Error::Database {
            context: "OWP_DATABASE_URL is not a PostgreSQL URL".into(),
            source: err,
        })
    }

    /// The database name in the URL.
    pub fn database_name(&self) -> Result<String> {
        Ok(self.options()?.get_database().unwrap_or("postgres").to_owned())
    }

    /// Creates the database named in the URL if it does not exist (connecting to `postgres`).
    pub async fn create_database_if_missing(&self) -> Result<()> {
        let name = self.database_name()?;
        let mut admin =
            PgConnection::connect_with(&self.options()?.database("postgres")).await.map_err(|err| {
                Error::Database { context: "cannot connect to the postgres database".into(), source: err }
            })?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await
            .map_err(|err| Error::Database { context: "cannot list databases".into(), source: err })?;
        if !exists {
            // CREATE DATABASE takes no bind parameters; the name is quoted as an identifier.
            let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
            if let Err(err) = sqlx::query(&statement).execute(&mut admin).await {
                // Another process may have created it meanwhile.
                let duplicate = err.as_database_error().and_then(|e| e.code()).is_some_and(|c| c == "42P04");
                if !duplicate {
                    return Err(Error::Database {
                        context: format!("cannot create database {name}"),
                        source: err,
                    });
                }
            }
        }
        let _ = admin.close().await;
        Ok(())
    }

    /// A pool whose connections resolve unqualified table names in `schema` first.
    pub async fn pool(&self, schema: &str, max_connections: u32) -> Result<PgPool> {
        self.pool_with(schema, max_connections, &[]).await
    }

    /// [`DatabaseSettings::pool`] with more session settings (e.g. `synchronous_commit`).
    pub async fn pool_with(
        &self,
        schema: &str,
        max_connections: u32,
        settings: &[(&str, &str)],
    ) -> Result<PgPool> {
        // Every statement is planned for the tables as they are when it runs. With PostgreSQL's
        // default, a prepared statement (sqlx prepares every query it runs) switches to a cached
        // generic plan after five runs, and our tables start empty: a lookup by key planned as a
        // scan of a one-page table stayed a scan at 10,000 rows, and at 500 documents/s the
        // translator's queries took seconds each. Our statements are few per batch, so planning
        // each one costs little.
        let options = self
            .options()?
            .options([("search_path", schema), ("plan_cache_mode", "force_custom_plan")])
            .options(settings.iter().copied())
            .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(2));
        PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|err| Error::Database {
                context: format!("cannot connect to {}", self.redacted()),
                source: err,
            })
    }

    /// The URL without its password, for messages.
    pub fn redacted(&self) -> String {
        let url = &self.database_url;
        let Some((scheme, rest)) = url.split_once("://") else { return url.clone() };
        match rest.split_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            _ => url.clone(),
        }
    }
}

/// Whether an error is worth retrying as is: the server went away, restarted, or asked us to
/// retry. Everything else is about the data and will fail again.
pub fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") // connection exceptions
                || code.starts_with("57P") // admin shutdown, crash shutdown, cannot connect now
                || code == "40001" // serialization failure
                || code == "40P01" // deadlock
                || code == "53300" // too many connections
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RDS is reached over TLS (`sslmode=require` from the database secret, `verify-full` with
    /// the RDS CA bundle): the pool must speak it. Debian's PostgreSQL serves TLS with its
    /// snakeoil certificate, which `require` accepts without verifying.
    #[tokio::test]
    async fn connections_speak_tls_when_the_url_requires_it() {
        let base = std::env::var("OWP_TEST_DATABASE_BASE")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let settings = DatabaseSettings::new(format!("{base}/postgres?sslmode=require"));
        let pool = settings.pool("public", 1).await.expect("a TLS connection to the test PostgreSQL");
        let encrypted: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(encrypted, "the connection is not encrypted");
    }
}
