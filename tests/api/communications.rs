//! `/communications`: create, read, list, validation, idempotency.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const COMMUNICATIONS: &str = "/api/v1/communications";

fn message_path(id: i64) -> String {
    format!("{COMMUNICATIONS}/{id}")
}

/// `GET /communications` with `query` encoded as a query string.
async fn list(app: &TestApp, token: &str, query: &[(&str, &str)]) -> Resp {
    let query = serde_urlencoded::to_string(query).expect("encode query");
    app.get(&format!("{COMMUNICATIONS}?{query}"), token).await
}

/// The ids a filtered list returns, as a set (order does not matter for filters).
async fn matching(app: &TestApp, query: &[(&str, &str)]) -> BTreeSet<i64> {
    let mut with_limit = query.to_vec();
    with_limit.push(("limit", "100"));
    ids(&list(app, &app.admin.token, &with_limit).await)
        .into_iter()
        .collect()
}

/// A list query and the ids it must return.
type FilterCase<'a> = (Vec<(&'a str, &'a str)>, BTreeSet<i64>);

fn set(ids: &[i64]) -> BTreeSet<i64> {
    ids.iter().copied().collect()
}

/// How many messages can be read in all.
async fn total(app: &TestApp) -> i64 {
    let resp = list(app, &app.admin.token, &[]).await;
    assert_eq!(resp.status, 200, "list failed: {}", resp.body);
    pagination(&resp).2
}

async fn create_client(app: &TestApp, body: Value) -> i64 {
    let created = app.post("/api/v1/clients", &app.admin.token, body).await;
    assert_eq!(created.status, 201, "create client: {}", created.body);
    created.id()
}

/// Posts a message and expects it to be recorded.
async fn post_message(app: &TestApp, token: &str, body: Value) -> Resp {
    let created = app.post(COMMUNICATIONS, token, body).await;
    assert_eq!(created.status, 201, "post message: {}", created.body);
    created
}

/// The message `errors` gives for `field`.
fn field_message(resp: &Resp, field: &str) -> String {
    resp.body["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|e| e["field"] == field))
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("no error for {field:?} in {}", resp.body))
        .to_string()
}

fn created_at(resp: &Resp) -> DateTime<Utc> {
    let text = resp.data()["created_at"]
        .as_str()
        .unwrap_or_else(|| panic!("no created_at in {}", resp.body));
    assert!(text.ends_with('Z'), "created_at {text:?} must end with Z");
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("created_at {text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[actix_web::test]
async fn a_message_takes_its_client_and_channel_from_the_case_and_reads_back() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let client = create_client(&app, json!({"name": "Amina Wanjiru"})).await;
    let case = app
        .create_case(&agent.token, json!({"client_id": client, "channel": "sms"}))
        .await
        .id();

    let created = post_message(
        &app,
        &agent.token,
        json!({"case_id": case, "direction": "inbound", "body": "I need help"}),
    )
    .await;

    assert_eq!(created.body["status"], "success", "{}", created.body);
    let data = created.data();
    assert!(data["id"].as_i64().is_some_and(|id| id > 0), "{data}");
    assert_eq!(data["case_id"], case, "{data}");
    assert_eq!(data["client_id"], client, "{data}");
    assert_eq!(data["channel"], "sms", "{data}");
    assert_eq!(data["direction"], "inbound", "{data}");
    assert_eq!(data["body"], "I need help", "{data}");
    assert_eq!(data["sender_id"], agent.id, "{data}");
    assert_eq!(data["status"], "received", "{data}");
    let at = created_at(&created);
    assert!(
        (Utc::now() - at).num_seconds().abs() < 60,
        "created_at {at} is not now"
    );

    let read = app.get(&message_path(created.id()), &agent.token).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["status"], "success", "{}", read.body);
    assert_eq!(read.data(), created.data(), "read differs from created");
}

