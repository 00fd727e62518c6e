//! `GET /health`: whether the server can reach its storage.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::envelope;

/// GET /health (also under /api/v1): 200 when storage answers, 503 when it does not.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => envelope::ok(json!({ "storage": "ok", "bus": "in-process" }), "Healthy"),
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
