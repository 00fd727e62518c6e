//! The HTTP references: actix-web answering the routes the scenarios use, with the same JSON
//! envelope as Helpline. `hello` answers constants; `sqlite` reads one row per GET and inserts
//! one row per POST, on a pool and SQLite settings like Helpline's (WAL, `synchronous = FULL`,
//! 10 connections, one writer at a time). No authentication, no audit trail, no events: that
//! is what Helpline's figure pays for on top.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use super::{Reference, ServeOptions};

/// Pool size, as Helpline's default `HELPLINE_DATABASE_MAX_CONNECTIONS`.
const POOL: u32 = 10;
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS cases (id INTEGER PRIMARY KEY, title TEXT NOT NULL, \
    narrative TEXT, type TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open', priority TEXT NOT NULL, \
    channel TEXT, assigned_to INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, \
    version INTEGER NOT NULL DEFAULT 1); \
    CREATE INDEX IF NOT EXISTS cases_status ON cases (status, priority, created_at); \
    CREATE TABLE IF NOT EXISTS communications (id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, \
    direction TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL);";

struct State {
    pool: Option<SqlitePool>,
    /// One writer at a time, as Helpline's store does for SQLite: writers queue here instead
    /// of spinning on SQLITE_BUSY.
    write_gate: tokio::sync::Mutex<()>,
    next_id: AtomicI64,
}

#[derive(Serialize, sqlx::FromRow)]
struct Case {
    id: i64,
    title: String,
    narrative: Option<String>,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    kind: String,
    status: String,
    priority: String,
    channel: Option<String>,
    assigned_to: Option<i64>,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

#[derive(Deserialize)]
struct NewCase {
    title: String,
    narrative: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    priority: Option<String>,
    channel: Option<String>,
    assigned_to: Option<i64>,
}

#[derive(Deserialize)]
struct NewMessage {
    case_id: i64,
    direction: String,
    body: String,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn envelope(code: u16, data: Value) -> HttpResponse {
    let body = json!({ "status": "success", "data": data, "message": "ok", "timestamp": now() });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default()).json(body)
}

fn failure(code: u16, message: &str) -> HttpResponse {
    let body = json!({ "status": "error", "message": message, "code": code, "timestamp": now() });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap_or_default()).json(body)
}

fn constant_case(id: i64) -> Case {
    Case {
        id,
        title: "Load test case".into(),
        narrative: Some(
            "A caller describes a situation that needs follow-up by a counsellor.".into(),
        ),
        kind: "counselling".into(),
        status: "open".into(),
        priority: "high".into(),
        channel: Some("call".into()),
        assigned_to: None,
        created_at: now(),
        updated_at: now(),
        version: 1,
    }
}

/// POST /auth/login, /users, /clients: a token and a fresh id.
async fn anything_created(state: web::Data<State>) -> HttpResponse {
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    envelope(
        201,
        json!({ "id": id, "token": "reference-token", "token_type": "Bearer" }),
    )
}

/// GET /auth/me and the dashboard: constants.
async fn constant() -> HttpResponse {
    envelope(200, json!({ "id": 1, "total_cases": 0, "open_cases": 0 }))
}

/// POST /cases
async fn create_case(state: web::Data<State>, body: web::Json<NewCase>) -> HttpResponse {
    let Some(pool) = &state.pool else {
        return envelope(
            201,
            json!(constant_case(state.next_id.fetch_add(1, Ordering::Relaxed))),
        );
    };
    let _writer = state.write_gate.lock().await;
    let at = now();
    let row = sqlx::query_as::<_, Case>(
        "INSERT INTO cases (title, narrative, type, priority, channel, assigned_to, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
    )
    .bind(&body.title)
    .bind(&body.narrative)
    .bind(&body.kind)
    .bind(body.priority.as_deref().unwrap_or("medium"))
    .bind(&body.channel)
    .bind(body.assigned_to)
    .bind(at)
    .bind(at)
    .fetch_one(pool)
    .await;
    match row {
        Ok(case) => envelope(201, json!(case)),
        Err(_) => failure(503, "storage unavailable"),
    }
}

/// GET /cases/{id}
async fn read_case(state: web::Data<State>, id: web::Path<i64>) -> HttpResponse {
    let Some(pool) = &state.pool else {
        return envelope(200, json!(constant_case(*id)));
    };
    let row = sqlx::query_as::<_, Case>("SELECT * FROM cases WHERE id = ?")
        .bind(*id)
        .fetch_optional(pool)
        .await;
    match row {
        Ok(Some(case)) => envelope(200, json!(case)),
        Ok(None) => failure(404, "Case not found"),
        Err(_) => failure(503, "storage unavailable"),
    }
}

/// GET /cases?status=…&priority=…&limit=…: one indexed query.
async fn list_cases(
    state: web::Data<State>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let limit = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20i64);
    let Some(pool) = &state.pool else {
        let cases: Vec<Case> = (1..=limit).map(constant_case).collect();
        return envelope(200, json!(cases));
    };
    let split = |name: &str| -> Vec<String> {
        query
            .get(name)
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    };
    let (statuses, priorities) = (split("status"), split("priority"));
    let marks = |n: usize| vec!["?"; n.max(1)].join(",");
    let sql = format!(
        "SELECT * FROM cases WHERE status IN ({}) AND priority IN ({}) ORDER BY created_at DESC LIMIT ?",
        marks(statuses.len()),
        marks(priorities.len())
    );
    let mut select = sqlx::query_as::<_, Case>(sqlx::AssertSqlSafe(sql));
    for value in statuses.iter().chain(priorities.iter()) {
        select = select.bind(value.clone());
    }
    match select.bind(limit).fetch_all(pool).await {
        Ok(cases) => envelope(200, json!(cases)),
        Err(_) => failure(503, "storage unavailable"),
    }
}

