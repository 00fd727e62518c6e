//! The bus between nodes (Redis pub/sub, with `HELPLINE_REDIS_URL`). Each node's hub sends
//! what it publishes locally (committed events, presence and typing frames) to the channel,
//! and feeds what other nodes sent into its own subscribers. Events keep their seq: a socket
//! that sees a gap (a message lost on the bus, or one racing another node's) reads the missing
//! events from the shared log, so the bus may be late or lossy without a client missing one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::Addr;
use bytestring::ByteString;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::hub::{Broadcast, Hub, Publish, ResyncAll};
use crate::domain::time::Timestamp;
use crate::store::{LoggedEvent, TopicEvent};

/// What one node tells the others.
#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The sending node, so it ignores its own messages.
    node: String,
    message: BusMessage,
}

/// Externally tagged: serde buffers internally tagged enums, and raw JSON cannot be buffered.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusMessage {
    Events {
        events: Vec<WireEvent>,
    },
    Broadcast {
        topic: String,
        frame: String,
        except_user: Option<i64>,
    },
}

#[derive(Serialize, Deserialize)]
pub struct WireEvent {
    topic: String,
    seq: i64,
    id: i64,
    kind: String,
    actor_id: Option<i64>,
    data: Box<RawValue>,
    changes: Option<Box<RawValue>>,
    at: i64,
}

impl BusMessage {
    pub fn events(events: &[TopicEvent]) -> BusMessage {
        BusMessage::Events {
            events: events
                .iter()
                .map(|e| WireEvent {
                    topic: e.topic.clone(),
                    seq: e.seq,
                    id: e.event.id,
                    kind: e.event.kind.clone(),
                    actor_id: e.event.actor_id,
                    data: e.event.data.clone(),
                    changes: e.event.changes.clone(),
                    at: e.event.at.millis(),
                })
                .collect(),
        }
    }
}

/// Where the hub sends what other nodes must hear.
#[derive(Clone)]
pub struct BusSender(mpsc::UnboundedSender<BusMessage>);

impl BusSender {
    pub fn send(&self, message: BusMessage) {
        // Fails only once the publishing task is gone (shutdown); the log still has it all.
        let _ = self.0.send(message);
    }
}

/// Whether this node currently hears the other nodes.
#[derive(Clone, Default)]
pub struct BusHealth(Arc<AtomicBool>);

impl BusHealth {
    pub fn is_connected(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, connected: bool) {
        self.0.store(connected, Ordering::Relaxed);
    }
}

/// Connects to Redis, then publishes and listens in two background tasks that reconnect on
/// their own. Fails when Redis cannot be reached at start.
pub async fn connect(
    url: &str,
    channel: String,
    hub: Addr<Hub>,
) -> redis::RedisResult<(BusSender, BusHealth)> {
    let client = redis::Client::open(url)?;
    let publisher = client.get_connection_manager().await?;
    // Listening before anything is published, so no message of ours is missed by a peer that
    // starts at the same time.
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(&channel).await?;
    let node = uuid::Uuid::new_v4().to_string();
    let (sender, receiver) = mpsc::unbounded_channel();
    let health = BusHealth::default();
    health.set(true);
    actix_web::rt::spawn(publish(publisher, channel.clone(), node.clone(), receiver));
    let listener = Listener {
        client,
        channel,
        node,
        hub,
        health: health.clone(),
    };
    actix_web::rt::spawn(listener.run(pubsub));
    Ok((BusSender(sender), health))
}

async fn publish(
    mut redis: redis::aio::ConnectionManager,
    channel: String,
    node: String,
    mut outbox: mpsc::UnboundedReceiver<BusMessage>,
) {
    while let Some(message) = outbox.recv().await {
        let envelope = Envelope {
            node: node.clone(),
            message,
        };
        let Ok(payload) = serde_json::to_string(&envelope) else {
            continue;
        };
        // A few tries across a Redis blip; after that, other nodes' sockets find the events
        // in the log at the topic's next event, or when their own bus reconnects.
        for attempt in 1..=5 {
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(&payload)
                .query_async(&mut redis)
                .await;
            match sent {
                Ok(_) => break,
                Err(error) if attempt == 5 => {
                    tracing::warn!(%error, "bus: could not publish to Redis; giving up on one message");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200 * attempt)).await,
            }
        }
    }
}

struct Listener {
    client: redis::Client,
    channel: String,
    node: String,
    hub: Addr<Hub>,
    health: BusHealth,
}

impl Listener {
    async fn run(self, mut pubsub: redis::aio::PubSub) {
        loop {
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                let payload = message.get_payload_bytes();
                let Ok(envelope) = serde_json::from_slice::<Envelope>(payload) else {
                    tracing::warn!("bus: ignored a message that is not ours");
                    continue;
                };
                if envelope.node != self.node {
                    deliver(&self.hub, envelope.message);
                }
            }
            self.health.set(false);
            if !self.hub.connected() {
                return;
            }
            tracing::warn!("bus: lost the Redis subscription; reconnecting");
            pubsub = loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                match self.subscribe().await {
                    Ok(pubsub) => break pubsub,
                    Err(error) => tracing::warn!(%error, "bus: Redis still unreachable"),
                }
            };
            self.health.set(true);
            tracing::info!(
                "bus: listening to Redis again; sockets check the log for what was missed"
            );
            self.hub.do_send(ResyncAll);
        }
    }

    async fn subscribe(&self) -> redis::RedisResult<redis::aio::PubSub> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(&self.channel).await?;
        Ok(pubsub)
    }
}

fn deliver(hub: &Addr<Hub>, message: BusMessage) {
    match message {
        BusMessage::Events { events } => {
            let events = events
                .into_iter()
                .map(|e| TopicEvent {
                    topic: e.topic,
                    seq: e.seq,
                    event: Arc::new(LoggedEvent {
                        id: e.id,
                        kind: e.kind,
                        actor_id: e.actor_id,
                        data: e.data,
                        changes: e.changes,
                        at: Timestamp(e.at),
                    }),
                })
                .collect();
            hub.do_send(Publish {
                events,
                from_bus: true,
            });
        }
        BusMessage::Broadcast {
            topic,
            frame,
            except_user,
        } => hub.do_send(Broadcast {
            topic,
            frame: ByteString::from(frame),
            except_user,
            from_bus: true,
        }),
    }
}
