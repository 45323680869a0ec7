//! One robust RTT value per control cycle from all samples that arrived in it.
//!
//! # The statistic, and why
//! 1. **Plausibility filter per sample:** an RTT of zero, below `min_rtt` or above `max_rtt` cannot be a real
//!    path (clock bugs, timestamp wrap, a peer echoing an ancient TSval) and is counted as `invalid`; a sample
//!    older than `max_age` at the cycle's time is counted as `stale`. Neither reaches any state.
//! 2. **One value per flow: its minimum in the cycle.** Queueing delay only ever adds to a path's RTT, and
//!    delayed ACKs or a sender's own stalls inflate single samples, so the smallest sample of a flow is its
//!    least-disturbed view of the queue. Taking one value per flow also means an elephant flow that delivered
//!    900 of 1,000 samples counts once, exactly like a mouse flow: every flow that crossed the bottleneck votes
//!    once on how much queue it saw.
//! 3. **Outlier filter across flows:** with three or more flows, flows further than `outlier_sigma` scaled
//!    MADs (at least `outlier_floor`) from the cross-flow median are dropped and counted (`outlier_flows`):
//!    a flow to a far-away server, or one with broken timestamps, says nothing about the shared bottleneck.
//! 4. **Median of the remaining flows.** All flows through the bottleneck see the same standing queue, so
//!    every flow's value is base RTT plus that queue; the median needs half the flows to be wrong before it
//!    moves, while a low percentile would follow the nearest server of the moment and a mean one bad flow.
//!
//! The aggregator keeps fixed-size scratch tables, allocated once, so a cycle never allocates.

use std::time::Duration;

use super::sample::{RttSample, Timestamp};

/// Limits a sample must satisfy to be used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleFilter {
    /// Smallest plausible RTT.
    pub min_rtt: Duration,
    /// Largest plausible RTT.
    pub max_rtt: Duration,
    /// Samples older than this at the cycle's time are stale.
    pub max_age: Duration,
    /// Flows further than this many scaled MADs from the median are outliers.
    pub outlier_sigma: f64,
    /// The outlier distance is never below this, in milliseconds (MAD is 0 when flows agree exactly).
    pub outlier_floor_ms: f64,
}

/// What one cycle's samples amounted to.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct CycleStats {
    /// The cycle's RTT statistic in milliseconds; `None` when no sample was usable (idle link).
    pub rtt_ms: Option<f64>,
    /// Samples that passed the plausibility and age checks.
    pub used: u32,
    /// Distinct flows among the used samples.
    pub flows: u32,
    /// Samples rejected as implausible (zero, below `min_rtt`, above `max_rtt`).
    pub invalid: u32,
    /// Samples rejected as too old.
    pub stale: u32,
    /// Flows dropped by the cross-flow outlier filter.
    pub outlier_flows: u32,
    /// Samples ignored because the cycle already had `max_flows` distinct flows.
    pub overflow: u32,
}

/// MAD of a normal distribution is 0.6745 sigma; this scales MAD to sigma.
const MAD_TO_SIGMA: f64 = 1.4826;

/// One flow's entry in the open-addressing table; `generation` says which cycle wrote it.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    flow: u64,
    min_ns: u64,
    generation: u32,
}

/// Per-cycle aggregation with preallocated tables (open addressing keyed by flow id).
#[derive(Debug, Clone)]
pub struct CycleAggregator {
    filter: SampleFilter,
    max_flows: usize,
    mask: usize,
    slots: Vec<Slot>,
    generation: u32,
    used_slots: Vec<usize>,
    values: Vec<u64>,
    scratch: Vec<u64>,
}

impl CycleAggregator {
    /// An aggregator for up to `max_flows` distinct flows per cycle (at least 1).
    pub fn new(filter: SampleFilter, max_flows: usize) -> Self {
        let max_flows = max_flows.max(1);
        let slots = (max_flows * 2).next_power_of_two();
        Self {
            filter,
            max_flows,
            mask: slots - 1,
            slots: vec![Slot::default(); slots],
            generation: 0,
            used_slots: Vec::with_capacity(max_flows),
            values: Vec::with_capacity(max_flows),
            scratch: Vec::with_capacity(max_flows),
        }
    }

    /// Aggregates the samples of the cycle ending at `now`.
    pub fn aggregate(&mut self, now: Timestamp, samples: &[RttSample]) -> CycleStats {
        let mut stats = CycleStats::default();
        self.next_generation();
        self.used_slots.clear();
        let min_ns = self.filter.min_rtt.as_nanos().max(1);
        let max_ns = self.filter.max_rtt.as_nanos();
        for sample in samples {
            let rtt = sample.rtt.as_nanos();
            if rtt < min_ns || rtt > max_ns {
                stats.invalid += 1;
                continue;
            }
            if now.saturating_since(sample.at) > self.filter.max_age {
                stats.stale += 1;
                continue;
            }
            // Bounded by max_rtt (at most 60 s by validation), so it fits in u64 nanoseconds.
            if self.insert(sample.flow, rtt as u64) {
                stats.used += 1;
            } else {
                stats.overflow += 1;
            }
        }
        stats.flows = self.used_slots.len() as u32;
        if self.used_slots.is_empty() {
            return stats;
        }
        self.values.clear();
        let slots = &self.slots;
        self.values
            .extend(self.used_slots.iter().map(|&slot| slots[slot].min_ns));
        let (rtt_ns, outliers) = self.robust_median();
        stats.rtt_ms = Some(rtt_ns / 1e6);
        stats.outlier_flows = outliers;
        stats
    }

