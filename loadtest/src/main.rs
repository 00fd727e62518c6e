//! `loadtest`: drives a running Helpline (or a reference server of this crate) with bounded
//! scenarios and prints a table (or `--json`); serves the reference servers; and `compare` runs
//! Helpline and the references side by side in one run. See BENCHMARKS.md.

mod api;
mod compare;
mod ratios;
mod reference;
mod report;
mod scenarios;
mod server;
mod sockets;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use scenarios::fanout::FanoutOptions;
use scenarios::idle::IdleOptions;
use scenarios::rest::RestOptions;
use scenarios::surge::SurgeOptions;

/// Errors of the load generator: reported, then exit 1.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What kind of server a scenario runs against (for the report's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Helpline,
    Hello,
    Sqlite,
    Relay,
}

#[derive(Parser)]
#[command(
    name = "loadtest",
    about = "Load generator and reference servers for Helpline"
)]
struct Cli {
    /// Print results as JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// GET /cases/{id}, a filtered GET /cases and GET /dashboard/stats, N concurrent clients.
    RestRead(RestOptions),
    /// POST /cases and POST /communications (optionally with subscribed sockets).
    RestWrite(RestOptions),
    /// S sockets on one case topic; messages posted at a fixed rate or flat out.
    Fanout(FanoutOptions),
    /// N authenticated sockets held open; server RSS per socket.
    Idle(IdleOptions),
    /// A mixed helpline day compressed.
    Surge(SurgeOptions),
    /// Run a reference server until killed.
    Serve(reference::ServeOptions),
    /// Start the references and a Helpline binary, run the scenarios on each, print ratios.
    Compare(compare::CompareOptions),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // In the workspace, reqwest is built with the server's `rustls-no-provider` feature, so a
    // client needs a crypto provider even for plain HTTP: the same `ring` as the server's.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = match &cli.command {
        Command::Serve(options) => reference::serve(options),
        command => run(command, cli.json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("loadtest: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: &Command, json: bool) -> Result<(), Error> {
    let limit = server::raise_nofile_limit();
    if limit < 4096 {
        eprintln!("warning: only {limit} open files allowed");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let report = match command {
            Command::RestRead(options) => scenarios::rest::read(options).await?,
            Command::RestWrite(options) => scenarios::rest::write(options).await?,
            Command::Fanout(options) => scenarios::fanout::run(options).await?,
            Command::Idle(options) => scenarios::idle::run(options).await?,
            Command::Surge(options) => scenarios::surge::run(options).await?,
            Command::Compare(options) => return compare::run(options, json).await,
            Command::Serve(_) => return Ok(()),
        };
        report::print(&[report], json);
        Ok(())
    })
}
