//! Settings: one struct, parsed once at start from `HELPLINE_*` variables or matching flags.
//! Each value is named after its variable, so a bad one is reported by that name.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything the server needs to start. Tests build it in code with [`Settings::local`].
#[derive(Debug, Clone, Parser)]
#[command(
    name = "helpline",
    version,
    about = "Realtime case management for helplines"
)]
pub struct Settings {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "HELPLINE_BIND",
        value_name = "HELPLINE_BIND",
        default_value = "127.0.0.1:8888"
    )]
    pub bind: SocketAddr,

    /// Database URL: `sqlite://FILE` (created when missing) or `postgres://…`.
    #[arg(
        long,
        env = "HELPLINE_DATABASE_URL",
        value_name = "HELPLINE_DATABASE_URL",
        default_value = "sqlite://helpline.db",
        value_parser = parse_database_url
    )]
    pub database_url: String,

    /// Most connections the database pool opens.
    #[arg(long, env = "HELPLINE_DATABASE_MAX_CONNECTIONS", value_name = "HELPLINE_DATABASE_MAX_CONNECTIONS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,

    /// How long a request waits for a database connection before answering 503.
    #[arg(long, env = "HELPLINE_DATABASE_TIMEOUT", value_name = "HELPLINE_DATABASE_TIMEOUT",
          default_value = "5s", value_parser = parse_duration)]
    pub database_timeout: Duration,

    /// Secret that signs tokens (at least 32 characters). When absent, one is generated once
    /// and kept in the database, so tokens survive a restart.
    #[arg(long, env = "HELPLINE_JWT_SECRET", value_name = "HELPLINE_JWT_SECRET", hide_env_values = true, value_parser = parse_jwt_secret)]
    pub jwt_secret: Option<String>,

    /// How long a login token lives (e.g. `12h`, `30m`).
    #[arg(long, env = "HELPLINE_TOKEN_TTL", value_name = "HELPLINE_TOKEN_TTL", default_value = "12h", value_parser = parse_token_ttl)]
    pub token_ttl: Duration,

    /// Email of the admin created on first start (empty database).
    #[arg(
        long,
        env = "HELPLINE_ADMIN_EMAIL",
        value_name = "HELPLINE_ADMIN_EMAIL",
        default_value = "admin@localhost"
    )]
    pub admin_email: String,

    /// Password of that admin; when absent one is generated and printed once to the log.
    #[arg(
        long,
        env = "HELPLINE_ADMIN_PASSWORD",
        value_name = "HELPLINE_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    pub admin_password: Option<String>,

    /// Log format: `text` or `json`. Levels come from `RUST_LOG` (default `info`).
    #[arg(
        long,
        env = "HELPLINE_LOG_FORMAT",
        value_name = "HELPLINE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "HELPLINE_MAX_BODY_BYTES", value_name = "HELPLINE_MAX_BODY_BYTES", default_value_t = 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=64 * 1024 * 1024))]
    pub max_body_bytes: u64,

    /// Failed logins allowed for one email within the window, then 429.
    #[arg(long, env = "HELPLINE_LOGIN_MAX_FAILURES", value_name = "HELPLINE_LOGIN_MAX_FAILURES", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub login_max_failures: u32,

    /// Failed logins allowed from one client IP (all emails together) within the window, then
    /// 429. Raise it when many staff share one address, e.g. a call centre behind NAT.
    #[arg(long, env = "HELPLINE_LOGIN_MAX_FAILURES_PER_IP", value_name = "HELPLINE_LOGIN_MAX_FAILURES_PER_IP",
          default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_max_failures_per_ip: u32,

    /// The window of the failed-login throttle (e.g. `15m`).
    #[arg(long, env = "HELPLINE_LOGIN_WINDOW", value_name = "HELPLINE_LOGIN_WINDOW", default_value = "15m", value_parser = parse_duration)]
    pub login_window: Duration,

    /// Addresses of reverse proxies in front of the server (comma-separated). Only for requests
    /// from these is `X-Forwarded-For` believed, to find the client's address.
    #[arg(
        long,
        env = "HELPLINE_TRUSTED_PROXIES",
        value_name = "HELPLINE_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpAddr>,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "HELPLINE_WORKERS", value_name = "HELPLINE_WORKERS", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub workers: Option<u16>,

    /// WebSockets one user may hold open at once (all tabs and devices); one more is refused
    /// with 429. `0` = unlimited.
    #[arg(
        long,
        env = "HELPLINE_WS_MAX_PER_USER",
        value_name = "HELPLINE_WS_MAX_PER_USER",
        default_value_t = 20
    )]
    pub ws_max_per_user: u32,

    /// Frames waiting for one socket before its reader counts as too slow and is closed with
    /// 1008 (it then recovers with `since`).
    #[arg(long, env = "HELPLINE_WS_QUEUE", value_name = "HELPLINE_WS_QUEUE", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(16..=1_000_000))]
    pub ws_queue: u32,

    /// Kernel send buffer of each connection, in bytes (default: the OS's, which on Linux grows
    /// to 4 MiB). Smaller bounds the memory a client that stops reading can hold, and finds
    /// slow WebSocket readers sooner.
    #[arg(long, env = "HELPLINE_SEND_BUFFER_BYTES", value_name = "HELPLINE_SEND_BUFFER_BYTES",
          value_parser = clap::value_parser!(u32).range(4096..))]
    pub send_buffer_bytes: Option<u32>,

    /// Redis, the bus between nodes (`redis://host:6379`): set it when several nodes share one
    /// PostgreSQL database. Unset, events stay in this process.
    #[arg(long, env = "HELPLINE_REDIS_URL", value_name = "HELPLINE_REDIS_URL")]
    pub redis_url: Option<String>,

    /// The Redis channel the nodes of one deployment share; give each deployment on the same
    /// Redis its own.
    #[arg(
        long,
        env = "HELPLINE_REDIS_CHANNEL",
        value_name = "HELPLINE_REDIS_CHANNEL",
        default_value = "helpline:events"
    )]
    pub redis_channel: String,

    /// Delays between webhook attempts after a failure (comma-separated); after the last one
    /// the delivery is marked failed. The default spans about three days.
    #[arg(long, env = "HELPLINE_WEBHOOK_RETRY_SCHEDULE", value_name = "HELPLINE_WEBHOOK_RETRY_SCHEDULE",
          default_value = DEFAULT_RETRY_SCHEDULE, value_parser = parse_schedule)]
    pub webhook_retry_schedule: RetrySchedule,

    /// How long a webhook receiver has to answer.
    #[arg(long, env = "HELPLINE_WEBHOOK_TIMEOUT", value_name = "HELPLINE_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_webhook_timeout)]
    pub webhook_timeout: Duration,

    /// Webhook attempts in flight at once (each subscription takes at most a quarter of them).
    #[arg(long, env = "HELPLINE_WEBHOOK_CONCURRENCY", value_name = "HELPLINE_WEBHOOK_CONCURRENCY", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub webhook_concurrency: u32,

    /// Allow webhook URLs that resolve to loopback, private or link-local addresses (refused
    /// by default: a webhook must not reach into the server's own network).
    #[arg(long, env = "HELPLINE_WEBHOOK_ALLOW_PRIVATE", value_name = "HELPLINE_WEBHOOK_ALLOW_PRIVATE",
          default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,

    /// SMTP server for email: `smtp://user:pass@host:587?tls=required` (STARTTLS),
    /// `smtps://…:465`, or `smtp://host:25` (plain). Unset, email is off.
    #[arg(long, env = "HELPLINE_SMTP_URL", value_name = "HELPLINE_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// The sender of every email.
    #[arg(
        long,
        env = "HELPLINE_MAIL_FROM",
        value_name = "HELPLINE_MAIL_FROM",
        default_value = "Helpline <helpline@localhost>"
    )]
    pub mail_from: String,

    /// Delays between email attempts after a failure; after the last one the email is failed.
    #[arg(long, env = "HELPLINE_MAIL_RETRY_SCHEDULE", value_name = "HELPLINE_MAIL_RETRY_SCHEDULE",
          default_value = DEFAULT_RETRY_SCHEDULE, value_parser = parse_schedule)]
    pub mail_retry_schedule: RetrySchedule,

    /// Where people open the app (`https://helpline.example.org`): emails link to the case.
    #[arg(long, env = "HELPLINE_PUBLIC_URL", value_name = "HELPLINE_PUBLIC_URL",
          value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Requests per user (per client address before login) and hour to `/cases*`; `0` = no limit.
    #[arg(
        long,
        env = "HELPLINE_RATE_LIMIT_CASES",
        value_name = "HELPLINE_RATE_LIMIT_CASES",
        default_value_t = 1000
    )]
    pub rate_limit_cases: u32,

    /// Requests per user and hour to `/users*`; `0` = no limit.
    #[arg(
        long,
        env = "HELPLINE_RATE_LIMIT_USERS",
        value_name = "HELPLINE_RATE_LIMIT_USERS",
        default_value_t = 500
    )]
    pub rate_limit_users: u32,

    /// Requests per user and hour to `/communications*`; `0` = no limit.
    #[arg(
        long,
        env = "HELPLINE_RATE_LIMIT_COMMUNICATIONS",
        value_name = "HELPLINE_RATE_LIMIT_COMMUNICATIONS",
        default_value_t = 2000
    )]
    pub rate_limit_communications: u32,

    /// Requests per user and hour to `/dashboard*`; `0` = no limit.
    #[arg(
        long,
        env = "HELPLINE_RATE_LIMIT_DASHBOARD",
        value_name = "HELPLINE_RATE_LIMIT_DASHBOARD",
        default_value_t = 500
    )]
    pub rate_limit_dashboard: u32,

    /// Requests per user and hour to everything else under `/api/v1`; `0` = no limit.
    #[arg(
        long,
        env = "HELPLINE_RATE_LIMIT_OTHER",
        value_name = "HELPLINE_RATE_LIMIT_OTHER",
        default_value_t = 1000
    )]
    pub rate_limit_other: u32,

    /// A static bearer token that lets a Prometheus scraper read `/metrics` (at least 16
    /// characters); admins' own tokens work too.
    #[arg(long, env = "HELPLINE_METRICS_TOKEN", value_name = "HELPLINE_METRICS_TOKEN", value_parser = parse_metrics_token)]
    pub metrics_token: Option<String>,

    /// How often the server pings a socket.
    #[arg(long, env = "HELPLINE_WS_PING_INTERVAL", value_name = "HELPLINE_WS_PING_INTERVAL", default_value = "15s", value_parser = parse_duration)]
    pub ws_ping_interval: Duration,

    /// A socket that sends nothing (not even a pong) for this long is closed.
    #[arg(long, env = "HELPLINE_WS_TIMEOUT", value_name = "HELPLINE_WS_TIMEOUT", default_value = "45s", value_parser = parse_duration)]
    pub ws_timeout: Duration,

    /// How long a user with no socket left stays shown before going `offline`, so that a page
    /// reload does not flicker.
    #[arg(long, env = "HELPLINE_PRESENCE_GRACE", value_name = "HELPLINE_PRESENCE_GRACE", default_value = "5s", value_parser = parse_duration)]
    pub presence_grace: Duration,

    /// On SIGTERM/SIGINT, how long in-flight requests may take before the server stops anyway.
    #[arg(long, env = "HELPLINE_SHUTDOWN_TIMEOUT", value_name = "HELPLINE_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
}

