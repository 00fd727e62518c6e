//! The live side: actors that own case sessions, presence and the fan-out of committed events
//! to WebSockets. REST handlers reach them through [`Realtime`].

pub mod bus;
pub mod case_session;
pub mod dashboard;
pub mod hub;
pub mod presence;
pub mod protocol;
pub mod sockets;
pub mod ws_session;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::dev::ToEnvelope;
use actix::prelude::*;
use dashmap::DashMap;

use crate::config::Settings;
use crate::store::{Store, StoreError};
use bus::BusHealth;
use case_session::{CaseSession, CaseSessions};
use dashboard::Dashboard;
use hub::{AttachBus, AttachObserver, CloseAll, Hub, Publish};
use presence::Presence;
use sockets::Sockets;

/// Socket settings, from `HELPLINE_WS_*`.
#[derive(Debug, Clone)]
pub struct SocketSettings {
    pub max_per_user: u32,
    pub queue: usize,
    pub ping_interval: Duration,
    pub timeout: Duration,
}

/// Handles to the live actors; cheap to clone.
#[derive(Clone)]
pub struct Realtime {
    pub hub: Addr<Hub>,
    pub presence: Addr<Presence>,
    pub dashboard: Addr<Dashboard>,
    /// The store, publishing every committed event to the hub.
    pub store: Store,
    pub sockets: Arc<Sockets>,
    pub settings: SocketSettings,
    sessions: CaseSessions,
    /// Where case sessions run: the arbiter that built the application.
    home: ArbiterHandle,
    /// The bus to other nodes, when configured.
    pub bus: Option<BusHealth>,
}

impl Realtime {
    /// Starts the hub and presence on the current arbiter, connects `store` to the hub, and
    /// the hub to the other nodes when `HELPLINE_REDIS_URL` is set.
    pub async fn start(store: Store, settings: &Settings) -> Result<Realtime, redis::RedisError> {
        let hub = Hub::default().start();
        let bus = match &settings.redis_url {
            Some(url) => {
                let (sender, health) =
                    bus::connect(url, settings.redis_channel.clone(), hub.clone()).await?;
                hub.do_send(AttachBus(sender));
                tracing::info!(channel = %settings.redis_channel, "bus: connected to Redis");
                Some(health)
            }
            None => None,
        };
        let publisher = hub.clone();
        let store = store.with_publisher(Arc::new(move |events| {
            publisher.do_send(Publish {
                events,
                from_bus: false,
            });
        }));
        let presence = Presence::new(hub.clone(), store.clone(), settings.presence_grace).start();
        let dashboard = Dashboard::new(store.clone(), hub.clone(), presence.clone()).start();
        hub.do_send(AttachObserver(dashboard.clone().recipient()));
        Ok(Realtime {
            hub,
            presence,
            dashboard,
            store,
            sockets: Arc::default(),
            settings: SocketSettings {
                max_per_user: settings.ws_max_per_user,
                queue: usize::try_from(settings.ws_queue).unwrap_or(usize::MAX),
                ping_interval: settings.ws_ping_interval,
                timeout: settings.ws_timeout,
            },
            sessions: Arc::new(DashMap::new()),
            home: Arbiter::current(),
            bus,
        })
    }

    /// The session of case `id`, started when there is none.
    fn case_session(&self, id: i64) -> Addr<CaseSession> {
        if let Some(entry) = self.sessions.get(&id)
            && entry.addr.connected()
        {
            return entry.addr.clone();
        }
        // None, or one that has stopped: start one under the entry's lock, so two callers
        // never start two sessions for one case.
        let mut entry = self
            .sessions
            .entry(id)
            .or_insert_with(|| self.start_session(id));
        if !entry.addr.connected() {
            *entry = self.start_session(id);
        }
        entry.addr.clone()
    }

    fn start_session(&self, id: i64) -> case_session::SessionEntry {
        let (store, hub, registry) = (self.store.clone(), self.hub.clone(), self.sessions.clone());
        CaseSession::start_for(id, store, hub, registry, &self.home)
    }

    /// Sends `msg` to the session of case `id` and waits for its answer. A session that
    /// stopped (idle) before taking the message is replaced and the message sent again:
    /// a message a session never took was never applied.
    pub async fn on_case<M, T>(&self, id: i64, msg: M) -> Result<T, StoreError>
    where
        M: Message<Result = Result<T, StoreError>> + Clone + Send + 'static,
        T: Send + 'static,
        CaseSession: Handler<M>,
        <CaseSession as Actor>::Context: ToEnvelope<CaseSession, M>,
    {
        for _ in 0..3 {
            match self.case_session(id).send(msg.clone()).await {
                Ok(result) => return result,
                Err(MailboxError::Closed) => continue,
                Err(MailboxError::Timeout) => break,
            }
        }
        Err(StoreError::Unavailable(sqlx::Error::PoolClosed))
    }

    /// Tells the session of case `id` that a socket stopped watching it; a case with no
    /// session has no viewers to forget, so none is started for this.
    pub fn stop_viewing(&self, id: i64, viewer: case_session::Viewer) {
        if let Some(entry) = self.sessions.get(&id) {
            entry.addr.do_send(viewer);
        }
    }

    /// Sends `msg` to the session of case `id` without waiting.
    pub fn on_case_nowait<M>(&self, id: i64, msg: M)
    where
        M: Message<Result = ()> + Send + 'static,
        CaseSession: Handler<M>,
        <CaseSession as Actor>::Context: ToEnvelope<CaseSession, M>,
    {
        self.case_session(id).do_send(msg);
    }

    /// Closes every socket with 1001, after the events already published, and waits (up to
    /// `timeout`) for them to go.
    pub async fn close_all_sockets(&self, timeout: Duration) {
        let sockets = self.sockets.close_all();
        if sockets.is_empty() {
            return;
        }
        tracing::info!(sockets = sockets.len(), "closing WebSockets");
        let _ = self.hub.send(CloseAll(sockets)).await;
        let deadline = Instant::now() + timeout;
        while self.sockets.count() > 0 && Instant::now() < deadline {
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
