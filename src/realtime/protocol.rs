//! The WebSocket protocol of API.md: the frames a client sends, the frames the server sends,
//! and the topics. Server frames are serialised once and shared by every socket they go to.

use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::domain::time::Timestamp;
use crate::domain::user::{PresenceStatus, Role, User};
use crate::store::TopicEvent;

/// A frame from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Subscribe { topic: String, since: Option<i64> },
    Unsubscribe { topic: String },
    Presence { status: String },
    Typing { case_id: i64 },
    // A struct variant, so that unknown fields are refused here too.
    Ping {},
}

/// What a socket can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Everything about one case, its messages included.
    Case(i64),
    /// Every case event.
    Cases,
    /// A user's own feed: assignments.
    Agent(i64),
    /// Who is online (live only: a new subscriber gets the current state first).
    Presence,
    /// The live `/dashboard/stats` object (supervisors and admins).
    Dashboard,
}

impl Topic {
    pub fn parse(name: &str) -> Result<Topic, String> {
        let id = |text: &str| text.parse::<i64>().ok().filter(|id| *id > 0);
        let topic = match name.split_once(':') {
            None if name == "cases" => Some(Topic::Cases),
            None if name == "presence" => Some(Topic::Presence),
            None if name == "dashboard" => Some(Topic::Dashboard),
            Some(("case", rest)) => id(rest).map(Topic::Case),
            Some(("agent", rest)) => id(rest).map(Topic::Agent),
            _ => None,
        };
        topic.ok_or_else(|| {
            format!(
                "unknown topic {name:?}: expected case:{{id}}, cases, agent:{{id}}, presence or dashboard"
            )
        })
    }

    pub fn name(self) -> String {
        match self {
            Topic::Case(id) => format!("case:{id}"),
            Topic::Cases => "cases".into(),
            Topic::Agent(id) => format!("agent:{id}"),
            Topic::Presence => "presence".into(),
            Topic::Dashboard => "dashboard".into(),
        }
    }

    /// Whether the topic's events are in the log (numbered, replayable) or live only.
    pub fn is_logged(self) -> bool {
        matches!(self, Topic::Case(_) | Topic::Cases | Topic::Agent(_))
    }

    /// Whether `user` may read this topic; the reason when not.
    pub fn check_readable(self, user: &User) -> Result<(), String> {
        match self {
            Topic::Agent(id) if id != user.id && !user.is_supervisor_or_admin() => {
                Err("Only that agent, supervisors and admins may read an agent's feed".into())
            }
            Topic::Dashboard if user.role == Role::Agent => {
                Err("Only supervisors and admins may read the dashboard topic".into())
            }
            _ => Ok(()),
        }
    }
}

fn frame(value: &impl Serialize) -> ByteString {
    // Our frame structs always serialise.
    serde_json::to_string(value).unwrap_or_default().into()
}

/// `{"type":"event",…}`: one logged event on one topic.
pub fn event(event: &TopicEvent) -> ByteString {
    #[derive(Serialize)]
    struct EventFrame<'a> {
        r#type: &'static str,
        topic: &'a str,
        seq: i64,
        event: &'a str,
        data: &'a RawValue,
        #[serde(skip_serializing_if = "Option::is_none")]
        changes: Option<&'a RawValue>,
        actor: Option<i64>,
        timestamp: Timestamp,
    }
    frame(&EventFrame {
        r#type: "event",
        topic: &event.topic,
        seq: event.seq,
        event: &event.event.kind,
        data: &event.event.data,
        changes: event.event.changes.as_deref(),
        actor: event.event.actor_id,
        timestamp: event.event.at,
    })
}

/// `{"type":"subscribed",…}`: `seq` is the topic's head; `recovered` is false when `since`
/// could not be honoured and the client must reload over REST.
pub fn subscribed(topic: &str, seq: i64, recovered: bool) -> ByteString {
    frame(&serde_json::json!({
        "type": "subscribed", "topic": topic, "seq": seq, "recovered": recovered
    }))
}

/// `{"type":"unsubscribed",…}`: after it, no more events of the topic arrive.
pub fn unsubscribed(topic: &str) -> ByteString {
    frame(&serde_json::json!({ "type": "unsubscribed", "topic": topic }))
}

pub fn presence(user_id: i64, status: PresenceStatus, at: Timestamp) -> ByteString {
    frame(&serde_json::json!({
        "type": "presence", "user_id": user_id, "status": status, "timestamp": at
    }))
}

pub fn typing(case_id: i64, user_id: i64) -> ByteString {
    frame(&serde_json::json!({ "type": "typing", "case_id": case_id, "user_id": user_id }))
}

pub fn pong() -> ByteString {
    frame(&serde_json::json!({ "type": "pong" }))
}

/// `{"type":"error",…}`: the connection stays open.
pub fn error(code: u16, message: &str) -> ByteString {
    frame(&serde_json::json!({ "type": "error", "code": code, "message": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_and_bad_names_are_refused() {
        for name in ["case:42", "cases", "agent:7", "presence", "dashboard"] {
            assert_eq!(Topic::parse(name).map(Topic::name), Ok(name.to_string()));
        }
        for bad in [
            "case:", "case:0", "case:-1", "case:x", "agent", "users", "", "cases:1",
        ] {
            assert!(Topic::parse(bad).is_err(), "{bad} must be refused");
        }
    }
}
