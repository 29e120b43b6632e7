//! `owp-bench takeover`: how long a topic's partitions go unread after the process reading them
//! is killed with SIGKILL, for the two ways a robot can own partitions: PostgreSQL advisory locks
//! (the robot framework's own `owp_robot_framework::ownership`, with its refresh interval) and Kafka
//! consumer-group membership (the cooperative-sticky assignor, offsets read from PostgreSQL on
//! assignment, as the framework reads them). Each round runs two child processes of this binary
//! on one topic while records arrive on every partition, waits until they have settled, kills
//! the one that reads, and times from the kill until the survivor owns every partition and has
//! read a record from each.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context;
use owp_platform::{
    db::DatabaseSettings,
    duration,
    kafka::{self, KafkaSettings, ProducerTuning, TopicSpec},
};
use owp_protocol::TopicName;
use owp_robot_framework::ownership::{OWNERSHIP_INTERVAL, Ownership};
use rdkafka::{
    ClientContext, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer, ConsumerContext},
    producer::FutureRecord,
    types::RDKafkaRespErr,
};
use sqlx::PgPool;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::mpsc,
    time::Instant,
};
use uuid::Uuid;

/// How often records are put on every partition while a round runs.
const RECORD_INTERVAL: Duration = Duration::from_millis(10);
/// How often a reader stores its positions in PostgreSQL.
const STORE_INTERVAL: Duration = Duration::from_millis(200);
/// Longest a round may take to settle or to take over before the run gives up.
const ROUND_LIMIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, clap::Args)]
pub struct TakeoverArgs {
    /// Kills per mechanism.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Partitions of the benchmark's topic.
    #[arg(long, default_value_t = 3)]
    pub partitions: i32,
    /// The consumer group's session timeout (brokers refuse less than 6 s by default).
    #[arg(long, default_value = "6s", value_parser = duration::parse)]
    pub session_timeout: Duration,
    /// The consumer group's heartbeat interval.
    #[arg(long, default_value = "1s", value_parser = duration::parse)]
    pub heartbeat_interval: Duration,
}

/// How a child process owns partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Mechanism {
    /// PostgreSQL session advisory locks, one per (group, partition).
    Locks,
    /// Kafka consumer-group membership, cooperative-sticky.
    Group,
}

impl Mechanism {
    fn label(self) -> &'static str {
        match self {
            Mechanism::Locks => "advisory locks",
            Mechanism::Group => "consumer group",
        }
    }
}

/// One reader, run as a child process by [`run`]; it reports on stdout.
#[derive(Debug, Clone, clap::Args)]
pub struct ChildArgs {
    #[arg(long, value_enum)]
    pub mechanism: Mechanism,
    #[arg(long)]
    pub topic: String,
    #[arg(long)]
    pub group: String,
    #[arg(long)]
    pub partitions: i32,
    #[arg(long, value_parser = duration::parse)]
    pub session_timeout: Duration,
    #[arg(long, value_parser = duration::parse)]
    pub heartbeat_interval: Duration,
}

