//! `/auth` and `/users` through real HTTP: login, tokens and their revocation, roles, user
//! validation, the last-admin rule, listing, the failed-login throttle, restarts and events.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Password of the users these tests create themselves.
const PASSWORD: &str = "a-long-password-1";

/// Asserts that no key of `body` looks like a password or hash and no value carries one.
fn assert_no_secrets(body: &Value, passwords: &[&str], what: &str) {
    fn walk(value: &Value, passwords: &[&str], what: &str, whole: &Value) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let key = key.to_lowercase();
                    assert!(
                        !key.contains("password") && !key.contains("hash"),
                        "{what}: key {key:?} in {whole}"
                    );
                    walk(inner, passwords, what, whole);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, passwords, what, whole)),
            Value::String(text) => {
                assert!(
                    !text.contains("$argon2"),
                    "{what}: a password hash in {whole}"
                );
                for password in passwords {
                    assert!(!text.contains(password), "{what}: the password in {whole}");
                }
            }
            _ => {}
        }
    }
    walk(body, passwords, what, body);
}

fn user_path(id: i64) -> String {
    format!("/api/v1/users/{id}")
}

/// Creates a user as the admin, without logging in; the 201 answer.
async fn add_user(app: &TestApp, name: &str, email: &str, role: &str) -> Resp {
    let body = json!({"name": name, "email": email, "role": role, "password": PASSWORD});
    let created = app.post("/api/v1/users", &app.admin.token, body).await;
    assert_eq!(created.status, 201, "create {email}: {}", created.body);
    created
}

/// How many users exist, as the admin sees it.
async fn user_total(app: &TestApp) -> i64 {
    let list = app.get("/api/v1/users?limit=1", &app.admin.token).await;
    assert_eq!(list.status, 200, "list users: {}", list.body);
    list.body["pagination"]["total"]
        .as_i64()
        .expect("pagination.total")
}

/// The `field` of every item of a list answer.
fn column(resp: &Resp, field: &str) -> Vec<Value> {
    resp.data()
        .as_array()
        .unwrap_or_else(|| panic!("data is not a list: {}", resp.body))
        .iter()
        .map(|item| item[field].clone())
        .collect()
}

/// A client whose connections come from `127.0.0.{last_octet}` (all of 127/8 is loopback).
fn client_from(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, last_octet]))
        .build()
        .expect("client")
}

async fn login_from(app: &TestApp, client: &reqwest::Client, email: &str, password: &str) -> Resp {
    let request = client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}));
    read(request.send().await.expect("request sent")).await
}

/// A request with a raw `Authorization` header (or none).
async fn with_authorization(app: &TestApp, path: &str, authorization: Option<&str>) -> Resp {
    let mut request = app.client.get(app.url(path));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    read(request.send().await.expect("request sent")).await
}

fn token_of(login: &Resp) -> String {
    login.data()["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {}", login.body))
        .to_string()
}

const CONFIGURED_SECRET: &str = "a-configured-secret-of-more-than-32-chars";

/// A token signed with `secret` using `algorithm`, carrying `claims`.
fn sign(secret: &str, algorithm: jsonwebtoken::Algorithm, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).expect("key"),
    )
    .expect("signed token")
}

/// Creates an admin as `creator` and logs them in.
async fn add_admin(app: &TestApp, creator: &TestUser, n: u32) -> TestUser {
    let email = format!("admin{n}@example.org");
    let body = json!({"name": format!("Admin {n}"), "email": email, "role": "admin", "password": PASSWORD});
    let created = app.post("/api/v1/users", &creator.token, body).await;
    assert_eq!(created.status, 201, "create {email}: {}", created.body);
    let login = app.login(&email, PASSWORD).await;
    assert_eq!(login.status, 200, "login {email}: {}", login.body);
    TestUser {
        id: created.id(),
        email,
        password: PASSWORD.into(),
        token: token_of(&login),
    }
}

/// Asserts that `survivor` is the one active admin.
async fn assert_sole_admin(app: &TestApp, survivor: &TestUser, what: &str) {
    let admins = app
        .get("/api/v1/users?role=admin&active=true", &survivor.token)
        .await;
    assert_eq!(admins.status, 200, "{what}: {}", admins.body);
    assert_eq!(
        admins.body["pagination"]["total"], 1,
        "{what}: {}",
        admins.body
    );
    assert_eq!(
        admins.data()[0]["id"],
        survivor.id,
        "{what}: {}",
        admins.body
    );
}

// ---------------------------------------------------------------------------------------------
// Login
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn login_returns_a_bearer_token_expiring_in_about_12_hours_and_the_user_without_secrets() {
    let app = spawn_app().await;

    let login = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(login.body["status"], "success");
    let data = login.data();
    assert!(
        data["token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3),
        "a JWT: {data}"
    );
    assert_eq!(data["token_type"], "Bearer");
    let expires_at = data["expires_at"].as_str().expect("expires_at");
    assert!(expires_at.ends_with('Z'), "UTC with Z: {expires_at}");
    let expires_at: DateTime<Utc> = DateTime::parse_from_rfc3339(expires_at)
        .expect("RFC 3339")
        .into();
    let ahead = expires_at - Utc::now();
    assert!(
        (ahead.num_seconds() - 12 * 3600).abs() <= 120,
        "expires_at should be about 12 h ahead, is {} s ahead",
        ahead.num_seconds()
    );
    let user = &data["user"];
    assert_eq!(user["id"], app.admin.id);
    assert_eq!(user["email"], ADMIN_EMAIL);
    assert_eq!(user["role"], "admin");
    assert_eq!(user["active"], true);
    for field in ["name", "created_at", "updated_at"] {
        assert!(user[field].is_string(), "user.{field} in {user}");
    }
    assert_no_secrets(&login.body, &[ADMIN_PASSWORD], "login answer");
    let me = app.get("/api/v1/auth/me", &token_of(&login)).await;
    assert_eq!(me.status, 200, "the new token works: {}", me.body);
}

#[actix_web::test]
async fn wrong_password_and_unknown_email_get_401_with_the_same_message() {
    let app = spawn_app().await;

    let wrong_password = app.login(ADMIN_EMAIL, "not-the-password").await;
    let unknown_email = app.login("nobody@example.org", ADMIN_PASSWORD).await;

    assert_error(&wrong_password, 401, "wrong password");
    assert_error(&unknown_email, 401, "unknown email");
    assert_eq!(
        wrong_password.body["message"], unknown_email.body["message"],
        "the two failures must be indistinguishable"
    );
    assert!(
        wrong_password.body.get("errors").is_none(),
        "{}",
        wrong_password.body
    );
    assert!(
        wrong_password.data().is_null(),
        "no data on failure: {}",
        wrong_password.body
    );
}

#[actix_web::test]
async fn login_with_missing_or_mistyped_fields_returns_400_naming_each_field() {
    let app = spawn_app().await;
    let cases = [
        ("empty body", json!({}), vec!["email", "password"]),
        (
            "missing email",
            json!({"password": ADMIN_PASSWORD}),
            vec!["email"],
        ),
        (
            "missing password",
            json!({"email": ADMIN_EMAIL}),
            vec!["password"],
        ),
        (
            "email is a number",
            json!({"email": 42, "password": ADMIN_PASSWORD}),
            vec!["email"],
        ),
        (
            "email is null",
            json!({"email": null, "password": ADMIN_PASSWORD}),
            vec!["email"],
        ),
        (
            "email is a list",
            json!({"email": [ADMIN_EMAIL], "password": ADMIN_PASSWORD}),
            vec!["email"],
        ),
        (
            "password is a number",
            json!({"email": ADMIN_EMAIL, "password": 12345678}),
            vec!["password"],
        ),
        (
            "password is an object",
            json!({"email": ADMIN_EMAIL, "password": {"x": 1}}),
            vec!["password"],
        ),
        (
            "unknown field",
            json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "remember_me": true}),
            vec!["remember_me"],
        ),
    ];

    for (what, body, fields) in cases {
        let resp = app
            .request(Method::POST, "/api/v1/auth/login", None, Some(&body))
            .await;
        for field in fields {
            assert_invalid(&resp, field, what);
        }
        assert!(
            resp.data().is_null(),
            "{what}: no token on failure: {}",
            resp.body
        );
    }
}

#[actix_web::test]
async fn login_with_malformed_json_or_a_non_object_body_returns_400() {
    let app = spawn_app().await;

    for (what, raw) in [
        ("malformed JSON", "{\"email\": "),
        ("a list", "[]"),
        ("a string", "\"admin\""),
    ] {
        let request = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("Content-Type", "application/json")
            .body(raw);
        let resp = read(request.send().await.expect("request sent")).await;
        assert_error(&resp, 400, what);
    }
}

