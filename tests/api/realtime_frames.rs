//! The WebSocket frames one by one: errors, topic permissions, presence, typing, caps.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::socket::{Auth, Socket, WAIT, seqs};

/// How long a negative check waits for a frame that must not come.
const QUIET: Duration = Duration::from_millis(300);

/// The next frame, which must be an error with `code`.
async fn expect_error(socket: &mut Socket, code: u16, what: &str) {
    let frame = socket.next().await;
    assert_eq!(frame["type"], "error", "{what}: {frame}");
    assert_eq!(frame["code"], code, "{what}: {frame}");
    assert!(
        frame["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: an error frame explains itself: {frame}"
    );
}

/// The socket is still open and answering: ping → pong.
async fn expect_alive(socket: &mut Socket) {
    socket.send(json!({"type": "ping"})).await;
    let frame = socket.next().await;
    assert_eq!(frame, json!({"type": "pong"}));
}

/// Reads for `wait` and asserts that no frame of `kind` arrives.
async fn expect_no_frame_of(socket: &mut Socket, kind: &str, wait: Duration) {
    while let Some(frame) = socket.next_within(wait).await {
        assert_ne!(frame["type"], kind, "unexpected {frame}");
    }
}

/// Keeps reading for `wait` (so the client answers the server's pings) and asserts that the
/// socket neither sends a frame nor closes meanwhile.
async fn read_idle(socket: &mut Socket, wait: Duration) {
    if let Ok(frame) = tokio::time::timeout(wait, socket.next_within(WAIT)).await {
        panic!("expected silence on an open socket, got {frame:?} (None: closed)");
    }
}

/// The next presence frame about `user_id`, skipping others.
async fn next_presence_of(socket: &mut Socket, user_id: i64) -> Value {
    loop {
        let frame = socket.next_of("presence").await;
        if frame["user_id"] == user_id {
            return frame;
        }
    }
}

/// Asserts that no presence frame about `user_id` arrives within `wait`.
async fn expect_no_presence_of(socket: &mut Socket, user_id: i64, wait: Duration) {
    while let Some(frame) = socket.next_within(wait).await {
        assert!(
            !(frame["type"] == "presence" && frame["user_id"] == user_id),
            "unexpected {frame}"
        );
    }
}

/// A socket of `token` that the server has started (it answered a ping).
async fn ready_socket(app: &TestApp, token: &str) -> Socket {
    let mut socket = app.socket(token).await;
    expect_alive(&mut socket).await;
    socket
}

async fn subscribed(socket: &mut Socket, topic: &str) -> Value {
    let answer = socket.subscribe(topic, None).await;
    assert_eq!(answer["type"], "subscribed", "subscribe {topic}: {answer}");
    assert_eq!(answer["topic"], topic, "{answer}");
    answer
}

async fn update_case(app: &TestApp, token: &str, case_id: i64, body: Value) {
    let resp = app
        .put(&format!("/api/v1/cases/{case_id}"), token, body)
        .await;
    assert_eq!(resp.status, 200, "update case: {}", resp.body);
}

async fn logout(app: &TestApp, token: &str) {
    let resp = app
        .request(Method::POST, "/api/v1/auth/logout", Some(token), None)
        .await;
    assert_eq!(resp.status, 200, "logout: {}", resp.body);
}

// Client frames and error frames

#[actix_web::test]
async fn ping_gets_pong_and_malformed_frames_get_400_on_a_socket_that_stays_open() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let mut socket = app.socket(&agent.token).await;
    expect_alive(&mut socket).await;

    let bad_frames = [
        ("invalid JSON", "{\"type\": \"ping\""),
        ("not an object", "[1, 2]"),
        ("no type", r#"{"topic": "cases"}"#),
        ("unknown type", r#"{"type": "shout"}"#),
        (
            "unknown field",
            r#"{"type": "subscribe", "topic": "cases", "from": 1}"#,
        ),
        (
            "unknown field on unsubscribe",
            r#"{"type": "unsubscribe", "topic": "cases", "x": 1}"#,
        ),
        (
            "unknown field on presence",
            r#"{"type": "presence", "status": "away", "x": 1}"#,
        ),
        ("unknown field on ping", r#"{"type": "ping", "x": 1}"#),
        (
            "unknown field on typing",
            r#"{"type": "typing", "case_id": 1, "x": 1}"#,
        ),
        ("missing topic", r#"{"type": "subscribe"}"#),
        (
            "case_id not an integer",
            r#"{"type": "typing", "case_id": 1.5}"#,
        ),
        (
            "case_id not a number",
            r#"{"type": "typing", "case_id": "x"}"#,
        ),
        (
            "since not a number",
            r#"{"type": "subscribe", "topic": "cases", "since": "1"}"#,
        ),
    ];
    for (what, text) in bad_frames {
        socket.send_raw(Message::text(text)).await;
        expect_error(&mut socket, 400, what).await;
    }
    socket
        .send_raw(Message::binary(br#"{"type":"ping"}"#.to_vec()))
        .await;
    expect_error(&mut socket, 400, "binary frame").await;

    // Still open, and still working after all of that.
    expect_alive(&mut socket).await;
    subscribed(&mut socket, "cases").await;
}

#[actix_web::test]
async fn unknown_topic_names_and_a_negative_since_are_refused_with_400() {
    let app = spawn_app().await;
    let supervisor = app.create_user("supervisor").await;
    let mut socket = app.socket(&supervisor.token).await;

    for topic in [
        "users", "case:abc", "case:0", "case:-3", "case:", "agent:", "agent:x", "cases:1", "",
        "Cases",
    ] {
        let answer = socket.subscribe(topic, None).await;
        assert_eq!(answer["type"], "error", "subscribe {topic:?}: {answer}");
        assert_eq!(answer["code"], 400, "subscribe {topic:?}: {answer}");
    }
    socket
        .send(json!({"type": "unsubscribe", "topic": "users"}))
        .await;
    expect_error(&mut socket, 400, "unsubscribe from an unknown topic").await;

    let answer = socket.subscribe("cases", Some(-1)).await;
    assert_eq!(answer["type"], "error", "{answer}");
    assert_eq!(answer["code"], 400, "{answer}");

    expect_alive(&mut socket).await;
}

#[actix_web::test]
async fn missing_or_deleted_cases_and_missing_users_are_404() {
    let app = spawn_app().await;
    let supervisor = app.create_user("supervisor").await;
    let case_id = app.create_case(&supervisor.token, json!({})).await.id();
    let deleted = app.create_case(&supervisor.token, json!({})).await.id();
    let resp = app
        .delete(&format!("/api/v1/cases/{deleted}"), &supervisor.token)
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let mut socket = app.socket(&supervisor.token).await;

    for topic in [
        "case:999999".to_string(),
        format!("case:{deleted}"),
        "agent:999999".to_string(),
    ] {
        let answer = socket.subscribe(&topic, None).await;
        assert_eq!(answer["type"], "error", "subscribe {topic}: {answer}");
        assert_eq!(answer["code"], 404, "subscribe {topic}: {answer}");
    }
    // Typing needs a subscription to the case, which needs the case to exist.
    socket
        .send(json!({"type": "typing", "case_id": 999999}))
        .await;
    expect_error(&mut socket, 400, "typing on a missing case").await;
    socket
        .send(json!({"type": "typing", "case_id": deleted}))
        .await;
    expect_error(&mut socket, 400, "typing on a deleted case").await;

    // Typing on a case that is deleted after someone typed on it is refused.
    subscribed(&mut socket, &format!("case:{case_id}")).await;
    socket
        .send(json!({"type": "typing", "case_id": case_id}))
        .await;
    expect_no_frame_of(&mut socket, "error", QUIET).await;
    let resp = app
        .delete(&format!("/api/v1/cases/{case_id}"), &supervisor.token)
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(socket.next_of("event").await["event"], "case.deleted");
    socket
        .send(json!({"type": "typing", "case_id": case_id}))
        .await;
    expect_error(&mut socket, 404, "typing on a case deleted meanwhile").await;

    // A refused subscription leaves the socket working.
    expect_alive(&mut socket).await;
    let answer = socket.subscribe("cases", None).await;
    assert_eq!(answer["type"], "subscribed", "{answer}");
}

// Topic permissions

#[actix_web::test]
async fn case_cases_and_presence_are_open_to_every_role_and_dashboard_is_not() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let case_id = app.create_case(&agent.token, json!({})).await.id();
    let case_topic = format!("case:{case_id}");

    for user in [&agent, &supervisor, &app.admin] {
        let mut socket = app.socket(&user.token).await;
        let answer = subscribed(&mut socket, &case_topic).await;
        assert_eq!(answer["seq"], 1, "{answer}");
        assert_eq!(answer["recovered"], true, "{answer}");
        subscribed(&mut socket, "cases").await;
        subscribed(&mut socket, "presence").await;
        let answer = socket.subscribe("dashboard", None).await;
        if user.id == agent.id {
            assert_eq!(answer["type"], "error", "agent on dashboard: {answer}");
            assert_eq!(answer["code"], 403, "{answer}");
        } else {
            assert_eq!(answer["type"], "subscribed", "{answer}");
            assert_eq!(answer["topic"], "dashboard", "{answer}");
        }
    }
}

#[actix_web::test]
async fn an_agent_feed_is_for_that_agent_supervisors_and_admins_only() {
    let app = spawn_app().await;
    let owner = app.create_user("agent").await;
    let other = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let topic = format!("agent:{}", owner.id);

    let mut intruder = app.socket(&other.token).await;
    let answer = intruder.subscribe(&topic, None).await;
    assert_eq!(answer["type"], "error", "{answer}");
    assert_eq!(answer["code"], 403, "{answer}");

    let mut readers = Vec::new();
    for user in [&owner, &supervisor, &app.admin] {
        let mut socket = app.socket(&user.token).await;
        let answer = subscribed(&mut socket, &topic).await;
        assert_eq!(answer["seq"], 0, "an empty feed: {answer}");
        readers.push(socket);
    }

    // The readers get the feed; the refused agent does not.
    let case_id = app
        .create_case(&supervisor.token, json!({"assigned_to": owner.id}))
        .await
        .id();
    for socket in &mut readers {
        let event = socket.events(&topic, 1).await.remove(0);
        assert_eq!(event["event"], "case.created", "{event}");
        assert_eq!(event["seq"], 1, "{event}");
        assert_eq!(event["data"]["id"], case_id, "{event}");
    }
    intruder.expect_no_event(QUIET).await;
}

// Topics and their events

#[actix_web::test]
async fn the_cases_topic_carries_every_case_event_in_order() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let mut socket = app.socket(&agent.token).await;
    let answer = subscribed(&mut socket, "cases").await;
    assert_eq!(answer["seq"], 0, "{answer}");

    let case_id = app.create_case(&agent.token, json!({})).await.id();
    update_case(
        &app,
        &supervisor.token,
        case_id,
        json!({"priority": "high"}),
    )
    .await;
    update_case(
        &app,
        &supervisor.token,
        case_id,
        json!({"status": "closed"}),
    )
    .await;
    let resp = app
        .delete(&format!("/api/v1/cases/{case_id}"), &supervisor.token)
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);

    let events = socket.events("cases", 4).await;
    assert_eq!(seqs(&events), vec![1, 2, 3, 4]);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().expect("event"))
        .collect();
    assert_eq!(
        kinds,
        [
            "case.created",
            "case.updated",
            "case.closed",
            "case.deleted"
        ]
    );
    for event in &events {
        assert_eq!(event["topic"], "cases", "{event}");
        assert_eq!(event["data"]["id"], case_id, "{event}");
        assert!(event["timestamp"].is_string(), "{event}");
    }
    assert_eq!(events[0]["actor"], agent.id);
    assert_eq!(events[1]["actor"], supervisor.id);
    assert_eq!(events[1]["changes"]["priority"]["to"], "high");
    socket.expect_no_event(QUIET).await;
}

#[actix_web::test]
async fn an_agent_feed_gets_assignment_changes_and_no_other_updates() {
    let app = spawn_app().await;
    let first = app.create_user("agent").await;
    let second = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let (first_topic, second_topic) = (
        format!("agent:{}", first.id),
        format!("agent:{}", second.id),
    );
    let mut first_socket = app.socket(&first.token).await;
    let mut second_socket = app.socket(&second.token).await;
    subscribed(&mut first_socket, &first_topic).await;
    subscribed(&mut second_socket, &second_topic).await;

    // A case created unassigned is on nobody's feed; one created assigned is on the assignee's.
    app.create_case(&supervisor.token, json!({})).await;
    let case_id = app
        .create_case(&supervisor.token, json!({"assigned_to": first.id}))
        .await
        .id();
    let created = first_socket.events(&first_topic, 1).await.remove(0);
    assert_eq!(created["event"], "case.created", "{created}");
    assert_eq!(created["seq"], 1, "{created}");
    assert_eq!(created["data"]["id"], case_id, "{created}");
    assert_eq!(created["data"]["assigned_to"], first.id, "{created}");
    second_socket.expect_no_event(QUIET).await;

    // An update that keeps the assignee reaches no feed.
    update_case(
        &app,
        &supervisor.token,
        case_id,
        json!({"title": "Renamed"}),
    )
    .await;
    first_socket.expect_no_event(QUIET).await;

    // A reassignment reaches the old and the new assignee.
    update_case(
        &app,
        &supervisor.token,
        case_id,
        json!({"assigned_to": second.id}),
    )
    .await;
    for (socket, topic, seq) in [
        (&mut first_socket, &first_topic, 2),
        (&mut second_socket, &second_topic, 1),
    ] {
        let event = socket.events(topic, 1).await.remove(0);
        assert_eq!(event["event"], "case.updated", "{event}");
        assert_eq!(event["seq"], seq, "{event}");
        assert_eq!(event["data"]["assigned_to"], second.id, "{event}");
        assert_eq!(event["changes"]["assigned_to"]["from"], first.id, "{event}");
        assert_eq!(event["changes"]["assigned_to"]["to"], second.id, "{event}");
    }

    update_case(
        &app,
        &supervisor.token,
        case_id,
        json!({"priority": "critical"}),
    )
    .await;
    first_socket.expect_no_event(QUIET).await;
    second_socket.expect_no_event(QUIET).await;

    // Unassigning reaches the assignee it leaves.
    update_case(
        &app,
        &supervisor.token,
        case_id,
        json!({"assigned_to": null}),
    )
    .await;
    let event = second_socket.events(&second_topic, 1).await.remove(0);
    assert_eq!(event["seq"], 2, "{event}");
    assert!(event["data"]["assigned_to"].is_null(), "{event}");
    first_socket.expect_no_event(QUIET).await;
}

#[actix_web::test]
async fn subscribe_without_since_or_ahead_of_the_head_replays_nothing() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let case_id = app.create_case(&agent.token, json!({})).await.id();
    update_case(&app, &agent.token, case_id, json!({"title": "Second"})).await;
    let topic = format!("case:{case_id}");

    let mut ahead = app.socket(&agent.token).await;
    let answer = ahead.subscribe(&topic, Some(10)).await;
    assert_eq!(answer["type"], "subscribed", "{answer}");
    assert_eq!(answer["seq"], 2, "the head: {answer}");
    assert_eq!(answer["recovered"], false, "{answer}");
    ahead.expect_no_event(QUIET).await;

    let mut fresh = app.socket(&agent.token).await;
    let answer = fresh.subscribe(&topic, None).await;
    assert_eq!(answer["seq"], 2, "{answer}");
    assert_eq!(answer["recovered"], true, "{answer}");
    fresh.expect_no_event(QUIET).await;

    let mut from_start = app.socket(&agent.token).await;
    let answer = from_start.subscribe(&topic, Some(0)).await;
    assert_eq!(answer["recovered"], true, "{answer}");
    assert_eq!(seqs(&from_start.events(&topic, 2).await), vec![1, 2]);

    // All three then go live.
    update_case(&app, &agent.token, case_id, json!({"title": "Third"})).await;
    for socket in [&mut ahead, &mut fresh, &mut from_start] {
        assert_eq!(seqs(&socket.events(&topic, 1).await), vec![3]);
    }
}

#[actix_web::test]
async fn unsubscribe_answers_unsubscribed_and_stops_that_topic_only() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let case_id = app.create_case(&agent.token, json!({})).await.id();
    let topic = format!("case:{case_id}");
    let mut socket = app.socket(&agent.token).await;
    subscribed(&mut socket, &topic).await;
    subscribed(&mut socket, "cases").await;

    update_case(&app, &agent.token, case_id, json!({"title": "Before"})).await;
    let mut before = Vec::new();
    while before.len() < 2 {
        let frame = socket.next_of("event").await;
        before.push(frame["topic"].as_str().expect("topic").to_string());
    }
    before.sort();
    assert_eq!(before, [topic.clone(), "cases".to_string()]);

    socket
        .send(json!({"type": "unsubscribe", "topic": topic}))
        .await;
    let answer = socket.next().await;
    assert_eq!(answer, json!({"type": "unsubscribed", "topic": topic}));

    update_case(&app, &agent.token, case_id, json!({"title": "After"})).await;
    let event = socket.next_of("event").await;
    assert_eq!(event["topic"], "cases", "{event}");
    assert_eq!(event["data"]["title"], "After", "{event}");
    socket.expect_no_event(QUIET).await;

    // Unsubscribing from a topic the socket does not hold is answered the same way.
    socket
        .send(json!({"type": "unsubscribe", "topic": "presence"}))
        .await;
    let answer = socket.next().await;
    assert_eq!(answer, json!({"type": "unsubscribed", "topic": "presence"}));
}

