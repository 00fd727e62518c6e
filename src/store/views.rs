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
    written: oneshot::Sender<bool>,
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
        let written = match store.insert_views(&batch).await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, views = batch.len(), "recording case views failed");
                false
            }
        };
        for view in batch.drain(..) {
            let _ = view.written.send(written);
        }
    }
}

impl Store {
    /// Records that `viewer_id` viewed case `case_id`, once it is durable.
    pub(super) async fn record_view(&self, case_id: i64, viewer_id: i64) -> Result<(), StoreError> {
        let failed =
            || StoreError::Backend(sqlx::Error::Protocol("recording the view failed".into()));
        let queue = self.views.as_ref().ok_or_else(failed)?;
        let (written, done) = oneshot::channel();
        let view = PendingView {
            case_id,
            viewer_id,
            at: Timestamp::now(),
            written,
        };
        queue.send(view).await.map_err(|_| failed())?;
        match done.await {
            Ok(true) => Ok(()),
            _ => Err(failed()),
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