#[actix_web::test]
async fn a_given_client_and_channel_win_over_the_case_and_a_case_without_client_gives_none() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let case_client = create_client(&app, json!({"name": "Case client"})).await;
    let other_client = create_client(&app, json!({"name": "Sibling"})).await;
    let case = app
        .create_case(&token, json!({"client_id": case_client, "channel": "call"}))
        .await
        .id();

    let explicit = post_message(
        &app,
        &token,
        json!({"case_id": case, "client_id": other_client, "channel": "whatsapp",
               "direction": "inbound", "body": "From the sibling"}),
    )
    .await;
    assert_eq!(
        explicit.data()["client_id"],
        other_client,
        "{}",
        explicit.body
    );
    assert_eq!(explicit.data()["channel"], "whatsapp", "{}", explicit.body);

    let no_client_case = app
        .create_case(&token, json!({"channel": "chat"}))
        .await
        .id();
    let anonymous = post_message(
        &app,
        &token,
        json!({"case_id": no_client_case, "direction": "internal", "body": "Anonymous caller"}),
    )
    .await;
    assert!(
        anonymous.data()["client_id"].is_null(),
        "a case without client gives a message without client: {}",
        anonymous.body
    );
    assert_eq!(anonymous.data()["channel"], "chat", "{}", anonymous.body);
}

#[actix_web::test]
async fn status_follows_the_direction() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let case = app
        .create_case(&token, json!({"channel": "sms"}))
        .await
        .id();

    for (direction, status) in [
        ("inbound", "received"),
        ("internal", "received"),
        ("outbound", "queued"),
    ] {
        let created = post_message(
            &app,
            &token,
            json!({"case_id": case, "direction": direction, "body": format!("A {direction} note")}),
        )
        .await;
        assert_eq!(created.data()["direction"], direction, "{}", created.body);
        assert_eq!(
            created.data()["status"],
            status,
            "{direction}: {}",
            created.body
        );
        let read = app.get(&message_path(created.id()), &token).await;
        assert_eq!(read.data()["status"], status, "{direction}: {}", read.body);
    }
}

#[actix_web::test]
async fn the_body_is_kept_exactly_and_its_length_counted_in_characters() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let case = app
        .create_case(&token, json!({"channel": "chat"}))
        .await
        .id();
    let message = |body: Value| json!({"case_id": case, "direction": "inbound", "body": body});

    let exact = "  Habari?\n\tNinahitaji msaada — 助けて 🙏  \n";
    let created = post_message(&app, &token, message(json!(exact))).await;
    assert_eq!(created.data()["body"], exact, "{}", created.body);
    let read = app.get(&message_path(created.id()), &token).await;
    assert_eq!(read.data()["body"], exact, "{}", read.body);

    // 10 000 characters of two bytes each: the limit is in characters, not bytes.
    let longest = "é".repeat(10_000);
    let created = post_message(&app, &token, message(json!(longest))).await;
    assert_eq!(created.data()["body"], longest.as_str());

    let before = total(&app).await;
    for (what, body) in [
        ("too long", json!("x".repeat(10_001))),
        ("empty", json!("")),
        ("blank", json!("  \n\t ")),
        ("null", Value::Null),
        ("not a string", json!(42)),
    ] {
        let resp = app.post(COMMUNICATIONS, &token, message(body)).await;
        assert_invalid(&resp, "body", what);
    }
    assert_eq!(total(&app).await, before, "a refused message was stored");
}

