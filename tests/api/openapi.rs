//! The OpenAPI document (`/api/openapi.json`) and the interactive docs (`/api/docs`): served
//! without a token, and describing every route of the contract.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, read, spawn_app, spawn_app_with};

/// Every route of API.md, then the ones the server documents besides (the health route under
/// `/api/v1`, `HEAD` for probes, Swagger UI's page itself).
const EXPECTED: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/login"),
    ("get", "/api/v1/auth/me"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/cases"),
    ("post", "/api/v1/cases"),
    ("get", "/api/v1/cases/{id}"),
    ("put", "/api/v1/cases/{id}"),
    ("delete", "/api/v1/cases/{id}"),
    ("get", "/api/v1/cases/{id}/history"),
    ("get", "/api/v1/clients"),
    ("post", "/api/v1/clients"),
    ("get", "/api/v1/clients/{id}"),
    ("put", "/api/v1/clients/{id}"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/{id}"),
    ("put", "/api/v1/users/{id}"),
    ("delete", "/api/v1/users/{id}"),
    ("get", "/api/v1/communications"),
    ("post", "/api/v1/communications"),
    ("get", "/api/v1/communications/{id}"),
    ("post", "/api/v1/webhooks/subscribe"),
    ("get", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks/{id}"),
    ("delete", "/api/v1/webhooks/{id}"),
    ("get", "/api/v1/webhooks/{id}/deliveries"),
    ("get", "/api/v1/dashboard/stats"),
    ("get", "/api/v1/dashboard/cases-by-type"),
    ("get", "/api/v1/dashboard/agent-performance"),
    ("get", "/api/v1/ws"),
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/api/docs"),
    ("get", "/api/openapi.json"),
    // Beyond API.md:
    ("head", "/health"),
    ("get", "/api/v1/health"),
    ("head", "/api/v1/health"),
    ("get", "/api/docs/"),
];

/// The operations anyone may call.
const PUBLIC: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/login"),
    ("get", "/health"),
    ("head", "/health"),
    ("get", "/api/v1/health"),
    ("head", "/api/v1/health"),
    ("get", "/api/docs"),
    ("get", "/api/docs/"),
    ("get", "/api/openapi.json"),
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "head", "patch", "options"];

async fn document(app: &TestApp) -> Value {
    let response = app
        .request(Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "content type {:?}",
        response.header("content-type")
    );
    assert!(response.body.is_object(), "not a JSON object");
    response.body
}

/// Every (method, path, operation) of the document.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let paths = document["paths"].as_object().expect("paths");
    let mut found = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            if let Some(operation) = item.get(*method) {
                found.push((method.to_string(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

/// Every `$ref` anywhere in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field) {
                    ("$ref", Value::String(target)) => found.push(target.clone()),
                    _ => references(field, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

#[actix_web::test]
async fn the_openapi_document_is_served_without_a_token_as_openapi_3_json() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let version = document["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3."), "openapi {version}");
    assert_eq!(document["info"]["title"], "Helpline");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        document["servers"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    let scheme = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
}

#[actix_web::test]
async fn the_document_lists_every_route_of_the_contract_and_no_other() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let documented: BTreeSet<(String, String)> = operations(&document)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let unexpected: Vec<_> = documented.difference(&expected).collect();
    assert!(missing.is_empty(), "not documented: {missing:?}");
    assert!(
        unexpected.is_empty(),
        "documented but not expected: {unexpected:?}"
    );
}

#[actix_web::test]
async fn every_operation_declares_responses_and_the_protected_ones_declare_bearer_security() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let mut operation_ids = BTreeSet::new();
    for (method, path, operation) in operations(&document) {
        let name = format!("{} {path}", method.to_uppercase());
        let id = operation["operationId"].as_str().expect("operationId");
        assert!(
            operation_ids.insert(id.to_string()),
            "{name}: {id} is not unique"
        );
        let responses = operation["responses"].as_object().expect("responses");
        assert!(!responses.is_empty(), "{name} declares no response");
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{name} has no summary"
        );
        let schemes: Vec<String> = operation["security"]
            .as_array()
            .map(|alternatives| {
                alternatives
                    .iter()
                    .filter_map(|a| a.as_object())
                    .flat_map(|a| a.keys().cloned())
                    .collect()
            })
            .unwrap_or_default();
        if PUBLIC.contains(&(method.as_str(), path.as_str())) {
            assert!(
                schemes.is_empty(),
                "{name} is public but declares {schemes:?}"
            );
        } else {
            assert!(
                schemes.iter().any(|s| s == "bearer"),
                "{name} needs a token but declares {schemes:?}"
            );
            assert!(responses.contains_key("401"), "{name} does not declare 401");
        }
        if path.starts_with("/api/v1/") && path != "/api/v1/health" {
            assert!(responses.contains_key("429"), "{name} does not declare 429");
        }
        if operation.get("requestBody").is_some() {
            for status in ["400", "413", "415"] {
                assert!(
                    responses.contains_key(status),
                    "{name} takes a body but does not declare {status}"
                );
            }
        }
        if path.contains("{id}") {
            let parameters = operation["parameters"].as_array().expect("parameters");
            assert!(
                parameters
                    .iter()
                    .any(|p| p["name"] == "id" && p["in"] == "path" && p["required"] == true),
                "{name} does not declare its id"
            );
            assert!(responses.contains_key("404"), "{name} does not declare 404");
        }
    }
}

#[actix_web::test]
async fn every_reference_in_the_document_resolves() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let pointer = target.strip_prefix('#').expect("a local reference");
        assert!(
            document.pointer(pointer).is_some(),
            "{target} does not resolve"
        );
    }
}

