//! Email over real SMTP: outbound messages to clients, assignment and escalation notices.

use std::time::Duration;

use serde_json::json;

use crate::helpers::spawn_app_with;
use crate::receivers::SmtpSink;

#[actix_web::test]
async fn an_outbound_email_message_reaches_the_client_and_is_marked_sent() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(|settings| settings.smtp_url = Some(url)).await;
    let token = app.admin.token.clone();
    let client = app
        .post(
            "/api/v1/clients",
            &token,
            json!({"name": "Amina", "email": "amina@example.org"}),
        )
        .await;
    let case = app
        .create_case(
            &token,
            json!({"client_id": client.id(), "channel": "email"}),
        )
        .await;
    let message = app
        .post(
            "/api/v1/communications",
            &token,
            json!({"case_id": case.id(), "direction": "outbound", "body": "We will call you at 5."}),
        )
        .await;
    assert_eq!(message.status, 201, "{}", message.body);
    assert_eq!(message.data()["status"], "queued");

    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].to, vec!["amina@example.org".to_string()]);
    assert!(
        mails[0].data.contains("We will call you at 5."),
        "{}",
        mails[0].data
    );
    let path = format!("/api/v1/communications/{}", message.id());
    let mut status = String::new();
    for _ in 0..100 {
        status = app.get(&path, &token).await.data()["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if status == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "sent");
}
