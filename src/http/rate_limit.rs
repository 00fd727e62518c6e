//! Rate limits per API.md: each route group has an hourly budget per user (per client address
//! before login), in fixed windows. Every limited answer says where the caller stands
//! (`X-RateLimit-Limit`, `-Remaining`, `-Reset`); over the budget the answer is 429 with
//! `Retry-After`, and the request is not handled at all.
//!
//! Counters live behind [`CounterStore`], kept in memory here; a shared store (Redis) can
//! implement it for several nodes.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::web;
use dashmap::DashMap;
use futures_util::future::BoxFuture;

use super::auth::bearer_claims;
use super::{AppState, envelope};
use crate::domain::time::Timestamp;

/// Length of a window, in seconds.
const WINDOW_SECS: i64 = 3600;

/// The route groups of API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Cases,
    Users,
    Communications,
    Dashboard,
    Other,
}

impl Group {
    /// The group of a path under `/api/v1`; `None` for paths that are not limited.
    pub fn of(path: &str) -> Option<Group> {
        let rest = path.strip_prefix("/api/v1")?;
        let first = rest.trim_start_matches('/').split('/').next().unwrap_or("");
        Some(match first {
            "cases" => Group::Cases,
            "users" => Group::Users,
            "communications" => Group::Communications,
            "dashboard" => Group::Dashboard,
            _ => Group::Other,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Group::Cases => "cases",
            Group::Users => "users",
            Group::Communications => "communications",
            Group::Dashboard => "dashboard",
            Group::Other => "other",
        }
    }
}

/// Requests allowed per window and group; `0` means unlimited.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub cases: u32,
    pub users: u32,
    pub communications: u32,
    pub dashboard: u32,
    pub other: u32,
}

impl Limits {
    fn of(&self, group: Group) -> u32 {
        match group {
            Group::Cases => self.cases,
            Group::Users => self.users,
            Group::Communications => self.communications,
            Group::Dashboard => self.dashboard,
            Group::Other => self.other,
        }
    }
}

/// Where the counters are kept.
pub trait CounterStore: Send + Sync {
    /// Adds one to the counter `key` of window `window` and returns the new count.
    fn increment(&self, key: String, window: i64) -> BoxFuture<'_, u64>;
}

/// Counters in this process, forgetting past windows as it goes.
#[derive(Default)]
pub struct MemoryCounters {
    counters: DashMap<String, (i64, u64)>,
}

impl CounterStore for MemoryCounters {
    fn increment(&self, key: String, window: i64) -> BoxFuture<'_, u64> {
        // Now and then, forget counters of windows that have ended.
        if self.counters.len() > 10_000 && self.counters.len().is_multiple_of(1024) {
            self.counters.retain(|_, (w, _)| *w == window);
        }
        let mut entry = self.counters.entry(key).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 += 1;
        let count = entry.1;
        drop(entry);
        Box::pin(async move { count })
    }
}

/// The limits and their counters.
pub struct RateLimits {
    pub limits: Limits,
    pub counters: Arc<dyn CounterStore>,
}

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// The middleware: counts the request against its group and caller, refuses it over budget.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    // The decoded path, as routing sees it (`/api/v1/%63ases` is `/cases`).
    let (Some(state), Some(group)) = (state, Group::of(req.match_info().as_str())) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let limit = state.rate_limits.limits.of(group);
    if limit == 0 {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    // The caller: the user of a genuine token (its signature is enough to count by), else
    // the client's address.
    let caller = bearer_claims(req.request(), &state.tokens)
        .ok()
        .and_then(|claims| claims.user_id())
        .map(|id| format!("user:{id}"))
        .or_else(|| state.client_ip(req.request()).map(|ip| format!("ip:{ip}")))
        .unwrap_or_else(|| "unknown".into());
    let now = Timestamp::now().millis() / 1000;
    let window = now / WINDOW_SECS;
    let reset = (window + 1) * WINDOW_SECS;
    let key = format!("{}:{caller}", group.name());
    let count = state.rate_limits.counters.increment(key, window).await;
    let remaining = u64::from(limit).saturating_sub(count);
    let mut response = if count > u64::from(limit) {
        let retry_after = (reset - now).max(1);
        let message = format!(
            "Rate limit of {limit} requests per hour for {} exceeded; retry in {retry_after} s",
            group.name()
        );
        metrics::counter!("rate_limit_rejections_total", "group" => group.name()).increment(1);
        let mut refused = envelope::error(StatusCode::TOO_MANY_REQUESTS, &message, &[]);
        refused
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(retry_after));
        req.into_response(refused)
    } else {
        next.call(req).await?.map_into_boxed_body()
    };
    let headers = response.headers_mut();
    headers.insert(LIMIT, HeaderValue::from(limit));
    headers.insert(REMAINING, HeaderValue::from(remaining));
    headers.insert(RESET, HeaderValue::from(reset));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_the_groups_of_the_contract() {
        assert_eq!(Group::of("/api/v1/cases"), Some(Group::Cases));
        assert_eq!(Group::of("/api/v1/cases/7/history"), Some(Group::Cases));
        assert_eq!(Group::of("/api/v1/users/1"), Some(Group::Users));
        assert_eq!(
            Group::of("/api/v1/communications"),
            Some(Group::Communications)
        );
        assert_eq!(Group::of("/api/v1/dashboard/stats"), Some(Group::Dashboard));
        assert_eq!(Group::of("/api/v1/auth/login"), Some(Group::Other));
        assert_eq!(Group::of("/api/v1/casesx"), Some(Group::Other));
        assert_eq!(Group::of("/health"), None);
    }
}
