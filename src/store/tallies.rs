//! The running totals behind `GET /dashboard/stats` (table `case_tallies`): per status and
//! priority, how many cases there are, their summed resolution time and their summed first
//! response time. Every write that changes what a case adds to them (create, update, delete,
//! its first outbound message) takes the case's old share out and puts its new share in, in
//! the same transaction, so the totals are exact on every node and after every restart, and
//! the dashboard reads a few rows instead of aggregating a million cases.

use sqlx::{AnyConnection, AnyPool};

use super::StoreError;
use super::sql::Filter;
use crate::domain::case::{Case, CaseStatus, Priority};

/// What one case adds to the tallies.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    status: &'static str,
    priority: &'static str,
    /// closed_at - created_at for a closed case, else 0.
    resolution_ms: i64,
    /// first_response_at - created_at, once staff have answered.
    first_response_ms: Option<i64>,
}

impl Share {
    /// The share of `case`, answered first at `first_response_at` (if at all).
    pub fn of(case: &Case, first_response_at: Option<i64>) -> Share {
        let created = case.created_at.millis();
        let resolution_ms = match (case.status, case.closed_at) {
            (CaseStatus::Closed, Some(closed)) => closed.millis() - created,
            _ => 0,
        };
        Share {
            status: case.status.as_str(),
            priority: case.priority.as_str(),
            resolution_ms,
            first_response_ms: first_response_at.map(|at| at - created),
        }
    }

    /// The row it belongs to.
    fn key(&self) -> (&'static str, &'static str) {
        (self.status, self.priority)
    }
}

/// Adds `share` to its row.
pub async fn add(conn: &mut AnyConnection, share: &Share) -> Result<(), StoreError> {
    apply(conn, share, 1).await
}

/// Takes `share` out of its row.
pub async fn remove(conn: &mut AnyConnection, share: &Share) -> Result<(), StoreError> {
    apply(conn, share, -1).await
}

/// Moves a case's share from `before` to `after`, when it changed. The two rows are written in
/// key order whichever way the case moves: on PostgreSQL each write locks its row until
/// commit, and two cases moving in opposite directions must not wait on each other.
pub async fn replace(
    conn: &mut AnyConnection,
    before: &Share,
    after: &Share,
) -> Result<(), StoreError> {
    if before == after {
        return Ok(());
    }
    if before.key() <= after.key() {
        remove(conn, before).await?;
        add(conn, after).await
    } else {
        add(conn, after).await?;
        remove(conn, before).await
    }
}

async fn apply(conn: &mut AnyConnection, share: &Share, sign: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO case_tallies \
         (status, priority, cases, resolution_ms, first_responses, first_response_ms) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (status, priority) DO UPDATE SET \
         cases = case_tallies.cases + excluded.cases, \
         resolution_ms = case_tallies.resolution_ms + excluded.resolution_ms, \
         first_responses = case_tallies.first_responses + excluded.first_responses, \
         first_response_ms = case_tallies.first_response_ms + excluded.first_response_ms",
    )
    .bind(share.status)
    .bind(share.priority)
    .bind(sign)
    .bind(sign * share.resolution_ms)
    .bind(sign * i64::from(share.first_response_ms.is_some()))
    .bind(sign * share.first_response_ms.unwrap_or(0))
    .execute(conn)
    .await?;
    Ok(())
}

/// Recomputes every row from the cases (after a bulk load that bypassed the writes above).
pub async fn rebuild(conn: &mut AnyConnection) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM case_tallies")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO case_tallies \
         (status, priority, cases, resolution_ms, first_responses, first_response_ms) \
         SELECT status, priority, COUNT(*), \
         COALESCE(SUM(CASE WHEN status = 'closed' THEN closed_at - created_at ELSE 0 END), 0), \
         COUNT(first_response_at), COALESCE(SUM(first_response_at - created_at), 0) \
         FROM cases WHERE deleted_at IS NULL GROUP BY status, priority",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// How many cases (not deleted) have one of `statuses` and one of `priorities` (an empty list
/// allows any).
pub async fn count(
    pool: &AnyPool,
    statuses: &[CaseStatus],
    priorities: &[Priority],
) -> Result<i64, StoreError> {
    let mut sql = Filter::default();
    sql.any_of("status", statuses.iter().map(|s| s.as_str().to_string()));
    sql.any_of(
        "priority",
        priorities.iter().map(|p| p.as_str().to_string()),
    );
    let total = sql
        .scalar(
            pool,
            "CAST(COALESCE(SUM(cases), 0) AS BIGINT)",
            "case_tallies",
        )
        .await?;
    Ok(total)
}
