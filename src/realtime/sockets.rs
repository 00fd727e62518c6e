//! The open sockets: how many each user holds (for `HELPLINE_WS_MAX_PER_USER`) and their
//! addresses (to close them all on shutdown).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix::Addr;
use dashmap::DashMap;

use super::ws_session::{SocketId, WsSession};

#[derive(Default)]
pub struct Sockets {
    per_user: DashMap<i64, u32>,
    open: DashMap<SocketId, Addr<WsSession>>,
    /// Set at shutdown: no new socket is accepted.
    closing: AtomicBool,
}

/// One of a user's socket places; given back when dropped.
pub struct SocketSlot {
    sockets: Arc<Sockets>,
    user_id: i64,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.sockets
            .per_user
            .remove_if_mut(&self.user_id, |_, count| {
                *count = count.saturating_sub(1);
                *count == 0
            });
    }
}

impl Sockets {
    /// From now on no socket is admitted; the open ones, to be closed.
    pub fn close_all(&self) -> Vec<Addr<WsSession>> {
        self.closing.store(true, Ordering::SeqCst);
        self.all()
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// A place for one more socket of `user_id`, unless they hold `max` already (`0`: no cap).
    pub fn try_acquire(self: &Arc<Self>, user_id: i64, max: u32) -> Option<SocketSlot> {
        let mut count = self.per_user.entry(user_id).or_insert(0);
        if max > 0 && *count >= max {
            return None;
        }
        *count += 1;
        Some(SocketSlot {
            sockets: self.clone(),
            user_id,
        })
    }

    pub fn register(&self, id: SocketId, socket: Addr<WsSession>) {
        self.open.insert(id, socket);
        metrics::gauge!("websocket_connections").increment(1.0);
    }

    pub fn unregister(&self, id: SocketId) {
        if self.open.remove(&id).is_some() {
            metrics::gauge!("websocket_connections").decrement(1.0);
        }
    }

    pub fn count(&self) -> usize {
        self.open.len()
    }

    pub fn all(&self) -> Vec<Addr<WsSession>> {
        self.open
            .iter()
            .map(|entry| entry.value().clone())
            .collect()
    }
}
