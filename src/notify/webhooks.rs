//! The webhook dispatcher: claims due deliveries from the outbox, POSTs them signed, and
//! records every attempt. Attempts run concurrently up to `HELPLINE_WEBHOOK_CONCURRENCY`, and
//! one subscription is given at most a quarter of those places when deliveries are claimed,
//! so a receiver that hangs delays nobody else. No redirect is followed; only public addresses are reached unless allowed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{Semaphore, mpsc};

use super::Shutdown;
use super::address::{PublicOnly, is_public};
use super::signing;
use crate::config::RetrySchedule;
use crate::domain::time::Timestamp;
use crate::store::{AttemptOutcome, DueDelivery, Store};

/// How long a claimed delivery is reserved for its attempt (far above the request timeout).
const LEASE: Duration = Duration::from_secs(120);
/// Deliveries claimed per query.
const BATCH: usize = 50;

pub struct Dispatcher {
    store: Store,
    client: reqwest::Client,
    schedule: RetrySchedule,
    allow_private: bool,
    places: Arc<Semaphore>,
    total_places: u32,
    per_subscription: usize,
    /// Deliveries claimed and not yet finished, per subscription.
    in_flight: Arc<DashMap<i64, usize>>,
    /// Woken when an attempt finishes.
    wake: tokio::sync::Notify,
    /// Finished attempts, on their way to the store.
    finished: Finished,
}

/// Where finished attempts go to be recorded (see [`record`]).
pub type Finished = mpsc::UnboundedSender<(DueDelivery, AttemptOutcome)>;