#[actix_web::test]
async fn missing_and_invalid_fields_are_each_named() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let case = app
        .create_case(&token, json!({"channel": "call"}))
        .await
        .id();

    let empty = app.post(COMMUNICATIONS, &token, json!({})).await;
    assert_error(&empty, 400, "empty body");
    let fields: BTreeSet<String> = empty.error_fields().into_iter().collect();
    for field in ["case_id", "direction", "body"] {
        assert!(fields.contains(field), "{field} not named: {}", empty.body);
    }

    let valid = json!({"case_id": case, "direction": "inbound", "body": "Hello"});
    for (field, value) in [
        ("direction", json!("sideways")),
        ("direction", json!("INBOUND")),
        ("direction", Value::Null),
        ("channel", json!("fax")),
        ("channel", json!(7)),
        ("case_id", json!("abc")),
        ("case_id", json!(0)),
        ("case_id", json!(-3)),
        ("case_id", json!(1.5)),
        ("case_id", Value::Null),
        ("client_id", json!("one")),
        ("client_id", json!(0)),
    ] {
        let mut body = valid.clone();
        body[field] = value.clone();
        let resp = app.post(COMMUNICATIONS, &token, body).await;
        assert_invalid(&resp, field, &format!("{field} = {value}"));
    }
    assert_eq!(total(&app).await, 0, "a refused message was stored");
}

#[actix_web::test]
async fn the_case_and_client_must_exist_and_a_channel_must_be_known() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let with_channel = app
        .create_case(&token, json!({"channel": "sms"}))
        .await
        .id();
    let without_channel = app.create_case(&token, json!({})).await.id();

    let resp = app
        .post(
            COMMUNICATIONS,
            &token,
            json!({"case_id": 999_999, "direction": "inbound", "body": "Hello"}),
        )
        .await;
    assert_invalid(&resp, "case_id", "unknown case");

    let resp = app
        .post(
            COMMUNICATIONS,
            &token,
            json!({"case_id": with_channel, "client_id": 999_999, "direction": "inbound", "body": "Hello"}),
        )
        .await;
    assert_invalid(&resp, "client_id", "unknown client");

    let resp = app
        .post(
            COMMUNICATIONS,
            &token,
            json!({"case_id": without_channel, "direction": "inbound", "body": "Hello"}),
        )
        .await;
    assert_invalid(&resp, "channel", "no channel on the case nor the message");

    assert_eq!(total(&app).await, 0, "a refused message was stored");
    assert_eq!(
        app.topic_events(&format!("case:{with_channel}"))
            .await
            .len(),
        1,
        "a refused message published an event"
    );

    // With a channel of its own, a message on a case without channel is fine.
    let created = post_message(
        &app,
        &token,
        json!({"case_id": without_channel, "channel": "email", "direction": "internal", "body": "Hello"}),
    )
    .await;
    assert_eq!(created.data()["channel"], "email", "{}", created.body);
}

#[actix_web::test]
async fn read_only_and_unknown_fields_and_bad_bodies_are_refused() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let case = app
        .create_case(&token, json!({"channel": "sms"}))
        .await
        .id();
    let valid = json!({"case_id": case, "direction": "inbound", "body": "Hello"});

    for (field, value) in [
        ("id", json!(77)),
        ("sender_id", json!(app.admin.id)),
        ("status", json!("sent")),
        ("created_at", json!("2026-01-01T00:00:00Z")),
    ] {
        let mut body = valid.clone();
        body[field] = value;
        let resp = app.post(COMMUNICATIONS, &token, body).await;
        assert_invalid(&resp, field, field);
        assert!(
            field_message(&resp, field).contains("read-only"),
            "{field}: {}",
            resp.body
        );
    }

    let mut body = valid.clone();
    body["subject"] = json!("Typo of a field");
    let resp = app.post(COMMUNICATIONS, &token, body).await;
    assert_invalid(&resp, "subject", "unknown field");

    let malformed = app
        .client
        .post(app.url(COMMUNICATIONS))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"case_id\": ")
        .send()
        .await
        .expect("request sent");
    assert_error(&read(malformed).await, 400, "malformed JSON");

    let not_object = app.post(COMMUNICATIONS, &token, json!([valid])).await;
    assert_error(&not_object, 400, "an array body");

    let plain = app
        .client
        .post(app.url(COMMUNICATIONS))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(valid.to_string())
        .send()
        .await
        .expect("request sent");
    assert_error(&read(plain).await, 415, "text/plain body");

    assert_eq!(total(&app).await, 0, "a refused message was stored");
}

