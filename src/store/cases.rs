//! Cases: create, read, list, update with optimistic concurrency, soft delete, and history.

use serde::Serialize;
use serde_json::Value;
use sqlx::AnyConnection;
use sqlx::{AssertSqlSafe, FromRow};

use super::events::{self, NewEvent, case_topics};
use super::outbox;
use super::sql::{Bind, Filter, ListPage};
use super::tallies::{self, Share};
use super::{Created, IdempotencyKey, Store, StoreError, WriteTx, parse_column};
use crate::domain::Channel;
use crate::domain::case::{Case, CasePatch, CaseStatus, NewCase, Priority, search_text};
use crate::domain::time::Timestamp;
use crate::domain::user::User;
use crate::error::FieldError;

const COLUMNS: &str = "id, title, narrative, type, status, priority, channel, client_id, \
                       assigned_to, created_by, created_at, updated_at, closed_at, version, \
                       first_response_at";

#[derive(FromRow)]
struct CaseRow {
    id: i64,
    title: String,
    narrative: Option<String>,
    #[sqlx(rename = "type")]
    case_type: String,
    status: String,
    priority: String,
    channel: Option<String>,
    client_id: Option<i64>,
    assigned_to: Option<i64>,
    created_by: i64,
    created_at: i64,
    updated_at: i64,
    closed_at: Option<i64>,
    version: i64,
    /// Internal: feeds the dashboard's tallies, not the API.
    first_response_at: Option<i64>,
}

impl TryFrom<CaseRow> for Case {
    type Error = StoreError;
    fn try_from(row: CaseRow) -> Result<Self, StoreError> {
        Ok(Case {
            id: row.id,
            title: row.title,
            narrative: row.narrative,
            case_type: row.case_type,
            status: parse_column(&row.status)?,
            priority: parse_column(&row.priority)?,
            channel: row.channel.as_deref().map(parse_column).transpose()?,
            client_id: row.client_id,
            assigned_to: row.assigned_to,
            created_by: row.created_by,
            created_at: Timestamp(row.created_at),
            updated_at: Timestamp(row.updated_at),
            closed_at: row.closed_at.map(Timestamp),
            version: row.version,
        })
    }
}

/// Who a case is assigned to, as a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    User(i64),
    Nobody,
}

/// Filters of `GET /cases`; each list is "any of these".
#[derive(Debug, Default)]
pub struct CaseFilter {
    pub statuses: Vec<CaseStatus>,
    pub types: Vec<String>,
    pub priorities: Vec<Priority>,
    pub channels: Vec<Channel>,
    pub assignees: Vec<Assignee>,
    pub client_ids: Vec<i64>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    pub text: Option<String>,
}

impl CaseFilter {
    /// Whether nothing but statuses and priorities (if anything) is asked for. Every field is
    /// named, so a new filter cannot be silently counted from the tallies.
    fn is_status_and_priority_only(&self) -> bool {
        let CaseFilter {
            statuses: _,
            priorities: _,
            types,
            channels,
            assignees,
            client_ids,
            created_after,
            created_before,
            text,
        } = self;
        types.is_empty()
            && channels.is_empty()
            && assignees.is_empty()
            && client_ids.is_empty()
            && created_after.is_none()
            && created_before.is_none()
            && text.is_none()
    }
}

/// Sort keys of `GET /cases`.
#[derive(Debug, Clone, Copy)]
pub enum CaseSort {
    CreatedAt,
    UpdatedAt,
    Priority,
    Status,
    Title,
    Id,
}

impl CaseSort {
    pub const NAMES: &'static [(&'static str, CaseSort)] = &[
        ("created_at", CaseSort::CreatedAt),
        ("updated_at", CaseSort::UpdatedAt),
        ("priority", CaseSort::Priority),
        ("status", CaseSort::Status),
        ("title", CaseSort::Title),
        ("id", CaseSort::Id),
    ];

    fn column(self) -> &'static str {
        match self {
            CaseSort::CreatedAt => "created_at",
            CaseSort::UpdatedAt => "updated_at",
            // By urgency, not alphabetically.
            CaseSort::Priority => {
                "CASE priority WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 ELSE 4 END"
            }
            CaseSort::Status => {
                "CASE status WHEN 'open' THEN 1 WHEN 'in_progress' THEN 2 WHEN 'escalated' THEN 3 ELSE 4 END"
            }
            CaseSort::Title => "LOWER(title)",
            CaseSort::Id => "id",
        }
    }
}

