//! `GET /metrics`: Prometheus text, for an admin's token or, for a scraper, the static bearer
//! token in `HELPLINE_METRICS_TOKEN`.

use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

use super::AppState;
use super::auth::{authenticate, bearer_token};
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
async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
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