/// PUT /cases/{id}: one row update.
async fn update_case(
    state: web::Data<State>,
    id: web::Path<i64>,
    body: web::Json<Value>,
) -> HttpResponse {
    let Some(pool) = &state.pool else {
        return envelope(200, json!(constant_case(*id)));
    };
    let _writer = state.write_gate.lock().await;
    let priority = body["priority"].as_str().unwrap_or("medium").to_string();
    let row = sqlx::query_as::<_, Case>(
        "UPDATE cases SET priority = ?, updated_at = ?, version = version + 1 WHERE id = ? RETURNING *",
    )
    .bind(priority)
    .bind(now())
    .bind(*id)
    .fetch_optional(pool)
    .await;
    match row {
        Ok(Some(case)) => envelope(200, json!(case)),
        Ok(None) => failure(404, "Case not found"),
        Err(_) => failure(503, "storage unavailable"),
    }
}

/// POST /communications
async fn create_message(state: web::Data<State>, body: web::Json<NewMessage>) -> HttpResponse {
    let at = now();
    let Some(pool) = &state.pool else {
        let id = state.next_id.fetch_add(1, Ordering::Relaxed);
        return envelope(
            201,
            json!({ "id": id, "case_id": body.case_id, "direction": body.direction, "body": body.body, "created_at": at }),
        );
    };
    let _writer = state.write_gate.lock().await;
    let row: Result<(i64,), _> = sqlx::query_as(
        "INSERT INTO communications (case_id, direction, body, created_at) VALUES (?, ?, ?, ?) RETURNING id",
    )
    .bind(body.case_id)
    .bind(&body.direction)
    .bind(&body.body)
    .bind(at)
    .fetch_one(pool)
    .await;
    match row {
        Ok((id,)) => envelope(
            201,
            json!({ "id": id, "case_id": body.case_id, "direction": body.direction, "body": body.body, "created_at": at }),
        ),
        Err(_) => failure(503, "storage unavailable"),
    }
}

async fn open_pool(
    options: &ServeOptions,
) -> Result<(SqlitePool, Option<tempfile::TempDir>), crate::Error> {
    let (path, dir) = match &options.db {
        Some(path) => (path.clone(), None),
        None => {
            let dir = tempfile::tempdir()?;
            (dir.path().join("reference.db"), Some(dir))
        }
    };
    let connect = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(POOL)
        .connect_with(connect)
        .await?;
    sqlx::raw_sql(SCHEMA).execute(&pool).await?;
    Ok((pool, dir))
}

/// Runs `hello` or `sqlite` until killed.
pub fn serve(options: &ServeOptions) -> Result<(), crate::Error> {
    actix_web::rt::System::new().block_on(async {
        let (pool, _dir) = if options.reference == Reference::Sqlite {
            let (pool, dir) = open_pool(options).await?;
            (Some(pool), dir)
        } else {
            (None, None)
        };
        let state = web::Data::new(State {
            pool,
            write_gate: tokio::sync::Mutex::new(()),
            next_id: AtomicI64::new(1),
        });
        eprintln!(
            "reference {:?} listening on 127.0.0.1:{}",
            options.reference, options.port
        );
        HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .service(
                    web::scope("/api/v1")
                        .route("/auth/login", web::post().to(anything_created))
                        .route("/auth/me", web::get().to(constant))
                        .route("/users", web::post().to(anything_created))
                        .route("/clients", web::post().to(anything_created))
                        .route("/cases", web::post().to(create_case))
                        .route("/cases", web::get().to(list_cases))
                        .route("/cases/{id}", web::get().to(read_case))
                        .route("/cases/{id}", web::put().to(update_case))
                        .route("/communications", web::post().to(create_message))
                        .route("/dashboard/{name}", web::get().to(constant))
                        .route("/health", web::get().to(constant)),
                )
                .route("/health", web::get().to(constant))
        })
        .workers(options.workers)
        .bind(("127.0.0.1", options.port))?
        .run()
        .await?;
        Ok(())
    })
}