#[actix_web::test]
async fn reading_an_unknown_or_non_numeric_id_is_404() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let case = app
        .create_case(&token, json!({"channel": "sms"}))
        .await
        .id();
    let created = post_message(
        &app,
        &token,
        json!({"case_id": case, "direction": "inbound", "body": "Hello"}),
    )
    .await;

    for path in [
        message_path(created.id() + 1000),
        format!("{COMMUNICATIONS}/abc"),
        format!("{COMMUNICATIONS}/0"),
        format!("{COMMUNICATIONS}/-1"),
        format!("{COMMUNICATIONS}/1.5"),
        format!("{COMMUNICATIONS}/99999999999999999999999"),
    ] {
        let resp = app.get(&path, &token).await;
        assert_error(&resp, 404, &path);
    }
}

#[actix_web::test]
async fn the_list_filters_by_case_channel_and_direction() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let case_a = app
        .create_case(&token, json!({"channel": "sms"}))
        .await
        .id();
    let case_b = app
        .create_case(&token, json!({"channel": "call"}))
        .await
        .id();
    let post = |case: i64, channel: &str, direction: &str| {
        let body =
            json!({"case_id": case, "channel": channel, "direction": direction, "body": "Hi"});
        let (app, token) = (&app, token.clone());
        async move { post_message(app, &token, body).await.id() }
    };
    let a_sms_in = post(case_a, "sms", "inbound").await;
    let a_sms_out = post(case_a, "sms", "outbound").await;
    let a_chat_internal = post(case_a, "chat", "internal").await;
    let b_call_in = post(case_b, "call", "inbound").await;
    let b_web_out = post(case_b, "web", "outbound").await;
    let all = set(&[a_sms_in, a_sms_out, a_chat_internal, b_call_in, b_web_out]);

    let a = case_a.to_string();
    let b = case_b.to_string();
    let both = format!("{case_a},{case_b}");
    let cases: Vec<FilterCase> = vec![
        (vec![], all.clone()),
        (
            vec![("case_id", &a)],
            set(&[a_sms_in, a_sms_out, a_chat_internal]),
        ),
        (vec![("case_id", &b)], set(&[b_call_in, b_web_out])),
        (vec![("case_id", &both)], all.clone()),
        (vec![("case_id", "999999")], set(&[])),
        (vec![("channel", "sms")], set(&[a_sms_in, a_sms_out])),
        (
            vec![("channel", "chat,web")],
            set(&[a_chat_internal, b_web_out]),
        ),
        (vec![("direction", "inbound")], set(&[a_sms_in, b_call_in])),
        (
            vec![("direction", "inbound,internal")],
            set(&[a_sms_in, a_chat_internal, b_call_in]),
        ),
        (
            vec![("direction", "outbound"), ("direction", "internal")],
            set(&[a_sms_out, a_chat_internal, b_web_out]),
        ),
        (
            vec![("case_id", &a), ("direction", "outbound")],
            set(&[a_sms_out]),
        ),
        (vec![("case_id", &b), ("channel", "sms")], set(&[])),
    ];
    for (query, expected) in cases {
        assert_eq!(matching(&app, &query).await, expected, "filter {query:?}");
    }

    let filtered = list(&app, &token, &[("case_id", &a)]).await;
    assert_eq!(pagination(&filtered).2, 3, "total counts the filtered rows");
}