impl Settings {
    /// Defaults for a given database, with no environment read: what tests start from.
    pub fn local(database_url: impl Into<String>) -> Self {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            database_max_connections: 5,
            database_timeout: Duration::from_secs(5),
            jwt_secret: None,
            token_ttl: Duration::from_secs(12 * 3600),
            admin_email: "admin@localhost".into(),
            admin_password: None,
            log_format: LogFormat::Text,
            max_body_bytes: 1024 * 1024,
            login_max_failures: 10,
            login_max_failures_per_ip: 10,
            login_window: Duration::from_secs(15 * 60),
            trusted_proxies: Vec::new(),
            workers: Some(2),
            ws_max_per_user: 20,
            ws_queue: 512,
            send_buffer_bytes: None,
            redis_url: None,
            metrics_token: None,
            // Tests exercise limits on purpose only.
            rate_limit_cases: 0,
            rate_limit_users: 0,
            rate_limit_communications: 0,
            rate_limit_dashboard: 0,
            rate_limit_other: 0,
            webhook_retry_schedule: parse_schedule(DEFAULT_RETRY_SCHEDULE).unwrap_or_default(),
            webhook_timeout: Duration::from_secs(10),
            webhook_concurrency: 16,
            webhook_allow_private: false,
            smtp_url: None,
            mail_from: "Helpline <helpline@localhost>".into(),
            mail_retry_schedule: parse_schedule(DEFAULT_RETRY_SCHEDULE).unwrap_or_default(),
            public_url: None,
            redis_channel: "helpline:events".into(),
            ws_ping_interval: Duration::from_secs(15),
            ws_timeout: Duration::from_secs(45),
            presence_grace: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Longest token lifetime accepted: a stolen token must not live for months.
const MAX_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

fn parse_token_ttl(value: &str) -> Result<Duration, String> {
    let ttl = parse_duration(value)?;
    if ttl > MAX_TOKEN_TTL {
        return Err("must be at most 30 days".into());
    }
    Ok(ttl)
}

fn parse_duration(value: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(value)
        .map_err(|e| format!("{e} (expected e.g. `12h`, `30m`, `90s`)"))?;
    if duration.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(duration)
}

/// Retries after 5 s, 30 s, 2 min, 10 min, 1 h, then every 6 h: about three days in all.
const DEFAULT_RETRY_SCHEDULE: &str = "5s,30s,2m,10m,1h,6h,6h,6h,6h,6h,6h,6h,6h,6h,6h,6h,6h";

/// Delays between attempts: the n-th failure waits the n-th delay; after the last, give up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl RetrySchedule {
    /// The wait after the `failures`-th failure, or `None` when no attempt is left.
    pub fn delay_after(&self, failures: i64) -> Option<Duration> {
        let index = usize::try_from(failures.checked_sub(1)?).ok()?;
        self.0.get(index).copied()
    }
}

fn parse_schedule(value: &str) -> Result<RetrySchedule, String> {
    value
        .split(',')
        .map(|part| parse_duration(part.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map(RetrySchedule)
}

fn parse_database_url(value: &str) -> Result<String, String> {
    let supported = ["sqlite:", "postgres://", "postgresql://"];
    if supported.iter().any(|scheme| value.starts_with(scheme)) {
        Ok(value.to_string())
    } else {
        Err("must start with sqlite:// or postgres://".into())
    }
}

/// An `http(s)://host[/path]` address: emails build their links on it.
fn parse_public_url(value: &str) -> Result<String, String> {
    match reqwest::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(value.to_string())
        }
        _ => {
            Err("must be an http:// or https:// address, like https://helpline.example.org".into())
        }
    }
}

/// At most a minute: an attempt must end well within its two-minute lease.
fn parse_webhook_timeout(value: &str) -> Result<Duration, String> {
    let timeout = parse_duration(value)?;
    if timeout > Duration::from_secs(60) {
        return Err("must be at most 60s".into());
    }
    Ok(timeout)
}

fn parse_metrics_token(value: &str) -> Result<String, String> {
    if value.len() < 16 {
        return Err("must be at least 16 characters".into());
    }
    Ok(value.to_string())
}

fn parse_jwt_secret(value: &str) -> Result<String, String> {
    if value.len() < 32 {
        return Err("must be at least 32 characters".into());
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_url_must_be_a_web_address() {
        assert!(parse_public_url("https://helpline.example.org").is_ok());
        assert!(parse_public_url("http://10.0.0.5:8888/app/").is_ok());
        for bad in ["helpline.example.org", "ftp://example.org", "https://", ""] {
            assert!(parse_public_url(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn durations_accept_units_and_refuse_zero_or_garbage() {
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43200)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn a_retry_schedule_gives_one_delay_per_failure_then_none() {
        let schedule = parse_schedule("1s, 2s,5s").expect("valid");
        assert_eq!(schedule.delay_after(1), Some(Duration::from_secs(1)));
        assert_eq!(schedule.delay_after(3), Some(Duration::from_secs(5)));
        assert_eq!(schedule.delay_after(4), None);
        assert!(parse_schedule("1s,,2s").is_err());
        let default = parse_schedule(DEFAULT_RETRY_SCHEDULE).expect("valid");
        let total: Duration = default.0.iter().sum();
        assert!(
            total >= Duration::from_secs(72 * 3600),
            "about three days: {total:?}"
        );
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        assert!(parse_jwt_secret("short").is_err());
        assert!(parse_jwt_secret(&"x".repeat(32)).is_ok());
    }
}
