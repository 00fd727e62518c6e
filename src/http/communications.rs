//! `/communications`: messages on cases. A new message is written through its case's session
//! and published as `message.received` on topic `case:{id}`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::auth::AuthUser;
use super::envelope;
use super::extract::{JsonBody, QueryParams, enum_value, id_value, idempotency_key, path_id};
use super::openapi as doc;
use crate::domain::communication::NewCommunication;
use crate::error::ApiError;
use crate::realtime::case_session::PostMessage;
use crate::store::{CommunicationFilter, CommunicationSort};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/communications")
            .route(web::get().to(list_communications))
            .route(web::post().to(create_communication)),
    )
    .service(web::resource("/communications/{id}").route(web::get().to(get_communication)));
}

/// POST /api/v1/communications
#[utoipa::path(
    post, path = "/api/v1/communications", tag = "communications",
    summary = "Record a message on a case",
    description = "Every role. `sender_id` is the caller; `status` is set by the server \
        (`received` for inbound and internal, `queued` for outbound). An outbound `email` to a \
        client with an email address is sent through SMTP and its `status` follows the \
        delivery. Recorded on closed cases too; a missing or deleted case is a 400 on `case_id`.",
    security(("bearer" = [])),
    params(doc::IdempotencyKey),
    request_body = doc::CreateCommunicationRequest,
    responses(
        (status = 201, description = "Recorded (or the original answer to a retried \
            `Idempotency-Key`)", body = doc::CommunicationResponse),
        (status = 409, response = doc::Conflict),
        doc::StandardErrors,
        doc::BodyErrors,
    )
)]
pub(super) async fn create_communication(
    req: HttpRequest,
    auth: AuthUser,
    state: web::Data<AppState>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req, &auth.user, &body)?;
    let message = NewCommunication::parse(body.fields).map_err(ApiError::invalid)?;
    let post = PostMessage {
        sender: auth.user,
        message: message.clone(),
        key,
    };
    let created = state.realtime.on_case(message.case_id, post).await?;
    Ok(envelope::created(created, "Communication recorded"))
}

/// GET /api/v1/communications
#[utoipa::path(
    get, path = "/api/v1/communications", tag = "communications",
    summary = "List messages",
    description = "Every role. Messages of deleted cases are not listed.",
    security(("bearer" = [])),
    params(doc::CommunicationListQuery),
    responses(
        (status = 200, description = "A page of messages", body = doc::CommunicationListResponse),
        (status = 400, response = doc::BadRequest),
        doc::StandardErrors,
    )
)]
pub(super) async fn list_communications(
    req: HttpRequest,
    _auth: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut query = QueryParams::parse(&req)?;
    let filter = CommunicationFilter {
        case_ids: query.list("case_id", id_value),
        channels: query.list("channel", enum_value),
        directions: query.list("direction", enum_value),
        created_after: query.time("created_after"),
        created_before: query.time("created_before"),
    };
    let page = query.page(CommunicationSort::NAMES);
    query.finish()?;
    let (communications, total) = state.store.list_communications(&filter, &page).await?;
    Ok(envelope::list(
        communications,
        &page,
        total,
        "Communications",
    ))
}

/// GET /api/v1/communications/{id}
#[utoipa::path(
    get, path = "/api/v1/communications/{id}", tag = "communications",
    summary = "Read a message",
    description = "Every role.",
    security(("bearer" = [])),
    params(doc::CommunicationId),
    responses(
        (status = 200, description = "The message", body = doc::CommunicationResponse),
        (status = 404, response = doc::NotFound),
        doc::StandardErrors,
    )
)]
pub(super) async fn get_communication(
    _auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "Communication")?;
    let communication = state.store.find_communication(id).await?;
    Ok(envelope::ok(communication, "Communication"))
}
