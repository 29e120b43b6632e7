//! Least privilege in PostgreSQL: one role per service that touches the database, each schema
//! owned by the role of the service that writes it, and every other role granted only what its
//! queries need. [`prepare`] and [`grant`] are run by whoever migrates, connected as a superuser
//! locally or as the RDS master user (which becomes a member of every service role, so that it
//! can create their schemas and grant on their tables). The services then connect as their own
//! role. The roles are made NOLOGIN; a deployment turns one into a login with a password it
//! passes in ([`Login`]), so no password is ever written in a migration or in this code. The
//! write point has no role: it never connects. The table of roles and grants is in
//! docs/architecture.md ("Database roles and grants"); [`GRANTS`] is its source.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};

use super::DatabaseSettings;
use crate::{Error, Result};

pub const ROBOTS: &str = "owp_robots";
pub const AUTH: &str = "owp_auth";
pub const TRANSLATOR: &str = "owp_translator";
pub const READPOINT: &str = "owp_readpoint";

/// Every service role, in the order the services start.
pub const SERVICE_ROLES: [&str; 4] = [ROBOTS, AUTH, TRANSLATOR, READPOINT];

/// Each schema and the role that owns it: the one service that writes it (change capture is
/// written by the projector's writes).
pub const SCHEMAS: [(&str, &str); 6] = [
    (super::PROJECTION_SCHEMA, ROBOTS),
    (super::CAPTURE_SCHEMA, ROBOTS),
    ("owp_robots", ROBOTS),
    ("owp_auth", AUTH),
    ("owp_translator", TRANSLATOR),
    ("owp_read", TRANSLATOR),
];

/// What a role may do outside the schemas it owns, statement by statement. Tables are named one
/// by one rather than by default privileges: a table a later robots migration adds stays the
/// robots' own until it is listed here (credentials, for one, must never reach the translator).
/// Run after the owners' migrations, because the tables must exist.
pub const GRANTS: &[&str] = &[
    "GRANT USAGE ON SCHEMA owp TO owp_auth, owp_translator, owp_readpoint",
    // Login checks the password hash; logout and the waits after signup and login look for
    // the projector's rows.
    "GRANT SELECT ON owp.users, owp.credentials, owp.sessions TO owp_auth",
    // The tables change capture follows (translator.toml may read any of them), and the
    // migrations table, so that it can tell the projection is migrated.
    "GRANT SELECT ON owp.users, owp.sessions, owp.profiles, owp.businesses, owp.messages, \
     owp._sqlx_migrations TO owp_translator",
    // Change capture: the outbox it drains, the capture's migrations table (so that it can tell
    // the capture is up to date), and the one function that installs the capture triggers on
    // the projection, which it runs at start and after `owp replay`. Never TRIGGER on a
    // projection table: a trigger of its own would run as the robots.
    "GRANT USAGE ON SCHEMA owp_capture TO owp_translator",
    "GRANT SELECT, DELETE ON owp_capture.translator_outbox TO owp_translator",
    "GRANT SELECT ON owp_capture._sqlx_migrations TO owp_translator",
    "GRANT EXECUTE ON FUNCTION owp_capture.follow() TO owp_translator",
    // A caller's session, with the robots' rule.
    "GRANT SELECT ON owp.sessions, owp.session_activity TO owp_readpoint",
    // The read store: the translator creates a table per collection version at run time, so
    // the read point's SELECT comes from default privileges as well.
    "GRANT USAGE ON SCHEMA owp_read TO owp_readpoint",
    "GRANT SELECT ON ALL TABLES IN SCHEMA owp_read TO owp_readpoint",
    "ALTER DEFAULT PRIVILEGES FOR ROLE owp_translator IN SCHEMA owp_read GRANT SELECT ON TABLES TO owp_readpoint",
];

/// A service role that may log in, with the password the deployment chose for it; without one
/// the role keeps its password (none at first: then only a server that trusts the address, as
/// the local stack's does on loopback, lets it in).
#[derive(Clone)]
pub struct Login {
    pub role: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("role", &self.role).finish_non_exhaustive()
    }
}

fn db_error(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
    let context = context.into();
    move |source| Error::Database { context, source }
}