pub async fn run(
    kafka_settings: &KafkaSettings,
    database: &DatabaseSettings,
    args: &TakeoverArgs,
) -> anyhow::Result<()> {
    anyhow::ensure!(args.rounds > 0 && args.partitions > 0, "--rounds and --partitions must be positive");
    let run_id = Uuid::new_v4().simple().to_string();
    let prefix = format!("owp.bench.{}", &run_id[..12]);
    let topic = TopicName::parse(format!("{prefix}.takeover"))?;
    kafka::ensure_topics(kafka_settings, &[TopicSpec::new(topic.clone(), args.partitions)]).await?;
    let database = super::sibling_database(database, &format!("owp_bench_{}", &run_id[..12]));
    database.create_database_if_missing().await?;
    let pool = database.pool("public", 2).await?;
    sqlx::query(
        "CREATE TABLE takeover_offsets (group_id text NOT NULL, partition integer NOT NULL,
           next_offset bigint NOT NULL, PRIMARY KEY (group_id, partition))",
    )
    .execute(&pool)
    .await?;
    pool.close().await;
    println!(
        "owp-bench takeover: topic {topic} ({} partitions, a record on each every {} ms), {} kills per \
         mechanism; consumer group: cooperative-sticky, session timeout {}, heartbeat {}; advisory \
         locks: refreshed every {}",
        args.partitions,
        RECORD_INTERVAL.as_millis(),
        args.rounds,
        humantime::format_duration(args.session_timeout),
        humantime::format_duration(args.heartbeat_interval),
        humantime::format_duration(OWNERSHIP_INTERVAL),
    );

    let producer = kafka::producer(kafka_settings, "owp-bench-takeover", &ProducerTuning::default())?;
    let feeding = {
        let (producer, topic, partitions) = (producer.clone(), topic.clone(), args.partitions);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RECORD_INTERVAL);
            loop {
                tick.tick().await;
                for partition in 0..partitions {
                    // The delivery report is not needed: a record lost here only delays the next.
                    let _ = producer.send_result(
                        FutureRecord::<(), _>::to(topic.as_str()).partition(partition).payload("x"),
                    );
                }
            }
        })
    };

    let mut figures: HashMap<Mechanism, Vec<Duration>> = HashMap::new();
    for round in 1..=args.rounds {
        // Alternating, so that both see the machine in the same state.
        for mechanism in [Mechanism::Locks, Mechanism::Group] {
            let group = format!("{prefix}.{mechanism:?}.{round}").to_lowercase();
            let child = ChildArgs {
                mechanism,
                topic: topic.to_string(),
                group,
                partitions: args.partitions,
                session_timeout: args.session_timeout,
                heartbeat_interval: args.heartbeat_interval,
            };
            let (read_again, owned) = kill_once(kafka_settings, &database, &child).await?;
            println!(
                "  {}, kill {round}: every partition read again {:.2} s after the kill (all owned after {:.2} s)",
                mechanism.label(),
                read_again.as_secs_f64(),
                owned.as_secs_f64()
            );
            figures.entry(mechanism).or_default().push(read_again);
        }
    }
    feeding.abort();

    let locks = median(&figures[&Mechanism::Locks]);
    let group = median(&figures[&Mechanism::Group]);
    println!(
        "  median, kill → every partition read again: advisory locks {:.2} s, consumer group {:.2} s; \
         consumer group / advisory locks: {:.1}",
        locks.as_secs_f64(),
        group.as_secs_f64(),
        group.as_secs_f64() / locks.as_secs_f64().max(0.001)
    );
    super::drop_database(&database).await
}

