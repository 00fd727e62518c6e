//! The OpenAPI 3.1 document of the API, generated from the code: each handler's
//! `#[utoipa::path]` and the `ToSchema` of the types it answers with. Served, with Swagger UI
//! built into the binary (no network needed), at `GET /api/openapi.json` and `GET /api/docs/`.
//!
//! Request bodies are read field by field (`domain::input`) and some answers are built with
//! `json!`; the types here that mirror those exist only to describe them. The shared error
//! answers are components (`#/components/responses/…`) each operation lists by status.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, Header, KnownFormat, Ref, RefOr, Required, SchemaFormat, header::HeaderBuilder,
};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, PartialSchema, ToResponse, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::{
    auth, cases, clients, communications, dashboard, health, metrics, users, webhooks, ws,
};
use crate::domain::Channel;
use crate::domain::case::{Case, CaseStatus, Priority};
use crate::domain::client::{Client, Gender};
use crate::domain::communication::{Communication, Direction};
use crate::domain::time::Timestamp;
use crate::domain::user::{Role, User};
use crate::error::{ApiError, FieldError};
use crate::store::{CaseSort, ClientSort, CommunicationSort, UserSort};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
/// Where Swagger UI is served (its assets are relative to this, hence the slash).
pub const DOCS_PATH: &str = "/api/docs/";

/// `/api/openapi.json`, `/api/docs/` (Swagger UI) and `/api/docs` (a redirect to it).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(DOCUMENT_PATH).route(web::get().to(document)))
        .service(web::resource("/api/docs").route(web::get().to(docs_redirect)))
        .service(
            SwaggerUi::new("/api/docs/{_:.*}")
                .config(Config::new([DOCUMENT_PATH]).persist_authorization(true)),
        );
}

/// GET /api/openapi.json
#[utoipa::path(
    get, path = "/api/openapi.json", tag = "docs",
    summary = "This OpenAPI document",
    description = "The OpenAPI 3.1 document of the API, generated from the code. No token needed.",
    responses(
        (status = 200, description = "The document", content_type = "application/json", body = Object),
        (status = 500, response = InternalError),
    )
)]
pub(super) async fn document() -> Result<HttpResponse, ApiError> {
    let document = ApiDoc::openapi().to_json().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(document))
}

/// GET /api/docs: Swagger UI's page lives at `/api/docs/`, so that its assets resolve.
#[utoipa::path(
    get, path = "/api/docs", tag = "docs",
    summary = "Interactive documentation",
    description = "Swagger UI for this document, built into the server (works offline). \
        `/api/docs` redirects to `/api/docs/`, the page itself. No token needed.",
    responses(
        (status = 308, description = "Redirect to `/api/docs/`",
            headers(("Location" = String, description = "`/api/docs/`"))),
    )
)]
pub(super) async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, DOCS_PATH))
        .finish()
}

/// GET /api/docs/: documented here; served by `SwaggerUi`.
#[utoipa::path(
    get, path = "/api/docs/", tag = "docs",
    summary = "Interactive documentation (the page)",
    description = "Swagger UI's HTML page; its scripts and styles are served next to it.",
    responses((status = 200, description = "The page", content_type = "text/html", body = String))
)]
#[allow(dead_code)]
fn docs_page() {}

