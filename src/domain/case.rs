//! A case: one child's or caller's situation, worked by agents over time.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::input::{self, Input};
use super::time::Timestamp;
use super::user::{Role, User};
use super::{Channel, string_enum};
use crate::error::FieldError;

string_enum! {
    /// Where a case is in its lifecycle.
    CaseStatus { Open => "open", InProgress => "in_progress", Escalated => "escalated", Closed => "closed" }
}

string_enum! {
    /// How urgent a case is.
    Priority { Low => "low", Medium => "medium", High => "high", Critical => "critical" }
}

/// A case as stored and as shown to clients.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": 42, "title": "Child left alone at home", "narrative": "Neighbour called twice.",
    "type": "neglect", "status": "open", "priority": "high", "channel": "call",
    "client_id": 7, "assigned_to": null, "created_by": 3,
    "created_at": "2026-01-20T15:35:00.123Z", "updated_at": "2026-01-20T15:35:00.123Z",
    "closed_at": null, "version": 1
}))]
pub struct Case {
    pub id: i64,
    /// 1 to 200 characters.
    pub title: String,
    /// Up to 20 000 characters.
    pub narrative: Option<String>,
    /// A slug: 1 to 50 characters of `a-z`, `0-9` and `_` (`abuse`, `neglect`, …).
    #[serde(rename = "type")]
    pub case_type: String,
    pub status: CaseStatus,
    pub priority: Priority,
    pub channel: Option<Channel>,
    pub client_id: Option<i64>,
    /// The user working the case.
    pub assigned_to: Option<i64>,
    pub created_by: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set when the status becomes `closed`, cleared on reopening.
    pub closed_at: Option<Timestamp>,
    /// Starts at 1, +1 on every change; send it back on update to detect conflicts.
    pub version: i64,
}

const WRITABLE: &[&str] = &[
    "title",
    "narrative",
    "type",
    "status",
    "priority",
    "channel",
    "client_id",
    "assigned_to",
];
const READ_ONLY: &[&str] = &["id", "created_by", "created_at", "updated_at", "closed_at"];

fn title(v: &Value) -> Result<String, String> {
    input::trimmed_text(v, 1, 200)
}
fn narrative(v: &Value) -> Result<String, String> {
    input::text(v, 0, 20_000)
}

/// What `q` searches in a case: title and narrative, lowercased here (Unicode-aware, which
/// SQLite's `LOWER` is not).
pub fn search_text(title: &str, narrative: Option<&str>) -> String {
    format!(
        "{}\n{}",
        title.to_lowercase(),
        narrative.unwrap_or_default().to_lowercase()
    )
}

/// The fields of a new case.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub title: String,
    pub narrative: Option<String>,
    pub case_type: String,
    pub status: CaseStatus,
    pub priority: Priority,
    pub channel: Option<Channel>,
    pub client_id: Option<i64>,
    pub assigned_to: Option<i64>,
}

impl NewCase {
    pub fn parse(body: Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut input = Input::new(body, WRITABLE, &[READ_ONLY, &["version"]].concat());
        let title = input.required("title", title);
        let narrative = input.nullable("narrative", narrative).flatten();
        let case_type = input.required("type", input::slug);
        let status = input
            .optional("status", input::one_of)
            .unwrap_or(CaseStatus::Open);
        let priority = input
            .optional("priority", input::one_of)
            .unwrap_or(Priority::Medium);
        let channel = input.nullable("channel", input::one_of).flatten();
        let client_id = input.nullable("client_id", input::id).flatten();
        let assigned_to = input.nullable("assigned_to", input::id).flatten();
        input.finish()?;
        match (title, case_type) {
            (Some(title), Some(case_type)) => Ok(NewCase {
                title,
                narrative,
                case_type,
                status,
                priority,
                channel,
                client_id,
                assigned_to,
            }),
            // Unreachable in practice: `required` has recorded every missing field.
            _ => Err(vec![FieldError::new("body", "is incomplete")]),
        }
    }
}

/// A partial update: `None` leaves a field as it is; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct CasePatch {
    pub title: Option<String>,
    pub narrative: Option<Option<String>>,
    pub case_type: Option<String>,
    pub status: Option<CaseStatus>,
    pub priority: Option<Priority>,
    pub channel: Option<Option<Channel>>,
    pub client_id: Option<Option<i64>>,
    pub assigned_to: Option<Option<i64>>,
    /// The version the client last saw; a different current version means a conflict.
    pub version: Option<i64>,
}

