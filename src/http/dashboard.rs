//! `/dashboard`: the supervisors' numbers. Aggregates run in SQL; who is online comes from the
//! presence actor. "Today" is the server's UTC day. The stats object itself is built in
//! [`dashboard::stats`], shared with the live `dashboard` topic.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::AppState;
use super::auth::AuthUser;
use super::envelope;
use super::extract::QueryParams;
use crate::domain::user::{PresenceStatus, Role};
use crate::error::ApiError;
use crate::realtime::dashboard;
use crate::realtime::presence::{PresenceEntry, Snapshot};
use crate::store::{CreatedRange, average_seconds};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/dashboard/stats").route(web::get().to(stats)))
        .service(web::resource("/dashboard/cases-by-type").route(web::get().to(cases_by_type)))
        .service(
            web::resource("/dashboard/agent-performance").route(web::get().to(agent_performance)),
        );
}

async fn presence(state: &AppState) -> Vec<PresenceEntry> {
    state
        .realtime
        .presence
        .send(Snapshot)
        .await
        .unwrap_or_default()
}

/// GET /api/v1/dashboard/stats: the same object the `dashboard` topic pushes.
async fn stats(
    req: HttpRequest,
    _auth: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    QueryParams::parse(&req)?.finish()?;
    let data = dashboard::stats(&state.store, &state.realtime.presence).await?;
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