/// GET /api/v1/health: documented here; the handler is the one of `/health`.
#[utoipa::path(
    method(get, head), path = "/api/v1/health", tag = "operations",
    summary = "Health (under /api/v1)",
    description = "The same answer as `GET /health`. Not rate limited, no token needed.",
    responses(
        (status = 200, description = "Storage answers", body = HealthResponse),
        (status = 503, response = Unavailable),
    )
)]
#[allow(dead_code)]
fn api_v1_health() {}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Helpline",
        version = env!("CARGO_PKG_VERSION"),
        description = DESCRIPTION,
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    servers((url = "/", description = "The server that serves this document")),
    paths(
        auth::login, auth::me, auth::logout,
        cases::list_cases, cases::create_case, cases::get_case, cases::update_case,
        cases::delete_case, cases::case_history,
        clients::list_clients, clients::create_client, clients::get_client, clients::update_client,
        users::list_users, users::create_user, users::get_user, users::update_user,
        users::delete_user,
        communications::list_communications, communications::create_communication,
        communications::get_communication,
        webhooks::subscribe, webhooks::list_webhooks, webhooks::get_webhook,
        webhooks::delete_webhook, webhooks::list_deliveries,
        dashboard::stats, dashboard::cases_by_type, dashboard::agent_performance,
        ws::connect,
        health::health, api_v1_health, metrics::metrics,
        document, docs_redirect, docs_page,
    ),
    components(
        schemas(ErrorEnvelope),
        responses(
            BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge,
            UnsupportedMediaType, TooManyRequests, InternalError, Unavailable,
        ),
    ),
    modifiers(&Security, &CommonHeaders, &HeadOperationIds),
    tags(
        (name = "auth", description = "Logging in and out"),
        (name = "cases", description = "Cases: one child's or caller's situation"),
        (name = "clients", description = "Clients: the children and callers cases are about"),
        (name = "users", description = "Staff accounts and roles"),
        (name = "communications", description = "Messages on cases"),
        (name = "webhooks", description = "Subscriptions to events (admins)"),
        (name = "dashboard", description = "Supervisors' figures"),
        (name = "realtime", description = "The WebSocket"),
        (name = "operations", description = "Health and metrics"),
        (name = "docs", description = "This document and its interactive page"),
    )
)]
pub struct ApiDoc;

const DESCRIPTION: &str = "Case management and messaging for child-protection and crisis \
helplines.

**Envelope.** Every JSON answer is wrapped: `{status: \"success\", data, message, timestamp}`; \
a list puts the array in `data` and adds `pagination`. Every non-2xx answer is \
`{status: \"error\", message, code, timestamp, errors?}`, where `errors` lists field problems \
of a failed validation. Times are RFC 3339 UTC with a `Z`.

**Authentication.** `POST /api/v1/auth/login` gives a JWT; send it as \
`Authorization: Bearer <token>` everywhere but the login, `/health`, `/api/docs` and \
`/api/openapi.json`. Roles are `admin`, `supervisor` and `agent`; each operation says who may \
call it (403 otherwise).

