//! Storage through sqlx: one code path for SQLite and PostgreSQL (the `Any` driver, portable
//! SQL with `$n` placeholders), branching per dialect only where they differ.

mod auth;
mod cases;
mod clients;
mod communications;
mod dashboard;
mod events;
mod idempotency;
mod outbox;
mod seed;
mod sql;
mod tallies;
mod users;
mod views;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::FieldError;

pub use cases::{Assignee, CaseFilter, CaseSort, HistoryEntry};
pub use clients::{ClientFilter, ClientSort};
pub use communications::{CommunicationFilter, CommunicationSort};
pub use dashboard::{AgentFigures, CaseCounts, Created as CreatedRange, average_seconds};
pub use events::{LoggedEvent, Publisher, TopicEvent};
pub use idempotency::{Created, IdempotencyKey};
pub use outbox::{DueEmail, EmailKind};
pub use sql::{ListPage, SortOrder};
pub use users::{LoginRecord, UserFilter, UserSort};
pub use webhooks::{Attempt, AttemptOutcome, DueDelivery, Subscription};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// What a store operation can fail with, mapped once to HTTP in `error.rs`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("storage error: {0}")]
    Backend(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let unavailable = match &error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| is_transient(&code)),
            _ => false,
        };
        if unavailable {
            StoreError::Unavailable(error)
        } else {
            StoreError::Backend(error)
        }
    }
}

/// Database error codes meaning "not applied, the database could not do it now": a retry may
/// succeed. PostgreSQL's are five-character SQLSTATEs; SQLite's are shorter numbers (extended
/// codes keep the primary one in the low byte).
fn is_transient(code: &str) -> bool {
    if code.len() < 5
        && let Ok(sqlite) = code.parse::<i32>()
    {
        // BUSY, LOCKED, IOERR, FULL, CANTOPEN.
        return matches!(sqlite & 0xff, 5 | 6 | 10 | 13 | 14);
    }
    // Connection exceptions, too many connections / out of resources, server shutting down,
    // deadlock and serialization failures (the transaction was rolled back), and "database is
    // not accepting connections".
    code.len() == 5
        && (code.starts_with("08")
            || code.starts_with("53")
            || code.starts_with("57P")
            || matches!(code, "40P01" | "40001" | "55000"))
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// The SQL dialect behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Row locking for read-modify-write; SQLite needs none (its writes are serialised).
    /// `NO KEY UPDATE` because ids never change: it does not block inserts elsewhere whose
    /// foreign keys point at the locked row.
    fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR NO KEY UPDATE",
        }
    }

    /// Claiming outbox rows: on PostgreSQL, rows another dispatcher holds are passed over;
    /// SQLite has one writer at a time.
    fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// The database: a pool, its dialect, and for SQLite a gate that lets one writer in at a time,
/// so concurrent writers queue here instead of failing with "database is locked".
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    write_gate: Option<Arc<Mutex<()>>>,
    publisher: Option<Publisher>,
    /// Where case views go to be written in batches (`views.rs`).
    views: Option<views::ViewQueue>,
    /// Woken when a transaction wrote webhook deliveries or emails to send.
    pub outbox: Arc<OutboxWakers>,
}

/// What the notification dispatchers wait on between scans.
#[derive(Default)]
pub struct OutboxWakers {
    pub webhooks: tokio::sync::Notify,
    pub mail: tokio::sync::Notify,
}

/// A write transaction, holding the write gate (SQLite) until it commits or drops. The events
/// it appends are published only once it has committed: nothing is pushed for a rollback.
pub(crate) struct WriteTx {
    tx: Transaction<'static, sqlx::Any>,
    _gate: Option<OwnedMutexGuard<()>>,
    published: Vec<TopicEvent>,
    publisher: Option<Publisher>,
    outbox: Arc<OutboxWakers>,
    wrote_deliveries: bool,
    wrote_emails: bool,
}

impl WriteTx {
    fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        // Published while the SQLite write gate is still held, so the hub hears of a topic's
        // events in seq order (on PostgreSQL the subscriber's gap check restores the order).
        if let Some(publish) = &self.publisher
            && !self.published.is_empty()
        {
            publish(self.published);
        }
        if self.wrote_deliveries {
            self.outbox.webhooks.notify_one();
        }
        if self.wrote_emails {
            self.outbox.mail.notify_one();
        }
        Ok(())
    }
}

impl Store {
    /// Connects (creating a missing SQLite file) and applies the migrations.
    /// `acquire_timeout`: how long a request waits for a connection before the store reports
    /// itself unavailable (503).
    pub async fn connect(
        database_url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (dialect, url) = if database_url.starts_with("sqlite:") {
            (Dialect::Sqlite, sqlite_url(database_url))
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            (Dialect::Postgres, database_url.to_string())
        } else {
            return Err(StoreError::Invalid(vec![FieldError::new(
                "HELPLINE_DATABASE_URL",
                "must start with sqlite: or postgres://",
            )]));
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout);
        if dialect == Dialect::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await?;
        let migrator = match dialect {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(e.into()))?;
        let write_gate = (dialect == Dialect::Sqlite).then(|| Arc::new(Mutex::new(())));
        let mut store = Store {
            pool,
            dialect,
            write_gate,
            publisher: None,
            views: None,
            outbox: Arc::default(),
        };
        store.views = Some(views::start(store.clone()));
        Ok(store)
    }

    /// The same store, handing the events of every committed transaction to `publisher`.
    pub fn with_publisher(mut self, publisher: Publisher) -> Self {
        self.publisher = Some(publisher);
        self
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let gate = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        // IMMEDIATE takes SQLite's write lock up front, so a transaction that reads before it
        // writes can never fail to upgrade (even with another process on the same file).
        let tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _gate: gate,
            published: Vec::new(),
            publisher: self.publisher.clone(),
            outbox: self.outbox.clone(),
            wrote_deliveries: false,
            wrote_emails: false,
        })
    }
}

/// Leases claimed outbox rows of `table` until `until` (no other dispatcher takes them
/// meanwhile); returns their ids as an SQL list for the query that reads them.
async fn lease(
    tx: &mut WriteTx,
    table: &'static str,
    ids: &[(i64,)],
    until: crate::domain::time::Timestamp,
) -> Result<String, StoreError> {
    let list = ids
        .iter()
        .map(|(id,)| id.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET next_attempt_at = $1 WHERE id IN ({list})"
    )))
    .bind(until.millis())
    .execute(tx.conn())
    .await?;
    Ok(list)
}

/// `sqlite://file.db` → the same with `mode=rwc`, so a missing file is created.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// Parses a stored enum column; a value the code does not know is a backend fault.
fn parse_column<T: std::str::FromStr<Err = String>>(value: &str) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|e: String| StoreError::Backend(sqlx::Error::Decode(e.into())))
}

#[cfg(test)]
mod tests {
    use super::is_transient;

    #[test]
    fn transient_codes_are_told_apart_per_database() {
        for code in [
            "5", "517", "6", "13", "08006", "53300", "57P01", "40P01", "40001", "55000",
        ] {
            assert!(is_transient(code), "{code} is transient");
        }
        for code in ["19", "2067", "23505", "42P01", "22001"] {
            assert!(!is_transient(code), "{code} is not transient");
        }
    }
}
