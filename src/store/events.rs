//! The events log: every change appends its event in the transaction that makes the change,
//! numbered per topic with no gaps and no repeats.

use serde::Serialize;
use sqlx::AnyConnection;

use super::StoreError;
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

/// Appends the event and gives it the next seq on each of its topics.
pub(crate) async fn append<T: Serialize>(
    conn: &mut AnyConnection,
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
    .bind(data)
    .bind(changes)
    .bind(event.at.millis())
    .fetch_one(&mut *conn)
    .await?;
    for topic in event.topics {
        // The upsert holds the topic's row lock until commit (PostgreSQL), so concurrent
        // writers to one topic take seqs one after another; a rollback returns the seq.
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO topic_heads (topic, head) VALUES ($1, 1) \
             ON CONFLICT (topic) DO UPDATE SET head = topic_heads.head + 1 RETURNING head",
        )
        .bind(topic.as_str())
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query("INSERT INTO topic_events (topic, seq, event_id) VALUES ($1, $2, $3)")
            .bind(topic.as_str())
            .bind(seq)
            .bind(event_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(event_id)
}

/// The topics every change to case `id` is published on.
pub(crate) fn case_topics(id: i64) -> Vec<String> {
    vec![format!("case:{id}"), "cases".to_string()]
}