// The upgrade: tokens and the per-user cap

#[actix_web::test]
async fn bad_missing_or_revoked_tokens_are_refused_with_401_at_the_upgrade() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let revoked = app.login(&agent.email, &agent.password).await.data()["token"]
        .as_str()
        .expect("token")
        .to_string();
    logout(&app, &revoked).await;

    for (what, auth) in [
        ("garbage header", Auth::Header("not-a-token")),
        ("garbage query", Auth::Query("not-a-token")),
        ("no token", Auth::None),
        ("revoked header", Auth::Header(&revoked)),
        ("revoked query", Auth::Query(&revoked)),
    ] {
        let refused = app.try_socket(auth).await.err();
        assert_eq!(refused, Some(401), "{what}");
    }
    // The user's other token still works.
    let mut socket = app.socket(&agent.token).await;
    expect_alive(&mut socket).await;
}

#[actix_web::test]
async fn a_plain_get_without_the_upgrade_is_400_with_a_message() {
    let app = spawn_app().await;
    let plain = app.get("/api/v1/ws", &app.admin.token).await;
    crate::helpers::assert_error(&plain, 400, "GET /api/v1/ws without Upgrade");
    assert!(
        plain.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("WebSocket upgrade")),
        "{}",
        plain.body
    );
}

#[actix_web::test]
async fn a_token_in_the_query_string_opens_a_working_socket() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let case_id = app.create_case(&agent.token, json!({})).await.id();
    let topic = format!("case:{case_id}");
    let mut socket = app
        .try_socket(Auth::Query(&agent.token))
        .await
        .unwrap_or_else(|status| panic!("refused with {status}"));
    expect_alive(&mut socket).await;
    subscribed(&mut socket, &topic).await;
    update_case(&app, &agent.token, case_id, json!({"title": "Seen"})).await;
    let event = socket.events(&topic, 1).await.remove(0);
    assert_eq!(event["actor"], agent.id, "{event}");
}

