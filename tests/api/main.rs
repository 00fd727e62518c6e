//! Black-box tests: real HTTP and WebSocket clients against a server started per test, on a
//! fresh database.

mod auth_users;
mod cases;
mod clients_envelope;
mod cluster;
mod communications;
mod dashboard;
mod email;
mod helpers;
mod metrics;
mod openapi;
mod process;
mod rate_limits;
mod realtime;
mod realtime_frames;
mod receivers;
mod socket;
mod storage;
mod webhooks;
