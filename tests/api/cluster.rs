//! Two nodes on one database with Redis as the bus between them: a socket on one node sees,
//! live and in order, what is written on the other. Runs when `HELPLINE_TEST_REDIS_URL` is set.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};
use crate::socket::{Auth, Socket, open_socket, seqs};

/// Node A (the `TestApp`) and the address of node B, sharing its database and a fresh channel;
/// `None` when no Redis is configured for the tests.
async fn two_nodes() -> Option<(TestApp, String)> {
    let Ok(redis_url) = std::env::var("HELPLINE_TEST_REDIS_URL") else {
        eprintln!("skipped: set HELPLINE_TEST_REDIS_URL to run the two-node tests");
        return None;
    };
    let channel = format!("helpline:test:{}", uuid::Uuid::new_v4().simple());
    let app = spawn_app_with(|settings| {
        settings.redis_url = Some(redis_url);
        settings.redis_channel = channel;
    })
    .await;
    let (node_b, _stopper) = app.start_node().await;
    Some((app, node_b))
}

async fn post_message(address: &str, token: &str, case_id: i64, body: &str) {
    let response = reqwest::Client::new()
        .post(format!("{address}/api/v1/communications"))
        .bearer_auth(token)
        .json(&json!({"case_id": case_id, "direction": "inbound", "body": body}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 201);
}

async fn socket_on(address: &str, token: &str) -> Socket {
    open_socket(address, Auth::Header(token), None)
        .await
        .expect("socket")
}

#[actix_web::test]
async fn a_socket_on_one_node_receives_events_written_on_the_other_live_and_in_order() {
    let Some((app, node_b)) = two_nodes().await else {
        return;
    };
    let agent = app.create_user("agent").await;
    let case_id = app
        .create_case(&agent.token, json!({"channel": "chat"}))
        .await
        .id();
    let topic = format!("case:{case_id}");
    let mut on_b = socket_on(&node_b, &agent.token).await;
    assert_eq!(on_b.subscribe(&topic, None).await["seq"], 1);

    for i in 0..20 {
        post_message(&app.address, &agent.token, case_id, &format!("from A {i}")).await;
    }
    let events = on_b.events(&topic, 20).await;
    assert_eq!(seqs(&events), (2..=21).collect::<Vec<i64>>());
    assert_eq!(events[19]["data"]["body"], "from A 19");

    let health: Value = reqwest::get(format!("{node_b}/health"))
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health["data"]["bus"], "ok");
}

#[actix_web::test]
async fn writes_on_both_nodes_at_once_reach_sockets_on_both_exactly_once_in_order() {
    let Some((app, node_b)) = two_nodes().await else {
        return;
    };
    let app = Arc::new(app);
    let agent = app.create_user("agent").await;
    let case_id = app
        .create_case(&agent.token, json!({"channel": "chat"}))
        .await
        .id();
    let topic = format!("case:{case_id}");
    let mut on_a = socket_on(&app.address, &agent.token).await;
    let mut on_b = socket_on(&node_b, &agent.token).await;
    on_a.subscribe(&topic, None).await;
    on_b.subscribe(&topic, None).await;

    let writers: Vec<_> = [app.address.clone(), node_b.clone()]
        .into_iter()
        .map(|address| {
            let token = agent.token.clone();
            actix_web::rt::spawn(async move {
                for i in 0..25 {
                    post_message(&address, &token, case_id, &format!("{address} {i}")).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    for socket in [&mut on_a, &mut on_b] {
        let events = socket.events(&topic, 50).await;
        assert_eq!(seqs(&events), (2..=51).collect::<Vec<i64>>());
    }
}

#[actix_web::test]
async fn presence_on_one_node_is_seen_on_the_other() {
    let Some((app, node_b)) = two_nodes().await else {
        return;
    };
    let supervisor = app.create_user("supervisor").await;
    let agent = app.create_user("agent").await;
    let mut watcher = socket_on(&app.address, &supervisor.token).await;
    watcher.subscribe("presence", None).await;
    let mut agent_socket = socket_on(&node_b, &agent.token).await;
    loop {
        let frame = watcher.next_of("presence").await;
        if frame["user_id"] == agent.id {
            assert_eq!(frame["status"], "online");
            break;
        }
    }
    agent_socket
        .send(json!({"type": "presence", "status": "busy"}))
        .await;
    loop {
        let frame = watcher.next_of("presence").await;
        if frame["user_id"] == agent.id && frame["status"] == "busy" {
            break;
        }
    }
}
