//! PostgreSQL connections, written once: the database setting, pools pinned to a schema, and
//! creating a database that does not exist yet (the local stack and the tests). [`roles`]: one
//! role per service, and what each may do.

pub mod roles;

use std::{str::FromStr, time::Duration};

use sqlx::{
    ConnectOptions, Connection, PgPool,
    postgres::{PgConnectOptions, PgConnection, PgPoolOptions},
};

use crate::{Error, Result};

/// The projection: the tables the robots' projector writes (rebuilt by `owp replay`, which
/// swaps a new schema in under this name) and the other services read.
pub const PROJECTION_SCHEMA: &str = "owp";
/// The translator's change capture of the projection: its outbox and the functions its triggers
/// run; the projection owner's (see the translator's migrations).
pub const CAPTURE_SCHEMA: &str = "owp_capture";

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
    /// A role every connection switches to after logging in (`SET ROLE`), so that whoever
    /// migrates creates a service's tables as that service's role, which then owns them.
    #[arg(skip)]
    pub acting_role: Option<String>,
}

impl DatabaseSettings {
    pub fn new(url: impl Into<String>) -> Self {
        Self { database_url: url.into(), acting_role: None }
    }

    /// These settings, every connection acting as `role` (the connecting user must be a member).
    pub fn acting_as(&self, role: &str) -> Self {
        Self { database_url: self.database_url.clone(), acting_role: Some(role.to_owned()) }
    }

    /// The same server and database, logging in as `role` with `password` (none where the
    /// server trusts the address, as the local stack does on loopback).
    pub fn login_as(&self, role: &str, password: Option<&str>) -> Result<Self> {
        let url = &self.database_url;
        let not_a_url = || Error::Database {
            context: format!("OWP_DATABASE_URL is not a postgres:// URL: {}", self.redacted()),
            source: sqlx::Error::Configuration("no scheme".into()),
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(not_a_url)?;
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let userinfo = match password {
            Some(password) => format!("{}:{}", encode_userinfo(role), encode_userinfo(password)),
            None => encode_userinfo(role),
        };
        Ok(Self::new(format!("{scheme}://{userinfo}@{host}")))
    }

    fn options(&self) -> Result<PgConnectOptions> {
        let options = PgConnectOptions::from_str(&self.database_url).map_err(|err| Error::Database {
            context: "OWP_DATABASE_URL is not a PostgreSQL URL".into(),
            source: err,
        })?;
        Ok(match &self.acting_role {
            Some(role) => options.options([("role", role.as_str())]),
            None => options,
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

/// Percent-encodes a URL's user or password (RFC 3986 userinfo, unreserved characters kept).
fn encode_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A statement that creates `schema` unless it exists. Unlike CREATE SCHEMA IF NOT EXISTS it
/// needs no CREATE privilege on the database when the schema is there, so a service whose
/// schema was made for it by the set-up (see [`roles`]) runs it as well as a superuser does.
/// Two processes racing to create it: the loser's error is `23505` or `42P06`.
pub fn create_schema_if_missing(schema: &str) -> String {
    format!("DO $$ BEGIN IF to_regnamespace('{schema}') IS NULL THEN CREATE SCHEMA {schema}; END IF; END $$")
}

/// Whether `err` says another process created the object first.
pub fn is_duplicate(err: &sqlx::Error) -> bool {
    err.as_database_error().and_then(|e| e.code()).is_some_and(|c| matches!(&*c, "23505" | "42P06" | "42710"))
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

    /// `sslmode=verify-full` trusts the server only if its certificate chains to `sslrootcert`
    /// (or a public web root: rustls adds the file to them) and names the host. The test
    /// PostgreSQL's snakeoil certificate chains to neither a CA made here nor a public root, so
    /// both connections are refused, before any password could be sent.
    #[tokio::test]
    async fn verify_full_refuses_a_server_the_root_certificate_does_not_vouch_for() {
        let base = std::env::var("OWP_TEST_DATABASE_BASE")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=not the server's CA",
            ])
            .arg("-keyout")
            .arg(dir.path().join("ca.key"))
            .arg("-out")
            .arg(&ca)
            .output()
            .expect("openssl makes the test CA");
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        for query in
            [format!("sslmode=verify-full&sslrootcert={}", ca.display()), "sslmode=verify-full".into()]
        {
            let settings = DatabaseSettings::new(format!("{base}/postgres?{query}"));
            match settings.pool("public", 1).await {
                Ok(_) => panic!("{query}: a server no root vouches for was trusted"),
                // rustls's verdict, as sqlx reports it: "invalid peer certificate: UnknownIssuer".
                Err(err) => assert!(
                    err.to_string().contains("invalid peer certificate: UnknownIssuer"),
                    "{query}: refused, but not for its certificate: {err}"
                ),
            }
        }
        // The same server with TLS but without verification is reachable: the refusal above is
        // the certificate's.
        let required = DatabaseSettings::new(format!("{base}/postgres?sslmode=require"));
        required.pool("public", 1).await.expect("sslmode=require connects").close().await;
    }
}