#[actix_web::test]
async fn login_email_is_case_insensitive() {
    let app = spawn_app().await;
    add_user(&app, "Mixed Case", "Mixed.Case@Example.org", "agent").await;

    for email in ["ADMIN@LOCALHOST", "Admin@Localhost"] {
        let login = app.login(email, ADMIN_PASSWORD).await;
        assert_eq!(login.status, 200, "login as {email}: {}", login.body);
        assert_eq!(login.data()["user"]["id"], app.admin.id, "login as {email}");
    }
    for email in [
        "mixed.case@example.org",
        "MIXED.CASE@EXAMPLE.ORG",
        "Mixed.Case@Example.org",
    ] {
        let login = app.login(email, PASSWORD).await;
        assert_eq!(login.status, 200, "login as {email}: {}", login.body);
    }
}

// ---------------------------------------------------------------------------------------------
// Me and logout
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn me_returns_the_caller() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;

    let me = app.get("/api/v1/auth/me", &agent.token).await;
    let admin_me = app.get("/api/v1/auth/me", &app.admin.token).await;

    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["status"], "success");
    assert_eq!(me.data()["id"], agent.id);
    assert_eq!(me.data()["email"], agent.email.as_str());
    assert_eq!(me.data()["role"], "agent");
    assert_eq!(me.data()["active"], true);
    assert_no_secrets(&me.body, &[&agent.password], "GET /auth/me");
    assert_eq!(admin_me.status, 200, "{}", admin_me.body);
    assert_eq!(admin_me.data()["id"], app.admin.id);
    assert_eq!(admin_me.data()["role"], "admin");
}

#[actix_web::test]
async fn logout_revokes_the_presented_token_everywhere_and_only_that_token() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let second = token_of(&app.login(&agent.email, &agent.password).await);
    let case_id = app.create_case(&agent.token, json!({})).await.id();

    let logout = app
        .request(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&agent.token),
            None,
        )
        .await;

    assert_eq!(logout.status, 200, "{}", logout.body);
    assert_eq!(logout.body["status"], "success");
    let case_path = format!("/api/v1/cases/{case_id}");
    for (method, path) in [
        (Method::GET, "/api/v1/auth/me"),
        (Method::GET, "/api/v1/users"),
        (Method::GET, case_path.as_str()),
        (Method::GET, "/api/v1/cases"),
        (Method::POST, "/api/v1/auth/logout"),
    ] {
        let resp = app
            .request(method.clone(), path, Some(&agent.token), None)
            .await;
        assert_error(&resp, 401, &format!("logged-out token on {method} {path}"));
    }
    let created = app
        .post(
            "/api/v1/cases",
            &agent.token,
            json!({"title": "After logout", "type": "abuse"}),
        )
        .await;
    assert_error(&created, 401, "logged-out token creating a case");
    let me = app.get("/api/v1/auth/me", &second).await;
    assert_eq!(
        me.status, 200,
        "the user's other token keeps working: {}",
        me.body
    );
    assert_eq!(me.data()["id"], agent.id);
    let case = app.get(&case_path, &second).await;
    assert_eq!(case.status, 200, "{}", case.body);
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn requests_without_a_valid_bearer_token_get_401_in_the_error_envelope() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let now = Utc::now().timestamp();
    let claims =
        json!({"sub": app.admin.id.to_string(), "jti": "forged", "iat": now, "exp": now + 3600});
    let other_secret = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-of-at-least-32-characters!")
            .unwrap(),
    )
    .unwrap();
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    // The agent's real signature over a payload that claims to be the admin.
    let parts: Vec<&str> = agent.token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = json!(app.admin.id.to_string());
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );

    let cases: Vec<(&str, Option<String>)> = vec![
        ("no Authorization header", None),
        ("empty header", Some(String::new())),
        ("Bearer without a token", Some("Bearer ".into())),
        ("Bearer garbage", Some("Bearer garbage".into())),
        ("three dots of garbage", Some("Bearer a.b.c".into())),
        (
            "wrong scheme Basic",
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("a:b")
            )),
        ),
        (
            "valid token under the Token scheme",
            Some(format!("Token {}", agent.token)),
        ),
        ("valid token without a scheme", Some(agent.token.clone())),
        (
            "signed with another secret",
            Some(format!("Bearer {other_secret}")),
        ),
        ("alg none", Some(format!("Bearer {unsigned}"))),
        (
            "payload changed after signing",
            Some(format!("Bearer {tampered}")),
        ),
    ];

    for (what, authorization) in cases {
        for path in ["/api/v1/auth/me", "/api/v1/users", "/api/v1/cases"] {
            let resp = with_authorization(&app, path, authorization.as_deref()).await;
            assert_error(&resp, 401, &format!("{what} on {path}"));
            assert!(resp.data().is_null(), "{what} on {path}: {}", resp.body);
        }
    }
    let still = app.get("/api/v1/auth/me", &agent.token).await;
    assert_eq!(still.status, 200, "the genuine token works: {}", still.body);
    assert_eq!(still.data()["id"], agent.id);
}

#[actix_web::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;

    let resp = with_authorization(
        &app,
        "/api/v1/auth/me",
        Some(&format!("bearer {}", app.admin.token)),
    )
    .await;

    assert_eq!(
        resp.status, 200,
        "RFC 7235: the scheme is case-insensitive: {}",
        resp.body
    );
}

#[actix_web::test]
async fn an_expired_token_gets_401() {
    let app = spawn_app_with(|settings| settings.token_ttl = Duration::from_secs(1)).await;

    let login = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let token = token_of(&login);
    let expires_at: DateTime<Utc> =
        DateTime::parse_from_rfc3339(login.data()["expires_at"].as_str().expect("expires_at"))
            .expect("RFC 3339")
            .into();
    let ahead = (expires_at - Utc::now()).num_milliseconds();
    assert!(
        (-1000..=1500).contains(&ahead),
        "expires_at follows the 1 s ttl: {ahead} ms ahead"
    );
    let fresh = app.get("/api/v1/auth/me", &token).await;
    assert_eq!(fresh.status, 200, "fresh token: {}", fresh.body);

    tokio::time::sleep(Duration::from_secs(2)).await;

    for path in ["/api/v1/auth/me", "/api/v1/users", "/api/v1/cases"] {
        let resp = app.get(path, &token).await;
        assert_error(&resp, 401, &format!("expired token on {path}"));
    }
}

#[actix_web::test]
async fn tokens_are_hs256_jwts_checked_against_the_configured_secret() {
    let app = spawn_app_with(|settings| settings.jwt_secret = Some(CONFIGURED_SECRET.into())).await;
    let agent = app.create_user("agent").await;
    assert_eq!(
        app.delete(&user_path(agent.id), &app.admin.token)
            .await
            .status,
        200
    );
    let now = Utc::now().timestamp();
    let claims = |sub: Value, exp: Option<i64>| {
        let mut claims = json!({"sub": sub, "jti": uuid::Uuid::new_v4().simple().to_string(), "tgen": 1, "iat": now - 5});
        if let Some(exp) = exp {
            claims["exp"] = json!(exp);
        }
        claims
    };
    let hs256 = jsonwebtoken::Algorithm::HS256;
    let admin = json!(app.admin.id.to_string());

    let good = sign(
        CONFIGURED_SECRET,
        hs256,
        &claims(admin.clone(), Some(now + 600)),
    );
    let me = app.get("/api/v1/auth/me", &good).await;
    assert_eq!(
        me.status, 200,
        "a well-formed HS256 token with the configured secret: {}",
        me.body
    );
    assert_eq!(me.data()["id"], app.admin.id);

    let refused = [
        (
            "expired a minute ago",
            sign(
                CONFIGURED_SECRET,
                hs256,
                &claims(admin.clone(), Some(now - 60)),
            ),
        ),
        (
            "without exp",
            sign(CONFIGURED_SECRET, hs256, &claims(admin.clone(), None)),
        ),
        (
            "for an unknown user",
            sign(
                CONFIGURED_SECRET,
                hs256,
                &claims(json!("999999"), Some(now + 600)),
            ),
        ),
        (
            "for a deactivated user",
            sign(
                CONFIGURED_SECRET,
                hs256,
                &claims(json!(agent.id.to_string()), Some(now + 600)),
            ),
        ),
        (
            "with a non-numeric subject",
            sign(
                CONFIGURED_SECRET,
                hs256,
                &claims(json!("admin"), Some(now + 600)),
            ),
        ),
        (
            "signed with HS512",
            sign(
                CONFIGURED_SECRET,
                jsonwebtoken::Algorithm::HS512,
                &claims(admin.clone(), Some(now + 600)),
            ),
        ),
        (
            "signed with another secret",
            sign(
                &CONFIGURED_SECRET.replace('a', "b"),
                hs256,
                &claims(admin, Some(now + 600)),
            ),
        ),
    ];
    for (what, token) in refused {
        assert_error(&app.get("/api/v1/auth/me", &token).await, 401, what);
    }
}

