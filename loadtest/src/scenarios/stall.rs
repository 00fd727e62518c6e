//! Slow readers for `fanout --stalled N`: sockets subscribed to the topic that never read,
//! with a small kernel receive buffer, as a phone on a poor network.
//! Reports how many of them the server closed (it should, with 1008, once their queue is
//! full), how many frames each had received, and the server's RSS at the end.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use crate::Error;
use crate::report::Phase;
use crate::server;
use crate::sockets::{self, Ws};

/// Kernel receive buffer of a stalled socket (the kernel may round it up).
const RECV_BUFFER: u32 = 4096;
/// How long to read one stalled socket's backlog at the end, looking for the close.
const DRAIN: Duration = Duration::from_secs(10);

/// Opens `count` sockets on `topic` that will not be read until [`finish`].
pub async fn open(url: &str, token: &str, topic: &str, count: usize) -> Result<Vec<Ws>, Error> {
    let mut stalled = Vec::with_capacity(count);
    for _ in 0..count {
        let source = sockets::source_for(0, 1);
        let mut ws = sockets::connect_with(url, token, source, Some(RECV_BUFFER)).await?;
        sockets::subscribe(&mut ws, topic).await?;
        stalled.push(ws);
    }
    Ok(stalled)
}

/// Reads each stalled socket's backlog: did the server close it, and with which code? The
/// phase keeps the server's RSS at the end of posting; compare it with a run without
/// `--stalled` for the memory the stalled sockets held (the fan-out itself grows RSS too).
pub async fn finish(stalled: Vec<Ws>, pid: Option<u32>) -> Phase {
    let count = stalled.len() as u64;
    let mut phase = Phase {
        name: format!("stalled sockets ({count})"),
        ok: count,
        server_rss_kib: pid.and_then(|p| server::usage(Some(p))).map(|u| u.rss_kib),
        ..Phase::default()
    };
    for mut ws in stalled {
        let mut outcome = "still open".to_string();
        let mut frames = 0u64;
        let read = async {
            while let Some(message) = ws.next().await {
                match message {
                    Ok(Message::Close(frame)) => {
                        let code = frame.map_or(0, |f| u16::from(f.code));
                        return format!("closed by server ({code})");
                    }
                    Ok(_) => frames += 1,
                    Err(_) => return "connection reset".to_string(),
                }
            }
            "closed without a close frame".to_string()
        };
        if let Ok(end) = tokio::time::timeout(DRAIN, read).await {
            outcome = end;
        }
        *phase.errors.entry(outcome).or_default() += 1;
        phase.arrived = Some(phase.arrived.unwrap_or(0) + frames);
    }
    phase
}