**Rate limits.** Per user (per client address before login), in fixed clock hours, by group: \
`/cases*` 1000, `/users*` 500, `/communications*` 2000, `/dashboard*` 500, the rest of \
`/api/v1` 1000 (all configurable, `0` = unlimited). Every answer under `/api/v1` but health \
carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`; over the limit \
the answer is 429 with `Retry-After` and nothing is applied. Failed logins are throttled per \
email and per address (429).

**Idempotency.** Every creating `POST` accepts `Idempotency-Key`: a retry with the same key by \
the same user within 24 hours gets the original answer and creates nothing; the same key with \
another body is a 409.

**Lists** take `page` (from 1), `limit` (1 to 100, default 20), `sort` (a field from a fixed \
list, default `created_at`) and `order` (`asc` | `desc`, default `desc`); unknown parameters \
are a 400. Filters given several values (`status=open,escalated`) match any of them.

**Input.** Unknown and read-only body fields are a 400, as is text containing the NUL \
character. An id in a path that is not a positive integer is a 404.";

/// The bearer JWT, and for the WebSocket the `?token=` browsers must use.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The token of `POST /api/v1/auth/login` (HS256, expires, revoked by \
                         logout or when its user is deactivated)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "token_query",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "The same token as a query parameter, for browsers' WebSockets",
            ))),
        );
    }
}

/// Headers on every answer: `X-Request-Id`, and the rate-limit headers under `/api/v1`.
/// Added to each operation's own answers; the shared error answers declare them themselves.
struct CommonHeaders;

impl Modify for CommonHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let limited = path.starts_with("/api/v1/") && path != "/api/v1/health";
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.head,
            ];
            for operation in operations.into_iter().flatten() {
                for response in operation.responses.responses.values_mut() {
                    if let RefOr::T(response) = response {
                        add_common_headers(response, limited);
                    }
                }
            }
        }
    }
}

/// `HEAD` shares its handler (and so its operation id) with `GET`; ids must be unique.
struct HeadOperationIds;

impl Modify for HeadOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            if let Some(head) = &mut item.head {
                head.operation_id = head.operation_id.take().map(|id| format!("{id}_head"));
            }
        }
    }
}

fn add_common_headers(response: &mut Response, limited: bool) {
    response.headers.insert(
        "X-Request-Id".into(),
        header(
            String::schema(),
            "The request's id, in the server's log; echoed when the client sent one",
        ),
    );
    if limited {
        let count = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
        };
        response.headers.insert(
            "X-RateLimit-Limit".into(),
            header(count(), "Requests allowed per hour in this route group"),
        );
        response.headers.insert(
            "X-RateLimit-Remaining".into(),
            header(count(), "Requests left in the current window"),
        );
        response.headers.insert(
            "X-RateLimit-Reset".into(),
            header(count(), "Unix time (seconds) when the current window ends"),
        );
    }
}

fn header(schema: impl Into<RefOr<Schema>>, description: &str) -> RefOr<Header> {
    RefOr::T(
        HeaderBuilder::new()
            .schema(Some(schema))
            .description(Some(description))
            .build(),
    )
}

// ---------------------------------------------------------------------------------------------
// Error answers

/// The error envelope: every non-2xx answer.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({
    "status": "error", "message": "Validation failed", "code": 400,
    "timestamp": "2026-01-20T15:35:00Z",
    "errors": [{"field": "priority", "message": "must be one of low, medium, high, critical"}]
}))]
pub struct ErrorEnvelope {
    #[schema(schema_with = error_status)]
    status: String,
    /// For people: what was wrong. Never SQL, stack traces, paths or secrets.
    message: String,
    /// The HTTP status again.
    #[schema(minimum = 400, maximum = 599)]
    code: u16,
    /// To the second.
    timestamp: Timestamp,
    /// Present for validation failures only: one entry per offending field or parameter.
    #[schema(nullable = false)]
    errors: Option<Vec<FieldError>>,
}

fn error_status() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["error"]))
        .build()
}

fn success_status() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["success"]))
        .build()
}

/// One shared error answer: the envelope, with an example and the headers it carries.
fn error_response(code: u16, description: &str, message: &str) -> Response {
    let example = json!({
        "status": "error", "message": message, "code": code, "timestamp": "2026-01-20T15:35:00Z",
    });
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                .example(Some(example))
                .build(),
        )
        .build();
    add_common_headers(&mut response, true);
    match code {
        401 => {
            response.headers.insert(
                "WWW-Authenticate".into(),
                header(String::schema(), "`Bearer`"),
            );
        }
        429 => {
            response.headers.insert(
                "Retry-After".into(),
                header(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                    "Seconds to wait before trying again",
                ),
            );
        }
        _ => {}
    }
    response
}

/// Declares a shared error answer, `#/components/responses/{name}`.
macro_rules! error_responses {
    ($($name:ident => ($code:literal, $description:literal, $message:literal)),+ $(,)?) => {$(
        #[doc = $description]
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), error_response($code, $description, $message).into())
            }
        }
    )+};
}

error_responses! {
    BadRequest => (400, "Malformed JSON, wrong types, failed validation (with `errors`), unknown \
        field or query parameter, bad page, limit, sort or filter value",
        "Validation failed"),
    Unauthorized => (401, "Missing, malformed, expired or revoked token (or, at login, wrong \
        email or password)", "Invalid or expired token"),
    Forbidden => (403, "Authenticated, but the role may not do this", "Only admins may do this"),
    NotFound => (404, "No such resource (also when soft-deleted, or the id is not a positive \
        integer)", "Case not found"),
    Conflict => (409, "A stale `version`, a unique value taken, the last active admin, or an \
        `Idempotency-Key` reused with another body", "Email is already taken"),
    PayloadTooLarge => (413, "The body is over the limit (default 1 MiB)",
        "The request body is larger than the server accepts"),
    UnsupportedMediaType => (415, "The body is not `application/json`",
        "The request body must be JSON (Content-Type: application/json)"),
    TooManyRequests => (429, "Over the rate limit or the failed-login throttle; nothing was \
        applied", "Too many requests, retry later"),
    InternalError => (500, "Unexpected fault, logged with the request id",
        "Internal server error"),
    Unavailable => (503, "Storage unavailable (or the server is stopping); the request was not \
        applied", "Storage is unavailable; the request was not applied"),
}

/// `#/components/responses/{name}` of a shared error answer, under its status code.
fn reference<'r, T: ToResponse<'r>>(status: &str) -> (String, RefOr<Response>) {
    (
        status.to_string(),
        RefOr::Ref(Ref::from_response_name(T::response().0)),
    )
}

