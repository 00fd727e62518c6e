//! The one JSON envelope every answer is wrapped in (API.md, "Envelope").

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::FieldError;
use crate::store::{Created, ListPage};

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// 200 with `data`.
pub fn ok<T: Serialize>(data: T, message: &str) -> HttpResponse {
    respond(StatusCode::OK, json!(data), message)
}

/// 201 with the created resource, or the stored answer to an identical earlier request.
pub fn created<T: Serialize>(created: Created<T>, message: &str) -> HttpResponse {
    let data = match created {
        Created::New(resource) => json!(resource),
        Created::Replayed(previous) => previous,
    };
    respond(StatusCode::CREATED, data, message)
}

fn respond(status: StatusCode, data: Value, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "status": "success",
        "data": data,
        "message": message,
        "timestamp": now(),
    }))
}

/// The `pagination` object of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"page": 1, "limit": 20, "total": 57, "pages": 3}))]
pub struct Pagination {
    page: i64,
    limit: i64,
    /// Items matching the filters, over all pages.
    total: i64,
    pages: i64,
}

/// 200 with one page of a list of `total` items.
pub fn list<T: Serialize, S>(
    items: Vec<T>,
    page: &ListPage<S>,
    total: i64,
    message: &str,
) -> HttpResponse {
    let pagination = Pagination {
        page: page.page,
        limit: page.limit,
        total,
        pages: (total + page.limit - 1) / page.limit,
    };
    HttpResponse::Ok().json(json!({
        "status": "success",
        "data": items,
        "pagination": pagination,
        "message": message,
        "timestamp": now(),
    }))
}

/// The error envelope; `errors` appears only when there are field errors.
pub fn error(status: StatusCode, message: &str, errors: &[FieldError]) -> HttpResponse {
    let mut body = json!({
        "status": "error",
        "message": message,
        "code": status.as_u16(),
        "timestamp": now(),
    });
    if !errors.is_empty() {
        body["errors"] = json!(errors);
    }
    HttpResponse::build(status).json(body)
}