#[actix_web::test]
async fn the_documented_sort_fields_are_the_ones_each_list_accepts() {
    let app = spawn_app_with(|s| s.webhook_allow_private = true).await;
    let document = document(&app).await;
    let token = app.admin.token.clone();
    let case = app.create_case(&token, serde_json::json!({})).await.id();
    let subscribed = app
        .post(
            "/api/v1/webhooks/subscribe",
            &token,
            serde_json::json!({"event": "*", "url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    let webhook = subscribed.id();
    for (method, path, operation) in operations(&document) {
        let Some(sort) = operation["parameters"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "sort"))
        else {
            continue;
        };
        assert_eq!(method, "get", "{path}");
        let path = path
            .replace("/cases/{id}", &format!("/cases/{case}"))
            .replace("/webhooks/{id}", &format!("/webhooks/{webhook}"));
        let fields = sort["schema"]["enum"].as_array().expect("sort enum");
        assert!(!fields.is_empty(), "{path}");
        for field in fields {
            let field = field.as_str().expect("a name");
            let answer = app.get(&format!("{path}?sort={field}"), &token).await;
            assert_eq!(answer.status, 200, "{path} sort={field}: {}", answer.body);
        }
        let refused = app.get(&format!("{path}?sort=no_such_field"), &token).await;
        assert_eq!(refused.status, 400, "{path}: {}", refused.body);
    }
}

#[actix_web::test]
async fn the_docs_page_and_its_scripts_load_without_a_token() {
    let app = spawn_app().await;
    let bare = app.request(Method::GET, "/api/docs", None, None).await;
    assert!(
        (300..400).contains(&bare.status),
        "GET /api/docs: {}",
        bare.status
    );
    assert_eq!(bare.header("location"), Some("/api/docs/"));

    let page = app.request(Method::GET, "/api/docs/", None, None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        page.header("content-type")
    );
    let html = page.body.as_str().expect("HTML text");
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");

    let bundle = app
        .client
        .get(app.url("/api/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .expect("bundle");
    assert_eq!(bundle.status(), 200);
    let kind = bundle.headers()["content-type"]
        .to_str()
        .expect("type")
        .to_string();
    assert!(kind.contains("javascript"), "{kind}");
    assert!(bundle.bytes().await.expect("body").len() > 100_000);

    let initializer = read(
        app.client
            .get(app.url("/api/docs/swagger-initializer.js"))
            .send()
            .await
            .expect("initializer"),
    )
    .await;
    assert_eq!(initializer.status, 200);
    let script = initializer.body.as_str().expect("script text");
    assert!(script.contains("/api/openapi.json"), "{script}");
}

#[actix_web::test]
async fn the_docs_are_outside_the_rate_limits() {
    let app = spawn_app_with(|s| s.rate_limit_other = 1).await;
    for _ in 0..3 {
        for path in ["/api/openapi.json", "/api/docs/"] {
            let answer = app.request(Method::GET, path, None, None).await;
            assert_eq!(answer.status, 200, "{path}");
            assert_eq!(answer.header("x-ratelimit-limit"), None, "{path}");
        }
    }
}
