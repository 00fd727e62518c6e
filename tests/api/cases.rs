//! `/api/v1/cases`: creation, reading, validation, partial updates with optimistic concurrency,
//! the role rules, the audit trail, list filters and paging, and the events each change publishes.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const CASES: &str = "/api/v1/cases";

/// A list query that must be refused: (description, parameters, the parameter named in `errors`).
type BadQuery = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

fn case_path(id: i64) -> String {
    format!("{CASES}/{id}")
}

fn history_path(id: i64) -> String {
    format!("{CASES}/{id}/history")
}

/// `GET /cases` with `query` encoded as a query string.
async fn list(app: &TestApp, token: &str, query: &[(&str, &str)]) -> Resp {
    let query = serde_urlencoded::to_string(query).expect("encode query");
    app.get(&format!("{CASES}?{query}"), token).await
}

/// The ids of a list with `query`, as a set (for filters, where order does not matter).
async fn matching(app: &TestApp, token: &str, query: &[(&str, &str)]) -> BTreeSet<i64> {
    // Large enough that every test's cases fit on one page.
    let mut with_limit = query.to_vec();
    with_limit.push(("limit", "100"));
    ids(&list(app, token, &with_limit).await)
        .into_iter()
        .collect()
}

fn set(ids: &[i64]) -> BTreeSet<i64> {
    ids.iter().copied().collect()
}

/// `pagination.total` of an unfiltered list: how many cases exist.
async fn total(app: &TestApp) -> i64 {
    let resp = list(app, &app.admin.token, &[]).await;
    assert_eq!(resp.status, 200, "list failed: {}", resp.body);
    resp.body["pagination"]["total"]
        .as_i64()
        .expect("pagination.total")
}

async fn create_client(app: &TestApp, name: &str) -> i64 {
    let created = app
        .post("/api/v1/clients", &app.admin.token, json!({"name": name}))
        .await;
    assert_eq!(created.status, 201, "create client: {}", created.body);
    created.id()
}

/// A user who existed and was then deactivated.
async fn deactivated_user(app: &TestApp) -> TestUser {
    let user = app.create_user("agent").await;
    let deleted = app
        .delete(&format!("/api/v1/users/{}", user.id), &app.admin.token)
        .await;
    assert_eq!(deleted.status, 200, "deactivate user: {}", deleted.body);
    user
}

/// Asserts that `value` is an RFC 3339 timestamp in UTC with a `Z` suffix.
fn assert_utc_timestamp(value: &Value, what: &str) -> chrono::DateTime<chrono::FixedOffset> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"));
    assert!(text.ends_with('Z'), "{what} should end in Z: {text}");
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{what} is not RFC 3339 ({e}): {text}"))
}

/// Asserts that `events` are numbered 1..=n with no gap or repeat and returns their types.
fn contiguous_types(events: &[(i64, String)], topic: &str) -> Vec<String> {
    let seqs: Vec<i64> = events.iter().map(|(seq, _)| *seq).collect();
    let expected: Vec<i64> = (1..=events.len() as i64).collect();
    assert_eq!(
        seqs, expected,
        "seqs on {topic} should be 1..=n, contiguous: {events:?}"
    );
    events.iter().map(|(_, kind)| kind.clone()).collect()
}

/// The whole history of a case (one page of up to 100 entries).
async fn history(app: &TestApp, id: i64) -> Vec<Value> {
    let resp = app
        .get(&format!("{}?limit=100", history_path(id)), &app.admin.token)
        .await;
    assert_eq!(resp.status, 200, "history: {}", resp.body);
    resp.data()
        .as_array()
        .unwrap_or_else(|| panic!("history is not a list: {}", resp.body))
        .clone()
}

fn events_of(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("<no event>"))
        .collect()
}

async fn read_case(app: &TestApp, id: i64) -> Value {
    let resp = app.get(&case_path(id), &app.admin.token).await;
    assert_eq!(resp.status, 200, "read case {id}: {}", resp.body);
    resp.data().clone()
}

// ---------------------------------------------------------------------------------------------
// Create and read
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn creating_a_case_returns_201_with_defaults_and_the_caller_as_creator() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;

    let created = app
        .post(
            CASES,
            &agent.token,
            json!({"title": "Caller worried about a neighbour's child", "type": "neglect"}),
        )
        .await;

    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["status"], "success");
    let case = created.data();
    assert!(
        case["id"].as_i64().is_some_and(|id| id > 0),
        "id should be a positive integer: {case}"
    );
    assert_eq!(case["title"], "Caller worried about a neighbour's child");
    assert_eq!(case["type"], "neglect");
    assert_eq!(case["status"], "open", "status defaults to open");
    assert_eq!(case["priority"], "medium", "priority defaults to medium");
    assert_eq!(case["version"], 1, "version starts at 1");
    assert_eq!(case["created_by"], agent.id, "created_by is the caller");
    for nullable in [
        "narrative",
        "channel",
        "client_id",
        "assigned_to",
        "closed_at",
    ] {
        assert!(
            case[nullable].is_null(),
            "{nullable} should be null when not given: {case}"
        );
    }
    let created_at = assert_utc_timestamp(&case["created_at"], "created_at");
    let updated_at = assert_utc_timestamp(&case["updated_at"], "updated_at");
    assert!(
        updated_at >= created_at,
        "updated_at before created_at: {case}"
    );
    let age = chrono::Utc::now().signed_duration_since(created_at);
    assert!(
        age.num_seconds().abs() < 60,
        "created_at should be about now: {case}"
    );
    assert_utc_timestamp(&created.body["timestamp"], "envelope timestamp");
}

#[actix_web::test]
async fn a_created_case_reads_back_with_every_field_it_was_given() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let client_id = create_client(&app, "Amina").await;

    let created = app
        .create_case(
            &app.admin.token,
            json!({
                "title": "Child out of school",
                "narrative": "Mother called: the child has not been to school for two weeks.",
                "type": "child_labour",
                "status": "in_progress",
                "priority": "high",
                "channel": "walk_in",
                "client_id": client_id,
                "assigned_to": agent.id,
            }),
        )
        .await;
    let id = created.id();

    let read = app.get(&case_path(id), &agent.token).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["status"], "success");
    let case = read.data();
    assert_eq!(
        case,
        created.data(),
        "the read case should equal the created one"
    );
    assert_eq!(
        case["narrative"],
        "Mother called: the child has not been to school for two weeks."
    );
    assert_eq!(case["type"], "child_labour");
    assert_eq!(case["status"], "in_progress");
    assert_eq!(case["priority"], "high");
    assert_eq!(case["channel"], "walk_in");
    assert_eq!(case["client_id"], client_id);
    assert_eq!(case["assigned_to"], agent.id);
    assert_eq!(case["created_by"], app.admin.id);
    assert!(
        case["closed_at"].is_null(),
        "an open case has no closed_at: {case}"
    );
}

#[actix_web::test]
async fn every_channel_and_priority_and_status_of_the_contract_is_accepted() {
    let app = spawn_app().await;
    for channel in ["call", "sms", "email", "chat", "whatsapp", "walk_in", "web"] {
        let case = app
            .create_case(&app.admin.token, json!({"channel": channel}))
            .await;
        assert_eq!(case.data()["channel"], channel);
    }
    for priority in ["low", "medium", "high", "critical"] {
        let case = app
            .create_case(&app.admin.token, json!({"priority": priority}))
            .await;
        assert_eq!(case.data()["priority"], priority);
    }
    for status in ["open", "in_progress", "escalated", "closed"] {
        let case = app
            .create_case(&app.admin.token, json!({"status": status}))
            .await;
        assert_eq!(case.data()["status"], status);
    }
}

#[actix_web::test]
async fn a_case_created_closed_has_closed_at_set() {
    let app = spawn_app().await;
    let case = app
        .create_case(&app.admin.token, json!({"status": "closed"}))
        .await;
    assert_utc_timestamp(
        &case.data()["closed_at"],
        "closed_at of a case created closed",
    );
}

#[actix_web::test]
async fn the_title_may_be_200_characters_and_the_narrative_20000() {
    let app = spawn_app().await;
    let title = "t".repeat(200);
    let narrative = "n".repeat(20_000);
    let case = app
        .create_case(
            &app.admin.token,
            json!({"title": title, "narrative": narrative}),
        )
        .await;
    let read = read_case(&app, case.id()).await;
    assert_eq!(read["title"], title);
    assert_eq!(read["narrative"], narrative);
    let slug = "a".repeat(50);
    let case = app
        .create_case(&app.admin.token, json!({"type": slug}))
        .await;
    assert_eq!(
        case.data()["type"],
        slug,
        "a 50-character slug is a valid type"
    );
}