async fn execute(conn: &mut PgConnection, statement: &str, context: &str) -> Result<()> {
    sqlx::query(statement).execute(&mut *conn).await.map_err(db_error(context))?;
    Ok(())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the database if it is missing, the service roles (NOLOGIN), and the schemas, each
/// owned by its service's role; gives the roles in `logins` LOGIN and their password; lets only
/// the service roles connect. Idempotent; several processes may run it at once.
pub async fn prepare(admin: &DatabaseSettings, logins: &[Login]) -> Result<()> {
    admin.create_database_if_missing().await?;
    let database = admin.database_name()?;
    // Roles are the whole server's: they are made from the `postgres` database, under a lock
    // there, because advisory locks are per database and set-ups of two databases would
    // otherwise race on them (ALTER ROLE on a role another session is altering fails).
    let mut server = connect_locked(admin, "postgres").await?;
    let result = prepare_roles(&mut server, logins).await;
    // Closing the session releases its lock.
    let _ = server.close().await;
    result?;
    let mut conn = connect_locked(admin, &database).await?;
    let result = prepare_database(&mut conn, &database).await;
    let _ = conn.close().await;
    result
}

/// A connection to `database` holding the set-up's session lock there.
async fn connect_locked(admin: &DatabaseSettings, database: &str) -> Result<PgConnection> {
    let mut conn = PgConnection::connect_with(&admin.options()?.database(database))
        .await
        .map_err(db_error(format!("cannot connect to {} to set up the roles", admin.redacted())))?;
    execute(&mut conn, "SELECT pg_advisory_lock(hashtext('owp.roles'))", "cannot take the set-up lock")
        .await?;
    Ok(conn)
}

async fn prepare_roles(conn: &mut PgConnection, logins: &[Login]) -> Result<()> {
    let superuser: bool = sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error("cannot read the connecting role"))?;
    for role in SERVICE_ROLES {
        execute(
            conn,
            &format!(
                "DO $$ BEGIN
                   IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                     CREATE ROLE {role} NOLOGIN;
                   END IF;
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                 END $$"
            ),
            &format!("cannot create role {role} (the connecting role needs CREATEROLE)"),
        )
        .await?;
        if !superuser {
            // The RDS master user is no superuser: as a member of each service role it can
            // create the role's schemas, migrate them as that role, and grant on its tables.
            let member: bool = sqlx::query_scalar("SELECT pg_has_role(current_user, $1, 'USAGE')")
                .bind(role)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_error(format!("cannot check membership of {role}")))?;
            if !member {
                execute(conn, &format!("GRANT {role} TO CURRENT_USER"), &format!("cannot join role {role}"))
                    .await?;
            }
        }
    }
    for login in logins {
        if !SERVICE_ROLES.contains(&login.role.as_str()) {
            return Err(Error::Database {
                context: format!("{} is not a service role ({})", login.role, SERVICE_ROLES.join(", ")),
                source: sqlx::Error::Protocol("unknown role".into()),
            });
        }
        // The server is sent a SCRAM verifier, never the password: ALTER ROLE is DDL, and DDL
        // ends up in the server's statement log.
        let password = match &login.password {
            Some(password) => {
                format!(" PASSWORD '{}'", scram_verifier(password, &rand::random::<[u8; 16]>()))
            }
            None => String::new(),
        };
        execute(
            conn,
            &format!("ALTER ROLE {} LOGIN{password}", login.role),
            &format!("cannot let {} log in", login.role),
        )
        .await?;
    }
    Ok(())
}

async fn prepare_database(conn: &mut PgConnection, database: &str) -> Result<()> {
    let db = quote_ident(database);
    let roles = SERVICE_ROLES.join(", ");
    for statement in [
        // PUBLIC may connect to and make temporary tables in a new database by default.
        format!("REVOKE ALL ON DATABASE {db} FROM PUBLIC"),
        format!("GRANT CONNECT ON DATABASE {db} TO {roles}"),
        // `owp replay` rebuilds the projection in a fresh schema and swaps it in.
        format!("GRANT CREATE ON DATABASE {db} TO {ROBOTS}"),
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC".to_owned(),
    ] {
        execute(conn, &statement, &format!("cannot set the privileges of database {database}")).await?;
    }
    for (schema, owner) in SCHEMAS {
        execute(
            conn,
            &format!(
                "DO $$ BEGIN
                   IF to_regnamespace('{schema}') IS NULL THEN
                     CREATE SCHEMA {schema} AUTHORIZATION {owner};
                   END IF;
                 EXCEPTION WHEN duplicate_schema OR unique_violation THEN NULL;
                 END $$"
            ),
            &format!("cannot create schema {schema}"),
        )
        .await?;
        adopt(conn, schema, owner).await?;
    }
    Ok(())
}