#[actix_web::test]
async fn sockets_beyond_the_per_user_cap_get_429_until_one_closes() {
    let app = spawn_app_with(|settings| settings.ws_max_per_user = 2).await;
    let agent = app.create_user("agent").await;
    let other = app.create_user("agent").await;

    let first = app.socket(&agent.token).await;
    let mut second = app
        .try_socket(Auth::Query(&agent.token))
        .await
        .expect("second socket");
    assert_eq!(
        app.try_socket(Auth::Header(&agent.token)).await.err(),
        Some(429)
    );
    assert_eq!(
        app.try_socket(Auth::Query(&agent.token)).await.err(),
        Some(429)
    );
    // The cap is per user.
    let mut theirs = app.socket(&other.token).await;
    expect_alive(&mut theirs).await;
    expect_alive(&mut second).await;

    // Closing one frees its place (once the server has seen the close).
    first.close().await;
    let deadline = Instant::now() + WAIT;
    let mut third = loop {
        match app.try_socket(Auth::Header(&agent.token)).await {
            Ok(socket) => break socket,
            Err(429) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("a place should have been freed: {status}"),
        }
    };
    expect_alive(&mut third).await;
    assert_eq!(
        app.try_socket(Auth::Header(&agent.token)).await.err(),
        Some(429),
        "the freed place is taken again"
    );
}

