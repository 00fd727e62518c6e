//! Argon2id password hashes. Hashing is deliberately slow and takes ~19 MiB per run, so runs
//! happen on the blocking pool, at most one per core at a time: a flood of logins queues here
//! instead of exhausting memory.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

/// A hash to check against when the email is unknown, so that a wrong email takes as long
/// as a wrong password and does not reveal who has an account.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_now("not-a-real-password").unwrap_or_default());

/// Hashes and checks passwords with bounded parallelism.
pub struct Passwords {
    permits: Semaphore,
}

impl Default for Passwords {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Passwords {
            permits: Semaphore::new(cores),
        }
    }
}

/// Why hashing failed: a fault of ours, never of the password.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl Passwords {
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        tokio::task::spawn_blocking(move || hash_now(&password))
            .await
            .map_err(|e| HashError(e.to_string()))?
            .map_err(|e| HashError(e.to_string()))
    }

    /// Whether `password` matches `stored`; `None` checks against a dummy and is always false.
    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || verify_now(&password, stored.as_deref()))
            .await
            .unwrap_or(false)
    }
}

fn hash_now(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

fn verify_now(password: &str, stored: Option<&str>) -> bool {
    let (hash, real) = match stored {
        Some(stored) => (stored, true),
        None => (DUMMY_HASH.as_str(), false),
    };
    let matches = PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    matches && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash_now("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify_now("correct horse", Some(&stored)));
        assert!(!verify_now("wrong horse", Some(&stored)));
        assert!(!verify_now("correct horse", None));
    }
}
