//! Webhooks: subscriptions, signed deliveries to a real HTTP receiver, retries, durability.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use helpline::config::RetrySchedule;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{ReservedPort, TestApp, spawn_app, spawn_app_with};
use crate::receivers::{Answer, Received, WebhookReceiver};

const SUBSCRIBE: &str = "/api/v1/webhooks/subscribe";
const WEBHOOKS: &str = "/api/v1/webhooks";
const EVENTS: [&str; 6] = [
    "user.created",
    "case.created",
    "case.updated",
    "message.received",
    "case.closed",
    "case.deleted",
];
/// Long enough for anything the server should do at once.
const WAIT: Duration = Duration::from_secs(10);
/// How long a negative check waits for something that must not arrive.
const SETTLE: Duration = Duration::from_millis(1000);

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

fn webhook_path(id: i64) -> String {
    format!("{WEBHOOKS}/{id}")
}

fn deliveries_path(id: i64) -> String {
    format!("{WEBHOOKS}/{id}/deliveries")
}

/// A secret in the Standard Webhooks form holding `bytes` key bytes.
fn secret_of(bytes: usize) -> String {
    let key: Vec<u8> = (0..bytes).map(|i| (i * 7 + 3) as u8).collect();
    format!("whsec_{}", STANDARD.encode(key))
}

/// A server that may reach receivers on 127.0.0.1, retrying after `delays`.
async fn app_with_retries(delays: Vec<Duration>) -> TestApp {
    spawn_app_with(|settings| {
        settings.webhook_allow_private = true;
        settings.webhook_retry_schedule = RetrySchedule(delays);
    })
    .await
}

