//! Sliding-window write limiter that never starves a decrease: increases may use all but one slot of
//! the window, so a decrease (the write that relieves congestion) finds a slot unless decreases
//! themselves used the whole window.

use std::{collections::VecDeque, time::Duration};

use tokio::time::Instant;

/// At most `max` writes in any `window`; times are passed in.
#[derive(Debug, Clone)]
pub struct WriteLimiter {
    max: usize,
    window: Duration,
    recent: VecDeque<Instant>,
}

impl WriteLimiter {
    /// A limiter of `max` (at least 1) writes per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        let max = usize::try_from(max.max(1)).unwrap_or(usize::MAX);
        Self {
            max,
            window,
            recent: VecDeque::with_capacity(max),
        }
    }

    /// Earliest time a write may go: `now` or later. Increases leave one slot for decreases.
    pub fn next_slot(&mut self, now: Instant, decrease: bool) -> Instant {
        while self.recent.front().is_some_and(|&t| t + self.window <= now) {
            self.recent.pop_front();
        }
        let cap = if decrease || self.max == 1 {
            self.max
        } else {
            self.max - 1
        };
        if self.recent.len() < cap {
            return now;
        }
        // The write may go once enough of the oldest writes have left the window.
        self.recent[self.recent.len() - cap] + self.window
    }

    /// Records a write at `now`.
    pub fn record(&mut self, now: Instant) {
        self.recent.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increases_keep_a_slot_for_a_decrease() {
        let t0 = Instant::now();
        let window = Duration::from_secs(10);
        let mut limiter = WriteLimiter::new(5, window);
        for i in 0..4 {
            let now = t0 + Duration::from_secs(i);
            assert_eq!(limiter.next_slot(now, false), now);
            limiter.record(now);
        }
        let now = t0 + Duration::from_secs(4);
        // A fifth increase waits for the first write to leave the window...
        assert_eq!(limiter.next_slot(now, false), t0 + window);
        // ...but a decrease goes now.
        assert_eq!(limiter.next_slot(now, true), now);
        limiter.record(now);
        // The window is full for everyone.
        assert_eq!(limiter.next_slot(now, true), t0 + window);
        assert_eq!(
            limiter.next_slot(now, false),
            t0 + window + Duration::from_secs(1)
        );
    }

    #[test]
    fn a_window_never_holds_more_than_max_writes() {
        let t0 = Instant::now();
        let window = Duration::from_secs(10);
        let mut limiter = WriteLimiter::new(3, window);
        let mut writes = Vec::new();
        let mut now = t0;
        for i in 0..200u32 {
            let slot = limiter.next_slot(now, i % 3 == 0);
            if slot <= now {
                limiter.record(now);
                writes.push(now);
            }
            now += Duration::from_millis(50);
        }
        for (i, &start) in writes.iter().enumerate() {
            let in_window = writes[i..]
                .iter()
                .take_while(|&&t| t < start + window)
                .count();
            assert!(in_window <= 3, "{in_window} writes in one window");
        }
        assert!(writes.len() >= 3);
    }
}
