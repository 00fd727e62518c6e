//! The scenarios, and what they share: the target options, a meter of server CPU over a phase,
//! a closed-loop driver of N concurrent request loops, and progress bars.

pub mod fanout;
pub mod idle;
pub mod rest;
pub mod stall;
pub mod surge;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::api::{Api, Outcome};
use crate::report::Phase;
use crate::server::{self, Usage};
use crate::{Error, Kind};

/// Where the server is and how to log in.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8888")]
    pub url: String,
    /// Admin email (Helpline's bootstrap admin).
    #[arg(long, default_value = "admin@localhost")]
    pub email: String,
    /// Admin password (`HELPLINE_ADMIN_PASSWORD` of the server).
    #[arg(
        long,
        env = "HELPLINE_ADMIN_PASSWORD",
        default_value = "loadtest-password"
    )]
    pub password: String,
    /// Pid of the server process, for its CPU time and RSS; found from the port when absent.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// What the server is: `helpline`, or a reference server of this crate.
    #[arg(long, value_enum, default_value = "helpline")]
    pub kind: Kind,
}

impl Target {
    /// The server's pid: the one given, or the process listening on the URL's port.
    pub fn pid(&self) -> Option<u32> {
        self.server_pid.or_else(|| {
            let port = self
                .url
                .rsplit(':')
                .next()?
                .trim_end_matches('/')
                .parse()
                .ok()?;
            server::pid_listening_on(port)
        })
    }

    /// Logs in as the admin.
    pub async fn admin(&self, pool: usize) -> Result<Api, Error> {
        Api::login(&self.url, &self.email, &self.password, pool).await
    }

    /// The WebSocket URL of the server.
    pub fn ws_url(&self) -> String {
        format!("{}/api/v1/ws", self.url.replacen("http", "ws", 1))
    }

    /// A name for reports: the kind and the URL.
    pub fn name(&self) -> String {
        format!("{:?} at {}", self.kind, self.url).to_lowercase()
    }
}

/// Server (and load generator) CPU and RSS from the start of a phase.
pub struct Meter {
    pid: Option<u32>,
    started: Instant,
    server: Option<Usage>,
    client: Option<Usage>,
}

impl Meter {
    pub fn start(pid: Option<u32>) -> Meter {
        Meter {
            pid,
            started: Instant::now(),
            server: pid.and_then(|pid| server::usage(Some(pid))),
            client: server::usage(None),
        }
    }

    /// Fills the phase's time, rate and CPU figures (per `ok` operation).
    pub fn finish(&self, phase: &mut Phase) {
        let seconds = self.started.elapsed().as_secs_f64();
        phase.seconds = seconds;
        phase.rate = phase.ok as f64 / seconds.max(1e-9);
        let percent = |cpu_us: u64| cpu_us as f64 / 1e6 / seconds.max(1e-9) * 100.0;
        if let (Some(before), Some(after)) =
            (self.server, self.pid.and_then(|p| server::usage(Some(p))))
        {
            let cpu = after.cpu_us.saturating_sub(before.cpu_us);
            phase.server_cpu_us_per_op = (phase.ok > 0).then(|| cpu as f64 / phase.ok as f64);
            phase.server_cpu_percent = Some(percent(cpu));
            phase.server_rss_kib = Some(after.rss_kib);
        }
        if let (Some(before), Some(after)) = (self.client, server::usage(None)) {
            phase.client_cpu_percent = Some(percent(after.cpu_us.saturating_sub(before.cpu_us)));
        }
    }
}

/// A progress bar to stderr with a prefix.
pub fn bar(prefix: &str, length: u64) -> ProgressBar {
    let bar = ProgressBar::new(length);
    let style = ProgressStyle::with_template(
        "{prefix:>22} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}) {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(prefix.to_string());
    bar
}

/// Counts outcomes: 2xx are successes, the rest are errors by status or kind.
#[derive(Default)]
pub struct Tally {
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub latencies: Vec<u32>,
}

impl Tally {
    pub fn record(&mut self, outcome: Outcome, took: Duration) {
        match outcome {
            Ok(status) if (200..300).contains(&status) => {
                self.ok += 1;
                self.latencies
                    .push(took.as_micros().min(u128::from(u32::MAX)) as u32);
            }
            Ok(status) => *self.errors.entry(status.to_string()).or_default() += 1,
            Err(kind) => *self.errors.entry(kind.to_string()).or_default() += 1,
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.latencies.extend(other.latencies);
        for (kind, count) in other.errors {
            *self.errors.entry(kind).or_default() += count;
        }
    }

    /// Turns the tally into a phase (the meter fills time and CPU).
    pub fn into_phase(mut self, name: &str, meter: &Meter) -> Phase {
        let mut phase = Phase {
            name: name.to_string(),
            ok: self.ok,
            errors: self.errors,
            ..Phase::default()
        };
        phase.set_latencies(&mut self.latencies);
        meter.finish(&mut phase);
        phase
    }
}

/// Runs `clients` loops, each calling `op(n)` with a fresh `n` back to back, until `requests`
/// calls were made or `duration` passed; measures the server over the whole phase.
pub async fn closed_loop<F, Fut>(
    name: &str,
    clients: usize,
    requests: u64,
    duration: Duration,
    pid: Option<u32>,
    op: F,
) -> Phase
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let total = Arc::new(Mutex::new(Tally::default()));
    let progress = bar(name, requests);
    let meter = Meter::start(pid);
    let deadline = Instant::now() + duration;
    let mut loops = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (op, next, total, progress) =
            (op.clone(), next.clone(), total.clone(), progress.clone());
        loops.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    break;
                }
                let started = Instant::now();
                let outcome = op(n).await;
                tally.record(outcome, started.elapsed());
                progress.inc(1);
            }
            if let Ok(mut total) = total.lock() {
                total.merge(tally);
            }
        }));
    }
    for task in loops {
        let _ = task.await;
    }
    progress.finish_and_clear();
    let tally = match Arc::try_unwrap(total) {
        Ok(mutex) => mutex.into_inner().unwrap_or_default(),
        Err(_) => Tally::default(),
    };
    tally.into_phase(name, &meter)
}
