//! The queue towards us alone (the download's), from the peers' TCP timestamps.
//!
//! An RTT holds both directions' queues, so on its own it cannot say which direction to cut: a spike of
//! the upload's queue would also cut the download, and the other way round. A peer's TSval is its clock
//! when it sent the segment; the segment's arrival time minus that TSval (in the peer's units) is the
//! one-way delay towards us plus a constant per flow (the clocks' offset, which Linux even randomises per
//! connection). So each flow's smallest such value recently seen stands for its empty path, and a
//! segment's excess over it is the queue it waited in on its way to us. Aggregated like the RTT (one
//! value per flow, its minimum in the cycle; the median over flows), this is the download's delay, and
//! the RTT's delay minus it the upload's.
//!
//! The peer's clock rate is not announced: each flow's is measured over its first [`RATE_SPAN_NS`] and
//! snapped to the rates TCP stacks use (1 kHz: Linux, the BSDs, macOS, Windows; 1 MHz: Linux's
//! microsecond timestamps; 100 and 250 Hz: older kernels); a flow that matches none is measured again.
//! The minimum covers the last one to two [`WINDOW_NS`], so a peer clock drifting against ours or a
//! longer path is followed within that time rather than read as a queue for ever.
//!
//! The flow table has a fixed size, allocated once; a full table forgets its longest-silent flow. A cycle
//! looks at [`MAX_OBSERVED`] samples at most (every k-th of a busier one), so its cost stays bounded.

use super::{aggregate::median_in_place, sample::RttSample};

/// How long a flow's TSvals are watched before its clock rate is decided.
pub const RATE_SPAN_NS: u64 = 2_000_000_000;
/// Length of one window of the per-flow minimum.
pub const WINDOW_NS: u64 = 10_000_000_000;
/// A flow silent this long is forgotten (its slot is free).
const FORGET_NS: u64 = 60_000_000_000;
/// Peer clock rates accepted, in ticks per second.
const CLOCK_RATES_HZ: [u64; 4] = [1_000_000, 1000, 250, 100];
/// A measured rate within this share of an accepted one is taken as that one.
const RATE_TOLERANCE: f64 = 0.25;
/// Slots examined for a flow before the longest-silent one is replaced.
const PROBE_LIMIT: usize = 16;
/// Samples looked at per cycle at most: a busier cycle is sampled evenly (every k-th sample), which keeps
/// the cycle's cost bounded; a median over this many flows' values needs no more.
const MAX_OBSERVED: usize = 64;

/// One flow's clock.
#[derive(Debug, Clone, Copy, Default)]
struct FlowClock {
    flow: u64,
    /// Arrival of the latest sample, ns; 0 marks a free slot.
    last_seen_ns: u64,
    /// Arrival of the sample the clock rate is measured from.
    anchor_ns: u64,
    /// Peer ticks since the anchor (summed from successive TSvals, so the 32-bit TSval may wrap).
    ticks: i64,
    last_tsval: u32,
    /// Length of one peer tick; 0 while the rate is still measured.
    tick_ns: u64,
    window_start_ns: u64,
    min_current_ns: i64,
    min_previous_ns: i64,
    /// The flow's smallest RTT: a segment cannot have queued longer on its way in than its round trip
    /// queued in all.
    min_rtt_ns: u64,
    /// The cycle numbered `cycle` has this flow's smallest excess at `minima[cycle_slot]`.
    cycle: u32,
    cycle_slot: u32,
}

/// Per-flow one-way delay state and the per-cycle aggregate. A cycle does not allocate.
#[derive(Debug, Clone)]
pub struct DownstreamDelay {
    flows: Vec<FlowClock>,
    mask: usize,
    /// Numbers the cycles, so a slot knows whether its entry in `minima` is this cycle's.
    cycle: u32,
    /// Each flow's smallest excess in this cycle, ns (kept even if the flow's slot is taken over).
    minima: Vec<u64>,
}

impl DownstreamDelay {
    /// A table for about `max_flows` concurrent flows.
    pub fn new(max_flows: usize) -> Self {
        let slots = (max_flows.max(32) * 2).next_power_of_two();
        Self {
            flows: vec![FlowClock::default(); slots],
            mask: slots - 1,
            cycle: 0,
            minima: Vec::with_capacity(MAX_OBSERVED),
        }
    }