fn median(figures: &[Duration]) -> Duration {
    let mut sorted = figures.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// What a child said, and when the parent heard it.
#[derive(Debug)]
enum Report {
    Owned(BTreeSet<i32>),
    Read(i32),
    Gone,
}

/// What the parent knows of one child.
#[derive(Debug, Default)]
struct Seen {
    reported: bool,
    owned: BTreeSet<i32>,
    /// Owned partitions it has read a record from since it took them.
    reading: BTreeSet<i32>,
}

impl Seen {
    fn apply(&mut self, report: &Report) {
        match report {
            Report::Owned(owned) => {
                self.reported = true;
                self.reading.retain(|p| owned.contains(p));
                self.owned = owned.clone();
            }
            Report::Read(partition) => {
                self.reading.insert(*partition);
            }
            Report::Gone => {}
        }
    }

    fn reads_all_it_owns(&self) -> bool {
        self.owned == self.reading
    }
}

/// One kill: returns (kill → every partition read by the survivor, kill → all owned by it).
async fn kill_once(
    kafka_settings: &KafkaSettings,
    database: &DatabaseSettings,
    args: &ChildArgs,
) -> anyhow::Result<(Duration, Duration)> {
    let all: BTreeSet<i32> = (0..args.partitions).collect();
    let (reports, mut heard) = mpsc::unbounded_channel();
    let mut seen = [Seen::default(), Seen::default()];
    let deadline = Instant::now() + ROUND_LIMIT;

    let mut first = spawn(kafka_settings, database, args, 0, reports.clone())?;
    await_reports(&mut heard, &mut seen, deadline, |seen| {
        seen[0].owned == all && seen[0].reads_all_it_owns()
    })
    .await
    .context("the first reader did not take every partition")?;
    let mut second = spawn(kafka_settings, database, args, 1, reports)?;
    let settled = |seen: &[Seen; 2]| match args.mechanism {
        // A standby: it has tried the locks once and holds none.
        Mechanism::Locks => seen[1].reported && seen[0].owned == all && seen[0].reads_all_it_owns(),
        // The group has rebalanced: every partition read by exactly one member, both members busy.
        Mechanism::Group => {
            seen[0].owned.is_disjoint(&seen[1].owned)
                && seen[0].owned.union(&seen[1].owned).copied().collect::<BTreeSet<_>>() == all
                && !seen[1].owned.is_empty()
                && seen.iter().all(Seen::reads_all_it_owns)
        }
    };
    await_reports(&mut heard, &mut seen, deadline, settled).await.context("the readers did not settle")?;

    // At a random moment, so that the kill falls anywhere in the survivor's cycle of lock
    // attempts or heartbeats (settling is noticed right after one).
    let phase = Uuid::new_v4().as_u128() % 2000;
    tokio::time::sleep(Duration::from_millis(phase as u64)).await;
    first.start_kill()?;
    let killed = Instant::now();
    let mut all_owned = None;
    let mut read_again = Duration::ZERO;
    let deadline = killed + ROUND_LIMIT;
    while !(seen[1].owned == all && seen[1].reads_all_it_owns()) {
        let (who, at, report) = tokio::time::timeout_at(deadline, heard.recv())
            .await
            .context("the survivor did not take over")?
            .context("the readers are gone")?;
        anyhow::ensure!(!(who == 1 && matches!(report, Report::Gone)), "the survivor exited");
        if who == 1 {
            seen[1].apply(&report);
            read_again = at.saturating_duration_since(killed);
            if all_owned.is_none() && seen[1].owned == all {
                all_owned = Some(read_again);
            }
        }
    }
    second.start_kill()?;
    first.wait().await?;
    second.wait().await?;
    Ok((read_again, all_owned.unwrap_or(read_again)))
}

async fn await_reports(
    heard: &mut mpsc::UnboundedReceiver<(usize, Instant, Report)>,
    seen: &mut [Seen; 2],
    deadline: Instant,
    done: impl Fn(&[Seen; 2]) -> bool,
) -> anyhow::Result<()> {
    while !done(seen) {
        let (who, _, report) = tokio::time::timeout_at(deadline, heard.recv())
            .await
            .context("timed out")?
            .context("the readers are gone")?;
        anyhow::ensure!(!matches!(report, Report::Gone), "reader {who} exited");
        seen[who].apply(&report);
    }
    Ok(())
}

/// Starts a reader, forwarding its reports, stamped with the moment they arrive.
fn spawn(
    kafka_settings: &KafkaSettings,
    database: &DatabaseSettings,
    args: &ChildArgs,
    who: usize,
    reports: mpsc::UnboundedSender<(usize, Instant, Report)>,
) -> anyhow::Result<Child> {
    let mechanism = match args.mechanism {
        Mechanism::Locks => "locks",
        Mechanism::Group => "group",
    };
    let mut child = Command::new(std::env::current_exe()?)
        .args(["takeover-child", "--mechanism", mechanism, "--topic", &args.topic])
        .args(["--group", &args.group, "--partitions", &args.partitions.to_string()])
        .args(["--session-timeout", &format!("{}ms", args.session_timeout.as_millis())])
        .args(["--heartbeat-interval", &format!("{}ms", args.heartbeat_interval.as_millis())])
        .env("OWP_KAFKA_BROKERS", &kafka_settings.kafka_brokers)
        .env("OWP_DATABASE_URL", &database.database_url)
        .env("OWP_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start a reader")?;
    let stdout = child.stdout.take().context("the reader's stdout")?;
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let at = Instant::now();
            let report = match line.split_once(' ') {
                Some(("owned", list)) => {
                    Report::Owned(list.split(',').filter_map(|p| p.parse().ok()).collect())
                }
                Some(("read", partition)) => match partition.parse() {
                    Ok(partition) => Report::Read(partition),
                    Err(_) => continue,
                },
                _ => continue,
            };
            if reports.send((who, at, report)).is_err() {
                return;
            }
        }
        let _ = reports.send((who, Instant::now(), Report::Gone));
    });
    Ok(child)
}

