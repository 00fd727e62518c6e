//! Case views for the audit trail (`case.viewed`), written in batches. A request that shows a
//! case waits until its view has committed, as before, but views that arrive together share
//! one transaction and one fsync instead of queueing for the write gate one by one.

use tokio::sync::{mpsc, oneshot};

use super::events::{self, NewEvent};
use super::{Store, StoreError};
use crate::domain::time::Timestamp;

/// Views waiting to be written; beyond this, requests wait to enqueue theirs.
const QUEUE: usize = 1024;
/// The most views in one transaction.
const MAX_BATCH: usize = 256;

/// One view, and who waits for it to be durable.
pub(super) struct PendingView {
    case_id: i64,
    viewer_id: i64,
    at: Timestamp,
    written: oneshot::Sender<Outcome>,
}

/// What became of a batch (its cause is logged once, by the writer).
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Written,
    /// The database was busy or gone: worth a retry (503).
    Unavailable,
    Failed,
}

/// Where views are sent to be written.
pub(super) type ViewQueue = mpsc::Sender<PendingView>;

/// Starts the task that writes views through `store` (a store without a queue of its own,
/// so the task ends when the last real store is dropped).
pub(super) fn start(store: Store) -> ViewQueue {
    let (queue, pending) = mpsc::channel(QUEUE);
    tokio::spawn(write_views(store, pending));
    queue
}

async fn write_views(store: Store, mut pending: mpsc::Receiver<PendingView>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while pending.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let outcome = match store.insert_views(&batch).await {
            Ok(()) => Outcome::Written,
            Err(error) => {
                tracing::error!(%error, views = batch.len(), "recording case views failed");
                match error {
                    StoreError::Unavailable(_) => Outcome::Unavailable,
                    _ => Outcome::Failed,
                }
            }
        };
        for view in batch.drain(..) {
            let _ = view.written.send(outcome);
        }
    }
}

impl Store {
    /// Records that `viewer_id` viewed case `case_id`, once it is durable.
    pub(super) async fn record_view(&self, case_id: i64, viewer_id: i64) -> Result<(), StoreError> {
        let failed = |why: &str| sqlx::Error::Protocol(format!("recording the view {why}"));
        // Without a writer (the store is closing) the view cannot be kept: retry later.
        let unavailable = || StoreError::Unavailable(failed("found no writer"));
        let queue = self.views.as_ref().ok_or_else(unavailable)?;
        let (written, outcome) = oneshot::channel();
        let view = PendingView {
            case_id,
            viewer_id,
            at: Timestamp::now(),
            written,
        };
        queue.send(view).await.map_err(|_| unavailable())?;
        match outcome.await {
            Ok(Outcome::Written) => Ok(()),
            Ok(Outcome::Unavailable) | Err(_) => Err(StoreError::Unavailable(failed("failed"))),
            Ok(Outcome::Failed) => Err(StoreError::Backend(failed("failed"))),
        }
    }

    async fn insert_views(&self, views: &[PendingView]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for view in views {
            let event = NewEvent {
                kind: "case.viewed",
                case_id: Some(view.case_id),
                actor_id: Some(view.viewer_id),
                data: &serde_json::json!({ "case_id": view.case_id }),
                changes: None,
                topics: &[],
                at: view.at,
            };
            events::append(&mut tx, event).await?;
        }
        tx.commit().await
    }
}
