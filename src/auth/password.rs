//! Argon2id password hashes. Hashing is deliberately slow and takes ~19 MiB per run, so runs
//! happen on a few threads of their own, one per core: a flood of logins queues here instead
//! of exhausting CPU, and the allocator keeps at most one 19 MiB block per hashing thread
//! (on the shared blocking pool, every thread that ever hashed kept its own: 10 simultaneous
//! logins left the process at 329 MiB).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, LazyLock, Mutex};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// A hash to check against when the email is unknown, so that a wrong email takes as long
/// as a wrong password and does not reveal who has an account.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_now("not-a-real-password").unwrap_or_default());

/// Work for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

/// Hashes and checks passwords on dedicated threads.
pub struct Passwords {
    jobs: Sender<Job>,
}

impl Default for Passwords {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..cores {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || run_jobs(&queue))
                .expect("start a password-hashing thread");
        }
        Passwords { jobs }
    }
}

/// A hashing thread: runs jobs until every `Passwords` is gone. A job that panics is logged
/// and its caller gets an error; the thread goes on with the next.
fn run_jobs(queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        if std::panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("a password hash panicked");
        }
    }
}

/// Why hashing failed: a fault of ours, never of the password.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl Passwords {
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move || hash_now(&password))
            .await
            .ok_or_else(|| HashError("the hashing threads are gone".into()))?
            .map_err(|e| HashError(e.to_string()))
    }

    /// Whether `password` matches `stored`; `None` checks against a dummy and is always false.
    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        self.run(move || verify_now(&password, stored.as_deref()))
            .await
            .unwrap_or(false)
    }

    /// Runs `work` on a hashing thread, in turn; `None` if the threads are gone.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A caller that has gone (a client that gave up) is not worth 19 MiB and a core.
            if !reply.is_closed() {
                let _ = reply.send(work());
            }
        });
        self.jobs.send(job).ok()?;
        answer.await.ok()
    }
}

fn hash_now(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

fn verify_now(password: &str, stored: Option<&str>) -> bool {
    let (hash, real) = match stored {
        Some(stored) => (stored, true),
        None => (DUMMY_HASH.as_str(), false),
    };
    let matches = PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    matches && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash_now("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify_now("correct horse", Some(&stored)));
        assert!(!verify_now("wrong horse", Some(&stored)));
        assert!(!verify_now("correct horse", None));
    }
}
