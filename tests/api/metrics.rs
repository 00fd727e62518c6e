//! `/metrics`: who may read it, and that it counts what happens. The registry is the test
//! process's (as a server's is its process's), so the tests look for increases, not totals.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{TestApp, spawn_app_with};
use crate::receivers::WebhookReceiver;

const SCRAPE_TOKEN: &str = "scraper-token-0123456789";

async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(SCRAPE_TOKEN)
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .expect("type")
        .to_string();
    assert!(kind.starts_with("text/plain"), "{kind}");
    response.text().await.expect("text")
}

/// The sum of the samples of `name` whose labels contain every one of `labels`.
fn value(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[actix_web::test]
async fn metrics_are_for_admins_and_the_scraper_token_only() {
    let app = spawn_app_with(|s| s.metrics_token = Some(SCRAPE_TOKEN.into())).await;
    let agent = app.create_user("agent").await;
    let none = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("get");
    assert_eq!(none.status(), 401);
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scraper-token-wrong-guess")
        .send()
        .await
        .expect("get");
    assert_eq!(wrong.status(), 401);
    assert_eq!(app.get("/metrics", &agent.token).await.status, 403);
    let admin = app.get("/metrics", &app.admin.token).await;
    assert_eq!(admin.status, 200);
    scrape(&app).await;
}

#[actix_web::test]
async fn metrics_count_requests_events_sockets_deliveries_and_rejections() {
    let app = spawn_app_with(|s| {
        s.metrics_token = Some(SCRAPE_TOKEN.into());
        s.webhook_allow_private = true;
        s.rate_limit_dashboard = 1;
    })
    .await;
    let token = app.admin.token.clone();
    let receiver = WebhookReceiver::start().await;
    let subscribed = app
        .post(
            "/api/v1/webhooks/subscribe",
            &token,
            json!({"event": "case.created", "url": receiver.url}),
        )
        .await;
    assert_eq!(subscribed.status, 201);
    let before = scrape(&app).await;

    app.create_case(&token, json!({})).await;
    assert_eq!(app.get("/api/v1/cases/abc", &token).await.status, 404);
    let _socket = app.socket(&token).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    app.get("/api/v1/dashboard/stats", &token).await;
    assert_eq!(app.get("/api/v1/dashboard/stats", &token).await.status, 429);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = scrape(&app).await;

    let grew =
        |name: &str, labels: &[&str]| value(&after, name, labels) - value(&before, name, labels);
    assert!(
        grew(
            "http_requests_total",
            &[r#"route="/api/v1/cases""#, r#"status="201""#]
        ) >= 1.0
    );
    assert!(
        grew(
            "http_requests_total",
            &[r#"route="/api/v1/cases/{id}""#, r#"status="404""#]
        ) >= 1.0
    );
    assert!(
        grew(
            "http_request_duration_seconds_count",
            &[r#"route="/api/v1/cases""#]
        ) >= 1.0
    );
    assert!(
        grew("events_published_total", &[]) >= 2.0,
        "case:{{id}} and cases"
    );
    assert!(value(&after, "websocket_connections", &[]) >= 1.0);
    assert!(grew("webhook_attempts_total", &[r#"outcome="delivered""#]) >= 1.0);
    assert!(grew("rate_limit_rejections_total", &[r#"group="dashboard""#]) >= 1.0);
}
