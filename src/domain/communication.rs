//! A communication: one message on a case, from the client, to the client, or between staff.

use serde::Serialize;
use serde_json::{Map, Value};

use super::input::{self, Input};
use super::time::Timestamp;
use super::{Channel, string_enum};
use crate::error::FieldError;

string_enum! {
    /// Who the message went to: from the client, to the client, or a note between staff.
    Direction { Inbound => "inbound", Outbound => "outbound", Internal => "internal" }
}

string_enum! {
    /// Where the message is: `received` (inbound, internal), `queued` → `sent` | `failed`
    /// (outbound).
    DeliveryStatus { Received => "received", Queued => "queued", Sent => "sent", Failed => "failed" }
}

impl Direction {
    /// The status a new message of this direction starts in.
    pub fn initial_status(self) -> DeliveryStatus {
        match self {
            Direction::Outbound => DeliveryStatus::Queued,
            Direction::Inbound | Direction::Internal => DeliveryStatus::Received,
        }
    }
}

/// A communication as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": 91, "case_id": 42, "client_id": 7, "channel": "sms", "direction": "outbound",
    "body": "We are sending someone today.", "sender_id": 3, "status": "queued",
    "created_at": "2026-01-20T15:40:00.000Z"
}))]
pub struct Communication {
    pub id: i64,
    pub case_id: i64,
    pub client_id: Option<i64>,
    pub channel: Channel,
    pub direction: Direction,
    /// 1 to 10 000 characters.
    pub body: String,
    /// The user who recorded it.
    pub sender_id: i64,
    /// `received` for inbound and internal; `queued` → `sent` | `failed` for outbound.
    pub status: DeliveryStatus,
    pub created_at: Timestamp,
}

/// The longest message body, in characters.
pub const MAX_BODY_CHARS: usize = 10_000;

/// The fields of a new communication; `client_id` and `channel` default to the case's.
#[derive(Debug, Clone)]
pub struct NewCommunication {
    pub case_id: i64,
    pub client_id: Option<i64>,
    pub channel: Option<Channel>,
    pub direction: Direction,
    pub body: String,
}

const WRITABLE: &[&str] = &["case_id", "client_id", "channel", "direction", "body"];
const READ_ONLY: &[&str] = &["id", "sender_id", "status", "created_at"];

impl NewCommunication {
    pub fn parse(body: Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut input = Input::new(body, WRITABLE, READ_ONLY);
        let case_id = input.required("case_id", input::id);
        let client_id = input.nullable("client_id", input::id).flatten();
        let channel = input.nullable("channel", input::one_of).flatten();
        let direction = input.required("direction", input::one_of);
        // Kept as written: leading spaces and line breaks can matter in a message.
        let text = input.required("body", |v| {
            let text = input::text(v, 1, MAX_BODY_CHARS)?;
            if text.trim().is_empty() {
                Err("must not be blank".into())
            } else {
                Ok(text)
            }
        });
        input.finish()?;
        match (case_id, direction, text) {
            (Some(case_id), Some(direction), Some(body)) => Ok(NewCommunication {
                case_id,
                client_id,
                channel,
                direction,
                body,
            }),
            // Unreachable in practice: `required` has recorded every missing field.
            _ => Err(vec![FieldError::new("body", "is incomplete")]),
        }
    }
}
