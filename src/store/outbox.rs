//! Emails to send, written in the transaction of the change that causes them (an outbound
//! email message, an assignment, an escalation), claimed by the mailer with a lease, and
//! retried until sent or given up. A restart loses none.

use sqlx::{AssertSqlSafe, FromRow};

use super::{Store, StoreError, WriteTx, lease};
use crate::domain::case::{Case, CaseStatus, Priority};
use crate::domain::communication::DeliveryStatus;
use crate::domain::time::Timestamp;

/// Why an email is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    /// An outbound message on the `email` channel, to the client.
    Message,
    /// A case was assigned to the recipient.
    Assignment,
    /// A case became escalated or critical; to every active supervisor.
    Escalation,
}

impl EmailKind {
    fn as_str(self) -> &'static str {
        match self {
            EmailKind::Message => "message",
            EmailKind::Assignment => "assignment",
            EmailKind::Escalation => "escalation",
        }
    }
}

/// A claimed email with what is needed to write it.
#[derive(Debug, Clone, FromRow)]
pub struct DueEmail {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub attempts: i64,
    pub case_id: i64,
    pub case_type: String,
    pub case_status: String,
    pub case_priority: String,
    pub communication_id: Option<i64>,
    pub message_body: Option<String>,
}

pub(crate) async fn enqueue_email(
    tx: &mut WriteTx,
    kind: EmailKind,
    recipient: &str,
    case_id: i64,
    communication_id: Option<i64>,
) -> Result<(), StoreError> {
    let now = Timestamp::now().millis();
    sqlx::query(
        "INSERT INTO outbox_emails (kind, recipient, case_id, communication_id, status, \
         attempts, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)",
    )
    .bind(kind.as_str())
    .bind(recipient)
    .bind(case_id)
    .bind(communication_id)
    .bind(now)
    .execute(tx.conn())
    .await?;
    tx.wrote_emails = true;
    Ok(())
}

/// Queues the staff emails a change of case calls for: to a new assignee (unless they
/// assigned it to themselves), and to every active supervisor when the case becomes
/// escalated or critical (except whoever did it).
pub(crate) async fn queue_case_notices(
    tx: &mut WriteTx,
    before: Option<&Case>,
    after: &Case,
    actor_id: i64,
) -> Result<(), StoreError> {
    if let Some(assignee) = after.assigned_to
        && before.and_then(|b| b.assigned_to) != Some(assignee)
        && assignee != actor_id
    {
        let email: Option<(String,)> =
            sqlx::query_as("SELECT email FROM users WHERE id = $1 AND active = 1")
                .bind(assignee)
                .fetch_optional(tx.conn())
                .await?;
        if let Some((email,)) = email {
            enqueue_email(tx, EmailKind::Assignment, &email, after.id, None).await?;
        }
    }
    let became = |status: bool, was: Option<bool>| status && was != Some(true);
    let escalated = became(
        after.status == CaseStatus::Escalated,
        before.map(|b| b.status == CaseStatus::Escalated),
    ) || became(
        after.priority == Priority::Critical,
        before.map(|b| b.priority == Priority::Critical),
    );
    if escalated {
        let supervisors: Vec<(String,)> = sqlx::query_as(
            "SELECT email FROM users WHERE role = 'supervisor' AND active = 1 AND id <> $1 \
             ORDER BY id",
        )
        .bind(actor_id)
        .fetch_all(tx.conn())
        .await?;
        for (email,) in supervisors {
            enqueue_email(tx, EmailKind::Escalation, &email, after.id, None).await?;
        }
    }
    Ok(())
}

impl Store {
    /// Claims up to `limit` due emails, leased until `lease_until`.
    pub async fn claim_emails(
        &self,
        limit: i64,
        lease_until: Timestamp,
    ) -> Result<Vec<DueEmail>, StoreError> {
        let skip_locked = self.dialect.skip_locked();
        let mut tx = self.begin_write().await?;
        let ids: Vec<(i64,)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT id FROM outbox_emails WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2{skip_locked}"
        )))
        .bind(Timestamp::now().millis())
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = lease(&mut tx, "outbox_emails", &ids, lease_until).await?;
        let due: Vec<DueEmail> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT o.id, o.kind, o.recipient, o.attempts, o.case_id, c.type AS case_type, \
             c.status AS case_status, c.priority AS case_priority, o.communication_id, \
             m.body AS message_body \
             FROM outbox_emails o JOIN cases c ON c.id = o.case_id \
             LEFT JOIN communications m ON m.id = o.communication_id \
             WHERE o.id IN ({list}) ORDER BY o.id"
        )))
        .fetch_all(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(due)
    }

    /// Gives back a claimed email unsent (shutdown): due again now.
    pub async fn release_email(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE outbox_emails SET next_attempt_at = $1 WHERE id = $2 AND status = 'pending'",
        )
        .bind(Timestamp::now().millis())
        .bind(id)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// Records a send: `Ok` is sent; an error is retried at `retry_at`, or failed when there
    /// is none. A message's `status` follows its email.
    pub async fn record_email(
        &self,
        email: &DueEmail,
        result: Result<(), String>,
        retry_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now().millis();
        let (status, next, error) = match &result {
            Ok(()) => ("sent", None, None),
            Err(error) => match retry_at {
                Some(at) => ("pending", Some(at.millis()), Some(error.clone())),
                None => ("failed", None, Some(error.clone())),
            },
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE outbox_emails SET status = $1, attempts = attempts + 1, next_attempt_at = $2, \
             last_error = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(status)
        .bind(next)
        .bind(error)
        .bind(now)
        .bind(email.id)
        .execute(tx.conn())
        .await?;
        let message_status = match status {
            "sent" => Some(DeliveryStatus::Sent),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        };
        if let (Some(id), Some(message_status)) = (email.communication_id, message_status) {
            sqlx::query("UPDATE communications SET status = $1, updated_at = $2 WHERE id = $3")
                .bind(message_status.as_str())
                .bind(now)
                .bind(id)
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await
    }
}