#[derive(FromRow)]
struct EventRow {
    id: i64,
    #[sqlx(rename = "type")]
    event_type: String,
    actor_id: Option<i64>,
    changes: Option<String>,
    created_at: i64,
}

/// One entry of a case's audit trail.
#[derive(Debug, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub event: String,
    pub user_id: Option<i64>,
    pub changes: Value,
    pub timestamp: Timestamp,
}

impl Store {
    pub async fn create_case(
        &self,
        actor: &User,
        new: &NewCase,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<Case>, StoreError> {
        self.create_idempotent(key, async |tx: &mut WriteTx| {
            check_references(tx.conn(), new.client_id, new.assigned_to).await?;
            let now = Timestamp::now();
            let closed_at = (new.status == CaseStatus::Closed).then_some(now.millis());
            let row: CaseRow = sqlx::query_as(AssertSqlSafe(format!(
                "INSERT INTO cases (title, narrative, type, status, priority, channel, client_id, \
                 assigned_to, created_by, created_at, updated_at, closed_at, version, search_text) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, 1, $12) RETURNING {COLUMNS}"
            )))
            .bind(new.title.as_str())
            .bind(new.narrative.clone())
            .bind(new.case_type.as_str())
            .bind(new.status.as_str())
            .bind(new.priority.as_str())
            .bind(new.channel.map(|c| c.as_str()))
            .bind(new.client_id)
            .bind(new.assigned_to)
            .bind(actor.id)
            .bind(now.millis())
            .bind(closed_at)
            .bind(search_text(&new.title, new.narrative.as_deref()))
            .fetch_one(tx.conn())
            .await?;
            let case = Case::try_from(row)?;
            tallies::add(tx.conn(), &Share::of(&case, None)).await?;
            let changes = case.creation_changes();
            let event = NewEvent {
                kind: "case.created",
                case_id: Some(case.id),
                actor_id: Some(actor.id),
                data: &case,
                changes: Some(&changes),
                topics: &case_topics(case.id, &[case.assigned_to]),
                at: now,
            };
            events::append(tx, event).await?;
            outbox::queue_case_notices(tx, None, &case, actor.id).await?;
            Ok(case)
        })
        .await
    }

    pub async fn find_case(&self, id: i64) -> Result<Case, StoreError> {
        let row: Option<CaseRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM cases WHERE id = $1 AND deleted_at IS NULL"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::NotFound("Case"))?.try_into()
    }

    /// Reads a case for `viewer` and records the view in its audit trail (never published).
    pub async fn view_case(&self, id: i64, viewer: &User) -> Result<Case, StoreError> {
        let case = self.find_case(id).await?;
        self.record_view(id, viewer.id).await?;
        Ok(case)
    }

    pub async fn list_cases(
        &self,
        filter: &CaseFilter,
        page: &ListPage<CaseSort>,
    ) -> Result<(Vec<Case>, i64), StoreError> {
        let mut sql = Filter::default();
        sql.and("deleted_at IS NULL".into());
        sql.any_of(
            "status",
            filter.statuses.iter().map(|s| s.as_str().to_string()),
        );
        sql.any_of("type", filter.types.iter().cloned());
        sql.any_of(
            "priority",
            filter.priorities.iter().map(|p| p.as_str().to_string()),
        );
        sql.any_of(
            "channel",
            filter.channels.iter().map(|c| c.as_str().to_string()),
        );
        let mut assignee_clauses = Vec::new();
        for assignee in &filter.assignees {
            assignee_clauses.push(match assignee {
                Assignee::Nobody => "assigned_to IS NULL".to_string(),
                Assignee::User(id) => format!("assigned_to = {}", sql.bind(Bind::Int(*id))),
            });
        }
        if !assignee_clauses.is_empty() {
            sql.and(format!("({})", assignee_clauses.join(" OR ")));
        }
        sql.any_of("client_id", filter.client_ids.iter().copied());
        sql.between(
            "created_at",
            filter.created_after.map(Timestamp::millis),
            filter.created_before.map(Timestamp::millis),
        );
        if let Some(text) = &filter.text {
            sql.text_search(text);
        }
        // A filter on status and priority alone is counted from the tallies, whatever the
        // number of cases; any other filter counts the matching rows.
        let total = if filter.is_status_and_priority_only() {
            tallies::count(&self.pool, &filter.statuses, &filter.priorities).await?
        } else {
            sql.scalar(&self.pool, "COUNT(*)", "cases").await?
        };
        let rows: Vec<CaseRow> = sql
            .fetch_rows(&self.pool, COLUMNS, "cases", page, page.sort.column())
            .await?;
        let cases = rows
            .into_iter()
            .map(Case::try_from)
            .collect::<Result<_, _>>()?;
        Ok((cases, total))
    }

    /// Applies `patch` for `actor`: checks the version and the actor's right to change this
    /// case under the row lock, writes the change and its event (`case.closed` when the change
    /// closes the case, else `case.updated`) in one transaction.
    pub async fn update_case(
        &self,
        id: i64,
        actor: &User,
        patch: &CasePatch,
    ) -> Result<Case, StoreError> {
        let mut tx = self.begin_write().await?;
        let (mut case, first_response_at) = self.lock_case(tx.conn(), id).await?;
        // Permission first: a client told to reload must not then be refused.
        case.check_update_allowed(actor, patch)
            .map_err(StoreError::Forbidden)?;
        if let Some(expected) = patch.version
            && expected != case.version
        {
            return Err(StoreError::Conflict(format!(
                "The case was changed by someone else (version {} is current, not {expected}); reload it",
                case.version
            )));
        }
        let client_changes = patch
            .client_id
            .flatten()
            .filter(|id| Some(*id) != case.client_id);
        let assignee_changes = patch
            .assigned_to
            .flatten()
            .filter(|id| Some(*id) != case.assigned_to);
        check_references(tx.conn(), client_changes, assignee_changes).await?;
        let now = Timestamp::now();
        let before = case.clone();
        let changes = case.apply(patch, now);
        if changes.is_empty() {
            return Ok(case);
        }
        case.version += 1;
        sqlx::query(
            "UPDATE cases SET title = $1, narrative = $2, type = $3, status = $4, priority = $5, \
             channel = $6, client_id = $7, assigned_to = $8, updated_at = $9, closed_at = $10, \
             version = $11, search_text = $12 WHERE id = $13",
        )
        .bind(case.title.as_str())
        .bind(case.narrative.clone())
        .bind(case.case_type.as_str())
        .bind(case.status.as_str())
        .bind(case.priority.as_str())
        .bind(case.channel.map(|c| c.as_str()))
        .bind(case.client_id)
        .bind(case.assigned_to)
        .bind(now.millis())
        .bind(case.closed_at.map(Timestamp::millis))
        .bind(case.version)
        .bind(search_text(&case.title, case.narrative.as_deref()))
        .bind(id)
        .execute(tx.conn())
        .await?;
        let (share_before, share_after) = (
            Share::of(&before, first_response_at),
            Share::of(&case, first_response_at),
        );
        tallies::replace(tx.conn(), &share_before, &share_after).await?;
        let closes = changes
            .get("status")
            .is_some_and(|_| case.status == CaseStatus::Closed);
        let event = NewEvent {
            kind: if closes {
                "case.closed"
            } else {
                "case.updated"
            },
            case_id: Some(id),
            actor_id: Some(actor.id),
            data: &case,
            changes: Some(&changes),
            // A change of assignee reaches both the old and the new assignee's feed.
            topics: &case_topics(id, &assignment_change(before.assigned_to, case.assigned_to)),
            at: now,
        };
        events::append(&mut tx, event).await?;
        outbox::queue_case_notices(&mut tx, Some(&before), &case, actor.id).await?;
        tx.commit().await?;
        Ok(case)
    }

    /// Soft-deletes a case: it disappears from reads; its rows and history stay.
    pub async fn delete_case(&self, id: i64, actor: &User) -> Result<Case, StoreError> {
        let mut tx = self.begin_write().await?;
        let (case, first_response_at) = self.lock_case(tx.conn(), id).await?;
        let now = Timestamp::now();
        sqlx::query("UPDATE cases SET deleted_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now.millis())
            .bind(id)
            .execute(tx.conn())
            .await?;
        tallies::remove(tx.conn(), &Share::of(&case, first_response_at)).await?;
        let event = NewEvent {
            kind: "case.deleted",
            case_id: Some(id),
            actor_id: Some(actor.id),
            data: &case,
            changes: None,
            topics: &case_topics(id, &[case.assigned_to]),
            at: now,
        };
        events::append(&mut tx, event).await?;
        tx.commit().await?;
        Ok(case)
    }

    /// A page of the audit trail of a case, in event order.
    pub async fn case_history(
        &self,
        id: i64,
        page: &ListPage<()>,
    ) -> Result<(Vec<HistoryEntry>, i64), StoreError> {
        self.find_case(id).await?;
        let mut sql = Filter::default();
        let p = sql.bind(Bind::Int(id));
        sql.and(format!("case_id = {p}"));
        let columns = "id, type, actor_id, changes, created_at";
        let (rows, total) = sql
            .fetch_page::<EventRow, _>(&self.pool, columns, "events", page, "id")
            .await?;
        let entries = rows
            .into_iter()
            .map(|row| HistoryEntry {
                id: row.id,
                event: row.event_type,
                user_id: row.actor_id,
                changes: row
                    .changes
                    .and_then(|c| serde_json::from_str(&c).ok())
                    .unwrap_or_else(|| Value::Object(Default::default())),
                timestamp: Timestamp(row.created_at),
            })
            .collect();
        Ok((entries, total))
    }

    /// The case under a row lock, with its first response time (for the tallies).
    pub(super) async fn lock_case(
        &self,
        conn: &mut AnyConnection,
        id: i64,
    ) -> Result<(Case, Option<i64>), StoreError> {
        let lock = self.dialect.for_update();
        let row: Option<CaseRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM cases WHERE id = $1 AND deleted_at IS NULL{lock}"
        )))
        .bind(id)
        .fetch_optional(conn)
        .await?;
        let row = row.ok_or(StoreError::NotFound("Case"))?;
        let first_response_at = row.first_response_at;
        Ok((row.try_into()?, first_response_at))
    }
}

