//! `CaseSession`: one actor per active case. Every write to the case (update, close, delete, a
//! new message) passes through it one at a time, so two agents working the same case queue
//! behind each other instead of racing; the store's version check and row lock stay as the
//! guard across nodes. It knows who is viewing the case and who is typing, and stops itself
//! when nobody has used it for a while.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use dashmap::DashMap;

use super::hub::{Broadcast, Hub};
use super::protocol;
use super::ws_session::SocketId;
use crate::domain::case::{Case, CasePatch};
use crate::domain::communication::{Communication, NewCommunication};
use crate::domain::user::User;
use crate::store::{Created, IdempotencyKey, Store, StoreError};

/// A session with no viewer and no write for this long stops.
const IDLE_AFTER: Duration = Duration::from_secs(60);
/// One typing notice per user and case per this interval; the rest are dropped.
const TYPING_EVERY: Duration = Duration::from_secs(2);

/// The live case sessions, by case id. Each session removes its own entry when it stops.
pub type CaseSessions = Arc<DashMap<i64, SessionEntry>>;

pub struct SessionEntry {
    pub instance: u64,
    pub addr: Addr<CaseSession>,
}

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

pub struct CaseSession {
    case_id: i64,
    instance: u64,
    store: Store,
    hub: Addr<Hub>,
    registry: CaseSessions,
    viewers: HashMap<SocketId, i64>,
    last_typing: HashMap<i64, Instant>,
    last_used: Instant,
    /// Whether the case exists, once checked (typing needs it; writes check in the store).
    exists: Option<bool>,
}

impl CaseSession {
    /// Starts a session for `case_id` on `arbiter` and registers it.
    pub fn start_for(
        case_id: i64,
        store: Store,
        hub: Addr<Hub>,
        registry: CaseSessions,
        arbiter: &ArbiterHandle,
    ) -> SessionEntry {
        let instance = NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed);
        let registry_for_actor = registry.clone();
        let addr = CaseSession::start_in_arbiter(arbiter, move |_| CaseSession {
            case_id,
            instance,
            store,
            hub,
            registry: registry_for_actor,
            viewers: HashMap::new(),
            last_typing: HashMap::new(),
            last_used: Instant::now(),
            exists: None,
        });
        SessionEntry { instance, addr }
    }

    /// Runs one write to the case, alone: no other message is handled until it is done.
    fn write<T: 'static>(
        &mut self,
        write: impl Future<Output = Result<T, StoreError>> + 'static,
    ) -> AtomicResponse<Self, Result<T, StoreError>> {
        AtomicResponse::new(Box::pin(write.into_actor(self).map(
            |result, session, _| {
                session.last_used = Instant::now();
                result
            },
        )))
    }
}

impl Actor for CaseSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(IDLE_AFTER / 4, |session, ctx| {
            if session.viewers.is_empty() && session.last_used.elapsed() >= IDLE_AFTER {
                ctx.stop();
            }
        });
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        let instance = self.instance;
        self.registry
            .remove_if(&self.case_id, |_, entry| entry.instance == instance);
        Running::Stop
    }
}

#[derive(Message, Clone)]
#[rtype(result = "Result<Case, StoreError>")]
pub struct UpdateCase {
    pub actor: User,
    pub patch: CasePatch,
}

#[derive(Message, Clone)]
#[rtype(result = "Result<Case, StoreError>")]
pub struct DeleteCase {
    pub actor: User,
}

#[derive(Message, Clone)]
#[rtype(result = "Result<Created<Communication>, StoreError>")]
pub struct PostMessage {
    pub sender: User,
    pub message: NewCommunication,
    pub key: Option<IdempotencyKey>,
}

/// A socket started or stopped watching the case.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Viewer {
    pub socket_id: SocketId,
    pub user_id: i64,
    pub watching: bool,
}

/// A user is typing on the case.
#[derive(Message, Clone)]
#[rtype(result = "Result<(), StoreError>")]
pub struct Typing {
    pub user_id: i64,
}

impl Handler<UpdateCase> for CaseSession {
    type Result = AtomicResponse<Self, Result<Case, StoreError>>;
    fn handle(&mut self, msg: UpdateCase, _: &mut Context<Self>) -> Self::Result {
        let (store, id) = (self.store.clone(), self.case_id);
        self.write(async move { store.update_case(id, &msg.actor, &msg.patch).await })
    }
}

impl Handler<DeleteCase> for CaseSession {
    type Result = AtomicResponse<Self, Result<Case, StoreError>>;
    fn handle(&mut self, msg: DeleteCase, _: &mut Context<Self>) -> Self::Result {
        let (store, id) = (self.store.clone(), self.case_id);
        self.exists = None;
        self.write(async move { store.delete_case(id, &msg.actor).await })
    }
}

impl Handler<PostMessage> for CaseSession {
    type Result = AtomicResponse<Self, Result<Created<Communication>, StoreError>>;
    fn handle(&mut self, msg: PostMessage, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        self.write(async move {
            store
                .create_communication(&msg.sender, &msg.message, msg.key.as_ref())
                .await
        })
    }
}

impl Handler<Viewer> for CaseSession {
    type Result = ();
    fn handle(&mut self, msg: Viewer, _: &mut Context<Self>) {
        if msg.watching {
            self.viewers.insert(msg.socket_id, msg.user_id);
        } else {
            self.viewers.remove(&msg.socket_id);
            self.last_used = Instant::now();
        }
    }
}

impl Handler<Typing> for CaseSession {
    type Result = ResponseActFuture<Self, Result<(), StoreError>>;
    fn handle(&mut self, msg: Typing, _: &mut Context<Self>) -> Self::Result {
        // The case is looked up once per session; typing on a missing case is an error.
        let lookup = self
            .exists
            .is_none()
            .then(|| (self.store.clone(), self.case_id));
        let check = async move {
            let Some((store, id)) = lookup else {
                return Ok(None);
            };
            match store.find_case(id).await {
                Ok(_) => Ok(Some(true)),
                Err(StoreError::NotFound(_)) => Ok(Some(false)),
                Err(error) => Err(error),
            }
        };
        Box::pin(check.into_actor(self).map(move |checked, session, _| {
            if let Some(exists) = checked? {
                session.exists = Some(exists);
            }
            if session.exists != Some(true) {
                return Err(StoreError::NotFound("Case"));
            }
            let now = Instant::now();
            session.last_used = now;
            let recent = session
                .last_typing
                .get(&msg.user_id)
                .is_some_and(|at| now.duration_since(*at) < TYPING_EVERY);
            if !recent {
                session.last_typing.insert(msg.user_id, now);
                session.hub.do_send(Broadcast {
                    topic: protocol::Topic::Case(session.case_id).name(),
                    frame: protocol::typing(session.case_id, msg.user_id),
                    except_user: Some(msg.user_id),
                    from_bus: false,
                });
            }
            Ok(())
        }))
    }
}