/// The answers every `/api/v1` route can give besides its own: 401 (a missing, bad or revoked
/// token; at login, wrong credentials), 429, 500 and 503.
pub struct StandardErrors;

impl IntoResponses for StandardErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            reference::<Unauthorized>("401"),
            reference::<TooManyRequests>("429"),
            reference::<InternalError>("500"),
            reference::<Unavailable>("503"),
        ]
        .into_iter()
        .collect()
    }
}

/// The answers of every route that takes a JSON body: 400, 413 and 415.
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            reference::<BadRequest>("400"),
            reference::<PayloadTooLarge>("413"),
            reference::<UnsupportedMediaType>("415"),
        ]
        .into_iter()
        .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Success envelopes

/// Declares the success envelope of one kind of `data`.
macro_rules! envelope {
    ($(#[$doc:meta])* $name:ident, $data:ty) => {
        $(#[$doc])*
        #[derive(ToSchema)]
        #[allow(dead_code)]
        pub struct $name {
            #[schema(schema_with = success_status)]
            status: String,
            data: $data,
            /// For people: what happened.
            message: String,
            /// To the second.
            timestamp: Timestamp,
        }
    };
}

/// Declares the success envelope of one page of a list.
macro_rules! list_envelope {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(ToSchema)]
        #[allow(dead_code)]
        pub struct $name {
            #[schema(schema_with = success_status)]
            status: String,
            data: Vec<$item>,
            pagination: super::envelope::Pagination,
            /// For people: what happened.
            message: String,
            /// To the second.
            timestamp: Timestamp,
        }
    };
}

envelope!(
    /// One case.
    CaseResponse, Case
);
list_envelope!(
    /// A page of cases.
    CaseListResponse, Case
);
list_envelope!(
    /// A page of a case's audit trail.
    CaseHistoryResponse, HistoryEntry
);
envelope!(
    /// One client.
    ClientResponse, Client
);
list_envelope!(
    /// A page of clients.
    ClientListResponse, Client
);
envelope!(
    /// One user.
    UserResponse, User
);
list_envelope!(
    /// A page of users.
    UserListResponse, User
);
envelope!(
    /// One communication.
    CommunicationResponse, Communication
);
list_envelope!(
    /// A page of communications.
    CommunicationListResponse, Communication
);
envelope!(
    /// One webhook subscription.
    WebhookResponse, Webhook
);
list_envelope!(
    /// A page of webhook subscriptions.
    WebhookListResponse, Webhook
);
list_envelope!(
    /// A page of delivery attempts.
    DeliveryListResponse, DeliveryAttempt
);
envelope!(
    /// A token and its user.
    LoginResponse, LoginData
);
envelope!(
    /// The dashboard's figures.
    StatsResponse, DashboardStats
);
envelope!(
    /// Case counts by type, largest first.
    CasesByTypeResponse, Vec<dashboard::TypeCount>
);
envelope!(
    /// One row per active agent (only their own for an agent).
    AgentPerformanceResponse, Vec<dashboard::AgentPerformance>
);
envelope!(
    /// Storage and bus status.
    HealthResponse, Health
);

/// An answer without data (`data` is null).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EmptyResponse {
    #[schema(schema_with = success_status)]
    status: String,
    #[schema(schema_with = null_schema)]
    data: (),
    message: String,
    timestamp: Timestamp,
}

fn null_schema() -> Object {
    ObjectBuilder::new().schema_type(Type::Null).build()
}

// ---------------------------------------------------------------------------------------------
// Data built with `json!` or kept in store types: described here

/// A token and the user it belongs to.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LoginData {
    /// A JWT (HS256).
    token: String,
    #[schema(schema_with = bearer)]
    token_type: String,
    expires_at: Timestamp,
    user: User,
}

fn bearer() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["Bearer"]))
        .build()
}

/// One entry of a case's audit trail.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct HistoryEntry {
    id: i64,
    /// `case.created`, `case.updated`, `case.closed`, `case.deleted` or `case.viewed`.
    event: String,
    /// Who did it.
    user_id: Option<i64>,
    /// Field by field, `{from, to}` (`from` is null at creation); empty for views and deletion.
    changes: BTreeMap<String, FieldChange>,
    timestamp: Timestamp,
}

/// One field's change.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FieldChange {
    #[schema(schema_with = any_value)]
    from: Value,
    #[schema(schema_with = any_value)]
    to: Value,
}