// Presence

#[actix_web::test]
async fn presence_snapshot_then_online_status_changes_and_offline_after_the_grace_period() {
    let grace = Duration::from_millis(200);
    let app = spawn_app_with(|settings| settings.presence_grace = grace).await;
    let early = app.create_user("agent").await;
    let late = app.create_user("agent").await;
    let observer = app.create_user("supervisor").await;

    // Subscribing first answers subscribed, then one frame per user who is not offline.
    let _early_socket = ready_socket(&app, &early.token).await;
    let mut watcher = ready_socket(&app, &observer.token).await;
    let answer = watcher.subscribe("presence", None).await;
    assert_eq!(answer["type"], "subscribed", "{answer}");
    let mut snapshot = [watcher.next().await, watcher.next().await];
    snapshot.sort_by_key(|frame| frame["user_id"].as_i64());
    let mut expected = [early.id, observer.id];
    expected.sort();
    for (frame, user_id) in snapshot.iter().zip(expected) {
        assert_eq!(frame["type"], "presence", "{frame}");
        assert_eq!(frame["user_id"], user_id, "{frame}");
        assert_eq!(frame["status"], "online", "{frame}");
        assert!(frame["timestamp"].is_string(), "{frame}");
    }
    expect_no_frame_of(&mut watcher, "presence", QUIET).await;

    // A new user's first socket makes them online, and records last_seen_at.
    let user_path = format!("/api/v1/users/{}", late.id);
    let at_login = app.get(&user_path, &app.admin.token).await.data()["last_seen_at"].clone();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut late_socket = app.socket(&late.token).await;
    let online = next_presence_of(&mut watcher, late.id).await;
    assert_eq!(online["status"], "online", "{online}");
    let deadline = Instant::now() + WAIT;
    loop {
        let seen = app.get(&user_path, &app.admin.token).await.data()["last_seen_at"].clone();
        if seen.is_string() && seen.as_str() > at_login.as_str() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "last_seen_at not updated on connect: {at_login} then {seen}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Status changes are broadcast; offline and unknown statuses are refused.
    for status in ["away", "busy", "online"] {
        late_socket
            .send(json!({"type": "presence", "status": status}))
            .await;
        let frame = next_presence_of(&mut watcher, late.id).await;
        assert_eq!(frame["status"], status, "{frame}");
    }
    for status in ["offline", "sleeping", ""] {
        late_socket
            .send(json!({"type": "presence", "status": status}))
            .await;
        expect_error(&mut late_socket, 400, status).await;
    }
    late_socket.send(json!({"type": "presence"})).await;
    expect_error(&mut late_socket, 400, "no status").await;
    expect_no_presence_of(&mut watcher, late.id, QUIET).await;

    // The last socket gone, offline follows after the grace period.
    let closed = Instant::now();
    late_socket.close().await;
    let offline = next_presence_of(&mut watcher, late.id).await;
    assert_eq!(offline["status"], "offline", "{offline}");
    assert!(
        closed.elapsed() >= grace,
        "offline after {:?}, before the grace period",
        closed.elapsed()
    );
}

#[actix_web::test]
async fn a_reconnect_within_the_grace_period_does_not_flicker_offline() {
    // Long enough for a reconnect on a loaded machine.
    let grace = Duration::from_secs(1);
    let app = spawn_app_with(|settings| settings.presence_grace = grace).await;
    let agent = app.create_user("agent").await;
    let observer = app.create_user("supervisor").await;
    let mut watcher = app.socket(&observer.token).await;
    subscribed(&mut watcher, "presence").await;

    let first = ready_socket(&app, &agent.token).await;
    let online = next_presence_of(&mut watcher, agent.id).await;
    assert_eq!(online["status"], "online", "{online}");

    // A page reload: the socket goes and a new one comes at once.
    first.close().await;
    let second = ready_socket(&app, &agent.token).await;
    expect_no_presence_of(&mut watcher, agent.id, grace + QUIET).await;

    // With two sockets, closing one keeps the user online.
    let third = ready_socket(&app, &agent.token).await;
    second.close().await;
    expect_no_presence_of(&mut watcher, agent.id, grace + QUIET).await;

    third.close().await;
    let offline = next_presence_of(&mut watcher, agent.id).await;
    assert_eq!(offline["status"], "offline", "{offline}");
}

// Typing

#[actix_web::test]
async fn typing_reaches_the_other_subscribers_of_the_case_only() {
    let app = spawn_app().await;
    let typist = app.create_user("agent").await;
    let colleague = app.create_user("supervisor").await;
    let bystander = app.create_user("agent").await;
    let case_id = app.create_case(&typist.token, json!({})).await.id();
    let other_case = app.create_case(&typist.token, json!({})).await.id();
    let topic = format!("case:{case_id}");

    let mut typing_socket = app.socket(&typist.token).await;
    let mut typists_other_tab = app.socket(&typist.token).await;
    let mut colleague_socket = app.socket(&colleague.token).await;
    let mut bystander_socket = app.socket(&bystander.token).await;
    for socket in [
        &mut typing_socket,
        &mut typists_other_tab,
        &mut colleague_socket,
    ] {
        subscribed(socket, &topic).await;
    }
    subscribed(&mut bystander_socket, &format!("case:{other_case}")).await;
    subscribed(&mut bystander_socket, "cases").await;

    typing_socket
        .send(json!({"type": "typing", "case_id": case_id}))
        .await;
    let frame = colleague_socket.next_of("typing").await;
    assert_eq!(
        frame,
        json!({"type": "typing", "case_id": case_id, "user_id": typist.id})
    );
    for socket in [
        &mut typing_socket,
        &mut typists_other_tab,
        &mut bystander_socket,
    ] {
        expect_no_frame_of(socket, "typing", QUIET).await;
    }

    // Typing is ephemeral: nothing is logged on the case's topic.
    assert_eq!(app.topic_events(&topic).await.len(), 1, "only case.created");
}

#[actix_web::test]
async fn typing_is_throttled_to_one_notice_per_user_and_case_every_two_seconds() {
    let app = spawn_app().await;
    let typist = app.create_user("agent").await;
    let colleague = app.create_user("supervisor").await;
    let case_id = app.create_case(&typist.token, json!({})).await.id();
    let second_case = app.create_case(&typist.token, json!({})).await.id();
    let mut typing_socket = app.socket(&typist.token).await;
    let mut colleague_socket = app.socket(&colleague.token).await;
    for id in [case_id, second_case] {
        subscribed(&mut typing_socket, &format!("case:{id}")).await;
        subscribed(&mut colleague_socket, &format!("case:{id}")).await;
    }

    let typing = json!({"type": "typing", "case_id": case_id});
    let first = Instant::now();
    typing_socket.send(typing.clone()).await;
    let frame = colleague_socket.next_of("typing").await;
    assert_eq!(frame["user_id"], typist.id, "{frame}");

    // Again at once: dropped. Another user, or another case, is not throttled by it.
    typing_socket.send(typing.clone()).await;
    expect_no_frame_of(&mut colleague_socket, "typing", QUIET).await;
    colleague_socket.send(typing.clone()).await;
    let frame = typing_socket.next_of("typing").await;
    assert_eq!(frame["user_id"], colleague.id, "{frame}");
    typing_socket
        .send(json!({"type": "typing", "case_id": second_case}))
        .await;
    let frame = colleague_socket.next_of("typing").await;
    assert_eq!(
        frame,
        json!({"type": "typing", "case_id": second_case, "user_id": typist.id})
    );

    // Two seconds after the first notice, the next one goes out again.
    let window = Duration::from_millis(2100);
    if let Some(left) = window.checked_sub(first.elapsed()) {
        tokio::time::sleep(left).await;
    }
    typing_socket.send(typing).await;
    let frame = colleague_socket.next_of("typing").await;
    assert_eq!(
        frame,
        json!({"type": "typing", "case_id": case_id, "user_id": typist.id})
    );
}

// Frame size, heartbeat, revoked tokens

/// A text frame of exactly `size` bytes: a subscribe frame with an unknown padding field.
fn padded_frame(size: usize) -> String {
    let head = r#"{"type":"subscribe","topic":"cases","pad":""#;
    let tail = r#""}"#;
    let frame = format!("{head}{}{tail}", "x".repeat(size - head.len() - tail.len()));
    assert_eq!(frame.len(), size);
    frame
}

#[actix_web::test]
async fn a_frame_over_64_kib_closes_the_socket_with_1009() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let mut socket = app.socket(&agent.token).await;

    // Exactly 64 KiB is read (and refused for its unknown field only).
    socket
        .send_raw(Message::text(padded_frame(64 * 1024)))
        .await;
    expect_error(&mut socket, 400, "a 64 KiB frame").await;
    expect_alive(&mut socket).await;

    socket
        .send_raw(Message::text(padded_frame(64 * 1024 + 1)))
        .await;
    assert_eq!(socket.close_code().await, Some(CloseCode::Size));
}

