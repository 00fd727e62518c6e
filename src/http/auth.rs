//! `/auth`: login, me, logout; and the extractor that authenticates every other route.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use serde_json::json;

use super::AppState;
use super::envelope;
use super::extract::JsonBody;
use super::openapi as doc;
use crate::auth::token::{Claims, Tokens};
use crate::domain::input::{self, Input};
use crate::domain::user::User;
use crate::error::ApiError;

const BAD_CREDENTIALS: &str = "Invalid email or password";

/// The authenticated caller: an active user holding a valid, unrevoked token.
pub struct AuthUser {
    pub user: User,
    pub claims: Claims,
}

impl AuthUser {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.role == crate::domain::user::Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden("Only admins may do this".into()))
        }
    }

    pub fn require_supervisor(&self) -> Result<(), ApiError> {
        if self.user.is_supervisor_or_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "Only supervisors and admins may do this".into(),
            ))
        }
    }
}

/// The bearer token of the `Authorization` header.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    if let Some(header) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        let value = header.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    None
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let claims = state
            .as_ref()
            .map(|state| bearer_claims(req, &state.tokens));
        Box::pin(async move {
            let (Some(state), Some(claims)) = (state, claims) else {
                return Err(ApiError::Internal("application state missing".into()));
            };
            user_of(&state, claims?).await
        })
    }
}

const MISSING_TOKEN: &str = "Missing bearer token";
const INVALID_TOKEN: &str = "Invalid or expired token";

/// The outcome of checking a request's bearer token, kept in the request.
#[derive(Clone)]
struct CheckedToken(Result<Claims, &'static str>);

/// The verified claims of the request's `Authorization` token. The signature is checked once
/// per request (the rate limiter and the extractor both need it) and the outcome kept.
pub fn bearer_claims(req: &HttpRequest, tokens: &Tokens) -> Result<Claims, ApiError> {
    let known = req.extensions().get::<CheckedToken>().cloned();
    let CheckedToken(checked) = known.unwrap_or_else(|| {
        let checked = CheckedToken(match bearer_token(req) {
            None => Err(MISSING_TOKEN),
            Some(token) => tokens.verify(&token).ok_or(INVALID_TOKEN),
        });
        req.extensions_mut().insert(checked.clone());
        checked
    });
    checked.map_err(|message| ApiError::Unauthorized(message.into()))
}

/// Checks a bearer token given any way (header or, for WebSockets, the query): valid
/// signature, not expired, not revoked, its user active.
pub async fn authenticate(state: &AppState, token: Option<String>) -> Result<AuthUser, ApiError> {
    let token = token.ok_or_else(|| ApiError::Unauthorized(MISSING_TOKEN.into()))?;
    let claims = state
        .tokens
        .verify(&token)
        .ok_or_else(|| ApiError::Unauthorized(INVALID_TOKEN.into()))?;
    user_of(state, claims).await
}

/// The active user a verified token belongs to, unless it was revoked or superseded.
async fn user_of(state: &AppState, claims: Claims) -> Result<AuthUser, ApiError> {
    let unauthorized = || ApiError::Unauthorized(INVALID_TOKEN.into());
    let user_id = claims.user_id().ok_or_else(unauthorized)?;
    let user = state
        .store
        .find_token_user(user_id, &claims.jti, claims.tgen)
        .await?
        .ok_or_else(unauthorized)?;
    tracing::Span::current().record("user_id", user.id);
    Ok(AuthUser { user, claims })
}

/// POST /api/v1/auth/login
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    summary = "Log in",
    description = "Exchanges an email and password for a bearer token (JWT). A wrong email and \
        a wrong password get the same 401. Failed logins are throttled per email and per client \
        address (default 10 in 15 minutes, then 429).",
    request_body = doc::LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = doc::LoginResponse),
        doc::StandardErrors,
        doc::BodyErrors,
    )
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut input = Input::new(body.fields, &["email", "password"], &[]);
    let email = input.required("email", input::email);
    let password = input.required("password", |v| input::text(v, 1, 1024));
    input.finish().map_err(ApiError::invalid)?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ApiError::bad_request("email and password are required"));
    };
    let ip = state
        .client_ip(&req)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let started = state
        .throttle
        .begin_attempt(&email, &ip)
        .map_err(|retry_after_secs| ApiError::TooManyRequests { retry_after_secs })?;

    let found = state.store.find_login(&email).await?;
    let stored_hash = found.as_ref().map(|record| record.password_hash.clone());
    let matches = state.passwords.verify(password, stored_hash).await;
    let record = match found {
        Some(record) if matches && record.user.active => record,
        _ => return Err(ApiError::Unauthorized(BAD_CREDENTIALS.into())),
    };
    state.throttle.succeeded(&email, &ip, started);
    let mut user = record.user;
    let issued = state
        .tokens
        .issue(user.id, record.token_generation)
        .map_err(ApiError::internal)?;
    state.store.record_login(&mut user).await?;
    tracing::info!(user_id = user.id, "login");
    Ok(envelope::ok(
        json!({
            "token": issued.token,
            "token_type": "Bearer",
            "expires_at": issued.expires_at,
            "user": user,
        }),
        "Logged in",
    ))
}

/// GET /api/v1/auth/me
#[utoipa::path(
    get, path = "/api/v1/auth/me", tag = "auth",
    summary = "The current user",
    description = "The user the token belongs to. Every role.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The current user", body = doc::UserResponse),
        doc::StandardErrors,
    )
)]
pub async fn me(auth: AuthUser) -> HttpResponse {
    envelope::ok(&auth.user, "Current user")
}

/// POST /api/v1/auth/logout
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    summary = "Log out",
    description = "Revokes the presented token at once. Every role. No body.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Logged out; `data` is null", body = doc::EmptyResponse),
        doc::StandardErrors,
    )
)]
pub async fn logout(auth: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .store
        .revoke_token(&auth.claims.jti, auth.claims.expires_at())
        .await?;
    Ok(envelope::ok(serde_json::Value::Null, "Logged out"))
}