/// The child: reads the topic until killed, printing `owned 0,2` whenever the partitions it
/// owns change and `read 2` on its first record of a partition after taking it.
pub async fn child(
    kafka_settings: &KafkaSettings,
    database: &DatabaseSettings,
    args: &ChildArgs,
) -> anyhow::Result<()> {
    let pool = database.pool("public", 2).await?;
    let runtime = tokio::runtime::Handle::current();
    let (kafka_settings, args) = (kafka_settings.clone(), args.clone());
    // librdkafka's calls block; PostgreSQL is reached through the runtime from this thread.
    tokio::task::spawn_blocking(move || match args.mechanism {
        Mechanism::Locks => by_locks(&kafka_settings, pool, &runtime, &args),
        Mechanism::Group => by_group(&kafka_settings, pool, &runtime, &args),
    })
    .await?
}

/// As the robot framework owns partitions: try the locks every [`OWNERSHIP_INTERVAL`], and on a
/// change assign what is held, from the offsets stored in PostgreSQL.
fn by_locks(
    kafka_settings: &KafkaSettings,
    pool: PgPool,
    runtime: &tokio::runtime::Handle,
    args: &ChildArgs,
) -> anyhow::Result<()> {
    let consumer: BaseConsumer = kafka_settings
        .client_config(&args.group)?
        .set("group.id", &args.group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()?;
    let mut ownership = Ownership::new(pool.clone(), args.group.clone());
    let all: Vec<i32> = (0..args.partitions).collect();
    let mut reader = Reader::new(pool, runtime.clone(), &args.group);
    let mut first = true;
    loop {
        let changed = runtime.block_on(ownership.refresh(&all));
        if changed || first {
            first = false;
            let owned: Vec<i32> = ownership.owned().iter().copied().collect();
            let stored = reader.stored(&owned)?;
            let mut assignment = TopicPartitionList::new();
            for partition in &owned {
                assignment.add_partition_offset(&args.topic, *partition, start(&stored, *partition))?;
            }
            consumer.assign(&assignment)?;
            reader.owned(owned.iter().copied().collect());
        }
        let until = std::time::Instant::now() + OWNERSHIP_INTERVAL;
        while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
            reader.poll(&consumer, left)?;
        }
    }
}

/// As a group member: the broker assigns, the rebalance callback positions each partition it
/// is given at the offset stored in PostgreSQL.
fn by_group(
    kafka_settings: &KafkaSettings,
    pool: PgPool,
    runtime: &tokio::runtime::Handle,
    args: &ChildArgs,
) -> anyhow::Result<()> {
    let reader = Reader::new(pool, runtime.clone(), &args.group);
    let context = GroupContext { reader: Arc::new(Mutex::new(reader)), topic: args.topic.clone() };
    let shared = context.reader.clone();
    let consumer: BaseConsumer<GroupContext> = kafka_settings
        .client_config(&args.group)?
        .set("group.id", &args.group)
        .set("partition.assignment.strategy", "cooperative-sticky")
        .set("session.timeout.ms", args.session_timeout.as_millis().to_string())
        .set("heartbeat.interval.ms", args.heartbeat_interval.as_millis().to_string())
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create_with_context(context)?;
    consumer.subscribe(&[&args.topic])?;
    shared.lock().unwrap_or_else(|p| p.into_inner()).owned(BTreeSet::new());
    loop {
        let message = consumer.poll(Duration::from_millis(100));
        let mut reader = shared.lock().unwrap_or_else(|p| p.into_inner());
        reader.take(message)?;
    }
}

