//! `WsSession`: one actor per WebSocket. It speaks the frames of API.md, keeps the socket
//! alive (server pings; a socket silent past the timeout is closed), and delivers each logged
//! topic in seq order with no gap and no duplicate:
//!
//! - On `subscribe` it registers with the hub first, buffering live events, then reads the
//!   topic's head, answers `subscribed`, and replays from `since` out of the log.
//! - A live event that is not the next seq (a replay still running, events committed out of
//!   order or on another node) is held while the missing ones are read from the log.
//!
//! Its mailbox is its outbound queue, bounded by `HELPLINE_WS_QUEUE`: the hub hands events
//! over with `try_send`, and a socket whose queue is full is dropped from every topic and
//! closed with 1008. The actor only runs when the connection can take more bytes, so a replay
//! is paced by the client's reading too.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix::prelude::*;
use actix_web_actors::ws::{self, CloseCode, CloseReason};
use bytestring::ByteString;

use super::Realtime;
use super::case_session::{Typing, Viewer};
use super::dashboard::SendCurrent;
use super::hub::{Leave, Subscribe, Unsubscribe};
use super::presence::{Connected, Disconnected, SendSnapshot, SetStatus};
use super::protocol::{self, ClientFrame, Topic};
use super::sockets::SocketSlot;
use crate::auth::token::Claims;
use crate::domain::time::Timestamp;
use crate::domain::user::{PresenceStatus, User};
use crate::store::{StoreError, TopicEvent};

pub type SocketId = u64;

static NEXT_SOCKET: AtomicU64 = AtomicU64::new(1);

/// Events read from the log per query while catching up.
const REPLAY_PAGE: i64 = 200;

pub struct WsSession {
    id: SocketId,
    user: User,
    claims: Claims,
    realtime: Realtime,
    topics: HashMap<String, Subscription>,
    last_heard: Instant,
    /// Set once a close frame is queued: nothing may follow it.
    closing: bool,
    next_attempt: u64,
    _slot: SocketSlot,
}

enum Subscription {
    /// Presence and dashboard: frames are passed on as they come.
    Live,
    Logged(Cursor),
}

/// Where a socket is in one logged topic.
struct Cursor {
    /// Identifies this subscription, so answers for an older one are ignored.
    attempt: u64,
    /// The last seq sent to the client; `None` until the head is known.
    last_sent: Option<i64>,
    /// The highest seq known to be committed.
    known_head: i64,
    /// A log read is running.
    reading: bool,
    /// Live events that arrived ahead of their turn.
    held: BTreeMap<i64, ByteString>,
}

impl WsSession {
    pub fn new(user: User, claims: Claims, realtime: Realtime, slot: SocketSlot) -> Self {
        WsSession {
            id: NEXT_SOCKET.fetch_add(1, Ordering::Relaxed),
            user,
            claims,
            realtime,
            topics: HashMap::new(),
            last_heard: Instant::now(),
            closing: false,
            next_attempt: 1,
            _slot: slot,
        }
    }

    fn send(&mut self, ctx: &mut ws::WebsocketContext<Self>, frame: ByteString) {
        if !self.closing {
            ctx.text(frame);
        }
    }

    fn error(&mut self, ctx: &mut ws::WebsocketContext<Self>, code: u16, message: &str) {
        self.send(ctx, protocol::error(code, message));
    }

    fn close(&mut self, ctx: &mut ws::WebsocketContext<Self>, code: CloseCode, reason: &str) {
        if !self.closing {
            self.closing = true;
            ctx.close(Some(CloseReason {
                code,
                description: Some(reason.into()),
            }));
        }
        ctx.stop();
    }

