//! One WAN's cycle: collect the samples that arrived, let the control core decide, hand the decision to every
//! sink, and report. This is where a packet's RTT sample turns into a netlink or REST write.

use std::{io::Write, time::Duration};

use tokio::time::Instant;
use tracing::warn;

use super::{
    CycleReport, LinkState, ShaperReport, WanCycle, sink::Sink, warn_limit::RateLimitedWarn,
};
use crate::{
    clock::monotonic_now,
    config::Bandwidth,
    control::{CakeSignals, ControlParams, Controller, CycleInput, TraceWriter, Zone},
    shaper::DirectionStats,
    signal::{Direction, PerDirection, RttSample, Timestamp},
};

/// What the sample sources delivered for one cycle, besides the samples themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    /// Bytes that crossed the WAN per direction since the previous cycle (the achieved rate).
    pub achieved_bytes: PerDirection<u64>,
    /// Samples the kernel could not deliver since the previous cycle (ring buffer full).
    pub ringbuf_lost: u64,
    /// Why the source is degraded, if it is (probe detached, active fallback in use).
    pub degraded: Option<String>,
}

/// Where a WAN's RTT samples and traffic counters come from (the eBPF probe, active probes, a replay).
pub trait SampleSource: Send {
    /// Replaces `samples` with those that arrived since the previous call, as of `now`.
    fn collect(&mut self, now: Timestamp, samples: &mut Vec<RttSample>) -> Collected;
}

/// A sink and what this loop last wrote to it.
struct SinkSlot {
    sink: Box<dyn Sink>,
    applied: PerDirection<Option<Bandwidth>>,
    write_failures: u64,
}

/// The per-WAN cycle body for [`super::run_wan_loop`].
pub struct ControlCycle<S> {
    controller: Controller,
    source: S,
    sinks: Vec<SinkSlot>,
    dry_run: bool,
    samples: Vec<RttSample>,
    previous_cake: PerDirection<Option<DirectionStats>>,
    recorder: Option<TraceWriter<Box<dyn Write + Send>>>,
    warn: RateLimitedWarn,
    clock: Box<dyn FnMut() -> Timestamp + Send>,
}

impl<S: SampleSource> ControlCycle<S> {
    /// A cycle body driving `sinks` from `source` through `controller`. With `dry_run`, decisions are
    /// computed and reported but no sink is written.
    pub fn new(
        controller: Controller,
        source: S,
        sinks: Vec<Box<dyn Sink>>,
        dry_run: bool,
    ) -> Self {
        Self {
            controller,
            source,
            sinks: sinks
                .into_iter()
                .map(|sink| SinkSlot {
                    sink,
                    applied: PerDirection::default(),
                    write_failures: 0,
                })
                .collect(),
            dry_run,
            samples: Vec::with_capacity(1024),
            previous_cake: PerDirection::default(),
            recorder: None,
            warn: RateLimitedWarn::new(Duration::from_secs(10)),
            clock: Box::new(monotonic_now),
        }
    }

