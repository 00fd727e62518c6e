//! WebSocket clients: connect (optionally from a chosen 127.0.0.x source address), subscribe,
//! then read until told to stop, matching each delivery to the POST that caused it through the
//! marker in the message body.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::Error;
use crate::api::find_marker;

/// A client socket.
pub type Ws = WebSocketStream<TcpStream>;

/// Sockets connecting at once (the listen backlog is finite).
const CONNECTS_IN_FLIGHT: usize = 64;
/// How long a socket waits for `subscribed`.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(20);

/// Send times of messages by sequence number, in microseconds since `epoch` (+1; 0 = unsent).
pub struct Clock {
    pub epoch: Instant,
    sent: Vec<AtomicU64>,
}

impl Clock {
    pub fn new(capacity: usize) -> Arc<Clock> {
        Arc::new(Clock {
            epoch: Instant::now(),
            sent: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// Records that message `seq` is about to be posted.
    pub fn stamp(&self, seq: u64) {
        if let Some(slot) = self.sent.get(seq as usize) {
            slot.store(
                self.epoch.elapsed().as_micros() as u64 + 1,
                Ordering::Release,
            );
        }
    }

    /// Microseconds since message `seq` was stamped.
    fn since(&self, seq: u64) -> Option<u32> {
        let sent = self.sent.get(seq as usize)?.load(Ordering::Acquire);
        if sent == 0 {
            return None;
        }
        let now = self.epoch.elapsed().as_micros() as u64 + 1;
        Some(now.saturating_sub(sent).min(u64::from(u32::MAX)) as u32)
    }

    pub fn capacity(&self) -> usize {
        self.sent.len()
    }
}

/// The source address of socket `index`: 127.0.0.1 for the first `spread_after`, then
/// 127.0.0.2, … so that each source address keeps within the ephemeral port range.
pub fn source_for(index: usize, spread_after: usize) -> Ipv4Addr {
    let step = (index / spread_after.max(1)).min(250) as u8;
    Ipv4Addr::new(127, 0, 0, 1 + step)
}

/// Opens an authenticated socket to `url` from `source`, with 4 KiB client buffers.
pub async fn connect(url: &str, token: &str, source: Ipv4Addr) -> Result<Ws, Error> {
    connect_with(url, token, source, None).await
}

/// As [`connect`], optionally with a small kernel receive buffer (a slow reader's).
pub async fn connect_with(
    url: &str,
    token: &str,
    source: Ipv4Addr,
    recv_buffer: Option<u32>,
) -> Result<Ws, Error> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {token}"))?,
    );
    let host = request.uri().host().ok_or("no host")?.to_string();
    let port = request.uri().port_u16().ok_or("no port")?;
    let server: SocketAddr = format!("{host}:{port}").parse()?;
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes)?;
    }
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
    Ok(ws)
}

/// Subscribes to `topic` and waits for the `subscribed` answer.
pub async fn subscribe(ws: &mut Ws, topic: &str) -> Result<(), Error> {
    let frame = serde_json::json!({ "type": "subscribe", "topic": topic }).to_string();
    ws.send(Message::text(frame)).await?;
    let wait = async {
        while let Some(message) = ws.next().await {
            if let Message::Text(text) = message? {
                if text.contains("\"subscribed\"") {
                    return Ok(());
                }
                if text.contains("\"error\"") {
                    return Err(format!("subscribe refused: {text}").into());
                }
            }
        }
        Err::<(), Error>("socket closed before subscribed".into())
    };
    tokio::time::timeout(SUBSCRIBE_TIMEOUT, wait)
        .await
        .map_err(|_| "no subscribed answer")?
}

/// What one socket saw while it listened.
#[derive(Default)]
pub struct Seen {
    /// Latency of each first delivery, in microseconds.
    pub latencies: Vec<u32>,
    /// Deliveries of a message this socket had already received.
    pub duplicates: u64,
    /// The server closed the socket (or it failed) before we stopped it.
    pub dropped: bool,
}

