//! `/users`: everyone may list and read; only admins create, update and deactivate.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::auth::AuthUser;
use super::envelope;
use super::extract::{JsonBody, QueryParams, enum_value, idempotency_key, path_id};
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
async fn create_user(
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
async fn list_users(
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
async fn get_user(
    _auth: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state.store.find_user(path_id(&id, "User")?).await?;
    Ok(envelope::ok(user, "User"))
}

/// PUT /api/v1/users/{id}
async fn update_user(
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
async fn delete_user(
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