#[actix_web::test]
async fn reading_an_unknown_or_non_numeric_case_id_returns_404() {
    let app = spawn_app().await;
    let supervisor = app.create_user("supervisor").await;
    app.create_case(&app.admin.token, json!({})).await;

    for id in ["999999", "abc", "0", "-1", "1.5", "99999999999999999999999"] {
        let path = format!("{CASES}/{id}");
        assert_error(
            &app.get(&path, &app.admin.token).await,
            404,
            &format!("GET {path}"),
        );
        let put = app
            .put(&path, &app.admin.token, json!({"title": "Changed"}))
            .await;
        assert_error(&put, 404, &format!("PUT {path}"));
        assert_error(
            &app.delete(&path, &supervisor.token).await,
            404,
            &format!("DELETE {path}"),
        );
        let history = app.get(&format!("{path}/history"), &supervisor.token).await;
        assert_error(&history, 404, &format!("GET {path}/history"));
    }
}

#[actix_web::test]
async fn a_soft_deleted_case_reads_as_not_found_everywhere() {
    let app = spawn_app().await;
    let supervisor = app.create_user("supervisor").await;
    let kept = app
        .create_case(&app.admin.token, json!({"title": "Kept"}))
        .await
        .id();
    let id = app
        .create_case(&app.admin.token, json!({"title": "Deleted"}))
        .await
        .id();

    let deleted = app.delete(&case_path(id), &supervisor.token).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.body["status"], "success");

    assert_error(
        &app.get(&case_path(id), &app.admin.token).await,
        404,
        "GET of a deleted case",
    );
    let put = app
        .put(&case_path(id), &app.admin.token, json!({"title": "Back"}))
        .await;
    assert_error(&put, 404, "PUT of a deleted case");
    assert_error(
        &app.delete(&case_path(id), &supervisor.token).await,
        404,
        "second DELETE",
    );
    assert_error(
        &app.get(&history_path(id), &supervisor.token).await,
        404,
        "history of a deleted case",
    );
    let all = list(&app, &app.admin.token, &[]).await;
    assert_eq!(
        ids(&all),
        vec![kept],
        "a deleted case should leave the list"
    );
    assert_eq!(
        all.body["pagination"]["total"], 1,
        "a deleted case should not be counted"
    );
    assert!(
        matching(&app, &app.admin.token, &[("q", "Deleted")])
            .await
            .is_empty()
    );
}

#[actix_web::test]
async fn cases_routes_require_a_token() {
    let app = spawn_app().await;
    let id = app.create_case(&app.admin.token, json!({})).await.id();
    let body = json!({"title": "No token", "type": "abuse"});
    for (method, path, body) in [
        (Method::GET, CASES.to_string(), None),
        (Method::POST, CASES.to_string(), Some(&body)),
        (Method::GET, case_path(id), None),
        (Method::PUT, case_path(id), Some(&body)),
        (Method::DELETE, case_path(id), None),
        (Method::GET, history_path(id), None),
    ] {
        let what = format!("{method} {path} without a token");
        let resp = app.request(method, &path, None, body).await;
        assert_error(&resp, 401, &what);
    }
    assert_eq!(total(&app).await, 1, "nothing should have been created");
    assert_eq!(
        read_case(&app, id).await["version"],
        1,
        "nothing should have changed"
    );
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn invalid_case_bodies_are_rejected_with_400_naming_the_field_and_create_nothing() {
    let app = spawn_app().await;
    let gone = deactivated_user(&app).await;
    let client_id = create_client(&app, "Existing client").await;
    app.create_case(&app.admin.token, json!({"client_id": client_id}))
        .await;
    let before = total(&app).await;

    let valid = json!({"title": "A valid title", "type": "abuse"});
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("missing title", json!({"type": "abuse"}), "title"),
        ("missing type", json!({"title": "No type"}), "type"),
        ("empty title", with("title", json!("")), "title"),
        (
            "whitespace-only title",
            with("title", json!("   \t ")),
            "title",
        ),
        ("null title", with("title", Value::Null), "title"),
        (
            "title of 201 characters",
            with("title", json!("x".repeat(201))),
            "title",
        ),
        (
            "narrative of 20001 characters",
            with("narrative", json!("n".repeat(20_001))),
            "narrative",
        ),
        (
            "type with capitals and a space",
            with("type", json!("Child Abuse")),
            "type",
        ),
        (
            "type with a hyphen",
            with("type", json!("child-abuse")),
            "type",
        ),
        (
            "type of 51 characters",
            with("type", json!("a".repeat(51))),
            "type",
        ),
        ("empty type", with("type", json!("")), "type"),
        (
            "status outside the list",
            with("status", json!("pending")),
            "status",
        ),
        (
            "status in capitals",
            with("status", json!("OPEN")),
            "status",
        ),
        ("null status", with("status", Value::Null), "status"),
        (
            "priority outside the list",
            with("priority", json!("urgent")),
            "priority",
        ),
        (
            "channel outside the list",
            with("channel", json!("fax")),
            "channel",
        ),
        ("title as a number", with("title", json!(42)), "title"),
        ("type as a list", with("type", json!(["abuse"])), "type"),
        (
            "narrative as an object",
            with("narrative", json!({"text": "x"})),
            "narrative",
        ),
        (
            "priority as a number",
            with("priority", json!(3)),
            "priority",
        ),
        (
            "channel as a boolean",
            with("channel", json!(true)),
            "channel",
        ),
        (
            "client_id as a string",
            with("client_id", json!(client_id.to_string())),
            "client_id",
        ),
        (
            "client_id as a fraction",
            with("client_id", json!(1.5)),
            "client_id",
        ),
        (
            "client_id of zero",
            with("client_id", json!(0)),
            "client_id",
        ),
        (
            "client_id that does not exist",
            with("client_id", json!(999_999)),
            "client_id",
        ),
        (
            "assigned_to as a string",
            with("assigned_to", json!("me")),
            "assigned_to",
        ),
        (
            "assigned_to of no user",
            with("assigned_to", json!(999_999)),
            "assigned_to",
        ),
        (
            "assigned_to of a deactivated user",
            with("assigned_to", json!(gone.id)),
            "assigned_to",
        ),
        ("unknown field", with("colour", json!("red")), "colour"),
        ("misspelt field", with("priorty", json!("high")), "priorty"),
        ("read-only id", with("id", json!(77)), "id"),
        (
            "read-only created_at",
            with("created_at", json!("2026-01-01T00:00:00Z")),
            "created_at",
        ),
        (
            "read-only created_by",
            with("created_by", json!(app.admin.id)),
            "created_by",
        ),
        (
            "read-only updated_at",
            with("updated_at", json!("2026-01-01T00:00:00Z")),
            "updated_at",
        ),
        (
            "read-only closed_at",
            with("closed_at", json!("2026-01-01T00:00:00Z")),
            "closed_at",
        ),
        ("read-only version", with("version", json!(5)), "version"),
    ];

    for (description, body, field) in cases {
        let resp = app.post(CASES, &app.admin.token, body).await;
        assert_error(&resp, 400, description);
        assert!(
            resp.error_fields().iter().any(|f| f == field),
            "{description}: errors should name {field:?}, got {}",
            resp.body
        );
        assert_eq!(
            total(&app).await,
            before,
            "{description}: nothing should have been created"
        );
    }
}

#[actix_web::test]
async fn every_problem_of_a_body_is_reported_at_once() {
    let app = spawn_app().await;
    let resp = app
        .post(
            CASES,
            &app.admin.token,
            json!({"title": "", "type": "Bad Type", "priority": "urgent"}),
        )
        .await;
    assert_error(&resp, 400, "three bad fields");
    let fields: BTreeSet<String> = resp.error_fields().into_iter().collect();
    for field in ["title", "type", "priority"] {
        assert!(
            fields.contains(field),
            "errors should name {field}: {}",
            resp.body
        );
    }
    assert_eq!(total(&app).await, 0);
}

#[actix_web::test]
async fn a_body_that_is_not_a_json_object_is_rejected_with_400() {
    let app = spawn_app().await;
    for (description, body) in [
        ("a list", json!([{"title": "x", "type": "abuse"}])),
        ("a string", json!("case")),
    ] {
        assert_error(
            &app.post(CASES, &app.admin.token, body).await,
            400,
            description,
        );
    }
    let malformed = app
        .client
        .post(app.url(CASES))
        .bearer_auth(&app.admin.token)
        .header("Content-Type", "application/json")
        .body("{\"title\": \"unterminated")
        .send()
        .await
        .expect("request sent");
    assert_error(&read(malformed).await, 400, "malformed JSON");
    assert_eq!(total(&app).await, 0, "nothing should have been created");
}

