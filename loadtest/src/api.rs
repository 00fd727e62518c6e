//! The REST side of a server under test: log in, create users, cases and messages, and turn an
//! answer into a status (a 2xx code, another code, or an error kind). Reference servers answer
//! the same routes, so one client drives both.

use std::time::Duration;

use serde_json::{Value, json};

use crate::Error;

/// A server's base URL (`http://127.0.0.1:8888`) and a logged-in token.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

/// The outcome of one request: its status code, or a transport error kind.
pub type Outcome = Result<u16, &'static str>;

/// A pooled HTTP client, one connection per concurrent caller kept alive.
pub fn http_client(pool: usize) -> Result<reqwest::Client, Error> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(pool.max(1))
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()?)
}

/// Classifies a transport error.
fn kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else {
        "io"
    }
}

impl Api {
    /// Logs in with email and password.
    pub async fn login(base: &str, email: &str, password: &str, pool: usize) -> Result<Api, Error> {
        let http = http_client(pool)?;
        let body: Value = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = body["data"]["token"]
            .as_str()
            .ok_or("login answered without data.token")?
            .to_string();
        Ok(Api {
            base: base.to_string(),
            token,
            http,
        })
    }

    /// The same identity with another connection pool (for many concurrent callers).
    pub fn with_pool(&self, pool: usize) -> Result<Api, Error> {
        Ok(Api {
            http: http_client(pool)?,
            ..self.clone()
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// Sends a request and keeps only its status.
    pub async fn status(&self, request: reqwest::RequestBuilder) -> Outcome {
        match request.bearer_auth(&self.token).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read the body so that the connection goes back to the pool.
                response.bytes().await.map_err(|e| kind(&e))?;
                Ok(status)
            }
            Err(error) => Err(kind(&error)),
        }
    }

    /// `GET path`, status only.
    pub async fn get(&self, path: &str) -> Outcome {
        self.status(self.http.get(self.url(path))).await
    }

    /// `POST path` with a JSON body, status only.
    pub async fn post(&self, path: &str, body: &Value) -> Outcome {
        self.status(self.http.post(self.url(path)).json(body)).await
    }

    /// `PUT path` with a JSON body, status only.
    pub async fn put(&self, path: &str, body: &Value) -> Outcome {
        self.status(self.http.put(self.url(path)).json(body)).await
    }

    /// `POST path` and returns `data.id` of the answer.
    pub async fn create(&self, path: &str, body: &Value) -> Result<i64, Error> {
        let answer: Value = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        answer["data"]["id"]
            .as_i64()
            .ok_or_else(|| format!("POST {path} answered without data.id").into())
    }

    /// Creates a case and returns its id.
    pub async fn create_case(&self, n: u64, assigned_to: Option<i64>) -> Result<i64, Error> {
        self.create("/cases", &case_body(n, assigned_to)).await
    }

    /// Creates an agent (or another role) with a known password and returns its id.
    pub async fn create_user(&self, email: &str, password: &str, role: &str) -> Result<i64, Error> {
        let body = json!({ "name": email, "email": email, "password": password, "role": role });
        self.create("/users", &body).await
    }
}

/// The body of a new case; priorities and statuses vary so that filters select a part.
pub fn case_body(n: u64, assigned_to: Option<i64>) -> Value {
    const PRIORITIES: [&str; 4] = ["low", "medium", "high", "critical"];
    const TYPES: [&str; 3] = ["abuse", "neglect", "counselling"];
    let mut body = json!({
        "title": format!("Load test case {n}"),
        "narrative": "A caller describes a situation that needs follow-up by a counsellor.",
        "type": TYPES[n as usize % TYPES.len()],
        "priority": PRIORITIES[n as usize % PRIORITIES.len()],
        "channel": "call",
    });
    if let Some(agent) = assigned_to {
        body["assigned_to"] = json!(agent);
    }
    body
}

/// The marker put in a message body so that a socket can match a delivery to its POST.
pub const MARKER: &str = "ltmsg-";

/// The body of message `seq`: the marker, the sequence number, and some text.
pub fn message_body(case_id: i64, seq: u64) -> Value {
    json!({
        "case_id": case_id,
        "direction": "inbound",
        "body": format!("{MARKER}{seq}# Can someone call me back? I am at school until four."),
    })
}

/// Finds the sequence number after the marker in a received frame.
pub fn find_marker(text: &str) -> Option<u64> {
    let start = text.find(MARKER)? + MARKER.len();
    let digits = &text[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit())?;
    digits[..end].parse().ok()
}