/// Any JSON value.
fn any_value() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .build()
}

/// A webhook subscription.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Webhook {
    id: i64,
    #[schema(schema_with = webhook_event)]
    event: String,
    url: String,
    /// `whsec_` + base64 of the key; shown on creation only.
    #[schema(nullable = false)]
    secret: Option<String>,
    /// False once deleted.
    active: bool,
    created_at: Timestamp,
}

fn webhook_event() -> Object {
    let mut events = vec!["*"];
    events.extend_from_slice(webhooks::EVENTS);
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(events))
        .description(Some("An event, or `*` for every event"))
        .build()
}

/// One attempt to deliver one event to a subscription.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DeliveryAttempt {
    id: i64,
    /// The delivery (one per event and subscription): `webhook-id` is `msg_{delivery_id}`.
    delivery_id: i64,
    event_id: i64,
    event: String,
    /// 1 for the first attempt.
    attempt: i64,
    /// The receiver's HTTP status, when it answered.
    status_code: Option<i64>,
    /// Why there was no 2xx answer (timeout, refused, …).
    error: Option<String>,
    success: bool,
    /// Where the delivery stands now: `pending`, `delivered`, `failed` or `cancelled`.
    delivery_status: String,
    started_at: Timestamp,
    duration_ms: i64,
    /// When the next attempt is due after this one; null when none follows.
    next_retry_at: Option<Timestamp>,
}

/// The dashboard's figures. Counts are over cases not deleted; "today" is the server's UTC
/// day.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DashboardStats {
    total_cases: i64,
    /// Cases in every status but `closed`.
    open_cases: i64,
    /// Cases per status, every status present (0 included).
    #[schema(schema_with = counts_by_status)]
    by_status: Value,
    /// Cases per priority, every priority present (0 included).
    #[schema(schema_with = counts_by_priority)]
    by_priority: Value,
    /// Cases created today (UTC).
    cases_today: i64,
    /// Cases closed today (UTC) and still closed.
    closed_today: i64,
    /// Messages recorded today (UTC, all directions) on cases not deleted.
    messages_today: i64,
    /// Active agents with a live socket (online, away or busy).
    agents_online: i64,
    /// First response: the first outbound communication by staff on a case minus the case's
    /// creation, averaged in seconds (to the millisecond); null without data.
    avg_first_response_seconds: Option<f64>,
    /// Resolution: closing time minus creation, over cases closed now, averaged in seconds;
    /// null without data.
    avg_resolution_seconds: Option<f64>,
}

/// An object with one integer property per value.
fn counts_of(values: &[&'static str]) -> Object {
    let mut object = ObjectBuilder::new().schema_type(Type::Object);
    for value in values {
        object = object
            .property(
                *value,
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            )
            .required(*value);
    }
    object.build()
}

fn counts_by_status() -> Object {
    let statuses: Vec<&'static str> = CaseStatus::ALL.iter().map(|s| s.as_str()).collect();
    counts_of(&statuses)
}

fn counts_by_priority() -> Object {
    let priorities: Vec<&'static str> = Priority::ALL.iter().map(|p| p.as_str()).collect();
    counts_of(&priorities)
}

/// Whether the server can reach its storage, and how it hears other nodes.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Health {
    #[schema(schema_with = storage_ok)]
    storage: String,
    /// `in-process` without Redis; `ok` or `reconnecting` with it.
    #[schema(schema_with = bus_status)]
    bus: String,
}

fn storage_ok() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["ok"]))
        .build()
}

fn bus_status() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["ok", "reconnecting", "in-process"]))
        .build()
}

// ---------------------------------------------------------------------------------------------
// Request bodies: parsed field by field; unknown and read-only fields are a 400

/// Credentials.
#[derive(ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(example = json!({"email": "admin@localhost", "password": "correct horse battery"}))]
pub struct LoginRequest {
    /// Case-insensitive.
    #[schema(format = Email)]
    email: String,
    #[schema(format = Password, min_length = 1, max_length = 1024)]
    password: String,
}

/// A new case.
#[derive(ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(example = json!({"title": "Child left alone at home", "type": "neglect",
    "priority": "high", "channel": "call"}))]