// ---------------------------------------------------------------------------------------------
// Partial update
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_partial_update_changes_only_the_given_fields() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let client_id = create_client(&app, "Kofi").await;
    let created = app
        .create_case(
            &app.admin.token,
            json!({"narrative": "First call", "channel": "call", "client_id": client_id, "assigned_to": agent.id}),
        )
        .await;
    let before = created.data().clone();

    let updated = app
        .put(
            &case_path(created.id()),
            &app.admin.token,
            json!({"priority": "critical"}),
        )
        .await;

    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["status"], "success");
    let after = updated.data();
    assert_eq!(after["priority"], "critical");
    assert_eq!(after["version"], 2);
    for unchanged in [
        "id",
        "title",
        "narrative",
        "type",
        "status",
        "channel",
        "client_id",
        "assigned_to",
        "created_by",
        "created_at",
        "closed_at",
    ] {
        assert_eq!(
            after[unchanged], before[unchanged],
            "{unchanged} should not change on a priority update"
        );
    }
    assert!(
        assert_utc_timestamp(&after["updated_at"], "updated_at")
            >= assert_utc_timestamp(&before["updated_at"], "old updated_at"),
        "updated_at should not go back: {after}"
    );
    assert_eq!(
        &read_case(&app, created.id()).await,
        after,
        "the update should be stored"
    );
}

#[actix_web::test]
async fn every_writable_field_can_be_updated_at_once() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let client_id = create_client(&app, "Lindiwe").await;
    let id = app.create_case(&app.admin.token, json!({})).await.id();

    let changes = json!({
        "title": "Escalated to the police",
        "narrative": "Second call: the situation got worse.",
        "type": "physical_abuse",
        "status": "escalated",
        "priority": "high",
        "channel": "whatsapp",
        "client_id": client_id,
        "assigned_to": agent.id,
    });
    let updated = app
        .put(&case_path(id), &app.admin.token, changes.clone())
        .await;

    assert_eq!(updated.status, 200, "{}", updated.body);
    let case = read_case(&app, id).await;
    for (field, value) in changes.as_object().expect("object") {
        assert_eq!(&case[field], value, "{field} should be updated");
    }
    assert_eq!(
        case["version"], 2,
        "one update is one change of version, however many fields"
    );
}

#[actix_web::test]
async fn null_clears_each_nullable_field() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let client_id = create_client(&app, "Tendai").await;
    let id = app
        .create_case(
            &app.admin.token,
            json!({"narrative": "Some story", "channel": "sms", "client_id": client_id, "assigned_to": agent.id}),
        )
        .await
        .id();

    let mut version = 1;
    for field in ["narrative", "channel", "client_id", "assigned_to"] {
        let updated = app
            .put(&case_path(id), &app.admin.token, json!({ field: null }))
            .await;
        assert_eq!(updated.status, 200, "clearing {field}: {}", updated.body);
        version += 1;
        assert!(
            updated.data()[field].is_null(),
            "{field} should be cleared: {}",
            updated.body
        );
        assert_eq!(
            updated.data()["version"],
            version,
            "clearing {field} is a change"
        );
        let read = read_case(&app, id).await;
        assert!(read[field].is_null(), "{field} should stay cleared: {read}");
    }
    let read = read_case(&app, id).await;
    assert_eq!(
        read["title"], "Caller worried about a child",
        "the title was never touched"
    );
}

#[actix_web::test]
async fn null_is_refused_for_fields_that_cannot_be_empty() {
    let app = spawn_app().await;
    let id = app.create_case(&app.admin.token, json!({})).await.id();
    for field in ["title", "type", "status", "priority"] {
        let resp = app
            .put(&case_path(id), &app.admin.token, json!({ field: null }))
            .await;
        assert_error(&resp, 400, &format!("{field}: null"));
        assert!(
            resp.error_fields().iter().any(|f| f == field),
            "errors should name {field}: {}",
            resp.body
        );
    }
    let case = read_case(&app, id).await;
    assert_eq!(case["version"], 1);
    assert_eq!(case["status"], "open");
}

#[actix_web::test]
async fn each_change_increments_the_version_by_one() {
    let app = spawn_app().await;
    let id = app.create_case(&app.admin.token, json!({})).await.id();
    for (i, body) in [
        json!({"title": "Second title"}),
        json!({"priority": "low"}),
        json!({"status": "in_progress", "channel": "chat"}),
        json!({"narrative": "Notes"}),
        json!({"narrative": null}),
    ]
    .into_iter()
    .enumerate()
    {
        let updated = app
            .put(&case_path(id), &app.admin.token, body.clone())
            .await;
        assert_eq!(updated.status, 200, "{body}: {}", updated.body);
        assert_eq!(updated.data()["version"], i as i64 + 2, "after {body}");
    }
    assert_eq!(read_case(&app, id).await["version"], 6);
}

#[actix_web::test]
async fn an_update_that_changes_nothing_returns_200_with_the_same_version() {
    let app = spawn_app().await;
    let created = app
        .create_case(
            &app.admin.token,
            json!({"priority": "high", "channel": "sms"}),
        )
        .await;
    let id = created.id();

    for body in [
        json!({}),
        json!({"title": "Caller worried about a child"}),
        json!({"priority": "high", "channel": "sms", "narrative": null, "assigned_to": null}),
        json!({"status": "open", "version": 1}),
    ] {
        let resp = app
            .put(&case_path(id), &app.admin.token, body.clone())
            .await;
        assert_eq!(resp.status, 200, "{body}: {}", resp.body);
        assert_eq!(resp.data()["version"], 1, "{body} changes nothing");
        assert_eq!(
            resp.data(),
            created.data(),
            "{body} changes nothing, updated_at included"
        );
    }
    assert_eq!(read_case(&app, id).await, *created.data());
    let events = contiguous_types(&app.topic_events(&format!("case:{id}")).await, "case");
    assert_eq!(
        events,
        ["case.created"],
        "an update that changes nothing publishes nothing"
    );
}

#[actix_web::test]
async fn invalid_update_bodies_are_rejected_with_400_and_change_nothing() {
    let app = spawn_app().await;
    let gone = deactivated_user(&app).await;
    let created = app
        .create_case(&app.admin.token, json!({"narrative": "Untouched"}))
        .await;
    let id = created.id();

    let cases: Vec<(&str, Value, &str)> = vec![
        ("read-only id", json!({"id": 5}), "id"),
        (
            "read-only created_by",
            json!({"created_by": gone.id}),
            "created_by",
        ),
        (
            "read-only created_at",
            json!({"created_at": "2020-01-01T00:00:00Z"}),
            "created_at",
        ),
        (
            "read-only updated_at",
            json!({"updated_at": "2020-01-01T00:00:00Z"}),
            "updated_at",
        ),
        (
            "read-only closed_at",
            json!({"closed_at": "2020-01-01T00:00:00Z"}),
            "closed_at",
        ),
        (
            "read-only field next to a valid change",
            json!({"title": "New", "id": 5}),
            "id",
        ),
        (
            "unknown field",
            json!({"title": "New", "severity": "high"}),
            "severity",
        ),
        ("empty title", json!({"title": ""}), "title"),
        ("whitespace-only title", json!({"title": "   "}), "title"),
        (
            "title of 201 characters",
            json!({"title": "x".repeat(201)}),
            "title",
        ),
        (
            "narrative of 20001 characters",
            json!({"narrative": "n".repeat(20_001)}),
            "narrative",
        ),
        (
            "type that is not a slug",
            json!({"type": "Child Abuse"}),
            "type",
        ),
        (
            "status outside the list",
            json!({"status": "done"}),
            "status",
        ),
        (
            "priority outside the list",
            json!({"priority": "urgent"}),
            "priority",
        ),
        (
            "channel outside the list",
            json!({"channel": "pigeon"}),
            "channel",
        ),
        (
            "version as a string",
            json!({"title": "New", "version": "1"}),
            "version",
        ),
        (
            "version null",
            json!({"title": "New", "version": null}),
            "version",
        ),
        (
            "client_id that does not exist",
            json!({"client_id": 999_999}),
            "client_id",
        ),
        (
            "assigned_to of no user",
            json!({"assigned_to": 999_999}),
            "assigned_to",
        ),
        (
            "assigned_to of a deactivated user",
            json!({"assigned_to": gone.id}),
            "assigned_to",
        ),
    ];

    for (description, body, field) in cases {
        let resp = app.put(&case_path(id), &app.admin.token, body).await;
        assert_error(&resp, 400, description);
        assert!(
            resp.error_fields().iter().any(|f| f == field),
            "{description}: errors should name {field:?}, got {}",
            resp.body
        );
        assert_eq!(
            read_case(&app, id).await,
            *created.data(),
            "{description}: the case should not change"
        );
    }
    let events = contiguous_types(&app.topic_events(&format!("case:{id}")).await, "case");
    assert_eq!(events, ["case.created"], "rejected updates publish nothing");
}

