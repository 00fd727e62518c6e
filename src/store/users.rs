//! Users: accounts, roles, deactivation, and the last-admin rule.

use serde_json::json;
use sqlx::FromRow;

use super::events::{self, NewEvent};
use super::sql::{Bind, Filter, ListPage};
use super::{Created, IdempotencyKey, Store, StoreError, WriteTx, is_unique_violation};
use crate::domain::time::Timestamp;
use crate::domain::user::{NewUser, Role, User, UserPatch};

const COLUMNS: &str = "id, name, email, role, active, created_at, updated_at, last_seen_at";
/// What login needs to know about a user.
pub struct LoginRecord {
    pub user: User,
    pub password_hash: String,
    pub token_generation: i64,
}

const EMAIL_TAKEN: &str = "A user with this email already exists";

#[derive(FromRow)]
struct UserRow {
    id: i64,
    name: String,
    email: String,
    role: String,
    active: i64,
    created_at: i64,
    updated_at: i64,
    last_seen_at: Option<i64>,
}

#[derive(FromRow)]
struct LoginRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
    token_generation: i64,
}

/// A unique violation on users can only be the email.
fn email_conflict(error: sqlx::Error) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::Conflict(EMAIL_TAKEN.into())
    } else {
        error.into()
    }
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: row.id,
            name: row.name,
            email: row.email,
            role: super::parse_column(&row.role)?,
            active: row.active != 0,
            created_at: Timestamp(row.created_at),
            updated_at: Timestamp(row.updated_at),
            last_seen_at: row.last_seen_at.map(Timestamp),
        })
    }
}

/// Filters of `GET /users`.
#[derive(Debug, Default)]
pub struct UserFilter {
    pub roles: Vec<Role>,
    pub active: Option<bool>,
}

/// Sort keys of `GET /users`.
#[derive(Debug, Clone, Copy)]
pub enum UserSort {
    CreatedAt,
    UpdatedAt,
    Name,
    Email,
    Role,
    LastSeenAt,
    Id,
}

impl UserSort {
    pub const NAMES: &'static [(&'static str, UserSort)] = &[
        ("created_at", UserSort::CreatedAt),
        ("updated_at", UserSort::UpdatedAt),
        ("name", UserSort::Name),
        ("email", UserSort::Email),
        ("role", UserSort::Role),
        ("last_seen_at", UserSort::LastSeenAt),
        ("id", UserSort::Id),
    ];

    fn column(self) -> &'static str {
        match self {
            UserSort::CreatedAt => "created_at",
            UserSort::UpdatedAt => "updated_at",
            UserSort::Name => "LOWER(name)",
            UserSort::Email => "email",
            UserSort::Role => "role",
            UserSort::LastSeenAt => "COALESCE(last_seen_at, 0)",
            UserSort::Id => "id",
        }
    }
}

impl Store {
    pub async fn has_users(&self) -> Result<bool, StoreError> {
        let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM users LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    /// Creates the first admin when there are no users at all; whether it did.
    pub async fn bootstrap_admin(
        &self,
        email: &str,
        password_hash: String,
    ) -> Result<bool, StoreError> {
        if self.has_users().await? {
            return Ok(false);
        }
        let admin = NewUser {
            name: "Administrator".into(),
            email: email.to_string(),
            role: Role::Admin,
            active: true,
            password: String::new(),
        };
        match self.create_user(None, &admin, password_hash, None).await {
            Ok(_) => Ok(true),
            // Another node bootstrapped at the same moment.
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates a user (`user.created`); the password arrives already hashed.
    pub async fn create_user(
        &self,
        actor_id: Option<i64>,
        new: &NewUser,
        password_hash: String,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<User>, StoreError> {
        self.create_idempotent(key, async |tx: &mut WriteTx| {
            let now = Timestamp::now();
            let row: UserRow = sqlx::query_as(
                "INSERT INTO users (name, email, role, active, password_hash, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id, name, email, role, active, \
                 created_at, updated_at, last_seen_at",
            )
            .bind(new.name.as_str())
            .bind(new.email.as_str())
            .bind(new.role.as_str())
            .bind(i64::from(new.active))
            .bind(password_hash)
            .bind(now.millis())
            .fetch_one(tx.conn())
            .await
            .map_err(email_conflict)?;
            let user = User::try_from(row)?;
            let event = NewEvent {
                kind: "user.created",
                case_id: None,
                actor_id,
                data: &user,
                changes: None,
                topics: &["users".to_string()],
                at: now,
            };
            events::append(tx, event).await?;
            Ok(user)
        })
        .await
    }

    pub async fn find_user(&self, id: i64) -> Result<User, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(select_users("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.ok_or(StoreError::NotFound("User"))?.try_into()
    }

    /// The user with this email, their password hash and token generation, for login.
    pub async fn find_login(&self, email: &str) -> Result<Option<LoginRecord>, StoreError> {
        let row: Option<LoginRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, password_hash, token_generation FROM users WHERE email = $1"
        )))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(LoginRecord {
            user: row.user.try_into()?,
            password_hash: row.password_hash,
            token_generation: row.token_generation,
        }))
    }

    /// The token's user when they exist and are active, the token is of their current
    /// generation, and its `jti` is not revoked.
    pub async fn find_token_user(
        &self,
        user_id: i64,
        jti: &str,
        generation: i64,
    ) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(select_users(
            "WHERE id = $1 AND active = 1 AND token_generation = $3 \
             AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2)",
        ))
        .bind(user_id)
        .bind(jti)
        .bind(generation)
        .fetch_optional(&self.pool)
        .await?;
        row.map(User::try_from).transpose()
    }

