//! The hub: topic → subscribed sockets. Committed events arrive here (in commit order per
//! topic) and are framed once and handed to each subscriber's bounded queue. A subscriber
//! whose queue is full is too slow: it is dropped from every topic and told to close (1008);
//! it catches up from the log when it reconnects. So one slow reader never slows the others.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use bytestring::ByteString;

use super::bus::{BusMessage, BusSender};
use super::dashboard::Changed;
use super::protocol;
use super::ws_session::{Deliver, Resync, ShuttingDown, SocketId, TooSlow, WsSession};
use crate::store::TopicEvent;

struct Subscriber {
    socket: Addr<WsSession>,
    user_id: i64,
}

#[derive(Default)]
pub struct Hub {
    topics: HashMap<Arc<str>, HashMap<SocketId, Subscriber>>,
    /// The topics of each socket, to forget it in one go.
    by_socket: HashMap<SocketId, HashSet<Arc<str>>>,
    /// The other nodes, when there are any (`HELPLINE_REDIS_URL`).
    bus: Option<BusSender>,
    /// Told of every committed event and presence change (the live dashboard).
    observer: Option<Recipient<Changed>>,
}

/// From now on, the observer hears of every change.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttachObserver(pub Recipient<Changed>);

impl Handler<AttachObserver> for Hub {
    type Result = ();
    fn handle(&mut self, AttachObserver(observer): AttachObserver, _: &mut Context<Self>) {
        self.observer = Some(observer);
    }
}

/// Whether a topic has subscribers on this node.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct HasSubscribers(pub &'static str);

impl Handler<HasSubscribers> for Hub {
    type Result = bool;
    fn handle(&mut self, HasSubscribers(topic): HasSubscribers, _: &mut Context<Self>) -> bool {
        self.topics.contains_key(topic)
    }
}

impl Actor for Hub {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub topic: String,
    pub socket_id: SocketId,
    pub user_id: i64,
    pub socket: Addr<WsSession>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub topic: String,
    pub socket_id: SocketId,
}

/// The socket is gone: forget all its subscriptions.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub socket_id: SocketId,
}

/// Shutdown: every socket closes with 1001, after the events already handed to the hub.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseAll(pub Vec<Addr<WsSession>>);

impl Handler<CloseAll> for Hub {
    type Result = ();
    fn handle(&mut self, CloseAll(sockets): CloseAll, _: &mut Context<Self>) {
        for socket in sockets {
            socket.do_send(ShuttingDown);
        }
    }
}

/// The bus was down: every subscribed socket checks its topics against the log.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ResyncAll;

impl Handler<ResyncAll> for Hub {
    type Result = ();
    fn handle(&mut self, _: ResyncAll, _: &mut Context<Self>) {
        let sockets: HashMap<SocketId, &Addr<WsSession>> = self
            .topics
            .values()
            .flat_map(|subscribers| subscribers.iter())
            .map(|(id, subscriber)| (*id, &subscriber.socket))
            .collect();
        for socket in sockets.into_values() {
            socket.do_send(Resync);
        }
    }
}

/// From now on, what is published here also goes to the other nodes.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttachBus(pub BusSender);

impl Handler<AttachBus> for Hub {
    type Result = ();
    fn handle(&mut self, AttachBus(bus): AttachBus, _: &mut Context<Self>) {
        self.bus = Some(bus);
    }
}

/// Events of a committed transaction, of this node or (`from_bus`) of another.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish {
    pub events: Vec<TopicEvent>,
    pub from_bus: bool,
}

/// A live-only frame (presence, typing, dashboard) for the subscribers of `topic`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Broadcast {
    pub topic: String,
    pub frame: ByteString,
    /// The user whose own action this is: they are not told about it.
    pub except_user: Option<i64>,
    /// Sent by another node.
    pub from_bus: bool,
}

impl Handler<Subscribe> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        let topic: Arc<str> = self
            .topics
            .get_key_value(msg.topic.as_str())
            .map(|(name, _)| name.clone())
            .unwrap_or_else(|| msg.topic.as_str().into());
        let subscriber = Subscriber {
            socket: msg.socket,
            user_id: msg.user_id,
        };
        self.topics
            .entry(topic.clone())
            .or_default()
            .insert(msg.socket_id, subscriber);
        self.by_socket
            .entry(msg.socket_id)
            .or_default()
            .insert(topic);
    }
}

