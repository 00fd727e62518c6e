//! Bulk demo data for measuring at scale (`helpline-seed`): cases, clients and messages
//! written straight into the tables in large transactions. Seeds are not events: nothing is
//! published, and the events log stays as it was.

use sqlx::AssertSqlSafe;

use super::{Store, StoreError};
use crate::domain::time::Timestamp;

const TYPES: &[&str] = &[
    "abuse",
    "neglect",
    "counselling",
    "information",
    "referral",
    "trafficking",
];
const STATUSES: &[&str] = &["open", "in_progress", "escalated", "closed"];
const PRIORITIES: &[&str] = &["low", "medium", "high", "critical"];
const CHANNELS: &[&str] = &["call", "sms", "email", "chat", "whatsapp", "walk_in", "web"];
/// Rows per INSERT statement (SQLite allows 32766 parameters; 12 per case).
const ROWS_PER_STATEMENT: usize = 500;

impl Store {
    /// The first admin (the author of the seeds) and the active agents (their assignees).
    pub async fn seed_users(&self) -> Result<(i64, Vec<i64>), StoreError> {
        let author: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM users WHERE role = 'admin' ORDER BY id LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        let (author,) = author.ok_or(StoreError::NotFound("Admin (start the server once)"))?;
        let agents: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM users WHERE role = 'agent' AND active = 1 ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        Ok((author, agents.into_iter().map(|(id,)| id).collect()))
    }

    /// Adds `cases` cases spread over the last `days` days, assigned round-robin to
    /// `assignees`, each with one inbound and (for most) one outbound message by `author`.
    pub async fn seed_cases(
        &self,
        cases: usize,
        days: i64,
        author: i64,
        assignees: &[i64],
    ) -> Result<(), StoreError> {
        let (before,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM cases")
            .fetch_one(&self.pool)
            .await?;
        let now = Timestamp::now().millis();
        let span = days.max(1) * 24 * 3600 * 1000;
        let step = (span / cases.max(1) as i64).max(1);
        let mut done = 0;
        while done < cases {
            let batch = ROWS_PER_STATEMENT.min(cases - done);
            let values: Vec<String> = (done..done + batch)
                .map(|i| {
                    let created = now - span + step * i as i64;
                    let status = STATUSES[i % STATUSES.len()];
                    let closed_at = if status == "closed" {
                        (created + 3_600_000 + (i as i64 % 7) * 600_000).to_string()
                    } else {
                        "NULL".into()
                    };
                    let assignee = if assignees.is_empty() {
                        "NULL".to_string()
                    } else {
                        assignees[i % assignees.len()].to_string()
                    };
                    format!(
                        "('Seeded case {i}', NULL, '{}', '{status}', '{}', '{}', {assignee}, \
                         {author}, {created}, {created}, {closed_at}, 1, 'seeded case {i}')",
                        TYPES[i % TYPES.len()],
                        PRIORITIES[(i / 4) % PRIORITIES.len()],
                        CHANNELS[i % CHANNELS.len()],
                    )
                })
                .collect();
            let mut tx = self.begin_write().await?;
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO cases (title, narrative, type, status, priority, channel, \
                 assigned_to, created_by, created_at, updated_at, closed_at, version, search_text) \
                 VALUES {}",
                values.join(", ")
            )))
            .execute(tx.conn())
            .await?;
            tx.commit().await?;
            done += batch;
        }
        // One inbound message per case, and a reply ten minutes later on four cases in five.
        let mut tx = self.begin_write().await?;
        for (direction, status, delay, filter) in [
            ("inbound", "received", 0, ""),
            ("outbound", "sent", 600_000, " AND id % 5 <> 0"),
        ] {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO communications (case_id, channel, direction, body, sender_id, status, \
                 created_at, updated_at) SELECT id, channel, '{direction}', 'seeded', {author}, \
                 '{status}', created_at + {delay}, created_at + {delay} FROM cases \
                 WHERE id > $1{filter}"
            )))
            .bind(before)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await
    }
}