#[actix_web::test]
async fn a_silent_socket_is_closed_and_one_that_answers_pings_stays_open() {
    let app = spawn_app_with(|settings| {
        settings.ws_ping_interval = Duration::from_millis(100);
        settings.ws_timeout = Duration::from_millis(600);
    })
    .await;
    let agent = app.create_user("agent").await;

    let mut silent = app.socket(&agent.token).await;
    let mut reading = app.socket(&agent.token).await;

    // The reading client answers the server's pings and outlives the timeout; meanwhile the
    // silent one neither reads nor writes.
    read_idle(&mut reading, Duration::from_millis(1500)).await;
    expect_alive(&mut reading).await;

    let code = silent.close_code().await;
    assert!(
        code.is_none_or(|code| code == CloseCode::Normal),
        "closed with {code:?}"
    );
}

#[actix_web::test]
async fn a_socket_is_closed_with_1008_once_its_token_is_logged_out() {
    let app =
        spawn_app_with(|settings| settings.ws_ping_interval = Duration::from_millis(200)).await;
    let agent = app.create_user("agent").await;
    let other_token = app.login(&agent.email, &agent.password).await.data()["token"]
        .as_str()
        .expect("token")
        .to_string();
    let mut doomed = app.socket(&agent.token).await;
    subscribed(&mut doomed, "cases").await;
    let mut survivor = app.socket(&other_token).await;
    subscribed(&mut survivor, "cases").await;

    logout(&app, &agent.token).await;
    assert_eq!(doomed.close_code().await, Some(CloseCode::Policy));

    // The user's other token, and its socket, live on.
    read_idle(&mut survivor, Duration::from_millis(600)).await;
    expect_alive(&mut survivor).await;
}

#[actix_web::test]
async fn a_socket_is_closed_with_1008_once_its_user_is_deactivated() {
    let app =
        spawn_app_with(|settings| settings.ws_ping_interval = Duration::from_millis(200)).await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let mut doomed = app.socket(&agent.token).await;
    subscribed(&mut doomed, "cases").await;
    let mut bystander = app.socket(&supervisor.token).await;

    let resp = app
        .delete(&format!("/api/v1/users/{}", agent.id), &app.admin.token)
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(doomed.close_code().await, Some(CloseCode::Policy));
    assert_eq!(
        app.try_socket(Auth::Header(&agent.token)).await.err(),
        Some(401)
    );
    read_idle(&mut bystander, Duration::from_millis(600)).await;
    expect_alive(&mut bystander).await;
}
