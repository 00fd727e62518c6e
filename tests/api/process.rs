//! The real binary, started as a process: what an operator sees on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, fresh_database};
use crate::socket::{Auth, open_socket};

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

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
