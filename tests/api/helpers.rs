//! Starts a real server per test, on a fresh database: a temporary SQLite file, or a fresh
//! PostgreSQL database when `HELPLINE_TEST_DATABASE_URL` is set. `TestApp` has one helper per
//! kind of request; every helper returns the status, headers and parsed JSON body.

use helpline::{Application, Settings, Stopper};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sqlx::Connection;

pub const ADMIN_EMAIL: &str = "admin@localhost";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// Asserts the error envelope: `status` "error", `code` equal to the HTTP status, a message and
/// a timestamp.
pub fn assert_error(resp: &Resp, status: u16, what: &str) {
    assert_eq!(resp.status, status, "{what}: {}", resp.body);
    assert_eq!(resp.body["status"], "error", "{what}: {}", resp.body);
    assert_eq!(resp.body["code"], status, "{what}: {}", resp.body);
    assert!(
        resp.body["message"]
            .as_str()
            .is_some_and(|m| !m.trim().is_empty()),
        "{what}: no message in {}",
        resp.body
    );
    assert!(
        resp.body["timestamp"].is_string(),
        "{what}: no timestamp in {}",
        resp.body
    );
}

/// A 400 whose `errors` name `field`.
pub fn assert_invalid(resp: &Resp, field: &str, what: &str) {
    assert_error(resp, 400, what);
    assert!(
        resp.error_fields().iter().any(|f| f == field),
        "{what}: expected an error on {field:?}, got {}",
        resp.body
    );
}

/// `pagination` as (page, limit, total, pages).
pub fn pagination(resp: &Resp) -> (i64, i64, i64, i64) {
    let p = &resp.body["pagination"];
    let n = |name: &str| {
        p[name]
            .as_i64()
            .unwrap_or_else(|| panic!("pagination.{name} missing in {}", resp.body))
    };
    (n("page"), n("limit"), n("total"), n("pages"))
}

/// A port nothing listens on right now, for another process to bind.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("reserve a port");
    listener.local_addr().expect("address").port()
}

/// A port held by this test, bound but not listening: connections to it are refused (a
/// receiver that is down), and nothing else can take it before [`ReservedPort::listen`] turns
/// it into the receiver's listener (a receiver coming back).
pub struct ReservedPort {
    socket: socket2::Socket,
    pub port: u16,
}

impl ReservedPort {
    pub fn new() -> ReservedPort {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        socket.bind(&address.into()).expect("bind a port");
        let port = socket
            .local_addr()
            .expect("address")
            .as_socket()
            .expect("an IP address")
            .port();
        ReservedPort { socket, port }
    }

    /// Starts listening on the port.
    pub fn listen(self) -> std::net::TcpListener {
        self.socket.listen(128).expect("listen");
        self.socket.set_nonblocking(true).expect("non-blocking");
        self.socket.into()
    }
}

/// A database made for one test and dropped after it.
pub enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { server_url: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { server_url, name } = self {
            let (server_url, name) = (server_url.clone(), name.clone());
            // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime
                    .block_on(async {
                        let mut conn = sqlx::PgConnection::connect(&server_url).await?;
                        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await?;
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                    })
                    .map_err(|e| std::io::Error::other(e.to_string()))
            })
            .join();
        }
    }
}

