//! Clients end to end, and what every answer shares: the envelope, `X-Request-Id`,
//! `Idempotency-Key` on creation, the health check and the 401 of every protected route.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Words that would betray internals (queries, backtraces, paths, the database) in an error body.
const LEAKS_ANY_CASE: &[&str] = &[
    "sqlx",
    "panicked",
    "/src/",
    "sqlite",
    "postgres",
    "backtrace",
    ".rs:",
];
const LEAKS_EXACT: &[&str] = &["SELECT", "INSERT INTO", "UPDATE clients", "WHERE "];

/// A body with every client field set.
fn full_client() -> Value {
    json!({
        "name": "Amina Wanjiru",
        "phone": "+254 700 111 222",
        "email": "amina@example.org",
        "age": 14,
        "gender": "female",
        "location": "Nairobi",
        "language": "sw",
        "notes": "Calls after school.\nPrefers Swahili.",
    })
}

fn timestamp(value: &Value, context: &str) -> DateTime<FixedOffset> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{context}: timestamp is not a string: {value}"));
    assert!(
        text.ends_with('Z'),
        "{context}: timestamp {text:?} must end with Z"
    );
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{context}: timestamp {text:?} is not RFC 3339: {e}"))
}

fn assert_json_content_type(resp: &Resp, context: &str) {
    let content_type = resp.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{context}: Content-Type {content_type:?} is not JSON"
    );
}

fn assert_has_request_id(resp: &Resp, context: &str) {
    let id = resp.header("x-request-id");
    assert!(
        id.is_some_and(|id| !id.is_empty()),
        "{context}: no X-Request-Id in {:?}",
        resp.headers
    );
}

/// A success answer: `status`, `data`, `message`, `timestamp`, and the request id.
fn assert_success(resp: &Resp, code: u16, context: &str) {
    assert_eq!(resp.status, code, "{context}: {}", resp.body);
    let body = resp
        .body
        .as_object()
        .unwrap_or_else(|| panic!("{context}: body is not a JSON object: {}", resp.body));
    assert_eq!(
        body.get("status"),
        Some(&json!("success")),
        "{context}: {}",
        resp.body
    );
    assert!(
        body.contains_key("data"),
        "{context}: no data in {}",
        resp.body
    );
    assert!(
        body.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "{context}: no message in {}",
        resp.body
    );
    timestamp(&resp.body["timestamp"], context);
    assert!(
        !body.contains_key("errors"),
        "{context}: errors on a success: {}",
        resp.body
    );
    assert_has_request_id(resp, context);
    assert_json_content_type(resp, context);
}

/// A list answer: the success envelope with `data` an array and a consistent `pagination`.
fn assert_list(resp: &Resp, context: &str) {
    assert_success(resp, 200, context);
    let items = resp
        .data()
        .as_array()
        .unwrap_or_else(|| panic!("{context}: data is not an array: {}", resp.body));
    let pagination = &resp.body["pagination"];
    let number = |name: &str| {
        pagination[name]
            .as_i64()
            .unwrap_or_else(|| panic!("{context}: pagination.{name} missing in {}", resp.body))
    };
    let (page, limit, total, pages) = (
        number("page"),
        number("limit"),
        number("total"),
        number("pages"),
    );
    assert!(
        page >= 1 && (1..=100).contains(&limit),
        "{context}: {pagination}"
    );
    assert_eq!(
        pages,
        (total + limit - 1) / limit,
        "{context}: pages does not match total and limit: {pagination}"
    );
    assert!(
        items.len() as i64 <= limit,
        "{context}: more items than limit: {}",
        resp.body
    );
}

fn assert_no_leak(resp: &Resp, context: &str) {
    let text = resp.body.to_string();
    let lower = text.to_lowercase();
    for word in LEAKS_ANY_CASE {
        assert!(
            !lower.contains(word),
            "{context}: error body leaks {word:?}: {text}"
        );
    }
    for word in LEAKS_EXACT {
        assert!(
            !text.contains(word),
            "{context}: error body leaks {word:?}: {text}"
        );
    }
}

/// The error envelope shared by every failure.
fn assert_error_envelope(resp: &Resp, code: u16, context: &str) {
    assert_eq!(resp.status, code, "{context}: {}", resp.body);
    let body = resp
        .body
        .as_object()
        .unwrap_or_else(|| panic!("{context}: error body is not a JSON object: {}", resp.body));
    assert_eq!(
        body.get("status"),
        Some(&json!("error")),
        "{context}: {}",
        resp.body
    );
    assert_eq!(
        body.get("code"),
        Some(&json!(code)),
        "{context}: code must equal the HTTP status: {}",
        resp.body
    );
    assert!(
        body.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.trim().is_empty()),
        "{context}: no message in {}",
        resp.body
    );
    timestamp(&resp.body["timestamp"], context);
    assert_has_request_id(resp, context);
    assert_json_content_type(resp, context);
    assert_no_leak(resp, context);
}

/// An error that is not a validation failure: the envelope without `errors`.
fn assert_error(resp: &Resp, code: u16, context: &str) {
    assert_error_envelope(resp, code, context);
    assert!(
        resp.body.get("errors").is_none(),
        "{context}: `errors` is for validation failures only: {}",
        resp.body
    );
}

/// A validation failure: 400 with `errors` naming `field`.
fn assert_invalid(resp: &Resp, field: &str, context: &str) {
    assert_error_envelope(resp, 400, context);
    let errors = resp.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{context}: no errors array in {}", resp.body));
    assert!(
        !errors.is_empty(),
        "{context}: empty errors in {}",
        resp.body
    );
    for error in errors {
        assert!(
            error["field"].as_str().is_some_and(|f| !f.is_empty())
                && error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{context}: every error needs a field and a message: {}",
            resp.body
        );
    }
    assert!(
        resp.error_fields().iter().any(|f| f == field),
        "{context}: errors should name {field:?}: {}",
        resp.body
    );
}

/// `pagination.total` of a list, read as the admin.
async fn total(app: &TestApp, path: &str) -> i64 {
    let resp = app.get(path, &app.admin.token).await;
    assert_list(&resp, path);
    pagination(&resp).2
}

async fn create_client(app: &TestApp, body: Value) -> Resp {
    let resp = app.post("/api/v1/clients", &app.admin.token, body).await;
    assert_success(&resp, 201, "create client");
    resp
}

