//! The WebSocket API: frames, topics and their permissions, replay, presence, slow readers.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::socket::{Auth, WAIT, seqs};

#[actix_web::test]
async fn a_new_message_reaches_an_agent_and_a_supervisor_on_the_case_topic() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let case_id = app
        .create_case(&agent.token, json!({"channel": "chat"}))
        .await
        .id();
    let topic = format!("case:{case_id}");

    let mut agent_socket = app.socket(&agent.token).await;
    let mut supervisor_socket = app.socket(&supervisor.token).await;
    let subscribed = agent_socket.subscribe(&topic, None).await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    assert_eq!(subscribed["seq"], 1, "the case.created event is seq 1");
    assert_eq!(subscribed["recovered"], true);
    supervisor_socket.subscribe(&topic, None).await;

    let posted = app
        .post(
            "/api/v1/communications",
            &agent.token,
            json!({"case_id": case_id, "direction": "inbound", "body": "I need help"}),
        )
        .await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    for socket in [&mut agent_socket, &mut supervisor_socket] {
        let event = socket
            .next_within(Duration::from_secs(1))
            .await
            .expect("the event within a second");
        assert_eq!(event["event"], "message.received");
        assert_eq!(event["seq"], 2);
        assert_eq!(event["data"]["body"], "I need help");
        assert_eq!(event["data"]["id"], posted.id());
        assert_eq!(event["actor"], agent.id);
    }
}

#[actix_web::test]
async fn subscribe_with_since_replays_the_log_then_goes_live() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let case_id = app
        .create_case(&agent.token, json!({"channel": "sms"}))
        .await
        .id();
    for i in 0..5 {
        let resp = app
            .put(
                &format!("/api/v1/cases/{case_id}"),
                &agent.token,
                json!({"title": format!("t{i}")}),
            )
            .await;
        assert_eq!(resp.status, 200);
    }
    let topic = format!("case:{case_id}");
    let mut socket = app.socket(&agent.token).await;
    let subscribed = socket.subscribe(&topic, Some(2)).await;
    assert_eq!(subscribed["seq"], 6);
    let replayed = socket.events(&topic, 4).await;
    assert_eq!(seqs(&replayed), vec![3, 4, 5, 6]);
    app.put(
        &format!("/api/v1/cases/{case_id}"),
        &agent.token,
        json!({"title": "live"}),
    )
    .await;
    let live = socket.events(&topic, 1).await;
    assert_eq!(seqs(&live), vec![7]);
    assert_eq!(live[0]["data"]["title"], "live");
    assert_eq!(live[0]["changes"]["title"]["to"], "live");
    socket.expect_no_event(Duration::from_millis(300)).await;
}

/// Posts `n` inbound messages on `case_id`, one after another.
async fn post_messages(app: &TestApp, token: &str, case_id: i64, n: usize, body: &str) {
    for i in 0..n {
        let posted = app
            .post(
                "/api/v1/communications",
                token,
                json!({"case_id": case_id, "direction": "inbound", "body": format!("{body} {i}")}),
            )
            .await;
        assert_eq!(posted.status, 201, "{}", posted.body);
    }
}

#[actix_web::test]
async fn a_replay_from_zero_while_200_messages_are_posted_ends_with_every_seq_once_in_order() {
    let app = Arc::new(spawn_app().await);
    let agent = app.create_user("agent").await;
    let case_id = app
        .create_case(&agent.token, json!({"channel": "chat"}))
        .await
        .id();
    let topic = format!("case:{case_id}");
    // A backlog, so the replay takes several pages of the log.
    post_messages(&app, &agent.token, case_id, 300, "before").await;

    let writer = {
        let (app, token) = (app.clone(), agent.token.clone());
        actix_web::rt::spawn(
            async move { post_messages(&app, &token, case_id, 200, "during").await },
        )
    };
    let mut socket = app.socket(&agent.token).await;
    let subscribed = socket.subscribe(&topic, Some(0)).await;
    assert_eq!(subscribed["recovered"], true, "{subscribed}");
    let head_at_subscribe = subscribed["seq"].as_i64().expect("seq");
    assert!(head_at_subscribe >= 301, "the backlog is in the log");
    writer.await.expect("writer finished");

    let total = 1 + 300 + 200;
    let events = socket.events(&topic, total).await;
    let expected: Vec<i64> = (1..=total as i64).collect();
    assert_eq!(seqs(&events), expected, "every seq exactly once, in order");
    assert_eq!(events[0]["event"], "case.created");
    assert_eq!(events[total - 1]["data"]["body"], "during 199");
    socket.expect_no_event(Duration::from_millis(300)).await;
}

