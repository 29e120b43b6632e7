//! The traffic of a drill: clients that POST every document to the write point, one at a time
//! each, at a paced rate, and retry a 503 after its `Retry-After` with the same document (and
//! document id) until it is accepted — so in the end every document is accepted exactly once.
//!
//! Every answer is recorded (when, how long it took, its status), for the drill's figures and
//! checks. Anything but 202 or 503-with-Retry-After is recorded as a problem, never retried.
//!
//! The pacing keeps documents flowing through every disruption: while the drill's script runs,
//! the last tenth of the documents is held to a trickle that lasts five minutes, so a slow
//! restart on a slow machine still happens under traffic.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use owp_protocol::SessionId;
use serde_json::Value;
use tokio::task::JoinSet;

/// While the script is running and only the reserve (a tenth) is left, the reserve is spread
/// over this long at least.
const RESERVE_SPAN: Duration = Duration::from_secs(300);

/// One answer of the write point.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// When it arrived, since the load started.
    pub at: Duration,
    pub latency: Duration,
    pub status: u16,
}

/// Where an accepted document landed, as its 202 said.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub document_id: String,
    pub partition: i32,
    pub offset: i64,
}

/// How the load runs.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    /// The write point's `POST /v1/documents`.
    pub url: String,
    pub clients: usize,
    /// Documents per second handed out at most.
    pub rate: f64,
    /// The longest an answer may take: the produce timeout and a margin for a busy machine.
    pub bound: Duration,
}

#[derive(Debug)]
struct Pacer {
    next: usize,
    next_at: Instant,
}

#[derive(Debug)]
struct Shared {
    settings: LoadSettings,
    /// Each document and the session it is sent with.
    documents: Vec<(Value, Option<SessionId>)>,
    started: Instant,
    pacer: tokio::sync::Mutex<Pacer>,
    script_done: AtomicBool,
    accepted: AtomicUsize,
    answers: Mutex<Vec<Answer>>,
    receipts: Mutex<Vec<Receipt>>,
    problems: Mutex<Vec<String>>,
}

/// The running clients.
#[derive(Debug)]
pub struct Load {
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
}

/// What the load saw, once every client has finished.
#[derive(Debug)]
pub struct Outcome {
    pub answers: Vec<Answer>,
    pub receipts: Vec<Receipt>,
    pub problems: Vec<String>,
    /// From the first document handed out to the last answer.
    pub elapsed: Duration,
    /// Documents not yet handed out when the drill's script ended.
    pub left_after_script: usize,
}

impl Load {
    /// Starts the clients on `documents`; they stop once every document is accepted.
    pub fn start(settings: LoadSettings, documents: Vec<(Value, Option<SessionId>)>) -> Self {
        let client = reqwest::Client::new();
        let shared = Arc::new(Shared {
            pacer: tokio::sync::Mutex::new(Pacer { next: 0, next_at: Instant::now() }),
            started: Instant::now(),
            script_done: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            answers: Mutex::new(Vec::with_capacity(documents.len() * 11 / 10)),
            receipts: Mutex::new(Vec::with_capacity(documents.len())),
            problems: Mutex::new(Vec::new()),
            documents,
            settings,
        });
        let mut tasks = JoinSet::new();
        for _ in 0..shared.settings.clients {
            let (shared, client) = (shared.clone(), client.clone());
            tasks.spawn(async move { shared.client(&client).await });
        }
        Self { shared, tasks }
    }

    pub fn started(&self) -> Instant {
        self.shared.started
    }