fn names(resp: &Resp) -> Vec<String> {
    resp.data()
        .as_array()
        .unwrap_or_else(|| panic!("data is not an array: {}", resp.body))
        .iter()
        .map(|item| item["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Lets the millisecond clock move on, so that timestamps differ.
async fn tick() {
    actix_web::rt::time::sleep(Duration::from_millis(15)).await;
}

/// Sends `body` as is with `content_type` (none when `None`) and reads the answer.
async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Resp {
    let mut request = app
        .client
        .post(app.url(path))
        .bearer_auth(&app.admin.token)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    read(request.send().await.expect("request sent")).await
}

// ---------------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn creating_a_client_returns_201_with_every_field() {
    let app = spawn_app().await;
    let created = create_client(&app, full_client()).await;
    let data = created.data();
    assert!(created.id() > 0, "{}", created.body);
    for (field, expected) in full_client().as_object().unwrap() {
        assert_eq!(&data[field], expected, "field {field} in {}", created.body);
    }
    let created_at = timestamp(&data["created_at"], "created_at");
    let updated_at = timestamp(&data["updated_at"], "updated_at");
    assert_eq!(
        created_at, updated_at,
        "a new client was never updated: {}",
        created.body
    );
    let keys: BTreeSet<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "id",
        "name",
        "phone",
        "email",
        "age",
        "gender",
        "location",
        "language",
        "notes",
        "created_at",
        "updated_at",
    ]
    .into();
    assert_eq!(keys, expected, "the client's fields: {}", created.body);
}

#[actix_web::test]
async fn a_client_with_only_a_name_has_its_other_fields_null() {
    let app = spawn_app().await;
    let created = create_client(&app, json!({"name": "Brian Otieno"})).await;
    let data = created.data();
    assert_eq!(data["name"], "Brian Otieno");
    for field in [
        "phone", "email", "age", "gender", "location", "language", "notes",
    ] {
        assert_eq!(data[field], Value::Null, "{field} in {}", created.body);
    }
}

#[actix_web::test]
async fn reading_a_client_returns_what_was_created() {
    let app = spawn_app().await;
    let created = create_client(&app, full_client()).await;
    let read = app
        .get(
            &format!("/api/v1/clients/{}", created.id()),
            &app.admin.token,
        )
        .await;
    assert_success(&read, 200, "read client");
    assert_eq!(read.data(), created.data());
}

#[actix_web::test]
async fn unknown_or_non_numeric_client_ids_return_404() {
    let app = spawn_app().await;
    create_client(&app, full_client()).await;
    for (description, id) in [
        ("an id that does not exist", "999999"),
        ("a non-numeric id", "abc"),
        ("zero", "0"),
        ("a negative id", "-1"),
        ("a fraction", "1.5"),
        ("an id too large for 64 bits", "99999999999999999999999"),
    ] {
        let path = format!("/api/v1/clients/{id}");
        let read = app.get(&path, &app.admin.token).await;
        assert_error(&read, 404, &format!("GET with {description}"));
        let update = app
            .put(&path, &app.admin.token, json!({"name": "New name"}))
            .await;
        assert_error(&update, 404, &format!("PUT with {description}"));
    }
}

#[actix_web::test]
async fn updating_a_client_changes_only_the_given_fields() {
    let app = spawn_app().await;
    let created = create_client(&app, full_client()).await;
    let path = format!("/api/v1/clients/{}", created.id());
    tick().await;

    let updated = app
        .put(
            &path,
            &app.admin.token,
            json!({"age": 15, "location": "Mombasa"}),
        )
        .await;
    assert_success(&updated, 200, "partial update");
    let mut expected = created.data().clone();
    expected["age"] = json!(15);
    expected["location"] = json!("Mombasa");
    for field in [
        "id",
        "name",
        "phone",
        "email",
        "age",
        "gender",
        "location",
        "language",
        "notes",
        "created_at",
    ] {
        assert_eq!(
            updated.data()[field],
            expected[field],
            "{field} after update: {}",
            updated.body
        );
    }
    assert!(
        timestamp(&updated.data()["updated_at"], "updated_at")
            > timestamp(&created.data()["updated_at"], "updated_at"),
        "updated_at must move: before {}, after {}",
        created.body,
        updated.body
    );

    let read = app.get(&path, &app.admin.token).await;
    assert_success(&read, 200, "read after update");
    assert_eq!(read.data(), updated.data(), "the update is stored");
}

#[actix_web::test]
async fn null_clears_the_nullable_fields_of_a_client() {
    let app = spawn_app().await;
    let created = create_client(&app, full_client()).await;
    let path = format!("/api/v1/clients/{}", created.id());
    let nullable = [
        "phone", "email", "age", "gender", "location", "language", "notes",
    ];
    let body: serde_json::Map<String, Value> = nullable
        .iter()
        .map(|f| (f.to_string(), Value::Null))
        .collect();

    let updated = app.put(&path, &app.admin.token, Value::Object(body)).await;
    assert_success(&updated, 200, "clearing with null");
    for field in nullable {
        assert_eq!(
            updated.data()[field],
            Value::Null,
            "{field}: {}",
            updated.body
        );
    }
    assert_eq!(
        updated.data()["name"],
        created.data()["name"],
        "name untouched"
    );
    assert_eq!(
        updated.data()["created_at"],
        created.data()["created_at"],
        "created_at untouched"
    );

    let read = app.get(&path, &app.admin.token).await;
    assert_eq!(read.data(), updated.data(), "the cleared fields are stored");
}

#[actix_web::test]
async fn invalid_client_input_on_create_returns_400_naming_the_field_and_creates_nothing() {
    let app = spawn_app().await;
    let name = "Valid Name";
    let cases: Vec<(&str, Value, &str)> = vec![
        ("missing name", json!({"phone": "0700 000 000"}), "name"),
        ("empty name", json!({"name": ""}), "name"),
        ("blank name", json!({"name": "   "}), "name"),
        ("null name", json!({"name": null}), "name"),
        ("name that is a number", json!({"name": 42}), "name"),
        (
            "name of 201 characters",
            json!({"name": "n".repeat(201)}),
            "name",
        ),
        ("age -1", json!({"name": name, "age": -1}), "age"),
        ("age 131", json!({"name": name, "age": 131}), "age"),
        (
            "age as the string \"12\"",
            json!({"name": name, "age": "12"}),
            "age",
        ),
        (
            "age with a fraction",
            json!({"name": name, "age": 12.5}),
            "age",
        ),
        (
            "unknown gender",
            json!({"name": name, "gender": "robot"}),
            "gender",
        ),
        (
            "gender that is a number",
            json!({"name": name, "gender": 1}),
            "gender",
        ),
        (
            "email without @",
            json!({"name": name, "email": "not-an-email"}),
            "email",
        ),
        (
            "email with a space",
            json!({"name": name, "email": "a b@example.org"}),
            "email",
        ),
        (
            "email with no domain",
            json!({"name": name, "email": "amina@"}),
            "email",
        ),
        (
            "phone of letters",
            json!({"name": name, "phone": "call me maybe"}),
            "phone",
        ),
        (
            "phone with letters among digits",
            json!({"name": name, "phone": "0700 abc 123"}),
            "phone",
        ),
        (
            "phone that is a number",
            json!({"name": name, "phone": 700111222}),
            "phone",
        ),
        (
            "unknown field",
            json!({"name": name, "nickname": "Ami"}),
            "nickname",
        ),
        ("read-only id", json!({"name": name, "id": 5}), "id"),
        (
            "read-only created_at",
            json!({"name": name, "created_at": "2026-01-01T00:00:00Z"}),
            "created_at",
        ),
        (
            "read-only updated_at",
            json!({"name": name, "updated_at": "2026-01-01T00:00:00Z"}),
            "updated_at",
        ),
    ];
    for (description, body, field) in cases {
        let resp = app.post("/api/v1/clients", &app.admin.token, body).await;
        assert_invalid(&resp, field, description);
    }
    assert_eq!(
        total(&app, "/api/v1/clients").await,
        0,
        "no invalid request created a client"
    );
}

#[actix_web::test]
async fn every_invalid_field_of_a_client_is_reported_at_once() {
    let app = spawn_app().await;
    let resp = app
        .post(
            "/api/v1/clients",
            &app.admin.token,
            json!({"age": 200, "gender": "robot", "email": "nope"}),
        )
        .await;
    assert_error_envelope(&resp, 400, "three problems");
    let fields: BTreeSet<String> = resp.error_fields().into_iter().collect();
    for field in ["name", "age", "gender", "email"] {
        assert!(
            fields.contains(field),
            "{field} should be reported: {}",
            resp.body
        );
    }
}

#[actix_web::test]
async fn invalid_client_input_on_update_returns_400_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let created = create_client(&app, full_client()).await;
    let path = format!("/api/v1/clients/{}", created.id());
    let cases: Vec<(&str, Value, &str)> = vec![
        ("empty name", json!({"name": ""}), "name"),
        ("blank name", json!({"name": "   "}), "name"),
        (
            "null name (name is not nullable)",
            json!({"name": null}),
            "name",
        ),
        (
            "name of 201 characters",
            json!({"name": "n".repeat(201)}),
            "name",
        ),
        ("age -1", json!({"age": -1}), "age"),
        ("age 131", json!({"age": 131}), "age"),
        ("age as the string \"12\"", json!({"age": "12"}), "age"),
        ("unknown gender", json!({"gender": "robot"}), "gender"),
        ("bad email", json!({"email": "not-an-email"}), "email"),
        (
            "phone of letters",
            json!({"phone": "call me maybe"}),
            "phone",
        ),
        ("unknown field", json!({"nickname": "Ami"}), "nickname"),
        ("read-only id", json!({"id": 5}), "id"),
        (
            "read-only created_at",
            json!({"created_at": "2026-01-01T00:00:00Z"}),
            "created_at",
        ),
        (
            "read-only updated_at",
            json!({"updated_at": "2026-01-01T00:00:00Z"}),
            "updated_at",
        ),
        (
            "a valid change beside an invalid one",
            json!({"location": "Kisumu", "age": 131}),
            "age",
        ),
    ];
    for (description, body, field) in cases {
        let resp = app.put(&path, &app.admin.token, body).await;
        assert_invalid(&resp, field, description);
        let read = app.get(&path, &app.admin.token).await;
        assert_eq!(
            read.data(),
            created.data(),
            "{description}: the client must not change"
        );
    }
}