    fn on_frame(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let frame: ClientFrame = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(error) => {
                return self.error(ctx, 400, &format!("Bad frame: {error}"));
            }
        };
        match frame {
            ClientFrame::Ping {} => self.send(ctx, protocol::pong()),
            ClientFrame::Subscribe { topic, since } => self.subscribe(&topic, since, ctx),
            ClientFrame::Unsubscribe { topic } => self.unsubscribe(&topic, ctx),
            ClientFrame::Presence { status } => match status.parse::<PresenceStatus>() {
                Ok(status) if status != PresenceStatus::Offline => {
                    self.realtime.presence.do_send(SetStatus {
                        user_id: self.user.id,
                        status,
                    });
                }
                _ => self.error(ctx, 400, "status must be one of online, away, busy"),
            },
            ClientFrame::Typing { case_id } => self.typing(case_id, ctx),
        }
    }

    fn subscribe(&mut self, name: &str, since: Option<i64>, ctx: &mut ws::WebsocketContext<Self>) {
        let topic = match Topic::parse(name) {
            Ok(topic) => topic,
            Err(message) => return self.error(ctx, 400, &message),
        };
        if let Err(message) = topic.check_readable(&self.user) {
            return self.error(ctx, 403, &message);
        }
        if since.is_some_and(|since| since < 0) {
            return self.error(ctx, 400, "since must be a seq: 0 or more");
        }
        let name = topic.name();
        self.realtime.hub.do_send(Subscribe {
            topic: name.clone(),
            socket_id: self.id,
            user_id: self.user.id,
            socket: ctx.address(),
        });
        if !topic.is_logged() {
            self.topics.insert(name.clone(), Subscription::Live);
            self.send(ctx, protocol::subscribed(&name, 0, true));
            match topic {
                Topic::Presence => self.send_presence_snapshot(ctx),
                Topic::Dashboard => self.realtime.dashboard.do_send(SendCurrent {
                    socket: ctx.address(),
                }),
                _ => {}
            }
            return;
        }
        // Registered with the hub before the head is read: every event committed from now on
        // reaches this socket, held until the replay has caught up to it.
        let attempt = self.next_attempt;
        self.next_attempt += 1;
        self.topics.insert(
            name.clone(),
            Subscription::Logged(Cursor {
                attempt,
                last_sent: None,
                known_head: 0,
                reading: true,
                held: BTreeMap::new(),
            }),
        );
        let store = self.realtime.store.clone();
        let topic_name = name.clone();
        let head = actix_web::rt::spawn(async move {
            match topic {
                Topic::Case(id) => store.find_case(id).await.map(drop)?,
                Topic::Agent(id) => store.find_user(id).await.map(drop)?,
                _ => {}
            }
            store.topic_head(&topic_name).await
        });
        let read = async move {
            head.await
                .unwrap_or(Err(StoreError::Unavailable(sqlx::Error::PoolClosed)))
        };
        ctx.spawn(read.into_actor(self).map(move |head, session, ctx| {
            if session.cursor(&name, attempt).is_none() {
                return; // unsubscribed or subscribed again meanwhile
            }
            let head = match head {
                Ok(head) => head,
                Err(error) => return session.subscription_failed(&name, &error, ctx),
            };
            let (start, recovered) = match since {
                None => (head, true),
                Some(since) if since <= head => (since, true),
                // Ahead of the log: the client holds state the server never had.
                Some(_) => (head, false),
            };
            session.send(ctx, protocol::subscribed(&name, head, recovered));
            if let Topic::Case(case_id) = topic {
                session.realtime.on_case_nowait(
                    case_id,
                    Viewer {
                        socket_id: session.id,
                        user_id: session.user.id,
                        watching: true,
                    },
                );
            }
            if let Some(cursor) = session.cursor(&name, attempt) {
                cursor.last_sent = Some(start);
                cursor.known_head = head;
                cursor.reading = false;
            }
            session.catch_up(&name, ctx);
        }));
    }

    fn send_presence_snapshot(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        // Sent by the presence actor itself, so no later change can overtake it.
        self.realtime.presence.do_send(SendSnapshot {
            socket: ctx.address(),
        });
    }

    fn subscription_failed(
        &mut self,
        name: &str,
        error: &StoreError,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        self.forget(name);
        match error {
            StoreError::NotFound(_) => self.error(ctx, 404, &format!("{name} does not exist")),
            error => {
                tracing::warn!(topic = name, %error, "could not read a topic's log");
                let message =
                    format!("Could not read {name} now; subscribe again with since to recover");
                self.error(ctx, 503, &message);
            }
        }
    }

    fn cursor(&mut self, name: &str, attempt: u64) -> Option<&mut Cursor> {
        match self.topics.get_mut(name) {
            Some(Subscription::Logged(cursor)) if cursor.attempt == attempt => Some(cursor),
            _ => None,
        }
    }

    /// Sends held events that are next in line; reads the log when some are missing.
    fn catch_up(&mut self, name: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let Some(Subscription::Logged(cursor)) = self.topics.get_mut(name) else {
            return;
        };
        let Some(mut last) = cursor.last_sent else {
            return;
        };
        let mut ready = Vec::new();
        while let Some(entry) = cursor.held.first_entry() {
            let seq = *entry.key();
            if seq <= last {
                entry.remove();
            } else if seq == last + 1 {
                ready.push(entry.remove());
                last = seq;
            } else {
                break;
            }
        }
        cursor.last_sent = Some(last);
        let wanted = cursor
            .held
            .last_key_value()
            .map_or(cursor.known_head, |(seq, _)| cursor.known_head.max(*seq));
        let must_read = last < wanted;
        cursor.reading = must_read;
        let attempt = cursor.attempt;
        for frame in ready {
            self.send(ctx, frame);
        }
        if must_read {
            self.read_log(name.to_string(), attempt, last, ctx);
        }
    }

    /// Reads the next page of the log after `after` and sends it.
    fn read_log(
        &mut self,
        name: String,
        attempt: u64,
        after: i64,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let store = self.realtime.store.clone();
        let topic = name.clone();
        // The query runs as its own task, so a socket that is not being polled (its client
        // reads slowly) never holds a database connection.
        let page =
            actix_web::rt::spawn(
                async move { store.events_since(&topic, after, REPLAY_PAGE).await },
            );
        let read = async move {
            page.await
                .unwrap_or(Err(StoreError::Unavailable(sqlx::Error::PoolClosed)))
        };
        ctx.spawn(read.into_actor(self).map(move |page, session, ctx| {
            if session.cursor(&name, attempt).is_none() {
                return; // unsubscribed or subscribed again meanwhile
            }
            let events: Vec<TopicEvent> = match page {
                Ok(events) if !events.is_empty() => events,
                Ok(_) => {
                    // Later seqs were announced but the log has none: never expected (a
                    // committed seq implies every lower one is). Say so rather than skip.
                    tracing::warn!(topic = %name, after, "log read found no events past a gap");
                    let error = StoreError::Backend(sqlx::Error::RowNotFound);
                    return session.subscription_failed(&name, &error, ctx);
                }
                Err(error) => return session.subscription_failed(&name, &error, ctx),
            };
            let Some(cursor) = session.cursor(&name, attempt) else {
                return;
            };
            let mut last = cursor.last_sent.unwrap_or(after);
            let mut frames = Vec::new();
            for event in &events {
                if event.seq == last + 1 {
                    frames.push(protocol::event(event));
                    last = event.seq;
                }
            }
            cursor.last_sent = Some(last);
            cursor.known_head = cursor.known_head.max(last);
            for frame in frames {
                session.send(ctx, frame);
            }
            session.catch_up(&name, ctx);
        }));
    }

    fn unsubscribe(&mut self, name: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let name = match Topic::parse(name) {
            Ok(topic) => topic.name(),
            Err(message) => return self.error(ctx, 400, &message),
        };
        self.forget(&name);
        self.send(ctx, protocol::unsubscribed(&name));
    }

    /// Drops a subscription here, at the hub and at the case session.
    fn forget(&mut self, name: &str) {
        if self.topics.remove(name).is_none() {
            return;
        }
        self.realtime.hub.do_send(Unsubscribe {
            topic: name.to_string(),
            socket_id: self.id,
        });
        self.stop_viewing(name);
    }

    /// When `name` is a case, tells its session this socket no longer watches it.
    fn stop_viewing(&self, name: &str) {
        if let Ok(Topic::Case(case_id)) = Topic::parse(name) {
            let viewer = Viewer {
                socket_id: self.id,
                user_id: self.user.id,
                watching: false,
            };
            self.realtime.stop_viewing(case_id, viewer);
        }
    }

    fn typing(&mut self, case_id: i64, ctx: &mut ws::WebsocketContext<Self>) {
        // The subscription proved the case exists and may be read; it also keeps a client
        // from starting sessions for arbitrary ids.
        if !self.topics.contains_key(&Topic::Case(case_id).name()) {
            let message = format!("Subscribe to case:{case_id} before typing on it");
            return self.error(ctx, 400, &message);
        }
        let realtime = self.realtime.clone();
        let user_id = self.user.id;
        let sent = async move { realtime.on_case(case_id, Typing { user_id }).await };
        ctx.spawn(
            sent.into_actor(self)
                .map(move |result, session, ctx| match result {
                    Ok(()) => {}
                    Err(StoreError::NotFound(_)) => {
                        session.error(ctx, 404, &format!("Case {case_id} not found"));
                    }
                    Err(_) => session.error(ctx, 503, "Could not reach the case now"),
                }),
        );
    }

    /// Closes the socket once its token has expired, been revoked, or its user deactivated.
    fn check_token(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        if self.claims.expires_at() <= Timestamp::now() {
            return self.close(ctx, CloseCode::Policy, "Token expired");
        }
        let store = self.realtime.store.clone();
        let (user_id, jti, generation) = (self.user.id, self.claims.jti.clone(), self.claims.tgen);
        let check =
            actix_web::rt::spawn(
                async move { store.find_token_user(user_id, &jti, generation).await },
            );
        ctx.spawn(check.into_actor(self).map(|found, session, ctx| {
            // Only a definite "no" closes the socket; a database hiccup does not.
            match found {
                Ok(Ok(None)) => {
                    session.close(ctx, CloseCode::Policy, "Token revoked or user deactivated");
                }
                Ok(Ok(Some(user))) => session.user_changed(user, ctx),
                _ => {}
            }
        }));
    }

    /// The user as stored now: a changed role drops the topics it may no longer read.
    fn user_changed(&mut self, user: User, ctx: &mut ws::WebsocketContext<Self>) {
        self.user = user;
        let unreadable: Vec<String> = self
            .topics
            .keys()
            .filter(|name| {
                Topic::parse(name).is_ok_and(|topic| topic.check_readable(&self.user).is_err())
            })
            .cloned()
            .collect();
        for name in unreadable {
            self.forget(&name);
            self.error(
                ctx,
                403,
                &format!("Your role no longer allows reading {name}"),
            );
        }
    }
}