/// Hands a schema made before the roles existed (by the master user) and everything in it to
/// its owner, so that the owner's later migrations may alter it.
async fn adopt(conn: &mut PgConnection, schema: &str, owner: &str) -> Result<()> {
    let statement = format!(
        "DO $$
         DECLARE r record;
         BEGIN
           IF (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = '{schema}') <> '{owner}' THEN
             EXECUTE 'ALTER SCHEMA {schema} OWNER TO {owner}';
           END IF;
           FOR r IN
             SELECT c.relname, c.relkind FROM pg_class c
              WHERE c.relnamespace = '{schema}'::regnamespace AND c.relowner <> '{owner}'::regrole
                AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                -- A serial column's sequence follows its table.
                AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                  AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
           LOOP
             EXECUTE format('ALTER %s {schema}.%I OWNER TO {owner}',
                            CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                           WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.relname);
           END LOOP;
           FOR r IN
             SELECT p.oid::regprocedure AS signature FROM pg_proc p
              WHERE p.pronamespace = '{schema}'::regnamespace AND p.proowner <> '{owner}'::regrole
           LOOP
             EXECUTE format('ALTER ROUTINE %s OWNER TO {owner}', r.signature);
           END LOOP;
         END $$"
    );
    execute(conn, &statement, &format!("cannot hand schema {schema} to {owner}")).await
}

/// Applies [`GRANTS`]; run after every owner has migrated its schemas.
pub async fn grant(admin: &DatabaseSettings) -> Result<()> {
    let mut conn = PgConnection::connect_with(&admin.options()?)
        .await
        .map_err(db_error(format!("cannot connect to {} to grant", admin.redacted())))?;
    let mut tx = conn.begin().await.map_err(db_error("cannot begin"))?;
    // Two sessions granting on one object at once fail ("tuple concurrently updated").
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('owp.roles'))")
        .execute(&mut *tx)
        .await
        .map_err(db_error("cannot take the set-up lock"))?;
    for statement in GRANTS {
        sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .map_err(db_error(format!("cannot run {statement}")))?;
    }
    tx.commit().await.map_err(db_error("cannot commit the grants"))?;
    let _ = conn.close().await;
    Ok(())
}

/// A PostgreSQL SCRAM-SHA-256 verifier (RFC 5802, RFC 7677) for `password`, as the server stores
/// it: `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64. PostgreSQL accepts
/// one in place of a password in ALTER ROLE. The password is used as is (no SASLprep), which is
/// what the server does with passwords that are not valid UTF-8 or need no preparation, as
/// generated ones do not.
pub fn scram_verifier(password: &str, salt: &[u8; 16]) -> String {
    use base64::{Engine, engine::general_purpose::STANDARD};
    const ITERATIONS: u32 = 4096;
    let hmac = |key: &[u8], data: &[u8]| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(data);
        mac.finalize().into_bytes()
    };
    // PBKDF2-HMAC-SHA256, one block (the key is as long as the hash).
    let mut block = salt.to_vec();
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password.as_bytes(), &block);
    let mut salted = u;
    for _ in 1..ITERATIONS {
        u = hmac(password.as_bytes(), &u);
        salted.iter_mut().zip(u.iter()).for_each(|(s, x)| *s ^= x);
    }
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let server_key = hmac(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${ITERATIONS}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored_key),
        STANDARD.encode(server_key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed apart, with Python's hashlib.pbkdf2_hmac and hmac (the integration test
    /// `roles::the_password_verifier_is_the_one_postgresql_makes` compares with the server's).
    #[test]
    fn the_verifier_follows_rfc_5802() {
        let verifier = scram_verifier("pencil", b"0123456789abcdef");
        assert_eq!(
            verifier,
            "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$nQpbZ77WudtqufPwikHXGRt6g2QJ4zns8bZLw273DRM=:\
             jn2amWP1q1h+jgjy0YTO14S6/F02SV7taipOeB7ef20="
        );
    }

    /// The verifier sent for a role's password is the one the server makes from the password
    /// itself (same salt), so the role logs in with that password wherever passwords are asked.
    #[tokio::test]
    async fn the_password_verifier_is_the_one_postgresql_makes() {
        use base64::{Engine, engine::general_purpose::STANDARD};
        let base = std::env::var("OWP_TEST_DATABASE_BASE")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let mut conn = PgConnection::connect(&format!("{base}/postgres")).await.expect("the test PostgreSQL");
        let role = format!("owp_test_scram_{}", std::process::id());
        let password = "a generated password: with 'quotes' and % signs";
        sqlx::query("SET password_encryption = 'scram-sha-256'").execute(&mut conn).await.unwrap();
        sqlx::query(&format!("CREATE ROLE {role} PASSWORD '{}'", password.replace('\'', "''")))
            .execute(&mut conn)
            .await
            .unwrap();
        let stored: String = sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
            .bind(&role)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        sqlx::query(&format!("DROP ROLE {role}")).execute(&mut conn).await.unwrap();
        let salt = stored.split(['$', ':']).nth(2).unwrap();
        let salt: [u8; 16] = STANDARD.decode(salt).unwrap().try_into().unwrap();
        assert_eq!(scram_verifier(password, &salt), stored);
    }
}