pub struct CreateCaseRequest {
    /// Trimmed; 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    #[schema(max_length = 20000)]
    narrative: Option<String>,
    /// A slug: `a-z`, `0-9` and `_`.
    #[serde(rename = "type")]
    #[schema(pattern = "^[a-z0-9_]{1,50}$")]
    case_type: String,
    /// Default `open`.
    #[schema(nullable = false)]
    status: Option<CaseStatus>,
    /// Default `medium`.
    #[schema(nullable = false)]
    priority: Option<Priority>,
    channel: Option<Channel>,
    /// Must exist.
    #[schema(minimum = 1)]
    client_id: Option<i64>,
    /// Must be an active user.
    #[schema(minimum = 1)]
    assigned_to: Option<i64>,
}

/// A partial update of a case: the fields present change, the rest stay.
#[derive(ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(example = json!({"status": "escalated", "version": 3}))]
pub struct UpdateCaseRequest {
    #[schema(nullable = false, min_length = 1, max_length = 200)]
    title: Option<String>,
    #[schema(max_length = 20000)]
    narrative: Option<String>,
    #[serde(rename = "type")]
    #[schema(nullable = false, pattern = "^[a-z0-9_]{1,50}$")]
    case_type: Option<String>,
    /// Moving a case out of `closed` is for supervisors and admins.
    #[schema(nullable = false)]
    status: Option<CaseStatus>,
    #[schema(nullable = false)]
    priority: Option<Priority>,
    channel: Option<Channel>,
    #[schema(minimum = 1)]
    client_id: Option<i64>,
    #[schema(minimum = 1)]
    assigned_to: Option<i64>,
    /// The version last seen: when it is not the current one, 409 and nothing changes.
    #[schema(nullable = false, minimum = 1)]
    version: Option<i64>,
}

/// A new client.
#[derive(ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(example = json!({"name": "Amina", "age": 12, "gender": "female", "phone": "+254 700 000 000"}))]
pub struct CreateClientRequest {
    /// Trimmed; 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// Digits, spaces and `+ - ( ) .`; 3 to 32 characters.
    #[schema(pattern = "^[0-9 +().-]{3,32}$")]
    phone: Option<String>,
    #[schema(format = Email)]
    email: Option<String>,
    #[schema(minimum = 0, maximum = 130)]
    age: Option<i64>,
    gender: Option<Gender>,
    #[schema(max_length = 200)]
    location: Option<String>,
    #[schema(max_length = 100)]
    language: Option<String>,
    #[schema(max_length = 20000)]
    notes: Option<String>,
}

/// A partial update of a client.
#[derive(ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(example = json!({"phone": null, "location": "Nakuru"}))]
pub struct UpdateClientRequest {
    #[schema(nullable = false, min_length = 1, max_length = 200)]
    name: Option<String>,
    #[schema(pattern = "^[0-9 +().-]{3,32}$")]
    phone: Option<String>,
    #[schema(format = Email)]
    email: Option<String>,
    #[schema(minimum = 0, maximum = 130)]
    age: Option<i64>,
    gender: Option<Gender>,
    #[schema(max_length = 200)]
    location: Option<String>,
    #[schema(max_length = 100)]
    language: Option<String>,
    #[schema(max_length = 20000)]
    notes: Option<String>,
}

/// A new user.
#[derive(ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(example = json!({"name": "Grace Wanjiru", "email": "grace@example.org",
    "role": "agent", "password": "a long passphrase"}))]
pub struct CreateUserRequest {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// Unique, case-insensitive.
    #[schema(format = Email)]
    email: String,
    /// Default `agent`.
    #[schema(nullable = false)]
    role: Option<Role>,
    /// Default true.
    #[schema(nullable = false)]
    active: Option<bool>,
    /// Write-only: never returned.
    #[schema(format = Password, write_only, min_length = 8, max_length = 1024)]
    password: String,
}

/// A partial update of a user. A new password or deactivation ends the user's sessions.
#[derive(ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(example = json!({"role": "supervisor"}))]
pub struct UpdateUserRequest {
    #[schema(nullable = false, min_length = 1, max_length = 200)]
    name: Option<String>,
    #[schema(nullable = false, format = Email)]
    email: Option<String>,
    #[schema(nullable = false)]
    role: Option<Role>,
    #[schema(nullable = false)]
    active: Option<bool>,
    #[schema(nullable = false, format = Password, write_only, min_length = 8, max_length = 1024)]
    password: Option<String>,
}