struct GroupContext {
    reader: Arc<Mutex<Reader>>,
    topic: String,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let mut reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let changed: BTreeSet<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        let mut owned = reader.owned.clone();
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let list: Vec<i32> = changed.iter().copied().collect();
                match reader.stored(&list) {
                    Ok(stored) => {
                        for partition in &list {
                            let _ =
                                tpl.set_partition_offset(&self.topic, *partition, start(&stored, *partition));
                        }
                        owned.extend(&changed);
                        consumer.incremental_assign(tpl)
                    }
                    Err(err) => {
                        eprintln!("cannot read the stored offsets: {err}");
                        Ok(())
                    }
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                owned.retain(|p| !changed.contains(p));
                consumer.incremental_unassign(tpl)
            }
            other => {
                eprintln!("rebalance error: {other:?}");
                Ok(())
            }
        };
        if let Err(err) = result {
            eprintln!("rebalance failed: {err}");
        }
        reader.owned(owned);
    }
}

/// Where a taken partition is read from: its stored offset, else new records only.
fn start(stored: &HashMap<i32, i64>, partition: i32) -> Offset {
    stored.get(&partition).map_or(Offset::End, |next| Offset::Offset(*next))
}

/// What both children do with records: report, remember positions, store them now and then.
struct Reader {
    pool: PgPool,
    runtime: tokio::runtime::Handle,
    group: String,
    owned: BTreeSet<i32>,
    fresh: HashSet<i32>,
    positions: HashMap<i32, i64>,
    next_store: std::time::Instant,
}

impl Reader {
    fn new(pool: PgPool, runtime: tokio::runtime::Handle, group: &str) -> Self {
        Self {
            pool,
            runtime,
            group: group.to_owned(),
            owned: BTreeSet::new(),
            fresh: HashSet::new(),
            positions: HashMap::new(),
            next_store: std::time::Instant::now(),
        }
    }

    fn owned(&mut self, owned: BTreeSet<i32>) {
        self.fresh = owned.difference(&self.owned).copied().chain(self.fresh.iter().copied()).collect();
        self.fresh.retain(|p| owned.contains(p));
        self.positions.retain(|p, _| owned.contains(p));
        let list: Vec<String> = owned.iter().map(i32::to_string).collect();
        println!("owned {}", list.join(","));
        self.owned = owned;
    }

    fn stored(&self, partitions: &[i32]) -> anyhow::Result<HashMap<i32, i64>> {
        let rows: Vec<(i32, i64)> = self.runtime.block_on(
            sqlx::query_as(
                "SELECT partition, next_offset FROM takeover_offsets WHERE group_id = $1 AND partition = ANY($2)",
            )
            .bind(&self.group)
            .bind(partitions)
            .fetch_all(&self.pool),
        )?;
        Ok(rows.into_iter().collect())
    }

    fn poll(&mut self, consumer: &BaseConsumer, timeout: Duration) -> anyhow::Result<()> {
        let message = consumer.poll(timeout);
        self.take(message)
    }

    fn take(
        &mut self,
        message: Option<rdkafka::error::KafkaResult<rdkafka::message::BorrowedMessage<'_>>>,
    ) -> anyhow::Result<()> {
        if let Some(Ok(message)) = message {
            let partition = message.partition();
            if self.owned.contains(&partition) {
                if self.fresh.remove(&partition) {
                    println!("read {partition}");
                }
                self.positions.insert(partition, message.offset() + 1);
            }
        }
        if std::time::Instant::now() >= self.next_store && !self.positions.is_empty() {
            self.next_store = std::time::Instant::now() + STORE_INTERVAL;
            let (partitions, offsets): (Vec<i32>, Vec<i64>) =
                self.positions.iter().map(|(p, o)| (*p, *o)).unzip();
            self.runtime.block_on(
                sqlx::query(
                    "INSERT INTO takeover_offsets (group_id, partition, next_offset)
                     SELECT $1, p, o FROM UNNEST($2::integer[], $3::bigint[]) AS x(p, o)
                     ON CONFLICT (group_id, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
                )
                .bind(&self.group)
                .bind(&partitions)
                .bind(&offsets)
                .execute(&self.pool),
            )?;
        }
        Ok(())
    }
}
