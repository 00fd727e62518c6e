//! Standard Webhooks signing: secrets are `whsec_` + base64 of the key bytes, and a signature
//! is `v1,` + base64 of HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}"), so the
//! official Standard Webhooks libraries verify ours as they are.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A new secret: 32 random bytes.
pub fn generate_secret() -> String {
    let mut key = [0u8; 32];
    rand::fill(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// The key bytes of a secret, or why it is not one (for the 400 answer).
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix(PREFIX)
        .ok_or("must start with whsec_ followed by base64 (Standard Webhooks)")?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| "must be whsec_ followed by valid base64")?;
    if !(24..=64).contains(&key.len()) {
        return Err("must hold 24 to 64 key bytes".into());
    }
    Ok(key)
}

/// The `webhook-signature` header value.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes keys of any length; the error is unreachable.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        // From the Standard Webhooks specification's reference implementations.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid secret");
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_generated_and_checked() {
        assert_eq!(secret_key(&generate_secret()).map(|k| k.len()), Ok(32));
        for bad in ["", "secret", "whsec_", "whsec_!!!", "whsec_c2hvcnQ="] {
            assert!(secret_key(bad).is_err(), "{bad} must be refused");
        }
    }
}
