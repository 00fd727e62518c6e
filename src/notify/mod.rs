//! Notifications that leave the building: signed webhooks to partners' systems and email over
//! SMTP. Both read durable outboxes written in the same transaction as the change, so nothing
//! accepted is lost to a crash, a restart or a receiver that is down.

pub mod address;
pub mod mail;
pub mod signing;
pub mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::store::Store;

/// Tells the dispatchers to stop taking new work.
#[derive(Clone, Default)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl Shutdown {
    pub fn request(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    pub async fn requested(&self) {
        let notified = self.notify.notified();
        if !self.is_requested() {
            notified.await;
        }
    }
}

/// The running dispatchers.
pub struct Notifier {
    shutdown: Shutdown,
    tasks: Vec<JoinHandle<()>>,
}

impl Notifier {
    /// Starts the webhook dispatcher, and the mailer when `HELPLINE_SMTP_URL` is set.
    pub fn start(store: &Store, settings: &Settings) -> Result<Notifier, String> {
        let shutdown = Shutdown::default();
        let (finished, outcomes) = tokio::sync::mpsc::unbounded_channel();
        let dispatcher = webhooks::Dispatcher::new(
            store.clone(),
            settings.webhook_retry_schedule.clone(),
            settings.webhook_timeout,
            settings.webhook_concurrency,
            settings.webhook_allow_private,
            finished,
        )
        .map_err(|e| format!("webhooks: cannot build the HTTP client: {e}"))?;
        // The dispatcher first, then the recorder, which ends once the dispatcher and its
        // attempts are gone and every outcome is written.
        let mut tasks = vec![
            actix_web::rt::spawn(Arc::new(dispatcher).run(shutdown.clone())),
            actix_web::rt::spawn(webhooks::record(store.clone(), outcomes)),
        ];
        match &settings.smtp_url {
            Some(url) => {
                let mailer = mail::Mailer::new(
                    store.clone(),
                    url,
                    &settings.mail_from,
                    settings.public_url.clone(),
                    settings.mail_retry_schedule.clone(),
                )?;
                tasks.push(actix_web::rt::spawn(mailer.run(shutdown.clone())));
            }
            None => tracing::info!(
                "email is off (HELPLINE_SMTP_URL is not set); emails wait in the outbox"
            ),
        }
        Ok(Notifier { shutdown, tasks })
    }

    /// Stops taking new work and waits for the attempts in hand.
    pub async fn stop(self) {
        self.shutdown.request();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
