//! Around every request: a request id, a tracing span with the outcome, and the error envelope
//! for answers the framework produced itself (unknown routes, wrong methods, …).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use super::{AppState, envelope};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Accepts a client's request id when it is short and printable; otherwise makes one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = request_id(&req);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = tracing::field::Empty,
        user_id = tracing::field::Empty,
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    let _in_flight = req
        .app_data::<actix_web::web::Data<AppState>>()
        .map(|state| state.in_flight.enter());
    let started = Instant::now();
    let response = next.call(req).instrument(span.clone()).await?;
    let mut response = with_envelope(response.map_into_boxed_body());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let method = response.request().method().to_string();
    let elapsed = started.elapsed();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route.clone()).record(elapsed.as_secs_f64());
    span.record("route", route);
    span.record("status", status);
    span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
    span.in_scope(|| tracing::info!("request finished"));
    Ok(response)
}

/// Gives a framework-made error (not JSON) the envelope, keeping its status.
fn with_envelope(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let message = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is larger than the server accepts",
        StatusCode::BAD_REQUEST => "Bad request",
        s if s.is_server_error() => "Internal server error",
        s => s.canonical_reason().unwrap_or("Request failed"),
    };
    let (request, old) = response.into_parts();
    let mut replacement = envelope::error(status, message, &[]);
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = old.headers().get(&name) {
            replacement.headers_mut().insert(name, value.clone());
        }
    }
    ServiceResponse::new(request, replacement)
}

/// Counts the requests being handled, so shutdown can wait for them.
#[derive(Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

/// One request being handled.
pub struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl InFlight {
    fn enter(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.0.clone())
    }

    /// Waits until no request is being handled, or `timeout` passes.
    pub async fn wait_idle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.0.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
