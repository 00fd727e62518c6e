//! Reference servers, the ceilings Helpline is compared with: `hello` (actix-web answering the
//! same routes with constant JSON: the HTTP ceiling), `sqlite` (the same routes doing one sqlx
//! SQLite row read or insert per request: the storage ceiling) and `relay` (a tokio WebSocket
//! broadcast relay with batched writes and 4 KiB buffers: the WebSocket ceiling).

pub mod http;
pub mod relay;

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Which reference server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Reference {
    /// actix-web, constant JSON answers.
    Hello,
    /// actix-web + sqlx SQLite: one row read per GET, one row insert per POST.
    Sqlite,
    /// tokio + tungstenite broadcast relay (WebSocket and a minimal HTTP/1.1).
    Relay,
}

#[derive(Debug, Clone, Args)]
pub struct ServeOptions {
    /// Which reference server.
    #[arg(value_enum)]
    pub reference: Reference,
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 9000)]
    pub port: u16,
    /// Worker threads (Helpline's default: one per core).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// SQLite file for `sqlite` (default: a fresh temporary file).
    #[arg(long)]
    pub db: Option<PathBuf>,
}

/// Runs the chosen reference server until killed.
pub fn serve(options: &ServeOptions) -> Result<(), crate::Error> {
    match options.reference {
        Reference::Hello | Reference::Sqlite => http::serve(options),
        Reference::Relay => relay::serve(options),
    }
}