impl Actor for WsSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.realtime.settings.queue);
        self.realtime.sockets.register(self.id, ctx.address());
        self.realtime.presence.do_send(Connected {
            user_id: self.user.id,
            socket_id: self.id,
        });
        let (every, timeout) = (
            self.realtime.settings.ping_interval,
            self.realtime.settings.timeout,
        );
        ctx.run_interval(every, move |session, ctx| {
            if session.last_heard.elapsed() > timeout {
                return session.close(ctx, CloseCode::Normal, "No answer to pings");
            }
            ctx.ping(b"");
            session.check_token(ctx);
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        // `Leave` drops every subscription at the hub at once; the case sessions hear one by one.
        for name in self.topics.keys() {
            self.stop_viewing(name);
        }
        self.realtime.hub.do_send(Leave { socket_id: self.id });
        self.realtime.presence.do_send(Disconnected {
            user_id: self.user.id,
            socket_id: self.id,
        });
        self.realtime.sockets.unregister(self.id);
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsSession {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        self.last_heard = Instant::now();
        match item {
            Ok(ws::Message::Text(text)) => self.on_frame(&text, ctx),
            Ok(ws::Message::Binary(_)) => self.error(ctx, 400, "Frames must be JSON text"),
            Ok(ws::Message::Ping(payload)) => ctx.pong(&payload),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Close(reason)) => {
                self.closing = true;
                ctx.close(reason);
                ctx.stop();
            }
            Ok(ws::Message::Continuation(_)) => {
                self.close(
                    ctx,
                    CloseCode::Unsupported,
                    "Fragmented frames are not supported",
                );
            }
            Err(ws::ProtocolError::Overflow) => {
                self.close(ctx, CloseCode::Size, "Frames are limited to 64 KiB");
            }
            Err(error) => {
                tracing::debug!(%error, "WebSocket protocol error");
                self.close(ctx, CloseCode::Protocol, "Protocol error");
            }
        }
    }
}

