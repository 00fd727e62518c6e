//! `Dashboard`: the live `dashboard` topic. It hears of every committed event (of this node or,
//! through the bus, of others) and every presence change, and while anyone watches it pushes
//! the `/dashboard/stats` object when it has changed, at most 4 times a second. The object is
//! built by [`stats`], the very function `GET /dashboard/stats` answers with, so the push and
//! the REST answer always agree. Building it is cheap at any size: the totals are running
//! tallies kept by every case write in its own transaction (`store/tallies.rs`), and "today"
//! reads only today's rows; it happens at most 4 times a second while changes happen and
//! someone watches, never once per event.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde_json::{Map, Value, json};

use super::hub::{Broadcast, HasSubscribers, Hub};
use super::presence::{Presence, Snapshot};
use super::ws_session::{Deliver, WsSession};
use crate::domain::case::{CaseStatus, Priority};
use crate::domain::time::Timestamp;
use crate::store::{Store, StoreError, average_seconds};

/// Pushes are at least this far apart.
const PUSH_EVERY: Duration = Duration::from_millis(250);

/// The topic's name.
pub const TOPIC: &str = "dashboard";

/// The `/dashboard/stats` object.
pub async fn stats(store: &Store, presence: &Addr<Presence>) -> Result<Value, StoreError> {
    let counts = store.case_counts(Timestamp::start_of_today()).await?;
    let agents: HashSet<i64> = store.active_agent_ids().await?.into_iter().collect();
    let online = presence.send(Snapshot).await.unwrap_or_default();
    let agents_online = online
        .iter()
        .filter(|entry| agents.contains(&entry.user_id))
        .count();
    let count = |map: &std::collections::BTreeMap<String, i64>, key: &str| {
        json!(map.get(key).copied().unwrap_or(0))
    };
    // Every status and priority is present, 0 included, in lifecycle order.
    let by_status: Map<String, Value> = CaseStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), count(&counts.by_status, s.as_str())))
        .collect();
    let by_priority: Map<String, Value> = Priority::ALL
        .iter()
        .map(|p| {
            (
                p.as_str().to_string(),
                count(&counts.by_priority, p.as_str()),
            )
        })
        .collect();
    let total: i64 = counts.by_status.values().sum();
    let closed = counts.by_status.get("closed").copied().unwrap_or(0);
    let (first_sum, first_count) = counts.first_response;
    let (resolution_sum, resolution_count) = counts.resolution;
    Ok(json!({
        "total_cases": total,
        "open_cases": total - closed,
        "by_status": by_status,
        "by_priority": by_priority,
        "cases_today": counts.cases_today,
        "closed_today": counts.closed_today,
        "messages_today": counts.messages_today,
        "agents_online": agents_online,
        "avg_first_response_seconds": average_seconds(first_sum, first_count),
        "avg_resolution_seconds": average_seconds(resolution_sum, resolution_count),
    }))
}

pub struct Dashboard {
    store: Store,
    hub: Addr<Hub>,
    presence: Addr<Presence>,
    /// Something changed since the last object was built.
    dirty: bool,
    /// A build is running.
    building: bool,
    /// The object last built, and the day it counts "today" for.
    last: Option<(Arc<Value>, Timestamp)>,
    /// New subscribers waiting for the object being built.
    waiting: Vec<Addr<WsSession>>,
}

impl Dashboard {
    pub fn new(store: Store, hub: Addr<Hub>, presence: Addr<Presence>) -> Self {
        Dashboard {
            store,
            hub,
            presence,
            dirty: true,
            building: false,
            last: None,
            waiting: Vec::new(),
        }
    }

    fn frame(data: &Value) -> bytestring::ByteString {
        let frame = json!({
            "type": "dashboard", "topic": TOPIC, "data": data, "timestamp": Timestamp::now()
        });
        serde_json::to_string(&frame).unwrap_or_default().into()
    }

    /// Builds the object (unless a build runs); then pushes it to the topic if it changed,
    /// and to every socket waiting for its first one.
    fn refresh(&mut self, ctx: &mut Context<Self>) {
        if self.building {
            return;
        }
        self.dirty = false;
        self.building = true;
        // The object is of the day its build began.
        let day = Timestamp::start_of_today();
        let (store, presence) = (self.store.clone(), self.presence.clone());
        let build = actix_web::rt::spawn(async move { stats(&store, &presence).await });
        ctx.spawn(build.into_actor(self).map(move |built, dashboard, _| {
            dashboard.building = false;
            let Ok(Ok(data)) = built else {
                dashboard.dirty = true; // try again at the next tick
                return;
            };
            let changed = dashboard
                .last
                .as_ref()
                .is_none_or(|(last, _)| **last != data);
            let frame = Self::frame(&data);
            if changed {
                dashboard.hub.do_send(Broadcast {
                    topic: TOPIC.into(),
                    frame: frame.clone(),
                    except_user: None,
                    from_bus: true, // every node builds its own: nothing to forward
                });
            }
            for socket in dashboard.waiting.drain(..) {
                send_to(&socket, frame.clone());
            }
            dashboard.last = Some((Arc::new(data), day));
        }));
    }

    /// Whether the last object is still current.
    fn is_current(&self) -> bool {
        !self.dirty
            && self
                .last
                .as_ref()
                .is_some_and(|(_, day)| *day == Timestamp::start_of_today())
    }
}

fn send_to(socket: &Addr<WsSession>, frame: bytestring::ByteString) {
    socket.do_send(Deliver {
        topic: TOPIC.into(),
        seq: None,
        frame,
    });
}

impl Actor for Dashboard {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(PUSH_EVERY, |dashboard, ctx| {
            if dashboard.is_current() || dashboard.building {
                return;
            }
            // Build only while someone watches; otherwise stay dirty for the next watcher.
            let watched = dashboard.hub.send(HasSubscribers(TOPIC));
            ctx.spawn(
                watched
                    .into_actor(dashboard)
                    .map(|watched, dashboard, ctx| {
                        if watched.unwrap_or(false) {
                            dashboard.refresh(ctx);
                        }
                    }),
            );
        });
    }
}

/// Something the stats depend on changed (a committed event, a presence change).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Changed;

impl Handler<Changed> for Dashboard {
    type Result = ();
    fn handle(&mut self, _: Changed, _: &mut Context<Self>) {
        self.dirty = true;
    }
}

/// A new subscriber: it gets the current object at once.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SendCurrent {
    pub socket: Addr<WsSession>,
}

impl Handler<SendCurrent> for Dashboard {
    type Result = ();
    fn handle(&mut self, msg: SendCurrent, ctx: &mut Context<Self>) {
        match &self.last {
            Some((data, _)) if self.is_current() => send_to(&msg.socket, Self::frame(data)),
            _ => {
                self.waiting.push(msg.socket);
                self.refresh(ctx);
            }
        }
    }
}