#[actix_web::test]
async fn stale_version_on_update_returns_409_and_changes_nothing() {
    let app = spawn_app().await;
    let id = app.create_case(&app.admin.token, json!({})).await.id();
    let first = app
        .put(
            &case_path(id),
            &app.admin.token,
            json!({"title": "First edit", "version": 1}),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.data()["version"], 2);
    let before = read_case(&app, id).await;

    for stale in [1, 3, 99] {
        let resp = app
            .put(
                &case_path(id),
                &app.admin.token,
                json!({"title": "Lost edit", "priority": "critical", "version": stale}),
            )
            .await;
        assert_error(&resp, 409, &format!("version {stale} while 2 is current"));
        assert_eq!(
            read_case(&app, id).await,
            before,
            "version {stale}: nothing should change"
        );
    }

    let current = app
        .put(
            &case_path(id),
            &app.admin.token,
            json!({"title": "Second edit", "version": 2}),
        )
        .await;
    assert_eq!(
        current.status, 200,
        "the current version is accepted: {}",
        current.body
    );
    assert_eq!(current.data()["version"], 3);
    assert_eq!(current.data()["title"], "Second edit");
    let events = contiguous_types(&app.topic_events(&format!("case:{id}")).await, "case");
    assert_eq!(
        events,
        ["case.created", "case.updated", "case.updated"],
        "a 409 publishes nothing"
    );
}

#[actix_web::test]
async fn closing_a_case_sets_closed_at_and_reopening_clears_it() {
    let app = spawn_app().await;
    let id = app.create_case(&app.admin.token, json!({})).await.id();

    let closed = app
        .put(
            &case_path(id),
            &app.admin.token,
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(closed.data()["status"], "closed");
    let closed_at = assert_utc_timestamp(&closed.data()["closed_at"], "closed_at");
    assert!(
        chrono::Utc::now()
            .signed_duration_since(closed_at)
            .num_seconds()
            .abs()
            < 60,
        "closed_at should be about now"
    );
    assert_eq!(
        read_case(&app, id).await["closed_at"],
        closed.data()["closed_at"]
    );

    // Editing a closed case without reopening it keeps the time it was closed.
    let edited = app
        .put(
            &case_path(id),
            &app.admin.token,
            json!({"narrative": "Follow-up note"}),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(edited.data()["closed_at"], closed.data()["closed_at"]);

    let reopened = app
        .put(
            &case_path(id),
            &app.admin.token,
            json!({"status": "in_progress"}),
        )
        .await;
    assert_eq!(reopened.status, 200, "{}", reopened.body);
    assert_eq!(reopened.data()["status"], "in_progress");
    assert!(
        reopened.data()["closed_at"].is_null(),
        "reopening clears closed_at: {}",
        reopened.body
    );
    assert!(read_case(&app, id).await["closed_at"].is_null());
}

// ---------------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn an_agent_may_update_an_unassigned_case_or_one_assigned_to_them() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let unassigned = app.create_case(&app.admin.token, json!({})).await.id();
    let theirs = app
        .create_case(&app.admin.token, json!({"assigned_to": agent.id}))
        .await
        .id();

    for id in [unassigned, theirs] {
        let resp = app
            .put(
                &case_path(id),
                &agent.token,
                json!({"priority": "high", "status": "in_progress"}),
            )
            .await;
        assert_eq!(resp.status, 200, "case {id}: {}", resp.body);
        assert_eq!(read_case(&app, id).await["priority"], "high");
    }
    // An agent may also take an unassigned case and close cases they may update.
    let took = app
        .put(
            &case_path(unassigned),
            &agent.token,
            json!({"assigned_to": agent.id}),
        )
        .await;
    assert_eq!(took.status, 200, "{}", took.body);
    let closed = app
        .put(
            &case_path(theirs),
            &agent.token,
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
}

#[actix_web::test]
async fn an_agent_gets_403_updating_a_case_assigned_to_someone_else() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let colleague = app.create_user("agent").await;
    let created = app
        .create_case(&app.admin.token, json!({"assigned_to": colleague.id}))
        .await;
    let id = created.id();

    for body in [
        json!({"title": "Taken over"}),
        json!({"assigned_to": agent.id}),
        json!({"assigned_to": null}),
    ] {
        let resp = app.put(&case_path(id), &agent.token, body.clone()).await;
        assert_error(
            &resp,
            403,
            &format!("agent PUT {body} on a colleague's case"),
        );
        assert_eq!(
            read_case(&app, id).await,
            *created.data(),
            "{body}: nothing should change"
        );
    }
    // The colleague and a supervisor may.
    let own = app
        .put(
            &case_path(id),
            &colleague.token,
            json!({"title": "Colleague's edit"}),
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    let supervisor = app.create_user("supervisor").await;
    let sup = app
        .put(
            &case_path(id),
            &supervisor.token,
            json!({"title": "Supervisor's edit"}),
        )
        .await;
    assert_eq!(sup.status, 200, "{}", sup.body);
}

#[actix_web::test]
async fn an_agent_gets_403_reopening_a_closed_case_and_a_supervisor_or_admin_may_reopen_it() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let id = app
        .create_case(&agent.token, json!({"assigned_to": agent.id}))
        .await
        .id();
    let closed = app
        .put(&case_path(id), &agent.token, json!({"status": "closed"}))
        .await;
    assert_eq!(
        closed.status, 200,
        "an agent may close their case: {}",
        closed.body
    );

    for status in ["open", "in_progress", "escalated"] {
        let resp = app
            .put(&case_path(id), &agent.token, json!({"status": status}))
            .await;
        assert_error(&resp, 403, &format!("agent reopening to {status}"));
        let case = read_case(&app, id).await;
        assert_eq!(case["status"], "closed", "{status}: the case stays closed");
        assert_eq!(case["version"], 2, "{status}: nothing changes");
    }

    let reopened = app
        .put(&case_path(id), &supervisor.token, json!({"status": "open"}))
        .await;
    assert_eq!(
        reopened.status, 200,
        "a supervisor may reopen: {}",
        reopened.body
    );
    assert!(reopened.data()["closed_at"].is_null());
    let closed = app
        .put(&case_path(id), &agent.token, json!({"status": "closed"}))
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let reopened = app
        .put(
            &case_path(id),
            &app.admin.token,
            json!({"status": "escalated"}),
        )
        .await;
    assert_eq!(
        reopened.status, 200,
        "an admin may reopen: {}",
        reopened.body
    );
    assert_eq!(reopened.data()["status"], "escalated");
}

#[actix_web::test]
async fn an_agent_gets_403_deleting_a_case_and_a_supervisor_may_delete_it() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let id = app
        .create_case(&agent.token, json!({"assigned_to": agent.id}))
        .await
        .id();

    assert_error(
        &app.delete(&case_path(id), &agent.token).await,
        403,
        "agent DELETE of their own case",
    );
    assert_eq!(
        read_case(&app, id).await["version"],
        1,
        "the case is still there"
    );

    let deleted = app.delete(&case_path(id), &supervisor.token).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_error(
        &app.get(&case_path(id), &agent.token).await,
        404,
        "read after delete",
    );

    let other = app.create_case(&agent.token, json!({})).await.id();
    let deleted = app.delete(&case_path(other), &app.admin.token).await;
    assert_eq!(deleted.status, 200, "an admin may delete: {}", deleted.body);
}

