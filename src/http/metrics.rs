//! `GET /metrics`: Prometheus text, for an admin's token or, for a scraper, the static bearer
//! token in `HELPLINE_METRICS_TOKEN`.

use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

use super::AppState;
use super::auth::{authenticate, bearer_token};
use super::openapi as doc;
use crate::error::ApiError;
use crate::telemetry;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").route(web::get().to(metrics)));
}

/// Compares digests, so the time taken says nothing about how much of a guess was right.
fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// GET /metrics
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    summary = "Prometheus metrics",
    description = "Prometheus text: requests and latency by route pattern and status, sockets, \
        events, webhook attempts, emails, rate-limit rejections. For an admin's token, or for \
        a scraper the static bearer token `HELPLINE_METRICS_TOKEN`. Not rate limited.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The metrics",
            content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 401, response = doc::Unauthorized), (status = 403, response = doc::Forbidden),
        (status = 500, response = doc::InternalError), (status = 503, response = doc::Unavailable),
    )
)]
pub(super) async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer_token(&req);
    let scraper = match (&state.metrics_token, &token) {
        (Some(expected), Some(given)) => same_secret(expected, given),
        _ => false,
    };
    if !scraper {
        authenticate(&state, token).await?.require_admin()?;
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(telemetry::metrics().render()))
}
