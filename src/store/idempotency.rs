//! `Idempotency-Key`: a retried create returns the first answer instead of creating twice.
//! The key is claimed in the same transaction as the creation, so the two commit together.

use serde::Serialize;
use serde_json::Value;
use sqlx::AnyConnection;

use super::{Store, StoreError, WriteTx};
use crate::domain::time::Timestamp;

/// How long a key is remembered.
const KEY_LIFETIME_MILLIS: i64 = 24 * 3600 * 1000;

/// A client's key for one create request.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub user_id: i64,
    pub key: String,
    /// Hash of the method, path and body: the same key with another request is a conflict.
    pub request_hash: String,
}

/// The result of a create: the new resource, or the stored answer to an earlier identical one.
#[derive(Debug)]
pub enum Created<T> {
    New(T),
    Replayed(Value),
}

impl Store {
    /// Runs `create` in a write transaction guarded by `key` (when given) and commits.
    pub(crate) async fn create_idempotent<T: Serialize>(
        &self,
        key: Option<&IdempotencyKey>,
        create: impl AsyncFnOnce(&mut WriteTx) -> Result<T, StoreError>,
    ) -> Result<Created<T>, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(key) = key
            && let Some(previous) = claim(tx.conn(), key).await?
        {
            return Ok(Created::Replayed(previous));
        }
        let created = create(&mut tx).await?;
        if let Some(key) = key {
            let response = serde_json::to_string(&created).unwrap_or_else(|_| "null".into());
            sqlx::query(
                "UPDATE idempotency_keys SET response = $1 WHERE user_id = $2 AND key = $3",
            )
            .bind(response)
            .bind(key.user_id)
            .bind(key.key.as_str())
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await?;
        Ok(Created::New(created))
    }
}

/// Claims `key`: `None` when it is new (now taken), the earlier answer when it was used for the
/// same request, a conflict when it was used for another.
async fn claim(
    conn: &mut AnyConnection,
    key: &IdempotencyKey,
) -> Result<Option<Value>, StoreError> {
    let now = Timestamp::now().millis();
    // Forget every expired key (this one included), so the table holds one day of keys.
    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(now - KEY_LIFETIME_MILLIS)
        .execute(&mut *conn)
        .await?;
    // On PostgreSQL a concurrent claim of the same key waits here for the other transaction,
    // then inserts nothing and reads the committed answer below.
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, key) DO NOTHING",
    )
    .bind(key.user_id)
    .bind(key.key.as_str())
    .bind(key.request_hash.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(None);
    }
    let (hash, response): (String, Option<String>) = sqlx::query_as(
        "SELECT request_hash, response FROM idempotency_keys WHERE user_id = $1 AND key = $2",
    )
    .bind(key.user_id)
    .bind(key.key.as_str())
    .fetch_one(&mut *conn)
    .await?;
    if hash != key.request_hash {
        return Err(StoreError::Conflict(
            "This Idempotency-Key was already used with a different request".into(),
        ));
    }
    let previous = response
        .and_then(|r| serde_json::from_str(&r).ok())
        .unwrap_or(Value::Null);
    Ok(Some(previous))
}
