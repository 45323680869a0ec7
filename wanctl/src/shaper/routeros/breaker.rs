//! Retry backoff and circuit breaker in one: consecutive failures back off exponentially; past a
//! threshold the breaker opens and only one probe goes out per `open_for`. A rejected password opens it
//! at once for longer.

use std::time::Duration;

use tokio::time::Instant;

use super::config::{BreakerConfig, RetryConfig};

/// Whether requests may go now; times are passed in.
#[derive(Debug, Clone)]
pub struct Breaker {
    retry: RetryConfig,
    config: BreakerConfig,
    failures: u32,
    not_before: Option<Instant>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(retry: RetryConfig, config: BreakerConfig) -> Self {
        Self {
            retry,
            config,
            failures: 0,
            not_before: None,
        }
    }

    /// When the next request may go; `None` means now.
    pub fn not_before(&self, now: Instant) -> Option<Instant> {
        self.not_before.filter(|&t| t > now)
    }

    /// True while open: the threshold was reached and no probe has succeeded since.
    pub fn is_open(&self) -> bool {
        self.failures >= self.config.failures
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A request succeeded: close.
    pub fn on_success(&mut self) {
        self.failures = 0;
        self.not_before = None;
    }

    /// A request failed at `now`; `auth` when the router rejected the credentials. Returns the wait.
    pub fn on_failure(&mut self, now: Instant, auth: bool) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let wait = if auth {
            self.failures = self.failures.max(self.config.failures);
            self.config.auth_open_for.get()
        } else if self.is_open() {
            self.config.open_for.get()
        } else {
            let doublings = self.failures.saturating_sub(1).min(20);
            self.retry
                .initial_backoff
                .get()
                .saturating_mul(1 << doublings)
                .min(self.retry.max_backoff.get())
        };
        self.not_before = Some(now + wait);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DurationSpec;

    #[test]
    fn backs_off_then_opens_then_closes_on_success() {
        let retry = RetryConfig {
            initial_backoff: DurationSpec::from_millis(100),
            max_backoff: DurationSpec::from_millis(300),
        };
        let config = BreakerConfig {
            failures: 4,
            open_for: DurationSpec::from_secs(10),
            auth_open_for: DurationSpec::from_secs(300),
        };
        let mut b = Breaker::new(retry, config);
        let t = Instant::now();
        let waits: Vec<u64> = (0..5)
            .map(|_| b.on_failure(t, false).as_millis() as u64)
            .collect();
        assert_eq!(waits, [100, 200, 300, 10_000, 10_000]);
        assert!(b.is_open());
        assert_eq!(b.not_before(t), Some(t + Duration::from_secs(10)));
        assert_eq!(b.not_before(t + Duration::from_secs(10)), None);
        b.on_success();
        assert!(!b.is_open());
        assert_eq!(b.not_before(t), None);
        assert_eq!(b.on_failure(t, true), Duration::from_secs(300));
        assert!(b.is_open());
    }
}