#[actix_web::test]
async fn the_list_filters_by_creation_time() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let case = app
        .create_case(&token, json!({"channel": "sms"}))
        .await
        .id();
    let first = post_message(
        &app,
        &token,
        json!({"case_id": case, "direction": "inbound", "body": "One"}),
    )
    .await;
    let second = post_message(
        &app,
        &token,
        json!({"case_id": case, "direction": "outbound", "body": "Two"}),
    )
    .await;
    let both = set(&[first.id(), second.id()]);
    let at = created_at(&first);
    let hour_before = rfc3339(at - Duration::hours(1));
    let hour_after = rfc3339(at + Duration::hours(1));

    for (query, expected) in [
        (vec![("created_after", "2000-01-01")], both.clone()),
        (vec![("created_after", "2999-01-01")], set(&[])),
        (vec![("created_before", "2999-01-01")], both.clone()),
        (vec![("created_before", "2000-01-01")], set(&[])),
        (vec![("created_after", hour_before.as_str())], both.clone()),
        (vec![("created_after", hour_after.as_str())], set(&[])),
        (vec![("created_before", hour_after.as_str())], both.clone()),
        (vec![("created_before", hour_before.as_str())], set(&[])),
        (
            vec![
                ("created_after", hour_before.as_str()),
                ("created_before", hour_after.as_str()),
            ],
            both.clone(),
        ),
    ] {
        assert_eq!(matching(&app, &query).await, expected, "filter {query:?}");
    }
}

#[actix_web::test]
async fn the_list_sorts_and_pages() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let case = app
        .create_case(&token, json!({"channel": "sms"}))
        .await
        .id();
    let mut posted = Vec::new();
    for n in 1..=3 {
        let created = post_message(
            &app,
            &token,
            json!({"case_id": case, "direction": "inbound", "body": format!("Message {n}")}),
        )
        .await;
        posted.push(created.id());
    }
    let mut newest_first = posted.clone();
    newest_first.reverse();

    let default = list(&app, &token, &[]).await;
    assert_eq!(ids(&default), newest_first, "default: newest first");
    assert_eq!(pagination(&default), (1, 20, 3, 1), "{}", default.body);
    assert_eq!(default.body["status"], "success");

    for (query, expected) in [
        (vec![("sort", "id"), ("order", "asc")], posted.clone()),
        (
            vec![("sort", "id"), ("order", "desc")],
            newest_first.clone(),
        ),
        (vec![("sort", "id")], newest_first.clone()),
        (
            vec![("sort", "created_at"), ("order", "asc")],
            posted.clone(),
        ),
        (vec![("order", "asc")], posted.clone()),
    ] {
        assert_eq!(
            ids(&list(&app, &token, &query).await),
            expected,
            "{query:?}"
        );
    }

    let page1 = list(
        &app,
        &token,
        &[("limit", "2"), ("sort", "id"), ("order", "asc")],
    )
    .await;
    assert_eq!(ids(&page1), posted[..2].to_vec());
    assert_eq!(pagination(&page1), (1, 2, 3, 2), "{}", page1.body);
    let page2 = list(
        &app,
        &token,
        &[
            ("limit", "2"),
            ("page", "2"),
            ("sort", "id"),
            ("order", "asc"),
        ],
    )
    .await;
    assert_eq!(ids(&page2), posted[2..].to_vec());
    assert_eq!(pagination(&page2), (2, 2, 3, 2), "{}", page2.body);
    let past_end = list(&app, &token, &[("limit", "2"), ("page", "5")]).await;
    assert_eq!(
        ids(&past_end),
        Vec::<i64>::new(),
        "a page past the end is empty"
    );
    assert_eq!(pagination(&past_end), (5, 2, 3, 2), "{}", past_end.body);
}

#[actix_web::test]
async fn the_list_refuses_unknown_parameters_and_bad_values() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();

    for (query, field) in [
        (vec![("unknown", "1")], "unknown"),
        (vec![("client_id", "1")], "client_id"),
        (vec![("case_id", "abc")], "case_id"),
        (vec![("case_id", "1,x")], "case_id"),
        (vec![("channel", "fax")], "channel"),
        (vec![("direction", "sideways")], "direction"),
        (vec![("direction", "inbound,bogus")], "direction"),
        (vec![("created_after", "yesterday")], "created_after"),
        (vec![("created_before", "2026-13-45")], "created_before"),
        (vec![("sort", "body")], "sort"),
        (vec![("sort", "created_at;drop")], "sort"),
        (vec![("order", "up")], "order"),
        (vec![("page", "0")], "page"),
        (vec![("page", "x")], "page"),
        (vec![("limit", "0")], "limit"),
        (vec![("limit", "101")], "limit"),
    ] {
        let resp = list(&app, &token, &query).await;
        assert_invalid(&resp, field, &format!("{query:?}"));
    }
}