#[actix_web::test]
async fn an_agent_gets_403_reading_case_history_and_a_supervisor_may_read_it() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let id = app
        .create_case(&agent.token, json!({"assigned_to": agent.id}))
        .await
        .id();

    assert_error(
        &app.get(&history_path(id), &agent.token).await,
        403,
        "agent reading history of their own case",
    );
    for (who, token) in [
        ("supervisor", &supervisor.token),
        ("admin", &app.admin.token),
    ] {
        let resp = app.get(&history_path(id), token).await;
        assert_eq!(resp.status, 200, "{who}: {}", resp.body);
        assert!(
            resp.data().is_array(),
            "{who}: history is a list: {}",
            resp.body
        );
    }
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn history_lists_each_change_oldest_first_with_who_and_what() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let id = app
        .create_case(&agent.token, json!({"title": "Original title"}))
        .await
        .id();
    let renamed = app
        .put(
            &case_path(id),
            &supervisor.token,
            json!({"title": "Better title", "priority": "high"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let closed = app
        .put(
            &case_path(id),
            &supervisor.token,
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);

    let resp = app.get(&history_path(id), &supervisor.token).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let entries = resp.data().as_array().expect("history list").clone();
    assert_eq!(
        events_of(&entries),
        ["case.created", "case.updated", "case.closed"],
        "{}",
        resp.body
    );

    let mut previous = None;
    for entry in &entries {
        for key in ["event", "user_id", "changes", "timestamp"] {
            assert!(
                entry.get(key).is_some(),
                "history entry without {key}: {entry}"
            );
        }
        assert!(
            entry["changes"].is_object(),
            "changes is an object: {entry}"
        );
        let at = assert_utc_timestamp(&entry["timestamp"], "history timestamp");
        assert!(
            previous.is_none_or(|p| p <= at),
            "history should be oldest first: {}",
            resp.body
        );
        previous = Some(at);
    }
    assert_eq!(entries[0]["user_id"], agent.id, "the creator");
    let update = &entries[1];
    assert_eq!(update["user_id"], supervisor.id);
    assert_eq!(
        update["changes"]["title"],
        json!({"from": "Original title", "to": "Better title"})
    );
    assert_eq!(
        update["changes"]["priority"],
        json!({"from": "medium", "to": "high"})
    );
    assert!(
        update["changes"].get("status").is_none(),
        "only changed fields are listed: {update}"
    );
    let close = &entries[2];
    assert_eq!(close["user_id"], supervisor.id);
    assert_eq!(
        close["changes"]["status"],
        json!({"from": "open", "to": "closed"})
    );
}

#[actix_web::test]
async fn fifty_simultaneous_reads_are_each_recorded_once_before_they_answer() {
    let app = spawn_app().await;
    let supervisor = app.create_user("supervisor").await;
    let agents = [
        app.create_user("agent").await,
        app.create_user("agent").await,
    ];
    let id = app.create_case(&app.admin.token, json!({})).await.id();

    // Views that arrive together are written together; each read still answers only after
    // its own view is stored.
    let reads = (0..50).map(|n| {
        let token = agents[n % 2].token.clone();
        let app = &app;
        async move { app.get(&case_path(id), &token).await.status }
    });
    let statuses = join_all(reads).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    let history = app
        .get(
            &format!("{}?limit=100", history_path(id)),
            &supervisor.token,
        )
        .await;
    let entries = history.data().as_array().expect("history list");
    let views: Vec<&Value> = entries
        .iter()
        .filter(|e| e["event"] == "case.viewed")
        .map(|e| &e["user_id"])
        .collect();
    assert_eq!(views.len(), 50, "{}", history.body);
    for agent in &agents {
        let by_agent = views.iter().filter(|v| ***v == json!(agent.id)).count();
        assert_eq!(by_agent, 25, "views by agent {}", agent.id);
    }
}

#[actix_web::test]
async fn each_read_of_a_case_adds_a_case_viewed_entry_with_the_viewer() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let id = app.create_case(&app.admin.token, json!({})).await.id();

    for token in [&agent.token, &supervisor.token, &agent.token] {
        let read = app.get(&case_path(id), token).await;
        assert_eq!(read.status, 200, "{}", read.body);
    }
    let updated = app
        .put(&case_path(id), &agent.token, json!({"priority": "low"}))
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);

    let resp = app.get(&history_path(id), &supervisor.token).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let entries = resp.data().as_array().expect("history list");
    assert_eq!(
        events_of(entries),
        [
            "case.created",
            "case.viewed",
            "case.viewed",
            "case.viewed",
            "case.updated"
        ],
        "{}",
        resp.body
    );
    let viewers: Vec<&Value> = entries[1..4].iter().map(|e| &e["user_id"]).collect();
    assert_eq!(
        viewers,
        [&json!(agent.id), &json!(supervisor.id), &json!(agent.id)]
    );
    // Reading a list is not opening a case.
    ids(&list(&app, &agent.token, &[]).await);
    let after_list = app.get(&history_path(id), &supervisor.token).await;
    let viewed = events_of(after_list.data().as_array().expect("history list"))
        .iter()
        .filter(|e| **e == "case.viewed")
        .count();
    assert_eq!(
        viewed, 3,
        "listing cases records no view: {}",
        after_list.body
    );
}

#[actix_web::test]
async fn deleting_a_case_records_case_deleted_and_its_history_then_reads_as_not_found() {
    let app = spawn_app().await;
    let supervisor = app.create_user("supervisor").await;
    let id = app.create_case(&app.admin.token, json!({})).await.id();
    assert_eq!(events_of(&history(&app, id).await), ["case.created"]);

    let deleted = app.delete(&case_path(id), &supervisor.token).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);

    assert_error(
        &app.get(&history_path(id), &supervisor.token).await,
        404,
        "history of a deleted case",
    );
    let events = app.topic_events(&format!("case:{id}")).await;
    assert_eq!(
        contiguous_types(&events, "case"),
        ["case.created", "case.deleted"]
    );
}

// ---------------------------------------------------------------------------------------------
// List: paging, parameters, filters, sorting
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn listing_25_cases_by_10_gives_3_pages_and_an_empty_page_past_the_end() {
    let app = spawn_app().await;
    let mut created = BTreeSet::new();
    for i in 0..25 {
        created.insert(
            app.create_case(&app.admin.token, json!({"title": format!("Case {i}")}))
                .await
                .id(),
        );
    }

    let mut seen = Vec::new();
    for (page, expected_len) in [("1", 10), ("2", 10), ("3", 5), ("4", 0)] {
        let resp = list(&app, &app.admin.token, &[("limit", "10"), ("page", page)]).await;
        let page_ids = ids(&resp);
        assert_eq!(page_ids.len(), expected_len, "page {page}: {}", resp.body);
        assert_eq!(
            resp.body["pagination"],
            json!({"page": page.parse::<i64>().expect("page"), "limit": 10, "total": 25, "pages": 3}),
            "page {page}"
        );
        assert_eq!(resp.body["status"], "success");
        seen.extend(page_ids);
    }
    assert_eq!(seen.len(), 25, "no case should appear twice across pages");
    assert_eq!(
        seen.into_iter().collect::<BTreeSet<_>>(),
        created,
        "every case should appear once"
    );

    let default = list(&app, &app.admin.token, &[]).await;
    assert_eq!(ids(&default).len(), 20, "the default limit is 20");
    assert_eq!(
        default.body["pagination"],
        json!({"page": 1, "limit": 20, "total": 25, "pages": 2})
    );
    let all = list(&app, &app.admin.token, &[("limit", "100")]).await;
    assert_eq!(ids(&all).len(), 25);
    assert_eq!(
        all.body["pagination"],
        json!({"page": 1, "limit": 100, "total": 25, "pages": 1})
    );
}

#[actix_web::test]
async fn an_empty_list_has_zero_total_and_zero_pages() {
    let app = spawn_app().await;
    let resp = list(&app, &app.admin.token, &[]).await;
    assert!(ids(&resp).is_empty());
    assert_eq!(
        resp.body["pagination"],
        json!({"page": 1, "limit": 20, "total": 0, "pages": 0})
    );
}

#[actix_web::test]
async fn bad_list_parameters_are_rejected_with_400_naming_the_parameter() {
    let app = spawn_app().await;
    app.create_case(&app.admin.token, json!({})).await;
    let cases: &[BadQuery] = &[
        ("page 0", &[("page", "0")], "page"),
        ("negative page", &[("page", "-1")], "page"),
        ("page that is not a number", &[("page", "two")], "page"),
        ("empty page", &[("page", "")], "page"),
        ("limit 0", &[("limit", "0")], "limit"),
        ("limit 101", &[("limit", "101")], "limit"),
        ("limit that is not a number", &[("limit", "ten")], "limit"),
        ("sort by an unknown field", &[("sort", "colour")], "sort"),
        ("sort by SQL", &[("sort", "id; DROP TABLE cases")], "sort"),
        (
            "order that is neither asc nor desc",
            &[("order", "up")],
            "order",
        ),
        (
            "status outside the list",
            &[("status", "pending")],
            "status",
        ),
        (
            "one bad status in a list",
            &[("status", "open,pending")],
            "status",
        ),
        (
            "priority outside the list",
            &[("priority", "urgent")],
            "priority",
        ),
        ("channel outside the list", &[("channel", "fax")], "channel"),
        (
            "type that is not a slug",
            &[("type", "Child Abuse")],
            "type",
        ),
        (
            "assigned_to that is a word",
            &[("assigned_to", "nobody")],
            "assigned_to",
        ),
        ("assigned_to zero", &[("assigned_to", "0")], "assigned_to"),
        (
            "client_id that is not a number",
            &[("client_id", "abc")],
            "client_id",
        ),
        (
            "created_after that is not a date",
            &[("created_after", "yesterday")],
            "created_after",
        ),
        (
            "created_before with month 13",
            &[("created_before", "2026-13-01")],
            "created_before",
        ),
        ("unknown parameter", &[("colour", "red")], "colour"),
        ("misspelt filter", &[("stauts", "open")], "stauts"),
        (
            "unknown parameter next to good ones",
            &[("page", "1"), ("search", "x")],
            "search",
        ),
    ];
    for (description, query, field) in cases {
        let resp = list(&app, &app.admin.token, query).await;
        assert_error(&resp, 400, description);
        assert!(
            resp.error_fields().iter().any(|f| f == field),
            "{description}: errors should name {field:?}, got {}",
            resp.body
        );
    }
}

