//! The events log: every change appends its event in the transaction that makes the change,
//! numbered per topic with no gaps and no repeats. After commit the same entries go to the
//! publisher (the realtime hub); a subscriber that missed some reads them back with
//! [`Store::events_since`].

use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::FromRow;

use super::{Store, StoreError, WriteTx};
use crate::domain::case::Changes;
use crate::domain::time::Timestamp;

/// An event about to be written.
pub(crate) struct NewEvent<'a, T: Serialize> {
    /// `case.created`, `case.updated`, …
    pub kind: &'static str,
    pub case_id: Option<i64>,
    /// The user who caused it.
    pub actor_id: Option<i64>,
    /// The resource as it is after the change.
    pub data: &'a T,
    pub changes: Option<&'a Changes>,
    /// Topics the event is published on; none for events that are only recorded (`case.viewed`).
    pub topics: &'a [String],
    pub at: Timestamp,
}

/// One event as seen on one topic: what subscribers of that topic receive.
#[derive(Debug, Clone)]
pub struct TopicEvent {
    pub topic: String,
    pub seq: i64,
    pub event: Arc<LoggedEvent>,
}

/// A committed event, its JSON kept as written.
#[derive(Debug)]
pub struct LoggedEvent {
    pub id: i64,
    pub kind: String,
    pub actor_id: Option<i64>,
    pub data: Box<RawValue>,
    pub changes: Option<Box<RawValue>>,
    pub at: Timestamp,
}

/// Receives the events of every committed write transaction, in commit order per topic.
pub type Publisher = Arc<dyn Fn(Vec<TopicEvent>) + Send + Sync>;

/// Appends the event, gives it the next seq on each of its topics, and queues it for
/// publication when `tx` commits.
pub(crate) async fn append<T: Serialize>(
    tx: &mut WriteTx,
    event: NewEvent<'_, T>,
) -> Result<i64, StoreError> {
    let data = serde_json::to_string(event.data).unwrap_or_else(|_| "null".into());
    let changes = event
        .changes
        .map(|c| serde_json::to_string(c).unwrap_or_else(|_| "{}".into()));
    let (event_id,): (i64,) = sqlx::query_as(
        "INSERT INTO events (type, case_id, actor_id, data, changes, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(event.kind)
    .bind(event.case_id)
    .bind(event.actor_id)
    .bind(data.as_str())
    .bind(changes.as_deref())
    .bind(event.at.millis())
    .fetch_one(tx.conn())
    .await?;
    if event.topics.is_empty() {
        return Ok(event_id);
    }
    // Published events are also what webhooks carry.
    if super::webhooks::enqueue_deliveries(tx, event_id, event.kind, event.at).await? > 0 {
        tx.wrote_deliveries = true;
    }
    let logged = Arc::new(LoggedEvent {
        id: event_id,
        kind: event.kind.to_string(),
        actor_id: event.actor_id,
        data: raw_json(data),
        changes: changes.map(raw_json),
        at: event.at,
    });
    for topic in event.topics {
        // The upsert holds the topic's row lock until commit (PostgreSQL), so concurrent
        // writers to one topic take seqs one after another; a rollback returns the seq. So
        // when seq N is committed, every seq below N is committed too.
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO topic_heads (topic, head) VALUES ($1, 1) \
             ON CONFLICT (topic) DO UPDATE SET head = topic_heads.head + 1 RETURNING head",
        )
        .bind(topic.as_str())
        .fetch_one(tx.conn())
        .await?;
        sqlx::query("INSERT INTO topic_events (topic, seq, event_id) VALUES ($1, $2, $3)")
            .bind(topic.as_str())
            .bind(seq)
            .bind(event_id)
            .execute(tx.conn())
            .await?;
        tx.published.push(TopicEvent {
            topic: topic.clone(),
            seq,
            event: logged.clone(),
        });
    }
    Ok(event_id)
}

fn raw_json(text: String) -> Box<RawValue> {
    // The text was serialised by us or read back from what we wrote: always JSON.
    RawValue::from_string(text).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// The topics every change to case `id` is published on; `assignees` (the assignee before and
/// after the change, when it changes) also get it on their own feed.
pub(crate) fn case_topics(id: i64, assignees: &[Option<i64>]) -> Vec<String> {
    let mut topics = vec![format!("case:{id}"), "cases".to_string()];
    for user_id in assignees.iter().flatten() {
        let topic = format!("agent:{user_id}");
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    topics
}

#[derive(FromRow)]
struct TopicEventRow {
    seq: i64,
    id: i64,
    #[sqlx(rename = "type")]
    kind: String,
    actor_id: Option<i64>,
    data: String,
    changes: Option<String>,
    created_at: i64,
}

impl Store {
    /// The last seq handed out on `topic` (0 when nothing was ever published on it).
    pub async fn topic_head(&self, topic: &str) -> Result<i64, StoreError> {
        let head: Option<(i64,)> = sqlx::query_as("SELECT head FROM topic_heads WHERE topic = $1")
            .bind(topic)
            .fetch_optional(&self.pool)
            .await?;
        Ok(head.map_or(0, |(head,)| head))
    }

    /// Up to `limit` committed events of `topic` after `after_seq`, in seq order.
    pub async fn events_since(
        &self,
        topic: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<TopicEvent>, StoreError> {
        let rows: Vec<TopicEventRow> = sqlx::query_as(
            "SELECT t.seq, e.id, e.type, e.actor_id, e.data, e.changes, e.created_at \
             FROM topic_events t JOIN events e ON e.id = t.event_id \
             WHERE t.topic = $1 AND t.seq > $2 ORDER BY t.seq LIMIT $3",
        )
        .bind(topic)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| TopicEvent {
                topic: topic.to_string(),
                seq: row.seq,
                event: Arc::new(LoggedEvent {
                    id: row.id,
                    kind: row.kind,
                    actor_id: row.actor_id,
                    data: raw_json(row.data),
                    changes: row.changes.map(raw_json),
                    at: Timestamp(row.created_at),
                }),
            })
            .collect())
    }
}