#[actix_web::test]
async fn an_idempotent_retry_gets_the_original_answer_and_creates_nothing() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let case = app
        .create_case(&agent.token, json!({"channel": "sms"}))
        .await
        .id();
    let body = json!({"case_id": case, "direction": "inbound", "body": "Please call back"});

    let first = app
        .post_with_key(COMMUNICATIONS, &agent.token, "retry-1", body.clone())
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let second = app
        .post_with_key(COMMUNICATIONS, &agent.token, "retry-1", body.clone())
        .await;
    assert_eq!(second.status, 201, "replay: {}", second.body);
    assert_eq!(
        second.data(),
        first.data(),
        "replay must give the same answer"
    );

    // The same meaning with the keys in another order is the same request.
    let reordered = json!({"body": "Please call back", "direction": "inbound", "case_id": case});
    let third = app
        .post_with_key(COMMUNICATIONS, &agent.token, "retry-1", reordered)
        .await;
    assert_eq!(third.status, 201, "reordered replay: {}", third.body);
    assert_eq!(third.id(), first.id());

    assert_eq!(total(&app).await, 1, "a replay created a message");
    assert_eq!(
        app.topic_events(&format!("case:{case}")).await,
        vec![
            (1, "case.created".to_string()),
            (2, "message.received".to_string())
        ],
        "a replay published an event"
    );

    // Without a key every POST creates.
    let plain1 = post_message(&app, &agent.token, body.clone()).await;
    let plain2 = post_message(&app, &agent.token, body.clone()).await;
    assert_ne!(plain1.id(), plain2.id());
    assert_eq!(total(&app).await, 3);
}

#[actix_web::test]
async fn a_reused_key_with_another_body_is_409_and_keys_belong_to_their_user() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let other = app.create_user("agent").await;
    let case = app
        .create_case(&agent.token, json!({"channel": "sms"}))
        .await
        .id();
    let body = json!({"case_id": case, "direction": "inbound", "body": "First"});

    let first = app
        .post_with_key(COMMUNICATIONS, &agent.token, "shared-key", body.clone())
        .await;
    assert_eq!(first.status, 201, "{}", first.body);

    let changed = json!({"case_id": case, "direction": "inbound", "body": "Second"});
    let conflict = app
        .post_with_key(COMMUNICATIONS, &agent.token, "shared-key", changed)
        .await;
    assert_error(&conflict, 409, "same key, other body");
    assert_eq!(total(&app).await, 1, "the conflicting request was applied");

    // Another user's identical key is their own.
    let theirs = app
        .post_with_key(COMMUNICATIONS, &other.token, "shared-key", body.clone())
        .await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    assert_ne!(theirs.id(), first.id(), "another user's key replayed mine");
    assert_eq!(theirs.data()["sender_id"], other.id);
    assert_eq!(total(&app).await, 2);
    assert_eq!(
        app.topic_events(&format!("case:{case}")).await.len(),
        3,
        "case.created and two messages"
    );
}

