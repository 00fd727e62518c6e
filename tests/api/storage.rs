//! What clients see when the database goes away and comes back.

use std::time::Duration;

use serde_json::json;
use sqlx::Connection;

use crate::helpers::*;

async fn run_sql(server_url: &str, sql: String) {
    let mut conn = sqlx::PgConnection::connect(server_url)
        .await
        .expect("connect as the test's superuser");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .expect("admin SQL");
}

#[actix_web::test]
async fn while_postgresql_refuses_connections_requests_get_503_apply_nothing_and_service_resumes() {
    let app = spawn_app_with(|settings| settings.database_timeout = Duration::from_secs(1)).await;
    // SQLite lives in the server's own process: there is no connection to lose, so this
    // failure mode exists only on PostgreSQL (CI runs the suite on both).
    let Some((server_url, name)) = app.postgres_database() else {
        return;
    };
    let token = app.admin.token.clone();
    let before = app.get("/api/v1/cases", &token).await.body["pagination"]["total"].clone();

    run_sql(
        &server_url,
        format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
        ),
    )
    .await;
    let health = app
        .request(reqwest::Method::GET, "/health", None, None)
        .await;
    assert_eq!(
        health.status, 503,
        "health while the database refuses: {}",
        health.body
    );
    assert_eq!(health.body["status"], "error");
    let refused = app
        .post(
            "/api/v1/cases",
            &token,
            json!({"title": "During the outage", "type": "abuse"}),
        )
        .await;
    assert_eq!(
        refused.status, 503,
        "a write while the database refuses: {}",
        refused.body
    );
    assert_eq!(refused.body["code"], 503);

    run_sql(
        &server_url,
        format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"),
    )
    .await;
    let health = app
        .request(reqwest::Method::GET, "/health", None, None)
        .await;
    assert_eq!(
        health.status, 200,
        "health once the database is back: {}",
        health.body
    );
    let after = app.get("/api/v1/cases", &token).await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert_eq!(
        after.body["pagination"]["total"], before,
        "the refused write created nothing"
    );
}
