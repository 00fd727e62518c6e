//! The dashboard's figures, aggregated in SQL over the cases and messages not deleted.
//! Averages come back as sums and counts of milliseconds, divided once in
//! [`average_seconds`], so every place that shows an average shows the same number.

use std::collections::BTreeMap;

use sqlx::FromRow;

use super::{Store, StoreError};
use crate::domain::time::Timestamp;

/// Counts behind `GET /dashboard/stats`, before presence is added.
#[derive(Debug, Default)]
pub struct CaseCounts {
    pub by_status: BTreeMap<String, i64>,
    pub by_priority: BTreeMap<String, i64>,
    pub cases_today: i64,
    pub closed_today: i64,
    pub messages_today: i64,
    pub first_response: (i64, i64),
    pub resolution: (i64, i64),
}

/// One agent's figures.
#[derive(Debug, FromRow)]
pub struct AgentFigures {
    pub agent_id: i64,
    pub name: String,
    pub cases_assigned: i64,
    pub open_cases: i64,
    pub cases_closed: i64,
    pub messages_sent: i64,
    pub first_response_ms: Option<i64>,
    pub first_responses: i64,
    pub resolution_ms: Option<i64>,
}

/// `sum_ms / count` in seconds, to the millisecond; `None` without data.
pub fn average_seconds(sum_ms: i64, count: i64) -> Option<f64> {
    (count > 0).then(|| (sum_ms as f64 / count as f64).round() / 1000.0)
}

/// A range of case creation times; open ends are the extremes.
#[derive(Debug, Clone, Copy)]
pub struct Created {
    pub after: Option<Timestamp>,
    pub before: Option<Timestamp>,
}

impl Created {
    fn bounds(self) -> (i64, i64) {
        (
            self.after.map_or(i64::MIN, Timestamp::millis),
            self.before.map_or(i64::MAX, Timestamp::millis),
        )
    }
}

impl Store {
    /// The stats' counts: the totals from `case_tallies` (a few rows), "today" from index
    /// ranges over today's rows only (partial indexes, migration 0006; messages of deleted
    /// cases are subtracted rather than each message's case looked up). (`closed_at` is set exactly while a case is closed;
    /// asking for `status = 'closed'` too would lead SQLite to scan every closed case.)
    pub async fn case_counts(&self, day_start: Timestamp) -> Result<CaseCounts, StoreError> {
        let mut counts = CaseCounts::default();
        let tallies: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT status, priority, cases, resolution_ms, first_responses, first_response_ms \
             FROM case_tallies",
        )
        .fetch_all(&self.pool)
        .await?;
        for (status, priority, cases, resolution_ms, first_responses, first_response_ms) in tallies
        {
            if status == "closed" {
                counts.resolution.0 += resolution_ms;
                counts.resolution.1 += cases;
            }
            counts.first_response.0 += first_response_ms;
            counts.first_response.1 += first_responses;
            *counts.by_status.entry(status).or_default() += cases;
            *counts.by_priority.entry(priority).or_default() += cases;
        }
        let (cases_today, closed_today, messages_today): (i64, i64, i64) = sqlx::query_as(
            "SELECT \
             (SELECT COUNT(*) FROM cases WHERE created_at >= $1 AND deleted_at IS NULL), \
             (SELECT COUNT(*) FROM cases WHERE closed_at >= $1 AND deleted_at IS NULL), \
             (SELECT COUNT(*) FROM communications WHERE created_at >= $1) \
             - (SELECT COUNT(*) FROM communications WHERE created_at >= $1 \
                AND case_id IN (SELECT id FROM cases WHERE deleted_at IS NOT NULL))",
        )
        .bind(day_start.millis())
        .fetch_one(&self.pool)
        .await?;
        counts.cases_today = cases_today;
        counts.closed_today = closed_today;
        counts.messages_today = messages_today;
        Ok(counts)
    }

    /// Case counts per type, largest first.
    pub async fn cases_by_type(&self, created: Created) -> Result<Vec<(String, i64)>, StoreError> {
        let (after, before) = created.bounds();
        let rows = sqlx::query_as(
            "SELECT type, COUNT(*) AS n FROM cases WHERE deleted_at IS NULL \
             AND created_at >= $1 AND created_at < $2 GROUP BY type ORDER BY n DESC, type",
        )
        .bind(after)
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Figures per active agent (or only `only`), over cases created in `created` and
    /// messages sent then.
    pub async fn agent_figures(
        &self,
        created: Created,
        only: Option<i64>,
    ) -> Result<Vec<AgentFigures>, StoreError> {
        let (after, before) = created.bounds();
        // One pass over the cases and one over the outbound messages, grouped by agent and
        // joined to the agents. One agent's row narrows each part (rather than `$3 = 0 OR …`),
        // so that it reads through that agent's indexes.
        let [cases_of, messages_of, agents_of] = match only {
            Some(_) => [
                " AND assigned_to = $3",
                " AND m.sender_id = $3",
                " AND u.id = $3",
            ],
            None => ["", "", ""],
        };
        let sql = format!(
            "SELECT u.id AS agent_id, u.name, \
             COALESCE(a.cases_assigned, 0) AS cases_assigned, \
             COALESCE(a.open_cases, 0) AS open_cases, \
             COALESCE(a.cases_closed, 0) AS cases_closed, \
             COALESCE(m.messages_sent, 0) AS messages_sent, \
             a.first_response_ms, \
             COALESCE(a.first_responses, 0) AS first_responses, \
             a.resolution_ms \
             FROM users u \
             LEFT JOIN (SELECT assigned_to, COUNT(*) AS cases_assigned, \
               CAST(SUM(CASE WHEN status <> 'closed' THEN 1 ELSE 0 END) AS BIGINT) AS open_cases, \
               CAST(SUM(CASE WHEN status = 'closed' THEN 1 ELSE 0 END) AS BIGINT) AS cases_closed, \
               CAST(SUM(first_response_at - created_at) AS BIGINT) AS first_response_ms, \
               COUNT(first_response_at) AS first_responses, \
               CAST(SUM(CASE WHEN status = 'closed' THEN closed_at - created_at END) AS BIGINT) \
                 AS resolution_ms \
               FROM cases WHERE deleted_at IS NULL AND created_at >= $1 AND created_at < $2 \
               AND assigned_to IS NOT NULL{cases_of} \
               GROUP BY assigned_to) a ON a.assigned_to = u.id \
             LEFT JOIN (SELECT m.sender_id, COUNT(*) AS messages_sent \
               FROM communications m JOIN cases c ON c.id = m.case_id \
               WHERE m.direction = 'outbound' AND c.deleted_at IS NULL \
               AND m.created_at >= $1 AND m.created_at < $2{messages_of} \
               GROUP BY m.sender_id) m ON m.sender_id = u.id \
             WHERE u.role = 'agent' AND u.active = 1{agents_of} \
             ORDER BY u.name, u.id"
        );
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(before);
        if let Some(agent) = only {
            query = query.bind(agent);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// The ids of active agents.
    pub async fn active_agent_ids(&self) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM users WHERE role = 'agent' AND active = 1")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