/// A frame for a topic the socket subscribed to; `seq` for logged topics.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub topic: Arc<str>,
    pub seq: Option<i64>,
    pub frame: ByteString,
}

impl Handler<Deliver> for WsSession {
    type Result = ();
    fn handle(&mut self, msg: Deliver, ctx: &mut Self::Context) {
        let next = match (self.topics.get_mut(&*msg.topic), msg.seq) {
            (Some(Subscription::Live), _) => {
                return self.send(ctx, msg.frame);
            }
            (Some(Subscription::Logged(cursor)), Some(seq)) => match cursor.last_sent {
                Some(last) if seq <= last => return,
                Some(last) if seq == last + 1 && !cursor.reading => {
                    cursor.last_sent = Some(seq);
                    Some(msg.frame)
                }
                _ => {
                    // Past the queue's size, held events are left in the log and read from
                    // there: memory stays bounded however long a replay takes.
                    if cursor.held.len() < self.realtime.settings.queue {
                        cursor.held.insert(seq, msg.frame);
                    } else {
                        cursor.known_head = cursor.known_head.max(seq);
                    }
                    if cursor.reading {
                        return;
                    }
                    None
                }
            },
            // Typing notices on a case topic carry no seq.
            (Some(Subscription::Logged(_)), None) => Some(msg.frame),
            (None, _) => return,
        };
        match next {
            Some(frame) => self.send(ctx, frame),
            None => self.catch_up(&msg.topic, ctx),
        }
    }
}

