//! One drill from start to verdict: a private cluster (owp-testkit), the whole stack on it (write
//! point, auth, robots in this process), documents flowing through the write point while the
//! drill's script disrupts the cluster, and the checks at the end — every document accepted
//! exactly once and on the log where its 202 said, every answer within the produce timeout and
//! a margin, no document lost or doubled in the projection, `replay --verify` equal — with the
//! figures printed to stderr.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use owp_platform::kafka::KafkaSettings;
use owp_testkit::{Node, PrivateStack, Shape, eventually};

use crate::{
    flow::{self, Sent},
    kafka_view::{self, KafkaView},
    load::{Answer, Load, LoadSettings},
    report,
    support::{Names, Stack},
};

/// Replicas per partition on a cluster, and how many must be in sync for a write.
pub const REPLICATION: i32 = 3;
pub const MIN_INSYNC: usize = 2;
/// How far past the produce timeout an answer may come on a busy two-core machine.
const ANSWER_MARGIN: Duration = Duration::from_secs(2);
/// Bounds on the waits of a drill; a cluster that needs longer is broken, not slow.
const RECOVERY_LIMIT: Duration = Duration::from_secs(180);
const FLOW_LIMIT: Duration = Duration::from_secs(900);

/// A drill in progress.
#[derive(Debug)]
pub struct Drill {
    name: &'static str,
    began: Instant,
    pub cluster: PrivateStack,
    pub names: Names,
    pub view: KafkaView,
    pub load: Load,
    stack: Stack,
    sent: Sent,
    bound: Duration,
    /// Each disruption and return, on the load's clock.
    steps: Vec<(Duration, String)>,
}

impl Drill {
    /// Starts the cluster and the stack, and the documents flowing.
    pub async fn start(name: &'static str, shape: Shape) -> Self {
        let began = Instant::now();
        let cluster = PrivateStack::launch(shape).await.expect("the drill's private cluster must start");
        report(&format!(
            "{name}: {shape:?} up in {:.1} s ({})",
            began.elapsed().as_secs_f64(),
            cluster.brokers()
        ));
        let names = Names::create_replicated(KafkaSettings::new(cluster.brokers()), REPLICATION).await;
        let stack = Stack::start_on(names.clone(), true).await;
        let session = flow::session(&stack.auth, &stack.client).await;
        let settings = crate::settings();
        let mut sent = Sent::default();
        let documents = (0..settings.documents).map(|i| flow::document(i, &session, &mut sent)).collect();
        let topics =
            [&names.topics.commands_topic, &names.topics.events_topic, &names.topics.deadletter_topic]
                .map(ToString::to_string)
                .to_vec();
        let view = KafkaView::new(&names.kafka, topics);
        view.in_sync(usize::from(shape.nodes()), RECOVERY_LIMIT).await;
        let bound = owp_writepoint::Settings::defaults().produce_timeout + ANSWER_MARGIN;
        let load = Load::start(
            LoadSettings {
                url: format!("{}/v1/documents", stack.writepoint),
                clients: settings.clients,
                rate: settings.rate,
                bound,
            },
            documents,
        );
        report(&format!(
            "{name}: {} documents from {} clients at up to {}/s; set up in {:.1} s",
            settings.documents,
            settings.clients,
            settings.rate,
            began.elapsed().as_secs_f64()
        ));
        Self { name, began, cluster, names, view, load, stack, sent, bound, steps: Vec::new() }
    }

    /// The longest an answer of the write point may take: its produce timeout and a margin.
    pub fn bound(&self) -> Duration {
        self.bound
    }

    fn now(&self) -> Duration {
        self.load.started().elapsed()
    }

    /// Marks a disruption or a return, and says so; returns its moment on the load's clock.
    pub fn step(&mut self, label: impl Into<String>) -> Duration {
        let at = self.now();
        let label = label.into();
        report(&format!("{}: +{:.1} s {label}", self.name, at.as_secs_f64()));
        self.steps.push((at, label));
        at
    }

    /// Prints a figure of the drill as it happens.
    pub fn note(&self, line: impl AsRef<str>) {
        report(&format!("{}: {}", self.name, line.as_ref()));
    }

