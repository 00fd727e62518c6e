//! `/cases`: create, list, read (recorded as a view), update, soft delete, history.
//! Updates and deletes go through the case's session, so they apply one at a time.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::auth::AuthUser;
use super::envelope;
use super::extract::{JsonBody, QueryParams, enum_value, id_value, idempotency_key, path_id};
use crate::domain::case::{CasePatch, NewCase};
use crate::domain::input;
use crate::error::ApiError;
use crate::realtime::case_session::{DeleteCase, UpdateCase};
use crate::store::{Assignee, CaseFilter, CaseSort, SortOrder};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/cases")
            .route(web::get().to(list_cases))
            .route(web::post().to(create_case)),
    )
    .service(web::resource("/cases/{id}/history").route(web::get().to(case_history)))
    .service(
        web::resource("/cases/{id}")
            .route(web::get().to(get_case))
            .route(web::put().to(update_case))
            .route(web::delete().to(delete_case)),
    );
}

/// POST /api/v1/cases
async fn create_case(
    req: HttpRequest,
    auth: AuthUser,
    state: web::Data<AppState>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req, &auth.user, &body)?;
    let new = NewCase::parse(body.fields).map_err(ApiError::invalid)?;
    let created = state
        .store
        .create_case(&auth.user, &new, key.as_ref())
        .await?;
    Ok(envelope::created(created, "Case created"))
}

/// GET /api/v1/cases
async fn list_cases(
    req: HttpRequest,
    auth: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut query = QueryParams::parse(&req)?;
    let me = auth.user.id;
    let filter = CaseFilter {
        statuses: query.list("status", enum_value),
        types: query.list("type", |v| input::slug(&v.into())),
        priorities: query.list("priority", enum_value),
        channels: query.list("channel", enum_value),
        assignees: query.list("assigned_to", |v| match v {
            "me" => Ok(Assignee::User(me)),
            "none" => Ok(Assignee::Nobody),
            id => id_value(id)
                .map(Assignee::User)
                .map_err(|_| "must be a user id, me or none".into()),
        }),
        client_ids: query.list("client_id", id_value),
        created_after: query.time("created_after"),
        created_before: query.time("created_before"),
        text: query.search(),
    };
    let page = query.page(CaseSort::NAMES);
    query.finish()?;
    let (cases, total) = state.store.list_cases(&filter, &page).await?;
    Ok(envelope::list(cases, &page, total, "Cases"))
}

/// GET /api/v1/cases/{id}
async fn get_case(
    auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "Case")?;
    let case = state.store.view_case(id, &auth.user).await?;
    Ok(envelope::ok(case, "Case"))
}

/// PUT /api/v1/cases/{id}
async fn update_case(
    auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "Case")?;
    let patch = CasePatch::parse(body.fields).map_err(ApiError::invalid)?;
    let update = UpdateCase {
        actor: auth.user,
        patch,
    };
    let case = state.realtime.on_case(id, update).await?;
    Ok(envelope::ok(case, "Case updated"))
}

/// DELETE /api/v1/cases/{id}
async fn delete_case(
    auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require_supervisor()?;
    let id = path_id(&id, "Case")?;
    let delete = DeleteCase { actor: auth.user };
    let case = state.realtime.on_case(id, delete).await?;
    Ok(envelope::ok(case, "Case deleted"))
}

/// GET /api/v1/cases/{id}/history: a list like any other, oldest first by default.
async fn case_history(
    req: HttpRequest,
    auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require_supervisor()?;
    let id = path_id(&id, "Case")?;
    let mut query = QueryParams::parse(&req)?;
    let page = query.page_ordered(&[("id", ())], SortOrder::Asc);
    query.finish()?;
    let (history, total) = state.store.case_history(id, &page).await?;
    Ok(envelope::list(history, &page, total, "Case history"))
}
