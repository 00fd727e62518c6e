//! Login tokens: HS256 JWTs with an id (`jti`) so a single token can be revoked.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::time::Timestamp;

/// What a token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a string per RFC 7519.
    pub sub: String,
    pub jti: String,
    /// The user's token generation at issue; bumping it (deactivation, new password) kills
    /// every older token of that user at once.
    pub tgen: i64,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }

    pub fn expires_at(&self) -> Timestamp {
        Timestamp(self.exp.saturating_mul(1000))
    }
}

/// A freshly issued token.
pub struct IssuedToken {
    pub token: String,
    pub expires_at: Timestamp,
}

/// Issues and checks tokens with the server's secret.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl Tokens {
    pub fn new(secret: &[u8], ttl: Duration) -> Result<Self, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Tokens {
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
            validation,
            ttl,
        })
    }

    pub fn issue(
        &self,
        user_id: i64,
        generation: i64,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let now = Timestamp::now().millis() / 1000;
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let claims = Claims {
            sub: user_id.to_string(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            tgen: generation,
            iat: now,
            exp: now + ttl,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_at: claims.expires_at(),
        })
    }

    /// The claims of a well-signed, unexpired token.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|t| t.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_with_its_secret() {
        let tokens = Tokens::new(&[7; 32], Duration::from_secs(60)).unwrap();
        let issued = tokens.issue(42, 1).unwrap();
        assert_eq!(
            tokens.verify(&issued.token).and_then(|c| c.user_id()),
            Some(42)
        );
        let other = Tokens::new(&[8; 32], Duration::from_secs(60)).unwrap();
        assert!(other.verify(&issued.token).is_none());
        assert!(tokens.verify("not.a.token").is_none());
    }
}