/// A fresh, empty database: its guard (drop it to delete the database) and its URL.
pub async fn fresh_database() -> (TestDb, String) {
    match std::env::var("HELPLINE_TEST_DATABASE_URL") {
        Ok(server_url) if !server_url.is_empty() => {
            let name = format!("helpline_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&server_url)
                .await
                .expect("connect to PostgreSQL");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let base = server_url
                .rsplit_once('/')
                .map(|(base, _)| base)
                .unwrap_or(&server_url);
            let url = format!("{base}/{name}");
            (TestDb::Postgres { server_url, name }, url)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("helpline.db").display());
            (TestDb::Sqlite(dir), url)
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    /// `body.data`.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// `body.data.id` as a number.
    pub fn id(&self) -> i64 {
        self.body["data"]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no data.id in {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `field`s named in `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The ids of a successful list answer, in the order given.
pub fn ids(resp: &Resp) -> Vec<i64> {
    assert_eq!(resp.status, 200, "list failed: {}", resp.body);
    resp.data()
        .as_array()
        .unwrap_or_else(|| panic!("data is not a list: {}", resp.body))
        .iter()
        .map(|item| {
            item["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("item without id: {item}"))
        })
        .collect()
}

/// A user created by a test, logged in.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub email: String,
    pub password: String,
    pub token: String,
}

pub struct TestApp {
    pub address: String,
    pub settings: Settings,
    pub client: reqwest::Client,
    pub admin: TestUser,
    stopper: Stopper,
    _db: TestDb,
}

/// A server on a fresh database with test defaults.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Server logs go to the test output when `TEST_LOG` is set (`TEST_LOG=1 cargo test … -- --nocapture`).
static TRACING: std::sync::LazyLock<()> = std::sync::LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        helpline::telemetry::init(helpline::config::LogFormat::Text);
    }
});

/// A server on a fresh database, with `configure` applied to the test defaults.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    std::sync::LazyLock::force(&TRACING);
    let (db, url) = fresh_database().await;
    let mut settings = Settings::local(url);
    settings.admin_email = ADMIN_EMAIL.into();
    settings.admin_password = Some(ADMIN_PASSWORD.into());
    configure(&mut settings);
    let (address, stopper) = start(settings.clone()).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let placeholder = TestUser {
        id: 1,
        email: ADMIN_EMAIL.into(),
        password: ADMIN_PASSWORD.into(),
        token: String::new(),
    };
    let mut app = TestApp {
        address,
        settings,
        client,
        admin: placeholder,
        stopper,
        _db: db,
    };
    let login = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(login.status, 200, "admin login failed: {}", login.body);
    app.admin.id = login.data()["user"]["id"].as_i64().expect("admin id");
    app.admin.token = login.data()["token"].as_str().expect("token").to_string();
    app
}

async fn start(settings: Settings) -> (String, Stopper) {
    let app = Application::build(settings).await.expect("server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let stopper = app.stopper();
    actix_web::rt::spawn(app.run_until_stopped());
    (address, stopper)
}

impl TestApp {
    /// The PostgreSQL server URL and this test's database name, when the test runs on PostgreSQL.
    pub fn postgres_database(&self) -> Option<(String, String)> {
        match &self._db {
            TestDb::Postgres { server_url, name } => Some((server_url.clone(), name.clone())),
            TestDb::Sqlite(_) => None,
        }
    }

    /// Stops the server gracefully, as on SIGTERM.
    pub async fn stop(&self) {
        self.stopper.stop().await;
    }

    /// Starts another node on the same database and settings: its address and its stopper.
    pub async fn start_node(&self) -> (String, Stopper) {
        let mut settings = self.settings.clone();
        settings.bind.set_port(0);
        start(settings).await
    }

    /// Stops the server gracefully and starts a new one on the same database and settings.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut settings = self.settings.clone();
        settings.bind.set_port(0);
        let (address, stopper) = start(settings).await;
        self.address = address;
        self.stopper = stopper;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Any request with an optional token and JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        read(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.request(Method::POST, path, Some(token), Some(&body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.request(Method::PUT, path, Some(token), Some(&body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// POST with an `Idempotency-Key`.
    pub async fn post_with_key(&self, path: &str, token: &str, key: &str, body: Value) -> Resp {
        let request = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&body);
        read(request.send().await.expect("request sent")).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"email": email, "password": password})),
        )
        .await
    }

    /// Creates a user with `role` (as the admin) and logs them in.
    pub async fn create_user(&self, role: &str) -> TestUser {
        let email = format!("{role}-{}@example.org", uuid::Uuid::new_v4().simple());
        let password = "correct-horse-1".to_string();
        let created = self
            .post(
                "/api/v1/users",
                &self.admin.token,
                json!({"name": format!("Test {role}"), "email": email, "role": role, "password": password}),
            )
            .await;
        assert_eq!(created.status, 201, "create {role}: {}", created.body);
        let login = self.login(&email, &password).await;
        assert_eq!(login.status, 200, "login {role}: {}", login.body);
        TestUser {
            id: created.id(),
            email,
            password,
            token: login.data()["token"].as_str().expect("token").to_string(),
        }
    }

    /// Creates a case as `token` from `body` merged over a valid minimum.
    pub async fn create_case(&self, token: &str, body: Value) -> Resp {
        let mut full = json!({"title": "Caller worried about a child", "type": "abuse"});
        if let (Some(full), Some(extra)) = (full.as_object_mut(), body.as_object()) {
            full.extend(extra.clone());
        }
        let created = self.post("/api/v1/cases", token, full).await;
        assert_eq!(created.status, 201, "create case: {}", created.body);
        created
    }
}

/// Reads a response whole; a body that is not JSON is kept as a string for the assertion.
pub async fn read(response: reqwest::Response) -> Resp {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Resp {
        status,
        headers,
        body,
    }
}

impl TestApp {
    /// The events published on `topic`, as (seq, event type), read straight from the database.
    pub async fn topic_events(&self, topic: &str) -> Vec<(i64, String)> {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.settings.database_url)
            .await
            .expect("connect to test database");
        sqlx::query_as(
            "SELECT t.seq, e.type FROM topic_events t JOIN events e ON e.id = t.event_id \
             WHERE t.topic = $1 ORDER BY t.seq",
        )
        .bind(topic)
        .fetch_all(&mut conn)
        .await
        .expect("read topic events")
    }
}
