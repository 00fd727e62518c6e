//! A real WebSocket client for the tests (tokio-tungstenite over TCP), with helpers that wait
//! for the frames a test expects and fail with what arrived instead.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::helpers::TestApp;

/// How long a test waits for a frame it expects.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Socket {
    stream: WebSocketStream<TcpStream>,
    /// The server's close frame, once read: `Some(code)`.
    closed: Option<Option<CloseCode>>,
}

/// How to present the token at the upgrade.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    Header(&'a str),
    Query(&'a str),
    None,
}

impl TestApp {
    /// Opens a socket authenticated with `token` in the `Authorization` header.
    pub async fn socket(&self, token: &str) -> Socket {
        self.try_socket(Auth::Header(token))
            .await
            .unwrap_or_else(|status| panic!("socket refused with {status}"))
    }

    /// Opens a socket, or returns the HTTP status it was refused with.
    pub async fn try_socket(&self, auth: Auth<'_>) -> Result<Socket, u16> {
        self.try_socket_with(auth, None).await
    }

    /// Opens a socket whose TCP receive buffer is `recv_buffer` bytes: a client that does not
    /// read fills it quickly.
    pub async fn try_socket_with(
        &self,
        auth: Auth<'_>,
        recv_buffer: Option<u32>,
    ) -> Result<Socket, u16> {
        open_socket(&self.address, auth, recv_buffer).await
    }
}

/// Opens a socket to the server at `address` (`http://host:port`), or returns the HTTP status
/// it was refused with.
pub async fn open_socket(
    address: &str,
    auth: Auth<'_>,
    recv_buffer: Option<u32>,
) -> Result<Socket, u16> {
    let host = address.trim_start_matches("http://");
    let mut url = format!("ws://{host}/api/v1/ws");
    if let Auth::Query(token) = auth {
        url.push_str(&format!("?token={token}"));
    }
    let mut request = url.into_client_request().expect("request");
    if let Auth::Header(token) = auth {
        let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
        request.headers_mut().insert("authorization", value);
    }
    let socket = TcpSocket::new_v4().expect("socket");
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).expect("recv buffer");
    }
    let tcp = socket
        .connect(host.parse().expect("address"))
        .await
        .expect("connect");
    match tokio_tungstenite::client_async(request, tcp).await {
        Ok((stream, _)) => Ok(Socket {
            stream,
            closed: None,
        }),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(error) => panic!("WebSocket handshake failed: {error}"),
    }
}

impl Socket {
    pub async fn send(&mut self, frame: Value) {
        self.stream
            .send(Message::text(frame.to_string()))
            .await
            .expect("send frame");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.stream.send(message).await.expect("send frame");
    }

    /// The next JSON frame, or `None` when the socket closed or nothing came within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        // One deadline for the whole wait: the server's pings must not extend it.
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??;
            match message {
                Ok(Message::Text(text)) => {
                    return Some(serde_json::from_str(&text).expect("frames are JSON"));
                }
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(Message::Close(frame)) => {
                    self.closed = Some(frame.map(|f| f.code));
                    return None;
                }
                Ok(_) | Err(_) => return None,
            }
        }
    }

    /// The next JSON frame; fails the test when none comes.
    pub async fn next(&mut self) -> Value {
        self.next_within(WAIT)
            .await
            .expect("a frame within the wait")
    }

    /// The next frame of `kind`, skipping others (presence, typing, …).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Subscribes and returns the `subscribed` answer (or the error frame).
    pub async fn subscribe(&mut self, topic: &str, since: Option<i64>) -> Value {
        let mut frame = json!({"type": "subscribe", "topic": topic});
        if let Some(since) = since {
            frame["since"] = json!(since);
        }
        self.send(frame).await;
        loop {
            let answer = self.next().await;
            if answer["type"] == "subscribed" || answer["type"] == "error" {
                return answer;
            }
        }
    }

    /// The next `n` event frames of `topic`, skipping other frames.
    pub async fn events(&mut self, topic: &str, n: usize) -> Vec<Value> {
        let mut events = Vec::with_capacity(n);
        while events.len() < n {
            let frame = self.next().await;
            if frame["type"] == "event" && frame["topic"] == topic {
                events.push(frame);
            }
        }
        events
    }

    /// Asserts that no event frame arrives within `wait`.
    pub async fn expect_no_event(&mut self, wait: Duration) {
        while let Some(frame) = self.next_within(wait).await {
            assert_ne!(frame["type"], "event", "unexpected event {frame}");
        }
    }

    /// Reads until the server closes; the close code (`None` when the TCP connection ended
    /// without a close frame).
    pub async fn close_code(&mut self) -> Option<CloseCode> {
        if let Some(code) = self.closed {
            return code;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("the server closes the socket");
            match message {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

/// The seqs of event frames.
pub fn seqs(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect()
}