impl CasePatch {
    pub fn parse(body: Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut input = Input::new(body, &[WRITABLE, &["version"]].concat(), READ_ONLY);
        let patch = CasePatch {
            title: input.optional("title", title),
            narrative: input.nullable("narrative", narrative),
            case_type: input.optional("type", input::slug),
            status: input.optional("status", input::one_of),
            priority: input.optional("priority", input::one_of),
            channel: input.nullable("channel", input::one_of),
            client_id: input.nullable("client_id", input::id),
            assigned_to: input.nullable("assigned_to", input::id),
            version: input.optional("version", input::id),
        };
        input.finish()?;
        Ok(patch)
    }
}

/// One field's change, as the audit trail and webhooks show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub from: Value,
    pub to: Value,
}

/// The fields an update changed, by API name.
pub type Changes = BTreeMap<&'static str, FieldChange>;

impl Case {
    /// Applies `patch` at time `now`: the changed fields, or none when nothing differs.
    /// Does not touch `version`; the store does, when `Changes` is not empty.
    pub fn apply(&mut self, patch: &CasePatch, now: Timestamp) -> Changes {
        let mut changes = Changes::new();
        let mut set = |name: &'static str, from: Value, to: Value| {
            if from != to {
                changes.insert(name, FieldChange { from, to });
            }
        };
        // Each field the patch names: record from → to (when different), then apply.
        macro_rules! patch_field {
            ($($field:ident => $name:literal),+) => {$(
                if let Some(v) = &patch.$field {
                    set($name, json!(self.$field), json!(v));
                    self.$field = v.clone();
                }
            )+};
        }
        patch_field!(
            title => "title", narrative => "narrative", case_type => "type", priority => "priority",
            channel => "channel", client_id => "client_id", assigned_to => "assigned_to"
        );
        if let Some(v) = patch.status {
            set("status", json!(self.status), json!(v));
            if v != self.status {
                let closed_at = (v == CaseStatus::Closed).then_some(now);
                set("closed_at", json!(self.closed_at), json!(closed_at));
                self.closed_at = closed_at;
            }
            self.status = v;
        }
        if !changes.is_empty() {
            self.updated_at = now;
        }
        changes
    }

    /// The changes of a creation: every set field from `null` to its value.
    pub fn creation_changes(&self) -> Changes {
        let mut fields = match serde_json::to_value(self) {
            Ok(Value::Object(fields)) => fields,
            _ => Map::new(),
        };
        WRITABLE
            .iter()
            .filter_map(|name| {
                let to = fields.remove(*name).filter(|v| !v.is_null())?;
                Some((
                    *name,
                    FieldChange {
                        from: Value::Null,
                        to,
                    },
                ))
            })
            .collect()
    }

    /// Whether `user` may apply `patch` to this case, per the role table of API.md.
    pub fn check_update_allowed(&self, user: &User, patch: &CasePatch) -> Result<(), String> {
        if user.role != Role::Agent {
            return Ok(());
        }
        if self.assigned_to.is_some_and(|id| id != user.id) {
            return Err("Agents may only update cases assigned to them or unassigned".into());
        }
        let reopens = self.status == CaseStatus::Closed
            && patch.status.is_some_and(|s| s != CaseStatus::Closed);
        if reopens {
            return Err("Only supervisors and admins may reopen a closed case".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case() -> Case {
        Case {
            id: 1,
            title: "t".into(),
            narrative: None,
            case_type: "abuse".into(),
            status: CaseStatus::Open,
            priority: Priority::Medium,
            channel: None,
            client_id: None,
            assigned_to: None,
            created_by: 1,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            closed_at: None,
            version: 1,
        }
    }

    #[test]
    fn closing_sets_closed_at_and_reopening_clears_it() {
        let mut c = case();
        let close = CasePatch {
            status: Some(CaseStatus::Closed),
            ..Default::default()
        };
        let changes = c.apply(&close, Timestamp(5));
        assert_eq!(c.closed_at, Some(Timestamp(5)));
        assert!(changes.contains_key("status") && changes.contains_key("closed_at"));
        let reopen = CasePatch {
            status: Some(CaseStatus::Open),
            ..Default::default()
        };
        c.apply(&reopen, Timestamp(9));
        assert_eq!(c.closed_at, None);
    }

    #[test]
    fn a_patch_that_changes_nothing_reports_nothing() {
        let mut c = case();
        let same = CasePatch {
            title: Some("t".into()),
            ..Default::default()
        };
        assert!(c.apply(&same, Timestamp(5)).is_empty());
        assert_eq!(c.updated_at, Timestamp(0));
    }
}
