//! The failed-login throttle: too many failures for one email or from one address within the
//! window and further attempts are refused (429) until the oldest failure ages out.
//! Kept in memory, per node.

use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Above this many tracked keys, stale ones are swept on the next failure.
const SWEEP_ABOVE_KEYS: usize = 10_000;

pub struct LoginThrottle {
    failures: DashMap<String, Vec<Instant>>,
    max_failures: usize,
    window: Duration,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginThrottle {
            failures: DashMap::new(),
            max_failures: usize::try_from(max_failures).unwrap_or(usize::MAX),
            window,
        }
    }

    /// `Err(seconds to wait)` when any of `keys` is over the limit.
    pub fn check(&self, keys: &[String]) -> Result<(), u64> {
        let now = Instant::now();
        let mut wait = None;
        for key in keys {
            if let Some(mut times) = self.failures.get_mut(key) {
                times.retain(|t| now.duration_since(*t) < self.window);
                if times.len() >= self.max_failures
                    && let Some(oldest) = times.first()
                {
                    let left = self.window.saturating_sub(now.duration_since(*oldest));
                    wait = wait.max(Some(left.as_secs().max(1)));
                }
            }
        }
        wait.map_or(Ok(()), Err)
    }

    pub fn record_failure(&self, keys: &[String]) {
        let now = Instant::now();
        if self.failures.len() > SWEEP_ABOVE_KEYS {
            self.failures.retain(|_, times| {
                times
                    .last()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        for key in keys {
            self.failures.entry(key.clone()).or_default().push(now);
        }
    }

    /// Forgets the failures of `key` (a successful login for that email).
    pub fn clear(&self, key: &str) {
        self.failures.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_applies_per_key_and_clears_on_success() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(60));
        let keys = ["email:a".to_string(), "ip:1".to_string()];
        throttle.record_failure(&keys);
        assert!(throttle.check(&keys).is_ok());
        throttle.record_failure(&keys);
        assert!(throttle.check(&keys).is_err());
        assert!(throttle.check(&["email:b".to_string()]).is_ok());
        throttle.clear("email:a");
        assert!(throttle.check(&["email:a".to_string()]).is_ok());
        assert!(throttle.check(&["ip:1".to_string()]).is_err());
    }
}
