//! The robots process: migrates the projection schema, starts the command robot and the
//! projector, and serves /healthz, /readyz and /metrics.

use std::{sync::Arc, time::Duration};

use axum::Router;
use owp_platform::{
    db::{self, DatabaseSettings},
    http::{self, Health, NotReady, ReadyCheck},
    kafka::{self, KafkaSettings, ProducerTuning},
    shutdown::ShutdownSettings,
    topics::Topics,
};
use owp_robot_framework::{Robot, RobotContext, RobotMetrics, SchemaName};
use sqlx::PgPool;
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    Error, MIGRATOR, PROJECTION_SCHEMA, ROBOTS_SCHEMA, Result, RobotsSettings,
    commands::{CommandRobot, DecideContext},
    projector::Projector,
};

pub struct Robots {
    ctx: RobotContext,
    decide: DecideContext,
    listener: TcpListener,
    router: Router,
    grace: Duration,
}

impl std::fmt::Debug for Robots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Robots").field("ctx", &self.ctx).finish()
    }
}

/// Creates the database if needed and brings the projection schema up to date. Several
/// processes may start at once; a session lock makes them take turns (CREATE SCHEMA IF NOT
/// EXISTS is not safe against a concurrent twin).
pub async fn prepare_database(database: &DatabaseSettings) -> Result<PgPool> {
    database.create_database_if_missing().await?;
    let pool = database.pool(PROJECTION_SCHEMA, 16).await?;
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock(hashtext('owp.migrate'))").execute(&mut *conn).await?;
    let migrated = async {
        sqlx::query(&db::create_schema_if_missing(PROJECTION_SCHEMA)).execute(&mut *conn).await?;
        MIGRATOR.run(&mut *conn).await?;
        Ok::<_, Error>(())
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock(hashtext('owp.migrate'))").execute(&mut *conn).await?;
    migrated?;
    drop(conn);
    Ok(pool)
}

impl Robots {
    pub async fn build(
        kafka_settings: &KafkaSettings,
        topics: &Topics,
        database: &DatabaseSettings,
        shutdown: &ShutdownSettings,
        settings: RobotsSettings,
    ) -> Result<Self> {
        let pool = prepare_database(database).await?;
        let tuning =
            ProducerTuning { delivery_timeout: Duration::from_secs(10), ..ProducerTuning::default() };
        let producer = kafka::producer(kafka_settings, "owp-robots", &tuning)?;
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = RobotMetrics::register(&mut registry);
        let ready = {
            let (pool, producer, topic) = (pool.clone(), producer.clone(), topics.events_topic.clone());
            ReadyCheck::new(move || {
                let (pool, producer, topic) = (pool.clone(), producer.clone(), topic.clone());
                async move {
                    sqlx::query("SELECT 1").execute(&pool).await.map_err(NotReady::database)?;
                    kafka::topic_ready(&producer, &topic, Duration::from_secs(2)).await
                }
            })
        };
        let router = Health::new(ready, Arc::new(registry)).routes().fallback(http::not_found);
        let listener = http::bind(settings.addr).await?;
        let ctx = RobotContext {
            kafka: kafka_settings.clone(),
            topics: topics.clone(),
            pool,
            producer,
            settings: settings.robot.clone(),
            metrics,
        };
        let decide = DecideContext { sessions: settings.sessions };
        Ok(Self { ctx, decide, listener, router, grace: shutdown.grace })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| ([127, 0, 0, 1], 0).into())
    }

    /// Runs every robot until `shutdown`; each finishes and stores its batch before returning.
    /// If one robot fails, the others are stopped too.
    pub async fn run(self, shutdown: CancellationToken) -> Result<()> {
        let robots_schema = SchemaName::parse(ROBOTS_SCHEMA)?;
        let projection_schema = SchemaName::parse(PROJECTION_SCHEMA)?;
        let stop = shutdown.child_token();
        let mut tasks = JoinSet::new();
        let ctx = &self.ctx;
        macro_rules! spawn_robot {
            ($handler:expr) => {{
                let robot = Robot::new(ctx.clone(), $handler).await?;
                let stop = stop.clone();
                tasks.spawn(async move { robot.run(stop).await.map_err(Error::from) });
            }};
        }
        spawn_robot!(CommandRobot::new(robots_schema.clone(), self.decide.clone()));
        spawn_robot!(Projector::new(projection_schema));
        let server_stop = stop.clone();
        let (listener, router) = (self.listener, self.router);
        tasks.spawn(async move {
            http::serve(listener, router, server_stop, self.grace).await.map_err(Error::from)
        });

        let mut result = Ok(());
        while let Some(joined) = tasks.join_next().await {
            let outcome = joined.map_err(|err| Error::Task("a robot", err)).and_then(|r| r);
            if let Err(err) = outcome {
                tracing::error!(error = %err, "a robot stopped; stopping the others");
                stop.cancel();
                result = Err(err);
            }
        }
        owp_platform::kafka::flush(&self.ctx.producer, self.grace);
        result
    }
}
