//! `surge`: a helpline day compressed. Agents with a socket each (subscribed to their own cases
//! and their `agent:{id}` feed) post messages, open cases, update them and list their work,
//! while supervisors read the dashboard; for a fixed time. Reports every kind of request with
//! its errors by status, and the socket deliveries of the messages, expected vs arrived.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use tokio::sync::Mutex;

use super::{Meter, Tally, Target, bar, fanout};
use crate::Error;
use crate::api::{Api, case_body, message_body};
use crate::report::Report;
use crate::sockets::{Clock, Listeners};

/// Most messages one run may post (sizes the delivery bookkeeping).
const MAX_MESSAGES: usize = 500_000;

#[derive(Debug, Clone, Args)]
pub struct SurgeOptions {
    #[command(flatten)]
    pub target: Target,
    /// Agents working cases, each with one socket.
    #[arg(long, default_value_t = 20)]
    pub agents: usize,
    /// Supervisors reading the dashboard.
    #[arg(long, default_value_t = 2)]
    pub dashboards: usize,
    /// Cases each agent starts with (its socket subscribes to them).
    #[arg(long, default_value_t = 3)]
    pub cases: usize,
    /// How long the surge lasts, in seconds.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Pause between one person's actions, in milliseconds (0: back to back).
    #[arg(long, default_value_t = 50)]
    pub think_ms: u64,
}

/// A tiny deterministic generator (xorshift), one per person, so runs repeat.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % sides
    }
}

type Tallies = Arc<Mutex<BTreeMap<&'static str, Tally>>>;

/// What every person of the surge shares.
#[derive(Clone)]
struct Floor {
    /// The next message's sequence number.
    seq: Arc<AtomicU64>,
    clock: Arc<Clock>,
    tallies: Tallies,
    deadline: Instant,
    think: Duration,
}

/// One agent's work until the deadline: `me` is the agent's id, `cases` its cases.
async fn agent(api: Api, me: i64, cases: Vec<i64>, index: usize, floor: Floor) {
    let Floor {
        seq,
        clock,
        tallies,
        deadline,
        think,
    } = floor;
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1));
    let mut local: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let priorities = ["low", "medium", "high", "critical"];
    while Instant::now() < deadline {
        let case = cases[dice.roll(cases.len() as u64) as usize];
        let roll = dice.roll(100);
        let started = Instant::now();
        let (name, outcome) = match roll {
            0..40 => {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if n as usize >= clock.capacity() {
                    break;
                }
                clock.stamp(n);
                (
                    "POST /communications",
                    api.post("/communications", &message_body(case, n)).await,
                )
            }
            40..55 => (
                "POST /cases",
                api.post("/cases", &case_body(roll, Some(me))).await,
            ),
            55..75 => {
                let body = json!({ "priority": priorities[dice.roll(4) as usize] });
                (
                    "PUT /cases/{id}",
                    api.put(&format!("/cases/{case}"), &body).await,
                )
            }
            75..90 => (
                "GET /cases?assigned_to=me",
                api.get("/cases?assigned_to=me&status=open,in_progress")
                    .await,
            ),
            _ => ("GET /cases/{id}", api.get(&format!("/cases/{case}")).await),
        };
        local
            .entry(name)
            .or_default()
            .record(outcome, started.elapsed());
        tokio::time::sleep(think).await;
    }
    let mut tallies = tallies.lock().await;
    for (name, tally) in local {
        tallies.entry(name).or_default().merge(tally);
    }
}

/// One supervisor reading the dashboard until `deadline`.
async fn supervisor(api: Api, tallies: Tallies, deadline: Instant, think: Duration) {
    let mut local: BTreeMap<&'static str, Tally> = BTreeMap::new();
    while Instant::now() < deadline {
        for path in ["/dashboard/stats", "/dashboard/agent-performance"] {
            let started = Instant::now();
            let outcome = api.get(path).await;
            let name = if path.ends_with("stats") {
                "GET /dashboard/stats"
            } else {
                "GET /dashboard/agent-performance"
            };
            local
                .entry(name)
                .or_default()
                .record(outcome, started.elapsed());
        }
        tokio::time::sleep(think * 4).await;
    }
    let mut tallies = tallies.lock().await;
    for (name, tally) in local {
        tallies.entry(name).or_default().merge(tally);
    }
}

/// `surge`.
pub async fn run(options: &SurgeOptions) -> Result<Report, Error> {
    let target = &options.target;
    let pid = target.pid();
    let admin = target.admin(options.dashboards).await?;
    let tokens = fanout::agent_tokens(&admin, options.agents).await?;
    // Each agent: its id (from /auth/me), its cases, its socket's topics.
    let mut agents = Vec::new();
    let mut topics = Vec::new();
    let progress = bar("setup agents", options.agents as u64);
    for token in &tokens {
        let api = Api {
            token: token.clone(),
            ..admin.with_pool(1)?
        };
        let me: serde_json::Value = api
            .http
            .get(format!("{}/api/v1/auth/me", api.base))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        let me = me["data"]["id"].as_i64().unwrap_or(0);
        let mut cases = Vec::new();
        for n in 0..options.cases.max(1) {
            cases.push(api.create_case(n as u64, Some(me)).await?);
        }
        let mut agent_topics: Vec<String> = cases.iter().map(|id| format!("case:{id}")).collect();
        agent_topics.push(format!("agent:{me}"));
        topics.push(agent_topics);
        agents.push((api, me, cases));
        progress.inc(1);
    }
    progress.finish_and_clear();
    let clock = Clock::new(MAX_MESSAGES);
    let url = target.ws_url();
    let listeners = Listeners::open(
        &url,
        &tokens,
        &topics,
        tokens.len(),
        25_000,
        clock.clone(),
        || {},
    )
    .await;
    let tallies: Tallies = Arc::default();
    let seq = Arc::new(AtomicU64::new(0));
    let think = Duration::from_millis(options.think_ms);
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let floor = Floor {
        seq,
        clock: clock.clone(),
        tallies: tallies.clone(),
        deadline,
        think,
    };
    let meter = Meter::start(pid);
    let timer = bar("surge (seconds)", options.seconds);
    let mut people = Vec::new();
    for (index, (api, me, cases)) in agents.into_iter().enumerate() {
        people.push(tokio::spawn(agent(api, me, cases, index, floor.clone())));
    }
    for _ in 0..options.dashboards {
        people.push(tokio::spawn(supervisor(
            admin.clone(),
            tallies.clone(),
            deadline,
            think,
        )));
    }
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        timer.inc(1);
    }
    for person in people {
        let _ = person.await;
    }
    timer.finish_and_clear();
    let mut phases = Vec::new();
    let mut all = Tally::default();
    let tallies = std::mem::take(&mut *tallies.lock().await);
    let posted = tallies.get("POST /communications").map_or(0, |t| t.ok);
    for (name, tally) in tallies {
        let mut phase = Tally {
            ok: tally.ok,
            errors: tally.errors.clone(),
            latencies: tally.latencies.clone(),
        }
        .into_phase(name, &meter);
        phase.server_cpu_us_per_op = None;
        phase.server_cpu_percent = None;
        phases.push(phase);
        all.merge(tally);
    }
    phases.push(all.into_phase("all requests", &meter));
    // Each message goes to the one socket of the agent whose case it is on.
    let mut deliveries = fanout::gather(listeners, posted, &meter).await;
    deliveries.server_cpu_us_per_op = None;
    phases.push(deliveries);
    Ok(Report {
        scenario: "surge".into(),
        target: target.name(),
        phases,
    })
}
