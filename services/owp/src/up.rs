//! `owp up`: the services in one process, sharing one shutdown signal.

use std::str::FromStr;

use anyhow::Context;
use futures::future::try_join_all;
use owp_platform::kafka::{self, KafkaSettings};
use tokio_util::sync::CancellationToken;

use crate::topics::TopicSettings;

/// The services `owp up` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Writepoint,
}

impl FromStr for Service {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "writepoint" => Ok(Service::Writepoint),
            other => Err(format!("unknown service {other:?}; known: writepoint")),
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Comma-separated services to run.
    #[arg(long, env = "OWP_SERVICES", value_delimiter = ',', default_value = "writepoint")]
    pub services: Vec<Service>,
    /// Create missing topics before starting (handy on one machine; production creates them
    /// with the infrastructure).
    #[arg(long, env = "OWP_ENSURE_TOPICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub ensure_topics: bool,
    #[command(flatten)]
    pub topics: TopicSettings,
    #[command(flatten)]
    pub writepoint: owp_writepoint::Settings,
}

pub async fn run(
    kafka_settings: &KafkaSettings,
    args: UpArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if args.ensure_topics {
        let created =
            kafka::ensure_topics(kafka_settings, &args.topics.specs(&args.writepoint.commands_topic))
                .await
                .context("cannot create the topics")?;
        for name in created {
            tracing::info!(topic = %name, "topic created");
        }
    }
    let mut running = Vec::new();
    for service in &args.services {
        match service {
            Service::Writepoint => {
                let app = owp_writepoint::Application::build(kafka_settings, args.writepoint.clone())
                    .await
                    .context("cannot start the write point")?;
                let shutdown = shutdown.clone();
                running
                    .push(tokio::spawn(async move { app.run(shutdown).await.map_err(anyhow::Error::from) }));
            }
        }
    }
    // If one service fails, stop the others too rather than run half a stack.
    let watchdog = shutdown.clone();
    let results = try_join_all(running.into_iter().map(|task| {
        let watchdog = watchdog.clone();
        async move {
            let result = task.await.map_err(anyhow::Error::from).and_then(|r| r);
            if result.is_err() {
                watchdog.cancel();
            }
            result
        }
    }))
    .await;
    results.map(|_| ())
}