impl Handler<Unsubscribe> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) {
        self.remove(msg.socket_id, &msg.topic);
        if let Some(topics) = self.by_socket.get_mut(&msg.socket_id) {
            topics.remove(msg.topic.as_str());
            if topics.is_empty() {
                self.by_socket.remove(&msg.socket_id);
            }
        }
    }
}

impl Handler<Leave> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Leave, _: &mut Context<Self>) {
        self.leave(msg.socket_id);
    }
}

impl Handler<Publish> for Hub {
    type Result = ();
    fn handle(&mut self, Publish { events, from_bus }: Publish, _: &mut Context<Self>) {
        if !from_bus {
            metrics::counter!("events_published_total").increment(events.len() as u64);
        }
        if let Some(bus) = self.bus.as_ref().filter(|_| !from_bus) {
            bus.send(BusMessage::events(&events));
        }
        if let Some(observer) = &self.observer {
            observer.do_send(Changed);
        }
        let mut too_slow = Vec::new();
        for event in events {
            let Some((topic, subscribers)) = self.topics.get_key_value(event.topic.as_str()) else {
                continue;
            };
            let frame = protocol::event(&event);
            for (socket_id, subscriber) in subscribers {
                let deliver = Deliver {
                    topic: topic.clone(),
                    seq: Some(event.seq),
                    frame: frame.clone(),
                };
                if subscriber.socket.try_send(deliver).is_err() {
                    too_slow.push((*socket_id, subscriber.socket.clone()));
                }
            }
        }
        self.drop_slow(too_slow);
    }
}

impl Handler<Broadcast> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Broadcast, _: &mut Context<Self>) {
        if let Some(bus) = self.bus.as_ref().filter(|_| !msg.from_bus) {
            bus.send(BusMessage::Broadcast {
                topic: msg.topic.clone(),
                frame: msg.frame.to_string(),
                except_user: msg.except_user,
            });
        }
        if msg.topic == "presence"
            && let Some(observer) = &self.observer
        {
            observer.do_send(Changed);
        }
        self.broadcast(&msg.topic, msg.frame, msg.except_user);
    }
}

impl Hub {
    fn broadcast(&mut self, topic: &str, frame: ByteString, except_user: Option<i64>) {
        let Some((topic, subscribers)) = self.topics.get_key_value(topic) else {
            return;
        };
        let mut too_slow = Vec::new();
        for (socket_id, subscriber) in subscribers {
            if Some(subscriber.user_id) == except_user {
                continue;
            }
            let deliver = Deliver {
                topic: topic.clone(),
                seq: None,
                frame: frame.clone(),
            };
            if subscriber.socket.try_send(deliver).is_err() {
                too_slow.push((*socket_id, subscriber.socket.clone()));
            }
        }
        self.drop_slow(too_slow);
    }

    /// Sockets whose queue is full (or that are gone) leave every topic; the live ones are
    /// told to close with 1008. `do_send` ignores the full queue, so the notice always lands.
    fn drop_slow(&mut self, sockets: Vec<(SocketId, Addr<WsSession>)>) {
        for (socket_id, socket) in sockets {
            if self.leave(socket_id) && socket.connected() {
                metrics::counter!("websocket_slow_readers_closed_total").increment(1);
                socket.do_send(TooSlow);
            }
        }
    }

    /// Forgets a socket; whether it was known.
    fn leave(&mut self, socket_id: SocketId) -> bool {
        let Some(topics) = self.by_socket.remove(&socket_id) else {
            return false;
        };
        for topic in topics {
            self.remove(socket_id, &topic);
        }
        true
    }

    fn remove(&mut self, socket_id: SocketId, topic: &str) {
        if let Some(subscribers) = self.topics.get_mut(topic) {
            subscribers.remove(&socket_id);
            if subscribers.is_empty() {
                self.topics.remove(topic);
            }
        }
    }
}