/// A set of listening sockets and the counters they share.
pub struct Listeners {
    /// Deliveries matched to a message, all sockets together (duplicates excluded).
    pub arrived: Arc<AtomicU64>,
    /// Sockets that could not connect or subscribe, by error.
    pub failed: Vec<String>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Seen>>,
}

/// Everything the listeners saw, put together.
pub struct Gathered {
    pub latencies: Vec<u32>,
    pub duplicates: u64,
    pub dropped: u64,
}

impl Listeners {
    /// Opens `count` sockets, socket i authenticated with `tokens[i % len]` and subscribed to
    /// the topics `topics[i % len]`, and starts reading. `spread_after`: sockets per source
    /// address. `on_open` is called once per socket opened (for a progress bar).
    pub async fn open(
        url: &str,
        tokens: &[String],
        topics: &[Vec<String>],
        count: usize,
        spread_after: usize,
        clock: Arc<Clock>,
        on_open: impl Fn() + Send + Sync + 'static,
    ) -> Listeners {
        let (stop, stopped) = watch::channel(false);
        let arrived = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
        let on_open = Arc::new(on_open);
        let mut opening = Vec::with_capacity(count);
        for index in 0..count {
            let (url, token) = (url.to_string(), tokens[index % tokens.len()].clone());
            let topics = topics
                .get(index % topics.len().max(1))
                .cloned()
                .unwrap_or_default();
            let gate = gate.clone();
            let on_open = on_open.clone();
            opening.push(tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
                let source = source_for(index, spread_after);
                let mut ws = connect(&url, &token, source)
                    .await
                    .map_err(|e| e.to_string())?;
                for topic in topics {
                    subscribe(&mut ws, &topic)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                on_open();
                Ok::<Ws, String>(ws)
            }));
        }
        let mut listeners = Listeners {
            arrived,
            failed: Vec::new(),
            stop,
            tasks: Vec::with_capacity(count),
        };
        for task in opening {
            match task.await {
                Ok(Ok(ws)) => {
                    let seen = listen(
                        ws,
                        clock.clone(),
                        listeners.arrived.clone(),
                        stopped.clone(),
                    );
                    listeners.tasks.push(tokio::spawn(seen));
                }
                Ok(Err(error)) => listeners.failed.push(error),
                Err(error) => listeners.failed.push(error.to_string()),
            }
        }
        listeners
    }

    /// Sockets open and listening.
    pub fn open_count(&self) -> usize {
        self.tasks.len()
    }

    /// Waits until `expected` deliveries arrived or `grace` passed since the call.
    pub async fn wait_for(&self, expected: u64, grace: Duration) {
        let deadline = Instant::now() + grace;
        while self.arrived.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops every socket and gathers what they saw.
    pub async fn stop(self) -> Gathered {
        let _ = self.stop.send(true);
        let mut gathered = Gathered {
            latencies: Vec::new(),
            duplicates: 0,
            dropped: 0,
        };
        for task in self.tasks {
            if let Ok(seen) = task.await {
                gathered.latencies.extend(seen.latencies);
                gathered.duplicates += seen.duplicates;
                gathered.dropped += u64::from(seen.dropped);
            }
        }
        gathered
    }
}

/// Reads one socket until stopped: answers nothing, records marked deliveries.
async fn listen(
    mut ws: Ws,
    clock: Arc<Clock>,
    arrived: Arc<AtomicU64>,
    mut stopped: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen::default();
    let mut got = vec![0u64; clock.capacity() / 64 + 1];
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let Some(seq) = find_marker(&text) else { continue };
                    let (word, bit) = (seq as usize / 64, 1u64 << (seq % 64));
                    let Some(slot) = got.get_mut(word) else { continue };
                    if *slot & bit != 0 {
                        seen.duplicates += 1;
                        continue;
                    }
                    *slot |= bit;
                    arrived.fetch_add(1, Ordering::Relaxed);
                    if let Some(latency) = clock.since(seq) {
                        seen.latencies.push(latency);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    seen.dropped = true;
                    break;
                }
            },
            _ = stopped.changed() => break,
        }
    }
    let _ = ws.close(None).await;
    seen
}
