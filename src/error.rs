//! One error type for the HTTP layer; every failure becomes the error envelope of API.md.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::http::envelope;
use crate::store::StoreError;

/// A problem with one field of the input, reported to the client in `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"field": "priority", "message": "must be one of low, medium, high, critical"}))]
pub struct FieldError {
    /// The body field or query parameter.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Everything a handler can answer with besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        message: String,
        errors: Vec<FieldError>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("The request body is larger than the server accepts")]
    PayloadTooLarge,
    #[error("The request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("Too many requests, retry later")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("Storage is unavailable; the request was not applied")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("Internal server error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// A validation failure with one entry per offending field.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        ApiError::BadRequest {
            message: "Validation failed".into(),
            errors,
        }
    }

    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(cause))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::Forbidden(message) => ApiError::Forbidden(message),
            StoreError::Invalid(errors) => ApiError::invalid(errors),
            StoreError::Unavailable(cause) => ApiError::Unavailable(Box::new(cause)),
            StoreError::Backend(cause) => ApiError::Internal(Box::new(cause)),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // The cause is logged once, inside the request's span (which carries the request id);
        // the client only ever sees the opaque message.
        match self {
            ApiError::Internal(cause) => tracing::error!(error = %cause, "request failed"),
            ApiError::Unavailable(cause) => tracing::warn!(error = %cause, "storage unavailable"),
            _ => {}
        }
        let errors = match self {
            ApiError::BadRequest { errors, .. } => errors.as_slice(),
            _ => &[],
        };
        let mut response = envelope::error(self.status_code(), &self.to_string(), errors);
        let headers = response.headers_mut();
        match self {
            ApiError::TooManyRequests { retry_after_secs } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Unauthorized(_) => {
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}