    /// Sets `last_seen_at` of a user whose socket connected or went away.
    pub async fn touch_last_seen(&self, user_id: i64, at: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET last_seen_at = $1 WHERE id = $2")
            .bind(at.millis())
            .bind(user_id)
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// Notes that `user` just logged in (`last_seen_at`).
    pub async fn record_login(&self, user: &mut User) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET last_seen_at = $1 WHERE id = $2")
            .bind(now.millis())
            .bind(user.id)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        user.last_seen_at = Some(now);
        Ok(())
    }

    pub async fn list_users(
        &self,
        filter: &UserFilter,
        page: &ListPage<UserSort>,
    ) -> Result<(Vec<User>, i64), StoreError> {
        let mut sql = Filter::default();
        sql.any_of("role", filter.roles.iter().map(|r| r.as_str().to_string()));
        if let Some(active) = filter.active {
            let p = sql.bind(Bind::Int(i64::from(active)));
            sql.and(format!("active = {p}"));
        }
        let (rows, total) = sql
            .fetch_page::<UserRow, _>(&self.pool, COLUMNS, "users", page, page.sort.column())
            .await?;
        let users = rows
            .into_iter()
            .map(User::try_from)
            .collect::<Result<_, _>>()?;
        Ok((users, total))
    }

    /// Applies `patch` (password already hashed into `password_hash`). Refuses, with a
    /// conflict, a change that would leave no active admin.
    pub async fn update_user(
        &self,
        id: i64,
        patch: &UserPatch,
        password_hash: Option<String>,
    ) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        let lock = self.dialect.for_update();
        // A change of role or activity may remove an admin: lock every active admin first, in
        // id order, so two admins demoting each other queue instead of deadlocking.
        let active_admins: Vec<(i64,)> = if patch.role.is_some() || patch.active.is_some() {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM users WHERE role = 'admin' AND active = 1 ORDER BY id{lock}"
            )))
            .fetch_all(tx.conn())
            .await?
        } else {
            Vec::new()
        };
        let row: Option<UserRow> = sqlx::query_as(select_users(&format!("WHERE id = $1{lock}")))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
        let mut user = User::try_from(row.ok_or(StoreError::NotFound("User"))?)?;
        if patch.removes_admin(&user) && active_admins.iter().all(|(admin,)| *admin == id) {
            return Err(StoreError::Conflict(
                "This is the last active admin; promote another admin first".into(),
            ));
        }
        let before = json!(user);
        let was_active = user.active;
        if let Some(name) = &patch.name {
            user.name = name.clone();
        }
        if let Some(email) = &patch.email {
            user.email = email.clone();
        }
        user.role = patch.role.unwrap_or(user.role);
        user.active = patch.active.unwrap_or(user.active);
        if json!(user) == before && password_hash.is_none() {
            return Ok(user);
        }
        user.updated_at = Timestamp::now();
        // Deactivation and a new password end every session the user had.
        let ends_sessions = (was_active && !user.active) || password_hash.is_some();
        sqlx::query(
            "UPDATE users SET name = $1, email = $2, role = $3, active = $4, updated_at = $5, \
             password_hash = COALESCE($6, password_hash), \
             token_generation = token_generation + $7 WHERE id = $8",
        )
        .bind(user.name.as_str())
        .bind(user.email.as_str())
        .bind(user.role.as_str())
        .bind(i64::from(user.active))
        .bind(user.updated_at.millis())
        .bind(password_hash)
        .bind(i64::from(ends_sessions))
        .bind(id)
        .execute(tx.conn())
        .await
        .map_err(email_conflict)?;
        tx.commit().await?;
        Ok(user)
    }
}

fn select_users(condition: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM users {condition}"))
}
