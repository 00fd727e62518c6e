//! `GET /health`: whether the server can reach its storage, and how it hears other nodes.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::envelope;
use super::openapi as doc;

/// GET /health (also under /api/v1): 200 when storage answers, 503 when it does not.
#[utoipa::path(
    method(get, head), path = "/health", tag = "operations",
    summary = "Health",
    description = "Whether the server reaches its storage, and how it hears other nodes. Also \
        served as `/api/v1/health`; both answer `HEAD` for probes. No token needed, not rate \
        limited.",
    responses(
        (status = 200, description = "Storage answers", body = doc::HealthResponse),
        (status = 503, response = doc::Unavailable),
    )
)]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let bus = match &state.realtime.bus {
        None => "in-process",
        Some(bus) if bus.is_connected() => "ok",
        // Events still reach every socket, from the log, at the next event of their topic.
        Some(_) => "reconnecting",
    };
    match state.store.ping().await {
        Ok(()) => envelope::ok(json!({ "storage": "ok", "bus": bus }), "Healthy"),
        Err(error) => {
            tracing::warn!(%error, "health check: storage unreachable");
            envelope::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Storage is unreachable",
                &[],
            )
        }
    }
}
