//! Webhooks: subscriptions, signed deliveries to a real HTTP receiver, retries, durability.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::helpers::spawn_app_with;
use crate::receivers::{Received, WebhookReceiver};

/// Checks a delivery's signature the way a receiver would, with its own HMAC.
pub fn verify_signature(secret: &str, received: &Received) -> bool {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("secret is base64");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("key");
    mac.update(
        format!(
            "{}.{}.{}",
            received.webhook_id, received.timestamp, received.body
        )
        .as_bytes(),
    );
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    received.signature.split(' ').any(|sig| sig == expected)
}

#[actix_web::test]
async fn a_subscribed_receiver_gets_a_signed_case_created() {
    let app = spawn_app_with(|settings| settings.webhook_allow_private = true).await;
    let receiver = WebhookReceiver::start().await;
    let subscribed = app
        .post(
            "/api/v1/webhooks/subscribe",
            &app.admin.token,
            json!({"event": "*", "url": receiver.url}),
        )
        .await;
    assert_eq!(subscribed.status, 201, "{}", subscribed.body);
    let secret = subscribed.data()["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let case = app.create_case(&app.admin.token, json!({})).await;

    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    let body = received[0].json();
    assert_eq!(body["type"], "case.created");
    assert_eq!(body["data"]["id"], case.id());
    assert_eq!(body["actor"], app.admin.id);
    assert!(
        verify_signature(&secret, &received[0]),
        "signature verifies"
    );
}
