//! `GET /api/v1/ws`: authenticates (header, or `?token=` for browsers), enforces the per-user
//! socket cap, and hands the connection to a [`WsSession`].

use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;

use super::AppState;
use super::auth::{authenticate, bearer_token};
use super::openapi as doc;
use crate::error::ApiError;
use crate::realtime::ws_session::WsSession;

/// Largest frame a client may send (API.md: 64 KiB).
const MAX_FRAME_BYTES: usize = 64 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/ws").route(web::get().to(connect)));
}

/// The `token` query parameter. The request log records the route pattern, never the URL, so
/// the token is not logged.
fn query_token(req: &HttpRequest) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()?
        .into_iter()
        .find(|(name, _)| name == "token")
        .map(|(_, token)| token)
}

/// GET /api/v1/ws
#[utoipa::path(
    get, path = "/api/v1/ws", tag = "realtime",
    summary = "Open the WebSocket",
    description = "A WebSocket upgrade (`Connection: Upgrade`, `Upgrade: websocket`). \
        Authenticate with `Authorization: Bearer` or, from a browser, `?token=`. Frames are JSON \
        text of at most 64 KiB: the client sends `subscribe` (`topic`, `since`), `unsubscribe`, \
        `presence`, `typing` and `ping`; the server sends `subscribed`, `unsubscribed`, `event`, \
        `presence`, `typing`, `dashboard`, `pong` and `error`. Topics: `case:{id}`, `cases`, \
        `agent:{id}`, `presence`, `dashboard` (supervisors and admins). A user holds at most \
        `HELPLINE_WS_MAX_PER_USER` sockets (default 20): one more is a 429.",
    security(("bearer" = []), ("token_query" = [])),
    responses(
        (status = 101, description = "Switching protocols: the socket is open"),
        (status = 400, response = doc::BadRequest),
        doc::StandardErrors,
    )
)]
pub(super) async fn connect(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer_token(&req).or_else(|| query_token(&req));
    let auth = authenticate(&state, token).await?;
    let realtime = &state.realtime;
    if realtime.sockets.is_closing() {
        return Err(ApiError::Unavailable("the server is shutting down".into()));
    }
    let slot = realtime
        .sockets
        .try_acquire(auth.user.id, realtime.settings.max_per_user)
        .ok_or_else(|| ApiError::TooManyRequests {
            retry_after_secs: 5,
        })?;
    let session = WsSession::new(auth.user, auth.claims, realtime.clone(), slot);
    ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(MAX_FRAME_BYTES)
        .start()
        .map_err(|_| ApiError::bad_request("This route takes a WebSocket upgrade"))
}
