//! A client: the child or caller a case is about.

use serde::Serialize;
use serde_json::{Map, Value};

use super::input::{self, Input};
use super::string_enum;
use super::time::Timestamp;
use crate::error::FieldError;

string_enum! {
    /// Gender as the client gives it.
    Gender { Female => "female", Male => "male", Other => "other", Unknown => "unknown" }
}

/// A client as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": 7, "name": "Amina", "phone": "+254 700 000 000", "email": null, "age": 12,
    "gender": "female", "location": "Kisumu", "language": "sw", "notes": null,
    "created_at": "2026-01-20T15:30:00.000Z", "updated_at": "2026-01-20T15:30:00.000Z"
}))]
pub struct Client {
    pub id: i64,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// 0 to 130.
    pub age: Option<i64>,
    pub gender: Option<Gender>,
    pub location: Option<String>,
    pub language: Option<String>,
    pub notes: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const WRITABLE: &[&str] = &[
    "name", "phone", "email", "age", "gender", "location", "language", "notes",
];
const READ_ONLY: &[&str] = &["id", "created_at", "updated_at"];

/// The client's editable fields; on create, `None` means not given; on update, unchanged.
/// Nullable fields use `Option<Option<_>>` so that `null` clears them.
#[derive(Debug, Clone, Default)]
pub struct ClientFields {
    pub name: Option<String>,
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub age: Option<Option<i64>>,
    pub gender: Option<Option<Gender>>,
    pub location: Option<Option<String>>,
    pub language: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

fn phone(v: &Value) -> Result<String, String> {
    let text = input::trimmed_text(v, 3, 32)?;
    let allowed = |c: char| c.is_ascii_digit() || " +-().".contains(c);
    if text.chars().all(allowed) && text.chars().any(|c| c.is_ascii_digit()) {
        Ok(text)
    } else {
        Err("must be a phone number: digits, spaces and + - ( ) .".into())
    }
}

impl ClientFields {
    /// Parses a create (`name` required) or an update (everything optional).
    pub fn parse(body: Map<String, Value>, creating: bool) -> Result<Self, Vec<FieldError>> {
        let mut input = Input::new(body, WRITABLE, READ_ONLY);
        let name = |v: &Value| input::trimmed_text(v, 1, 200);
        let fields = ClientFields {
            name: if creating {
                input.required("name", name)
            } else {
                input.optional("name", name)
            },
            phone: input.nullable("phone", phone),
            email: input.nullable("email", input::email),
            age: input.nullable("age", |v| input::integer(v, 0, 130)),
            gender: input.nullable("gender", input::one_of),
            location: input.nullable("location", |v| input::trimmed_text(v, 0, 200)),
            language: input.nullable("language", |v| input::trimmed_text(v, 0, 100)),
            notes: input.nullable("notes", |v| input::text(v, 0, 20_000)),
        };
        input.finish()?;
        Ok(fields)
    }
}

impl Client {
    /// What `q` searches in a client: name, phone and email, lowercased.
    pub fn search_text(&self) -> String {
        let fields = [Some(&self.name), self.phone.as_ref(), self.email.as_ref()];
        fields
            .into_iter()
            .flatten()
            .map(|f| f.to_lowercase())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Applies an update in place; returns whether anything changed.
    pub fn apply(&mut self, fields: ClientFields, now: Timestamp) -> bool {
        let before = self.clone();
        if let Some(v) = fields.name {
            self.name = v;
        }
        macro_rules! set_nullable {
            ($($field:ident),+) => { $(if let Some(v) = fields.$field { self.$field = v; })+ };
        }
        set_nullable!(phone, email, age, gender, location, language, notes);
        let changed = *self != before;
        if changed {
            self.updated_at = now;
        }
        changed
    }
}