#[actix_web::test]
async fn tokens_survive_a_restart_with_the_same_configured_secret_and_die_with_a_new_one() {
    let mut app =
        spawn_app_with(|settings| settings.jwt_secret = Some(CONFIGURED_SECRET.into())).await;
    let agent = app.create_user("agent").await;

    app.restart().await;
    assert_eq!(
        app.get("/api/v1/auth/me", &agent.token).await.status,
        200,
        "same secret"
    );

    app.settings.jwt_secret = Some(CONFIGURED_SECRET.replace('a', "z"));
    app.restart().await;
    assert_error(
        &app.get("/api/v1/auth/me", &agent.token).await,
        401,
        "token of the old secret",
    );
    let login = app.login(&agent.email, &agent.password).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(
        app.get("/api/v1/auth/me", &token_of(&login)).await.status,
        200,
        "token of the new secret"
    );
}

// ---------------------------------------------------------------------------------------------
// Deactivation and role changes
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn deleting_a_user_deactivates_them_kills_their_tokens_and_keeps_their_cases() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let case_id = app
        .create_case(&agent.token, json!({"title": "Written before leaving"}))
        .await
        .id();
    let total = user_total(&app).await;

    let deleted = app.delete(&user_path(agent.id), &app.admin.token).await;

    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.data()["id"], agent.id);
    assert_eq!(deleted.data()["active"], false);
    assert_no_secrets(&deleted.body, &[&agent.password], "DELETE /users/{id}");
    for path in ["/api/v1/auth/me", "/api/v1/users", "/api/v1/cases"] {
        let resp = app.get(path, &agent.token).await;
        assert_error(&resp, 401, &format!("deactivated user's token on {path}"));
    }
    let login = app.login(&agent.email, &agent.password).await;
    assert_error(&login, 401, "deactivated user logging in");
    let unknown = app.login("nobody@example.org", &agent.password).await;
    assert_eq!(
        login.body["message"], unknown.body["message"],
        "same message as any bad credentials"
    );
    let read = app.get(&user_path(agent.id), &app.admin.token).await;
    assert_eq!(
        read.status, 200,
        "the deactivated user stays readable: {}",
        read.body
    );
    assert_eq!(read.data()["active"], false);
    assert_eq!(user_total(&app).await, total, "deactivation keeps the row");
    let case = app
        .get(&format!("/api/v1/cases/{case_id}"), &app.admin.token)
        .await;
    assert_eq!(case.status, 200, "their case stays readable: {}", case.body);
    assert_eq!(case.data()["created_by"], agent.id);
    assert_eq!(case.data()["title"], "Written before leaving");
}

#[actix_web::test]
async fn unknown_or_malformed_user_ids_return_404() {
    let app = spawn_app().await;
    let token = &app.admin.token;

    for path in [
        "/api/v1/users/999999",
        "/api/v1/users/0",
        "/api/v1/users/-1",
        "/api/v1/users/abc",
    ] {
        assert_error(&app.get(path, token).await, 404, &format!("GET {path}"));
        assert_error(
            &app.put(path, token, json!({"name": "Ghost"})).await,
            404,
            &format!("PUT {path}"),
        );
        assert_error(
            &app.delete(path, token).await,
            404,
            &format!("DELETE {path}"),
        );
    }
}

#[actix_web::test]
async fn a_role_change_applies_at_once_to_existing_tokens() {
    let app = spawn_app().await;
    let supervisor = app.create_user("supervisor").await;
    let agent = app.create_user("agent").await;
    let first = app.create_case(&app.admin.token, json!({})).await.id();
    let second = app.create_case(&app.admin.token, json!({})).await.id();
    let third = app.create_case(&app.admin.token, json!({})).await.id();
    let deleted = app
        .delete(&format!("/api/v1/cases/{first}"), &supervisor.token)
        .await;
    assert_eq!(
        deleted.status, 200,
        "a supervisor may delete a case: {}",
        deleted.body
    );
    let refused = app
        .delete(&format!("/api/v1/cases/{second}"), &agent.token)
        .await;
    assert_error(&refused, 403, "an agent may not delete a case");

    let demoted = app
        .put(
            &user_path(supervisor.id),
            &app.admin.token,
            json!({"role": "agent"}),
        )
        .await;
    let promoted = app
        .put(
            &user_path(agent.id),
            &app.admin.token,
            json!({"role": "supervisor"}),
        )
        .await;

    assert_eq!(demoted.status, 200, "{}", demoted.body);
    assert_eq!(demoted.data()["role"], "agent");
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(promoted.data()["role"], "supervisor");
    let me = app.get("/api/v1/auth/me", &supervisor.token).await;
    assert_eq!(
        me.data()["role"],
        "agent",
        "the old token sees the new role: {}",
        me.body
    );
    let after = app
        .delete(&format!("/api/v1/cases/{second}"), &supervisor.token)
        .await;
    assert_error(
        &after,
        403,
        "the demoted supervisor deleting a case with their old token",
    );
    assert_eq!(
        app.get(&format!("/api/v1/cases/{second}"), &app.admin.token)
            .await
            .status,
        200,
        "not deleted"
    );
    let allowed = app
        .delete(&format!("/api/v1/cases/{third}"), &agent.token)
        .await;
    assert_eq!(
        allowed.status, 200,
        "the promoted agent deletes with their old token: {}",
        allowed.body
    );
}

#[actix_web::test]
async fn cases_cannot_be_assigned_to_a_deactivated_user() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let case_id = app
        .create_case(&app.admin.token, json!({"assigned_to": agent.id}))
        .await
        .id();
    let other = app.create_case(&app.admin.token, json!({})).await;
    assert_eq!(
        app.delete(&user_path(agent.id), &app.admin.token)
            .await
            .status,
        200
    );

    let created = app
        .post(
            "/api/v1/cases",
            &app.admin.token,
            json!({"title": "New", "type": "abuse", "assigned_to": agent.id}),
        )
        .await;
    let updated = app
        .put(
            &format!("/api/v1/cases/{}", other.id()),
            &app.admin.token,
            json!({"assigned_to": agent.id}),
        )
        .await;

    assert_invalid(
        &created,
        "assigned_to",
        "creating a case for a deactivated user",
    );
    assert_invalid(
        &updated,
        "assigned_to",
        "assigning a case to a deactivated user",
    );
    let kept = app
        .get(&format!("/api/v1/cases/{case_id}"), &app.admin.token)
        .await;
    assert_eq!(
        kept.data()["assigned_to"],
        agent.id,
        "the existing assignment is history and stays"
    );
}

// ---------------------------------------------------------------------------------------------
// Who may do what with users
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn agents_and_supervisors_may_list_and_read_users_but_not_change_them() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let supervisor = app.create_user("supervisor").await;
    let target = add_user(&app, "Target User", "target@example.org", "agent").await;
    let target_id = target.id();

    for (role, caller) in [("agent", &agent), ("supervisor", &supervisor)] {
        let list = app.get("/api/v1/users", &caller.token).await;
        assert_eq!(list.status, 200, "{role} lists users: {}", list.body);
        assert!(
            column(&list, "id").contains(&json!(target_id)),
            "{role} sees the target in {}",
            list.body
        );
        assert_no_secrets(
            &list.body,
            &[PASSWORD, &caller.password],
            &format!("{role} listing users"),
        );
        let read = app.get(&user_path(target_id), &caller.token).await;
        assert_eq!(read.status, 200, "{role} reads a user: {}", read.body);
        assert_eq!(read.data()["email"], "target@example.org");

        let total = user_total(&app).await;
        let body = json!({"name": "Sneaky", "email": format!("sneaky-{role}@example.org"), "role": "admin", "password": PASSWORD});
        assert_error(
            &app.post("/api/v1/users", &caller.token, body).await,
            403,
            &format!("{role} POST /users"),
        );
        assert_eq!(user_total(&app).await, total, "{role}: nothing created");
        let put = app
            .put(
                &user_path(target_id),
                &caller.token,
                json!({"name": "Renamed"}),
            )
            .await;
        assert_error(&put, 403, &format!("{role} PUT /users/{{id}}"));
        let promote_self = app
            .put(
                &user_path(caller.id),
                &caller.token,
                json!({"role": "admin"}),
            )
            .await;
        assert_error(&promote_self, 403, &format!("{role} promoting themselves"));
        let delete = app.delete(&user_path(target_id), &caller.token).await;
        assert_error(&delete, 403, &format!("{role} DELETE /users/{{id}}"));

        let after = app.get(&user_path(target_id), &app.admin.token).await;
        assert_eq!(
            after.data(),
            target.data(),
            "{role}: the target is unchanged"
        );
        let me = app.get("/api/v1/auth/me", &caller.token).await;
        assert_eq!(me.data()["role"], role, "{role}: still {role}");
    }
}

