//! `/users`: everyone may list and read; only admins create, update and deactivate.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::auth::AuthUser;
use super::envelope;
use super::extract::{JsonBody, QueryParams, enum_value, idempotency_key, path_id};
use super::openapi as doc;
use crate::domain::user::{NewUser, UserPatch};
use crate::error::ApiError;
use crate::store::{UserFilter, UserSort};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users")
            .route(web::get().to(list_users))
            .route(web::post().to(create_user)),
    )
    .service(
        web::resource("/users/{id}")
            .route(web::get().to(get_user))
            .route(web::put().to(update_user))
            .route(web::delete().to(delete_user)),
    );
}

/// POST /api/v1/users
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users",
    summary = "Create a user",
    description = "Admins. `role` defaults to `agent`; the email must not be taken (409).",
    security(("bearer" = [])),
    params(doc::IdempotencyKey),
    request_body = doc::CreateUserRequest,
    responses(
        (status = 201, description = "Created (or the original answer to a retried \
            `Idempotency-Key`)", body = doc::UserResponse),
        (status = 403, response = doc::Forbidden),
        (status = 409, response = doc::Conflict),
        doc::StandardErrors,
        doc::BodyErrors,
    )
)]
pub(super) async fn create_user(
    req: HttpRequest,
    auth: AuthUser,
    state: web::Data<AppState>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    auth.require_admin()?;
    let key = idempotency_key(&req, &auth.user, &body)?;
    let new = NewUser::parse(body.fields).map_err(ApiError::invalid)?;
    let hash = state
        .passwords
        .hash(new.password.clone())
        .await
        .map_err(ApiError::internal)?;
    let created = state
        .store
        .create_user(Some(auth.user.id), &new, hash, key.as_ref())
        .await?;
    Ok(envelope::created(created, "User created"))
}

/// GET /api/v1/users
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users",
    summary = "List users",
    description = "Every role.",
    security(("bearer" = [])),
    params(doc::UserListQuery),
    responses(
        (status = 200, description = "A page of users", body = doc::UserListResponse),
        (status = 400, response = doc::BadRequest),
        doc::StandardErrors,
    )
)]
pub(super) async fn list_users(
    req: HttpRequest,
    _auth: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut query = QueryParams::parse(&req)?;
    let filter = UserFilter {
        roles: query.list("role", enum_value),
        active: query.one("active", |v| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err("must be true or false".to_string()),
        }),
    };
    let page = query.page(UserSort::NAMES);
    query.finish()?;
    let (users, total) = state.store.list_users(&filter, &page).await?;
    Ok(envelope::list(users, &page, total, "Users"))
}

/// GET /api/v1/users/{id}
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users",
    summary = "Read a user",
    description = "Every role.",
    security(("bearer" = [])),
    params(doc::UserId),
    responses(
        (status = 200, description = "The user", body = doc::UserResponse),
        (status = 404, response = doc::NotFound),
        doc::StandardErrors,
    )
)]
pub(super) async fn get_user(
    _auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state.store.find_user(path_id(&id, "User")?).await?;
    Ok(envelope::ok(user, "User"))
}

/// PUT /api/v1/users/{id}
#[utoipa::path(
    put, path = "/api/v1/users/{id}", tag = "users",
    summary = "Update a user",
    description = "Admins. Changes the fields present. A new password or `active: false` ends \
        every session the user had. The last active admin cannot be demoted or deactivated \
        (409); a taken email is a 409.",
    security(("bearer" = [])),
    params(doc::UserId),
    request_body = doc::UpdateUserRequest,
    responses(
        (status = 200, description = "The user as they are now", body = doc::UserResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        doc::StandardErrors,
        doc::BodyErrors,
    )
)]
pub(super) async fn update_user(
    auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    auth.require_admin()?;
    let id = path_id(&id, "User")?;
    let patch = UserPatch::parse(body.fields).map_err(ApiError::invalid)?;
    let hash = match patch.password.clone() {
        Some(password) => Some(
            state
                .passwords
                .hash(password)
                .await
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let user = state.store.update_user(id, &patch, hash).await?;
    Ok(envelope::ok(user, "User updated"))
}

/// DELETE /api/v1/users/{id}: deactivates; the user's history stays, their tokens stop working.
#[utoipa::path(
    delete, path = "/api/v1/users/{id}", tag = "users",
    summary = "Deactivate a user",
    description = "Admins. The user can no longer log in and their tokens stop working; their \
        history stays. The last active admin cannot be deactivated (409).",
    security(("bearer" = [])),
    params(doc::UserId),
    responses(
        (status = 200, description = "The deactivated user", body = doc::UserResponse),
        (status = 403, response = doc::Forbidden),
        (status = 404, response = doc::NotFound),
        (status = 409, response = doc::Conflict),
        doc::StandardErrors,
    )
)]
pub(super) async fn delete_user(
    auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require_admin()?;
    let id = path_id(&id, "User")?;
    let patch = UserPatch {
        active: Some(false),
        ..UserPatch::default()
    };
    let user = state.store.update_user(id, &patch, None).await?;
    Ok(envelope::ok(user, "User deactivated"))
}
