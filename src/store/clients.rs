//! Clients: the children and callers cases are about.

use sqlx::{AssertSqlSafe, FromRow};

use super::sql::{Filter, ListPage};
use super::{Created, IdempotencyKey, Store, StoreError, WriteTx, parse_column};
use crate::domain::client::{Client, ClientFields};
use crate::domain::time::Timestamp;

const COLUMNS: &str =
    "id, name, phone, email, age, gender, location, language, notes, created_at, updated_at";

#[derive(FromRow)]
struct ClientRow {
    id: i64,
    name: String,
    phone: Option<String>,
    email: Option<String>,
    age: Option<i64>,
    gender: Option<String>,
    location: Option<String>,
    language: Option<String>,
    notes: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;
    fn try_from(row: ClientRow) -> Result<Self, StoreError> {
        Ok(Client {
            id: row.id,
            name: row.name,
            phone: row.phone,
            email: row.email,
            age: row.age,
            gender: row.gender.as_deref().map(parse_column).transpose()?,
            location: row.location,
            language: row.language,
            notes: row.notes,
            created_at: Timestamp(row.created_at),
            updated_at: Timestamp(row.updated_at),
        })
    }
}

/// Filters of `GET /clients`.
#[derive(Debug, Default)]
pub struct ClientFilter {
    pub text: Option<String>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
}

/// Sort keys of `GET /clients`.
#[derive(Debug, Clone, Copy)]
pub enum ClientSort {
    CreatedAt,
    UpdatedAt,
    Name,
    Age,
    Id,
}

impl ClientSort {
    pub const NAMES: &'static [(&'static str, ClientSort)] = &[
        ("created_at", ClientSort::CreatedAt),
        ("updated_at", ClientSort::UpdatedAt),
        ("name", ClientSort::Name),
        ("age", ClientSort::Age),
        ("id", ClientSort::Id),
    ];

    fn column(self) -> &'static str {
        match self {
            ClientSort::CreatedAt => "created_at",
            ClientSort::UpdatedAt => "updated_at",
            ClientSort::Name => "LOWER(name)",
            ClientSort::Age => "COALESCE(age, -1)",
            ClientSort::Id => "id",
        }
    }
}

impl Store {
    pub async fn create_client(
        &self,
        fields: ClientFields,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created<Client>, StoreError> {
        let now = Timestamp::now();
        let mut client = Client {
            id: 0,
            name: String::new(),
            phone: None,
            email: None,
            age: None,
            gender: None,
            location: None,
            language: None,
            notes: None,
            created_at: now,
            updated_at: now,
        };
        client.apply(fields, now);
        self.create_idempotent(key, async |tx: &mut WriteTx| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO clients (name, phone, email, age, gender, location, language, notes, \
                 created_at, updated_at, search_text) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING id",
            )
            .bind(client.name.as_str())
            .bind(client.phone.clone())
            .bind(client.email.clone())
            .bind(client.age)
            .bind(client.gender.map(|g| g.as_str()))
            .bind(client.location.clone())
            .bind(client.language.clone())
            .bind(client.notes.clone())
            .bind(now.millis())
            .bind(client.search_text())
            .fetch_one(tx.conn())
            .await?;
            Ok(Client {
                id,
                ..client.clone()
            })
        })
        .await
    }

    pub async fn find_client(&self, id: i64) -> Result<Client, StoreError> {
        let row: Option<ClientRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM clients WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::NotFound("Client"))?.try_into()
    }

    pub async fn list_clients(
        &self,
        filter: &ClientFilter,
        page: &ListPage<ClientSort>,
    ) -> Result<(Vec<Client>, i64), StoreError> {
        let mut sql = Filter::default();
        if let Some(text) = &filter.text {
            sql.text_search(text);
        }
        sql.between(
            "created_at",
            filter.created_after.map(Timestamp::millis),
            filter.created_before.map(Timestamp::millis),
        );
        let (rows, total) = sql
            .fetch_page::<ClientRow, _>(&self.pool, COLUMNS, "clients", page, page.sort.column())
            .await?;
        let clients = rows
            .into_iter()
            .map(Client::try_from)
            .collect::<Result<_, _>>()?;
        Ok((clients, total))
    }

    pub async fn update_client(&self, id: i64, fields: ClientFields) -> Result<Client, StoreError> {
        let mut tx = self.begin_write().await?;
        let lock = self.dialect.for_update();
        let row: Option<ClientRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM clients WHERE id = $1{lock}"
        )))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
        let mut client = Client::try_from(row.ok_or(StoreError::NotFound("Client"))?)?;
        if !client.apply(fields, Timestamp::now()) {
            return Ok(client);
        }
        sqlx::query(
            "UPDATE clients SET name = $1, phone = $2, email = $3, age = $4, gender = $5, \
             location = $6, language = $7, notes = $8, updated_at = $9, search_text = $10 \
             WHERE id = $11",
        )
        .bind(client.name.as_str())
        .bind(client.phone.clone())
        .bind(client.email.clone())
        .bind(client.age)
        .bind(client.gender.map(|g| g.as_str()))
        .bind(client.location.clone())
        .bind(client.language.clone())
        .bind(client.notes.clone())
        .bind(client.updated_at.millis())
        .bind(client.search_text())
        .bind(id)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(client)
    }
}
