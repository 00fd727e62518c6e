//! Webhooks: subscriptions, and the durable outbox of deliveries. A delivery row is written in
//! the same transaction as its event, so no committed event can miss its subscribers; the
//! dispatcher claims due rows with a lease (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so several
//! nodes share the work) and records every attempt.

use serde::Serialize;
use sqlx::{AssertSqlSafe, FromRow};

use super::sql::{Bind, Filter, ListPage};
use super::{Created, IdempotencyKey, Store, StoreError, WriteTx, lease};
use crate::domain::time::Timestamp;

/// A subscription as shown; the secret only in the answer to its creation.
#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub id: i64,
    pub event: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub active: bool,
    pub created_at: Timestamp,
}

#[derive(FromRow)]
struct SubscriptionRow {
    id: i64,
    event: String,
    url: String,
    created_at: i64,
}

impl From<SubscriptionRow> for Subscription {
    fn from(row: SubscriptionRow) -> Self {
        Subscription {
            id: row.id,
            event: row.event,
            url: row.url,
            secret: None,
            active: true,
            created_at: Timestamp(row.created_at),
        }
    }
}

/// One attempt to deliver one event to one subscription.
#[derive(Debug, Serialize, FromRow)]
pub struct Attempt {
    pub id: i64,
    pub delivery_id: i64,
    pub event_id: i64,
    pub event: String,
    pub attempt: i64,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i64>,
    /// Why there was no 2xx answer (timeout, refused, …).
    pub error: Option<String>,
    #[sqlx(skip)]
    pub success: bool,
    /// Where the delivery stands now: `pending`, `delivered`, `failed` or `cancelled`.
    pub delivery_status: String,
    #[serde(serialize_with = "millis_as_time")]
    pub started_at: i64,
    pub duration_ms: i64,
    /// When the next attempt is due after this one; null when none follows.
    #[serde(serialize_with = "optional_millis_as_time")]
    pub next_retry_at: Option<i64>,
}

fn millis_as_time<S: serde::Serializer>(millis: &i64, s: S) -> Result<S::Ok, S::Error> {
    Timestamp(*millis).serialize(s)
}

fn optional_millis_as_time<S: serde::Serializer>(
    millis: &Option<i64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    millis.map(Timestamp).serialize(s)
}

/// A delivery claimed for an attempt, with what is needed to make it.
#[derive(Debug, Clone, FromRow)]
pub struct DueDelivery {
    pub id: i64,
    pub subscription_id: i64,
    pub attempts: i64,
    pub url: String,
    pub secret: String,
    pub event_id: i64,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub actor_id: Option<i64>,
    pub data: String,
    pub changes: Option<String>,
    pub created_at: i64,
}

/// How an attempt went.
#[derive(Debug)]
pub struct AttemptOutcome {
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub started_at: Timestamp,
    pub duration_ms: i64,
    /// When to try again; `None` after success or when the retries are used up.
    pub retry_at: Option<Timestamp>,
}

impl AttemptOutcome {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
            && self
                .status_code
                .is_some_and(|code| (200..300).contains(&code))
    }
}

const SUBSCRIPTION_COLUMNS: &str = "id, event, url, created_at";

/// Writes a pending delivery for every live subscription to `kind` (or to `*`).
pub(crate) async fn enqueue_deliveries(
    tx: &mut WriteTx,
    event_id: i64,
    kind: &str,
    at: Timestamp,
) -> Result<u64, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO webhook_deliveries \
         (subscription_id, event_id, status, attempts, next_attempt_at, created_at, updated_at) \
         SELECT id, $1, 'pending', 0, $2, $2, $2 FROM webhook_subscriptions \
         WHERE deleted_at IS NULL AND (event = $3 OR event = '*')",
    )
    .bind(event_id)
    .bind(at.millis())
    .bind(kind)
    .execute(tx.conn())
    .await?;
    Ok(inserted.rows_affected())
}

impl Store {
    pub async fn create_subscription(
        &self,
        event: &str,
        url: &str,
        secret: &str,
        created_by: i64,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<Subscription>, StoreError> {
        let now = Timestamp::now();
        self.create_idempotent(key, async |tx: &mut WriteTx| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO webhook_subscriptions (event, url, secret, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(event)
            .bind(url)
            .bind(secret)
            .bind(created_by)
            .bind(now.millis())
            .fetch_one(tx.conn())
            .await?;
            Ok(Subscription {
                id,
                event: event.to_string(),
                url: url.to_string(),
                secret: Some(secret.to_string()),
                active: true,
                created_at: now,
            })
        })
        .await
    }

    pub async fn find_subscription(&self, id: i64) -> Result<Subscription, StoreError> {
        let row: Option<SubscriptionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions \
             WHERE id = $1 AND deleted_at IS NULL"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.ok_or(StoreError::NotFound("Webhook"))?.into())
    }

    pub async fn list_subscriptions(
        &self,
        page: &ListPage<()>,
    ) -> Result<(Vec<Subscription>, i64), StoreError> {
        let mut sql = Filter::default();
        sql.and("deleted_at IS NULL".into());
        let (rows, total) = sql
            .fetch_page::<SubscriptionRow, _>(
                &self.pool,
                SUBSCRIPTION_COLUMNS,
                "webhook_subscriptions",
                page,
                "created_at",
            )
            .await?;
        Ok((rows.into_iter().map(Subscription::from).collect(), total))
    }

    /// Deletes a subscription and cancels its pending deliveries.
    pub async fn delete_subscription(&self, id: i64) -> Result<Subscription, StoreError> {
        let subscription = self.find_subscription(id).await?;
        let now = Timestamp::now().millis();
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE webhook_subscriptions SET deleted_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'cancelled', next_attempt_at = NULL, \
             updated_at = $1 WHERE subscription_id = $2 AND status = 'pending'",
        )
        .bind(now)
        .bind(id)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(Subscription {
            active: false,
            ..subscription
        })
    }