    /// The cycle's download queue delay in ms: the median over flows of each flow's smallest excess in
    /// the cycle. `None` when no sample carried a usable peer timestamp.
    pub fn cycle(&mut self, samples: &[RttSample]) -> Option<f64> {
        self.cycle = self.cycle.wrapping_add(1);
        if self.cycle == 0 {
            // Once every 2^32 cycles: no slot may claim an entry of a cycle numbered like this one.
            self.flows.iter_mut().for_each(|clock| clock.cycle = 0);
            self.cycle = 1;
        }
        self.minima.clear();
        let stride = samples.len().div_ceil(MAX_OBSERVED).max(1);
        for sample in samples.iter().step_by(stride) {
            let Some(tsval) = sample.peer_tsval else {
                continue;
            };
            let Some((index, excess)) = self.observe(sample, tsval) else {
                continue;
            };
            let clock = &mut self.flows[index];
            match self.minima.get_mut(clock.cycle_slot as usize) {
                Some(min) if clock.cycle == self.cycle => *min = (*min).min(excess),
                _ => {
                    clock.cycle = self.cycle;
                    clock.cycle_slot = self.minima.len() as u32;
                    // At most MAX_OBSERVED samples are looked at: this stays within its capacity.
                    self.minima.push(excess);
                }
            }
        }
        if self.minima.is_empty() {
            return None;
        }
        Some(median_in_place(&mut self.minima) / 1e6)
    }

    /// Feeds the segment that completed `sample`, which carried `tsval`; returns the flow's slot and the
    /// segment's queueing delay in ns once the flow's clock is known.
    fn observe(&mut self, sample: &RttSample, tsval: u32) -> Option<(usize, u64)> {
        let (flow, at_ns) = (sample.flow, sample.at.as_nanos());
        let rtt_ns = u64::try_from(sample.rtt.as_nanos()).unwrap_or(u64::MAX);
        let index = self.slot(flow, at_ns);
        let clock = &mut self.flows[index];
        // A flow silent for long starts over: its TSval may have moved further than a 32-bit step shows.
        if clock.last_seen_ns == 0 || at_ns.saturating_sub(clock.last_seen_ns) > FORGET_NS {
            *clock = FlowClock {
                flow,
                last_seen_ns: at_ns,
                anchor_ns: at_ns,
                last_tsval: tsval,
                min_rtt_ns: rtt_ns,
                ..FlowClock::default()
            };
            return None;
        }
        clock.min_rtt_ns = clock.min_rtt_ns.min(rtt_ns);
        clock.last_seen_ns = at_ns.max(clock.last_seen_ns);
        // Successive TSvals are close (samples come every round trip), so the signed 32-bit difference is
        // the true step even across a wrap; a reordered segment steps back.
        clock.ticks += i64::from(tsval.wrapping_sub(clock.last_tsval) as i32);
        clock.last_tsval = tsval;
        let elapsed = at_ns.saturating_sub(clock.anchor_ns);
        if clock.tick_ns == 0 {
            if elapsed < RATE_SPAN_NS {
                return None;
            }
            let hz = clock.ticks as f64 / (elapsed as f64 / 1e9);
            match CLOCK_RATES_HZ
                .iter()
                .find(|&&rate| (hz / rate as f64 - 1.0).abs() <= RATE_TOLERANCE)
            {
                Some(&rate) => {
                    clock.tick_ns = 1_000_000_000 / rate;
                    clock.window_start_ns = at_ns;
                    // The anchor's one-way delay is 0 by construction: the flow's first segment (often
                    // its handshake) counts towards the minimum, not only those after the rate is known.
                    clock.min_current_ns = 0;
                    clock.min_previous_ns = i64::MAX;
                }
                None => {
                    // Not a clock we know (or one that jumped): measure again from here.
                    clock.anchor_ns = at_ns;
                    clock.ticks = 0;
                    return None;
                }
            }
        }
        let one_way =
            (elapsed as i64).saturating_sub(clock.ticks.saturating_mul(clock.tick_ns as i64));
        if at_ns.saturating_sub(clock.window_start_ns) >= WINDOW_NS {
            clock.min_previous_ns = clock.min_current_ns;
            clock.min_current_ns = i64::MAX;
            clock.window_start_ns = at_ns;
        }
        clock.min_current_ns = clock.min_current_ns.min(one_way);
        let floor = clock.min_current_ns.min(clock.min_previous_ns);
        // A peer clock that stepped back (or an arrival time read late) would read as a queue until the
        // windows forget the old minimum; the round trip bounds it.
        // The floor includes this segment, so the excess is never negative.
        let excess = u64::try_from(one_way.saturating_sub(floor)).unwrap_or(0);
        Some((index, excess.min(rtt_ns.saturating_sub(clock.min_rtt_ns))))
    }

