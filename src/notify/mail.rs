//! The mailer: sends the emails of the outbox over SMTP (lettre), one mail function per kind,
//! plain text, retried on the schedule until sent or given up. Staff emails carry the case
//! reference and a link, never the narrative: email is not a safe place for a child's story.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::Shutdown;
use crate::config::RetrySchedule;
use crate::domain::time::Timestamp;
use crate::store::{DueEmail, Store};

const LEASE: Duration = Duration::from_secs(120);
/// One at a time: each email's lease starts when it is about to be sent.
const BATCH: i64 = 1;

pub struct Mailer {
    store: Store,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: Option<String>,
    schedule: RetrySchedule,
}

impl Mailer {
    /// Checks the SMTP URL and the sender; connects only when sending.
    pub fn new(
        store: Store,
        smtp_url: &str,
        from: &str,
        public_url: Option<String>,
        schedule: RetrySchedule,
    ) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| format!("HELPLINE_SMTP_URL: {e}"))?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        let from = from
            .parse()
            .map_err(|e| format!("HELPLINE_MAIL_FROM: {e}"))?;
        Ok(Mailer {
            store,
            transport,
            from,
            public_url: public_url.map(|url| url.trim_end_matches('/').to_string()),
            schedule,
        })
    }

    /// Sends due emails until `shutdown`, finishing the one in hand.
    pub async fn run(self, shutdown: Shutdown) {
        while !shutdown.is_requested() {
            let lease_until = Timestamp(Timestamp::now().millis() + LEASE.as_millis() as i64);
            match self.store.claim_emails(BATCH, lease_until).await {
                Ok(emails) if !emails.is_empty() => {
                    for email in emails {
                        if shutdown.is_requested() {
                            // Claimed but not sent: due again at once, for the next start.
                            if let Err(error) = self.store.release_email(email.id).await {
                                tracing::warn!(%error, email = email.id, "mail: could not release an email");
                            }
                            continue;
                        }
                        self.send(&email).await;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "mail: could not claim emails"),
            }
            tokio::select! {
                _ = self.store.outbox.mail.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.requested() => {}
            }
        }
    }

    async fn send(&self, email: &DueEmail) {
        let result = match self.compose(email) {
            Ok(message) => self
                .transport
                .send(message)
                .await
                .map(drop)
                .map_err(|e| (e.is_permanent(), e.to_string())),
            Err(error) => Err((true, error)),
        };
        let retry_at = match &result {
            // A permanent refusal (a bad address) is not retried.
            Err((false, _)) => self
                .schedule
                .delay_after(email.attempts + 1)
                .map(|delay| Timestamp(Timestamp::now().millis() + delay.as_millis() as i64)),
            _ => None,
        };
        let outcome = match (&result, retry_at) {
            (Ok(()), _) => "sent",
            (Err(_), Some(_)) => "retry",
            (Err(_), None) => "failed",
        };
        metrics::counter!("emails_total", "outcome" => outcome).increment(1);
        match &result {
            Ok(()) => tracing::info!(email = email.id, kind = %email.kind, "mail sent"),
            Err((_, error)) => tracing::warn!(
                email = email.id,
                kind = %email.kind,
                attempt = email.attempts + 1,
                retrying = retry_at.is_some(),
                %error,
                "mail not sent"
            ),
        }
        let result = result.map_err(|(_, error)| error);
        for retry in 1..=5u64 {
            match self
                .store
                .record_email(email, result.clone(), retry_at)
                .await
            {
                Ok(()) => break,
                Err(error) if retry == 5 => {
                    // Its lease runs out and it is sent again: at least once.
                    tracing::warn!(%error, email = email.id, "mail: could not record a send");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200 * retry)).await,
            }
        }
    }

    fn compose(&self, email: &DueEmail) -> Result<Message, String> {
        let to: Mailbox = email
            .recipient
            .parse()
            .map_err(|e| format!("bad recipient: {e}"))?;
        let (subject, body) = match email.kind.as_str() {
            "message" => self.client_message(email),
            "assignment" => self.assignment(email),
            _ => self.escalation(email),
        };
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| e.to_string())
    }

    /// An outbound message to a client: the message itself, under a neutral subject.
    fn client_message(&self, email: &DueEmail) -> (String, String) {
        let subject = format!("Your message, reference {}", email.case_id);
        let body = email.message_body.clone().unwrap_or_default();
        (subject, format!("{body}\n\nReference: {}\n", email.case_id))
    }

    fn assignment(&self, email: &DueEmail) -> (String, String) {
        let subject = format!("Case #{} was assigned to you", email.case_id);
        (subject, self.case_summary(email, "was assigned to you"))
    }

    fn escalation(&self, email: &DueEmail) -> (String, String) {
        let subject = format!(
            "Case #{} needs a supervisor ({}, {})",
            email.case_id, email.case_status, email.case_priority
        );
        (subject, self.case_summary(email, "needs a supervisor"))
    }

    fn case_summary(&self, email: &DueEmail, what: &str) -> String {
        let mut text = format!(
            "Case #{} {what}.\n\nType: {}\nStatus: {}\nPriority: {}\n",
            email.case_id, email.case_type, email.case_status, email.case_priority
        );
        if let Some(url) = &self.public_url {
            text.push_str(&format!("\nOpen it: {url}/cases/{}\n", email.case_id));
        }
        text
    }
}