#[actix_web::test]
async fn filtering_by_status_accepts_one_value_or_a_comma_list() {
    let app = spawn_app().await;
    let mut by_status = Vec::new();
    for status in ["open", "in_progress", "escalated", "closed"] {
        by_status.push(
            app.create_case(&app.admin.token, json!({"status": status}))
                .await
                .id(),
        );
    }
    let [open, in_progress, escalated, closed] = by_status[..] else {
        unreachable!()
    };
    let token = &app.admin.token;

    assert_eq!(
        matching(&app, token, &[("status", "open")]).await,
        set(&[open])
    );
    assert_eq!(
        matching(&app, token, &[("status", "closed")]).await,
        set(&[closed])
    );
    assert_eq!(
        matching(&app, token, &[("status", "open,escalated")]).await,
        set(&[open, escalated])
    );
    assert_eq!(
        matching(&app, token, &[("status", "in_progress,escalated,closed")]).await,
        set(&[in_progress, escalated, closed])
    );
    let resp = list(&app, token, &[("status", "open,escalated")]).await;
    assert_eq!(
        resp.body["pagination"]["total"], 2,
        "total counts the filtered cases"
    );
}

#[actix_web::test]
async fn filtering_by_type_priority_and_channel_returns_only_matching_cases() {
    let app = spawn_app().await;
    let token = &app.admin.token;
    let a = app
        .create_case(
            token,
            json!({"type": "abuse", "priority": "low", "channel": "call"}),
        )
        .await
        .id();
    let b = app
        .create_case(
            token,
            json!({"type": "neglect", "priority": "high", "channel": "sms"}),
        )
        .await
        .id();
    let c = app
        .create_case(token, json!({"type": "counselling", "priority": "high"}))
        .await
        .id();
    let d = app
        .create_case(
            token,
            json!({"type": "neglect", "priority": "critical", "channel": "walk_in"}),
        )
        .await
        .id();

    assert_eq!(
        matching(&app, token, &[("type", "neglect")]).await,
        set(&[b, d])
    );
    assert_eq!(
        matching(&app, token, &[("type", "abuse,counselling")]).await,
        set(&[a, c])
    );
    assert!(
        matching(&app, token, &[("type", "trafficking")])
            .await
            .is_empty()
    );
    assert_eq!(
        matching(&app, token, &[("priority", "high")]).await,
        set(&[b, c])
    );
    assert_eq!(
        matching(&app, token, &[("priority", "low,critical")]).await,
        set(&[a, d])
    );
    assert_eq!(
        matching(&app, token, &[("channel", "sms")]).await,
        set(&[b])
    );
    assert_eq!(
        matching(&app, token, &[("channel", "call,walk_in")]).await,
        set(&[a, d])
    );
    assert_eq!(
        matching(&app, token, &[("type", "neglect"), ("priority", "high")]).await,
        set(&[b]),
        "filters combine with AND"
    );
}

#[actix_web::test]
async fn filtering_by_assigned_to_accepts_an_id_me_none_and_a_list() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let colleague = app.create_user("agent").await;
    let token = &app.admin.token;
    let mine = app
        .create_case(token, json!({"assigned_to": agent.id}))
        .await
        .id();
    let theirs = app
        .create_case(token, json!({"assigned_to": colleague.id}))
        .await
        .id();
    let nobodys = app.create_case(token, json!({})).await.id();

    let colleague_id = colleague.id.to_string();
    let agent_id = agent.id.to_string();
    assert_eq!(
        matching(
            &app,
            &agent.token,
            &[("assigned_to", colleague_id.as_str())]
        )
        .await,
        set(&[theirs])
    );
    assert_eq!(
        matching(&app, &agent.token, &[("assigned_to", "me")]).await,
        set(&[mine])
    );
    assert_eq!(
        matching(&app, &colleague.token, &[("assigned_to", "me")]).await,
        set(&[theirs])
    );
    assert!(
        matching(&app, token, &[("assigned_to", "me")])
            .await
            .is_empty(),
        "the admin has no cases"
    );
    assert_eq!(
        matching(&app, &agent.token, &[("assigned_to", "none")]).await,
        set(&[nobodys])
    );
    assert_eq!(
        matching(&app, &agent.token, &[("assigned_to", "me,none")]).await,
        set(&[mine, nobodys])
    );
    let both = format!("{agent_id},{colleague_id}");
    assert_eq!(
        matching(&app, token, &[("assigned_to", both.as_str())]).await,
        set(&[mine, theirs])
    );
    assert!(
        matching(&app, token, &[("assigned_to", "999999")])
            .await
            .is_empty()
    );
}

#[actix_web::test]
async fn filtering_by_client_id_returns_only_that_clients_cases() {
    let app = spawn_app().await;
    let token = &app.admin.token;
    let first_client = create_client(&app, "First").await;
    let second_client = create_client(&app, "Second").await;
    let a = app
        .create_case(token, json!({"client_id": first_client}))
        .await
        .id();
    let b = app
        .create_case(token, json!({"client_id": first_client}))
        .await
        .id();
    let c = app
        .create_case(token, json!({"client_id": second_client}))
        .await
        .id();
    app.create_case(token, json!({})).await;

    let first = first_client.to_string();
    let second = second_client.to_string();
    assert_eq!(
        matching(&app, token, &[("client_id", first.as_str())]).await,
        set(&[a, b])
    );
    assert_eq!(
        matching(&app, token, &[("client_id", second.as_str())]).await,
        set(&[c])
    );
    let both = format!("{first},{second}");
    assert_eq!(
        matching(&app, token, &[("client_id", both.as_str())]).await,
        set(&[a, b, c])
    );
    assert!(
        matching(&app, token, &[("client_id", "999999")])
            .await
            .is_empty()
    );
}

