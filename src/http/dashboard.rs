//! `/dashboard`: the supervisors' numbers. Aggregates run in SQL; who is online comes from the
//! presence actor. "Today" is the server's UTC day. The stats object itself is built in
//! [`dashboard::stats`], shared with the live `dashboard` topic.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::AppState;
use super::auth::AuthUser;
use super::envelope;
use super::extract::QueryParams;
use super::openapi as doc;
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
#[utoipa::path(
    get, path = "/api/v1/dashboard/stats", tag = "dashboard",
    summary = "Dashboard figures",
    description = "Every role. The object the `dashboard` WebSocket topic pushes.\n\n\
        Counts are over cases not deleted. `open_cases` counts every status but `closed`. \
        \"Today\" is the server's UTC day: `cases_today` were created today, `closed_today` \
        closed today and still closed, `messages_today` recorded today. First response: the \
        first outbound communication by staff on a case minus the case's creation. Resolution: \
        closing time minus creation, over cases closed now. Averages are in seconds to the \
        millisecond, null without data. Takes no parameters.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The figures", body = doc::StatsResponse),
        (status = 400, response = doc::BadRequest),
        doc::StandardErrors,
    )
)]
pub(super) async fn stats(
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

/// How many cases have one type.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct TypeCount {
    r#type: String,
    count: i64,
}

/// GET /api/v1/dashboard/cases-by-type
#[utoipa::path(
    get, path = "/api/v1/dashboard/cases-by-type", tag = "dashboard",
    summary = "Cases by type",
    description = "Every role. `[{type, count}]` over cases not deleted (created in the range), \
        largest first.",
    security(("bearer" = [])),
    params(doc::CreatedRange),
    responses(
        (status = 200, description = "Counts by type", body = doc::CasesByTypeResponse),
        (status = 400, response = doc::BadRequest),
        doc::StandardErrors,
    )
)]
pub(super) async fn cases_by_type(
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

/// One agent's figures.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct AgentPerformance {
    agent_id: i64,
    name: String,
    presence: PresenceStatus,
    /// Cases assigned to them (created in the range).
    cases_assigned: i64,
    /// Of those, the ones not closed.
    open_cases: i64,
    /// Of those, the ones closed.
    cases_closed: i64,
    /// Their outbound messages (sent in the range).
    messages_sent: i64,
    /// Over their cases: first outbound message by staff minus the case's creation; null
    /// without data.
    avg_first_response_seconds: Option<f64>,
    /// Over their closed cases: closing time minus creation; null without data.
    avg_resolution_seconds: Option<f64>,
}

/// GET /api/v1/dashboard/agent-performance: an agent sees only their own row.
#[utoipa::path(
    get, path = "/api/v1/dashboard/agent-performance", tag = "dashboard",
    summary = "Figures per agent",
    description = "Supervisors and admins: every active agent, by name. Agents: only their own \
        row. `cases_assigned`, `open_cases` and `cases_closed` count cases assigned to the agent \
        (created in the range), `messages_sent` their outbound messages (sent in the range). \
        First response: the first outbound communication by staff on a case minus the case's \
        creation; resolution: closing time minus creation; both averaged over the agent's \
        cases, in seconds, null without data.",
    security(("bearer" = [])),
    params(doc::CreatedRange),
    responses(
        (status = 200, description = "One row per agent", body = doc::AgentPerformanceResponse),
        (status = 400, response = doc::BadRequest),
        doc::StandardErrors,
    )
)]
pub(super) async fn agent_performance(
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