    /// The slot of `flow`: its own, else a free or forgotten one, else the longest-silent one probed.
    fn slot(&mut self, flow: u64, now_ns: u64) -> usize {
        let start = mix(flow) as usize & self.mask;
        let mut free = None;
        let mut oldest = start;
        for step in 0..PROBE_LIMIT.min(self.flows.len()) {
            let index = (start + step) & self.mask;
            let slot = &self.flows[index];
            if slot.last_seen_ns != 0 && slot.flow == flow {
                return index;
            }
            if slot.last_seen_ns == 0 || now_ns.saturating_sub(slot.last_seen_ns) > FORGET_NS {
                free = free.or(Some(index));
            } else if slot.last_seen_ns < self.flows[oldest].last_seen_ns {
                oldest = index;
            }
        }
        let index = free.unwrap_or(oldest);
        self.flows[index].last_seen_ns = 0;
        index
    }
}

/// Spreads flow ids over the table (the splitmix64 finaliser): ids that share their low or high bits
/// must not share a probe chain.
fn mix(flow: u64) -> u64 {
    let mut x = flow ^ (flow >> 30);
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::signal::{SampleKind, Timestamp};

    const MS: u64 = 1_000_000;

    /// A segment of `flow` that the peer sent at `sent_ms` on its clock (`offset` ticks at `hz`) and that
    /// arrived `one_way_ms` later on ours, completing a round trip whose other half took 20 ms.
    fn segment(flow: u64, hz: u64, offset: u32, sent_ms: f64, one_way_ms: f64) -> RttSample {
        let ticks = (sent_ms * hz as f64 / 1e3).floor() as u64;
        RttSample {
            at: Timestamp::from_nanos(((sent_ms + one_way_ms) * MS as f64) as u64 + 1),
            rtt: Duration::from_secs_f64((20.0 + one_way_ms) / 1e3),
            kind: SampleKind::Download,
            flow,
            peer_tsval: Some(offset.wrapping_add(ticks as u32)),
        }
    }

    /// Runs 50 ms cycles from `from_ms` to `to_ms`, every flow sending one segment per 10 ms with the
    /// one-way delay `delay(flow, t_ms)`; returns the last cycle's value.
    fn run(
        delay: &mut DownstreamDelay,
        flows: &[(u64, u64, u32)],
        (from_ms, to_ms): (u64, u64),
        one_way: impl Fn(u64, f64) -> f64,
    ) -> Option<f64> {
        let mut last = None;
        for cycle in (from_ms..to_ms).step_by(50) {
            let samples: Vec<_> = (cycle..cycle + 50)
                .step_by(10)
                .flat_map(|t| {
                    flows
                        .iter()
                        .map(move |&(flow, hz, offset)| (t, flow, hz, offset))
                })
                .map(|(t, flow, hz, offset)| {
                    segment(flow, hz, offset, t as f64, one_way(flow, t as f64))
                })
                .collect();
            last = delay.cycle(&samples);
        }
        last
    }

    fn close(value: Option<f64>, expected_ms: f64) -> bool {
        value.is_some_and(|v| (v - expected_ms).abs() <= 1.5)
    }

    #[test]
    fn a_queue_towards_us_shows_whatever_the_peers_clock_offset() {
        let mut delay = DownstreamDelay::new(8);
        let flows = [(1, 1000, 123_456), (2, 1000, u32::MAX - 500), (3, 1000, 7)];
        // The clock rate is unknown for the first 2 s: nothing is claimed.
        assert_eq!(run(&mut delay, &flows, (1000, 2900), |_, _| 20.0), None);
        assert!(close(
            run(&mut delay, &flows, (2900, 5000), |_, _| 20.0),
            0.0
        ));
        let queued = run(&mut delay, &flows, (5000, 6000), |_, _| 20.0 + 35.0);
        assert!(close(queued, 35.0), "{queued:?}");
        assert!(close(
            run(&mut delay, &flows, (6000, 7000), |_, _| 21.0),
            1.0
        ));
    }

    #[test]
    fn a_queue_that_built_while_the_clock_rate_was_measured_still_counts() {
        let mut delay = DownstreamDelay::new(8);
        let flows = [(1, 1000, 77)];
        // The flow starts on an empty path and fills the buffer within its first second.
        let filling = |_, t: f64| 20.0 + ((t - 1000.0) / 10.0).clamp(0.0, 80.0);
        let value = run(&mut delay, &flows, (1000, 4000), filling);
        assert!(close(value, 80.0), "{value:?}");
    }

    #[test]
    fn a_peer_clock_that_steps_back_is_not_read_as_more_queue_than_the_round_trip_has() {
        let mut delay = DownstreamDelay::new(8);
        let flows = [(1, 1000, 0), (2, 1000, 50), (3, 1000, 900)];
        run(&mut delay, &flows, (1000, 4000), |_, _| 20.0);
        // Every peer's clock steps 40 ms back (its segments seem to take 40 ms longer) and the link
        // queues 5 ms: against the old minimum that reads 45 ms, the round trips say 5.
        let stepped = flows.map(|(flow, hz, offset)| (flow, hz, offset.wrapping_sub(40)));
        let value = run(&mut delay, &stepped, (4000, 4800), |_, _| 25.0);
        assert!(close(value, 5.0), "{value:?}");
    }

    #[test]
    fn the_median_flow_speaks_for_the_cycle() {
        let mut delay = DownstreamDelay::new(8);
        let flows = [(1, 1000, 5), (2, 1000, 9), (3, 1000, 11)];
        run(&mut delay, &flows, (1000, 4000), |_, _| 20.0);
        // One flow's server stalls (or its path queues elsewhere): the other two carry the cycle.
        let value = run(&mut delay, &flows, (4000, 4500), |flow, _| {
            if flow == 3 { 120.0 } else { 30.0 }
        });
        assert!(close(value, 10.0), "{value:?}");
    }

    #[test]
    fn microsecond_clocks_are_recognised_across_a_tsval_wrap() {
        let mut delay = DownstreamDelay::new(8);
        // At 1 MHz, 32 bits wrap every 71 minutes; start a second before the wrap.
        let flows = [(1, 1_000_000, u32::MAX - 3_000_000)];
        run(&mut delay, &flows, (1000, 4000), |_, _| 20.0);
        let value = run(&mut delay, &flows, (4000, 5000), |_, _| 32.0);
        assert!(close(value, 12.0), "{value:?}");
    }

    #[test]
    fn a_clock_of_no_known_rate_is_not_used() {
        let mut delay = DownstreamDelay::new(8);
        let flows = [(1, 37, 0)];
        assert_eq!(run(&mut delay, &flows, (1000, 8000), |_, _| 20.0), None);
    }

    #[test]
    fn a_longer_path_is_learnt_within_two_windows() {
        let mut delay = DownstreamDelay::new(8);
        let flows = [(1, 1000, 0), (2, 1000, 99)];
        run(&mut delay, &flows, (1000, 4000), |_, _| 20.0);
        // The path gets 30 ms longer for good: read as a queue at first, then as the new empty path.
        assert!(close(
            run(&mut delay, &flows, (4000, 4500), |_, _| 50.0),
            30.0
        ));
        let later = 4000 + 2 * WINDOW_NS / MS + 1000;
        assert!(close(
            run(&mut delay, &flows, (4500, later), |_, _| 50.0),
            0.0
        ));
    }

    #[test]
    fn more_flows_than_the_table_holds_neither_fail_nor_mix_up_flows() {
        let mut delay = DownstreamDelay::new(1);
        let many: Vec<_> = (0..500)
            .map(|flow| (flow, 1000, flow as u32 * 7919))
            .collect();
        run(&mut delay, &many, (1000, 1200), |_, _| 20.0);
        // The table forgot most of those; three flows in use now still get a clock of their own.
        let flows = [(1000, 1000, 5), (1001, 1000, 9), (1002, 1000, 11)];
        run(&mut delay, &flows, (1200, 4000), |_, _| 20.0);
        assert!(close(
            run(&mut delay, &flows, (4000, 4500), |_, _| 45.0),
            25.0
        ));
    }
}
