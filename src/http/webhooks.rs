//! `/webhooks` (admins): subscribe a URL to an event (or `*`), list, read, delete, and read the
//! attempts made to deliver to it.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::auth::AuthUser;
use super::envelope;
use super::extract::{JsonBody, QueryParams, idempotency_key, path_id};
use super::openapi as doc;
use crate::domain::input::{self, Input};
use crate::error::{ApiError, FieldError};
use crate::notify::{address, signing};
use crate::store::SortOrder;

/// The events a subscription may name, besides `*`.
pub const EVENTS: &[&str] = &[
    "case.created",
    "case.updated",
    "case.closed",
    "case.deleted",
    "user.created",
    "message.received",
];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/webhooks/subscribe").route(web::post().to(subscribe)))
        .service(web::resource("/webhooks").route(web::get().to(list_webhooks)))
        .service(web::resource("/webhooks/{id}/deliveries").route(web::get().to(list_deliveries)))
        .service(
            web::resource("/webhooks/{id}")
                .route(web::get().to(get_webhook))
                .route(web::delete().to(delete_webhook)),
        );
}

fn event_name(value: &serde_json::Value) -> Result<String, String> {
    let name = value.as_str().ok_or("must be a string")?;
    if name == "*" || EVENTS.contains(&name) {
        Ok(name.to_string())
    } else {
        Err(format!("must be * or one of {}", EVENTS.join(", ")))
    }
}

/// POST /api/v1/webhooks/subscribe
#[utoipa::path(
    post, path = "/api/v1/webhooks/subscribe", tag = "webhooks",
    summary = "Subscribe a URL to an event",
    description = "Admins. Deliveries follow Standard Webhooks: a `POST` of \
        `{id, type, timestamp, actor, data, changes?}` with `webhook-id`, `webhook-timestamp` and \
        `webhook-signature` (HMAC-SHA256 keyed with the secret's bytes), retried with growing \
        delays for 3 days until a 2xx. The secret is shown in this answer only.",
    security(("bearer" = [])),
    params(doc::IdempotencyKey),
    request_body = doc::SubscribeRequest,
    responses(
        (status = 201, description = "Subscribed, with the secret (or the original answer to a \
            retried `Idempotency-Key`)", body = doc::WebhookResponse),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
        doc::StandardErrors,
        doc::BodyErrors,
    )
)]
pub(super) async fn subscribe(
    req: HttpRequest,
    auth: AuthUser,
    state: web::Data<AppState>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    auth.require_admin()?;
    let key = idempotency_key(&req, &auth.user, &body)?;
    let mut input = Input::new(body.fields, &["event", "url", "secret"], &["id", "active"]);
    let event = input.required("event", event_name);
    let url = input.required("url", |v| input::trimmed_text(v, 1, 2048));
    let secret = input.optional("secret", |v| {
        let secret = input::text(v, 1, 200)?;
        signing::secret_key(&secret).map(|_| secret)
    });
    input.finish().map_err(ApiError::invalid)?;
    let (Some(event), Some(url)) = (event, url) else {
        return Err(ApiError::bad_request("event and url are required"));
    };
    let url = address::check_url(&url, state.allow_private_webhooks)
        .await
        .map_err(|message| ApiError::invalid(vec![FieldError::new("url", message)]))?;
    let secret = secret.unwrap_or_else(signing::generate_secret);
    let created = state
        .store
        .create_subscription(&event, url.as_str(), &secret, auth.user.id, key.as_ref())
        .await?;
    Ok(envelope::created(
        created,
        "Webhook subscribed; keep the secret, it is shown only now",
    ))
}

/// GET /api/v1/webhooks
#[utoipa::path(
    get, path = "/api/v1/webhooks", tag = "webhooks",
    summary = "List subscriptions",
    description = "Admins. Secrets are never shown here.",
    security(("bearer" = [])),
    params(doc::WebhookListQuery),
    responses(
        (status = 200, description = "A page of subscriptions", body = doc::WebhookListResponse),
        (status = 400, response = doc::BadRequest),
        (status = 403, response = doc::Forbidden),
        doc::StandardErrors,
    )
)]
pub(super) async fn list_webhooks(
    req: HttpRequest,
    auth: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.require_admin()?;
    let mut query = QueryParams::parse(&req)?;
    let page = query.page(&[("created_at", ())]);
    query.finish()?;
    let (subscriptions, total) = state.store.list_subscriptions(&page).await?;
    Ok(envelope::list(subscriptions, &page, total, "Webhooks"))
}

/// GET /api/v1/webhooks/{id}
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    summary = "Read a subscription",
    description = "Admins. The secret is not shown.",
    security(("bearer" = [])),
    params(doc::WebhookId),
    responses(
        (status = 200, description = "The subscription", body = doc::WebhookResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        doc::StandardErrors,
    )
)]
pub(super) async fn get_webhook(
    auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require_admin()?;
    let id = path_id(&id, "Webhook")?;
    let subscription = state.store.find_subscription(id).await?;
    Ok(envelope::ok(subscription, "Webhook"))
}

/// DELETE /api/v1/webhooks/{id}: no delivery is attempted for it afterwards.
#[utoipa::path(
    delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    summary = "Delete a subscription",
    description = "Admins. Pending deliveries are cancelled; the subscription is a 404 \
        afterwards.",
    security(("bearer" = [])),
    params(doc::WebhookId),
    responses(
        (status = 200, description = "The subscription, `active: false`", body = doc::WebhookResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        doc::StandardErrors,
    )
)]
pub(super) async fn delete_webhook(
    auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require_admin()?;
    let id = path_id(&id, "Webhook")?;
    let subscription = state.store.delete_subscription(id).await?;
    Ok(envelope::ok(subscription, "Webhook deleted"))
}

/// GET /api/v1/webhooks/{id}/deliveries: every attempt, newest first by default.
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    summary = "A subscription's delivery attempts",
    description = "Admins. Every attempt (status code or error, attempt number, next retry, \
        times), newest first by default.",
    security(("bearer" = [])),
    params(doc::WebhookId, doc::DeliveryListQuery),
    responses(
        (status = 200, description = "A page of attempts", body = doc::DeliveryListResponse),
        (status = 400, response = doc::BadRequest),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        doc::StandardErrors,
    )
)]
pub(super) async fn list_deliveries(
    req: HttpRequest,
    auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require_admin()?;
    let id = path_id(&id, "Webhook")?;
    let mut query = QueryParams::parse(&req)?;
    let page = query.page_ordered(&[("id", ())], SortOrder::Desc);
    query.finish()?;
    let (attempts, total) = state.store.list_attempts(id, &page).await?;
    Ok(envelope::list(attempts, &page, total, "Webhook deliveries"))
}