#[actix_web::test]
async fn created_after_is_inclusive_and_created_before_is_exclusive() {
    let app = spawn_app().await;
    let token = &app.admin.token;
    let mut cases = Vec::new();
    for i in 0..3 {
        cases.push(
            app.create_case(token, json!({"title": format!("Case {i}")}))
                .await,
        );
        // Distinct creation instants (the API shows milliseconds).
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let [a, b, c] = [cases[0].id(), cases[1].id(), cases[2].id()];
    let b_created = cases[1].data()["created_at"]
        .as_str()
        .expect("created_at")
        .to_string();
    assert_ne!(cases[0].data()["created_at"], cases[1].data()["created_at"]);
    assert_ne!(cases[1].data()["created_at"], cases[2].data()["created_at"]);

    assert_eq!(
        matching(&app, token, &[("created_after", "2000-01-01")]).await,
        set(&[a, b, c])
    );
    assert!(
        matching(&app, token, &[("created_after", "2999-01-01")])
            .await
            .is_empty()
    );
    assert_eq!(
        matching(&app, token, &[("created_before", "2999-01-01")]).await,
        set(&[a, b, c])
    );
    assert!(
        matching(&app, token, &[("created_before", "2000-01-01")])
            .await
            .is_empty()
    );
    assert_eq!(
        matching(
            &app,
            token,
            &[
                ("created_after", "2000-01-01T00:00:00Z"),
                ("created_before", "2999-12-31T23:59:59Z")
            ]
        )
        .await,
        set(&[a, b, c]),
        "full timestamps are accepted"
    );

    assert_eq!(
        matching(&app, token, &[("created_after", b_created.as_str())]).await,
        set(&[b, c]),
        "created_after {b_created} includes the case created at that instant"
    );
    assert_eq!(
        matching(&app, token, &[("created_before", b_created.as_str())]).await,
        set(&[a]),
        "created_before {b_created} excludes the case created at that instant"
    );
    assert_eq!(
        matching(
            &app,
            token,
            &[
                ("created_after", b_created.as_str()),
                ("created_before", b_created.as_str())
            ]
        )
        .await,
        set(&[]),
        "an empty window"
    );
    let b_time = chrono::DateTime::parse_from_rfc3339(&b_created).expect("created_at");
    let just_after = (b_time + chrono::Duration::milliseconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(
        matching(&app, token, &[("created_before", just_after.as_str())]).await,
        set(&[a, b])
    );
    // A timestamp with an offset means the same instant.
    let in_nairobi = b_time
        .with_timezone(&chrono::FixedOffset::east_opt(3 * 3600).expect("offset"))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    assert_eq!(
        matching(&app, token, &[("created_after", in_nairobi.as_str())]).await,
        set(&[b, c]),
        "{in_nairobi}"
    );
}

#[actix_web::test]
async fn a_date_bound_means_the_first_instant_of_that_day_utc() {
    let app = spawn_app().await;
    let token = &app.admin.token;
    let case = app.create_case(token, json!({})).await;
    let created = assert_utc_timestamp(&case.data()["created_at"], "created_at");
    let day = created.date_naive();
    let today = day.format("%Y-%m-%d").to_string();
    let tomorrow = day
        .succ_opt()
        .expect("tomorrow")
        .format("%Y-%m-%d")
        .to_string();
    let id = case.id();

    assert_eq!(
        matching(&app, token, &[("created_after", today.as_str())]).await,
        set(&[id]),
        "after {today}"
    );
    assert!(
        matching(&app, token, &[("created_before", today.as_str())])
            .await
            .is_empty(),
        "before {today}"
    );
    assert_eq!(
        matching(&app, token, &[("created_before", tomorrow.as_str())]).await,
        set(&[id]),
        "before {tomorrow}"
    );
    assert!(
        matching(&app, token, &[("created_after", tomorrow.as_str())])
            .await
            .is_empty(),
        "after {tomorrow}"
    );
}

#[actix_web::test]
async fn text_search_is_case_insensitive_in_title_and_narrative() {
    let app = spawn_app().await;
    let token = &app.admin.token;
    let in_title = app
        .create_case(token, json!({"title": "Bruise on the arm"}))
        .await
        .id();
    let in_narrative = app
        .create_case(
            token,
            json!({"title": "Hungry at home", "narrative": "The neighbour saw a BRUISED knee."}),
        )
        .await
        .id();
    let neither = app
        .create_case(
            token,
            json!({"title": "School absence", "narrative": "Missed two weeks"}),
        )
        .await
        .id();

    assert_eq!(
        matching(&app, token, &[("q", "bruise")]).await,
        set(&[in_title, in_narrative])
    );
    assert_eq!(
        matching(&app, token, &[("q", "BRUISE")]).await,
        set(&[in_title, in_narrative])
    );
    assert_eq!(
        matching(&app, token, &[("q", "bRuIsEd")]).await,
        set(&[in_narrative])
    );
    assert_eq!(
        matching(&app, token, &[("q", "absence")]).await,
        set(&[neither])
    );
    assert_eq!(
        matching(&app, token, &[("q", "two weeks")]).await,
        set(&[neither])
    );
    assert!(
        matching(&app, token, &[("q", "trafficking")])
            .await
            .is_empty()
    );
    assert_eq!(
        matching(&app, token, &[("q", "bruise"), ("status", "open")]).await,
        set(&[in_title, in_narrative]),
        "q combines with other filters"
    );
}

#[actix_web::test]
async fn text_search_matches_percent_and_underscore_literally() {
    let app = spawn_app().await;
    let token = &app.admin.token;
    let percent = app
        .create_case(token, json!({"title": "Caller is 100% sure"}))
        .await
        .id();
    app.create_case(token, json!({"title": "Caller is 1000 times sure"}))
        .await;
    let underscore = app
        .create_case(token, json!({"title": "Refers to file_7"}))
        .await
        .id();
    app.create_case(token, json!({"title": "Refers to fileX7"}))
        .await;
    let backslash = app
        .create_case(token, json!({"narrative": "path C:\\temp"}))
        .await
        .id();

    assert_eq!(
        matching(&app, token, &[("q", "100%")]).await,
        set(&[percent]),
        "q=100%"
    );
    assert_eq!(
        matching(&app, token, &[("q", "%")]).await,
        set(&[percent]),
        "q=%"
    );
    assert_eq!(
        matching(&app, token, &[("q", "file_7")]).await,
        set(&[underscore]),
        "q=file_7"
    );
    assert_eq!(
        matching(&app, token, &[("q", "_")]).await,
        set(&[underscore]),
        "q=_"
    );
    assert_eq!(
        matching(&app, token, &[("q", "c:\\temp")]).await,
        set(&[backslash]),
        "q=c:\\temp"
    );
}

#[actix_web::test]
async fn sorting_by_priority_orders_by_urgency_not_alphabetically() {
    let app = spawn_app().await;
    let token = &app.admin.token;
    let mut by_priority = std::collections::BTreeMap::new();
    for priority in ["high", "low", "critical", "medium"] {
        by_priority.insert(
            priority,
            app.create_case(token, json!({"priority": priority}))
                .await
                .id(),
        );
    }
    let urgency: Vec<i64> = ["low", "medium", "high", "critical"]
        .iter()
        .map(|p| by_priority[p])
        .collect();

    let asc = list(&app, token, &[("sort", "priority"), ("order", "asc")]).await;
    assert_eq!(
        ids(&asc),
        urgency,
        "low < medium < high < critical: {}",
        asc.body
    );
    let desc = list(&app, token, &[("sort", "priority"), ("order", "desc")]).await;
    let mut reversed = urgency.clone();
    reversed.reverse();
    assert_eq!(ids(&desc), reversed, "{}", desc.body);
}

#[actix_web::test]
async fn the_default_order_is_newest_first_and_order_asc_reverses_it() {
    let app = spawn_app().await;
    let token = &app.admin.token;
    let mut created = Vec::new();
    for title in ["Charlie", "alpha", "Bravo"] {
        created.push(app.create_case(token, json!({"title": title})).await.id());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut newest_first = created.clone();
    newest_first.reverse();

    assert_eq!(
        ids(&list(&app, token, &[]).await),
        newest_first,
        "default: created_at desc"
    );
    assert_eq!(
        ids(&list(&app, token, &[("sort", "created_at"), ("order", "desc")]).await),
        newest_first
    );
    assert_eq!(
        ids(&list(&app, token, &[("order", "asc")]).await),
        created,
        "order=asc: oldest first"
    );
    assert_eq!(
        ids(&list(&app, token, &[("sort", "title"), ("order", "asc")]).await),
        vec![created[1], created[2], created[0]],
        "by title: alpha, Bravo, Charlie"
    );
    // Paging keeps the order.
    let first = ids(&list(&app, token, &[("order", "asc"), ("limit", "2")]).await);
    let second = ids(&list(
        &app,
        token,
        &[("order", "asc"), ("limit", "2"), ("page", "2")],
    )
    .await);
    assert_eq!([first, second].concat(), created);
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn twenty_simultaneous_updates_with_the_same_version_let_exactly_one_through() {
    let app = spawn_app().await;
    let id = app.create_case(&app.admin.token, json!({})).await.id();
    let path = case_path(id);

    let results = join_all((0..20).map(|i| {
        app.put(
            &path,
            &app.admin.token,
            json!({"title": format!("Edit {i}"), "version": 1}),
        )
    }))
    .await;

    let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    let winners: Vec<&Resp> = results.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "exactly one 200: {statuses:?}");
    assert_eq!(
        results.iter().filter(|r| r.status == 409).count(),
        19,
        "nineteen 409: {statuses:?}"
    );
    for loser in results.iter().filter(|r| r.status == 409) {
        assert_error(loser, 409, "a losing concurrent update");
    }
    let case = read_case(&app, id).await;
    assert_eq!(case["version"], 2, "one change, one version");
    assert_eq!(
        case["title"],
        winners[0].data()["title"],
        "the stored title is the winner's"
    );
    assert_eq!(winners[0].data()["version"], 2);

    let events = contiguous_types(&app.topic_events(&format!("case:{id}")).await, "case");
    assert_eq!(events, ["case.created", "case.updated"]);
    let events = contiguous_types(&app.topic_events("cases").await, "cases");
    assert_eq!(events, ["case.created", "case.updated"]);
}

#[actix_web::test]
async fn twenty_simultaneous_updates_without_version_all_apply_one_after_another() {
    let app = spawn_app().await;
    let id = app.create_case(&app.admin.token, json!({})).await.id();
    let path = case_path(id);

    let results = join_all((0..20).map(|i| {
        app.put(
            &path,
            &app.admin.token,
            json!({"title": format!("Edit {i}")}),
        )
    }))
    .await;

    let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "every update applies: {statuses:?}"
    );
    let mut versions: Vec<i64> = results
        .iter()
        .map(|r| r.data()["version"].as_i64().expect("version"))
        .collect();
    versions.sort_unstable();
    assert_eq!(
        versions,
        (2..=21).collect::<Vec<_>>(),
        "each update saw its own version"
    );
    let case = read_case(&app, id).await;
    assert_eq!(case["version"], 21);
    let last = results
        .iter()
        .find(|r| r.data()["version"] == 21)
        .expect("the last update");
    assert_eq!(
        case["title"],
        last.data()["title"],
        "the stored title is the last update's"
    );

    let events = app.topic_events(&format!("case:{id}")).await;
    let kinds = contiguous_types(&events, "case");
    assert_eq!(kinds.len(), 21, "{events:?}");
    assert_eq!(kinds[0], "case.created");
    assert!(kinds[1..].iter().all(|k| k == "case.updated"), "{events:?}");
    assert_eq!(
        contiguous_types(&app.topic_events("cases").await, "cases").len(),
        21
    );
    let updates = history(&app, id)
        .await
        .iter()
        .filter(|e| e["event"] == "case.updated")
        .count();
    assert_eq!(updates, 20, "every update is in the history");
}

#[actix_web::test]
async fn simultaneous_creations_get_distinct_ids_and_contiguous_seqs_on_the_cases_topic() {
    let app = spawn_app().await;
    let results = join_all((0..20).map(|i| {
        app.post(
            CASES,
            &app.admin.token,
            json!({"title": format!("Case {i}"), "type": "abuse"}),
        )
    }))
    .await;
    let created: BTreeSet<i64> = results
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.body);
            r.id()
        })
        .collect();
    assert_eq!(created.len(), 20, "twenty distinct ids");
    assert_eq!(total(&app).await, 20);
    let kinds = contiguous_types(&app.topic_events("cases").await, "cases");
    assert_eq!(kinds, vec!["case.created"; 20]);
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn case_changes_are_published_on_the_case_and_cases_topics_with_contiguous_seqs() {
    let app = spawn_app().await;
    let supervisor = app.create_user("supervisor").await;
    let token = &app.admin.token;
    let first = app.create_case(token, json!({"title": "First"})).await.id();
    let second = app
        .create_case(token, json!({"title": "Second"}))
        .await
        .id();
    assert_eq!(
        app.put(&case_path(first), token, json!({"priority": "high"}))
            .await
            .status,
        200
    );
    assert_eq!(
        app.put(&case_path(second), token, json!({"status": "escalated"}))
            .await
            .status,
        200
    );
    assert_eq!(
        app.put(&case_path(first), token, json!({"status": "closed"}))
            .await
            .status,
        200
    );
    assert_eq!(
        app.delete(&case_path(first), &supervisor.token)
            .await
            .status,
        200
    );

    let first_events = contiguous_types(
        &app.topic_events(&format!("case:{first}")).await,
        "first case",
    );
    assert_eq!(
        first_events,
        [
            "case.created",
            "case.updated",
            "case.closed",
            "case.deleted"
        ]
    );
    let second_events = contiguous_types(
        &app.topic_events(&format!("case:{second}")).await,
        "second case",
    );
    assert_eq!(second_events, ["case.created", "case.updated"]);
    let all = contiguous_types(&app.topic_events("cases").await, "cases");
    assert_eq!(
        all,
        [
            "case.created",
            "case.created",
            "case.updated",
            "case.updated",
            "case.closed",
            "case.deleted"
        ],
        "the cases topic carries every case's events in order"
    );
}

