//! Presence: whether each user can be reached, across all their sockets and tabs. A user is
//! `online` from their first socket, takes the status they last chose (`away`, `busy`), and
//! goes `offline` only when their last socket has been gone for the grace period, so a page
//! reload does not flicker. Changes go out on topic `presence`; `last_seen_at` is kept.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::hub::{Broadcast, Hub};
use super::protocol;
use super::ws_session::{Deliver, SocketId, WsSession};
use crate::domain::time::Timestamp;
use crate::domain::user::PresenceStatus;
use crate::store::Store;

pub struct Presence {
    hub: Addr<Hub>,
    store: Store,
    grace: Duration,
    users: HashMap<i64, UserPresence>,
}

struct UserPresence {
    sockets: HashSet<SocketId>,
    status: PresenceStatus,
    since: Timestamp,
    /// The pending switch to `offline` after the last socket left.
    going_offline: Option<SpawnHandle>,
}

/// One user's current presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceEntry {
    pub user_id: i64,
    pub status: PresenceStatus,
    pub since: Timestamp,
}

impl Presence {
    pub fn new(hub: Addr<Hub>, store: Store, grace: Duration) -> Self {
        Presence {
            hub,
            store,
            grace,
            users: HashMap::new(),
        }
    }

    fn announce(&self, user_id: i64, status: PresenceStatus, at: Timestamp) {
        self.hub.do_send(Broadcast {
            topic: "presence".into(),
            frame: protocol::presence(user_id, status, at),
            except_user: None,
            from_bus: false,
        });
    }

    fn touch_last_seen(&self, user_id: i64, at: Timestamp) {
        let store = self.store.clone();
        actix::spawn(async move {
            if let Err(error) = store.touch_last_seen(user_id, at).await {
                tracing::warn!(user_id, %error, "could not record last_seen_at");
            }
        });
    }
}

impl Actor for Presence {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Connected {
    pub user_id: i64,
    pub socket_id: SocketId,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnected {
    pub user_id: i64,
    pub socket_id: SocketId,
}

/// The user chose a status (`online`, `away` or `busy`) in one of their tabs.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetStatus {
    pub user_id: i64,
    pub status: PresenceStatus,
}

/// Everyone not offline.
#[derive(Message)]
#[rtype(result = "Vec<PresenceEntry>")]
pub struct Snapshot;

/// Sends `socket` one `presence` frame per user not offline (a new subscriber's first view).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SendSnapshot {
    pub socket: Addr<WsSession>,
}

impl Handler<SendSnapshot> for Presence {
    type Result = ();
    fn handle(&mut self, msg: SendSnapshot, ctx: &mut Context<Self>) {
        let topic: Arc<str> = "presence".into();
        for entry in self.handle(Snapshot, ctx).0 {
            msg.socket.do_send(Deliver {
                topic: topic.clone(),
                seq: None,
                frame: protocol::presence(entry.user_id, entry.status, entry.since),
            });
        }
    }
}

impl Handler<Connected> for Presence {
    type Result = ();
    fn handle(&mut self, msg: Connected, ctx: &mut Context<Self>) {
        let now = Timestamp::now();
        let user = self
            .users
            .entry(msg.user_id)
            .or_insert_with(|| UserPresence {
                sockets: HashSet::new(),
                status: PresenceStatus::Offline,
                since: now,
                going_offline: None,
            });
        user.sockets.insert(msg.socket_id);
        if let Some(pending) = user.going_offline.take() {
            ctx.cancel_future(pending);
        }
        if user.status == PresenceStatus::Offline {
            user.status = PresenceStatus::Online;
            user.since = now;
            self.announce(msg.user_id, PresenceStatus::Online, now);
            self.touch_last_seen(msg.user_id, now);
        }
    }
}

impl Handler<Disconnected> for Presence {
    type Result = ();
    fn handle(&mut self, msg: Disconnected, ctx: &mut Context<Self>) {
        let Some(user) = self.users.get_mut(&msg.user_id) else {
            return;
        };
        user.sockets.remove(&msg.socket_id);
        if !user.sockets.is_empty() || user.going_offline.is_some() {
            return;
        }
        let user_id = msg.user_id;
        let pending = ctx.run_later(self.grace, move |presence, _| {
            let gone = presence
                .users
                .get(&user_id)
                .is_some_and(|user| user.sockets.is_empty());
            if gone {
                presence.users.remove(&user_id);
                let now = Timestamp::now();
                presence.announce(user_id, PresenceStatus::Offline, now);
                presence.touch_last_seen(user_id, now);
            }
        });
        user.going_offline = Some(pending);
    }
}

impl Handler<SetStatus> for Presence {
    type Result = ();
    fn handle(&mut self, msg: SetStatus, _: &mut Context<Self>) {
        let Some(user) = self.users.get_mut(&msg.user_id) else {
            return;
        };
        if user.status != msg.status {
            let now = Timestamp::now();
            user.status = msg.status;
            user.since = now;
            self.announce(msg.user_id, msg.status, now);
        }
    }
}

impl Handler<Snapshot> for Presence {
    type Result = MessageResult<Snapshot>;
    fn handle(&mut self, _: Snapshot, _: &mut Context<Self>) -> Self::Result {
        let mut entries: Vec<PresenceEntry> = self
            .users
            .iter()
            .map(|(user_id, user)| PresenceEntry {
                user_id: *user_id,
                status: user.status,
                since: user.since,
            })
            .collect();
        entries.sort_by_key(|entry| entry.user_id);
        MessageResult(entries)
    }
}
