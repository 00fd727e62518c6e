//! `/clients`: create, list, read, update.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::auth::AuthUser;
use super::envelope;
use super::extract::{JsonBody, QueryParams, idempotency_key, path_id};
use super::openapi as doc;
use crate::domain::client::ClientFields;
use crate::error::ApiError;
use crate::store::{ClientFilter, ClientSort};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/clients")
            .route(web::get().to(list_clients))
            .route(web::post().to(create_client)),
    )
    .service(
        web::resource("/clients/{id}")
            .route(web::get().to(get_client))
            .route(web::put().to(update_client)),
    );
}

/// POST /api/v1/clients
#[utoipa::path(
    post, path = "/api/v1/clients", tag = "clients",
    summary = "Create a client",
    description = "Every role.",
    security(("bearer" = [])),
    params(doc::IdempotencyKey),
    request_body = doc::CreateClientRequest,
    responses(
        (status = 201, description = "Created (or the original answer to a retried \
            `Idempotency-Key`)", body = doc::ClientResponse),
        (status = 409, response = doc::Conflict),
        doc::StandardErrors,
        doc::BodyErrors,
    )
)]
pub(super) async fn create_client(
    req: HttpRequest,
    auth: AuthUser,
    state: web::Data<AppState>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req, &auth.user, &body)?;
    let fields = ClientFields::parse(body.fields, true).map_err(ApiError::invalid)?;
    let created = state.store.create_client(fields, key.as_ref()).await?;
    Ok(envelope::created(created, "Client created"))
}

/// GET /api/v1/clients
#[utoipa::path(
    get, path = "/api/v1/clients", tag = "clients",
    summary = "List clients",
    description = "Every role.",
    security(("bearer" = [])),
    params(doc::ClientListQuery),
    responses(
        (status = 200, description = "A page of clients", body = doc::ClientListResponse),
        (status = 400, response = doc::BadRequest),
        doc::StandardErrors,
    )
)]
pub(super) async fn list_clients(
    req: HttpRequest,
    _auth: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut query = QueryParams::parse(&req)?;
    let filter = ClientFilter {
        text: query.search(),
        created_after: query.time("created_after"),
        created_before: query.time("created_before"),
    };
    let page = query.page(ClientSort::NAMES);
    query.finish()?;
    let (clients, total) = state.store.list_clients(&filter, &page).await?;
    Ok(envelope::list(clients, &page, total, "Clients"))
}

/// GET /api/v1/clients/{id}
#[utoipa::path(
    get, path = "/api/v1/clients/{id}", tag = "clients",
    summary = "Read a client",
    description = "Every role.",
    security(("bearer" = [])),
    params(doc::ClientId),
    responses(
        (status = 200, description = "The client", body = doc::ClientResponse),
        (status = 404, response = doc::NotFound),
        doc::StandardErrors,
    )
)]
pub(super) async fn get_client(
    _auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client = state.store.find_client(path_id(&id, "Client")?).await?;
    Ok(envelope::ok(client, "Client"))
}

/// PUT /api/v1/clients/{id}
#[utoipa::path(
    put, path = "/api/v1/clients/{id}", tag = "clients",
    summary = "Update a client",
    description = "Every role (counsellors correct a caller's details while they talk). \
        Changes the fields present; `null` clears a field.",
    security(("bearer" = [])),
    params(doc::ClientId),
    request_body = doc::UpdateClientRequest,
    responses(
        (status = 200, description = "The client as it is now", body = doc::ClientResponse),
        (status = 404, response = doc::NotFound),
        doc::StandardErrors,
        doc::BodyErrors,
    )
)]
pub(super) async fn update_client(
    _auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "Client")?;
    let fields = ClientFields::parse(body.fields, false).map_err(ApiError::invalid)?;
    let client = state.store.update_client(id, fields).await?;
    Ok(envelope::ok(client, "Client updated"))
}
