//! The real binary, started as a process: what an operator sees on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, free_port, fresh_database};
use crate::socket::{Auth, open_socket};

/// Stops the process if the test fails before it does.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[actix_web::test]
async fn sigterm_closes_sockets_with_1001_and_exits_cleanly() {
    let (_db, url) = fresh_database().await;
    let address = format!("127.0.0.1:{}", free_port());
    let mut server = Child(
        Command::new(env!("CARGO_BIN_EXE_helpline"))
            .env("HELPLINE_DATABASE_URL", &url)
            .env("HELPLINE_BIND", &address)
            .env("HELPLINE_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("HELPLINE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("HELPLINE_WORKERS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server binary"),
    );
    let base = format!("http://{address}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login body");
    let token = login["data"]["token"].as_str().expect("token");
    let mut socket = open_socket(&base, Auth::Header(token), None)
        .await
        .expect("socket");
    assert_eq!(socket.subscribe("cases", None).await["type"], "subscribed");

    let pid = server.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.expect("kill runs").success());

    assert_eq!(socket.close_code().await, Some(CloseCode::Away));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
}

#[actix_web::test]
async fn the_seeder_adds_agents_cases_and_messages_that_the_dashboard_counts() {
    let app = crate::helpers::spawn_app().await;
    let seeded = Command::new(env!("CARGO_BIN_EXE_helpline-seed"))
        .env("HELPLINE_DATABASE_URL", &app.settings.database_url)
        .args(["--cases", "40", "--days", "10", "--agents", "3"])
        .args([
            "--messages-per-case",
            "3",
            "--agent-password",
            "agent-pass-1",
        ])
        .output()
        .expect("run helpline-seed");
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );

    let agent = app.login("seed-agent-3@example.org", "agent-pass-1").await;
    assert_eq!(
        agent.status, 200,
        "a seeded agent can log in: {}",
        agent.body
    );
    let stats = app.get("/api/v1/dashboard/stats", &app.admin.token).await;
    let data = stats.data();
    // Statuses go round case by case, priorities every four cases.
    assert_eq!(data["total_cases"], 40);
    assert_eq!(
        data["by_status"],
        json!({"open": 10, "in_progress": 10, "escalated": 10, "closed": 10})
    );
    assert_eq!(
        data["by_priority"],
        json!({"low": 12, "medium": 12, "high": 8, "critical": 8})
    );
    // Every case but each fifth is answered ten minutes after it was opened.
    assert_eq!(data["avg_first_response_seconds"], 600.0);
    let performance = app
        .get("/api/v1/dashboard/agent-performance", &app.admin.token)
        .await;
    let assigned: i64 = performance
        .data()
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row["cases_assigned"].as_i64().expect("count"))
        .sum();
    assert_eq!(assigned, 40, "every case is assigned to an agent");
    let messages = app
        .get("/api/v1/communications?limit=1", &app.admin.token)
        .await;
    assert_eq!(
        messages.body["pagination"]["total"], 112,
        "3 messages a case, less the 8 unanswered cases' replies"
    );
}