    fn next_generation(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Once every 2^32 cycles: forget all slots explicitly instead of trusting stale generations.
            self.slots.iter_mut().for_each(|slot| slot.generation = 0);
            self.generation = 1;
        }
    }

    /// Records `rtt_ns` for `flow`, keeping the flow's minimum. Returns false when the flow is new and the
    /// table is full.
    fn insert(&mut self, flow: u64, rtt_ns: u64) -> bool {
        let mut index = (flow.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask;
        loop {
            let slot = &mut self.slots[index];
            if slot.generation != self.generation {
                if self.used_slots.len() >= self.max_flows {
                    return false;
                }
                *slot = Slot {
                    flow,
                    min_ns: rtt_ns,
                    generation: self.generation,
                };
                self.used_slots.push(index);
                return true;
            }
            if slot.flow == flow {
                slot.min_ns = slot.min_ns.min(rtt_ns);
                return true;
            }
            index = (index + 1) & self.mask;
        }
    }

    /// Median over flows after dropping outliers; returns (median in ns, flows dropped).
    fn robust_median(&mut self) -> (f64, u32) {
        let median = median_in_place(&mut self.values);
        if self.values.len() < 3 {
            return (median, 0);
        }
        self.scratch.clear();
        // Doubled distances keep the half nanosecond of an even-length median exact in integers.
        let twice_median = (median * 2.0) as u64;
        self.scratch
            .extend(self.values.iter().map(|&v| (2 * v).abs_diff(twice_median)));
        let mad_ns = median_in_place(&mut self.scratch) / 2.0;
        let limit_ns = (self.filter.outlier_sigma * MAD_TO_SIGMA * mad_ns)
            .max(self.filter.outlier_floor_ms * 1e6);
        let before = self.values.len();
        self.values
            .retain(|&v| (2 * v).abs_diff(twice_median) as f64 <= 2.0 * limit_ns);
        let dropped = (before - self.values.len()) as u32;
        if dropped == 0 {
            return (median, 0);
        }
        (median_in_place(&mut self.values), dropped)
    }
}

/// Median of a non-empty slice (mean of the two middle values for even lengths); reorders the slice.
pub(super) fn median_in_place(values: &mut [u64]) -> f64 {
    let n = values.len();
    let mid = n / 2;
    let (below, upper, _) = values.select_nth_unstable(mid);
    let upper = *upper;
    if n % 2 == 1 {
        return upper as f64;
    }
    let lower = below.iter().copied().max().unwrap_or(upper);
    (lower as f64 + upper as f64) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::SampleKind;

    fn filter() -> SampleFilter {
        SampleFilter {
            min_rtt: Duration::from_micros(100),
            max_rtt: Duration::from_secs(10),
            max_age: Duration::from_secs(1),
            outlier_sigma: 3.0,
            outlier_floor_ms: 2.0,
        }
    }

    fn sample(flow: u64, ms: f64, at: Timestamp) -> RttSample {
        RttSample {
            at,
            rtt: Duration::from_secs_f64(ms / 1e3),
            kind: SampleKind::Download,
            flow,
            peer_tsval: None,
        }
    }

    #[test]
    fn an_elephant_flow_counts_once() {
        let now = Timestamp::from_nanos(5_000_000_000);
        let mut samples: Vec<_> = (0..900)
            .map(|i| sample(7, 80.0 + f64::from(i % 10), now))
            .collect();
        samples.extend((1..=4).map(|flow| sample(flow, 20.0 + flow as f64, now)));
        let stats = CycleAggregator::new(filter(), 64).aggregate(now, &samples);
        assert_eq!(stats.flows, 5);
        assert_eq!(stats.used, 904);
        // Flows at 21..24 ms and one at 80 ms: the elephant is an outlier, the median is the others'.
        assert_eq!(stats.outlier_flows, 1);
        assert_eq!(stats.rtt_ms, Some(22.5));
    }

    #[test]
    fn each_flow_contributes_its_minimum() {
        let now = Timestamp::from_nanos(1_000_000_000);
        let samples = [
            sample(1, 30.0, now),
            sample(1, 25.0, now),
            sample(1, 40.0, now),
        ];
        let stats = CycleAggregator::new(filter(), 4).aggregate(now, &samples);
        assert_eq!(stats.rtt_ms, Some(25.0));
    }

    #[test]
    fn implausible_stale_and_overflowing_samples_are_counted_not_used() {
        let now = Timestamp::from_nanos(3_000_000_000);
        let old = Timestamp::from_nanos(1_000_000_000);
        let samples = [
            sample(1, 0.0, now),
            sample(2, 20_000.0, now),
            sample(3, 20.0, old),
            sample(4, 20.0, now),
            sample(5, 21.0, now),
        ];
        let stats = CycleAggregator::new(filter(), 1).aggregate(now, &samples);
        assert_eq!(
            (stats.invalid, stats.stale, stats.overflow, stats.used),
            (2, 1, 1, 1)
        );
        assert_eq!(stats.rtt_ms, Some(20.0));
        let none = CycleAggregator::new(filter(), 1).aggregate(now, &samples[..3]);
        assert_eq!(none.rtt_ms, None);
    }

    #[test]
    fn tables_are_reused_across_cycles() {
        let mut agg = CycleAggregator::new(filter(), 8);
        for cycle in 1..50u64 {
            let now = Timestamp::from_nanos(cycle * 50_000_000);
            let ms = 10.0 + cycle as f64;
            let samples = [sample(1, ms, now), sample(2, ms, now)];
            let stats = agg.aggregate(now, &samples);
            assert_eq!(
                stats.rtt_ms,
                Some(ms),
                "no leftovers from the previous cycle"
            );
        }
    }
}
