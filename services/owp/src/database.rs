//! `owp database setup`: the one migration step of a deployment. Connected as a superuser (the
//! local stack) or the RDS master user, it creates the service roles and their schemas
//! (`owp_platform::db::roles`), migrates each schema as the role that owns it, and grants every
//! other role what its queries need. The services then connect as their own role; their own
//! start-up migration finds nothing left to do. The translator's change capture is migrated and
//! installed as the projection's owner, whose writes it runs on (`owp_translator::capture`).

use owp_platform::db::{
    DatabaseSettings,
    roles::{self, Login},
};

/// The environment variable holding a service role's password, e.g. `OWP_READPOINT_DATABASE_PASSWORD`.
pub fn password_variable(role: &str) -> String {
    format!("{}_DATABASE_PASSWORD", role.to_ascii_uppercase())
}

/// Every service role may log in; with the password its variable holds, if set. A role given
/// no password keeps the one it has (none at first), which only a server that trusts the
/// address accepts, as the local stack's does on loopback.
pub fn logins_from_env() -> Vec<Login> {
    roles::SERVICE_ROLES
        .iter()
        .map(|role| Login {
            role: (*role).to_owned(),
            password: std::env::var(password_variable(role)).ok().filter(|p| !p.is_empty()),
        })
        .collect()
}

/// The settings a service connects with: `admin`'s server and database, logged in as `role`.
pub fn service_database(admin: &DatabaseSettings, role: &str) -> anyhow::Result<DatabaseSettings> {
    let password = std::env::var(password_variable(role)).ok().filter(|p| !p.is_empty());
    Ok(admin.login_as(role, password.as_deref())?)
}

/// Roles, schemas, migrations and grants; idempotent, and safe to run from several processes
/// at once (each migration takes its lock).
pub async fn setup(admin: &DatabaseSettings, logins: &[Login]) -> anyhow::Result<()> {
    roles::prepare(admin, logins).await?;
    owp_robots::app::prepare_database(&admin.acting_as(roles::ROBOTS)).await?.close().await;
    owp_auth::prepare_database(&admin.acting_as(roles::AUTH)).await?.close().await;
    owp_translator::capture::install(&admin.acting_as(roles::ROBOTS)).await?;
    let translator = admin.acting_as(roles::TRANSLATOR).pool("owp_translator", 1).await?;
    {
        let mut conn = translator.acquire().await?;
        // Not the translator's leader lock, which a running translator holds for its lifetime.
        sqlx::query("SELECT pg_advisory_lock(hashtext('owp_translator.migrate'))")
            .execute(&mut *conn)
            .await?;
        let ensured = owp_translator::state::ensure(&mut conn).await;
        sqlx::query("SELECT pg_advisory_unlock(hashtext('owp_translator.migrate'))")
            .execute(&mut *conn)
            .await?;
        ensured?;
    }
    translator.close().await;
    roles::grant(admin).await?;
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
pub enum DatabaseCommand {
    /// Create the service roles and schemas, migrate them, grant each role its privileges.
    /// Connect as a superuser or the RDS master user (OWP_DATABASE_URL); each service role's
    /// password comes from OWP_<ROLE>_DATABASE_PASSWORD (e.g. OWP_READPOINT_DATABASE_PASSWORD).
    Setup,
}

pub async fn run(database: &DatabaseSettings, command: DatabaseCommand) -> anyhow::Result<()> {
    match command {
        DatabaseCommand::Setup => {
            setup(database, &logins_from_env()).await?;
            tracing::info!(roles = %roles::SERVICE_ROLES.join(", "), "database roles, schemas and grants in place");
            Ok(())
        }
    }
}