    /// Replaces CLOCK_MONOTONIC, for tests that run many cycles in an instant.
    pub fn with_clock(mut self, clock: impl FnMut() -> Timestamp + Send + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Records every cycle's input in the trace format `wanctl replay` reads.
    pub fn record_to(&mut self, writer: TraceWriter<Box<dyn Write + Send>>) {
        self.recorder = Some(writer);
    }

    /// The controller, for state snapshots at shutdown.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// The sinks, for the exit policy at shutdown.
    pub fn sinks_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn Sink>> {
        self.sinks.iter_mut().map(|slot| &mut slot.sink)
    }

    /// The controller, source and sinks, when the loop has ended.
    pub fn into_parts(self) -> (Controller, S, Vec<Box<dyn Sink>>) {
        let sinks = self.sinks.into_iter().map(|slot| slot.sink).collect();
        (self.controller, self.source, sinks)
    }

    /// Takes new control parameters (a reloaded configuration) and keeps what the controller has learned:
    /// baseline, load and states carry over, and rates outside the new floor..ceiling are clamped into it.
    /// A learned state the new parameters refuse (e.g. a baseline outside a new `max_rtt`) starts afresh.
    pub fn retune(&mut self, params: ControlParams) {
        let mut state = self.controller.snapshot();
        for (snapshot, p) in [
            (&mut state.download, &params.download),
            (&mut state.upload, &params.upload),
        ] {
            snapshot.rate_bps = snapshot.rate_bps.clamp(p.floor_red, p.ceiling);
        }
        let mut next = Controller::new(params);
        if let Err(error) = next.restore(&state) {
            warn!(%error, "new control parameters: the learned state does not fit them; starting afresh");
        }
        self.controller = next;
    }

    /// CAKE evidence per direction: deltas against the previous cycle's counters. The first reading only
    /// sets the reference (no invented deltas).
    async fn cake_signals(
        &mut self,
        degraded: &mut Vec<String>,
    ) -> PerDirection<Option<CakeSignals>> {
        let mut signals = PerDirection::default();
        for slot in self
            .sinks
            .iter_mut()
            .filter(|slot| slot.sink.kind() == "cake")
        {
            let stats = match slot.sink.read_stats().await {
                Ok(stats) => stats,
                Err(message) => {
                    degraded.push(message);
                    continue;
                }
            };
            for direction in Direction::ALL {
                let Some(now) = *stats.get(direction) else {
                    continue;
                };
                let previous = self.previous_cake.get_mut(direction).replace(now);
                if let Some(before) = previous {
                    *signals.get_mut(direction) = Some(CakeSignals {
                        drops: now.dropped_packets.saturating_sub(before.dropped_packets),
                        ecn_marks: now
                            .ecn_marked_packets
                            .saturating_sub(before.ecn_marked_packets),
                        backlog_bytes: now.backlog_bytes,
                        max_tin_delay: Duration::from_micros(u64::from(
                            now.avg_delay_us.unwrap_or(0),
                        )),
                    });
                }
            }
        }
        signals
    }

    /// Writes each direction's rate to every sink whose last written value differs.
    async fn apply(&mut self, rates: PerDirection<Bandwidth>, degraded: &mut Vec<String>) {
        for slot in &mut self.sinks {
            for direction in Direction::ALL {
                let rate = *rates.get(direction);
                if *slot.applied.get(direction) == Some(rate) {
                    continue;
                }
                match slot.sink.apply_rate(direction, rate).await {
                    Ok(()) => *slot.applied.get_mut(direction) = Some(rate),
                    Err(message) => {
                        slot.write_failures += 1;
                        if let Some(held_back) = self.warn.allow("sink_write", Instant::now()) {
                            warn!(sink = slot.sink.name(), held_back, "{message}");
                        }
                        degraded.push(message);
                    }
                }
            }
        }
    }
}

impl<S: SampleSource> WanCycle for ControlCycle<S> {
    async fn run_cycle(&mut self, now: Instant) -> CycleReport {
        let at = (self.clock)();
        let collected = self.source.collect(at, &mut self.samples);
        let mut degraded: Vec<String> = collected.degraded.into_iter().collect();
        let cake = self.cake_signals(&mut degraded).await;
        let input = CycleInput {
            now: at,
            samples: &self.samples,
            achieved_bytes: collected.achieved_bytes,
            cake,
        };
        if let Some(recorder) = &mut self.recorder
            && let Err(error) = recorder.write_cycle(&input)
        {
            degraded.push(format!("recording the trace failed: {error}"));
            self.recorder = None;
        }
        let decision = self.controller.step(&input);
        let rates = PerDirection {
            download: decision.directions.download.rate,
            upload: decision.directions.upload.rate,
        };
        let state = PerDirection {
            download: link_state(decision.directions.download.state),
            upload: link_state(decision.directions.upload.state),
        };
        let baseline_rtt = decision.baseline_ms.and_then(millis);
        let load_rtt = decision.load_ms.and_then(millis);
        let downstream_delay = decision.downstream_ms.and_then(millis);
        let samples = u64::from(decision.samples.used);
        if !self.dry_run {
            self.apply(rates, &mut degraded).await;
        }
        CycleReport {
            at: now,
            duration: Duration::ZERO,
            overrun: false,
            state,
            rate: rates,
            baseline_rtt,
            load_rtt,
            downstream_delay,
            samples,
            ringbuf_lost: collected.ringbuf_lost,
            shapers: self
                .sinks
                .iter()
                .map(|slot| ShaperReport {
                    name: slot.sink.name().to_string(),
                    kind: slot.sink.kind().to_string(),
                    health: slot.sink.sink_health(),
                    write_failures: slot.write_failures,
                })
                .collect(),
            degraded_reasons: degraded,
        }
    }
}

fn link_state(zone: Zone) -> LinkState {
    match zone {
        Zone::Green => LinkState::Green,
        Zone::Yellow => LinkState::Yellow,
        Zone::SoftRed => LinkState::SoftRed,
        Zone::Red => LinkState::Red,
    }
}

fn millis(ms: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(ms / 1e3).ok()
}

#[cfg(test)]
#[path = "control_cycle_tests.rs"]
mod tests;
