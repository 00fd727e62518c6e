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

    /// `Err(seconds to wait)` when the email or the address is over its limit.
    pub fn check(&self, email: &str, ip: &str) -> Result<(), u64> {
        let waits = [
            self.wait(&email_key(email), self.max_per_email),
            self.wait(&ip_key(ip), self.max_per_ip),
        ];
        waits.into_iter().flatten().max().map_or(Ok(()), Err)
    }

    /// Seconds until `key` drops under `limit`, if it is at it.
    fn wait(&self, key: &str, limit: usize) -> Option<u64> {
        let now = Instant::now();
        let mut times = self.failures.get_mut(key)?;
        times.retain(|t| now.duration_since(*t) < self.window);
        if times.len() < limit {
            return None;
        }
        let oldest = times[times.len() - limit];
        Some(
            self.window
                .saturating_sub(now.duration_since(oldest))
                .as_secs()
                .max(1),
        )
    }

    pub fn record_failure(&self, email: &str, ip: &str) {
        let now = Instant::now();
        if self.failures.len() > SWEEP_ABOVE_KEYS {
            self.failures.retain(|_, times| {
                times
                    .last()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        for key in [email_key(email), ip_key(ip)] {
            self.failures.entry(key).or_default().push(now);
        }
    }

    /// Forgets the failures of `email` (after a successful login); the address keeps its count.
    pub fn clear_email(&self, email: &str) {
        self.failures.remove(&email_key(email));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_limit_and_success_clears_only_the_email() {
        let throttle = LoginThrottle::new(2, 3, Duration::from_secs(60));
        throttle.record_failure("a", "1");
        throttle.record_failure("a", "1");
        assert!(throttle.check("a", "2").is_err(), "email a is at its limit");
        assert!(throttle.check("b", "1").is_ok(), "address 1 has 2 of 3");
        throttle.record_failure("b", "1");
        assert!(
            throttle.check("c", "1").is_err(),
            "address 1 is at its limit"
        );
        throttle.clear_email("a");
        assert!(throttle.check("a", "2").is_ok());
        assert!(throttle.check("a", "1").is_err());
    }
}
