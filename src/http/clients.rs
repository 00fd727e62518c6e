//! `/clients`: create, list, read, update.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::auth::AuthUser;
use super::envelope;
use super::extract::{JsonBody, QueryParams, idempotency_key, path_id};
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
async fn create_client(
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
async fn list_clients(
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
async fn get_client(
    _auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client = state.store.find_client(path_id(&id, "Client")?).await?;
    Ok(envelope::ok(client, "Client"))
}

/// PUT /api/v1/clients/{id}
async fn update_client(
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