#[actix_web::test]
async fn boundary_values_of_a_client_are_accepted() {
    let app = spawn_app().await;
    let long_name = "n".repeat(200);
    for (description, body) in [
        ("age 0", json!({"name": "Baby", "age": 0})),
        ("age 130", json!({"name": "Elder", "age": 130})),
        ("name of 200 characters", json!({"name": long_name})),
        ("name of one character", json!({"name": "A"})),
        ("every gender", json!({"name": "G", "gender": "other"})),
        ("gender unknown", json!({"name": "G", "gender": "unknown"})),
        ("gender male", json!({"name": "G", "gender": "male"})),
    ] {
        let resp = app
            .post("/api/v1/clients", &app.admin.token, body.clone())
            .await;
        assert_success(&resp, 201, description);
        for (field, value) in body.as_object().unwrap() {
            assert_eq!(&resp.data()[field], value, "{description}: {field}");
        }
    }
}

#[actix_web::test]
async fn searching_clients_with_q_matches_name_phone_or_email_case_insensitively() {
    let app = spawn_app().await;
    let amina = create_client(
        &app,
        json!({"name": "Amina Wanjiru", "phone": "0700 111 222", "email": "amina@example.org"}),
    )
    .await
    .id();
    let brian = create_client(
        &app,
        json!({"name": "Brian Otieno", "phone": "0711 333 444", "email": "b.otieno@mail.test"}),
    )
    .await
    .id();
    let chebet = create_client(&app, json!({"name": "Chebet Kiprop"}))
        .await
        .id();

    for (description, q, expected) in [
        ("name, lower case", "wanjiru", vec![amina]),
        ("name, upper case", "AMINA", vec![amina]),
        ("name, mixed case", "cHeBeT", vec![chebet]),
        ("phone digits", "333", vec![brian]),
        ("phone with a space", "0700%20111", vec![amina]),
        ("email, upper case", "MAIL.TEST", vec![brian]),
        ("email domain", "example.org", vec![amina]),
        ("nothing matches", "zzzz", vec![]),
        ("a percent sign is literal", "%25", vec![]),
        ("an underscore is literal", "_", vec![]),
    ] {
        let resp = app
            .get(&format!("/api/v1/clients?q={q}"), &app.admin.token)
            .await;
        assert_list(&resp, description);
        let mut found = ids(&resp);
        found.sort();
        assert_eq!(found, expected, "{description} (q={q}): {}", resp.body);
        assert_eq!(
            pagination(&resp).2,
            expected.len() as i64,
            "{description}: total"
        );
    }
}

#[actix_web::test]
async fn clients_can_be_filtered_by_creation_time() {
    let app = spawn_app().await;
    let first = create_client(&app, json!({"name": "First"})).await;
    tick().await;
    let second = create_client(&app, json!({"name": "Second"})).await;
    let boundary = second.data()["created_at"].as_str().unwrap().to_string();
    let (first, second) = (first.id(), second.id());

    for (description, query, expected) in [
        (
            "after the second's creation time (inclusive)",
            format!("created_after={boundary}"),
            vec![second],
        ),
        (
            "before the second's creation time (exclusive)",
            format!("created_before={boundary}"),
            vec![first],
        ),
        (
            "after a date long past",
            "created_after=2000-01-01".to_string(),
            vec![first, second],
        ),
        (
            "before a date long past",
            "created_before=2000-01-01".to_string(),
            vec![],
        ),
        (
            "after a date far ahead",
            "created_after=2999-01-01".to_string(),
            vec![],
        ),
        (
            "between long past and far ahead",
            "created_after=2000-01-01&created_before=2999-01-01".to_string(),
            vec![first, second],
        ),
        (
            "a full timestamp bound",
            "created_after=2000-01-01T00:00:00Z".to_string(),
            vec![first, second],
        ),
    ] {
        let resp = app
            .get(&format!("/api/v1/clients?{query}"), &app.admin.token)
            .await;
        assert_list(&resp, description);
        let mut found = ids(&resp);
        found.sort();
        assert_eq!(found, expected, "{description} ({query}): {}", resp.body);
    }
}

