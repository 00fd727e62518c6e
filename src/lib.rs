//! Helpline: a realtime case-management and messaging server for helplines.
//! [`Application::build`] starts everything from [`Settings`]; `main` and the tests both use it.

pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod notify;
pub mod realtime;
pub mod store;
pub mod telemetry;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};

pub use config::Settings;

use crate::auth::password::Passwords;
use crate::auth::throttle::LoginThrottle;
use crate::auth::token::Tokens;
use crate::http::AppState;
use crate::http::middleware::InFlight;
use crate::http::rate_limit::{Limits, MemoryCounters, RateLimits};
use crate::notify::Notifier;
use crate::realtime::Realtime;
use crate::store::Store;

/// Why the server could not start.
pub type StartupError = Box<dyn std::error::Error + Send + Sync>;

/// A started (not yet running) server.
pub struct Application {
    port: u16,
    server: Server,
    stopper: Stopper,
}

/// Stops the server gracefully: no new connections, in-flight requests finish, then every
/// WebSocket is closed with 1001 (after the events those requests published).
#[derive(Clone)]
pub struct Stopper {
    /// Set once a stop has begun; `true` once it has finished.
    stopping: Arc<AtomicBool>,
    finished: tokio::sync::watch::Sender<bool>,
    server: ServerHandle,
    realtime: Realtime,
    in_flight: InFlight,
    notifier: Arc<Mutex<Option<Notifier>>>,
    timeout: Duration,
}

impl Stopper {
    pub async fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let server = self.server.clone();
        let stopped = actix_web::rt::spawn(async move { server.stop(true).await });
        self.in_flight.wait_idle(self.timeout).await;
        self.realtime
            .close_all_sockets(Duration::from_secs(5))
            .await;
        let notifier = self.notifier.lock().await.take();
        if let Some(notifier) = notifier {
            // The attempt in hand may finish; a stuck one is taken again after its lease.
            let _ = tokio::time::timeout(Duration::from_secs(20), notifier.stop()).await;
        }
        let _ = stopped.await;
        self.realtime.store.close().await;
        self.finished.send_replace(true);
    }
}

impl Application {
    /// Connects the store, prepares secrets and the first admin, and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        // TLS for webhooks and SMTP; a second install (another server in the process) is fine.
        // `ring` rather than aws-lc-rs keeps the build free of cmake and C++; it lacks only
        // post-quantum key exchange, hence the deprecation note.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        telemetry::metrics();
        let store = Store::connect(
            &settings.database_url,
            settings.database_max_connections,
            settings.database_timeout,
        )
        .await
        .map_err(|e| format!("HELPLINE_DATABASE_URL: cannot open the database: {e}"))?;
        let secret = match &settings.jwt_secret {
            Some(secret) => secret.clone(),
            None => store.jwt_secret_or_insert(&random_secret()).await?,
        };
        let tokens = Tokens::new(secret.as_bytes(), settings.token_ttl)?;
        let passwords = Passwords::default();
        bootstrap_admin(&store, &settings, &passwords).await?;
        let realtime = Realtime::start(store, &settings)
            .await
            .map_err(|e| format!("HELPLINE_REDIS_URL: cannot reach Redis: {e}"))?;
        let in_flight = InFlight::default();
        let notifier = Notifier::start(&realtime.store, &settings)?;

