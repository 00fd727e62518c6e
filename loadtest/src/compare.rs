//! `compare`: starts the reference servers (this binary's `serve`) and a Helpline binary on a
//! fresh temporary SQLite database with rate limits and the per-user socket cap off, runs the
//! scenarios against each in turn, repeats, and prints medians and each Helpline figure next
//! to its reference with the ratio.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;

use crate::ratios::{median_report, print_comparison};
use crate::report::{self, Report};
use crate::scenarios::fanout::FanoutOptions;
use crate::scenarios::idle::IdleOptions;
use crate::scenarios::rest::RestOptions;
use crate::scenarios::{Target, fanout, idle, rest};
use crate::{Error, Kind};

/// The admin password Helpline is started with.
const ADMIN_PASSWORD: &str = "loadtest-password";

#[derive(Debug, Clone, Args)]
pub struct CompareOptions {
    /// The Helpline binary to measure (e.g. target/release/helpline).
    #[arg(long)]
    pub helpline: PathBuf,
    /// Repetitions of every scenario (figures are medians).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Scenarios to run, comma-separated: rest-read, rest-write, fanout, fanout-rate, idle.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "rest-read,rest-write,fanout,fanout-rate,idle"
    )]
    pub scenarios: Vec<String>,
    /// First of five consecutive ports (hello, sqlite, relay, Helpline, a fresh server for idle).
    #[arg(long, default_value_t = 18_100)]
    pub base_port: u16,
    /// REST: concurrent clients.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// REST: most requests per phase.
    #[arg(long, default_value_t = 10_000)]
    pub requests: u64,
    /// REST: longest time per phase, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// rest-write: sockets subscribed to the case messages are posted on (Helpline only).
    #[arg(long, default_value_t = 100)]
    pub subscribers: usize,
    /// fanout: sockets on the topic.
    #[arg(long, default_value_t = 1000)]
    pub sockets: usize,
    /// fanout: messages posted flat out.
    #[arg(long, default_value_t = 1000)]
    pub messages: u64,
    /// fanout-rate: messages per second, and how many.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 250)]
    pub rate_messages: u64,
    /// idle: sockets held open.
    #[arg(long, default_value_t = 5000)]
    pub idle_sockets: usize,
}

/// Child processes killed (by their own handle) when dropped.
struct Servers {
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A started server: its kind, URL and pid.
#[derive(Clone)]
struct Started {
    kind: Kind,
    url: String,
    pid: u32,
}

impl Started {
    fn target(&self) -> Target {
        Target {
            url: self.url.clone(),
            email: "admin@localhost".into(),
            password: ADMIN_PASSWORD.into(),
            server_pid: Some(self.pid),
            kind: self.kind,
        }
    }
}

async fn wait_healthy(url: &str) -> Result<(), Error> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(answer) = http.get(format!("{url}/health")).send().await
            && answer.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("{url} did not become healthy within 60 s").into())
}