#[actix_web::test]
async fn clients_are_paginated() {
    let app = spawn_app().await;
    let mut created = BTreeSet::new();
    for n in 1..=5 {
        created.insert(
            create_client(&app, json!({"name": format!("Client {n}")}))
                .await
                .id(),
        );
    }

    let mut seen = BTreeSet::new();
    for (page, expected_len) in [(1, 2), (2, 2), (3, 1)] {
        let resp = app
            .get(
                &format!("/api/v1/clients?limit=2&page={page}"),
                &app.admin.token,
            )
            .await;
        assert_list(&resp, &format!("page {page}"));
        assert_eq!(
            pagination(&resp),
            (page, 2, 5, 3),
            "page {page}: {}",
            resp.body
        );
        let page_ids = ids(&resp);
        assert_eq!(page_ids.len(), expected_len, "page {page}: {}", resp.body);
        for id in page_ids {
            assert!(seen.insert(id), "client {id} appears on two pages");
        }
    }
    assert_eq!(seen, created, "the pages together hold every client once");

    let past_the_end = app
        .get("/api/v1/clients?limit=2&page=4", &app.admin.token)
        .await;
    assert_list(&past_the_end, "page past the end");
    assert!(ids(&past_the_end).is_empty(), "{}", past_the_end.body);
    assert_eq!(pagination(&past_the_end), (4, 2, 5, 3));

    let defaults = app.get("/api/v1/clients", &app.admin.token).await;
    assert_list(&defaults, "defaults");
    assert_eq!(
        pagination(&defaults),
        (1, 20, 5, 1),
        "default page and limit: {}",
        defaults.body
    );
}

#[actix_web::test]
async fn clients_are_sorted_newest_first_by_default_and_by_name_on_request() {
    let app = spawn_app().await;
    for name in ["Charlie", "Alice", "Bob"] {
        create_client(&app, json!({"name": name})).await;
        tick().await;
    }

    let newest_first = app.get("/api/v1/clients", &app.admin.token).await;
    assert_list(&newest_first, "default order");
    assert_eq!(
        names(&newest_first),
        ["Bob", "Alice", "Charlie"],
        "created_at desc by default"
    );

    let by_name = app
        .get("/api/v1/clients?sort=name&order=asc", &app.admin.token)
        .await;
    assert_list(&by_name, "sort=name&order=asc");
    assert_eq!(names(&by_name), ["Alice", "Bob", "Charlie"]);

    let by_name_desc = app
        .get("/api/v1/clients?sort=name&order=desc", &app.admin.token)
        .await;
    assert_list(&by_name_desc, "sort=name&order=desc");
    assert_eq!(names(&by_name_desc), ["Charlie", "Bob", "Alice"]);

    let oldest_first = app.get("/api/v1/clients?order=asc", &app.admin.token).await;
    assert_list(&oldest_first, "order=asc");
    assert_eq!(names(&oldest_first), ["Charlie", "Alice", "Bob"]);
}

#[actix_web::test]
async fn bad_list_parameters_on_clients_return_400_naming_the_parameter() {
    let app = spawn_app().await;
    for (description, query, field) in [
        ("unknown sort field", "sort=nickname", "sort"),
        (
            "sort on a field that is not a column",
            "sort=password",
            "sort",
        ),
        ("bad order", "order=sideways", "order"),
        ("page 0", "page=0", "page"),
        ("negative page", "page=-1", "page"),
        ("page that is not a number", "page=abc", "page"),
        ("limit 0", "limit=0", "limit"),
        ("limit 101", "limit=101", "limit"),
        ("limit that is not a number", "limit=ten", "limit"),
        (
            "created_after that is not a date",
            "created_after=yesterday",
            "created_after",
        ),
        (
            "created_before with month 13",
            "created_before=2026-13-01",
            "created_before",
        ),
    ] {
        let resp = app
            .get(&format!("/api/v1/clients?{query}"), &app.admin.token)
            .await;
        assert_invalid(&resp, field, &format!("{description} ({query})"));
    }
}