        let state = web::Data::new(AppState {
            store: realtime.store.clone(),
            realtime: realtime.clone(),
            in_flight: in_flight.clone(),
            allow_private_webhooks: settings.webhook_allow_private,
            metrics_token: settings.metrics_token.clone(),
            rate_limits: RateLimits {
                limits: Limits {
                    cases: settings.rate_limit_cases,
                    users: settings.rate_limit_users,
                    communications: settings.rate_limit_communications,
                    dashboard: settings.rate_limit_dashboard,
                    other: settings.rate_limit_other,
                },
                counters: Arc::new(MemoryCounters::default()),
            },
            tokens,
            throttle: LoginThrottle::new(
                settings.login_max_failures,
                settings.login_max_failures_per_ip,
                settings.login_window,
            ),
            passwords,
            request_hash_key: derive_key(&secret, "idempotency request hash"),
            trusted_proxies: settings.trusted_proxies.clone(),
        });
        let listener = listen(settings.bind, settings.send_buffer_bytes)
            .map_err(|e| format!("HELPLINE_BIND: cannot listen on {}: {e}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let max_body = usize::try_from(settings.max_body_bytes)?;
        let mut server = HttpServer::new(move || {
            // Answers carry children's records: no cache may keep them.
            let private = DefaultHeaders::new()
                .add((header::CACHE_CONTROL, "no-store"))
                .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
            App::new()
                .wrap(private)
                .wrap(from_fn(http::rate_limit::rate_limit))
                .wrap(from_fn(http::middleware::request_context))
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .configure(http::routes)
                .default_service(web::to(http::not_found))
        })
        .listen(listener)?
        // Signals are handled in `run_until_stopped`, which also closes the WebSockets.
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout.as_secs().max(1));
        if let Some(workers) = settings.workers {
            server = server.workers(usize::from(workers));
        }
        tracing::info!(address = %settings.bind, port, "listening");
        let server = server.run();
        let stopper = Stopper {
            stopping: Arc::default(),
            finished: tokio::sync::watch::Sender::new(false),
            server: server.handle(),
            realtime,
            in_flight,
            notifier: Arc::new(Mutex::new(Some(notifier))),
            timeout: settings.shutdown_timeout,
        };
        Ok(Application {
            port,
            server,
            stopper,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What stops the server gracefully.
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Serves until stopped, by SIGINT/SIGTERM or the [`Stopper`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stopper = self.stopper.clone();
        let signals = stopper.clone();
        actix_web::rt::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stop signal received: finishing requests, closing sockets");
            signals.stop().await;
        });
        let served = self.server.await;
        // The server stops midway through a stop: let the rest (the dispatchers' attempts in
        // hand, recording their outcomes, closing the store) finish before returning.
        if stopper.stopping.load(Ordering::SeqCst) {
            let mut finished = stopper.finished.subscribe();
            let _ = finished.wait_for(|done| *done).await;
        }
        served
    }
}

/// The listening socket; accepted connections inherit its send buffer size.
fn listen(address: std::net::SocketAddr, send_buffer: Option<u32>) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if let Some(bytes) = send_buffer {
        socket.set_send_buffer_size(usize::try_from(bytes).unwrap_or(usize::MAX))?;
    }
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn wait_for_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

/// A key for `purpose` derived from the server secret.
fn derive_key(secret: &str, purpose: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(purpose)
        .chain_update(b"\0")
        .chain_update(secret)
        .finalize()
        .into()
}

/// 32 random bytes, base64: a fresh token-signing secret.
fn random_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// On an empty database, creates the first admin; a generated password is logged once.
/// The admin settings are checked only then: they mean nothing once users exist.
async fn bootstrap_admin(
    store: &Store,
    settings: &Settings,
    passwords: &Passwords,
) -> Result<(), StartupError> {
    if store.has_users().await? {
        return Ok(());
    }
    let email = domain::input::email(&settings.admin_email.clone().into())
        .map_err(|e| format!("HELPLINE_ADMIN_EMAIL {e}"))?;
    let min = domain::user::MIN_PASSWORD_CHARS;
    let (password, generated) = match &settings.admin_password {
        Some(p) if p.chars().count() >= min => (p.clone(), false),
        Some(_) => {
            return Err(
                format!("HELPLINE_ADMIN_PASSWORD must be at least {min} characters").into(),
            );
        }
        None => (
            random_secret()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(20)
                .collect(),
            true,
        ),
    };
    let hash = passwords.hash(password.clone()).await?;
    if store.bootstrap_admin(&email, hash).await? {
        if generated {
            tracing::warn!(email = %email, password = %password, "created the first admin with a generated password; change it after logging in");
        } else {
            tracing::info!(email = %email, "created the first admin");
        }
    }
    Ok(())
}
