//! `idle`: N authenticated sockets held open; the server's RSS growth per socket (VmRSS before
//! and after). Beyond `--spread-after` sockets, source addresses move to 127.0.0.2, .3, …

use std::time::Duration;

use clap::Args;

use super::{Meter, Target, bar, fanout};
use crate::Error;
use crate::report::{Phase, Report};
use crate::server;
use crate::sockets::{Clock, Listeners};

/// Time for the server to settle before and after the sockets open.
const SETTLE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Args)]
pub struct IdleOptions {
    #[command(flatten)]
    pub target: Target,
    /// Sockets to hold open.
    #[arg(long, default_value_t = 5000)]
    pub sockets: usize,
    /// Agents the sockets log in as (mind HELPLINE_WS_MAX_PER_USER).
    #[arg(long, default_value_t = 10)]
    pub users: usize,
    /// How long to hold them, in seconds, after all are open.
    #[arg(long, default_value_t = 5)]
    pub hold: u64,
    /// Also subscribe each socket to one case topic.
    #[arg(long)]
    pub subscribe: bool,
    /// Sockets per source address (the ephemeral port range holds about 28k).
    #[arg(long, default_value_t = 25_000)]
    pub spread_after: usize,
}

/// `idle`.
pub async fn run(options: &IdleOptions) -> Result<Report, Error> {
    let target = &options.target;
    let pid = target.pid();
    let admin = target.admin(1).await?;
    let tokens = fanout::agent_tokens(&admin, options.users).await?;
    let topics = if options.subscribe {
        vec![vec![format!("case:{}", admin.create_case(0, None).await?)]]
    } else {
        vec![Vec::new()]
    };
    tokio::time::sleep(SETTLE).await;
    let before = pid.and_then(|p| server::usage(Some(p)));
    let meter = Meter::start(pid);
    let progress = bar("idle sockets", options.sockets as u64);
    let p = progress.clone();
    let url = target.ws_url();
    let listeners = Listeners::open(
        &url,
        &tokens,
        &topics,
        options.sockets,
        options.spread_after,
        Clock::new(0),
        move || p.inc(1),
    )
    .await;
    progress.finish_and_clear();
    let open = listeners.open_count() as u64;
    let mut phase = Phase {
        name: format!("{} idle sockets", options.sockets),
        ok: open,
        ..Phase::default()
    };
    // Connect rate and server CPU per connect, over the opening only.
    meter.finish(&mut phase);
    tokio::time::sleep(SETTLE).await;
    let after = pid.and_then(|p| server::usage(Some(p)));
    tokio::time::sleep(Duration::from_secs(options.hold)).await;
    let held = pid.and_then(|p| server::usage(Some(p)));
    if let (Some(before), Some(after), Some(held)) = (before, after, held) {
        let grown = after
            .rss_kib
            .max(held.rss_kib)
            .saturating_sub(before.rss_kib);
        phase.rss_kib_per_socket = (open > 0).then(|| grown as f64 / open as f64);
        phase.server_rss_kib = Some(after.rss_kib.max(held.rss_kib));
    }
    let mut failures = std::collections::BTreeMap::new();
    for error in &listeners.failed {
        let kind: String = error.chars().take(40).collect();
        *failures.entry(format!("open: {kind}")).or_insert(0u64) += 1;
    }
    let gathered = listeners.stop().await;
    if gathered.dropped > 0 {
        failures.insert("dropped while held".into(), gathered.dropped);
    }
    phase.errors = failures;
    if let Some(before) = before {
        eprintln!(
            "server RSS: {} KiB before, {} KiB with {open} sockets",
            before.rss_kib,
            phase.server_rss_kib.unwrap_or(0)
        );
    }
    Ok(Report {
        scenario: "idle".into(),
        target: target.name(),
        phases: vec![phase],
    })
}
