//! `/cases`: create, list, read (recorded as a view), update, soft delete, history.
//! Updates and deletes go through the case's session, so they apply one at a time.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::auth::AuthUser;
use super::envelope;
use super::extract::{JsonBody, QueryParams, enum_value, id_value, idempotency_key, path_id};
use super::openapi as doc;
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
#[utoipa::path(
    post, path = "/api/v1/cases", tag = "cases",
    summary = "Create a case",
    description = "Every role. `status` defaults to `open`, `priority` to `medium`; `client_id` \
        must exist and `assigned_to` must be an active user.",
    security(("bearer" = [])),
    params(doc::IdempotencyKey),
    request_body = doc::CreateCaseRequest,
    responses(
        (status = 201, description = "Created (or the original answer to a retried \
            `Idempotency-Key`)", body = doc::CaseResponse),
        (status = 409, response = doc::Conflict),
        doc::StandardErrors,
        doc::BodyErrors,
    )
)]
pub(super) async fn create_case(
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
#[utoipa::path(
    get, path = "/api/v1/cases", tag = "cases",
    summary = "List cases",
    description = "Every role. Filters combine with AND; the values of one filter with OR.",
    security(("bearer" = [])),
    params(doc::CaseListQuery),
    responses(
        (status = 200, description = "A page of cases", body = doc::CaseListResponse),
        (status = 400, response = doc::BadRequest),
        doc::StandardErrors,
    )
)]
pub(super) async fn list_cases(
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
#[utoipa::path(
    get, path = "/api/v1/cases/{id}", tag = "cases",
    summary = "Read a case",
    description = "Every role. The read is recorded in the case's history (`case.viewed`).",
    security(("bearer" = [])),
    params(doc::CaseId),
    responses(
        (status = 200, description = "The case", body = doc::CaseResponse),
        (status = 404, response = doc::NotFound),
        doc::StandardErrors,
    )
)]
pub(super) async fn get_case(
    auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "Case")?;
    let case = state.store.view_case(id, &auth.user).await?;
    Ok(envelope::ok(case, "Case"))
}

/// PUT /api/v1/cases/{id}
#[utoipa::path(
    put, path = "/api/v1/cases/{id}", tag = "cases",
    summary = "Update a case",
    description = "Changes the fields present and leaves the rest; a change of nothing answers \
        the unchanged case. With `version`, a stale version is a 409 and nothing changes.\n\n\
        Supervisors and admins: any case. Agents: a case assigned to them or unassigned (they \
        may assign it), and they may not reopen a closed case (403, before any conflict).",
    security(("bearer" = [])),
    params(doc::CaseId),
    request_body = doc::UpdateCaseRequest,
    responses(
        (status = 200, description = "The case as it is now", body = doc::CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        doc::StandardErrors,
        doc::BodyErrors,
    )
)]
pub(super) async fn update_case(
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
#[utoipa::path(
    delete, path = "/api/v1/cases/{id}", tag = "cases",
    summary = "Delete a case",
    description = "Supervisors and admins. A soft delete: the case and its messages then read \
        as 404.",
    security(("bearer" = [])),
    params(doc::CaseId),
    responses(
        (status = 200, description = "The case as it was", body = doc::CaseResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        doc::StandardErrors,
    )
)]
pub(super) async fn delete_case(
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
#[utoipa::path(
    get, path = "/api/v1/cases/{id}/history", tag = "cases",
    summary = "A case's audit trail",
    description = "Supervisors and admins. Every change (`event`, `user_id`, `changes` as \
        `{field: {from, to}}`, `timestamp`) and every read (`case.viewed`), oldest first by \
        default.",
    security(("bearer" = [])),
    params(doc::CaseId, doc::HistoryQuery),
    responses(
        (status = 200, description = "A page of the history", body = doc::CaseHistoryResponse),
        (status = 400, response = doc::BadRequest),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        doc::StandardErrors,
    )
)]
pub(super) async fn case_history(
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