#[actix_web::test]
async fn viewing_a_case_is_never_published_on_a_topic() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let id = app.create_case(&app.admin.token, json!({})).await.id();
    for token in [&agent.token, &app.admin.token, &agent.token] {
        assert_eq!(app.get(&case_path(id), token).await.status, 200);
    }
    assert_eq!(
        contiguous_types(&app.topic_events(&format!("case:{id}")).await, "case"),
        ["case.created"]
    );
    assert_eq!(
        contiguous_types(&app.topic_events("cases").await, "cases"),
        ["case.created"]
    );
    for topic in [
        format!("agent:{}", agent.id),
        format!("agent:{}", app.admin.id),
        "presence".into(),
        "dashboard".into(),
    ] {
        let events = app.topic_events(&topic).await;
        assert!(
            events.iter().all(|(_, kind)| kind != "case.viewed"),
            "case.viewed on {topic}: {events:?}"
        );
    }
    let viewed = history(&app, id)
        .await
        .iter()
        .filter(|e| e["event"] == "case.viewed")
        .count();
    assert_eq!(viewed, 3, "views are recorded in the history all the same");
}

// ---------------------------------------------------------------------------------------------
// Restart
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn after_a_restart_data_and_tokens_still_work_and_seqs_continue() {
    let mut app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let created = app
        .create_case(&agent.token, json!({"title": "Before restart"}))
        .await;
    let id = created.id();
    let updated = app
        .put(
            &case_path(id),
            &app.admin.token,
            json!({"priority": "high"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);

    app.restart().await;

    let read = app.get(&case_path(id), &app.admin.token).await;
    assert_eq!(
        read.status, 200,
        "the admin's token survives a restart: {}",
        read.body
    );
    assert_eq!(read.data()["title"], "Before restart");
    assert_eq!(read.data()["priority"], "high");
    assert_eq!(read.data()["version"], 2);
    assert_eq!(read.data()["created_by"], agent.id);
    let agent_read = app.get(&case_path(id), &agent.token).await;
    assert_eq!(
        agent_read.status, 200,
        "the agent's token survives too: {}",
        agent_read.body
    );
    assert_eq!(total(&app).await, 1);

    let again = app
        .put(
            &case_path(id),
            &app.admin.token,
            json!({"status": "closed", "version": 2}),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.data()["version"], 3);
    let next = app
        .create_case(&app.admin.token, json!({"title": "After restart"}))
        .await
        .id();
    assert_ne!(next, id, "a new case gets a new id");

    let case_events = contiguous_types(&app.topic_events(&format!("case:{id}")).await, "case");
    assert_eq!(
        case_events,
        ["case.created", "case.updated", "case.closed"],
        "seq 3 follows 2 across the restart"
    );
    let all = contiguous_types(&app.topic_events("cases").await, "cases");
    assert_eq!(
        all,
        [
            "case.created",
            "case.updated",
            "case.closed",
            "case.created"
        ]
    );
    let entries = history(&app, id).await;
    assert_eq!(
        events_of(&entries),
        [
            "case.created",
            "case.updated",
            "case.viewed",
            "case.viewed",
            "case.closed"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Idempotent creation
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn retrying_a_case_creation_with_the_same_idempotency_key_creates_one_case() {
    let app = spawn_app().await;
    let body = json!({"title": "Retried on a bad network", "type": "abuse"});
    let first = app
        .post_with_key(CASES, &app.admin.token, "retry-1", body.clone())
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let retry = app
        .post_with_key(CASES, &app.admin.token, "retry-1", body)
        .await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(
        retry.data(),
        first.data(),
        "the retry gets the original answer"
    );
    assert_eq!(total(&app).await, 1, "the retry creates nothing");

    let other = app
        .post_with_key(
            CASES,
            &app.admin.token,
            "retry-1",
            json!({"title": "Different", "type": "abuse"}),
        )
        .await;
    assert_error(&other, 409, "the same key with another body");
    assert_eq!(total(&app).await, 1);
    let events = contiguous_types(&app.topic_events("cases").await, "cases");
    assert_eq!(events, ["case.created"], "a replay publishes nothing");
}

#[actix_web::test]
async fn an_agent_with_a_stale_version_on_someone_elses_case_gets_403_not_409() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let other = app.create_user("agent").await;
    let id = app
        .create_case(&app.admin.token, json!({"assigned_to": other.id}))
        .await
        .id();
    let bumped = app
        .put(
            &format!("/api/v1/cases/{id}"),
            &app.admin.token,
            json!({"priority": "high"}),
        )
        .await;
    assert_eq!(bumped.status, 200);

    let stale = app
        .put(
            &format!("/api/v1/cases/{id}"),
            &agent.token,
            json!({"title": "x", "version": 1}),
        )
        .await;
    assert_eq!(
        stale.status, 403,
        "permission is decided before the version: {}",
        stale.body
    );
}

#[actix_web::test]
async fn text_search_finds_accented_words_whatever_their_case() {
    let app = spawn_app().await;
    let id = app
        .create_case(
            &app.admin.token,
            json!({"title": "ÉLÈVE en danger", "narrative": "Appel de Zoë à Ödegaard"}),
        )
        .await
        .id();
    for q in ["élève", "ÉLÈVE", "Élève", "zoë", "ÖDEGAARD"] {
        let found = app
            .get(
                &format!("/api/v1/cases?q={}", q.replace(' ', "%20")),
                &app.admin.token,
            )
            .await;
        assert_eq!(found.status, 200, "q={q}: {}", found.body);
        let ids = ids(&found);
        assert_eq!(ids, vec![id], "q={q} finds the case");
    }
}

#[actix_web::test]
async fn history_is_a_paginated_list_oldest_first_by_default() {
    let app = spawn_app().await;
    let id = app.create_case(&app.admin.token, json!({})).await.id();
    for n in 1..=4 {
        let put = app
            .put(
                &case_path(id),
                &app.admin.token,
                json!({"title": format!("Title {n}")}),
            )
            .await;
        assert_eq!(put.status, 200);
    }
    let first = app
        .get(&format!("{}?limit=2", history_path(id)), &app.admin.token)
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first.body["pagination"],
        json!({"page": 1, "limit": 2, "total": 5, "pages": 3})
    );
    assert_eq!(
        events_of(first.data().as_array().unwrap()),
        ["case.created", "case.updated"]
    );

    let newest = app
        .get(
            &format!("{}?limit=1&order=desc", history_path(id)),
            &app.admin.token,
        )
        .await;
    assert_eq!(newest.data()[0]["changes"]["title"]["to"], "Title 4");
    let bad = app
        .get(&format!("{}?limit=0", history_path(id)), &app.admin.token)
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}
