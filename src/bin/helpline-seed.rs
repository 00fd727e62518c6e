//! `helpline-seed`: fills a database with demo cases and messages, to measure at scale.
//! `cargo run --release --bin helpline-seed -- --cases 1000000` (same `HELPLINE_DATABASE_URL`
//! as the server; the migrations run first).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
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
        let store = Store::connect(&args.database_url, 4, Duration::from_secs(30)).await?;
        let users = store.seed_users().await?;
        let started = Instant::now();
        store
            .seed_cases(args.cases, args.days, users.0, &users.1)
            .await?;
        Ok::<_, helpline::store::StoreError>(started.elapsed())
    });
    match result {
        Ok(took) => {
            println!("added {} cases in {:.1}s", args.cases, took.as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("seeding failed: {error}");
            ExitCode::FAILURE
        }
    }
}