    /// Waits (bounded) until `condition` holds of the load, failing early on a wrong answer.
    pub async fn until(&self, what: &str, condition: impl Fn(&Load) -> bool) {
        let held = eventually(FLOW_LIMIT, Duration::from_millis(50), async || {
            if let Some(problem) = self.load.first_problem() {
                panic!("{}: a wrong answer while waiting for {what}: {problem}", self.name);
            }
            condition(&self.load).then_some(())
        })
        .await;
        assert!(held.is_some(), "{}: not {what} within {FLOW_LIMIT:?}", self.name);
    }

    /// Until `share` of the documents are accepted.
    pub async fn until_accepted(&self, share: f64) {
        let target = (self.load.total() as f64 * share) as usize;
        self.until(&format!("{target} documents accepted"), |load| load.accepted() >= target).await;
    }

    /// The active controller, as `scripts/services status` names it.
    pub async fn controller(&self) -> Node {
        self.controller_where(|_| true).await
    }

    /// The active controller once it is another than `gone` (bounded).
    pub async fn controller_other_than(&self, gone: Node) -> Node {
        self.controller_where(|controller| controller != gone).await
    }

    async fn controller_where(&self, wanted: impl Fn(Node) -> bool) -> Node {
        let asked = Instant::now();
        let mut last = None;
        let controller = eventually(RECOVERY_LIMIT, Duration::from_millis(500), async || {
            let status = self.cluster.status().await.expect("scripts/services status");
            let found = status.controller().filter(|&c| wanted(c));
            last = Some(status);
            found
        })
        .await
        .unwrap_or_else(|| panic!("no active controller within {RECOVERY_LIMIT:?}:\n{}", last.unwrap()));
        self.note(format!(
            "scripts/services status names {controller} the active controller (asked for {:.1} s)",
            asked.elapsed().as_secs_f64()
        ));
        controller
    }

    /// Until every partition of the drill's topics is writable without the brokers `down`.
    pub async fn writable_without(&self, down: &[Node]) -> Duration {
        let ids: Vec<i32> = down.iter().map(|node| i32::from(node.number())).collect();
        self.view.writable_without(&ids, MIN_INSYNC, RECOVERY_LIMIT).await
    }

    /// Until every broker is back and every replica in sync.
    pub async fn in_sync(&self) -> Duration {
        self.view.in_sync(usize::from(self.cluster.shape().nodes()), RECOVERY_LIMIT).await
    }

    /// SIGKILLs a broker, waits until its partitions are led elsewhere, starts it again and waits
    /// until it is back in sync; prints each figure.
    pub async fn kill_and_restart_broker(&mut self, broker: Node) {
        self.step(format!("SIGKILL {broker}"));
        self.cluster.kill(broker).await.unwrap();
        let moved = self.writable_without(&[broker]).await;
        self.note(format!(
            "partitions led elsewhere and writable {:.1} s after the kill",
            moved.as_secs_f64()
        ));
        self.restart(&[broker]).await;
    }

    /// Starts `nodes` again, one after another, and waits until every replica is in sync.
    pub async fn restart(&mut self, nodes: &[Node]) {
        let names: Vec<String> = nodes.iter().map(ToString::to_string).collect();
        self.step(format!("starting {}", names.join(" and ")));
        let started = Instant::now();
        for &node in nodes {
            self.cluster.start(node).await.unwrap();
        }
        let serving = started.elapsed();
        let synced = self.in_sync().await;
        self.note(format!(
            "{} serving after {:.1} s, every replica in sync {:.1} s later",
            names.join(" and "),
            serving.as_secs_f64(),
            synced.as_secs_f64()
        ));
    }

