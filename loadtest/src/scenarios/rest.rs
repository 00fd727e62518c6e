//! `rest-read` (`GET /cases/{id}`, a filtered `GET /cases`, `GET /dashboard/stats`) and `rest-write` (`POST /cases`,
//! `POST /communications`, optionally with sockets subscribed to the case the messages go to).

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{Target, closed_loop, fanout};
use crate::Error;
use crate::api::{Api, case_body, message_body};
use crate::report::Report;
use crate::sockets::Clock;

/// The filter of the list phase: open work of high priority, first page.
pub const LIST_QUERY: &str = "/cases?status=open,in_progress&priority=high,critical&limit=20";

#[derive(Debug, Clone, Args)]
pub struct RestOptions {
    #[command(flatten)]
    pub target: Target,
    /// Concurrent clients (each one request at a time, back to back).
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Most requests per phase.
    #[arg(long, default_value_t = 20_000)]
    pub requests: u64,
    /// Longest time per phase, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Cases created first (the read phase picks among them).
    #[arg(long, default_value_t = 200)]
    pub cases: u64,
    /// rest-write: sockets subscribed to the case the messages are posted on.
    #[arg(long, default_value_t = 0)]
    pub subscribers: usize,
    /// rest-write: agents the subscribers log in as (sockets spread over them).
    #[arg(long, default_value_t = 10)]
    pub users: usize,
}

/// Creates `count` cases, 8 at a time, and returns their ids.
pub async fn create_cases(api: &Api, count: u64) -> Result<Vec<i64>, Error> {
    let mut ids = Vec::with_capacity(count as usize);
    let mut start = 0;
    while start < count {
        let end = (start + 8).min(count);
        let batch: Vec<_> = (start..end).map(|n| api.create_case(n, None)).collect();
        for id in futures_util::future::join_all(batch).await {
            ids.push(id?);
        }
        start = end;
    }
    Ok(ids)
}

/// `rest-read`: reads cases by id, then lists with filters.
pub async fn read(options: &RestOptions) -> Result<Report, Error> {
    let target = &options.target;
    let pid = target.pid();
    let admin = target.admin(options.clients).await?;
    let ids = Arc::new(create_cases(&admin, options.cases.max(1)).await?);
    let seconds = Duration::from_secs(options.seconds);
    let api = Arc::new(admin);
    let (a, i) = (api.clone(), ids.clone());
    let by_id = closed_loop(
        "GET /cases/{id}",
        options.clients,
        options.requests,
        seconds,
        pid,
        move |n| {
            let (api, id) = (a.clone(), i[n as usize % i.len()]);
            async move { api.get(&format!("/cases/{id}")).await }
        },
    )
    .await;
    let a = api.clone();
    let list = closed_loop(
        "GET /cases?filters",
        options.clients,
        options.requests,
        seconds,
        pid,
        move |_| {
            let api = a.clone();
            async move { api.get(LIST_QUERY).await }
        },
    )
    .await;
    let a = api.clone();
    let dashboard = closed_loop(
        "GET /dashboard/stats",
        options.clients,
        options.requests,
        seconds,
        pid,
        move |_| {
            let api = a.clone();
            async move { api.get("/dashboard/stats").await }
        },
    )
    .await;
    Ok(Report {
        scenario: "rest-read".into(),
        target: target.name(),
        phases: vec![by_id, list, dashboard],
    })
}

/// `rest-write`: creates cases, then posts messages on one case (with subscribers listening).
pub async fn write(options: &RestOptions) -> Result<Report, Error> {
    let target = &options.target;
    let pid = target.pid();
    let admin = Arc::new(target.admin(options.clients).await?);
    let seconds = Duration::from_secs(options.seconds);
    let a = admin.clone();
    let cases = closed_loop(
        "POST /cases",
        options.clients,
        options.requests,
        seconds,
        pid,
        move |n| {
            let api = a.clone();
            async move { api.post("/cases", &case_body(n, None)).await }
        },
    )
    .await;
    let case_id = admin.create_case(0, None).await?;
    let clock = Clock::new(options.requests as usize);
    let listeners = if options.subscribers > 0 {
        let tokens = fanout::agent_tokens(&admin, options.users).await?;
        Some(
            fanout::open_listeners(target, &tokens, case_id, options.subscribers, clock.clone())
                .await,
        )
    } else {
        None
    };
    let (a, c) = (admin.clone(), clock.clone());
    let meter = super::Meter::start(pid);
    let mut messages = closed_loop(
        "POST /communications",
        options.clients,
        options.requests,
        seconds,
        pid,
        move |n| {
            let (api, clock) = (a.clone(), c.clone());
            async move {
                clock.stamp(n);
                api.post("/communications", &message_body(case_id, n)).await
            }
        },
    )
    .await;
    let mut phases = vec![cases];
    if let Some(listeners) = listeners {
        let expected = messages.ok * listeners.open_count() as u64;
        let deliveries = fanout::gather(listeners, expected, &meter).await;
        messages.expected = deliveries.expected;
        messages.arrived = deliveries.arrived;
        phases.push(messages);
        phases.push(deliveries);
    } else {
        phases.push(messages);
    }
    Ok(Report {
        scenario: "rest-write".into(),
        target: target.name(),
        phases,
    })
}