/// Records `at` as the first response to `case` (locked by the caller, first answered at
/// `first_response_at`) unless it has an earlier one, and moves the case's share of the
/// tallies accordingly. Concurrent messages thus keep the earliest.
pub(super) async fn record_first_response(
    conn: &mut AnyConnection,
    case: &Case,
    first_response_at: Option<i64>,
    at: Timestamp,
) -> Result<(), StoreError> {
    if first_response_at.is_some_and(|first| first <= at.millis()) {
        return Ok(());
    }
    sqlx::query("UPDATE cases SET first_response_at = $1 WHERE id = $2")
        .bind(at.millis())
        .bind(case.id)
        .execute(&mut *conn)
        .await?;
    let before = Share::of(case, first_response_at);
    tallies::replace(conn, &before, &Share::of(case, Some(at.millis()))).await
}

/// The assignees to tell about a change: both sides of an assignment change, else nobody.
fn assignment_change(before: Option<i64>, after: Option<i64>) -> Vec<Option<i64>> {
    if before == after {
        Vec::new()
    } else {
        vec![before, after]
    }
}

/// A case may point only at a client that exists and a user who is active.
async fn check_references(
    conn: &mut AnyConnection,
    client_id: Option<i64>,
    assigned_to: Option<i64>,
) -> Result<(), StoreError> {
    let mut errors = Vec::new();
    if let Some(id) = client_id {
        let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM clients WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        if found.is_none() {
            errors.push(FieldError::new(
                "client_id",
                format!("no client has id {id}"),
            ));
        }
    }
    if let Some(id) = assigned_to {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM users WHERE id = $1 AND active = 1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        if found.is_none() {
            errors.push(FieldError::new(
                "assigned_to",
                format!("no active user has id {id}"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(errors))
    }
}
