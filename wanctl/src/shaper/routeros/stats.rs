//! Router queue counters turned into monotonic cumulative statistics: deltas survive counter resets
//! (reboot, `reset-counters`).

use super::wire::RawCounters;
use crate::shaper::DirectionStats;

/// Accumulates one direction's counters.
#[derive(Debug, Clone, Default)]
pub struct CounterTracker {
    last: Option<RawCounters>,
    total: DirectionStats,
}

impl CounterTracker {
    /// Folds in a new reading and returns the cumulative statistics.
    pub fn update(&mut self, raw: RawCounters) -> DirectionStats {
        let delta = |now: u64, before: Option<u64>| match before {
            // A counter that went down was reset: everything it shows is new.
            Some(before) if now >= before => now - before,
            Some(_) => now,
            // The first reading is the baseline; traffic before wanctl started is not ours to count.
            None => 0,
        };
        let last = self.last;
        self.total.sent_bytes += delta(raw.bytes, last.map(|l| l.bytes));
        self.total.sent_packets += delta(raw.packets, last.map(|l| l.packets));
        self.total.dropped_packets += delta(raw.dropped, last.map(|l| l.dropped));
        self.total.backlog_bytes = raw.queued_bytes;
        self.last = Some(raw);
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(bytes: u64, packets: u64, dropped: u64) -> RawCounters {
        RawCounters {
            bytes,
            packets,
            dropped,
            queued_bytes: 7,
            queued_packets: 1,
        }
    }

    #[test]
    fn deltas_accumulate_across_a_counter_reset() {
        let mut t = CounterTracker::default();
        assert_eq!(t.update(raw(1_000, 10, 1)).sent_bytes, 0);
        let s = t.update(raw(1_500, 14, 2));
        assert_eq!(
            (s.sent_bytes, s.sent_packets, s.dropped_packets),
            (500, 4, 1)
        );
        // Router rebooted: counters start over.
        let s = t.update(raw(200, 2, 0));
        assert_eq!(
            (s.sent_bytes, s.sent_packets, s.dropped_packets),
            (700, 6, 1)
        );
        assert_eq!(s.backlog_bytes, 7);
    }
}
