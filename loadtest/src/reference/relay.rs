//! The WebSocket reference: a tokio broadcast relay. It speaks just enough of Helpline's
//! protocol for the same scenarios to run: any socket upgrade on the port is accepted (no
//! authentication); `subscribe` to a topic is answered `subscribed`; a `POST
//! /api/v1/communications` over a minimal HTTP/1.1 (keep-alive) serialises one event frame and
//! broadcasts it to the topic `case:{case_id}`; other requests get a constant JSON answer with
//! an id and a token. Each socket batches its writes (everything queued, then one flush) through
//! 4 KiB buffers; a socket more than `QUEUE` frames behind is closed (1008), as Helpline does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::ServeOptions;

/// Frames one socket may be behind before it is closed (Helpline's `HELPLINE_WS_QUEUE`).
const QUEUE: usize = 512;
/// Read and write buffer of each socket.
const BUFFER: usize = 4096;

/// Topics and their broadcast senders; ids for answers and events.
#[derive(Default)]
struct Relay {
    topics: Mutex<HashMap<String, broadcast::Sender<Utf8Bytes>>>,
    next_id: AtomicI64,
}

impl Relay {
    fn sender(&self, topic: &str) -> broadcast::Sender<Utf8Bytes> {
        let mut topics = self.topics.lock().unwrap_or_else(|e| e.into_inner());
        topics
            .entry(topic.to_string())
            .or_insert_with(|| broadcast::channel(QUEUE).0)
            .clone()
    }

    /// Serialises one event for a posted message and sends it to its topic.
    fn publish(&self, body: &[u8]) -> Value {
        let message: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let case_id = message["case_id"].as_i64().unwrap_or(0);
        let data = json!({ "id": id, "case_id": case_id, "direction": message["direction"],
                           "body": message["body"], "created_at": at });
        let topic = format!("case:{case_id}");
        let frame = json!({ "type": "event", "topic": topic, "seq": id,
                            "event": "message.received", "data": data, "timestamp": at });
        let _ = self.sender(&topic).send(Utf8Bytes::from(frame.to_string()));
        data
    }
}

/// Runs the relay until killed.
pub fn serve(options: &ServeOptions) -> Result<(), crate::Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.workers)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", options.port)).await?;
        eprintln!("reference relay listening on 127.0.0.1:{}", options.port);
        let relay = Arc::new(Relay::default());
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(connection(stream, relay.clone()));
        }
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One TCP connection: HTTP requests until it upgrades to a WebSocket or closes.
async fn connection(mut stream: TcpStream, relay: Arc<Relay>) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(BUFFER);
    loop {
        let head_end = loop {
            if let Some(at) = find(&buf, b"\r\n\r\n") {
                break at + 4;
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_string();
        let mut headers = HashMap::new();
        for line in lines {
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        if let Some(key) = headers.get("sec-websocket-key") {
            let accept = derive_accept_key(key.as_bytes());
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\n\r\n"
            );
            stream.write_all(answer.as_bytes()).await?;
            let rest = buf.split_off(head_end);
            let config = WebSocketConfig::default()
                .read_buffer_size(BUFFER)
                .write_buffer_size(BUFFER);
            let ws = WebSocketStream::from_partially_read(stream, rest, Role::Server, Some(config))
                .await;
            socket(ws, relay).await;
            return Ok(());
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        }
        let body = &buf[head_end..head_end + length];
        let (code, data) = if request_line.starts_with("POST /api/v1/communications") {
            (201, relay.publish(body))
        } else {
            let id = relay.next_id.fetch_add(1, Ordering::Relaxed) + 1;
            let code = if request_line.starts_with("POST") {
                201
            } else {
                200
            };
            (code, json!({ "id": id, "token": "reference-token" }))
        };
        let answer = json!({ "status": "success", "data": data }).to_string();
        let response = format!(
            "HTTP/1.1 {code} OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        stream.write_all(response.as_bytes()).await?;
        buf.drain(..head_end + length);
    }
}

/// Receives from the socket's topic, or waits forever when it has none.
async fn next_event(
    events: &mut Option<broadcast::Receiver<Utf8Bytes>>,
) -> Result<Utf8Bytes, broadcast::error::RecvError> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

/// One WebSocket: subscribe frames in; events out, as many as are queued per flush.
async fn socket(ws: WebSocketStream<TcpStream>, relay: Arc<Relay>) {
    let (mut sink, mut frames) = ws.split();
    let mut events: Option<broadcast::Receiver<Utf8Bytes>> = None;
    loop {
        tokio::select! {
            frame = frames.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let answer = match frame["type"].as_str() {
                        Some("subscribe") => {
                            let topic = frame["topic"].as_str().unwrap_or_default();
                            events = Some(relay.sender(topic).subscribe());
                            json!({ "type": "subscribed", "topic": topic, "seq": 0, "recovered": true })
                        }
                        Some("ping") => json!({ "type": "pong" }),
                        _ => continue,
                    };
                    if sink.send(Message::text(answer.to_string())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            event = next_event(&mut events) => match event {
                Ok(first) => {
                    let mut failed = sink.feed(Message::Text(first)).await.is_err();
                    while let Some(Ok(more)) = events.as_mut().map(|e| e.try_recv()) {
                        failed |= sink.feed(Message::Text(more)).await.is_err();
                    }
                    if failed || sink.flush().await.is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let close = CloseFrame { code: CloseCode::Policy, reason: "too slow".into() };
                    let _ = sink.send(Message::Close(Some(close))).await;
                    break;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
}