/// Starts one server of `kind` on `port`; its log goes to a file in `dir`.
fn spawn(
    kind: Kind,
    port: u16,
    options: &CompareOptions,
    dir: &Path,
) -> Result<(Child, Started), Error> {
    let log = |name: String| -> Result<Stdio, Error> {
        Ok(std::fs::File::create(dir.join(name))?.into())
    };
    let name = format!("{kind:?}").to_lowercase();
    let child = if kind == Kind::Helpline {
        let mut helpline = Command::new(&options.helpline);
        let db = dir.join(format!("helpline-{port}.db"));
        helpline
            .env("HELPLINE_BIND", format!("127.0.0.1:{port}"))
            .env(
                "HELPLINE_DATABASE_URL",
                format!("sqlite://{}", db.display()),
            )
            .env("HELPLINE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("HELPLINE_WS_MAX_PER_USER", "0")
            .env("RUST_LOG", "warn")
            .stdout(log(format!("helpline-{port}.log"))?)
            .stderr(log(format!("helpline-{port}.err"))?);
        for group in ["CASES", "USERS", "COMMUNICATIONS", "DASHBOARD", "OTHER"] {
            helpline.env(format!("HELPLINE_RATE_LIMIT_{group}"), "0");
        }
        helpline.spawn()?
    } else {
        Command::new(std::env::current_exe()?)
            .args(["serve", &name, "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(log(format!("{name}-{port}.log"))?)
            .spawn()?
    };
    let started = Started {
        kind,
        url: format!("http://127.0.0.1:{port}"),
        pid: child.id(),
    };
    Ok((child, started))
}

/// Starts the three references and Helpline on four consecutive ports.
async fn start(options: &CompareOptions) -> Result<(Servers, Vec<Started>), Error> {
    let mut servers = Servers {
        children: Vec::new(),
        dir: tempfile::tempdir()?,
    };
    let mut started = Vec::new();
    for (offset, kind) in [Kind::Hello, Kind::Sqlite, Kind::Relay, Kind::Helpline]
        .into_iter()
        .enumerate()
    {
        let (child, server) = spawn(
            kind,
            options.base_port + offset as u16,
            options,
            servers.dir.path(),
        )?;
        servers.children.push(child);
        started.push(server);
    }
    for server in &started {
        wait_healthy(&server.url).await?;
    }
    eprintln!("servers up; logs in {}", servers.dir.path().display());
    Ok((servers, started))
}

/// Runs `idle` on a fresh server of `kind` (memory freed by earlier scenarios stays in the
/// allocator and would hide the growth), then stops it.
async fn fresh_idle(kind: Kind, options: &CompareOptions, dir: &Path) -> Result<Report, Error> {
    let port = options.base_port + 4;
    let (child, server) = spawn(kind, port, options, dir)?;
    // Killed when this returns.
    let _guard = Servers {
        children: vec![child],
        dir: tempfile::tempdir()?,
    };
    wait_healthy(&server.url).await?;
    scenario("idle", &server, options).await
}

/// Runs one scenario against one server.
async fn scenario(name: &str, server: &Started, options: &CompareOptions) -> Result<Report, Error> {
    let target = server.target();
    let rest_options = |subscribers| RestOptions {
        target: target.clone(),
        clients: options.clients,
        requests: options.requests,
        seconds: options.seconds,
        cases: 200,
        subscribers,
        users: 10,
    };
    let fanout_options = |rate: f64, messages| FanoutOptions {
        target: target.clone(),
        sockets: options.sockets,
        messages,
        rate,
        publishers: 4,
        seconds: 120,
        stalled: 0,
        users: 10,
    };
    match name {
        "rest-read" => rest::read(&rest_options(0)).await,
        "rest-write" => {
            let subscribers = if server.kind == Kind::Helpline {
                options.subscribers
            } else {
                0
            };
            rest::write(&rest_options(subscribers)).await
        }
        "fanout" => fanout::run(&fanout_options(0.0, options.messages)).await,
        "fanout-rate" => fanout::run(&fanout_options(options.rate, options.rate_messages)).await,
        "idle" => {
            idle::run(&IdleOptions {
                target,
                sockets: options.idle_sockets,
                users: 10,
                hold: 3,
                subscribe: false,
                spread_after: 25_000,
            })
            .await
        }
        other => Err(format!("unknown scenario {other}").into()),
    }
}

/// Which servers a scenario runs on: Helpline first, then its references.
fn servers_for(name: &str) -> Vec<Kind> {
    match name {
        "rest-read" => vec![Kind::Helpline, Kind::Sqlite, Kind::Hello],
        "rest-write" => vec![Kind::Helpline, Kind::Sqlite],
        _ => vec![Kind::Helpline, Kind::Relay],
    }
}

/// `compare`.
pub async fn run(options: &CompareOptions, json: bool) -> Result<(), Error> {
    let (servers, started) = start(options).await?;
    let mut runs: BTreeMap<(String, String), Vec<Report>> = BTreeMap::new();
    for run in 0..options.runs {
        for name in &options.scenarios {
            for kind in servers_for(name) {
                let Some(server) = started.iter().find(|s| s.kind == kind) else {
                    continue;
                };
                eprintln!("run {}/{}: {name} on {kind:?}", run + 1, options.runs);
                let report = if name == "idle" {
                    fresh_idle(kind, options, servers.dir.path()).await?
                } else {
                    scenario(name, server, options).await?
                };
                if !json {
                    report::print_table(&report);
                }
                runs.entry((name.clone(), format!("{kind:?}")))
                    .or_default()
                    .push(report);
            }
        }
    }
    drop(servers);
    let medians: BTreeMap<(String, String), Report> = runs
        .iter()
        .map(|(key, reports)| (key.clone(), median_report(reports)))
        .collect();
    let all: Vec<Report> = medians.values().cloned().collect();
    if json {
        report::print(&all, true);
    } else {
        println!("\n==== medians ====");
        report::print(&all, false);
        print_comparison(&medians);
    }
    Ok(())
}