/// A new message on a case.
#[derive(ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(example = json!({"case_id": 42, "direction": "outbound", "channel": "sms",
    "body": "We are sending someone today."}))]
pub struct CreateCommunicationRequest {
    /// Must exist (and not be deleted).
    #[schema(minimum = 1)]
    case_id: i64,
    /// Default: the case's client.
    #[schema(minimum = 1)]
    client_id: Option<i64>,
    /// Default: the case's channel (400 when the case has none).
    channel: Option<Channel>,
    direction: Direction,
    /// 1 to 10 000 characters, not blank; kept as written.
    #[schema(min_length = 1, max_length = 10000)]
    body: String,
}

/// A new webhook subscription.
#[derive(ToSchema, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
#[schema(example = json!({"event": "case.created", "url": "https://example.org/hooks/helpline"}))]
pub struct SubscribeRequest {
    #[schema(schema_with = webhook_event)]
    event: String,
    /// Where to `POST`; not a loopback, private or link-local address (unless allowed).
    #[schema(min_length = 1, max_length = 2048)]
    url: String,
    /// `whsec_` + standard base64 of 24 to 64 key bytes; generated (32 random bytes) when not
    /// given.
    #[schema(
        nullable = false,
        pattern = "^whsec_(?:(?:[A-Za-z0-9+/]{4}){8,21}(?:[A-Za-z0-9+/]{2}==)?|(?:[A-Za-z0-9+/]{4}){8,20}[A-Za-z0-9+/]{3}=)$"
    )]
    secret: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Parameters

/// The `{id}` of a path.
pub fn id_param(what: &str) -> Parameter {
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(format!(
            "The {what}'s id (anything but a positive integer is a 404)"
        )))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(1)),
        ))
        .build()
}

fn query(name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
}

/// A filter taking one or more values, comma-separated (`status=open,escalated`) or repeated.
fn list_filter(name: &str, description: &str, item: impl Into<RefOr<Schema>>) -> Parameter {
    query(
        name,
        description,
        ArrayBuilder::new().items(item.into()).min_items(Some(1)),
    )
    .style(Some(ParameterStyle::Form))
    .explode(Some(false))
    .build()
}

fn id_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .build()
}

fn string_enum(values: Vec<&'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

/// `created_after` (inclusive) and `created_before` (exclusive).
fn created_range() -> Vec<Parameter> {
    let bound = || {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
    };
    vec![
        query(
            "created_after",
            "Created at or after: a date (`2026-01-01`, its first instant, UTC) or an RFC 3339 \
             timestamp",
            bound(),
        )
        .example(Some(json!("2026-01-01")))
        .build(),
        query(
            "created_before",
            "Created before (exclusive): a date or an RFC 3339 timestamp",
            bound(),
        )
        .example(Some(json!("2026-02-01")))
        .build(),
    ]
}

/// `page`, `limit`, `sort` (one of `sorts`, the first the default) and `order`.
fn page_params<S>(sorts: &[(&'static str, S)], default_order: &str) -> Vec<Parameter> {
    let names: Vec<&'static str> = sorts.iter().map(|(name, _)| *name).collect();
    let default_sort = names.first().copied().unwrap_or("id");
    vec![
        query(
            "page",
            "Page number, from 1; a page past the end is empty",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(i64::MAX / 1000))
                .default(Some(json!(1))),
        )
        .build(),
        query(
            "limit",
            "Items per page",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(100))
                .default(Some(json!(20))),
        )
        .build(),
        query(
            "sort",
            "Field to sort by",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names.clone()))
                .default(Some(json!(default_sort))),
        )
        .build(),
        query(
            "order",
            "Sort direction",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["asc", "desc"]))
                .default(Some(json!(default_order))),
        )
        .build(),
    ]
}

fn search_param(description: &str) -> Parameter {
    query(
        "q",
        description,
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(200)),
    )
    .build()
}

fn enum_values<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Object {
    string_enum(all.iter().map(|v| name(*v)).collect())
}

/// Declares a type whose `IntoParams` is the given list.
macro_rules! params {
    ($($(#[$doc:meta])* $name:ident => $params:expr;)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl IntoParams for $name {
            fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                $params
            }
        }
    )+};
}

