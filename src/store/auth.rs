//! What authentication keeps in the database: the signing secret and revoked tokens.

use super::{Store, StoreError};
use crate::domain::time::Timestamp;

impl Store {
    /// The token-signing secret kept in the database; `generated` is stored if there is none.
    /// Several nodes starting at once agree on whichever was stored first.
    pub async fn jwt_secret_or_insert(&self, generated: &str) -> Result<String, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO server_settings (name, value) VALUES ('jwt_secret', $1) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(generated)
        .execute(tx.conn())
        .await?;
        let (secret,): (String,) =
            sqlx::query_as("SELECT value FROM server_settings WHERE name = 'jwt_secret'")
                .fetch_one(tx.conn())
                .await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Revokes a token until it would have expired anyway; forgets long-expired revocations.
    pub async fn revoke_token(&self, jti: &str, expires_at: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1")
            .bind(Timestamp::now().millis())
            .execute(tx.conn())
            .await?;
        sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(expires_at.millis())
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }
}
