//! Turning raw requests into checked values: JSON bodies, query strings, ids and the
//! `Idempotency-Key` header. Every failure here is a 4xx in the envelope.

use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::AppState;
use crate::domain::time::Timestamp;
use crate::domain::user::User;
use crate::error::{ApiError, FieldError};
use crate::store::{IdempotencyKey, ListPage, SortOrder};

/// A JSON object body, and a hash of the request for `Idempotency-Key`.
pub struct JsonBody {
    pub fields: Map<String, Value>,
    request_hash: String,
}

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req.mime_type().ok().flatten().is_some_and(|mime| {
            mime.type_() == "application"
                && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        });
        let method_and_path = format!("{} {}", req.method(), req.path());
        let hash_key = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.request_hash_key)
            .unwrap_or_default();
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let bytes = bytes.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::bad_request("The request body could not be read")
                }
            })?;
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad_request(format!("Malformed JSON: {e}")))?;
            let canonical = canonical_json(&value);
            let Value::Object(fields) = value else {
                return Err(ApiError::bad_request(
                    "The request body must be a JSON object",
                ));
            };
            // Keyed with a server secret, so bodies (a new user's password, say) cannot be
            // guessed back from a stored hash; canonical, so a retry that reorders keys matches.
            let mut hasher = Sha256::new();
            hasher.update(hash_key);
            hasher.update(method_and_path.as_bytes());
            hasher.update(b"\n");
            hasher.update(canonical.as_bytes());
            let request_hash: String = hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            Ok(JsonBody {
                fields,
                request_hash,
            })
        })
    }
}

/// JSON text with object keys sorted and no spacing: bodies that mean the same hash the same,
/// whatever their key order or whitespace.
fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(fields) => {
            let mut entries: Vec<(&String, &Value)> = fields.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let members: Vec<String> = entries
                .into_iter()
                .map(|(key, value)| {
                    format!("{}:{}", Value::String(key.clone()), canonical_json(value))
                })
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        scalar => scalar.to_string(),
    }
}

/// The `Idempotency-Key` of a creating request by `user`, if it sent one.
pub fn idempotency_key(
    req: &HttpRequest,
    user: &User,
    body: &JsonBody,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(raw) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = raw
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| (0x20..0x7f).contains(&b)))
        .ok_or_else(|| {
            ApiError::bad_request("Idempotency-Key must be 1 to 255 printable ASCII characters")
        })?;
    Ok(Some(IdempotencyKey {
        user_id: user.id,
        key: key.to_string(),
        request_hash: body.request_hash.clone(),
    }))
}

/// An id from the path; anything but a positive integer names no resource.
pub fn path_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::NotFound(format!("{what} not found")))
}

/// Query-string parameters read one by one; unknown names and bad values become field errors.
pub struct QueryParams {
    pairs: Vec<(String, String)>,
    used: Vec<&'static str>,
    errors: Vec<FieldError>,
}

impl QueryParams {
    pub fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .map_err(|_| ApiError::bad_request("The query string is malformed"))?;
        Ok(QueryParams {
            pairs,
            used: Vec::new(),
            errors: Vec::new(),
        })
    }

    fn values(&mut self, name: &'static str) -> Vec<String> {
        self.used.push(name);
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The single value of `name`, parsed.
    pub fn one<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let values = self.values(name);
        match values.as_slice() {
            [] => None,
            [value] => parse(value)
                .map_err(|m| self.errors.push(FieldError::new(name, m)))
                .ok(),
            _ => {
                self.errors
                    .push(FieldError::new(name, "must be given once"));
                None
            }
        }
    }

    /// Every value of `name`, from comma-separated lists and repeated parameters.
    pub fn list<T>(
        &mut self,
        name: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Vec<T> {
        let mut parsed = Vec::new();
        for value in self
            .values(name)
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
        {
            match parse(value) {
                Ok(v) => parsed.push(v),
                Err(message) => self
                    .errors
                    .push(FieldError::new(name, format!("{value:?}: {message}"))),
            }
        }
        parsed
    }

    /// A `created_after` / `created_before` style bound.
    pub fn time(&mut self, name: &'static str) -> Option<Timestamp> {
        self.one(name, Timestamp::parse_bound)
    }

    /// The search text `q`, when not blank.
    pub fn search(&mut self) -> Option<String> {
        self.one("q", |v| {
            if v.chars().count() > 200 {
                Err("must be at most 200 characters".into())
            } else if v.contains('\0') {
                Err("must not contain the NUL character".into())
            } else {
                Ok(v.trim().to_string())
            }
        })
        .filter(|q| !q.is_empty())
    }

    /// `page`, `limit`, `sort` (one of `sorts`, the first by default) and `order` (`desc` by
    /// default: newest first).
    pub fn page<S: Copy>(&mut self, sorts: &[(&'static str, S)]) -> ListPage<S> {
        self.page_ordered(sorts, SortOrder::Desc)
    }

    /// As [`QueryParams::page`], with another default order.
    pub fn page_ordered<S: Copy>(
        &mut self,
        sorts: &[(&'static str, S)],
        default_order: SortOrder,
    ) -> ListPage<S> {
        let page = self
            .one("page", |v| positive(v, i64::MAX / 1000))
            .unwrap_or(1);
        let limit = self.one("limit", |v| positive(v, 100)).unwrap_or(20);
        let sort = self
            .one("sort", |v| {
                sorts
                    .iter()
                    .find(|(name, _)| *name == v)
                    .map(|(_, s)| *s)
                    .ok_or_else(|| {
                        let names: Vec<&str> = sorts.iter().map(|(n, _)| *n).collect();
                        format!("must be one of {}", names.join(", "))
                    })
            })
            .unwrap_or(sorts[0].1);
        let order = self
            .one("order", |v| match v {
                "asc" => Ok(SortOrder::Asc),
                "desc" => Ok(SortOrder::Desc),
                _ => Err("must be asc or desc".to_string()),
            })
            .unwrap_or(default_order);
        ListPage {
            page,
            limit,
            sort,
            order,
        }
    }

    /// Ends reading: unknown parameters and bad values → 400 naming each.
    /// `_` is let through: browsers' cache-busters (`?_=1700000000`) are not typos.
    pub fn finish(mut self) -> Result<(), ApiError> {
        for (name, _) in &self.pairs {
            let known = name == "_" || self.used.contains(&name.as_str());
            if !known && !self.errors.iter().any(|e| &e.field == name) {
                self.errors
                    .push(FieldError::new(name, "is not a known parameter"));
            }
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::BadRequest {
                message: "Invalid query parameters".into(),
                errors: self.errors,
            })
        }
    }
}

fn positive(value: &str, max: i64) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("must be a whole number from 1 to {max}"))
}

/// Parses one of a `string_enum!`'s values.
pub fn enum_value<T: FromStr<Err = String>>(value: &str) -> Result<T, String> {
    value.parse()
}

/// Parses an id.
pub fn id_value(value: &str) -> Result<i64, String> {
    positive(value, i64::MAX).map_err(|_| "must be a positive whole number".into())
}

#[cfg(test)]
mod tests {
    use super::canonical_json;
    use serde_json::json;

    #[test]
    fn canonical_json_ignores_key_order_and_spacing_only() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b": [1, {"y": 2, "x": 1}], "a": "s"}"#).unwrap();
        let b = json!({"a": "s", "b": [1, {"x": 1, "y": 2}]});
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_ne!(
            canonical_json(&json!({"a": [1, 2]})),
            canonical_json(&json!({"a": [2, 1]}))
        );
    }
}