params! {
    /// `{id}` of a case.
    CaseId => vec![id_param("case")];
    /// `{id}` of a client.
    ClientId => vec![id_param("client")];
    /// `{id}` of a user.
    UserId => vec![id_param("user")];
    /// `{id}` of a communication.
    CommunicationId => vec![id_param("communication")];
    /// `{id}` of a webhook subscription.
    WebhookId => vec![id_param("webhook subscription")];

    /// The `Idempotency-Key` header of creating requests.
    IdempotencyKey => vec![ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "1 to 255 printable ASCII characters. A retry with the same key by the same user \
             within 24 hours gets the original answer (same status and data) and creates \
             nothing; the same key with another body is a 409.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[\\x20-\\x7E]+$")),
        ))
        .build()];

    /// Filters, sort and pages of `GET /cases`.
    CaseListQuery => {
        let mut params = vec![
            list_filter("status", "Any of these statuses",
                enum_values(CaseStatus::ALL, CaseStatus::as_str)),
            list_filter("type", "Any of these types (slugs)",
                ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[a-z0-9_]{1,50}$"))),
            list_filter("priority", "Any of these priorities",
                enum_values(Priority::ALL, Priority::as_str)),
            list_filter("channel", "Any of these channels",
                enum_values(Channel::ALL, Channel::as_str)),
            list_filter("assigned_to", "Assigned to any of these: a user id, `me` or `none`",
                OneOfBuilder::new().item(id_schema()).item(string_enum(vec!["me", "none"]))),
            list_filter("client_id", "About any of these clients", id_schema()),
        ];
        params.extend(created_range());
        params.push(search_param("Case-insensitive text in the title or narrative"));
        params.extend(page_params(CaseSort::NAMES, "desc"));
        params
    };
    /// Sort and pages of a case's history (oldest first by default).
    HistoryQuery => page_params(&[("id", ())], "asc");
    /// Filters, sort and pages of `GET /clients`.
    ClientListQuery => {
        let mut params = vec![search_param("Case-insensitive text in the name, phone or email")];
        params.extend(created_range());
        params.extend(page_params(ClientSort::NAMES, "desc"));
        params
    };
    /// Filters, sort and pages of `GET /users`.
    UserListQuery => {
        let mut params = vec![
            list_filter("role", "Any of these roles", enum_values(Role::ALL, Role::as_str)),
            query("active", "Only active (true) or inactive (false) users", bool::schema()).build(),
        ];
        params.extend(page_params(UserSort::NAMES, "desc"));
        params
    };
    /// Filters, sort and pages of `GET /communications`.
    CommunicationListQuery => {
        let mut params = vec![
            list_filter("case_id", "On any of these cases", id_schema()),
            list_filter("channel", "Any of these channels",
                enum_values(Channel::ALL, Channel::as_str)),
            list_filter("direction", "Any of these directions",
                enum_values(Direction::ALL, Direction::as_str)),
        ];
        params.extend(created_range());
        params.extend(page_params(CommunicationSort::NAMES, "desc"));
        params
    };
    /// Sort and pages of `GET /webhooks`.
    WebhookListQuery => page_params(&[("created_at", ())], "desc");
    /// Sort and pages of a subscription's deliveries (newest first by default).
    DeliveryListQuery => page_params(&[("id", ())], "desc");
    /// The creation range of the dashboard's figures.
    CreatedRange => created_range();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::PresenceStatus;

    #[test]
    fn the_document_serialises_and_names_every_shared_error_response() {
        let document = ApiDoc::openapi();
        let json = document.to_json().expect("serialises");
        let value: Value = serde_json::from_str(&json).expect("parses");
        for name in [
            "BadRequest",
            "Unauthorized",
            "Forbidden",
            "NotFound",
            "Conflict",
            "PayloadTooLarge",
            "UnsupportedMediaType",
            "TooManyRequests",
            "InternalError",
            "Unavailable",
        ] {
            assert!(
                value["components"]["responses"][name].is_object(),
                "{name} missing"
            );
        }
        assert!(value["components"]["schemas"]["ErrorEnvelope"].is_object());
    }

    #[test]
    fn presence_and_gender_are_string_enums() {
        let schema = serde_json::to_value(PresenceStatus::schema()).expect("serialises");
        assert_eq!(schema["enum"], json!(["online", "away", "busy", "offline"]));
        let schema = serde_json::to_value(Gender::schema()).expect("serialises");
        assert_eq!(schema["type"], "string");
    }
}