/// Subscribes `url` to `event` as the admin: the subscription's id and secret.
async fn subscribe(app: &TestApp, event: &str, url: &str) -> (i64, String) {
    let resp = app
        .post(
            SUBSCRIBE,
            &app.admin.token,
            json!({"event": event, "url": url}),
        )
        .await;
    assert_eq!(resp.status, 201, "subscribe {event}: {}", resp.body);
    let secret = resp.data()["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("no secret in {}", resp.body))
        .to_string();
    (resp.id(), secret)
}

/// The attempts listed for a subscription (newest first).
async fn attempts(app: &TestApp, id: i64) -> Vec<Value> {
    let path = format!("{}?limit=100", deliveries_path(id));
    let resp = app.get(&path, &app.admin.token).await;
    assert_eq!(resp.status, 200, "deliveries: {}", resp.body);
    resp.data()
        .as_array()
        .unwrap_or_else(|| panic!("deliveries are not a list: {}", resp.body))
        .clone()
}

/// Polls the attempts of a subscription until `done` holds (fails the test after `WAIT`).
async fn attempts_until(app: &TestApp, id: i64, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let listed = attempts(app, id).await;
        if done(&listed) {
            return listed;
        }
        assert!(
            Instant::now() < deadline,
            "attempts of webhook {id} never got there: {listed:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for exactly `n` requests: `n` arrive within `WAIT`, and no more within `SETTLE`.
async fn exactly(receiver: &WebhookReceiver, n: usize) -> Vec<Received> {
    receiver.wait_for(n, WAIT).await;
    tokio::time::sleep(SETTLE).await;
    let received = receiver.received();
    assert_eq!(
        received.len(),
        n,
        "expected exactly {n} webhook requests: {:?}",
        received.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    received
}

/// Causes one event of every kind, in order (as in `EVENTS`): each type and its `data.id`.
async fn cause_every_event(app: &TestApp) -> Vec<(String, i64)> {
    let token = &app.admin.token;
    let user = app.create_user("agent").await;
    let case = app.create_case(token, json!({})).await.id();
    let path = format!("/api/v1/cases/{case}");
    let updated = app.put(&path, token, json!({"priority": "high"})).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let message = app
        .post(
            "/api/v1/communications",
            token,
            json!({"case_id": case, "channel": "call", "direction": "inbound", "body": "I need help"}),
        )
        .await;
    assert_eq!(message.status, 201, "{}", message.body);
    let closed = app.put(&path, token, json!({"status": "closed"})).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let deleted = app.delete(&path, token).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let ids = [user.id, case, case, message.id(), case, case];
    EVENTS
        .iter()
        .zip(ids)
        .map(|(kind, id)| (kind.to_string(), id))
        .collect()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// The Standard Webhooks headers are well formed: `msg_<n>` and a timestamp close to now.
fn assert_headers(received: &Received) {
    let number = received
        .webhook_id
        .strip_prefix("msg_")
        .unwrap_or_else(|| panic!("webhook-id {:?}", received.webhook_id));
    assert!(
        !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
        "webhook-id {:?}",
        received.webhook_id
    );
    let timestamp: i64 = received
        .timestamp
        .parse()
        .unwrap_or_else(|_| panic!("webhook-timestamp {:?}", received.timestamp));
    assert!(
        (timestamp - unix_now()).abs() <= 60,
        "webhook-timestamp {timestamp} is not close to now ({})",
        unix_now()
    );
    assert!(
        received.signature.starts_with("v1,"),
        "webhook-signature {:?}",
        received.signature
    );
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

#[actix_web::test]
async fn every_event_reaches_a_star_subscription_signed_once() {
    let app = spawn_app_with(|settings| settings.webhook_allow_private = true).await;
    let receiver = WebhookReceiver::start().await;
    let (_, secret) = subscribe(&app, "*", &receiver.url).await;

    let expected = cause_every_event(&app).await;
    let received = exactly(&receiver, expected.len()).await;

    let mut got: Vec<(String, i64)> = Vec::new();
    let mut event_ids = BTreeSet::new();
    let mut webhook_ids = BTreeSet::new();
    for delivery in &received {
        assert_headers(delivery);
        assert!(
            verify_signature(&secret, delivery),
            "signature of {} does not verify",
            delivery.body
        );
        let body = delivery.json();
        let kind = body["type"].as_str().expect("type").to_string();
        let id = body["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("event id is not an integer: {body}"));
        assert!(id > 0, "{body}");
        event_ids.insert(id);
        webhook_ids.insert(delivery.webhook_id.clone());
        assert_eq!(body["actor"], app.admin.id, "{body}");
        assert!(
            body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{body}"
        );
        match kind.as_str() {
            "case.updated" => {
                assert_eq!(body["changes"]["priority"]["from"], "medium", "{body}");
                assert_eq!(body["changes"]["priority"]["to"], "high", "{body}");
                assert_eq!(body["data"]["priority"], "high", "{body}");
            }
            "case.closed" => {
                assert_eq!(body["changes"]["status"]["to"], "closed", "{body}");
                assert_eq!(body["data"]["status"], "closed", "{body}");
            }
            "message.received" => assert_eq!(body["data"]["direction"], "inbound", "{body}"),
            "user.created" => {
                assert_eq!(body["data"]["role"], "agent", "{body}");
                assert!(
                    !delivery.body.contains("password") && !delivery.body.contains("argon2"),
                    "a user.created delivery leaks the password: {body}"
                );
            }
            _ => {}
        }
        got.push((kind, body["data"]["id"].as_i64().expect("data.id")));
    }
    got.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(got, want, "one delivery per event, with the right data");
    assert_eq!(event_ids.len(), expected.len(), "event ids are distinct");
    assert_eq!(
        webhook_ids.len(),
        expected.len(),
        "webhook-ids are distinct"
    );

    // A receiver's check fails for a tampered body or another secret.
    let mut tampered = received[0].clone();
    tampered.body = tampered.body.replacen('{', "{ ", 1);
    assert!(!verify_signature(&secret, &tampered));
    assert!(!verify_signature(&secret_of(32), &received[0]));
}

#[actix_web::test]
async fn a_subscription_to_one_event_gets_only_that_event() {
    let app = spawn_app_with(|settings| settings.webhook_allow_private = true).await;
    let mut receivers = Vec::new();
    for event in EVENTS {
        let receiver = WebhookReceiver::start().await;
        let (_, secret) = subscribe(&app, event, &receiver.url).await;
        receivers.push((event, receiver, secret));
    }

    let expected: BTreeMap<String, i64> = cause_every_event(&app).await.into_iter().collect();
    for (_, receiver, _) in &receivers {
        receiver.wait_for(1, WAIT).await;
    }
    tokio::time::sleep(SETTLE).await;
    for (event, receiver, secret) in &receivers {
        let received = receiver.received();
        let bodies: Vec<Value> = received.iter().map(Received::json).collect();
        assert_eq!(received.len(), 1, "{event} subscriber got {bodies:?}");
        assert_eq!(
            bodies[0]["type"], *event,
            "{event} subscriber got {bodies:?}"
        );
        assert_eq!(bodies[0]["data"]["id"], expected[*event], "{bodies:?}");
        assert!(verify_signature(secret, &received[0]), "{event}");
    }
}

#[actix_web::test]
async fn a_failing_receiver_is_retried_with_one_webhook_id_until_it_answers_2xx() {
    let delay = Duration::from_millis(300);
    let app = app_with_retries(vec![delay; 3]).await;
    let receiver = WebhookReceiver::scripted(vec![Answer::Status(500), Answer::Status(500)]).await;
    let (id, secret) = subscribe(&app, "case.created", &receiver.url).await;
    let case = app.create_case(&app.admin.token, json!({})).await.id();

    let received = exactly(&receiver, 3).await;
    let webhook_id = &received[0].webhook_id;
    for attempt in &received {
        assert_eq!(
            &attempt.webhook_id, webhook_id,
            "same webhook-id on retries"
        );
        assert_eq!(attempt.body, received[0].body, "same body on retries");
        assert_headers(attempt);
        assert!(
            verify_signature(&secret, attempt),
            "every attempt is signed"
        );
    }
    for pair in received.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= delay - Duration::from_millis(50),
            "retried after {gap:?}, before the {delay:?} of the schedule"
        );
    }
    let body = received[0].json();
    assert_eq!(body["data"]["id"], case);

    let listed = attempts_until(&app, id, |a| a.len() >= 3).await;
    assert_eq!(listed.len(), 3, "{listed:#?}");
    let column = |name: &str| listed.iter().map(|a| a[name].clone()).collect::<Vec<_>>();
    assert_eq!(
        column("attempt"),
        [json!(3), json!(2), json!(1)],
        "newest first"
    );
    assert_eq!(column("status_code"), [json!(200), json!(500), json!(500)]);
    assert_eq!(column("success"), [json!(true), json!(false), json!(false)]);
    assert_eq!(
        column("delivery_status"),
        [json!("delivered"), json!("delivered"), json!("delivered")]
    );
    let attempt_ids: Vec<i64> = listed.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert!(
        attempt_ids.windows(2).all(|w| w[0] > w[1]),
        "{attempt_ids:?}"
    );
    let delivery_id = &listed[0]["delivery_id"];
    assert_eq!(
        *webhook_id,
        format!("msg_{delivery_id}"),
        "webhook-id names the delivery"
    );
    for attempt in &listed {
        assert_eq!(&attempt["delivery_id"], delivery_id, "{listed:#?}");
        assert_eq!(attempt["event_id"], body["id"], "{listed:#?}");
        assert_eq!(attempt["event"], "case.created", "{listed:#?}");
        assert!(attempt["started_at"].is_string(), "{attempt}");
        assert!(
            attempt["duration_ms"].as_i64().is_some_and(|d| d >= 0),
            "{attempt}"
        );
    }
    assert!(listed[0]["error"].is_null(), "{listed:#?}");
    assert!(listed[0]["next_retry_at"].is_null(), "{listed:#?}");
    for failed in &listed[1..] {
        assert!(failed["error"].is_string(), "{failed}");
        assert!(failed["next_retry_at"].is_string(), "{failed}");
    }
}

#[actix_web::test]
async fn a_delivery_is_marked_failed_when_the_retries_are_used_up() {
    let app = app_with_retries(vec![Duration::from_millis(300); 3]).await;
    let receiver = WebhookReceiver::scripted(vec![Answer::Status(500); 10]).await;
    let (id, _) = subscribe(&app, "*", &receiver.url).await;
    app.create_case(&app.admin.token, json!({})).await;

    // One try and three retries, then nothing more.
    receiver.wait_for(4, WAIT).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 4, "at most 4 attempts with 3 delays");
    assert!(
        received
            .iter()
            .all(|r| r.webhook_id == received[0].webhook_id)
    );

    let listed = attempts_until(&app, id, |a| {
        a.len() >= 4 && a[0]["delivery_status"] == "failed"
    })
    .await;
    assert_eq!(listed.len(), 4, "{listed:#?}");
    for (attempt, number) in listed.iter().zip([4, 3, 2, 1]) {
        assert_eq!(attempt["attempt"], number, "{listed:#?}");
        assert_eq!(attempt["status_code"], 500, "{attempt}");
        assert_eq!(attempt["success"], false, "{attempt}");
        assert_eq!(attempt["delivery_status"], "failed", "{attempt}");
        assert!(attempt["error"].is_string(), "{attempt}");
    }
    assert!(
        listed[0]["next_retry_at"].is_null(),
        "no retry after the last: {}",
        listed[0]
    );
    assert!(listed[1..].iter().all(|a| a["next_retry_at"].is_string()));
}

#[actix_web::test]
async fn a_receiver_that_does_not_answer_in_time_is_retried() {
    let app = spawn_app_with(|settings| {
        settings.webhook_allow_private = true;
        settings.webhook_timeout = Duration::from_secs(1);
        settings.webhook_retry_schedule = RetrySchedule(vec![Duration::from_millis(300); 3]);
    })
    .await;
    let receiver = WebhookReceiver::scripted(vec![Answer::Hang]).await;
    let (id, secret) = subscribe(&app, "*", &receiver.url).await;
    app.create_case(&app.admin.token, json!({})).await;

    let received = exactly(&receiver, 2).await;
    assert_eq!(received[0].webhook_id, received[1].webhook_id);
    assert!(received.iter().all(|r| verify_signature(&secret, r)));
    assert!(
        received[1].at.duration_since(received[0].at) >= Duration::from_millis(900),
        "the retry came before the timeout"
    );
    let listed = attempts_until(&app, id, |a| a.len() >= 2).await;
    assert_eq!(listed[1]["attempt"], 1, "{listed:#?}");
    assert!(listed[1]["status_code"].is_null(), "{listed:#?}");
    assert!(listed[1]["error"].is_string(), "{listed:#?}");
    assert_eq!(listed[1]["success"], false, "{listed:#?}");
    assert_eq!(listed[0]["attempt"], 2, "{listed:#?}");
    assert_eq!(listed[0]["status_code"], 200, "{listed:#?}");
    assert_eq!(listed[0]["delivery_status"], "delivered", "{listed:#?}");
}

#[actix_web::test]
async fn deliveries_to_a_receiver_that_is_down_survive_a_restart() {
    let port = ReservedPort::new();
    let mut app = app_with_retries(vec![Duration::from_millis(500); 40]).await;
    let url = format!("http://127.0.0.1:{}/hook", port.port);
    let (id, secret) = subscribe(&app, "*", &url).await;

    let token = app.admin.token.clone();
    let first = app.create_case(&token, json!({})).await.id();
    let user = app.create_user("supervisor").await.id;
    let second = app.create_case(&token, json!({})).await.id();
    // The receiver is down: attempts fail and the deliveries stay pending.
    let failed = attempts_until(&app, id, |a| a.len() >= 3).await;
    assert!(
        failed
            .iter()
            .all(|a| a["error"].is_string() && a["delivery_status"] == "pending"),
        "{failed:#?}"
    );

    app.restart().await;
    let receiver = receiver_on(port, vec![]);

    let received = exactly(&receiver, 3).await;
    let mut got: Vec<(String, i64)> = received
        .iter()
        .map(|r| {
            assert!(verify_signature(&secret, r), "{}", r.body);
            let body = r.json();
            (
                body["type"].as_str().expect("type").to_string(),
                body["data"]["id"].as_i64().expect("data.id"),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        ("case.created".to_string(), first),
        ("case.created".to_string(), second),
        ("user.created".to_string(), user),
    ];
    want.sort();
    assert_eq!(got, want);

    let listed = attempts_until(&app, id, |a| {
        a.iter().filter(|a| a["success"] == true).count() == 3
    })
    .await;
    assert!(
        listed.iter().all(|a| a["delivery_status"] == "delivered"),
        "{listed:#?}"
    );
}

#[actix_web::test]
async fn a_hanging_receiver_does_not_delay_other_subscriptions() {
    let app = spawn_app_with(|settings| {
        settings.webhook_allow_private = true;
        settings.webhook_timeout = Duration::from_secs(2);
        settings.webhook_retry_schedule = RetrySchedule(vec![Duration::from_secs(60)]);
    })
    .await;
    // The hanging subscription comes first, so its deliveries are due first.
    let hanging = WebhookReceiver::scripted(vec![Answer::Hang; 50]).await;
    let (stuck, _) = subscribe(&app, "*", &hanging.url).await;
    let healthy = WebhookReceiver::start().await;
    let (_, secret) = subscribe(&app, "*", &healthy.url).await;

    let events = 8;
    for _ in 0..events {
        app.create_case(&app.admin.token, json!({})).await;
    }
    let caused = Instant::now();
    let received = healthy.wait_for(events, WAIT).await;
    let last = received.iter().map(|r| r.at).max().expect("deliveries");
    assert!(
        last <= caused + Duration::from_secs(1),
        "the healthy receiver waited {:?} after the last event",
        last.saturating_duration_since(caused)
    );
    assert!(received.iter().all(|r| verify_signature(&secret, r)));
    // Meanwhile the hanging receiver holds its requests and none of them has ended.
    assert!(
        !hanging.received().is_empty(),
        "the hanging receiver was tried"
    );
    assert!(
        attempts(&app, stuck).await.is_empty(),
        "the hanging receiver's attempts are still in flight"
    );
    hanging.stop().await;
    // They end as timeouts.
    let listed = attempts_until(&app, stuck, |a| !a.is_empty()).await;
    assert!(listed[0]["status_code"].is_null(), "{listed:#?}");
    assert!(listed[0]["error"].is_string(), "{listed:#?}");
    assert_eq!(listed[0]["success"], false, "{listed:#?}");
}

fn receiver_on(port: ReservedPort, script: Vec<Answer>) -> WebhookReceiver {
    WebhookReceiver::on(port.listen(), script)
}

#[actix_web::test]
async fn a_hanging_receiver_with_a_backlog_does_not_delay_other_subscriptions() {
    let retry = Duration::from_secs(4);
    let mut app = spawn_app_with(|settings| {
        settings.webhook_allow_private = true;
        settings.webhook_timeout = Duration::from_secs(2);
        settings.webhook_retry_schedule = RetrySchedule(vec![retry; 5]);
    })
    .await;
    let (backlogged, other) = (ReservedPort::new(), ReservedPort::new());
    let backlogged_url = format!("http://127.0.0.1:{}/hook", backlogged.port);
    let (stuck, _) = subscribe(&app, "*", &backlogged_url).await;
    // While both receivers are down, one subscription piles up a backlog of 20 deliveries,
    // the other has one delivery, due last.
    for _ in 0..20 {
        app.create_case(&app.admin.token, json!({})).await;
    }
    let (healthy_id, secret) = subscribe(
        &app,
        "case.created",
        &format!("http://127.0.0.1:{}/hook", other.port),
    )
    .await;
    let case = app.create_case(&app.admin.token, json!({})).await.id();
    attempts_until(&app, stuck, |a| a.len() >= 21).await;
    attempts_until(&app, healthy_id, |a| !a.is_empty()).await;
    let refused = Instant::now();
    app.stop().await;

    // Both come back, one of them hanging; every retry is due when the server starts again.
    let hanging = receiver_on(backlogged, vec![Answer::Hang; 100]);
    let healthy = receiver_on(other, vec![]);
    tokio::time::sleep(
        (refused + retry + Duration::from_millis(500)).duration_since(Instant::now()),
    )
    .await;
    app.restart().await;
    let restarted = Instant::now();

    let received = healthy.wait_for(1, WAIT).await;
    let delay = received[0].at.saturating_duration_since(restarted);
    assert!(
        delay <= Duration::from_secs(1),
        "the healthy receiver got its delivery {delay:?} after the restart, while the hanging \
         receiver held {} requests at once",
        hanging
            .received()
            .iter()
            .filter(|r| r.at <= received[0].at)
            .count()
    );
    assert_eq!(received[0].json()["data"]["id"], case);
    assert!(verify_signature(&secret, &received[0]));
}

#[actix_web::test]
async fn deleting_a_subscription_stops_its_deliveries() {
    let retry = Duration::from_millis(1500);
    let app = app_with_retries(vec![retry; 3]).await;
    let receiver = WebhookReceiver::scripted(vec![Answer::Status(500)]).await;
    let (id, _) = subscribe(&app, "*", &receiver.url).await;
    let control = WebhookReceiver::start().await;
    subscribe(&app, "*", &control.url).await;
    app.create_case(&app.admin.token, json!({})).await;

    // The first attempt failed; a retry is pending when the subscription goes.
    receiver.wait_for(1, WAIT).await;
    let listed = attempts_until(&app, id, |a| !a.is_empty()).await;
    assert_eq!(listed[0]["delivery_status"], "pending", "{listed:#?}");
    assert!(listed[0]["next_retry_at"].is_string(), "{listed:#?}");
    let deleted = app.delete(&webhook_path(id), &app.admin.token).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.data()["id"], id);

    let gone = app.get(&webhook_path(id), &app.admin.token).await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    let history = app.get(&deliveries_path(id), &app.admin.token).await;
    assert_eq!(history.status, 404, "{}", history.body);
    let again = app.delete(&webhook_path(id), &app.admin.token).await;
    assert_eq!(again.status, 404, "{}", again.body);
    let list = app.get(WEBHOOKS, &app.admin.token).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.data()
            .as_array()
            .expect("list")
            .iter()
            .all(|w| w["id"] != id),
        "{}",
        list.body
    );

    // New events go to the live subscription only; the pending retry is never sent.
    app.create_case(&app.admin.token, json!({})).await;
    control.wait_for(2, WAIT).await;
    tokio::time::sleep(retry + SETTLE).await;
    let bodies: Vec<String> = receiver.received().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies.len(), 1, "deliveries after deletion: {bodies:?}");
}

#[actix_web::test]
async fn private_urls_are_refused_by_default() {
    let app = spawn_app().await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://10.0.0.1/x",
        "http://192.168.1.20/x",
        "http://172.16.0.1/x",
        "http://169.254.169.254/",
        "http://[::1]/x",
        "http://0.0.0.0/x",
    ] {
        let resp = app
            .post(
                SUBSCRIBE,
                &app.admin.token,
                json!({"event": "*", "url": url}),
            )
            .await;
        assert_eq!(resp.status, 400, "{url}: {}", resp.body);
        assert_eq!(resp.error_fields(), ["url"], "{url}: {}", resp.body);
    }
    let list = app.get(WEBHOOKS, &app.admin.token).await;
    assert_eq!(list.data(), &json!([]), "{}", list.body);

    let allowed = spawn_app_with(|settings| settings.webhook_allow_private = true).await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://localhost/x",
        "http://10.0.0.1/x",
    ] {
        let resp = allowed
            .post(
                SUBSCRIBE,
                &allowed.admin.token,
                json!({"event": "*", "url": url}),
            )
            .await;
        assert_eq!(resp.status, 201, "{url}: {}", resp.body);
    }
}

#[actix_web::test]
async fn subscriptions_are_validated() {
    let app = spawn_app_with(|settings| settings.webhook_allow_private = true).await;
    let url = "http://127.0.0.1:9/hook";
    let bad: Vec<(Value, &str)> = vec![
        (json!({"url": url}), "event"),
        (json!({"event": "case.viewed", "url": url}), "event"),
        (json!({"event": "cases", "url": url}), "event"),
        (json!({"event": "", "url": url}), "event"),
        (json!({"event": 5, "url": url}), "event"),
        (json!({"event": null, "url": url}), "event"),
        (json!({"event": "*"}), "url"),
        (json!({"event": "*", "url": ""}), "url"),
        (json!({"event": "*", "url": "not a url"}), "url"),
        (json!({"event": "*", "url": "/relative/hook"}), "url"),
        (
            json!({"event": "*", "url": "ftp://example.org/hook"}),
            "url",
        ),
        (json!({"event": "*", "url": "file:///etc/passwd"}), "url"),
        (
            json!({"event": "*", "url": "http://user:pass@example.org/hook"}),
            "url",
        ),
        (json!({"event": "*", "url": 42}), "url"),
        (
            json!({"event": "*", "url": url, "secret": "secret"}),
            "secret",
        ),
        (json!({"event": "*", "url": url, "secret": ""}), "secret"),
        (
            json!({"event": "*", "url": url, "secret": "whsec_"}),
            "secret",
        ),
        (
            json!({"event": "*", "url": url, "secret": "whsec_!!!"}),
            "secret",
        ),
        (
            json!({"event": "*", "url": url, "secret": secret_of(23)}),
            "secret",
        ),
        (
            json!({"event": "*", "url": url, "secret": secret_of(65)}),
            "secret",
        ),
        (
            json!({"event": "*", "url": url, "secret": secret_of(32).replace("whsec_", "")}),
            "secret",
        ),
        (json!({"event": "*", "url": url, "secret": 12}), "secret"),
        (json!({"event": "*", "url": url, "secret": null}), "secret"),
        (json!({"event": "*", "url": url, "colour": "red"}), "colour"),
        (json!({"event": "*", "url": url, "active": false}), "active"),
    ];
    for (body, field) in bad {
        let resp = app.post(SUBSCRIBE, &app.admin.token, body.clone()).await;
        assert_eq!(resp.status, 400, "{body}: {}", resp.body);
        assert_eq!(resp.body["status"], "error", "{}", resp.body);
        assert!(
            resp.error_fields().contains(&field.to_string()),
            "{body}: expected an error on {field}: {}",
            resp.body
        );
    }
    let list = app.get(WEBHOOKS, &app.admin.token).await;
    assert_eq!(
        list.data(),
        &json!([]),
        "nothing was created: {}",
        list.body
    );

    for event in EVENTS.into_iter().chain(["*"]) {
        for bytes in [24, 32, 64] {
            let secret = secret_of(bytes);
            let resp = app
                .post(
                    SUBSCRIBE,
                    &app.admin.token,
                    json!({"event": event, "url": "https://example.org/hook", "secret": secret}),
                )
                .await;
            assert_eq!(resp.status, 201, "{event} {bytes}: {}", resp.body);
            assert_eq!(resp.data()["event"], event);
            assert_eq!(resp.data()["secret"], secret);
        }
    }
}

#[actix_web::test]
async fn only_admins_manage_webhooks() {
    let app = spawn_app_with(|settings| settings.webhook_allow_private = true).await;
    let (id, _) = subscribe(&app, "*", "http://127.0.0.1:9/hook").await;
    let body = json!({"event": "*", "url": "http://127.0.0.1:9/other"});
    let routes = [
        (Method::POST, SUBSCRIBE.to_string(), Some(&body)),
        (Method::GET, WEBHOOKS.to_string(), None),
        (Method::GET, webhook_path(id), None),
        (Method::GET, deliveries_path(id), None),
        (Method::DELETE, webhook_path(id), None),
    ];
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    for (method, path, body) in &routes {
        for user in [&agent, &supervisor] {
            let resp = app
                .request(method.clone(), path, Some(&user.token), *body)
                .await;
            assert_eq!(resp.status, 403, "{method} {path}: {}", resp.body);
            assert_eq!(resp.body["status"], "error", "{}", resp.body);
        }
        let resp = app.request(method.clone(), path, None, *body).await;
        assert_eq!(resp.status, 401, "{method} {path}: {}", resp.body);
    }
    // Nothing was created or deleted.
    let list = app.get(WEBHOOKS, &app.admin.token).await;
    let listed: Vec<&Value> = list.data().as_array().expect("list").iter().collect();
    assert_eq!(listed.len(), 1, "{}", list.body);
    assert_eq!(listed[0]["id"], id);
}

#[actix_web::test]
async fn the_secret_is_shown_only_on_creation() {
    let app = spawn_app_with(|settings| settings.webhook_allow_private = true).await;
    let receiver = WebhookReceiver::start().await;
    let generated = app
        .post(
            SUBSCRIBE,
            &app.admin.token,
            json!({"event": "case.created", "url": receiver.url}),
        )
        .await;
    assert_eq!(generated.status, 201, "{}", generated.body);
    let data = generated.data();
    assert_eq!(data["event"], "case.created");
    assert_eq!(data["url"], receiver.url);
    assert_eq!(data["active"], true);
    assert!(data["created_at"].is_string(), "{data}");
    let secret = data["secret"].as_str().expect("secret");
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64");
    assert_eq!(key.len(), 32, "a generated secret holds 32 bytes");
    let other = subscribe(&app, "user.created", &receiver.url).await.1;
    assert_ne!(secret, other, "secrets are random");

    // A chosen secret keys the signatures.
    let chosen = secret_of(40);
    let given = app
        .post(
            SUBSCRIBE,
            &app.admin.token,
            json!({"event": "case.created", "url": receiver.url, "secret": chosen}),
        )
        .await;
    assert_eq!(given.status, 201, "{}", given.body);
    assert_eq!(given.data()["secret"], chosen);

    for id in [generated.id(), given.id()] {
        let one = app.get(&webhook_path(id), &app.admin.token).await;
        assert_eq!(one.status, 200, "{}", one.body);
        assert!(one.data().get("secret").is_none(), "{}", one.body);
        assert_eq!(one.data()["id"], id);
        assert_eq!(one.data()["active"], true);
        assert_eq!(one.data()["url"], receiver.url);
        assert!(attempts(&app, id).await.is_empty());
    }
    let list = app.get(WEBHOOKS, &app.admin.token).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let listed = list.data().as_array().expect("list");
    assert_eq!(listed.len(), 3, "{}", list.body);
    assert!(
        listed.iter().all(|w| w.get("secret").is_none()),
        "{}",
        list.body
    );
    assert!(!list.body.to_string().contains("whsec_"), "{}", list.body);
    let missing = app.get(&webhook_path(999_999), &app.admin.token).await;
    assert_eq!(missing.status, 404, "{}", missing.body);

    app.create_case(&app.admin.token, json!({})).await;
    let received = exactly(&receiver, 2).await;
    let verified = |key: &str| received.iter().filter(|r| verify_signature(key, r)).count();
    assert_eq!(
        verified(secret),
        1,
        "one delivery signed with the generated secret"
    );
    assert_eq!(
        verified(&chosen),
        1,
        "one delivery signed with the chosen secret"
    );
}

#[actix_web::test]
async fn subscribing_with_an_idempotency_key_subscribes_once() {
    let app = spawn_app_with(|settings| settings.webhook_allow_private = true).await;
    let receiver = WebhookReceiver::start().await;
    let body = json!({"event": "case.created", "url": receiver.url});
    let token = app.admin.token.clone();

    let first = app
        .post_with_key(SUBSCRIBE, &token, "subscribe-1", body.clone())
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let retry = app
        .post_with_key(SUBSCRIBE, &token, "subscribe-1", body.clone())
        .await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(retry.id(), first.id());
    assert_eq!(
        retry.data(),
        first.data(),
        "the original answer, secret included"
    );

    let changed = app
        .post_with_key(
            SUBSCRIBE,
            &token,
            "subscribe-1",
            json!({"event": "case.updated", "url": receiver.url}),
        )
        .await;
    assert_eq!(changed.status, 409, "{}", changed.body);

    let list = app.get(WEBHOOKS, &token).await;
    assert_eq!(
        list.data().as_array().expect("list").len(),
        1,
        "{}",
        list.body
    );

    // One subscription: one delivery per event.
    app.create_case(&token, json!({})).await;
    let received = exactly(&receiver, 1).await;
    let secret = first.data()["secret"].as_str().expect("secret");
    assert!(verify_signature(secret, &received[0]));
}

#[actix_web::test]
async fn a_secret_given_at_subscription_is_the_one_deliveries_are_signed_with() {
    let app = spawn_app_with(|settings| settings.webhook_allow_private = true).await;
    let receiver = WebhookReceiver::start().await;
    let given = secret_of(40);
    let subscribed = app
        .post(
            "/api/v1/webhooks/subscribe",
            &app.admin.token,
            json!({"event": "case.created", "url": receiver.url, "secret": given}),
        )
        .await;
    assert_eq!(subscribed.status, 201, "{}", subscribed.body);
    assert_eq!(
        subscribed.data()["secret"],
        given,
        "the given secret is echoed once"
    );
    app.create_case(&app.admin.token, json!({})).await;

    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert!(
        verify_signature(&given, &received[0]),
        "signed with the given secret"
    );
}
