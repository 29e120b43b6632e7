//! Change capture of the projection, as `migrations/` defines it in schema `owp_capture`: the
//! outbox the engine drains, the function the capture triggers run, and `follow()`, which
//! installs the triggers the live projection schema lacks.
//!
//! The capture's migrations run as the projection's owner, not as the translator's role (the
//! migration says why): `owp database setup` runs them as the robots' role. Without roles every
//! service connects as one user, the projection's owner, and the translator runs them at start.
//!
//! `owp replay` swaps in a rebuilt projection schema whose tables have no triggers. The
//! translator runs `follow()` at start and on every poll: on a schema it has not followed before
//! (or one whose triggers had to be installed again), it rebuilds every collection from a
//! snapshot taken after the triggers are in place, so the changes made before are in the rebuild
//! and those made after in the outbox.

use owp_platform::db::{self, CAPTURE_SCHEMA, DatabaseSettings, PROJECTION_SCHEMA};
use sqlx::{PgConnection, PgPool};

use crate::{Error, Result};

/// The capture's migrations, run into [`CAPTURE_SCHEMA`].
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/capture");

/// Brings the capture's schema up to date and installs its triggers, as the user of `database`,
/// which must own the projection or act as its owner. Several processes may run it at once.
pub async fn install(database: &DatabaseSettings) -> Result<()> {
    migrate(database).await?;
    let pool = database.pool(CAPTURE_SCHEMA, 1).await?;
    let mut conn = pool.acquire().await.map_err(Error::db("cannot connect to install change capture"))?;
    follow_projection(&mut conn).await?;
    drop(conn);
    pool.close().await;
    Ok(())
}

/// Brings the capture's schema up to date (the outbox and the functions; the triggers are
/// `follow()`'s). A session lock makes processes that start at once take turns.
pub async fn migrate(database: &DatabaseSettings) -> Result<()> {
    let context = "cannot migrate change capture";
    let pool = database.pool(CAPTURE_SCHEMA, 1).await?;
    let mut conn = pool.acquire().await.map_err(Error::db(context))?;
    sqlx::query("SELECT pg_advisory_lock(hashtext('owp_capture.migrate'))")
        .execute(&mut *conn)
        .await
        .map_err(Error::db(context))?;
    let migrated = async {
        sqlx::query(&db::create_schema_if_missing(CAPTURE_SCHEMA))
            .execute(&mut *conn)
            .await
            .map_err(Error::db(context))?;
        MIGRATOR.run(&mut *conn).await?;
        Ok::<_, Error>(())
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock(hashtext('owp_capture.migrate'))")
        .execute(&mut *conn)
        .await
        .map_err(Error::db(context))?;
    migrated?;
    drop(conn);
    pool.close().await;
    Ok(())
}

/// Whether every migration of [`MIGRATOR`] is applied.
async fn is_current(pool: &PgPool) -> Result<bool> {
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or_default();
    let applied: Option<i64> = match sqlx::query_scalar(&format!(
        "SELECT max(version) FROM {CAPTURE_SCHEMA}._sqlx_migrations WHERE success"
    ))
    .fetch_one(pool)
    .await
    {
        Ok(applied) => applied,
        // No schema or no migrations table yet.
        Err(err) if err.as_database_error().and_then(|e| e.code()).is_some_and(|c| c == "42P01") => None,
        Err(source) => {
            return Err(Error::Database {
                context: "cannot tell whether change capture is migrated".into(),
                source,
            });
        }
    };
    Ok(applied.is_some_and(|applied| applied >= latest))
}

/// What the translator needs before it starts: a migrated projection schema, and the capture's
/// schema up to date (migrated here when `database`'s user may, as without roles).
pub(crate) async fn check(database: &DatabaseSettings, pool: &PgPool) -> Result<()> {
    let (schema, migrated, own_capture): (bool, bool, bool) = sqlx::query_as(
        "SELECT to_regnamespace($1) IS NOT NULL, to_regclass($1 || '._sqlx_migrations') IS NOT NULL, \
                to_regclass($1 || '.translator_outbox') IS NOT NULL",
    )
    .bind(PROJECTION_SCHEMA)
    .fetch_one(pool)
    .await
    .map_err(Error::db("cannot look at the projection schema"))?;
    let missing = if !schema {
        Some(format!("the projection schema {PROJECTION_SCHEMA} does not exist"))
    } else if !migrated {
        Some(format!(
            "the projection schema {PROJECTION_SCHEMA} is not migrated (no {PROJECTION_SCHEMA}._sqlx_migrations)"
        ))
    } else if own_capture {
        Some(format!(
            "the projection schema {PROJECTION_SCHEMA} still has the robots' change capture \
             ({PROJECTION_SCHEMA}.translator_outbox): the robots' migration 0004 is not applied"
        ))
    } else {
        None
    };
    if let Some(missing) = missing {
        return Err(Error::NotReady(format!(
            "{missing}; start the robots or run `owp database setup` first"
        )));
    }
    if !is_current(pool).await? {
        migrate(database).await.map_err(|err| {
            Error::NotReady(format!(
                "change capture (schema {CAPTURE_SCHEMA}) is not migrated and this role cannot migrate it: \
                 run `owp database setup`: {err}"
            ))
        })?;
    }
    Ok(())
}

/// Runs `follow()` on `conn` (in its transaction, if it has one): the live projection schema's
/// oid and how many triggers it had to install.
async fn follow_projection(conn: &mut PgConnection) -> Result<(i64, i32)> {
    sqlx::query_as(&format!("SELECT projection::int8, installed FROM {CAPTURE_SCHEMA}.follow()"))
        .fetch_one(conn)
        .await
        .map_err(Error::db("cannot install change capture on the projection"))
}

/// Installs the capture triggers the projection lacks, and tells whether its changes may have
/// escaped the outbox until now: the schema is not the one recorded last time (`owp replay`
/// swapped it in, or the translator never ran on it), or triggers were missing. Then every
/// published collection is marked for a rebuild, in the transaction that records the schema, so
/// that a translator stopped before the rebuilds are published does them on its next start.
pub(crate) async fn follow(pool: &PgPool) -> Result<bool> {
    let context = "cannot record the projection schema change capture follows";
    let mut tx = pool.begin().await.map_err(Error::db(context))?;
    let (projection, installed) = follow_projection(&mut tx).await?;
    let recorded: Option<i64> = sqlx::query_scalar("SELECT projection FROM owp_translator.followed")
        .fetch_optional(&mut *tx)
        .await
        .map_err(Error::db(context))?;
    let new = recorded != Some(projection) || installed > 0;
    if new {
        sqlx::query("UPDATE owp_translator.collections SET rebuild_requested = true")
            .execute(&mut *tx)
            .await
            .map_err(Error::db(context))?;
        sqlx::query(
            "INSERT INTO owp_translator.followed (projection) VALUES ($1) \
             ON CONFLICT (id) DO UPDATE SET projection = excluded.projection",
        )
        .bind(projection)
        .execute(&mut *tx)
        .await
        .map_err(Error::db(context))?;
    }
    tx.commit().await.map_err(Error::db(context))?;
    Ok(new)
}
