//! The HTTP API: one module per resource, each owning its routes.

mod auth;
mod cases;
mod clients;
mod communications;
mod dashboard;
pub mod envelope;
mod extract;
mod health;
mod metrics;
pub mod middleware;
pub mod openapi;
pub mod rate_limit;
mod users;
mod webhooks;
mod ws;

use std::net::IpAddr;

use actix_web::{HttpResponse, web};

use crate::auth::password::Passwords;
use crate::auth::throttle::LoginThrottle;
use crate::auth::token::Tokens;
use crate::realtime::Realtime;
use crate::store::Store;

/// What every handler can reach.
pub struct AppState {
    pub store: Store,
    pub realtime: Realtime,
    pub rate_limits: rate_limit::RateLimits,
    /// The static bearer token a Prometheus scraper may use for `/metrics`.
    pub metrics_token: Option<String>,
    /// Whether webhook URLs may point at private addresses.
    pub allow_private_webhooks: bool,
    /// Requests being handled now (a WebSocket counts only during its upgrade).
    pub in_flight: middleware::InFlight,
    pub tokens: Tokens,
    pub throttle: LoginThrottle,
    pub passwords: Passwords,
    /// Key of the request hashes kept for `Idempotency-Key`.
    pub request_hash_key: [u8; 32],
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

impl AppState {
    /// The client's address: the TCP peer, or, when the peer is a trusted proxy, the
    /// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
    pub fn client_ip(&self, req: &actix_web::HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok());
        let hops: Vec<IpAddr> = forwarded
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse().ok())
            .collect();
        Some(
            hops.into_iter()
                .rev()
                .find(|ip| !self.trusted_proxies.contains(ip))
                .unwrap_or(peer),
        )
    }
}

/// Registers every route. Each path is a `resource`, so a wrong method gets 405, not 404.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(metrics::routes)
        .configure(openapi::routes)
        .service(
            web::resource("/health")
                .route(web::get().to(health::health))
                .route(web::head().to(health::health)),
        )
        .service(
            web::scope("/api/v1")
                .service(
                    web::resource("/health")
                        .route(web::get().to(health::health))
                        .route(web::head().to(health::health)),
                )
                .service(web::resource("/auth/login").route(web::post().to(auth::login)))
                .service(web::resource("/auth/me").route(web::get().to(auth::me)))
                .service(web::resource("/auth/logout").route(web::post().to(auth::logout)))
                .configure(cases::routes)
                .configure(clients::routes)
                .configure(users::routes)
                .configure(communications::routes)
                .configure(webhooks::routes)
                .configure(dashboard::routes)
                .configure(ws::routes),
        );
}

/// Any path no route matches.
pub async fn not_found() -> HttpResponse {
    envelope::error(actix_web::http::StatusCode::NOT_FOUND, "Not found", &[])
}
