//! Staff accounts and their roles.

use serde::Serialize;
use serde_json::{Map, Value};

use super::input::{self, Input};
use super::string_enum;
use super::time::Timestamp;
use crate::error::FieldError;

string_enum! {
    /// What a user may do; see the role table of API.md.
    Role { Admin => "admin", Supervisor => "supervisor", Agent => "agent" }
}

string_enum! {
    /// Whether a user can be reached now, across all their sockets.
    PresenceStatus { Online => "online", Away => "away", Busy => "busy", Offline => "offline" }
}

/// A user as shown to clients; the password hash never leaves the store.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": 3, "name": "Grace Wanjiru", "email": "grace@example.org", "role": "agent",
    "active": true, "created_at": "2026-01-02T08:00:00.000Z",
    "updated_at": "2026-01-02T08:00:00.000Z", "last_seen_at": "2026-01-20T15:35:00.123Z"
}))]
pub struct User {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
}

impl User {
    /// Supervisors and admins oversee the floor.
    pub fn is_supervisor_or_admin(&self) -> bool {
        matches!(self.role, Role::Supervisor | Role::Admin)
    }
}

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

const WRITABLE: &[&str] = &["name", "email", "role", "active", "password"];
const READ_ONLY: &[&str] = &["id", "created_at", "updated_at", "last_seen_at"];

fn name(v: &Value) -> Result<String, String> {
    input::trimmed_text(v, 1, 200)
}
fn password(v: &Value) -> Result<String, String> {
    input::text(v, MIN_PASSWORD_CHARS, 1024)
        .map_err(|_| format!("must be {MIN_PASSWORD_CHARS} to 1024 characters long"))
}

/// The fields of a new user, password still in clear (hashed before it is stored).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub email: String,
    pub role: Role,
    pub active: bool,
    pub password: String,
}

impl NewUser {
    pub fn parse(body: Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut input = Input::new(body, WRITABLE, READ_ONLY);
        let name = input.required("name", name);
        let email = input.required("email", input::email);
        // Least privilege when not said: a counsellor.
        let role = input.optional("role", input::one_of).unwrap_or(Role::Agent);
        let active = input.optional("active", input::boolean).unwrap_or(true);
        let password = input.required("password", password);
        input.finish()?;
        match (name, email, password) {
            (Some(name), Some(email), Some(password)) => Ok(NewUser {
                name,
                email,
                role,
                active,
                password,
            }),
            // Unreachable in practice: `required` has recorded every missing field.
            _ => Err(vec![FieldError::new("body", "is incomplete")]),
        }
    }
}

/// A partial update of a user.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    pub password: Option<String>,
}

impl UserPatch {
    pub fn parse(body: Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut input = Input::new(body, WRITABLE, READ_ONLY);
        let patch = UserPatch {
            name: input.optional("name", name),
            email: input.optional("email", input::email),
            role: input.optional("role", input::one_of),
            active: input.optional("active", input::boolean),
            password: input.optional("password", password),
        };
        input.finish()?;
        Ok(patch)
    }

    /// Whether applying this to `user` leaves them no longer an active admin.
    pub fn removes_admin(&self, user: &User) -> bool {
        let was_admin = user.role == Role::Admin && user.active;
        let stays_admin =
            self.role.unwrap_or(user.role) == Role::Admin && self.active.unwrap_or(user.active);
        was_admin && !stays_admin
    }
}