/// Events may have been missed (the bus to other nodes was down): compare each logged topic
/// with its head in the log and catch up.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Resync;

impl Handler<Resync> for WsSession {
    type Result = ();
    fn handle(&mut self, _: Resync, ctx: &mut Self::Context) {
        let idle: Vec<(String, u64)> = self
            .topics
            .iter()
            .filter_map(|(name, subscription)| match subscription {
                Subscription::Logged(cursor) if !cursor.reading => {
                    Some((name.clone(), cursor.attempt))
                }
                _ => None,
            })
            .collect();
        for (name, attempt) in idle {
            let store = self.realtime.store.clone();
            let topic = name.clone();
            let head = actix_web::rt::spawn(async move { store.topic_head(&topic).await });
            ctx.spawn(head.into_actor(self).map(move |head, session, ctx| {
                let Ok(Ok(head)) = head else { return };
                if let Some(cursor) = session.cursor(&name, attempt)
                    && !cursor.reading
                    && head > cursor.known_head
                {
                    cursor.known_head = head;
                    session.catch_up(&name, ctx);
                }
            }));
        }
    }
}

/// The hub found this socket's queue full.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TooSlow;

impl Handler<TooSlow> for WsSession {
    type Result = ();
    fn handle(&mut self, _: TooSlow, ctx: &mut Self::Context) {
        self.close(
            ctx,
            CloseCode::Policy,
            "Too slow to read its events; reconnect and subscribe with since",
        );
    }
}

/// The server is stopping.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShuttingDown;

impl Handler<ShuttingDown> for WsSession {
    type Result = ();
    fn handle(&mut self, _: ShuttingDown, ctx: &mut Self::Context) {
        self.close(ctx, CloseCode::Away, "Server shutting down");
    }
}