#[actix_web::test]
async fn admins_may_create_read_update_and_delete_users() {
    let app = spawn_app().await;
    let token = &app.admin.token;

    let created = app
        .post(
            "/api/v1/users",
            token,
            json!({"name": "  Nadia Ochieng  ", "email": "nadia@example.org", "role": "agent", "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["status"], "success");
    let id = created.id();
    assert!(id > 0);
    assert_eq!(
        created.data()["name"],
        "Nadia Ochieng",
        "the name is trimmed"
    );
    assert_eq!(created.data()["email"], "nadia@example.org");
    assert_eq!(created.data()["role"], "agent");
    assert_eq!(created.data()["active"], true, "active by default");
    for field in ["created_at", "updated_at"] {
        let at = created.data()[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {}", created.body));
        assert!(
            at.ends_with('Z') && DateTime::parse_from_rfc3339(at).is_ok(),
            "{field}: {at}"
        );
    }
    assert!(
        created.data()["last_seen_at"].is_null(),
        "never seen yet: {}",
        created.body
    );

    let read = app.get(&user_path(id), token).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.data(), created.data());
    let list = app.get("/api/v1/users", token).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(column(&list, "id").contains(&json!(id)));

    let updated = app
        .put(
            &user_path(id),
            token,
            json!({"name": "Nadia O.", "role": "supervisor"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.data()["name"], "Nadia O.");
    assert_eq!(updated.data()["role"], "supervisor");
    assert_eq!(
        updated.data()["email"],
        "nadia@example.org",
        "fields not sent are kept"
    );
    assert_eq!(updated.data()["created_at"], created.data()["created_at"]);
    assert_eq!(
        app.get(&user_path(id), token).await.data(),
        updated.data(),
        "the update is stored"
    );

    let deleted = app.delete(&user_path(id), token).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.data()["active"], false);
    assert_eq!(app.get(&user_path(id), token).await.data()["active"], false);
}

#[actix_web::test]
async fn every_user_and_auth_route_without_a_token_returns_401() {
    let app = spawn_app().await;
    let target = add_user(&app, "Target User", "target@example.org", "agent").await;
    let path = user_path(target.id());
    let total = user_total(&app).await;
    let new_user =
        json!({"name": "Anon", "email": "anon@example.org", "role": "admin", "password": PASSWORD});

    let cases = [
        (Method::GET, "/api/v1/users", None),
        (Method::POST, "/api/v1/users", Some(new_user)),
        (Method::GET, path.as_str(), None),
        (Method::PUT, path.as_str(), Some(json!({"role": "admin"}))),
        (Method::DELETE, path.as_str(), None),
        (Method::GET, "/api/v1/auth/me", None),
        (Method::POST, "/api/v1/auth/logout", None),
    ];
    for (method, route, body) in cases {
        let resp = app
            .request(method.clone(), route, None, body.as_ref())
            .await;
        assert_error(&resp, 401, &format!("{method} {route} without a token"));
    }

    assert_eq!(user_total(&app).await, total, "nothing created");
    assert_eq!(
        app.get(&path, &app.admin.token).await.data(),
        target.data(),
        "nothing changed"
    );
}

// ---------------------------------------------------------------------------------------------
// Validation, uniqueness, passwords
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn creating_a_user_with_invalid_fields_returns_400_naming_the_field_and_creates_nothing() {
    let app = spawn_app().await;
    let valid = json!({"name": "Valid Name", "email": "valid@example.org", "role": "agent", "password": PASSWORD});
    let cases: Vec<(&str, &str, Option<Value>)> = vec![
        ("missing name", "name", None),
        ("missing email", "email", None),
        ("missing password", "password", None),
        ("null name", "name", Some(Value::Null)),
        ("blank name", "name", Some(json!("   "))),
        (
            "name of 201 characters",
            "name",
            Some(json!("n".repeat(201))),
        ),
        ("name is a number", "name", Some(json!(42))),
        ("null email", "email", Some(Value::Null)),
        ("email without @", "email", Some(json!("not-an-email"))),
        (
            "email without a local part",
            "email",
            Some(json!("@example.org")),
        ),
        ("email without a domain", "email", Some(json!("valid@"))),
        (
            "email with a space",
            "email",
            Some(json!("va lid@example.org")),
        ),
        ("email with two @", "email", Some(json!("a@b@example.org"))),
        ("email is a number", "email", Some(json!(42))),
        ("unknown role", "role", Some(json!("superuser"))),
        ("empty role", "role", Some(json!(""))),
        ("role is a number", "role", Some(json!(1))),
        (
            "password of 7 characters",
            "password",
            Some(json!("seven77")),
        ),
        ("empty password", "password", Some(json!(""))),
        ("password is a number", "password", Some(json!(12345678))),
        ("null password", "password", Some(Value::Null)),
        ("active is a string", "active", Some(json!("yes"))),
        ("unknown field", "nickname", Some(json!("Val"))),
        ("read-only id", "id", Some(json!(99))),
        (
            "read-only created_at",
            "created_at",
            Some(json!("2026-01-01T00:00:00Z")),
        ),
        (
            "read-only updated_at",
            "updated_at",
            Some(json!("2026-01-01T00:00:00Z")),
        ),
        (
            "read-only last_seen_at",
            "last_seen_at",
            Some(json!("2026-01-01T00:00:00Z")),
        ),
        (
            "write-only hash smuggled in",
            "password_hash",
            Some(json!("$argon2id$v=19$m=19456,t=2,p=1$x$y")),
        ),
    ];
    let total = user_total(&app).await;
    let events = app.topic_events("users").await.len();

    for (what, field, value) in cases {
        let mut body = valid.clone();
        match value {
            None => {
                body.as_object_mut().unwrap().remove(field);
            }
            Some(value) => body[field] = value,
        }
        let resp = app.post("/api/v1/users", &app.admin.token, body).await;
        assert_invalid(&resp, field, what);
        assert_eq!(user_total(&app).await, total, "{what}: nothing created");
    }

    assert_eq!(
        app.topic_events("users").await.len(),
        events,
        "no user.created event"
    );
    assert_error(
        &app.login("valid@example.org", PASSWORD).await,
        401,
        "no such user",
    );
}

#[actix_web::test]
async fn every_invalid_field_of_a_user_is_reported_at_once() {
    let app = spawn_app().await;

    let resp = app
        .post(
            "/api/v1/users",
            &app.admin.token,
            json!({"name": "", "email": "nope", "role": "boss", "password": "short", "id": 5}),
        )
        .await;

    for field in ["name", "email", "role", "password", "id"] {
        assert_invalid(&resp, field, "five bad fields");
    }
}

#[actix_web::test]
async fn updating_a_user_with_invalid_fields_returns_400_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let user = add_user(&app, "Kept As Is", "kept@example.org", "agent").await;
    let path = user_path(user.id());
    let cases = [
        ("null name", "name", Value::Null),
        ("blank name", "name", json!("")),
        ("name of 201 characters", "name", json!("n".repeat(201))),
        ("null email", "email", Value::Null),
        ("bad email", "email", json!("kept-at-example.org")),
        ("unknown role", "role", json!("root")),
        ("null role", "role", Value::Null),
        ("password of 7 characters", "password", json!("seven77")),
        ("password is a number", "password", json!(123456789)),
        ("active is a string", "active", json!("false")),
        ("null active", "active", Value::Null),
        ("unknown field", "nickname", json!("K")),
        ("read-only id", "id", json!(user.id() + 1)),
        (
            "read-only created_at",
            "created_at",
            json!("2020-01-01T00:00:00Z"),
        ),
        (
            "read-only updated_at",
            "updated_at",
            json!("2020-01-01T00:00:00Z"),
        ),
        (
            "read-only last_seen_at",
            "last_seen_at",
            json!("2020-01-01T00:00:00Z"),
        ),
    ];

    for (what, field, value) in cases {
        let resp = app
            .put(&path, &app.admin.token, json!({ field: value }))
            .await;
        assert_invalid(&resp, field, what);
        let after = app.get(&path, &app.admin.token).await;
        assert_eq!(after.data(), user.data(), "{what}: nothing changed");
    }
    let mixed = app
        .put(
            &path,
            &app.admin.token,
            json!({"name": "Changed", "role": "root"}),
        )
        .await;
    assert_invalid(&mixed, "role", "a valid name with a bad role");
    assert_eq!(
        app.get(&path, &app.admin.token).await.data()["name"],
        "Kept As Is",
        "no partial update"
    );
    assert_eq!(
        app.login("kept@example.org", PASSWORD).await.status,
        200,
        "the password is unchanged"
    );
}

#[actix_web::test]
async fn a_password_of_exactly_8_characters_is_accepted() {
    let app = spawn_app().await;

    let created = app
        .post(
            "/api/v1/users",
            &app.admin.token,
            json!({"name": "Short Pass", "email": "eight@example.org", "role": "agent", "password": "12345678"}),
        )
        .await;

    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(app.login("eight@example.org", "12345678").await.status, 200);
}

#[actix_web::test]
async fn email_uniqueness_is_case_insensitive_on_create_and_update() {
    let app = spawn_app().await;
    add_user(&app, "Dana", "Dana@Example.org", "agent").await;
    let erin = add_user(&app, "Erin", "erin@example.org", "agent").await;
    let total = user_total(&app).await;
    let events = app.topic_events("users").await.len();

    for email in [
        "dana@example.org",
        "DANA@EXAMPLE.ORG",
        "Dana@Example.org",
        ADMIN_EMAIL,
        "ADMIN@localhost",
    ] {
        let body = json!({"name": "Copy", "email": email, "role": "agent", "password": PASSWORD});
        let resp = app.post("/api/v1/users", &app.admin.token, body).await;
        assert_error(&resp, 409, &format!("creating {email}"));
    }
    assert_eq!(user_total(&app).await, total, "nothing created");
    assert_eq!(
        app.topic_events("users").await.len(),
        events,
        "no user.created event"
    );

    for email in ["dana@example.org", "DANA@example.ORG"] {
        let resp = app
            .put(
                &user_path(erin.id()),
                &app.admin.token,
                json!({"email": email}),
            )
            .await;
        assert_error(&resp, 409, &format!("changing Erin's email to {email}"));
        let after = app.get(&user_path(erin.id()), &app.admin.token).await;
        assert_eq!(after.data(), erin.data(), "{email}: Erin unchanged");
    }
    let own = app
        .put(
            &user_path(erin.id()),
            &app.admin.token,
            json!({"email": "ERIN@example.org"}),
        )
        .await;
    assert_eq!(
        own.status, 200,
        "a user's own address in other case is no conflict: {}",
        own.body
    );
    for email in ["dana@example.org", "DANA@EXAMPLE.ORG"] {
        assert_eq!(
            app.login(email, PASSWORD).await.status,
            200,
            "Dana logs in as {email}"
        );
    }
    assert_eq!(
        app.login("erin@example.org", PASSWORD).await.status,
        200,
        "Erin still logs in"
    );
}

#[actix_web::test]
async fn passwords_are_never_returned_by_any_endpoint() {
    let app = spawn_app().await;
    let admin = &app.admin.token;
    let created = app
        .post(
            "/api/v1/users",
            admin,
            json!({"name": "Secret Keeper", "email": "keeper@example.org", "role": "agent", "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.id();
    let path = user_path(id);
    let login = app.login("keeper@example.org", PASSWORD).await;
    let token = token_of(&login);
    let new_password = "a-new-secret-password-2";

    let answers = vec![
        ("POST /users", created.body.clone()),
        ("POST /auth/login", login.body.clone()),
        (
            "GET /auth/me",
            app.get("/api/v1/auth/me", &token).await.body,
        ),
        ("GET /users/{id}", app.get(&path, admin).await.body),
        (
            "GET /users as agent",
            app.get("/api/v1/users", &token).await.body,
        ),
        (
            "GET /users?active=true",
            app.get("/api/v1/users?active=true", admin).await.body,
        ),
        (
            "PUT /users/{id} password",
            app.put(&path, admin, json!({"password": new_password}))
                .await
                .body,
        ),
        (
            "PUT /users/{id} name",
            app.put(&path, admin, json!({"name": "Keeper"})).await.body,
        ),
        ("DELETE /users/{id}", app.delete(&path, admin).await.body),
        (
            "GET /users?active=false",
            app.get("/api/v1/users?active=false", admin).await.body,
        ),
    ];

    for (what, body) in answers {
        assert_eq!(body["status"], "success", "{what}: {body}");
        assert_no_secrets(&body, &[PASSWORD, new_password, ADMIN_PASSWORD], what);
    }
}

#[actix_web::test]
async fn changing_a_password_retires_the_old_one_at_login() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let new_password = "a-completely-new-one";

    let changed = app
        .put(
            &user_path(agent.id),
            &app.admin.token,
            json!({"password": new_password}),
        )
        .await;

    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_error(
        &app.login(&agent.email, &agent.password).await,
        401,
        "the old password",
    );
    let login = app.login(&agent.email, new_password).await;
    assert_eq!(login.status, 200, "the new password: {}", login.body);
    assert_eq!(login.data()["user"]["id"], agent.id);
}

#[actix_web::test]
async fn concurrent_creations_with_one_email_create_one_user_and_409_the_rest() {
    let app = spawn_app().await;
    let total = user_total(&app).await;
    let body = |n: usize| json!({"name": format!("Racer {n}"), "email": "Racer@Example.org", "role": "agent", "password": PASSWORD});

    let answers = futures_util::future::join_all(
        (0..8).map(|n| app.post("/api/v1/users", &app.admin.token, body(n))),
    )
    .await;

    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [201, 409, 409, 409, 409, 409, 409, 409],
        "{answers:?}"
    );
    assert_eq!(user_total(&app).await, total + 1);
}

#[actix_web::test]
async fn a_reused_idempotency_key_with_another_body_returns_409_and_creates_nothing() {
    let app = spawn_app().await;
    let body = |email: &str| json!({"name": "Keyed", "email": email, "role": "agent", "password": PASSWORD});
    let first = app
        .post_with_key(
            "/api/v1/users",
            &app.admin.token,
            "user-key-1",
            body("one@example.org"),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let total = user_total(&app).await;

    let second = app
        .post_with_key(
            "/api/v1/users",
            &app.admin.token,
            "user-key-1",
            body("two@example.org"),
        )
        .await;

    assert_error(&second, 409, "same key, other body");
    assert_eq!(user_total(&app).await, total);
    assert_error(
        &app.login("two@example.org", PASSWORD).await,
        401,
        "the second user does not exist",
    );
}

// ---------------------------------------------------------------------------------------------
// The last active admin
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_last_active_admin_cannot_delete_or_demote_themselves() {
    let app = spawn_app().await;
    app.create_user("supervisor").await;
    let path = user_path(app.admin.id);
    let before = app.get(&path, &app.admin.token).await;
    let attempts = [
        ("delete themselves", Method::DELETE, None),
        (
            "demote to supervisor",
            Method::PUT,
            Some(json!({"role": "supervisor"})),
        ),
        (
            "demote to agent",
            Method::PUT,
            Some(json!({"role": "agent"})),
        ),
        (
            "deactivate through PUT",
            Method::PUT,
            Some(json!({"active": false})),
        ),
        (
            "rename and demote at once",
            Method::PUT,
            Some(json!({"name": "Gone", "role": "agent"})),
        ),
    ];

    for (what, method, body) in attempts {
        let resp = app
            .request(method, &path, Some(&app.admin.token), body.as_ref())
            .await;
        assert_error(&resp, 409, what);
        let after = app.get(&path, &app.admin.token).await;
        assert_eq!(
            after.status, 200,
            "{what}: the token still works: {}",
            after.body
        );
        assert_eq!(after.data(), before.data(), "{what}: nothing changed");
    }
    let admins = app
        .get("/api/v1/users?role=admin&active=true", &app.admin.token)
        .await;
    assert_eq!(admins.body["pagination"]["total"], 1, "{}", admins.body);
    let renamed = app
        .put(&path, &app.admin.token, json!({"name": "Still The Admin"}))
        .await;
    assert_eq!(
        renamed.status, 200,
        "other changes stay allowed: {}",
        renamed.body
    );
    assert_eq!(renamed.data()["role"], "admin");
}

#[actix_web::test]
async fn an_inactive_second_admin_does_not_save_the_last_active_admin() {
    let app = spawn_app().await;
    let other = app.create_user("admin").await;
    let deleted = app.delete(&user_path(other.id), &app.admin.token).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);

    let demote = app
        .put(
            &user_path(app.admin.id),
            &app.admin.token,
            json!({"role": "agent"}),
        )
        .await;
    let delete = app.delete(&user_path(app.admin.id), &app.admin.token).await;

    assert_error(&demote, 409, "demoting the only active admin");
    assert_error(&delete, 409, "deleting the only active admin");
    let me = app.get("/api/v1/auth/me", &app.admin.token).await;
    assert_eq!(me.data()["role"], "admin");
    assert_eq!(me.data()["active"], true);
}

#[actix_web::test]
async fn with_another_active_admin_an_admin_may_demote_or_delete_themselves() {
    let app = spawn_app().await;
    let second = app.create_user("admin").await;
    let third = app.create_user("admin").await;

    let demoted = app
        .put(
            &user_path(app.admin.id),
            &app.admin.token,
            json!({"role": "supervisor"}),
        )
        .await;
    assert_eq!(demoted.status, 200, "{}", demoted.body);
    assert_eq!(demoted.data()["role"], "supervisor");
    let body =
        json!({"name": "Late", "email": "late@example.org", "role": "agent", "password": PASSWORD});
    assert_error(
        &app.post("/api/v1/users", &app.admin.token, body).await,
        403,
        "the demoted admin creating a user",
    );

    let deleted = app.delete(&user_path(second.id), &second.token).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.data()["active"], false);
    assert_error(
        &app.get("/api/v1/auth/me", &second.token).await,
        401,
        "the self-deleted admin's token",
    );

    let last = app.delete(&user_path(third.id), &third.token).await;
    assert_error(&last, 409, "the now last active admin deleting themselves");
    let last_demote = app
        .put(&user_path(third.id), &third.token, json!({"role": "agent"}))
        .await;
    assert_error(
        &last_demote,
        409,
        "the now last active admin demoting themselves",
    );
    let me = app.get("/api/v1/auth/me", &third.token).await;
    assert_eq!(me.data()["role"], "admin");
    assert_eq!(me.data()["active"], true);
}

#[actix_web::test]
async fn two_admins_deleting_themselves_at_once_leave_one_active_admin() {
    let app = spawn_app().await;
    let mut survivor = app.admin.clone();

    for round in 1..=6 {
        let other = add_admin(&app, &survivor, round).await;
        let (a_path, b_path) = (user_path(survivor.id), user_path(other.id));
        let (a, b) = tokio::join!(
            app.delete(&a_path, &survivor.token),
            app.delete(&b_path, &other.token)
        );

        if a.status == 200 {
            survivor = other;
        }
        assert_sole_admin(&app, &survivor, &format!("round {round}")).await;
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 409],
            "round {round}: one wins, the other is then the last admin: {} / {}",
            a.body,
            b.body
        );
    }
}

#[actix_web::test]
async fn two_admins_demoting_each_other_at_once_leave_one_active_admin() {
    let app = spawn_app().await;
    let mut survivor = app.admin.clone();

    for round in 1..=6 {
        let other = add_admin(&app, &survivor, round).await;
        let (a_path, b_path) = (user_path(survivor.id), user_path(other.id));
        let demote = json!({"role": "agent"});
        let (a, b) = tokio::join!(
            app.put(&b_path, &survivor.token, demote.clone()),
            app.put(&a_path, &other.token, demote.clone())
        );

        if b.status == 200 {
            survivor = other;
        }
        assert_sole_admin(&app, &survivor, &format!("round {round}")).await;
        // The loser is refused either as a non-admin (403) or as the last admin (409).
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert!(
            statuses == [200, 403] || statuses == [200, 409],
            "round {round}: exactly one demotion applies, got {statuses:?}: {} / {}",
            a.body,
            b.body
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn users_can_be_filtered_by_role_including_a_comma_list() {
    let app = spawn_app().await;
    let a1 = add_user(&app, "Agent One", "agent1@example.org", "agent")
        .await
        .id();
    let a2 = add_user(&app, "Agent Two", "agent2@example.org", "agent")
        .await
        .id();
    let s1 = add_user(&app, "Super One", "super1@example.org", "supervisor")
        .await
        .id();
    let token = app.create_user("agent").await.token;
    let caller = app.get("/api/v1/auth/me", &token).await.id();

    let cases = [
        ("role=agent", vec![a1, a2, caller]),
        ("role=supervisor", vec![s1]),
        ("role=admin", vec![app.admin.id]),
        ("role=agent,supervisor", vec![a1, a2, caller, s1]),
        ("role=supervisor,admin", vec![s1, app.admin.id]),
        (
            "role=admin,supervisor,agent",
            vec![a1, a2, caller, s1, app.admin.id],
        ),
    ];

    for (query, mut expected) in cases {
        let resp = app.get(&format!("/api/v1/users?{query}"), &token).await;
        assert_eq!(resp.status, 200, "{query}: {}", resp.body);
        let mut ids: Vec<i64> = column(&resp, "id")
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        expected.sort_unstable();
        assert_eq!(ids, expected, "{query}");
        assert_eq!(resp.body["pagination"]["total"], expected.len(), "{query}");
    }
}

#[actix_web::test]
async fn users_can_be_filtered_by_active() {
    let app = spawn_app().await;
    let kept = add_user(&app, "Kept", "kept@example.org", "agent")
        .await
        .id();
    let gone = add_user(&app, "Gone", "gone@example.org", "agent")
        .await
        .id();
    let gone_super = add_user(&app, "Gone Super", "gone-super@example.org", "supervisor")
        .await
        .id();
    for id in [gone, gone_super] {
        assert_eq!(
            app.delete(&user_path(id), &app.admin.token).await.status,
            200
        );
    }

    let cases = [
        ("active=true", vec![app.admin.id, kept]),
        ("active=false", vec![gone, gone_super]),
        ("active=false&role=agent", vec![gone]),
        ("role=agent&active=true", vec![kept]),
        ("", vec![app.admin.id, kept, gone, gone_super]),
    ];

    for (query, mut expected) in cases {
        let resp = app
            .get(&format!("/api/v1/users?{query}"), &app.admin.token)
            .await;
        assert_eq!(resp.status, 200, "{query}: {}", resp.body);
        let mut ids: Vec<i64> = column(&resp, "id")
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        expected.sort_unstable();
        assert_eq!(ids, expected, "{query:?}");
        if let Some(wanted) = query.split('&').find_map(|p| p.strip_prefix("active=")) {
            let wanted = wanted == "true";
            assert!(
                column(&resp, "active").iter().all(|a| *a == json!(wanted)),
                "{query}: {}",
                resp.body
            );
        }
    }
}

#[actix_web::test]
async fn bad_user_list_parameters_return_400_naming_the_parameter() {
    let app = spawn_app().await;
    let cases = [
        ("unknown role", "role=boss", "role"),
        ("one bad role in a list", "role=agent,boss", "role"),
        ("role in capitals", "role=ADMIN", "role"),
        ("active is not a boolean", "active=yes", "active"),
        ("active as a number", "active=1", "active"),
        ("empty active", "active=", "active"),
        ("page 0", "page=0", "page"),
        ("negative page", "page=-1", "page"),
        ("page not a number", "page=first", "page"),
        ("limit 0", "limit=0", "limit"),
        ("limit over 100", "limit=101", "limit"),
        ("limit not a number", "limit=ten", "limit"),
        ("sort by an unknown field", "sort=nickname", "sort"),
        ("sort by the password", "sort=password", "sort"),
        ("sort by the hash", "sort=password_hash", "sort"),
        ("bad order", "order=up", "order"),
        ("unknown parameter", "department=intake", "department"),
    ];

    for (what, query, field) in cases {
        let resp = app
            .get(&format!("/api/v1/users?{query}"), &app.admin.token)
            .await;
        assert_invalid(&resp, field, &format!("{what} ({query})"));
    }
}

#[actix_web::test]
async fn users_are_paginated_and_a_page_past_the_end_is_empty() {
    let app = spawn_app().await;
    let mut emails = Vec::new();
    for n in 1..=5 {
        let email = format!("page{n}@example.org");
        add_user(&app, &format!("Paged {n}"), &email, "agent").await;
        emails.push(json!(email));
    }

    let mut seen = Vec::new();
    for (page, size) in [(1, 2), (2, 2), (3, 1), (4, 0)] {
        let resp = app
            .get(
                &format!("/api/v1/users?role=agent&sort=email&order=asc&limit=2&page={page}"),
                &app.admin.token,
            )
            .await;
        assert_eq!(resp.status, 200, "page {page}: {}", resp.body);
        assert_eq!(
            resp.body["pagination"],
            json!({"page": page, "limit": 2, "total": 5, "pages": 3}),
            "page {page}"
        );
        assert_eq!(
            resp.data().as_array().map(Vec::len),
            Some(size),
            "page {page}: {}",
            resp.body
        );
        seen.extend(column(&resp, "email"));
    }
    assert_eq!(seen, emails, "every user once, in order");

    let default = app.get("/api/v1/users", &app.admin.token).await;
    assert_eq!(
        default.body["pagination"],
        json!({"page": 1, "limit": 20, "total": 6, "pages": 1})
    );
    let hundred = app.get("/api/v1/users?limit=100", &app.admin.token).await;
    assert_eq!(
        hundred.status, 200,
        "limit=100 is allowed: {}",
        hundred.body
    );
    assert_eq!(hundred.data().as_array().map(Vec::len), Some(6));
}

#[actix_web::test]
async fn users_sort_by_name_and_by_email_in_both_orders() {
    let app = spawn_app().await;
    add_user(&app, "Carla Mendes", "a-carla@example.org", "supervisor").await;
    add_user(&app, "Amir Haddad", "c-amir@example.org", "supervisor").await;
    add_user(&app, "Bea Okafor", "b-bea@example.org", "supervisor").await;
    let cases = [
        (
            "sort=name&order=asc",
            "name",
            ["Amir Haddad", "Bea Okafor", "Carla Mendes"],
        ),
        (
            "sort=name&order=desc",
            "name",
            ["Carla Mendes", "Bea Okafor", "Amir Haddad"],
        ),
        (
            "sort=email&order=asc",
            "email",
            [
                "a-carla@example.org",
                "b-bea@example.org",
                "c-amir@example.org",
            ],
        ),
        (
            "sort=email&order=desc",
            "email",
            [
                "c-amir@example.org",
                "b-bea@example.org",
                "a-carla@example.org",
            ],
        ),
        (
            "sort=email",
            "email",
            [
                "c-amir@example.org",
                "b-bea@example.org",
                "a-carla@example.org",
            ],
        ),
    ];

    for (query, field, expected) in cases {
        let resp = app
            .get(
                &format!("/api/v1/users?role=supervisor&{query}"),
                &app.admin.token,
            )
            .await;
        assert_eq!(resp.status, 200, "{query}: {}", resp.body);
        assert_eq!(
            column(&resp, field),
            expected.map(|v| json!(v)),
            "{query} (default order is desc)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The failed-login throttle
// ---------------------------------------------------------------------------------------------

/// Asserts a 429 with a sensible `Retry-After` (whole seconds within the window).
fn assert_throttled(resp: &Resp, window: Duration, what: &str) {
    assert_error(resp, 429, what);
    let retry_after = resp
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: no Retry-After header"));
    let seconds: u64 = retry_after
        .parse()
        .unwrap_or_else(|_| panic!("{what}: Retry-After {retry_after:?}"));
    assert!(
        (1..=window.as_secs()).contains(&seconds),
        "{what}: Retry-After {seconds} outside the window"
    );
    assert!(resp.data().is_null(), "{what}: no token: {}", resp.body);
}

#[actix_web::test]
async fn after_max_failures_for_one_email_even_the_right_password_gets_429_with_retry_after() {
    let app = spawn_app_with(|settings| settings.login_max_failures = 3).await;
    let agent = app.create_user("agent").await;

    for attempt in 1..=3 {
        assert_error(
            &app.login(&agent.email, "wrong-password").await,
            401,
            &format!("failure {attempt}"),
        );
    }

    let right = app.login(&agent.email, &agent.password).await;
    assert_throttled(
        &right,
        app.settings.login_window,
        "the right password after 3 failures",
    );
    let wrong = app.login(&agent.email, "wrong-password").await;
    assert_throttled(
        &wrong,
        app.settings.login_window,
        "a wrong password after 3 failures",
    );
    let upper = app
        .login(&agent.email.to_uppercase(), &agent.password)
        .await;
    assert_throttled(
        &upper,
        app.settings.login_window,
        "the same email in capitals",
    );
    let me = app.get("/api/v1/auth/me", &agent.token).await;
    assert_eq!(
        me.status, 200,
        "tokens issued before keep working: {}",
        me.body
    );
}

#[actix_web::test]
async fn the_email_throttle_holds_whatever_address_the_attempts_come_from() {
    let app = spawn_app_with(|settings| settings.login_max_failures = 3).await;
    let agent = app.create_user("agent").await;
    let other = app.create_user("agent").await;

    // One failure from each of three addresses: no address reaches the limit, the email does.
    for octet in [11, 12, 13] {
        let resp = login_from(&app, &client_from(octet), &agent.email, "wrong-password").await;
        assert_error(&resp, 401, &format!("failure from 127.0.0.{octet}"));
    }

    let fresh = client_from(14);
    let right = login_from(&app, &fresh, &agent.email, &agent.password).await;
    assert_throttled(
        &right,
        app.settings.login_window,
        "the throttled email from a fresh address",
    );
    let bystander = login_from(&app, &fresh, &other.email, &other.password).await;
    assert_eq!(
        bystander.status, 200,
        "another email from a fresh address: {}",
        bystander.body
    );
    let also = login_from(&app, &client_from(11), &other.email, &other.password).await;
    assert_eq!(
        also.status, 200,
        "another email from an address below the limit: {}",
        also.body
    );
}

#[actix_web::test]
async fn an_address_with_max_failures_is_throttled_for_every_email() {
    let app = spawn_app_with(|settings| settings.login_max_failures_per_ip = 3).await;
    let agent = app.create_user("agent").await;
    let noisy = client_from(21);

    // Three different emails, one failure each: only the address reaches the limit.
    for email in [
        "ghost1@example.org",
        "ghost2@example.org",
        "ghost3@example.org",
    ] {
        assert_error(
            &login_from(&app, &noisy, email, "guess-password").await,
            401,
            email,
        );
    }

    let throttled = login_from(&app, &noisy, &agent.email, &agent.password).await;
    assert_throttled(
        &throttled,
        app.settings.login_window,
        "a valid login from the throttled address",
    );
    let elsewhere = login_from(&app, &client_from(22), &agent.email, &agent.password).await;
    assert_eq!(
        elsewhere.status, 200,
        "the same login from another address: {}",
        elsewhere.body
    );
}

#[actix_web::test]
async fn a_successful_login_before_the_limit_clears_the_email_failures() {
    let app = spawn_app_with(|settings| settings.login_max_failures = 3).await;
    let agent = app.create_user("agent").await;

    for octet in [31, 32] {
        let resp = login_from(&app, &client_from(octet), &agent.email, "wrong-password").await;
        assert_error(&resp, 401, &format!("failure from 127.0.0.{octet}"));
    }
    let success = login_from(&app, &client_from(33), &agent.email, &agent.password).await;
    assert_eq!(
        success.status, 200,
        "a success below the limit: {}",
        success.body
    );
    // Without the reset these would be failures 3 and 4 for the email.
    for octet in [34, 35] {
        let resp = login_from(&app, &client_from(octet), &agent.email, "wrong-password").await;
        assert_error(
            &resp,
            401,
            &format!("failure from 127.0.0.{octet} after the success"),
        );
    }

    let again = login_from(&app, &client_from(36), &agent.email, &agent.password).await;
    assert_eq!(
        again.status, 200,
        "two failures since the success are below the limit: {}",
        again.body
    );
}

#[actix_web::test]
async fn an_unknown_email_is_throttled_exactly_like_a_known_one() {
    let app = spawn_app_with(|settings| settings.login_max_failures = 3).await;
    let agent = app.create_user("agent").await;

    for (octet, email) in [
        (41, "ghost@example.org"),
        (42, "ghost@example.org"),
        (43, "ghost@example.org"),
    ] {
        assert_error(
            &login_from(&app, &client_from(octet), email, "guess-password").await,
            401,
            email,
        );
    }
    for octet in [44, 45, 46] {
        assert_error(
            &login_from(&app, &client_from(octet), &agent.email, "guess-password").await,
            401,
            "known email",
        );
    }

    let unknown = login_from(
        &app,
        &client_from(47),
        "ghost@example.org",
        "guess-password",
    )
    .await;
    let known = login_from(&app, &client_from(48), &agent.email, "guess-password").await;
    assert_throttled(&unknown, app.settings.login_window, "the unknown email");
    assert_throttled(&known, app.settings.login_window, "the known email");
    assert_eq!(
        unknown.body["message"], known.body["message"],
        "no way to tell who has an account"
    );
}

// ---------------------------------------------------------------------------------------------
// Restarts and the first admin
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn users_and_tokens_survive_a_restart() {
    let mut app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let before = app.get(&user_path(agent.id), &app.admin.token).await;

    app.restart().await;

    let me = app.get("/api/v1/auth/me", &agent.token).await;
    assert_eq!(
        me.status, 200,
        "a token from before the restart: {}",
        me.body
    );
    assert_eq!(me.data()["id"], agent.id);
    let admin = app.get(&user_path(agent.id), &app.admin.token).await;
    assert_eq!(admin.status, 200, "the admin's old token: {}", admin.body);
    assert_eq!(admin.data(), before.data(), "the user is unchanged");
    let login = app.login(&agent.email, &agent.password).await;
    assert_eq!(login.status, 200, "the password survives: {}", login.body);
    assert_eq!(user_total(&app).await, 2);
}

#[actix_web::test]
async fn a_logged_out_token_stays_revoked_after_a_restart() {
    let mut app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let kept = token_of(&app.login(&agent.email, &agent.password).await);
    let logout = app
        .request(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&agent.token),
            None,
        )
        .await;
    assert_eq!(logout.status, 200, "{}", logout.body);

    app.restart().await;

    assert_error(
        &app.get("/api/v1/auth/me", &agent.token).await,
        401,
        "the logged-out token after a restart",
    );
    assert_eq!(
        app.get("/api/v1/auth/me", &kept).await.status,
        200,
        "the other token after a restart"
    );
}

#[actix_web::test]
async fn a_deactivated_user_stays_locked_out_after_a_restart() {
    let mut app = spawn_app().await;
    let agent = app.create_user("agent").await;
    assert_eq!(
        app.delete(&user_path(agent.id), &app.admin.token)
            .await
            .status,
        200
    );

    app.restart().await;

    assert_error(
        &app.get("/api/v1/auth/me", &agent.token).await,
        401,
        "the old token",
    );
    assert_error(
        &app.login(&agent.email, &agent.password).await,
        401,
        "logging in",
    );
}

#[actix_web::test]
async fn the_first_admin_is_created_from_the_settings() {
    let app = spawn_app().await;

    let admins = app.get("/api/v1/users?role=admin", &app.admin.token).await;

    assert_eq!(admins.status, 200, "{}", admins.body);
    assert_eq!(admins.body["pagination"]["total"], 1, "{}", admins.body);
    let admin = &admins.data()[0];
    assert_eq!(admin["email"], app.settings.admin_email.as_str());
    assert_eq!(admin["role"], "admin");
    assert_eq!(admin["active"], true);
    assert_eq!(user_total(&app).await, 1, "the admin is the only user");
    let password = app
        .settings
        .admin_password
        .clone()
        .expect("admin password in the test settings");
    assert_eq!(
        app.login(&app.settings.admin_email, &password).await.status,
        200
    );
}

#[actix_web::test]
async fn a_second_start_on_the_same_database_creates_no_other_admin() {
    let mut app = spawn_app().await;
    app.restart().await;
    app.settings.admin_email = "second-admin@localhost".into();
    app.settings.admin_password = Some("second-admin-password".into());

    app.restart().await;

    let admins = app.get("/api/v1/users?role=admin", &app.admin.token).await;
    assert_eq!(admins.body["pagination"]["total"], 1, "{}", admins.body);
    assert_eq!(admins.data()[0]["id"], app.admin.id);
    assert_eq!(admins.data()[0]["email"], ADMIN_EMAIL);
    assert_eq!(user_total(&app).await, 1);
    assert_error(
        &app.login("second-admin@localhost", "second-admin-password")
            .await,
        401,
        "the new settings' admin",
    );
    assert_eq!(
        app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status,
        200,
        "the first admin's password is kept"
    );
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn user_created_events_appear_on_topic_users_with_contiguous_seqs() {
    let mut app = spawn_app().await;
    let before = app.topic_events("users").await.len();

    for n in 1..=3 {
        add_user(
            &app,
            &format!("Evented {n}"),
            &format!("evented{n}@example.org"),
            "agent",
        )
        .await;
    }
    let body = json!({"name": "Keyed", "email": "keyed@example.org", "role": "agent", "password": PASSWORD});
    let first = app
        .post_with_key(
            "/api/v1/users",
            &app.admin.token,
            "create-keyed-user",
            body.clone(),
        )
        .await;
    let replay = app
        .post_with_key("/api/v1/users", &app.admin.token, "create-keyed-user", body)
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(replay.status, 201, "{}", replay.body);
    assert_eq!(
        replay.id(),
        first.id(),
        "the replay answers with the same user"
    );
    let duplicate = json!({"name": "Dup", "email": "EVENTED1@example.org", "role": "agent", "password": PASSWORD});
    assert_error(
        &app.post("/api/v1/users", &app.admin.token, duplicate).await,
        409,
        "duplicate email",
    );
    let invalid =
        json!({"name": "Bad", "email": "bad@example.org", "role": "boss", "password": PASSWORD});
    assert_error(
        &app.post("/api/v1/users", &app.admin.token, invalid).await,
        400,
        "bad role",
    );
    let renamed = app
        .put(
            &user_path(first.id()),
            &app.admin.token,
            json!({"name": "Keyed Renamed"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    app.restart().await;
    add_user(&app, "After Restart", "after-restart@example.org", "agent").await;

    let events = app.topic_events("users").await;
    let created: Vec<&(i64, String)> = events
        .iter()
        .filter(|(_, kind)| kind == "user.created")
        .collect();
    assert_eq!(
        created.len(),
        before + 5,
        "one user.created per user really created: {events:?}"
    );
    let seqs: Vec<i64> = events.iter().map(|(seq, _)| *seq).collect();
    let expected: Vec<i64> = (1..=i64::try_from(events.len()).unwrap()).collect();
    assert_eq!(
        seqs, expected,
        "seqs count from 1 with no gap, across the restart: {events:?}"
    );
}

#[actix_web::test]
async fn reactivating_a_user_does_not_revive_the_tokens_they_had_before() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    assert_eq!(
        app.delete(&user_path(agent.id), &app.admin.token)
            .await
            .status,
        200
    );
    let reactivated = app
        .put(
            &user_path(agent.id),
            &app.admin.token,
            json!({"active": true}),
        )
        .await;
    assert_eq!(reactivated.status, 200, "{}", reactivated.body);

    let old = app.get("/api/v1/auth/me", &agent.token).await;
    assert_error(&old, 401, "a token from before the deactivation");
    let fresh = app.login(&agent.email, &agent.password).await;
    assert_eq!(
        fresh.status, 200,
        "a new login after reactivation: {}",
        fresh.body
    );
    assert_eq!(
        app.get("/api/v1/auth/me", &token_of(&fresh)).await.status,
        200
    );
}

#[actix_web::test]
async fn a_new_password_ends_every_session_the_user_had() {
    let app = spawn_app().await;
    let agent = app.create_user("agent").await;
    let second_session = token_of(&app.login(&agent.email, &agent.password).await);
    let changed = app
        .put(
            &user_path(agent.id),
            &app.admin.token,
            json!({"password": "brand-new-password"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);

    for (what, token) in [
        ("first session", &agent.token),
        ("second session", &second_session),
    ] {
        assert_error(&app.get("/api/v1/auth/me", token).await, 401, what);
    }
    let renamed = app
        .put(
            &user_path(app.admin.id),
            &app.admin.token,
            json!({"name": "Chief"}),
        )
        .await;
    assert_eq!(
        renamed.status, 200,
        "a change without a password keeps the admin's session"
    );
    assert_eq!(
        app.get("/api/v1/auth/me", &app.admin.token).await.status,
        200
    );
}

#[actix_web::test]
async fn simultaneous_wrong_guesses_cannot_exceed_the_failure_limit() {
    let app = spawn_app_with(|settings| {
        settings.login_max_failures = 5;
        settings.login_max_failures_per_ip = 1000;
    })
    .await;
    let passwords: Vec<String> = (0..30).map(|n| format!("wrong-guess-{n}")).collect();
    let guesses = passwords
        .iter()
        .map(|password| app.login(ADMIN_EMAIL, password));
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|r| r.status == 401).count();
    let refused = answers.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        (checked, refused),
        (5, 25),
        "30 simultaneous guesses: at most 5 reach the password check, the rest get 429"
    );
}

#[actix_web::test]
async fn a_user_created_without_a_role_is_an_agent() {
    let app = spawn_app().await;
    let created = app
        .post(
            "/api/v1/users",
            &app.admin.token,
            json!({"name": "New Counsellor", "email": "new@example.org", "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.data()["role"], "agent", "the least privileged role");
}

/// A login as if forwarded by a proxy for `client`.
async fn login_forwarded_for(app: &TestApp, client: &str, email: &str, password: &str) -> Resp {
    let request = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("X-Forwarded-For", client)
        .json(&json!({"email": email, "password": password}));
    read(request.send().await.expect("request sent")).await
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_failure_count() {
    let app = spawn_app_with(|settings| {
        settings.login_max_failures_per_ip = 2;
        settings.trusted_proxies = vec![IpAddr::from([127, 0, 0, 1])];
    })
    .await;
    for guess in ["nobody-1@example.org", "nobody-2@example.org"] {
        let failed = login_forwarded_for(&app, "203.0.113.5", guess, "wrong-password").await;
        assert_error(&failed, 401, guess);
    }
    let throttled = login_forwarded_for(&app, "203.0.113.5", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_throttled(&throttled, app.settings.login_window, "the guessing client");
    let colleague =
        login_forwarded_for(&app, "10.1.2.3, 198.51.100.7", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(
        colleague.status, 200,
        "another client behind the same proxy: {}",
        colleague.body
    );
}

#[actix_web::test]
async fn x_forwarded_for_from_an_untrusted_peer_cannot_dodge_the_throttle() {
    let app = spawn_app_with(|settings| settings.login_max_failures_per_ip = 2).await;
    for (client, guess) in [
        ("203.0.113.1", "nobody-1@example.org"),
        ("203.0.113.2", "nobody-2@example.org"),
    ] {
        let failed = login_forwarded_for(&app, client, guess, "wrong-password").await;
        assert_error(&failed, 401, guess);
    }
    let spoofed = login_forwarded_for(&app, "203.0.113.3", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_throttled(
        &spoofed,
        app.settings.login_window,
        "a forged X-Forwarded-For",
    );
}
