//! Bulk demo data for measuring at scale (`helpline-seed`): cases, clients and messages
//! written straight into the tables in large transactions. Seeds are not events: nothing is
//! published, and the events log stays as it was.

use sqlx::AssertSqlSafe;

use super::{Store, StoreError, tallies};
use crate::domain::Channel;
use crate::domain::case::{CaseStatus, Priority};
use crate::domain::time::Timestamp;

const TYPES: &[&str] = &[
    "abuse",
    "neglect",
    "counselling",
    "information",
    "referral",
    "trafficking",
];
/// Rows per INSERT statement (SQLite allows 32766 parameters; 12 per case).
const ROWS_PER_STATEMENT: usize = 500;

impl Store {
    /// Adds agents `seed-agent-{n}@example.org` (all with `password_hash`) until there are
    /// `count` seeded ones.
    pub async fn seed_agents(&self, count: usize, password_hash: &str) -> Result<(), StoreError> {
        let (existing,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM users WHERE email LIKE 'seed-agent-%@example.org'",
        )
        .fetch_one(&self.pool)
        .await?;
        let now = Timestamp::now().millis();
        let mut tx = self.begin_write().await?;
        for n in existing as usize + 1..=count {
            sqlx::query(
                "INSERT INTO users (name, email, role, password_hash, created_at, updated_at) \
                 VALUES ($1, $2, 'agent', $3, $4, $4)",
            )
            .bind(format!("Seeded agent {n}"))
            .bind(format!("seed-agent-{n}@example.org"))
            .bind(password_hash)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await
    }

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
    /// `assignees`, each with `messages_per_case` messages ten minutes apart: inbound first,
    /// then alternating replies by `author`, except that one case in five is never answered.
    pub async fn seed_cases(
        &self,
        cases: usize,
        days: i64,
        messages_per_case: usize,
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
                    let status = CaseStatus::ALL[i % CaseStatus::ALL.len()].as_str();
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
                        TYPES[(i / 3) % TYPES.len()],
                        Priority::ALL[(i / 4) % Priority::ALL.len()].as_str(),
                        Channel::ALL[i % Channel::ALL.len()].as_str(),
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
        let mut tx = self.begin_write().await?;
        for k in 0..messages_per_case {
            let (direction, status, filter) = if k % 2 == 0 {
                ("inbound", "received", "")
            } else {
                ("outbound", "sent", " AND id % 5 <> 0")
            };
            let delay = k as i64 * 600_000;
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
        // The writes above bypass the per-case bookkeeping: bring it up to date in one go.
        sqlx::query(
            "UPDATE cases SET first_response_at = created_at + 600000 \
             WHERE id > $1 AND id % 5 <> 0 AND $2 > 1",
        )
        .bind(before)
        .bind(messages_per_case as i64)
        .execute(tx.conn())
        .await?;
        tallies::rebuild(tx.conn()).await?;
        tx.commit().await
    }
}