    /// Ends the script, lets the rest of the documents flow, and checks everything.
    pub async fn finish(self) {
        let Self { name, began, cluster, names, view: _, load, stack, sent, bound, steps } = self;
        let left = load.script_done().await;
        let total = load.total();
        report(&format!("{name}: disruptions over with {left} of {total} documents still to send"));
        let outcome = load.finish(left).await;
        assert!(
            outcome.problems.is_empty(),
            "{name}: {} wrong answers, the first: {:?}",
            outcome.problems.len(),
            &outcome.problems[..outcome.problems.len().min(5)]
        );
        assert!(
            outcome.left_after_script > 0,
            "{name}: every document was sent before the disruptions ended; raise OWP_DRILL_DOCUMENTS or lower \
             OWP_DRILL_RATE so documents flow through all of them"
        );

        print_windows(name, &steps, &outcome.answers);
        let unavailable = outcome.answers.iter().filter(|a| a.status == 503).count();
        let slowest = outcome.answers.iter().map(|a| a.latency).max().unwrap_or_default();
        let mut accepting: Vec<Duration> =
            outcome.answers.iter().filter(|a| a.status == 202).map(|a| a.latency).collect();
        accepting.sort_unstable();
        let quantile = |q: f64| accepting[((accepting.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
        report(&format!(
            "{name}: {total} documents accepted in {:.1} s ({:.0}/s), {unavailable} answers 503 (each with \
             Retry-After, each retried), slowest answer {:.2} s (bound {:.1} s); a 202 took {:.0} ms at the \
             median, {:.0} ms at p99",
            outcome.elapsed.as_secs_f64(),
            total as f64 / outcome.elapsed.as_secs_f64(),
            slowest.as_secs_f64(),
            bound.as_secs_f64(),
            quantile(0.5),
            quantile(0.99)
        ));
        let late: Vec<&Answer> = outcome.answers.iter().filter(|a| a.latency > bound).collect();
        assert!(
            late.is_empty(),
            "{name}: {} answers over {bound:?}, e.g. {:?}",
            late.len(),
            &late[..late.len().min(5)]
        );

        // Every document accepted exactly once, and on the log where its 202 said.
        assert_eq!(outcome.receipts.len(), total, "{name}: one 202 per document");
        let accepted: HashSet<&str> = outcome.receipts.iter().map(|r| r.document_id.as_str()).collect();
        assert_eq!(accepted.len(), total, "{name}: no document accepted twice");
        let expected: HashSet<&str> =
            sent.businesses.iter().chain(&sent.bogus).chain(&sent.profiles).map(String::as_str).collect();
        assert_eq!(accepted, expected, "{name}: the accepted documents are the documents sent");
        let log = kafka_view::commands_on_log(&names.kafka, names.topics.commands_topic.as_str()).await;
        for receipt in &outcome.receipts {
            assert_eq!(
                log.get(&(receipt.partition, receipt.offset)).map(String::as_str),
                Some(receipt.document_id.as_str()),
                "{name}: the 202 of {} named {}@{}",
                receipt.document_id,
                receipt.partition,
                receipt.offset
            );
        }
        let mut copies: HashMap<&str, usize> = HashMap::new();
        for document in log.values() {
            *copies.entry(document.as_str()).or_default() += 1;
        }
        let twice = copies.values().filter(|&&n| n > 1).count();
        report(&format!(
            "{name}: every 202 is on the log where it said; {} commands on the log, {twice} documents \
             written more than once (a 503 whose write landed after all; the robots drop the copy)",
            log.len()
        ));

        let checking = Instant::now();
        flow::check(&names, &sent, FLOW_LIMIT).await;
        report(&format!(
            "{name}: 0 lost, 0 doubled, replay --verify equal ({:.1} s for the checks)",
            checking.elapsed().as_secs_f64()
        ));
        stack.stop().await;
        drop(cluster);
        report(&format!("{name}: drill runtime {:.1} s", began.elapsed().as_secs_f64()));
    }
}

/// Per stretch between two steps: its 503s, and how long after the step the last one came (the
/// time the write point took to recover).
fn print_windows(name: &str, steps: &[(Duration, String)], answers: &[Answer]) {
    for (i, (at, label)) in steps.iter().enumerate() {
        let end = steps.get(i + 1).map_or(Duration::MAX, |(next, _)| *next);
        let window: Vec<&Answer> = answers.iter().filter(|a| a.at >= *at && a.at < end).collect();
        let unavailable: Vec<&&Answer> = window.iter().filter(|a| a.status == 503).collect();
        let recovered = unavailable.iter().map(|a| a.at).max().map_or_else(
            || "no 503".to_owned(),
            |last| format!("last 503 {:.1} s after it", (last - *at).as_secs_f64()),
        );
        report(&format!(
            "{name}: after \"{label}\": {} answers, {} of them 503; {recovered}",
            window.len(),
            unavailable.len()
        ));
    }
}
