//! Communications: the messages of a case, each recorded with its `message.received` event.

use sqlx::{AssertSqlSafe, FromRow};

use super::events::{self, NewEvent};
use super::outbox::{self, EmailKind};
use super::sql::{Filter, ListPage};
use super::{Created, IdempotencyKey, Store, StoreError, WriteTx, parse_column};
use crate::domain::Channel;
use crate::domain::communication::{Communication, DeliveryStatus, Direction, NewCommunication};
use crate::domain::time::Timestamp;
use crate::domain::user::User;
use crate::error::FieldError;

const COLUMNS: &str =
    "id, case_id, client_id, channel, direction, body, sender_id, status, created_at";

#[derive(FromRow)]
struct CommunicationRow {
    id: i64,
    case_id: i64,
    client_id: Option<i64>,
    channel: String,
    direction: String,
    body: String,
    sender_id: i64,
    status: String,
    created_at: i64,
}

impl TryFrom<CommunicationRow> for Communication {
    type Error = StoreError;
    fn try_from(row: CommunicationRow) -> Result<Self, StoreError> {
        Ok(Communication {
            id: row.id,
            case_id: row.case_id,
            client_id: row.client_id,
            channel: parse_column(&row.channel)?,
            direction: parse_column(&row.direction)?,
            body: row.body,
            sender_id: row.sender_id,
            status: parse_column(&row.status)?,
            created_at: Timestamp(row.created_at),
        })
    }
}

/// Filters of `GET /communications`; each list is "any of these".
#[derive(Debug, Default)]
pub struct CommunicationFilter {
    pub case_ids: Vec<i64>,
    pub channels: Vec<Channel>,
    pub directions: Vec<Direction>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
}

/// Sort keys of `GET /communications`.
#[derive(Debug, Clone, Copy)]
pub enum CommunicationSort {
    CreatedAt,
    Id,
}

impl CommunicationSort {
    pub const NAMES: &'static [(&'static str, CommunicationSort)] = &[
        ("created_at", CommunicationSort::CreatedAt),
        ("id", CommunicationSort::Id),
    ];

    fn column(self) -> &'static str {
        match self {
            CommunicationSort::CreatedAt => "created_at",
            CommunicationSort::Id => "id",
        }
    }
}

/// Messages of soft-deleted cases are gone from reads, like their case.
const CASE_NOT_DELETED: &str = "EXISTS (SELECT 1 FROM cases c \
     WHERE c.id = communications.case_id AND c.deleted_at IS NULL)";

impl Store {
    /// Records a message on a case; its `message.received` event goes to topic `case:{id}`.
    pub async fn create_communication(
        &self,
        sender: &User,
        new: &NewCommunication,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<Communication>, StoreError> {
        self.create_idempotent(key, async |tx: &mut WriteTx| {
            let case: Option<(Option<i64>, Option<String>)> = sqlx::query_as(
                "SELECT client_id, channel FROM cases WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(new.case_id)
            .fetch_optional(tx.conn())
            .await?;
            let Some((case_client, case_channel)) = case else {
                return Err(invalid(
                    "case_id",
                    format!("no case has id {}", new.case_id),
                ));
            };
            if let Some(client_id) = new.client_id {
                let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM clients WHERE id = $1")
                    .bind(client_id)
                    .fetch_optional(tx.conn())
                    .await?;
                if found.is_none() {
                    return Err(invalid(
                        "client_id",
                        format!("no client has id {client_id}"),
                    ));
                }
            }
            let channel = match (new.channel, case_channel) {
                (Some(channel), _) => channel,
                (None, Some(channel)) => parse_column(&channel)?,
                (None, None) => {
                    return Err(invalid(
                        "channel",
                        "is required: the case has no channel to default to",
                    ));
                }
            };
            let client_id = new.client_id.or(case_client);
            // An outbound email goes to the client's address; without one it cannot be sent.
            let emails_client = new.direction == Direction::Outbound && channel == Channel::Email;
            let client_email = match client_id {
                Some(id) if emails_client => {
                    let email: Option<(Option<String>,)> =
                        sqlx::query_as("SELECT email FROM clients WHERE id = $1")
                            .bind(id)
                            .fetch_optional(tx.conn())
                            .await?;
                    email.and_then(|(email,)| email)
                }
                _ => None,
            };
            let status = if emails_client && client_email.is_none() {
                DeliveryStatus::Failed
            } else {
                new.direction.initial_status()
            };
            let now = Timestamp::now();
            let row: CommunicationRow = sqlx::query_as(AssertSqlSafe(format!(
                "INSERT INTO communications (case_id, client_id, channel, direction, body, \
                 sender_id, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {COLUMNS}"
            )))
            .bind(new.case_id)
            .bind(client_id)
            .bind(channel.as_str())
            .bind(new.direction.as_str())
            .bind(new.body.as_str())
            .bind(sender.id)
            .bind(status.as_str())
            .bind(now.millis())
            .fetch_one(tx.conn())
            .await?;
            let communication = Communication::try_from(row)?;
            if new.direction == Direction::Outbound {
                self.record_first_response(tx.conn(), new.case_id, now)
                    .await?;
            }
            let event = NewEvent {
                kind: "message.received",
                case_id: Some(new.case_id),
                actor_id: Some(sender.id),
                data: &communication,
                changes: None,
                topics: &[format!("case:{}", new.case_id)],
                at: now,
            };
            events::append(tx, event).await?;
            if let Some(email) = client_email {
                let id = Some(communication.id);
                outbox::enqueue_email(tx, EmailKind::Message, &email, new.case_id, id).await?;
            }
            Ok(communication)
        })
        .await
    }

    pub async fn find_communication(&self, id: i64) -> Result<Communication, StoreError> {
        let row: Option<CommunicationRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM communications WHERE id = $1 AND {CASE_NOT_DELETED}"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::NotFound("Communication"))?.try_into()
    }

    pub async fn list_communications(
        &self,
        filter: &CommunicationFilter,
        page: &ListPage<CommunicationSort>,
    ) -> Result<(Vec<Communication>, i64), StoreError> {
        let mut sql = Filter::default();
        sql.and(CASE_NOT_DELETED.into());
        sql.any_of("case_id", filter.case_ids.iter().copied());
        sql.any_of(
            "channel",
            filter.channels.iter().map(|c| c.as_str().to_string()),
        );
        sql.any_of(
            "direction",
            filter.directions.iter().map(|d| d.as_str().to_string()),
        );
        sql.between(
            "created_at",
            filter.created_after.map(Timestamp::millis),
            filter.created_before.map(Timestamp::millis),
        );
        let (rows, total) = sql
            .fetch_page::<CommunicationRow, _>(
                &self.pool,
                COLUMNS,
                "communications",
                page,
                page.sort.column(),
            )
            .await?;
        let communications = rows
            .into_iter()
            .map(Communication::try_from)
            .collect::<Result<_, _>>()?;
        Ok((communications, total))
    }
}

fn invalid(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid(vec![FieldError::new(field, message)])
}
