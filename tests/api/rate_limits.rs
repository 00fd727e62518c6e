//! Rate limits: per group, per user (per address before login), headers, 429 applying nothing.

use serde_json::json;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, spawn_app_with};

#[actix_web::test]
async fn a_group_allows_its_budget_then_answers_429_with_retry_after_and_applies_nothing() {
    let app = spawn_app_with(|settings| settings.rate_limit_cases = 3).await;
    let token = app.admin.token.clone();
    for remaining in [2, 1] {
        let list = app.get("/api/v1/cases", &token).await;
        assert_eq!(list.status, 200);
        assert_eq!(list.header("x-ratelimit-limit"), Some("3"));
        assert_eq!(
            list.header("x-ratelimit-remaining"),
            Some(remaining.to_string().as_str())
        );
        let reset: i64 = list
            .header("x-ratelimit-reset")
            .expect("reset")
            .parse()
            .expect("number");
        let now = chrono::Utc::now().timestamp();
        assert!(
            reset > now && reset <= now + 3600,
            "reset {reset} ends this hour's window"
        );
    }
    let created = app.create_case(&token, json!({})).await;
    assert_eq!(created.header("x-ratelimit-remaining"), Some("0"));

    let refused = app
        .post(
            "/api/v1/cases",
            &token,
            json!({"title": "Not applied", "type": "abuse"}),
        )
        .await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.body["status"], "error");
    assert_eq!(refused.body["code"], 429);
    let retry_after: i64 = refused
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("secs");
    assert!((1..=3600).contains(&retry_after));
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));

    // Nothing was applied: only the one case exists (read as another group would not count).
    let events = app.topic_events("cases").await;
    assert_eq!(
        events.len(),
        1,
        "only the first case was created: {events:?}"
    );
}

#[actix_web::test]
async fn groups_and_users_have_separate_budgets() {
    let app = spawn_app_with(|settings| {
        settings.rate_limit_cases = 1;
        settings.rate_limit_users = 5;
    })
    .await;
    let agent = app.create_user("agent").await;
    assert_eq!(app.get("/api/v1/cases", &app.admin.token).await.status, 200);
    assert_eq!(app.get("/api/v1/cases", &app.admin.token).await.status, 429);
    // Another group, and another user, are untouched.
    let users = app.get("/api/v1/users", &app.admin.token).await;
    assert_eq!(users.status, 200);
    assert_eq!(users.header("x-ratelimit-limit"), Some("5"));
    assert_eq!(app.get("/api/v1/cases", &agent.token).await.status, 200);
    assert_eq!(app.get("/api/v1/cases", &agent.token).await.status, 429);
}

#[actix_web::test]
async fn before_login_requests_count_per_address_and_unlimited_groups_carry_no_headers() {
    let app = spawn_app_with(|settings| settings.rate_limit_other = 2).await;
    // spawn_app logged the admin in once already: one request of this address's budget.
    let login = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(login.status, 200);
    assert_eq!(login.header("x-ratelimit-remaining"), Some("0"));
    let refused = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(refused.status, 429);
    // A logged-in user has their own budget in the same group.
    let me = app.get("/api/v1/auth/me", &app.admin.token).await;
    assert_eq!(me.status, 200);
    // `cases` is unlimited here (0): no headers.
    let cases = app.get("/api/v1/cases", &app.admin.token).await;
    assert_eq!(cases.status, 200);
    assert_eq!(cases.header("x-ratelimit-limit"), None);
    // /health is outside /api/v1 and never limited.
    let health = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
}

#[actix_web::test]
async fn a_percent_encoded_path_counts_against_the_group_it_is_routed_to() {
    let app = spawn_app_with(|settings| settings.rate_limit_cases = 1).await;
    assert_eq!(app.get("/api/v1/cases", &app.admin.token).await.status, 200);
    let encoded = app.get("/api/v1/%63ases", &app.admin.token).await;
    assert_eq!(encoded.status, 429, "{}", encoded.body);
    assert_eq!(encoded.header("x-ratelimit-limit"), Some("1"));
}
