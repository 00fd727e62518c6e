//! The failed-login throttle: too many failures for one email, or from one client address,
//! within the window and further attempts are refused (429) until the oldest failure ages out.
//! Kept in memory, per node.

use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Above this many tracked keys, stale ones are swept on the next failure.
const SWEEP_ABOVE_KEYS: usize = 10_000;

/// Recent failures per key (`email:…` or `ip:…`), each kind with its own limit.
pub struct LoginThrottle {
    failures: DashMap<String, Vec<Instant>>,
    max_per_email: usize,
    max_per_ip: usize,
    window: Duration,
}

fn email_key(email: &str) -> String {
    format!("email:{email}")
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

impl LoginThrottle {
    pub fn new(max_per_email: u32, max_per_ip: u32, window: Duration) -> Self {
        let limit = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        LoginThrottle {
            failures: DashMap::new(),
            max_per_email: limit(max_per_email),
            max_per_ip: limit(max_per_ip),
            window,
        }
    }

    /// Starts a login attempt: `Err(seconds to wait)` when the email or the address is at its
    /// limit; otherwise the attempt is counted as a failure right away (so concurrent guesses
    /// cannot slip past the limit while passwords are being checked) and its time returned.
    pub fn begin_attempt(&self, email: &str, ip: &str) -> Result<Instant, u64> {
        let now = Instant::now();
        self.sweep(now);
        let email_key = email_key(email);
        self.count(&email_key, self.max_per_email, now)?;
        if let Err(wait) = self.count(&ip_key(ip), self.max_per_ip, now) {
            self.forget(&email_key, now);
            return Err(wait);
        }
        Ok(now)
    }

    /// A login that started at `started` succeeded: the email's failures are forgotten, and
    /// this attempt no longer counts against the address.
    pub fn succeeded(&self, email: &str, ip: &str, started: Instant) {
        self.failures.remove(&email_key(email));
        self.forget(&ip_key(ip), started);
    }

    /// Adds an attempt at `now` to `key` unless it is at `limit` (then: seconds to wait).
    fn count(&self, key: &str, limit: usize, now: Instant) -> Result<(), u64> {
        let mut times = self.failures.entry(key.to_string()).or_default();
        times.retain(|t| now.duration_since(*t) < self.window);
        if times.len() >= limit {
            let oldest = times[times.len() - limit];
            return Err(self
                .window
                .saturating_sub(now.duration_since(oldest))
                .as_secs()
                .max(1));
        }
        times.push(now);
        Ok(())
    }

    fn forget(&self, key: &str, at: Instant) {
        if let Some(mut times) = self.failures.get_mut(key)
            && let Some(position) = times.iter().position(|t| *t == at)
        {
            times.remove(position);
        }
    }

    fn sweep(&self, now: Instant) {
        if self.failures.len() > SWEEP_ABOVE_KEYS {
            self.failures.retain(|_, times| {
                times
                    .last()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_limit_and_success_clears_only_the_email() {
        let throttle = LoginThrottle::new(2, 3, Duration::from_secs(60));
        throttle.begin_attempt("a", "1").unwrap();
        throttle.begin_attempt("a", "1").unwrap();
        assert!(
            throttle.begin_attempt("a", "2").is_err(),
            "email a is at its limit"
        );
        let started = throttle.begin_attempt("b", "1").unwrap();
        assert!(
            throttle.begin_attempt("c", "1").is_err(),
            "address 1 is at its limit"
        );
        throttle.succeeded("b", "1", started);
        assert!(
            throttle.begin_attempt("c", "1").is_ok(),
            "b's success no longer counts"
        );
        assert!(throttle.begin_attempt("a", "1").is_err());
    }
}
