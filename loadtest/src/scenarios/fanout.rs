//! `fanout`: S sockets subscribed to one `case:{id}` topic; messages posted on that case at a
//! fixed rate or flat out. Reports deliveries per second, POST → receipt latency on every
//! socket, expected vs arrived deliveries, and server CPU per delivered message.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use tokio::sync::Mutex;

use super::{Meter, Tally, Target, bar, closed_loop, stall};
use crate::Error;
use crate::api::{Api, message_body};
use crate::report::{Phase, Report};
use crate::sockets::{Clock, Listeners};

/// How long to wait for deliveries still in flight after the last POST.
const GRACE: Duration = Duration::from_secs(10);
/// Password of the agents the load generator creates.
pub const AGENT_PASSWORD: &str = "loadtest-agent-password";

#[derive(Debug, Clone, Args)]
pub struct FanoutOptions {
    #[command(flatten)]
    pub target: Target,
    /// Sockets subscribed to the case.
    #[arg(long, default_value_t = 1000)]
    pub sockets: usize,
    /// Messages to post.
    #[arg(long, default_value_t = 2000)]
    pub messages: u64,
    /// Messages per second; 0 posts flat out with `--publishers` loops.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Concurrent posting loops when flat out.
    #[arg(long, default_value_t = 4)]
    pub publishers: usize,
    /// Longest posting time, in seconds.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Extra sockets subscribed to the case that never read (slow readers), measured apart.
    #[arg(long, default_value_t = 0)]
    pub stalled: usize,
    /// Agents the sockets log in as (sockets spread over them; mind HELPLINE_WS_MAX_PER_USER).
    #[arg(long, default_value_t = 10)]
    pub users: usize,
}

/// Creates `count` agents with a run-unique email and returns their tokens.
pub async fn agent_tokens(admin: &Api, count: usize) -> Result<Vec<String>, Error> {
    let run = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let mut tokens = Vec::with_capacity(count);
    for i in 0..count.max(1) {
        let email = format!("lt-{run}-{i}@example.org");
        admin.create_user(&email, AGENT_PASSWORD, "agent").await?;
        tokens.push(
            Api::login(&admin.base, &email, AGENT_PASSWORD, 1)
                .await?
                .token,
        );
    }
    Ok(tokens)
}

/// Opens `count` sockets subscribed to `case:{case_id}`, with a progress bar.
pub async fn open_listeners(
    target: &Target,
    tokens: &[String],
    case_id: i64,
    count: usize,
    clock: Arc<Clock>,
) -> Listeners {
    let url = target.ws_url();
    let progress = bar("sockets", count as u64);
    let p = progress.clone();
    let topics = vec![vec![format!("case:{case_id}")]];
    let listeners = Listeners::open(&url, tokens, &topics, count, 28_000, clock, move || {
        p.inc(1)
    })
    .await;
    progress.finish_and_clear();
    listeners
}

/// Waits for `expected` deliveries, stops the sockets, and makes the `deliveries` phase (CPU
/// measured from `meter`'s start).
pub async fn gather(listeners: Listeners, expected: u64, meter: &Meter) -> Phase {
    let sockets = listeners.open_count() as u64;
    listeners.wait_for(expected, GRACE).await;
    let arrived = listeners.arrived.load(std::sync::atomic::Ordering::Relaxed);
    let failed = listeners.failed.len() as u64;
    let mut phase = Phase {
        name: format!("deliveries ({sockets} sockets)"),
        ok: arrived,
        expected: Some(expected),
        arrived: Some(arrived),
        ..Phase::default()
    };
    meter.finish(&mut phase);
    let mut gathered = listeners.stop().await;
    phase.set_latencies(&mut gathered.latencies);
    for (kind, count) in [
        ("duplicate", gathered.duplicates),
        ("socket dropped", gathered.dropped),
        ("socket failed", failed),
    ] {
        if count > 0 {
            phase.errors.insert(kind.into(), count);
        }
    }
    phase
}

/// Posts `count` messages at `rate` per second (each POST its own task, so a slow answer does
/// not delay the schedule), for at most `duration`.
async fn fixed_rate(
    api: Arc<Api>,
    case_id: i64,
    clock: Arc<Clock>,
    options: &FanoutOptions,
    meter_pid: Option<u32>,
) -> Phase {
    let progress = bar("POST /communications", options.messages);
    let meter = Meter::start(meter_pid);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / options.rate));
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let mut tasks = Vec::new();
    for seq in 0..options.messages {
        ticker.tick().await;
        if Instant::now() >= deadline {
            break;
        }
        let (api, clock, tally, progress) =
            (api.clone(), clock.clone(), tally.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            clock.stamp(seq);
            let started = Instant::now();
            let outcome = api
                .post("/communications", &message_body(case_id, seq))
                .await;
            tally.lock().await.record(outcome, started.elapsed());
            progress.inc(1);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    progress.finish_and_clear();
    let tally = std::mem::take(&mut *tally.lock().await);
    tally.into_phase("POST /communications", &meter)
}

/// `fanout`.
pub async fn run(options: &FanoutOptions) -> Result<Report, Error> {
    let target = &options.target;
    let pid = target.pid();
    let admin = Arc::new(target.admin(options.publishers).await?);
    let case_id = admin.create_case(0, None).await?;
    let tokens = agent_tokens(&admin, options.users).await?;
    let clock = Clock::new(options.messages as usize);
    let listeners = open_listeners(target, &tokens, case_id, options.sockets, clock.clone()).await;
    let topic = format!("case:{case_id}");
    let stalled = stall::open(&target.ws_url(), &tokens[0], &topic, options.stalled).await?;
    let meter = Meter::start(pid);
    let mut posts = if options.rate > 0.0 {
        fixed_rate(admin.clone(), case_id, clock.clone(), options, pid).await
    } else {
        let (a, c) = (admin.clone(), clock.clone());
        let seconds = Duration::from_secs(options.seconds);
        closed_loop(
            "POST /communications",
            options.publishers,
            options.messages,
            seconds,
            pid,
            move |seq| {
                let (api, clock) = (a.clone(), c.clone());
                async move {
                    clock.stamp(seq);
                    api.post("/communications", &message_body(case_id, seq))
                        .await
                }
            },
        )
        .await
    };
    let expected = posts.ok * listeners.open_count() as u64;
    let deliveries = gather(listeners, expected, &meter).await;
    posts.expected = deliveries.expected;
    posts.arrived = deliveries.arrived;
    let mut phases = vec![posts, deliveries];
    if options.stalled > 0 {
        phases.push(stall::finish(stalled, pid).await);
    }
    let mode = if options.rate > 0.0 {
        format!("{} msg/s", options.rate)
    } else {
        "flat out".into()
    };
    Ok(Report {
        scenario: format!("fanout ({mode})"),
        target: target.name(),
        phases,
    })
}