#[actix_web::test]
async fn every_role_may_read_and_create_clients() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let mut created = Vec::new();
    for (role, token) in [
        ("agent", &agent.token),
        ("supervisor", &supervisor.token),
        ("admin", &app.admin.token),
    ] {
        let resp = app
            .post(
                "/api/v1/clients",
                token,
                json!({"name": format!("Client of {role}")}),
            )
            .await;
        assert_success(&resp, 201, &format!("{role} creates a client"));
        created.push(resp.id());
    }
    for (role, token) in [
        ("agent", &agent.token),
        ("supervisor", &supervisor.token),
        ("admin", &app.admin.token),
    ] {
        let list = app.get("/api/v1/clients", token).await;
        assert_list(&list, &format!("{role} lists clients"));
        assert_eq!(
            pagination(&list).2,
            3,
            "{role} sees every client: {}",
            list.body
        );
        for id in &created {
            let read = app.get(&format!("/api/v1/clients/{id}"), token).await;
            assert_success(&read, 200, &format!("{role} reads client {id}"));
            assert_eq!(read.id(), *id);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The envelope
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn success_answers_carry_the_success_envelope() {
    let app = spawn_app().await;
    let created = create_client(&app, full_client()).await;
    let path = format!("/api/v1/clients/{}", created.id());
    assert_success(
        &app.get(&path, &app.admin.token).await,
        200,
        "GET one client",
    );
    assert_success(
        &app.put(&path, &app.admin.token, json!({"notes": "x"}))
            .await,
        200,
        "PUT client",
    );
    let case = app.create_case(&app.admin.token, json!({})).await;
    assert_success(&case, 201, "POST case");
    assert_success(
        &app.get("/api/v1/auth/me", &app.admin.token).await,
        200,
        "GET auth/me",
    );
    assert_success(
        &app.request(Method::GET, "/health", None, None).await,
        200,
        "GET /health",
    );
}

#[actix_web::test]
async fn lists_put_the_array_in_data_and_add_pagination() {
    let app = spawn_app().await;
    create_client(&app, full_client()).await;
    app.create_case(&app.admin.token, json!({})).await;
    for path in ["/api/v1/clients", "/api/v1/cases", "/api/v1/users"] {
        let resp = app.get(path, &app.admin.token).await;
        assert_list(&resp, path);
        assert_eq!(pagination(&resp), (1, 20, 1, 1), "{path}: {}", resp.body);
        assert_eq!(
            resp.data().as_array().map(Vec::len),
            Some(1),
            "{path}: {}",
            resp.body
        );
    }
}

#[actix_web::test]
async fn an_empty_list_still_has_pagination() {
    let app = spawn_app().await;
    let resp = app.get("/api/v1/clients", &app.admin.token).await;
    assert_list(&resp, "empty list");
    assert_eq!(resp.data(), &json!([]));
    assert_eq!(pagination(&resp), (1, 20, 0, 0));
}

#[actix_web::test]
async fn malformed_json_returns_400_in_the_error_envelope() {
    let app = spawn_app().await;
    let client = create_client(&app, full_client()).await;
    let client_path = format!("/api/v1/clients/{}", client.id());
    for (description, body) in [
        ("truncated object", r#"{"name": "#),
        ("unquoted key", r#"{name: "Amina"}"#),
        ("trailing comma", r#"{"name": "Amina",}"#),
        ("not JSON at all", "name=Amina"),
        ("empty body", ""),
        ("two objects", r#"{"name": "A"}{"name": "B"}"#),
    ] {
        for path in ["/api/v1/clients", "/api/v1/cases"] {
            let resp = post_raw(&app, path, Some("application/json"), body).await;
            assert_error(&resp, 400, &format!("{description} to {path}"));
        }
        let request = app
            .client
            .put(app.url(&client_path))
            .bearer_auth(&app.admin.token);
        let resp = read(
            request
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(&resp, 400, &format!("{description} in a PUT"));
    }
    assert_eq!(total(&app, "/api/v1/clients").await, 1, "nothing created");
    let read = app.get(&client_path, &app.admin.token).await;
    assert_eq!(read.data(), client.data(), "nothing changed");
    assert_eq!(total(&app, "/api/v1/cases").await, 0, "nothing created");
}

#[actix_web::test]
async fn a_json_body_that_is_not_an_object_returns_400() {
    let app = spawn_app().await;
    let created = create_client(&app, full_client()).await;
    let path = format!("/api/v1/clients/{}", created.id());
    for (description, body) in [
        ("an empty array", "[]"),
        ("an array holding a valid client", r#"[{"name": "Amina"}]"#),
        ("a string", r#""Amina""#),
        ("a number", "42"),
        ("null", "null"),
        ("true", "true"),
    ] {
        let resp = post_raw(&app, "/api/v1/clients", Some("application/json"), body).await;
        assert_error(&resp, 400, &format!("POST {description}"));
        let request = app.client.put(app.url(&path)).bearer_auth(&app.admin.token);
        let resp = read(
            request
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(&resp, 400, &format!("PUT {description}"));
    }
    assert_eq!(total(&app, "/api/v1/clients").await, 1, "nothing created");
    let read = app.get(&path, &app.admin.token).await;
    assert_eq!(read.data(), created.data(), "nothing changed");
}

#[actix_web::test]
async fn a_body_that_is_not_json_returns_415_and_creates_nothing() {
    let app = spawn_app().await;
    let valid = r#"{"name": "Amina"}"#;
    for (description, content_type) in [
        ("text/plain", Some("text/plain")),
        (
            "text/plain with a charset",
            Some("text/plain; charset=utf-8"),
        ),
        ("a form", Some("application/x-www-form-urlencoded")),
        ("XML", Some("application/xml")),
        ("no Content-Type", None),
    ] {
        let resp = post_raw(&app, "/api/v1/clients", content_type, valid).await;
        assert_error(&resp, 415, &format!("POST /clients with {description}"));
        let resp = post_raw(
            &app,
            "/api/v1/cases",
            content_type,
            r#"{"title": "T", "type": "abuse"}"#,
        )
        .await;
        assert_error(&resp, 415, &format!("POST /cases with {description}"));
    }
    assert_eq!(total(&app, "/api/v1/clients").await, 0, "nothing created");
    assert_eq!(total(&app, "/api/v1/cases").await, 0, "nothing created");

    let with_charset = post_raw(
        &app,
        "/api/v1/clients",
        Some("application/json; charset=utf-8"),
        valid,
    )
    .await;
    assert_success(
        &with_charset,
        201,
        "application/json with a charset is JSON",
    );
}

#[actix_web::test]
async fn a_body_over_the_limit_returns_413_and_creates_nothing() {
    let app = spawn_app_with(|settings| settings.max_body_bytes = 2048).await;
    let big = json!({"name": "Big", "notes": "x".repeat(10 * 1024)});
    let resp = app.post("/api/v1/clients", &app.admin.token, big).await;
    assert_error(&resp, 413, "10 KiB client over a 2 KiB limit");

    let big_case = json!({"title": "Big", "type": "abuse", "narrative": "x".repeat(10 * 1024)});
    let resp = app.post("/api/v1/cases", &app.admin.token, big_case).await;
    assert_error(&resp, 413, "10 KiB case over a 2 KiB limit");

    let created = create_client(&app, json!({"name": "Small"})).await;
    let big_update = json!({"notes": "x".repeat(10 * 1024)});
    let resp = app
        .put(
            &format!("/api/v1/clients/{}", created.id()),
            &app.admin.token,
            big_update,
        )
        .await;
    assert_error(&resp, 413, "10 KiB update over a 2 KiB limit");

    assert_eq!(
        total(&app, "/api/v1/clients").await,
        1,
        "only the small client exists"
    );
    assert_eq!(total(&app, "/api/v1/cases").await, 0, "no case created");
    let read = app
        .get(
            &format!("/api/v1/clients/{}", created.id()),
            &app.admin.token,
        )
        .await;
    assert_eq!(
        read.data(),
        created.data(),
        "the too-large update changed nothing"
    );

    let under = app
        .post(
            "/api/v1/clients",
            &app.admin.token,
            json!({"name": "Under", "notes": "x".repeat(1500)}),
        )
        .await;
    assert_success(&under, 201, "a body under the limit is accepted");
}

#[actix_web::test]
async fn unknown_routes_return_404_in_the_error_envelope() {
    let app = spawn_app().await;
    for (method, path, with_token) in [
        (Method::GET, "/api/v1/nothing-here", true),
        (Method::GET, "/api/v1/nothing-here", false),
        (Method::POST, "/api/v1/nothing-here", true),
        (Method::GET, "/api/v1/clients/1/nothing", true),
        (Method::GET, "/api/v2/clients", true),
        (Method::GET, "/nothing-here", false),
        (Method::GET, "/", false),
        (Method::DELETE, "/favicon.ico", false),
    ] {
        let token = with_token.then_some(app.admin.token.as_str());
        let resp = app.request(method.clone(), path, token, None).await;
        assert_error(
            &resp,
            404,
            &format!("{method} {path} (token: {with_token})"),
        );
    }
}

#[actix_web::test]
async fn wrong_methods_return_405_in_the_error_envelope() {
    let app = spawn_app().await;
    let client = create_client(&app, full_client()).await;
    let client_path = format!("/api/v1/clients/{}", client.id());
    for (method, path, allowed) in [
        (Method::PATCH, "/api/v1/cases".to_string(), "GET"),
        (Method::DELETE, "/api/v1/clients".to_string(), "POST"),
        (Method::PUT, "/api/v1/clients".to_string(), "GET"),
        (Method::DELETE, client_path.clone(), "PUT"),
        (Method::PATCH, client_path.clone(), "GET"),
        (Method::PUT, "/api/v1/users".to_string(), "GET"),
        (Method::POST, "/api/v1/cases/1/history".to_string(), "GET"),
    ] {
        let resp = app
            .request(
                method.clone(),
                &path,
                Some(&app.admin.token),
                Some(&json!({})),
            )
            .await;
        let context = format!("{method} {path}");
        assert_error(&resp, 405, &context);
        let allow = resp
            .header("allow")
            .unwrap_or_else(|| panic!("{context}: a 405 needs an Allow header"));
        assert!(
            allow.contains(allowed),
            "{context}: Allow {allow:?} should list {allowed}"
        );
    }
    let read = app.get(&client_path, &app.admin.token).await;
    assert_eq!(read.data(), client.data(), "DELETE on a client did nothing");
}

#[actix_web::test]
async fn wrong_methods_on_single_method_routes_return_405_too() {
    let app = spawn_app().await;
    let mut wrong = Vec::new();
    for (method, path, allowed) in [
        (Method::POST, "/health", "GET"),
        (Method::POST, "/api/v1/health", "GET"),
        (Method::GET, "/api/v1/auth/login", "POST"),
        (Method::POST, "/api/v1/auth/me", "GET"),
        (Method::GET, "/api/v1/auth/logout", "POST"),
    ] {
        let resp = app
            .request(
                method.clone(),
                path,
                Some(&app.admin.token),
                Some(&json!({})),
            )
            .await;
        let context = format!("{method} {path}");
        if resp.status != 405 {
            // Collected so that one run names every route that answers wrongly.
            wrong.push(format!("{context} -> {} {}", resp.status, resp.body));
            continue;
        }
        assert_error(&resp, 405, &context);
        let allow = resp
            .header("allow")
            .unwrap_or_else(|| panic!("{context}: a 405 needs an Allow header"));
        assert!(
            allow.contains(allowed),
            "{context}: Allow {allow:?} should list {allowed}"
        );
    }
    assert!(
        wrong.is_empty(),
        "a known path with a wrong method must answer 405:\n{}",
        wrong.join("\n")
    );
    assert_success(
        &app.get("/api/v1/auth/me", &app.admin.token).await,
        200,
        "GET /auth/logout did not log the admin out",
    );
}

#[actix_web::test]
async fn bad_query_string_values_return_400_in_the_error_envelope() {
    let app = spawn_app().await;
    for (path, field) in [
        ("/api/v1/cases?status=bogus", "status"),
        ("/api/v1/cases?priority=urgent", "priority"),
        ("/api/v1/cases?page=0", "page"),
        ("/api/v1/cases?limit=1000", "limit"),
        ("/api/v1/cases?sort=secret", "sort"),
        ("/api/v1/cases?created_after=soon", "created_after"),
        ("/api/v1/users?role=king", "role"),
        ("/api/v1/users?active=maybe", "active"),
        ("/api/v1/users?order=up", "order"),
        ("/api/v1/clients?page=1.5", "page"),
    ] {
        let resp = app.get(path, &app.admin.token).await;
        assert_invalid(&resp, field, path);
    }
}

#[actix_web::test]
async fn a_request_without_a_valid_token_returns_401_in_the_error_envelope() {
    let app = spawn_app().await;
    let no_token = app
        .request(Method::GET, "/api/v1/clients", None, None)
        .await;
    assert_error(&no_token, 401, "no Authorization header");
    for (description, header) in [
        ("a garbage bearer token", "Bearer not-a-token"),
        ("an empty bearer token", "Bearer "),
        (
            "basic auth",
            "Basic YWRtaW5AbG9jYWxob3N0OmFkbWluLXBhc3N3b3JkLTE=",
        ),
        ("a token without its scheme", app.admin.token.as_str()),
    ] {
        let request = app
            .client
            .get(app.url("/api/v1/clients"))
            .header("Authorization", header);
        let resp = read(request.send().await.unwrap()).await;
        assert_error(&resp, 401, description);
    }
}

// ---------------------------------------------------------------------------------------------
// X-Request-Id
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn every_response_carries_an_x_request_id() {
    let app = spawn_app().await;
    let created = app
        .post(
            "/api/v1/clients",
            &app.admin.token,
            json!({"name": "Amina"}),
        )
        .await;
    let answers = vec![
        ("201", created),
        ("200", app.get("/api/v1/clients", &app.admin.token).await),
        (
            "health",
            app.request(Method::GET, "/health", None, None).await,
        ),
        (
            "400",
            app.post("/api/v1/clients", &app.admin.token, json!({}))
                .await,
        ),
        (
            "401",
            app.request(Method::GET, "/api/v1/clients", None, None)
                .await,
        ),
        (
            "404 resource",
            app.get("/api/v1/clients/999999", &app.admin.token).await,
        ),
        (
            "404 route",
            app.request(Method::GET, "/api/v1/nothing-here", None, None)
                .await,
        ),
        (
            "404 outside the API",
            app.request(Method::GET, "/nothing-here", None, None).await,
        ),
        (
            "405",
            app.request(
                Method::DELETE,
                "/api/v1/clients",
                Some(&app.admin.token),
                None,
            )
            .await,
        ),
        (
            "415",
            post_raw(&app, "/api/v1/clients", Some("text/plain"), "{}").await,
        ),
    ];
    let mut seen = BTreeSet::new();
    for (description, resp) in &answers {
        assert_has_request_id(resp, description);
        seen.insert(resp.header("x-request-id").unwrap().to_string());
    }
    assert_eq!(
        seen.len(),
        answers.len(),
        "every generated request id is distinct: {seen:?}"
    );
}

#[actix_web::test]
async fn a_client_sent_x_request_id_is_echoed_unchanged() {
    let app = spawn_app().await;
    for (method, path, token) in [
        (
            Method::GET,
            "/api/v1/clients",
            Some(app.admin.token.as_str()),
        ),
        (
            Method::GET,
            "/api/v1/clients/999999",
            Some(app.admin.token.as_str()),
        ),
        (Method::GET, "/api/v1/clients", None),
        (Method::GET, "/api/v1/nothing-here", None),
        (Method::GET, "/health", None),
    ] {
        let sent = format!("trace-{}", uuid::Uuid::new_v4());
        let mut request = app
            .client
            .request(method.clone(), app.url(path))
            .header("X-Request-Id", &sent);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let resp = read(request.send().await.unwrap()).await;
        assert_eq!(
            resp.header("x-request-id"),
            Some(sent.as_str()),
            "{method} {path}: {}",
            resp.status
        );
    }
}

#[actix_web::test]
async fn an_over_long_x_request_id_is_replaced_by_a_generated_one() {
    let app = spawn_app().await;
    let long = "r".repeat(200);
    let request = app
        .client
        .get(app.url("/api/v1/clients"))
        .bearer_auth(&app.admin.token)
        .header("X-Request-Id", &long);
    let resp = read(request.send().await.unwrap()).await;
    assert_success(&resp, 200, "request with a 200-character id");
    let id = resp.header("x-request-id").unwrap();
    assert_ne!(id, long, "an over-long id must not be echoed");
    assert!(
        !id.is_empty() && id.len() <= 128,
        "a generated id instead: {id:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Idempotency-Key
// ---------------------------------------------------------------------------------------------

/// A valid creation body for each resource that takes an `Idempotency-Key`.
fn creation_bodies() -> Vec<(&'static str, Value, Value)> {
    vec![
        (
            "/api/v1/cases",
            json!({"title": "Caller worried about a child", "type": "abuse", "priority": "high"}),
            json!({"title": "Another call", "type": "neglect"}),
        ),
        (
            "/api/v1/clients",
            full_client(),
            json!({"name": "Someone else"}),
        ),
        (
            "/api/v1/users",
            json!({"name": "New Agent", "email": "new.agent@example.org", "role": "agent", "password": "long-password-1"}),
            json!({"name": "Other Agent", "email": "other.agent@example.org", "role": "agent", "password": "long-password-1"}),
        ),
    ]
}

#[actix_web::test]
async fn a_retry_with_the_same_key_and_body_returns_the_original_answer_and_creates_once() {
    let app = spawn_app().await;
    for (path, body, _) in creation_bodies() {
        let before = total(&app, path).await;
        let key = format!("retry-{}", uuid::Uuid::new_v4());
        let first = app
            .post_with_key(path, &app.admin.token, &key, body.clone())
            .await;
        assert_success(&first, 201, &format!("first POST {path}"));
        let retry = app
            .post_with_key(path, &app.admin.token, &key, body.clone())
            .await;
        assert_success(&retry, 201, &format!("retried POST {path}"));
        assert_eq!(
            retry.id(),
            first.id(),
            "{path}: the retry answers with the same id"
        );
        assert_eq!(
            retry.data(),
            first.data(),
            "{path}: the retry answers with the same data"
        );
        assert!(
            retry.data().get("password").is_none(),
            "{path}: {}",
            retry.body
        );
        assert_eq!(
            total(&app, path).await,
            before + 1,
            "{path}: only one resource was created"
        );
    }
}

#[actix_web::test]
async fn a_retry_returns_the_original_answer_even_after_the_resource_changed() {
    let app = spawn_app().await;
    let first = app
        .post_with_key("/api/v1/clients", &app.admin.token, "k-1", full_client())
        .await;
    assert_success(&first, 201, "first POST");
    let path = format!("/api/v1/clients/{}", first.id());
    assert_success(
        &app.put(&path, &app.admin.token, json!({"name": "Renamed"}))
            .await,
        200,
        "rename",
    );
    let retry = app
        .post_with_key("/api/v1/clients", &app.admin.token, "k-1", full_client())
        .await;
    assert_success(&retry, 201, "retry");
    assert_eq!(
        retry.data(),
        first.data(),
        "the original answer, not the current state"
    );
    assert_eq!(total(&app, "/api/v1/clients").await, 1);
}

#[actix_web::test]
async fn the_same_key_with_a_different_body_returns_409_and_creates_nothing() {
    let app = spawn_app().await;
    for (path, body, other) in creation_bodies() {
        let key = format!("conflict-{}", uuid::Uuid::new_v4());
        let first = app
            .post_with_key(path, &app.admin.token, &key, body.clone())
            .await;
        assert_success(&first, 201, &format!("first POST {path}"));
        let after_first = total(&app, path).await;
        let conflict = app.post_with_key(path, &app.admin.token, &key, other).await;
        assert_error(&conflict, 409, &format!("same key, other body on {path}"));
        assert_eq!(
            total(&app, path).await,
            after_first,
            "{path}: the conflicting request created nothing"
        );
        let retry = app.post_with_key(path, &app.admin.token, &key, body).await;
        assert_eq!(
            retry.id(),
            first.id(),
            "{path}: the key still answers with the original"
        );
    }
}

#[actix_web::test]
async fn the_same_key_used_by_another_user_creates_independently() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    for (path, key, body) in [
        (
            "/api/v1/cases",
            "shared-case-key",
            json!({"title": "Shared key", "type": "abuse"}),
        ),
        (
            "/api/v1/clients",
            "shared-client-key",
            json!({"name": "Shared key"}),
        ),
    ] {
        let by_agent = app
            .post_with_key(path, &agent.token, key, body.clone())
            .await;
        assert_success(&by_agent, 201, &format!("agent POST {path}"));
        let by_supervisor = app
            .post_with_key(path, &supervisor.token, key, body.clone())
            .await;
        assert_success(&by_supervisor, 201, &format!("supervisor POST {path}"));
        assert_ne!(
            by_agent.id(),
            by_supervisor.id(),
            "{path}: each user gets their own resource"
        );
        assert_eq!(total(&app, path).await, 2, "{path}: two resources");
    }

    // Only admins create users: a second admin reuses the first admin's key for another user.
    let other_admin = app.create_user("admin").await;
    let (_, body, other) = creation_bodies().remove(2);
    let first = app
        .post_with_key("/api/v1/users", &app.admin.token, "shared-user-key", body)
        .await;
    assert_success(&first, 201, "admin POST /users");
    let second = app
        .post_with_key(
            "/api/v1/users",
            &other_admin.token,
            "shared-user-key",
            other,
        )
        .await;
    assert_success(&second, 201, "other admin POST /users with the same key");
    assert_ne!(first.id(), second.id());
}

#[actix_web::test]
async fn an_invalid_idempotency_key_returns_400_and_creates_nothing() {
    let app = spawn_app().await;
    let too_long = "k".repeat(300);
    for (path, body, _) in creation_bodies() {
        let before = total(&app, path).await;
        for (description, key) in [
            ("an empty key", ""),
            ("a key of 300 characters", too_long.as_str()),
        ] {
            let resp = app
                .post_with_key(path, &app.admin.token, key, body.clone())
                .await;
            assert_error_envelope(&resp, 400, &format!("{description} on {path}"));
        }
        assert_eq!(total(&app, path).await, before, "{path}: nothing created");
    }
    let longest = "k".repeat(255);
    let resp = app
        .post_with_key(
            "/api/v1/clients",
            &app.admin.token,
            &longest,
            json!({"name": "Edge"}),
        )
        .await;
    assert_success(&resp, 201, "a key of 255 characters is valid");
    let resp = app
        .post_with_key(
            "/api/v1/clients",
            &app.admin.token,
            "k",
            json!({"name": "Short"}),
        )
        .await;
    assert_success(&resp, 201, "a key of one character is valid");
}

#[actix_web::test]
async fn without_an_idempotency_key_every_post_creates() {
    let app = spawn_app().await;
    for (path, body) in [
        (
            "/api/v1/cases",
            json!({"title": "Same body", "type": "abuse"}),
        ),
        ("/api/v1/clients", json!({"name": "Same body"})),
    ] {
        let first = app.post(path, &app.admin.token, body.clone()).await;
        let second = app.post(path, &app.admin.token, body).await;
        assert_success(&first, 201, path);
        assert_success(&second, 201, path);
        assert_ne!(first.id(), second.id(), "{path}: two creations");
        assert_eq!(total(&app, path).await, 2, "{path}");
    }
}

#[actix_web::test]
async fn concurrent_retries_with_the_same_key_create_exactly_one_case() {
    let app = spawn_app().await;
    let body = json!({"title": "Ten taps on submit", "type": "abuse"});
    let answers =
        join_all((0..10).map(|_| {
            app.post_with_key("/api/v1/cases", &app.admin.token, "ten-taps", body.clone())
        }))
        .await;
    let mut ids = BTreeSet::new();
    for (n, resp) in answers.iter().enumerate() {
        assert_success(resp, 201, &format!("concurrent request {n}"));
        ids.insert(resp.id());
    }
    assert_eq!(ids.len(), 1, "every answer names the same case: {ids:?}");
    assert_eq!(
        total(&app, "/api/v1/cases").await,
        1,
        "exactly one case exists"
    );
    let first = &answers[0];
    for resp in &answers {
        assert_eq!(
            resp.data(),
            first.data(),
            "every answer carries the same data"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Health and authentication
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn health_answers_200_without_a_token_on_both_paths() {
    let app = spawn_app().await;
    for path in ["/health", "/api/v1/health"] {
        let resp = app.request(Method::GET, path, None, None).await;
        assert_success(&resp, 200, path);
        assert_eq!(resp.data()["storage"], "ok", "{path}: {}", resp.body);
    }
}

#[actix_web::test]
async fn every_protected_route_without_a_token_returns_401_and_does_nothing() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let case = app.create_case(&app.admin.token, json!({})).await;
    let client = create_client(&app, full_client()).await;
    let (case_id, client_id, user_id) = (case.id(), client.id(), agent.id);
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/auth/me".into(), None),
        (Method::POST, "/api/v1/auth/logout".into(), None),
        (Method::GET, "/api/v1/cases".into(), None),
        (
            Method::POST,
            "/api/v1/cases".into(),
            Some(json!({"title": "T", "type": "abuse"})),
        ),
        (Method::GET, format!("/api/v1/cases/{case_id}"), None),
        (
            Method::PUT,
            format!("/api/v1/cases/{case_id}"),
            Some(json!({"title": "Changed"})),
        ),
        (Method::DELETE, format!("/api/v1/cases/{case_id}"), None),
        (
            Method::GET,
            format!("/api/v1/cases/{case_id}/history"),
            None,
        ),
        (Method::GET, "/api/v1/clients".into(), None),
        (
            Method::POST,
            "/api/v1/clients".into(),
            Some(json!({"name": "Sneaky"})),
        ),
        (Method::GET, format!("/api/v1/clients/{client_id}"), None),
        (
            Method::PUT,
            format!("/api/v1/clients/{client_id}"),
            Some(json!({"name": "Changed"})),
        ),
        (Method::GET, "/api/v1/users".into(), None),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(
                json!({"name": "X", "email": "x@example.org", "role": "admin", "password": "long-password-1"}),
            ),
        ),
        (Method::GET, format!("/api/v1/users/{user_id}"), None),
        (
            Method::PUT,
            format!("/api/v1/users/{user_id}"),
            Some(json!({"role": "admin"})),
        ),
        (Method::DELETE, format!("/api/v1/users/{user_id}"), None),
    ];
    for (method, path, body) in &routes {
        let resp = app.request(method.clone(), path, None, body.as_ref()).await;
        assert_error(&resp, 401, &format!("{method} {path} without a token"));
        let request = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth("garbage");
        let request = if let Some(body) = body {
            request.json(body)
        } else {
            request
        };
        let resp = read(request.send().await.unwrap()).await;
        assert_error(&resp, 401, &format!("{method} {path} with a garbage token"));
    }

    assert_eq!(total(&app, "/api/v1/cases").await, 1, "no case created");
    assert_eq!(total(&app, "/api/v1/clients").await, 1, "no client created");
    assert_eq!(total(&app, "/api/v1/users").await, 2, "no user created");
    let read_case = app
        .get(&format!("/api/v1/cases/{case_id}"), &app.admin.token)
        .await;
    assert_eq!(
        read_case.data()["title"],
        case.data()["title"],
        "the case is unchanged and not deleted"
    );
    let read_client = app
        .get(&format!("/api/v1/clients/{client_id}"), &app.admin.token)
        .await;
    assert_eq!(read_client.data(), client.data(), "the client is unchanged");
    let read_agent = app
        .get(&format!("/api/v1/users/{user_id}"), &app.admin.token)
        .await;
    assert_eq!(read_agent.data()["role"], "agent");
    assert_eq!(read_agent.data()["active"], true);
    assert_success(
        &app.get("/api/v1/auth/me", &agent.token).await,
        200,
        "the agent's token still works",
    );
}

#[actix_web::test]
async fn health_answers_head_requests_for_uptime_probes() {
    let app = spawn_app().await;
    for path in ["/health", "/api/v1/health"] {
        let response = app
            .client
            .head(app.url(path))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), 200, "HEAD {path}");
    }
}

#[actix_web::test]
async fn client_search_finds_accented_names_whatever_their_case() {
    let app = spawn_app().await;
    let id = app
        .post(
            "/api/v1/clients",
            &app.admin.token,
            json!({"name": "Émile Ødegård"}),
        )
        .await
        .id();
    for q in ["émile", "ÉMILE", "ødegård", "ØDEGÅRD"] {
        let found = app
            .get(&format!("/api/v1/clients?q={q}"), &app.admin.token)
            .await;
        let ids = ids(&found);
        assert_eq!(ids, vec![id], "q={q} finds the client");
    }
}

#[actix_web::test]
async fn a_retry_whose_body_differs_only_in_key_order_and_spacing_is_the_same_request() {
    let app = spawn_app().await;
    let send = |body: &'static str| {
        app.client
            .post(app.url("/api/v1/clients"))
            .bearer_auth(&app.admin.token)
            .header("Idempotency-Key", "reordered")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let first = read(send(r#"{"name":"Amina","age":12}"#).await.unwrap()).await;
    let retry = read(
        send("{ \"age\": 12,\n  \"name\": \"Amina\" }")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (first.status, retry.status),
        (201, 201),
        "{} / {}",
        first.body,
        retry.body
    );
    assert_eq!(first.id(), retry.id(), "the retry gets the original client");
    let changed = read(send(r#"{"name":"Amina","age":13}"#).await.unwrap()).await;
    assert_eq!(
        changed.status, 409,
        "a different body is a different request"
    );
}

#[actix_web::test]
async fn nul_characters_in_text_are_refused_with_400_on_every_database() {
    let app = spawn_app().await;
    let case = app
        .post(
            "/api/v1/cases",
            &app.admin.token,
            json!({"title": "a\u{0}b", "type": "abuse"}),
        )
        .await;
    assert_eq!(case.status, 400, "{}", case.body);
    assert_eq!(case.error_fields(), ["title"]);
    let client = app
        .post(
            "/api/v1/clients",
            &app.admin.token,
            json!({"name": "x", "notes": "a\u{0}b"}),
        )
        .await;
    assert_eq!(client.error_fields(), ["notes"]);
    let search = app.get("/api/v1/clients?q=a%00b", &app.admin.token).await;
    assert_eq!(search.status, 400, "{}", search.body);
}

#[actix_web::test]
async fn a_401_names_the_bearer_scheme_and_cache_busters_are_not_unknown_parameters() {
    let app = spawn_app().await;
    let anonymous = app
        .request(reqwest::Method::GET, "/api/v1/cases", None, None)
        .await;
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    let busted = app
        .get("/api/v1/cases?_=1764800000000", &app.admin.token)
        .await;
    assert_eq!(busted.status, 200, "{}", busted.body);
}

#[actix_web::test]
async fn answers_with_personal_data_may_not_be_cached() {
    let app = spawn_app().await;
    let id = app
        .post(
            "/api/v1/clients",
            &app.admin.token,
            json!({"name": "Amina"}),
        )
        .await
        .id();
    let read = app
        .get(&format!("/api/v1/clients/{id}"), &app.admin.token)
        .await;
    assert_eq!(read.header("cache-control"), Some("no-store"));
    assert_eq!(read.header("x-content-type-options"), Some("nosniff"));
    let missing = app.get("/api/v1/nowhere", &app.admin.token).await;
    assert_eq!(
        missing.header("cache-control"),
        Some("no-store"),
        "errors too"
    );
}