/// What the receiver gets.
#[derive(Serialize)]
struct WebhookBody<'a> {
    id: i64,
    r#type: &'a str,
    timestamp: Timestamp,
    actor: Option<i64>,
    data: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<&'a RawValue>,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        schedule: RetrySchedule,
        timeout: Duration,
        concurrency: u32,
        allow_private: bool,
        finished: Finished,
    ) -> Result<Self, reqwest::Error> {
        let mut client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, around the public-address check.
            .no_proxy()
            .timeout(timeout)
            .user_agent(concat!("Helpline-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            client = client.dns_resolver(Arc::new(PublicOnly));
        }
        let places = usize::try_from(concurrency).unwrap_or(16);
        Ok(Dispatcher {
            store,
            client: client.build()?,
            schedule,
            allow_private,
            places: Arc::new(Semaphore::new(places)),
            total_places: concurrency,
            per_subscription: (places / 4).max(1),
            in_flight: Arc::new(DashMap::new()),
            wake: tokio::sync::Notify::new(),
            finished,
        })
    }

    /// Runs until `shutdown`; then waits for the attempts in flight.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        while !shutdown.is_requested() {
            let claimed: usize = self.in_flight.iter().map(|entry| *entry.value()).sum();
            let free = (self.total_places as usize)
                .saturating_sub(claimed)
                .min(BATCH);
            let room = |subscription_id: i64| {
                let taken = self.in_flight.get(&subscription_id).map_or(0, |n| *n);
                self.per_subscription.saturating_sub(taken) as i64
            };
            let lease_until = Timestamp(Timestamp::now().millis() + LEASE.as_millis() as i64);
            let claimed = if free == 0 {
                Ok(Vec::new())
            } else {
                self.store
                    .claim_deliveries(free as i64, lease_until, &room)
                    .await
            };
            match claimed {
                Ok(deliveries) if !deliveries.is_empty() => {
                    for delivery in deliveries {
                        self.clone().spawn_attempt(delivery).await;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "webhooks: could not claim deliveries"),
            }
            tokio::select! {
                _ = self.store.outbox.webhooks.notified() => {}
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.requested() => {}
            }
        }
        let all = self.places.acquire_many(self.total_places);
        let _ = tokio::time::timeout(Duration::from_secs(15), all).await;
    }

    async fn spawn_attempt(self: Arc<Self>, delivery: DueDelivery) {
        let subscription_id = delivery.subscription_id;
        // Counted before the task starts, so the next claim already sees it.
        *self.in_flight.entry(subscription_id).or_insert(0) += 1;
        actix_web::rt::spawn(async move {
            // Claims never exceed the free places, so this does not wait; at shutdown the
            // dispatcher takes every place to wait for the attempts in hand.
            if let Ok(_place) = self.places.acquire().await {
                let outcome = self.attempt(&delivery).await;
                // The delivery stays leased until recorded, so nobody takes it meanwhile.
                let _ = self.finished.send((delivery, outcome));
            }
            self.in_flight.remove_if_mut(&subscription_id, |_, count| {
                *count -= 1;
                *count == 0
            });
            // Room again: look for more work now rather than at the next tick.
            self.wake.notify_one();
        });
    }

    async fn attempt(&self, delivery: &DueDelivery) -> AttemptOutcome {
        let started_at = Timestamp::now();
        let clock = Instant::now();
        let result = self.post(delivery).await;
        let duration_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status_code, error) = match result {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (Some(status), Some(format!("answered {status}"))),
            Err(error) => (None, Some(error)),
        };
        let failures = delivery.attempts + 1;
        let retry_at = error.as_ref().and_then(|_| {
            let delay = self.schedule.delay_after(failures)?;
            Some(Timestamp(
                Timestamp::now().millis() + delay.as_millis() as i64,
            ))
        });
        let outcome = match (&error, retry_at) {
            (None, _) => "delivered",
            (Some(_), Some(_)) => "retry",
            (Some(_), None) => "failed",
        };
        metrics::counter!("webhook_attempts_total", "outcome" => outcome).increment(1);
        tracing::info!(
            delivery = delivery.id,
            subscription = delivery.subscription_id,
            event = delivery.event_id,
            attempt = failures,
            status = status_code,
            error = error.as_deref(),
            duration_ms,
            "webhook attempt"
        );
        AttemptOutcome {
            status_code,
            error,
            started_at,
            duration_ms,
            retry_at,
        }
    }

    /// POSTs one delivery: the receiver's status, or why there was none.
    async fn post(&self, delivery: &DueDelivery) -> Result<i64, String> {
        let url = reqwest::Url::parse(&delivery.url).map_err(|_| "invalid URL".to_string())?;
        if !self.allow_private
            && let Some(ip) = url
                .host_str()
                .and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse().ok())
            && !is_public(ip)
        {
            return Err("refused: the URL points at a private address".into());
        }
        let key = signing::secret_key(&delivery.secret)?;
        let data = RawValue::from_string(delivery.data.clone()).map_err(|e| e.to_string())?;
        let changes = delivery
            .changes
            .clone()
            .map(RawValue::from_string)
            .transpose()
            .map_err(|e| e.to_string())?;
        let body = serde_json::to_string(&WebhookBody {
            id: delivery.event_id,
            r#type: &delivery.kind,
            timestamp: Timestamp(delivery.created_at),
            actor: delivery.actor_id,
            data: &data,
            changes: changes.as_deref(),
        })
        .map_err(|e| e.to_string())?;
        let id = format!("msg_{}", delivery.id);
        let timestamp = Timestamp::now().millis() / 1000;
        let signature = signing::sign(&key, &id, timestamp, &body);
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        Ok(i64::from(response.status().as_u16()))
    }
}

/// Writes finished attempts to the store, as many per transaction as have piled up. Runs until
/// the dispatcher is gone and everything it finished is written.
pub async fn record(
    store: Store,
    mut outcomes: mpsc::UnboundedReceiver<(DueDelivery, AttemptOutcome)>,
) {
    let mut batch = Vec::new();
    while outcomes.recv_many(&mut batch, 200).await > 0 {
        for retry in 1..=5u64 {
            match store.record_attempts(&batch).await {
                Ok(()) => break,
                Err(error) if retry == 5 => {
                    // Their leases run out and they are tried again: at least once.
                    tracing::warn!(%error, attempts = batch.len(), "webhooks: could not record attempts");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200 * retry)).await,
            }
        }
        batch.clear();
    }
}

/// A short reason for a failed request, without internals.
fn describe(error: reqwest::Error) -> String {
    // The URL may carry a partner's token in its query: never in errors or logs.
    let error = error.without_url();
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "could not connect".into()
    } else {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        message
    }
}