#[actix_web::test]
async fn messages_of_a_deleted_case_disappear_and_it_takes_no_new_ones() {
    let app = spawn_app().await;
    let supervisor = app.create_user("supervisor").await;
    let token = app.admin.token.clone();
    let doomed = app
        .create_case(&token, json!({"channel": "sms"}))
        .await
        .id();
    let kept = app
        .create_case(&token, json!({"channel": "sms"}))
        .await
        .id();
    let gone = post_message(
        &app,
        &token,
        json!({"case_id": doomed, "direction": "inbound", "body": "Soon gone"}),
    )
    .await
    .id();
    let stays = post_message(
        &app,
        &token,
        json!({"case_id": kept, "direction": "inbound", "body": "Stays"}),
    )
    .await
    .id();

    let deleted = app
        .delete(&format!("/api/v1/cases/{doomed}"), &supervisor.token)
        .await;
    assert_eq!(deleted.status, 200, "delete case: {}", deleted.body);

    assert_error(
        &app.get(&message_path(gone), &token).await,
        404,
        "message of a deleted case",
    );
    assert_eq!(app.get(&message_path(stays), &token).await.status, 200);
    assert_eq!(matching(&app, &[]).await, set(&[stays]));
    let doomed_id = doomed.to_string();
    assert_eq!(matching(&app, &[("case_id", &doomed_id)]).await, set(&[]));
    assert_eq!(
        total(&app).await,
        1,
        "total counts a deleted case's message"
    );

    let resp = app
        .post(
            COMMUNICATIONS,
            &token,
            json!({"case_id": doomed, "direction": "inbound", "body": "Too late"}),
        )
        .await;
    assert_invalid(&resp, "case_id", "posting to a deleted case");
    assert_eq!(total(&app).await, 1);
}

#[actix_web::test]
async fn every_role_may_post_and_read_and_no_token_is_401() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let case = app
        .create_case(&agent.token, json!({"channel": "chat"}))
        .await
        .id();

    let mut posted = Vec::new();
    for (token, user_id) in [
        (&agent.token, agent.id),
        (&supervisor.token, supervisor.id),
        (&app.admin.token, app.admin.id),
    ] {
        let created = post_message(
            &app,
            token,
            json!({"case_id": case, "direction": "internal", "body": "Note"}),
        )
        .await;
        assert_eq!(created.data()["sender_id"], user_id, "{}", created.body);
        posted.push(created.id());
    }
    for token in [&agent.token, &supervisor.token, &app.admin.token] {
        for id in &posted {
            assert_eq!(app.get(&message_path(*id), token).await.status, 200);
        }
        let listed: BTreeSet<i64> = ids(&list(&app, token, &[]).await).into_iter().collect();
        assert_eq!(listed, set(&posted));
    }

    let body = json!({"case_id": case, "direction": "inbound", "body": "Anonymous"});
    for (method, path, body) in [
        (Method::POST, COMMUNICATIONS.to_string(), Some(&body)),
        (Method::GET, COMMUNICATIONS.to_string(), None),
        (Method::GET, message_path(posted[0]), None),
    ] {
        let resp = app.request(method.clone(), &path, None, body).await;
        assert_error(&resp, 401, &format!("{method} {path} without token"));
    }
    let resp = app
        .request(Method::GET, COMMUNICATIONS, Some("not-a-token"), None)
        .await;
    assert_error(&resp, 401, "a malformed token");
    assert_eq!(total(&app).await, 3, "an anonymous POST was applied");
}

#[actix_web::test]
async fn each_message_is_published_on_its_case_topic() {
    let app = spawn_app().await;
    let token = app.admin.token.clone();
    let case = app
        .create_case(&token, json!({"channel": "sms"}))
        .await
        .id();
    let other = app
        .create_case(&token, json!({"channel": "sms"}))
        .await
        .id();

    for (direction, text) in [("inbound", "Hello"), ("outbound", "We hear you")] {
        post_message(
            &app,
            &token,
            json!({"case_id": case, "direction": direction, "body": text}),
        )
        .await;
    }
    assert_eq!(
        app.topic_events(&format!("case:{case}")).await,
        vec![
            (1, "case.created".to_string()),
            (2, "message.received".to_string()),
            (3, "message.received".to_string()),
        ]
    );
    assert_eq!(
        app.topic_events(&format!("case:{other}")).await,
        vec![(1, "case.created".to_string())],
        "a message appeared on another case's topic"
    );
}
