//! Black-box tests: real HTTP against a server started per test, on a fresh database.

mod auth_users;
mod cases;
mod clients_envelope;
mod helpers;
mod storage;