    pub fn total(&self) -> usize {
        self.shared.documents.len()
    }

    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Answers so far with `status`, since `since` (on the load's clock).
    pub fn count_since(&self, status: u16, since: Duration) -> usize {
        let answers = self.shared.answers.lock().unwrap();
        answers.iter().filter(|a| a.status == status && a.at >= since).count()
    }

    /// Answers with `status` to requests sent at or after `since`.
    pub fn sent_since(&self, status: u16, since: Duration) -> usize {
        let answers = self.shared.answers.lock().unwrap();
        answers.iter().filter(|a| a.status == status && a.at.saturating_sub(a.latency) >= since).count()
    }

    /// Every answer so far since `since`.
    pub fn answered_since(&self, since: Duration) -> usize {
        let answers = self.shared.answers.lock().unwrap();
        answers.iter().filter(|a| a.at >= since).count()
    }

    /// The first problem recorded, if any, so a drill can stop early on a wrong answer.
    pub fn first_problem(&self) -> Option<String> {
        self.shared.problems.lock().unwrap().first().cloned()
    }

    /// The drill's disruptions are over: the reserve goes at the full rate. Returns how many
    /// documents had not been handed out yet.
    pub async fn script_done(&self) -> usize {
        self.shared.script_done.store(true, Ordering::Relaxed);
        let pacer = self.shared.pacer.lock().await;
        self.shared.documents.len() - pacer.next
    }

    /// Waits for every client to finish (every document accepted, or a problem recorded).
    pub async fn finish(mut self, left_after_script: usize) -> Outcome {
        while let Some(joined) = self.tasks.join_next().await {
            joined.expect("a load client panicked");
        }
        let shared = Arc::try_unwrap(self.shared).expect("the clients are gone");
        let answers = shared.answers.into_inner().unwrap();
        let elapsed = answers.iter().map(|a| a.at).max().unwrap_or_default();
        Outcome {
            answers,
            receipts: shared.receipts.into_inner().unwrap(),
            problems: shared.problems.into_inner().unwrap(),
            elapsed,
            left_after_script,
        }
    }
}

impl Shared {
    /// The next document to send and its moment, paced; `None` when all are handed out.
    async fn ticket(&self) -> Option<usize> {
        let (index, slot) = {
            let mut pacer = self.pacer.lock().await;
            let index = pacer.next;
            let total = self.documents.len();
            if index >= total {
                return None;
            }
            pacer.next += 1;
            let reserve = total / 10;
            let holding = !self.script_done.load(Ordering::Relaxed) && total - index <= reserve;
            let trickle = (reserve as f64 / RESERVE_SPAN.as_secs_f64()).max(1.0);
            let rate = if holding { trickle.min(self.settings.rate) } else { self.settings.rate };
            let slot = pacer.next_at.max(Instant::now());
            pacer.next_at = slot + Duration::from_secs_f64(1.0 / rate);
            (index, slot)
        };
        tokio::time::sleep_until(slot.into()).await;
        Some(index)
    }

    async fn client(&self, client: &reqwest::Client) {
        while let Some(index) = self.ticket().await {
            if !self.deliver(client, index).await {
                return;
            }
        }
    }

    fn record(&self, sent: Instant, status: u16) {
        let answer = Answer { at: self.started.elapsed(), latency: sent.elapsed(), status };
        self.answers.lock().unwrap().push(answer);
    }

    fn problem(&self, problem: String) {
        self.problems.lock().unwrap().push(problem);
    }

    /// Sends one document until it is accepted; false when it met a problem instead.
    async fn deliver(&self, client: &reqwest::Client, index: usize) -> bool {
        let (document, session) = &self.documents[index];
        loop {
            let sent = Instant::now();
            let mut request = client.post(&self.settings.url).json(document);
            if let Some(session) = session {
                request = request.bearer_auth(session);
            }
            // Far past the bound: a request that takes this long has hung, and is recorded so.
            let response = request.timeout(self.settings.bound + Duration::from_secs(30)).send().await;
            let response = match response {
                Ok(response) => response,
                Err(err) => {
                    self.record(sent, 0);
                    self.problem(format!("document {index}: no answer after {:?}: {err}", sent.elapsed()));
                    return false;
                }
            };
            let status = response.status().as_u16();
            self.record(sent, status);
            match status {
                202 => {
                    let Ok(body) = response.json::<Value>().await else {
                        self.problem(format!("document {index}: a 202 without a JSON receipt"));
                        return false;
                    };
                    let receipt = Receipt {
                        document_id: body["document_id"].as_str().unwrap_or_default().to_owned(),
                        partition: body["partition"]
                            .as_i64()
                            .and_then(|p| i32::try_from(p).ok())
                            .unwrap_or(-1),
                        offset: body["offset"].as_i64().unwrap_or(-1),
                    };
                    self.receipts.lock().unwrap().push(receipt);
                    self.accepted.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                503 => {
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
                    let Some(seconds) = retry_after else {
                        self.problem(format!("document {index}: a 503 without a Retry-After in seconds"));
                        return false;
                    };
                    tokio::time::sleep(Duration::from_secs(seconds)).await;
                }
                _ => {
                    let body = response.text().await.unwrap_or_default();
                    self.problem(format!("document {index}: answered {status}: {body}"));
                    return false;
                }
            }
        }
    }
}