    /// The attempts made for a subscription, newest first by default.
    pub async fn list_attempts(
        &self,
        subscription_id: i64,
        page: &ListPage<()>,
    ) -> Result<(Vec<Attempt>, i64), StoreError> {
        self.find_subscription(subscription_id).await?;
        let mut sql = Filter::default();
        let p = sql.bind(Bind::Int(subscription_id));
        sql.and(format!("a.subscription_id = {p}"));
        let columns = "a.id AS id, a.delivery_id, d.event_id, e.type AS event, a.attempt, \
                       a.status_code, a.error, d.status AS delivery_status, a.started_at, \
                       a.duration_ms, a.next_attempt_at AS next_retry_at";
        let from = "webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
                    JOIN events e ON e.id = d.event_id";
        let (mut attempts, total) = sql
            .fetch_page::<Attempt, _>(&self.pool, columns, from, page, "a.id")
            .await?;
        for attempt in &mut attempts {
            attempt.success = attempt.error.is_none()
                && attempt
                    .status_code
                    .is_some_and(|code| (200..300).contains(&code));
        }
        Ok((attempts, total))
    }

    /// Claims due deliveries, leasing them until `lease_until` so no other dispatcher takes
    /// them meanwhile: at most `limit` in all and `room(subscription)` per subscription, so
    /// one subscription's backlog never takes every place.
    pub async fn claim_deliveries(
        &self,
        limit: i64,
        lease_until: Timestamp,
        room: &(dyn Fn(i64) -> i64 + Sync),
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let now = Timestamp::now().millis();
        let skip_locked = self.dialect.skip_locked();
        let mut tx = self.begin_write().await?;
        // An event committed just as its subscription was deleted can leave a delivery the
        // delete did not see (PostgreSQL): cancel those once due, reading only the due rows
        // the claim below reads anyway, not the whole backlog.
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'cancelled', next_attempt_at = NULL \
             WHERE status = 'pending' AND next_attempt_at <= $1 AND subscription_id IN \
             (SELECT id FROM webhook_subscriptions WHERE deleted_at IS NOT NULL)",
        )
        .bind(now)
        .execute(tx.conn())
        .await?;
        // The subscriptions waiting longest first, so none is starved.
        let subscriptions: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT subscription_id, MIN(next_attempt_at) AS due FROM webhook_deliveries \
             WHERE status = 'pending' AND next_attempt_at <= $1 \
             GROUP BY subscription_id ORDER BY due, subscription_id LIMIT 100",
        )
        .bind(now)
        .fetch_all(tx.conn())
        .await?;
        let mut ids: Vec<(i64,)> = Vec::new();
        for (subscription_id, _) in subscriptions {
            let wanted = room(subscription_id).min(limit - ids.len() as i64);
            if wanted <= 0 {
                continue;
            }
            let mut claimed: Vec<(i64,)> = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT id FROM webhook_deliveries WHERE subscription_id = $1 \
                 AND status = 'pending' AND next_attempt_at <= $2 \
                 ORDER BY next_attempt_at, id LIMIT $3{skip_locked}"
            )))
            .bind(subscription_id)
            .bind(now)
            .bind(wanted)
            .fetch_all(tx.conn())
            .await?;
            ids.append(&mut claimed);
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = lease(&mut tx, "webhook_deliveries", &ids, lease_until).await?;
        let due: Vec<DueDelivery> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT d.id, d.subscription_id, d.attempts, s.url, s.secret, e.id AS event_id, \
             e.type, e.actor_id, e.data, e.changes, e.created_at \
             FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id \
             JOIN events e ON e.id = d.event_id WHERE d.id IN ({list}) ORDER BY d.id"
        )))
        .fetch_all(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(due)
    }

    /// Records attempts and moves their deliveries on: delivered, due again, or failed. A
    /// delivery cancelled meanwhile (its subscription deleted) stays cancelled. One
    /// transaction for the whole batch: under load the dispatcher records many at once.
    pub async fn record_attempts(
        &self,
        attempts: &[(DueDelivery, AttemptOutcome)],
    ) -> Result<(), StoreError> {
        let now = Timestamp::now().millis();
        let mut tx = self.begin_write().await?;
        for (delivery, outcome) in attempts {
            let attempt = delivery.attempts + 1;
            let (status, next) = if outcome.succeeded() {
                ("delivered", None)
            } else {
                match outcome.retry_at {
                    Some(at) => ("pending", Some(at.millis())),
                    None => ("failed", None),
                }
            };
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, subscription_id, attempt, status_code, \
                 error, started_at, duration_ms, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(delivery.id)
            .bind(delivery.subscription_id)
            .bind(attempt)
            .bind(outcome.status_code)
            .bind(outcome.error.clone())
            .bind(outcome.started_at.millis())
            .bind(outcome.duration_ms)
            .bind(next)
            .execute(tx.conn())
            .await?;
            sqlx::query(
                "UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, \
                 updated_at = $4 WHERE id = $5 AND status = 'pending'",
            )
            .bind(status)
            .bind(attempt)
            .bind(next)
            .bind(now)
            .bind(delivery.id)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await
    }
}
