//! `helpline-seed`: fills a database with demo cases and messages, to measure at scale.
//! `cargo run --release --bin helpline-seed -- --cases 1000000` (same `HELPLINE_DATABASE_URL`
//! as the server, which must have started once to create the admin, and be stopped while this
//! runs: the seeds bypass the server's bookkeeping, which is rebuilt at the end). Defaults
//! give 200 agents and five messages per case: 1,000,000 cases come with 5,000,000 messages.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use helpline::auth::password::Passwords;
use helpline::store::Store;

#[derive(Parser)]
#[command(about = "Fill a Helpline database with demo cases and messages")]
struct Args {
    /// The database, as for the server.
    #[arg(
        long,
        env = "HELPLINE_DATABASE_URL",
        default_value = "sqlite://helpline.db"
    )]
    database_url: String,
    /// How many cases to add.
    #[arg(long, default_value_t = 100_000)]
    cases: usize,
    /// Spread their creation over this many past days.
    #[arg(long, default_value_t = 365)]
    days: i64,
    /// Messages on each case, alternating inbound and outbound.
    #[arg(long, default_value_t = 5)]
    messages_per_case: usize,
    /// Seeded agents (`seed-agent-{n}@example.org`) to have; cases are assigned to every
    /// active agent.
    #[arg(long, default_value_t = 200)]
    agents: usize,
    /// The seeded agents' password.
    #[arg(long, default_value = "seeded-agent-password")]
    agent_password: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let store = Store::connect(&args.database_url, 4, Duration::from_secs(30))
            .await
            .map_err(|error| error.to_string())?;
        let started = Instant::now();
        let hash = Passwords::default()
            .hash(args.agent_password.clone())
            .await
            .map_err(|error| error.to_string())?;
        store
            .seed_agents(args.agents, &hash)
            .await
            .map_err(|error| error.to_string())?;
        let (author, agents) = store
            .seed_users()
            .await
            .map_err(|error| error.to_string())?;
        store
            .seed_cases(
                args.cases,
                args.days,
                args.messages_per_case,
                author,
                &agents,
            )
            .await
            .map_err(|error| error.to_string())?;
        Ok::<_, String>(started.elapsed())
    });
    match result {
        Ok(took) => {
            println!(
                "added {} cases with {} messages each in {:.1}s",
                args.cases,
                args.messages_per_case,
                took.as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("seeding failed: {error}");
            ExitCode::FAILURE
        }
    }
}
