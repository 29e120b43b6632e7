//! `owp up`: the services in one process, sharing one shutdown signal.

use std::str::FromStr;

use anyhow::Context;
use owp_platform::{
    db::{DatabaseSettings, PROJECTION_SCHEMA, roles},
    kafka::{self, KafkaSettings},
    shutdown::ShutdownSettings,
    topics::Topics,
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::topics::TopicSettings;

/// The services `owp up` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Writepoint,
    Robots,
    Auth,
    Translator,
    Readpoint,
}

impl FromStr for Service {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "writepoint" => Ok(Service::Writepoint),
            "robots" => Ok(Service::Robots),
            "auth" => Ok(Service::Auth),
            "translator" => Ok(Service::Translator),
            "readpoint" => Ok(Service::Readpoint),
            other => Err(format!(
                "unknown service {other:?}; known: writepoint, robots, auth, translator, readpoint"
            )),
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Comma-separated services to run.
    #[arg(
        long,
        env = "OWP_SERVICES",
        value_delimiter = ',',
        default_value = "robots,auth,writepoint,translator,readpoint"
    )]
    pub services: Vec<Service>,
    /// Create missing topics before starting (handy on one machine; production creates them
    /// with the infrastructure).
    #[arg(long, env = "OWP_ENSURE_TOPICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub ensure_topics: bool,
    /// Set up the database (`owp database setup`) with OWP_DATABASE_URL, then connect each
    /// service as its own role (`owp_robots`, `owp_auth`, `owp_translator`, `owp_readpoint`,
    /// with the password in OWP_<ROLE>_DATABASE_PASSWORD if set), as a deployment does. Off:
    /// every service connects with OWP_DATABASE_URL.
    #[arg(long, env = "OWP_DATABASE_ROLES", default_value_t = true, action = clap::ArgAction::Set)]
    pub database_roles: bool,
    #[command(flatten)]
    pub topics: TopicSettings,
    /// One grace for every service of the process: they stop on the same signal.
    #[command(flatten)]
    pub shutdown: ShutdownSettings,
    #[command(flatten)]
    pub writepoint: owp_writepoint::Settings,
    #[command(flatten)]
    pub robots: owp_robots::RobotsSettings,
    #[command(flatten)]
    pub auth: owp_auth::Settings,
    #[command(flatten)]
    pub read_store: owp_readstore::ReadStoreSettings,
    #[command(flatten)]
    pub translator: owp_translator::Settings,
    #[command(flatten)]
    pub readpoint: owp_readpoint::Settings,
}

pub async fn run(
    kafka_settings: &KafkaSettings,
    topics: &Topics,
    database: &DatabaseSettings,
    args: UpArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if args.ensure_topics {
        let created = kafka::ensure_topics(kafka_settings, &args.topics.specs(topics))
            .await
            .context("cannot create the topics")?;
        for name in created {
            tracing::info!(topic = %name, "topic created");
        }
    }
    let uses_database = args.services.iter().any(|s| *s != Service::Writepoint);
    let as_role = |role: &str| -> anyhow::Result<DatabaseSettings> {
        if args.database_roles {
            crate::database::service_database(database, role)
        } else {
            Ok(database.clone())
        }
    };
    if args.database_roles && uses_database {
        crate::database::setup(database, &crate::database::logins_from_env())
            .await
            .context("cannot set up the database roles (OWP_DATABASE_ROLES=false connects every service as OWP_DATABASE_URL)")?;
    }
    // If one service fails, stop the others too rather than run half a stack.
    let stop = shutdown.child_token();
    let mut running = JoinSet::new();
    // Robots first: they create the database and the projection tables the others read.
    let order =
        [Service::Robots, Service::Auth, Service::Writepoint, Service::Translator, Service::Readpoint];
    for service in order {
        if !args.services.contains(&service) {
            continue;
        }
        let stop = stop.clone();
        match service {
            Service::Robots => {
                let database = as_role(roles::ROBOTS)?;
                let robots = owp_robots::Robots::build(
                    kafka_settings,
                    topics,
                    &database,
                    &args.shutdown,
                    args.robots.clone(),
                )
                .await
                .context("cannot start the robots")?;
                running.spawn(async move { robots.run(stop).await.map_err(anyhow::Error::from) });
            }
            Service::Auth => {
                let database = as_role(roles::AUTH)?;
                let auth = owp_auth::Application::build(
                    kafka_settings,
                    topics,
                    &database,
                    PROJECTION_SCHEMA,
                    &args.shutdown,
                    args.auth.clone(),
                )
                .await
                .context("cannot start auth")?;
                running.spawn(async move { auth.run(stop).await.map_err(anyhow::Error::from) });
            }
            Service::Writepoint => {
                let app = owp_writepoint::Application::build(
                    kafka_settings,
                    topics,
                    &args.shutdown,
                    args.writepoint.clone(),
                )
                .await
                .context("cannot start the write point")?;
                running.spawn(async move { app.run(stop).await.map_err(anyhow::Error::from) });
            }
            Service::Translator => {
                let database = as_role(roles::TRANSLATOR)?;
                let translator = owp_translator::Translator::build(
                    &database,
                    &args.read_store,
                    &args.shutdown,
                    args.translator.clone(),
                )
                .await
                .context("cannot start the translator")?;
                running.spawn(async move { translator.run(stop).await.map_err(anyhow::Error::from) });
            }
            Service::Readpoint => {
                let access = owp_readpoint::Access::load(&args.translator.config, args.robots.sessions)?;
                let database = as_role(roles::READPOINT)?;
                let app = owp_readpoint::Application::build(
                    &database,
                    &args.read_store,
                    &args.shutdown,
                    args.readpoint.clone(),
                    access,
                )
                .await
                .context("cannot start the read point")?;
                running.spawn(async move { app.run(stop).await.map_err(anyhow::Error::from) });
            }
        }
    }
    let mut result = Ok(());
    while let Some(joined) = running.join_next().await {
        if let Err(err) = joined.map_err(anyhow::Error::from).and_then(|r| r) {
            tracing::error!(error = %err, "a service failed; stopping the others");
            stop.cancel();
            result = Err(err);
        }
    }
    result
}
