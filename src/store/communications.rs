//! Communications: the messages of a case, each recorded with its `message.received` event.

use sqlx::{AssertSqlSafe, FromRow};

use super::cases;
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
            // The case under its row lock: a message and a change of the case (or its
            // deletion) happen one after the other, and its first response is read as it is.
            let (case, first_response_at) = match self.lock_case(tx.conn(), new.case_id).await {
                Ok(locked) => locked,
                Err(StoreError::NotFound(_)) => {
                    let message = format!("no case has id {}", new.case_id);
                    return Err(invalid("case_id", message));
                }
                Err(error) => return Err(error),
            };
            let client_id = new.client_id.or(case.client_id);
            // The client's address, read once: it also tells whether a given client exists.
            let client: Option<Option<String>> = match client_id {
                Some(id) => sqlx::query_as("SELECT email FROM clients WHERE id = $1")
                    .bind(id)
                    .fetch_optional(tx.conn())
                    .await?
                    .map(|(email,)| email),
                None => None,
            };
            if let Some(id) = new.client_id
                && client.is_none()
            {
                return Err(invalid("client_id", format!("no client has id {id}")));
            }
            let Some(channel) = new.channel.or(case.channel) else {
                return Err(invalid(
                    "channel",
                    "is required: the case has no channel to default to",
                ));
            };
            // An outbound email goes to the client's address; without one it cannot be sent.
            let emails_client = new.direction == Direction::Outbound && channel == Channel::Email;
            let client_email = client.flatten().filter(|_| emails_client);
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
                cases::record_first_response(tx.conn(), &case, first_response_at, now).await?;
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