#[actix_web::test]
async fn two_clients_sending_50_updates_each_at_once_lose_none() {
    let app = Arc::new(spawn_app().await);
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let case_id = app.create_case(&agent.token, json!({})).await.id();
    let topic = format!("case:{case_id}");
    let mut watchers = Vec::new();
    for token in [&agent.token, &supervisor.token] {
        let mut socket = app.socket(token).await;
        socket.subscribe(&topic, None).await;
        watchers.push(socket);
    }

    let writers: Vec<_> = [("a", agent.token.clone()), ("b", supervisor.token.clone())]
        .into_iter()
        .map(|(name, token)| {
            let app = app.clone();
            actix_web::rt::spawn(async move {
                for i in 0..50 {
                    let resp = app
                        .put(
                            &format!("/api/v1/cases/{case_id}"),
                            &token,
                            json!({"title": format!("{name}-{i}")}),
                        )
                        .await;
                    assert_eq!(resp.status, 200, "{}", resp.body);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer finished");
    }

    let case = app
        .get(&format!("/api/v1/cases/{case_id}"), &agent.token)
        .await;
    assert_eq!(case.data()["version"], 101);
    let log = app.topic_events(&topic).await;
    let updates: Vec<i64> = log
        .iter()
        .filter(|(_, kind)| kind == "case.updated")
        .map(|(seq, _)| *seq)
        .collect();
    assert_eq!(
        updates,
        (2..=101).collect::<Vec<i64>>(),
        "100 contiguous updates"
    );
    for socket in &mut watchers {
        let events = socket.events(&topic, 100).await;
        assert_eq!(seqs(&events), (2..=101).collect::<Vec<i64>>());
        let versions: Vec<i64> = events
            .iter()
            .map(|e| e["data"]["version"].as_i64().expect("version"))
            .collect();
        assert_eq!(versions, (2..=101).collect::<Vec<i64>>());
    }
}

#[actix_web::test]
async fn a_reader_that_never_reads_is_closed_with_1008_and_recovers_with_since() {
    let app = spawn_app_with(|settings| {
        settings.ws_queue = 16;
        settings.send_buffer_bytes = Some(16 * 1024);
    })
    .await;
    let agent = app.create_user("agent").await;
    let case_id = app
        .create_case(&agent.token, json!({"channel": "chat"}))
        .await
        .id();
    let topic = format!("case:{case_id}");
    let mut slow = app
        .try_socket_with(Auth::Header(&agent.token), Some(4096))
        .await
        .expect("slow socket");
    assert_eq!(slow.subscribe(&topic, None).await["seq"], 1);
    let mut normal = app.socket(&agent.token).await;
    normal.subscribe(&topic, None).await;

    // About 2.4 MB of events: far more than the slow socket's queue and TCP buffers hold.
    let messages = 300;
    let body = "x".repeat(8000);
    for i in 0..messages {
        post_messages(&app, &agent.token, case_id, 1, &format!("{i} {body}")).await;
        // The normal reader keeps up, message by message.
        let event = normal.events(&topic, 1).await.remove(0);
        assert_eq!(event["seq"], i + 2);
    }

    // The slow reader now reads: a contiguous prefix of the events, then close 1008.
    let mut seen = Vec::new();
    let code = loop {
        match slow.next_within(WAIT).await {
            Some(frame) if frame["type"] == "event" => {
                seen.push(frame["seq"].as_i64().expect("seq"))
            }
            Some(_) => continue,
            None => break slow.close_code().await,
        }
    };
    let last_seen = seen.last().copied().unwrap_or(1);
    assert!(
        last_seen < messages + 1,
        "the slow reader was cut off early"
    );
    assert_eq!(seen, (2..=last_seen).collect::<Vec<i64>>());
    assert_eq!(code, Some(CloseCode::Policy), "closed with 1008");

    let mut again = app.socket(&agent.token).await;
    let subscribed = again.subscribe(&topic, Some(last_seen)).await;
    assert_eq!(subscribed["recovered"], true);
    let rest = again
        .events(&topic, (messages + 1 - last_seen) as usize)
        .await;
    assert_eq!(
        seqs(&rest),
        (last_seen + 1..=messages + 1).collect::<Vec<i64>>()
    );
}

#[actix_web::test]
async fn seqs_continue_across_a_restart_and_replay_spans_it() {
    let mut app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let case_id = app
        .create_case(&agent.token, json!({"channel": "call"}))
        .await
        .id();
    post_messages(&app, &agent.token, case_id, 3, "before").await;
    app.restart().await;
    post_messages(&app, &agent.token, case_id, 3, "after").await;

    let topic = format!("case:{case_id}");
    let mut socket = app.socket(&agent.token).await;
    assert_eq!(socket.subscribe(&topic, Some(0)).await["seq"], 7);
    let events = socket.events(&topic, 7).await;
    assert_eq!(seqs(&events), (1..=7).collect::<Vec<i64>>());
    assert_eq!(events[4]["data"]["body"], "after 0");
}

#[actix_web::test]
async fn stopping_the_server_closes_sockets_with_1001_after_delivering_published_events() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let case_id = app
        .create_case(&agent.token, json!({"channel": "chat"}))
        .await
        .id();
    let mut socket = app.socket(&agent.token).await;
    socket.subscribe(&format!("case:{case_id}"), None).await;
    post_messages(&app, &agent.token, case_id, 1, "last words").await;
    app.stop().await;
    let event = socket.next_of("event").await;
    assert_eq!(event["data"]["body"], "last words 0");
    assert_eq!(socket.close_code().await, Some(CloseCode::Away));
}

#[actix_web::test]
async fn a_supervisor_demoted_to_agent_loses_the_feeds_the_role_no_longer_allows() {
    let app = spawn_app_with(|settings| {
        settings.ws_ping_interval = Duration::from_millis(200);
    })
    .await;
    let supervisor = app.create_user("supervisor").await;
    let agent = app.create_user("agent").await;
    let mut socket = app.socket(&supervisor.token).await;
    let feed = format!("agent:{}", agent.id);
    assert_eq!(socket.subscribe(&feed, None).await["type"], "subscribed");
    assert_eq!(socket.subscribe("cases", None).await["type"], "subscribed");

    let demoted = app
        .put(
            &format!("/api/v1/users/{}", supervisor.id),
            &app.admin.token,
            json!({"role": "agent"}),
        )
        .await;
    assert_eq!(demoted.status, 200, "{}", demoted.body);
    let error = socket.next_of("error").await;
    assert_eq!(error["code"], 403, "{error}");

    // The other agent's assignments no longer reach the socket; `cases` still does.
    app.create_case(&app.admin.token, json!({"assigned_to": agent.id}))
        .await;
    let event = socket.next_of("event").await;
    assert_eq!(event["topic"], "cases");
    socket.expect_no_event(Duration::from_millis(300)).await;
}
