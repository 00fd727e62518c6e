//! `/dashboard`: the supervisors' numbers. Aggregates run in SQL; who is online comes from the
//! presence actor. "Today" is the server's UTC day.

use std::collections::HashSet;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::AppState;
use super::auth::AuthUser;
use super::envelope;
use super::extract::QueryParams;
use crate::domain::case::{CaseStatus, Priority};
use crate::domain::time::Timestamp;
use crate::domain::user::{PresenceStatus, Role};
use crate::error::ApiError;
use crate::realtime::presence::{PresenceEntry, Snapshot};
use crate::store::{CreatedRange, average_seconds};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/dashboard/stats").route(web::get().to(stats)))
        .service(web::resource("/dashboard/cases-by-type").route(web::get().to(cases_by_type)))
        .service(
            web::resource("/dashboard/agent-performance").route(web::get().to(agent_performance)),
        );
}

/// The first instant of today, UTC.
fn today() -> Timestamp {
    let midnight = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    Timestamp(midnight.timestamp_millis())
}

async fn presence(state: &AppState) -> Vec<PresenceEntry> {
    state
        .realtime
        .presence
        .send(Snapshot)
        .await
        .unwrap_or_default()
}

/// GET /api/v1/dashboard/stats
async fn stats(
    req: HttpRequest,
    _auth: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(&req)?.finish()?;
    let counts = state.store.case_counts(today()).await?;
    let agents: HashSet<i64> = state.store.active_agent_ids().await?.into_iter().collect();
    let agents_online = presence(&state)
        .await
        .iter()
        .filter(|entry| agents.contains(&entry.user_id))
        .count();
    // Every status and priority is present, 0 included, in lifecycle order.
    let by_status: Map<String, Value> = CaseStatus::ALL
        .iter()
        .map(|s| {
            (
                s.as_str().to_string(),
                json!(counts.by_status.get(s.as_str()).copied().unwrap_or(0)),
            )
        })
        .collect();
    let by_priority: Map<String, Value> = Priority::ALL
        .iter()
        .map(|p| {
            (
                p.as_str().to_string(),
                json!(counts.by_priority.get(p.as_str()).copied().unwrap_or(0)),
            )
        })
        .collect();
    let total: i64 = counts.by_status.values().sum();
    let closed = counts.by_status.get("closed").copied().unwrap_or(0);
    let data = json!({
        "total_cases": total,
        "open_cases": total - closed,
        "by_status": by_status,
        "by_priority": by_priority,
        "cases_today": counts.cases_today,
        "closed_today": counts.closed_today,
        "messages_today": counts.messages_today,
        "agents_online": agents_online,
        "avg_first_response_seconds": average_seconds(counts.first_response.0, counts.first_response.1),
        "avg_resolution_seconds": average_seconds(counts.resolution.0, counts.resolution.1),
    });
    Ok(envelope::ok(data, "Dashboard statistics"))
}

fn created_range(query: &mut QueryParams) -> CreatedRange {
    CreatedRange {
        after: query.time("created_after"),
        before: query.time("created_before"),
    }
}

#[derive(Serialize)]
struct TypeCount {
    r#type: String,
    count: i64,
}

/// GET /api/v1/dashboard/cases-by-type
async fn cases_by_type(
    req: HttpRequest,
    _auth: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut query = QueryParams::parse(&req)?;
    let range = created_range(&mut query);
    query.finish()?;
    let counts: Vec<TypeCount> = state
        .store
        .cases_by_type(range)
        .await?
        .into_iter()
        .map(|(r#type, count)| TypeCount { r#type, count })
        .collect();
    Ok(envelope::ok(counts, "Cases by type"))
}

#[derive(Serialize)]
struct AgentPerformance {
    agent_id: i64,
    name: String,
    presence: PresenceStatus,
    cases_assigned: i64,
    open_cases: i64,
    cases_closed: i64,
    messages_sent: i64,
    avg_first_response_seconds: Option<f64>,
    avg_resolution_seconds: Option<f64>,
}

/// GET /api/v1/dashboard/agent-performance: an agent sees only their own row.
async fn agent_performance(
    req: HttpRequest,
    auth: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut query = QueryParams::parse(&req)?;
    let range = created_range(&mut query);
    query.finish()?;
    let only = (auth.user.role == Role::Agent).then_some(auth.user.id);
    let figures = state.store.agent_figures(range, only).await?;
    let presence = presence(&state).await;
    let rows: Vec<AgentPerformance> = figures
        .into_iter()
        .map(|f| AgentPerformance {
            presence: presence
                .iter()
                .find(|entry| entry.user_id == f.agent_id)
                .map_or(PresenceStatus::Offline, |entry| entry.status),
            avg_first_response_seconds: average_seconds(
                f.first_response_ms.unwrap_or(0),
                f.first_responses,
            ),
            avg_resolution_seconds: average_seconds(f.resolution_ms.unwrap_or(0), f.cases_closed),
            agent_id: f.agent_id,
            name: f.name,
            cases_assigned: f.cases_assigned,
            open_cases: f.open_cases,
            cases_closed: f.cases_closed,
            messages_sent: f.messages_sent,
        })
        .collect();
    Ok(envelope::ok(rows, "Agent performance"))
}
