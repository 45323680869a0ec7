//! Rate limiting of repeated warnings: a condition that holds for minutes must not log 20 lines per second.
//! Each kind of message is let through at most once per interval, with the count of lines held back.

use std::{collections::HashMap, time::Duration};

use tokio::time::Instant;

/// Per-kind gate for repeated log lines. Call [`Self::allow`] before logging; log only on `Some`.
#[derive(Debug)]
pub struct RateLimitedWarn {
    interval: Duration,
    kinds: HashMap<&'static str, (Instant, u64)>,
}

impl RateLimitedWarn {
    /// Lets each kind through at most once per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            kinds: HashMap::new(),
        }
    }

    /// `Some(suppressed)` when a line of `kind` may be logged at `now` (with how many were held back since the
    /// last one), `None` when it must be dropped.
    pub fn allow(&mut self, kind: &'static str, now: Instant) -> Option<u64> {
        match self.kinds.get_mut(kind) {
            Some((last, suppressed)) if now.saturating_duration_since(*last) < self.interval => {
                *suppressed += 1;
                None
            }
            Some((last, suppressed)) => {
                let held_back = *suppressed;
                (*last, *suppressed) = (now, 0);
                Some(held_back)
            }
            None => {
                self.kinds.insert(kind, (now, 0));
                Some(0)
            }
        }
    }
}

/// Logs a warning through a [`RateLimitedWarn`], adding `suppressed = N` when lines were held back.
///
/// `warn_limited!(limiter, "ewma-nan", now, wan = %name, "baseline update refused: NaN sample")`
#[macro_export]
macro_rules! warn_limited {
    ($limiter:expr, $kind:expr, $now:expr, $($rest:tt)+) => {
        if let Some(suppressed) = $limiter.allow($kind, $now) {
            ::tracing::warn!(suppressed, kind = $kind, $($rest)+);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_hertz_of_one_warning_becomes_one_line_per_interval() {
        let mut limiter = RateLimitedWarn::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let mut logged = Vec::new();
        // 30 s of a 20 Hz condition.
        for cycle in 0..600u64 {
            let now = t0 + Duration::from_millis(50 * cycle);
            if let Some(suppressed) = limiter.allow("stale-rtt", now) {
                logged.push((cycle, suppressed));
            }
        }
        assert_eq!(logged, [(0, 0), (200, 199), (400, 199)]);
    }

    #[test]
    fn kinds_are_independent() {
        let mut limiter = RateLimitedWarn::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(limiter.allow("a", t0), Some(0));
        assert_eq!(limiter.allow("a", t0), None);
        assert_eq!(limiter.allow("b", t0), Some(0));
    }

    #[tokio::test]
    async fn the_macro_logs_only_when_allowed() {
        let mut limiter = RateLimitedWarn::new(Duration::from_secs(10));
        let now = Instant::now();
        warn_limited!(limiter, "x", now, "first");
        warn_limited!(limiter, "x", now, value = 3, "second");
        assert_eq!(limiter.allow("x", now + Duration::from_secs(10)), Some(1));
    }
}
