//! The controller of one WAN: samples in, per-direction target rates out.

use std::time::Duration;

use super::{
    decision::{Decision, DirectionDecision, Reason},
    direction::{CakeEvidence, DirectionState, Observation},
    input::{CakeSignals, CycleInput},
    params::ControlParams,
};
use crate::{
    config::Bandwidth,
    signal::{
        BaselineUpdate, CycleAggregator, CycleStats, Direction, DownstreamDelay, PerDirection,
        RttSample, RttTracker, RttTrackerParams, SampleFilter, SampleKind, Timestamp, ewma_weight,
    },
};

/// Turns each cycle's samples, throughput and CAKE statistics into target rates. Pure and deterministic: the
/// same inputs give the same decisions; a cycle does not allocate.
#[derive(Debug, Clone)]
pub struct Controller {
    pub(super) params: ControlParams,
    aggregator: CycleAggregator,
    pub(super) tracker: RttTracker,
    pub(super) directions: PerDirection<DirectionState>,
    /// Smoothed CAKE drops+marks per second, per direction.
    pub(super) drop_rate: PerDirection<f64>,
    /// Achieved rate per direction, bit/s, smoothed with the load time constant.
    achieved_bps: PerDirection<Option<f64>>,
    /// When each direction was last cut in RED/SOFT_RED.
    last_red_cut: PerDirection<Option<Timestamp>>,
    /// When each direction was last cut, in any state.
    last_cut: PerDirection<Option<Timestamp>>,
    last_now: Option<Timestamp>,
    rejected_total: u64,
    decision: Decision,
    /// The cycle's samples with the local upload queue taken out (reused: a cycle does not allocate).
    compensated: Vec<RttSample>,
    /// The download's own queue from the peers' timestamps.
    downstream: DownstreamDelay,
    /// That queue smoothed with the load time constant, ms, and the last cycle that measured it.
    downstream_ms: Option<(f64, Timestamp)>,
}

/// Flows whose clocks are followed at once (more only share the table's slots).
const MAX_DOWNSTREAM_FLOWS: usize = 1024;

/// A downstream delay not measured for this long no longer splits the RTT's delay between the directions.
const DOWNSTREAM_FRESH: Duration = Duration::from_secs(1);

impl Controller {
    /// A controller starting at the ceilings, GREEN, with the configured initial baseline (if any).
    pub fn new(params: ControlParams) -> Self {
        let filter = SampleFilter {
            min_rtt: params.min_rtt,
            max_rtt: params.max_rtt,
            max_age: params.max_sample_age,
            outlier_sigma: params.outlier_sigma,
            outlier_floor_ms: params.outlier_floor_ms,
        };
        let directions = PerDirection {
            download: DirectionState::new(&params.download),
            upload: DirectionState::new(&params.upload),
        };
        let tracker = RttTracker::new(params.baseline_initial_ms);
        let decision = initial_decision(&directions, &tracker);
        let params_max_flows = params.max_flows.min(MAX_DOWNSTREAM_FLOWS);
        Self {
            aggregator: CycleAggregator::new(filter, params.max_flows),
            params,
            tracker,
            directions,
            drop_rate: PerDirection::default(),
            achieved_bps: PerDirection::default(),
            last_red_cut: PerDirection::default(),
            last_cut: PerDirection::default(),
            last_now: None,
            rejected_total: 0,
            decision,
            compensated: Vec::with_capacity(1024),
            downstream: DownstreamDelay::new(params_max_flows),
            downstream_ms: None,
        }
    }

    /// The parameters in force.
    pub fn params(&self) -> &ControlParams {
        &self.params
    }

    /// The most recent decision (the initial state before the first cycle).
    pub fn last_decision(&self) -> &Decision {
        &self.decision
    }

    /// Runs one control cycle.
    pub fn step(&mut self, input: &CycleInput<'_>) -> &Decision {
        let dt_s = match self.last_now {
            // A clock that went backwards gives a zero-length cycle: nothing is learnt from it.
            Some(last) => input.now.saturating_since(last).as_secs_f64(),
            None => self.params.interval_s,
        };
        self.last_now = Some(input.now);

        let samples = without_local_queue(
            &mut self.compensated,
            self.tracker.baseline_ms(),
            self.directions.upload.rate,
            input,
        );
        let stats = self.aggregator.aggregate(input.now, samples);
        self.rejected_total +=
            u64::from(stats.invalid + stats.stale + stats.outlier_flows + stats.overflow);

        let utilization = PerDirection {
            download: utilization(
                input.achieved_bytes.download,
                self.directions.download.rate,
                dt_s,
            ),
            upload: utilization(
                input.achieved_bytes.upload,
                self.directions.upload.rate,
                dt_s,
            ),
        };
        let idle = utilization.download < self.params.idle_share
            && utilization.upload < self.params.idle_share;
        let tracker_params = RttTrackerParams {
            baseline_tau_s: self.params.baseline_tau_s,
            load_tau_s: self.params.load_tau_s,
            update_threshold_ms: self.params.baseline_update_threshold_ms,
        };
        let baseline_update = self
            .tracker
            .update(&tracker_params, stats.rtt_ms, dt_s, idle);
        let delta_ms = stats.rtt_ms.and(self.tracker.delta_ms());
        let downstream_ms = self.downstream_delay(input, dt_s);
        let delay_ms = split_delay(delta_ms, downstream_ms, self.params.download.warn_ms);

        for direction in Direction::ALL {
            let cake = CakeEvidence {
                drops: self.smoothed_drops(direction, input.cake.get(direction).as_ref(), dt_s),
            };
            let achieved_bps = self.smoothed_achieved(
                direction,
                *input.achieved_bytes.get(direction),
                *utilization.get(direction),
                dt_s,
            );
            let since = |last: &PerDirection<Option<Timestamp>>, refractory_s: f64| {
                last.get(direction)
                    .is_none_or(|at| input.now.saturating_since(at).as_secs_f64() >= refractory_s)
            };
            let red_cut_allowed = since(&self.last_red_cut, self.params.red_refractory_s);
            let yellow_cut_allowed = since(&self.last_cut, self.params.yellow_refractory_s);
            let observation = Observation {
                delta_ms: *delay_ms.get(direction),
                utilization: *utilization.get(direction),
                achieved_bps,
                red_cut_allowed,
                yellow_cut_allowed,
                dt_s,
                cake,
            };
            let params = match direction {
                Direction::Download => &self.params.download,
                Direction::Upload => &self.params.upload,
            };
            let last_reported = self.decision.directions.get(direction).state;
            let outcome = self.directions.get_mut(direction).step(
                params,
                &self.params,
                &observation,
                last_reported,
            );
            if matches!(outcome.reason, Reason::Red | Reason::SoftRed) {
                *self.last_red_cut.get_mut(direction) = Some(input.now);
            }
            if outcome.reason.is_cut() {
                *self.last_cut.get_mut(direction) = Some(input.now);
            }
            *self.decision.directions.get_mut(direction) = outcome;
        }
        self.decision.at = input.now;
        self.decision.had_samples = stats.rtt_ms.is_some();
        self.decision.samples = stats;
        self.decision.rejected_total = self.rejected_total;
        self.decision.baseline_ms = self.tracker.baseline_ms();
        self.decision.load_ms = self.tracker.load_ms();
        self.decision.delta_ms = delta_ms;
        self.decision.downstream_ms = downstream_ms;
        self.decision.baseline_update = baseline_update;
        &self.decision
    }

    /// The download's smoothed one-way queue delay, while it is measured (`one_way_delay`).
    fn downstream_delay(&mut self, input: &CycleInput<'_>, dt_s: f64) -> Option<f64> {
        if !self.params.one_way_delay {
            return None;
        }
        if let Some(value) = self.downstream.cycle(input.samples) {
            let smoothed = match self.downstream_ms {
                Some((previous, _)) => {
                    previous + ewma_weight(dt_s, self.params.load_tau_s) * (value - previous)
                }
                None => value,
            };
            self.downstream_ms = Some((smoothed, input.now));
        }
        match self.downstream_ms {
            Some((ms, at)) if input.now.saturating_since(at) <= DOWNSTREAM_FRESH => Some(ms),
            _ => {
                // Stale: the next measurement starts the average afresh.
                self.downstream_ms = None;
                None
            }
        }
    }

    /// Whether this direction's smoothed CAKE drop+mark rate is above its threshold.
    fn smoothed_drops(
        &mut self,
        direction: Direction,
        cake: Option<&CakeSignals>,
        dt_s: f64,
    ) -> bool {
        let smoothed = self.drop_rate.get_mut(direction);
        let Some(cake) = cake else {
            *smoothed = 0.0;
            return false;
        };
        if dt_s > 0.0 {
            let rate = (cake.drops.saturating_add(cake.ecn_marks)) as f64 / dt_s;
            *smoothed += ewma_weight(dt_s, self.params.cake.drop_rate_tau_s) * (rate - *smoothed);
        }
        *smoothed > self.params.cake.drop_rate_threshold
    }

    /// The achieved rate smoothed with the load time constant (the delay and the throughput it explains
    /// move together); `None` while the direction carries less than `idle_share` of its rate.
    fn smoothed_achieved(
        &mut self,
        direction: Direction,
        bytes: u64,
        utilization: f64,
        dt_s: f64,
    ) -> Option<f64> {
        let smoothed = self.achieved_bps.get_mut(direction);
        if dt_s > 0.0 {
            let now = bytes as f64 * 8.0 / dt_s;
            let value = match *smoothed {
                Some(last) => last + ewma_weight(dt_s, self.params.load_tau_s) * (now - last),
                None => now,
            };
            *smoothed = Some(value);
        }
        let used = utilization >= self.params.idle_share;
        smoothed.filter(|_| used)
    }

    pub(super) fn refresh_decision(&mut self) {
        self.decision = initial_decision(&self.directions, &self.tracker);
    }
}

/// Largest frame an ACK can find ahead of it in the upload CAKE (Ethernet MTU plus header), bytes.
const FRAME_BYTES: f64 = 1514.0;

/// The cycle's samples, with the local upload CAKE's own queueing delay taken out. The probe timestamps an
/// egress packet before it enters that qdisc, so:
/// - an upload sample includes the data segment's sojourn in it: the larger of CAKE's per-tin average delay
///   and the backlog at the upload rate. The average alone under-states it on a slow link: it includes the
///   sparse ACKs' near-zero waits, while a bulk segment waits behind its flow's whole share of the backlog
///   (with n bulk flows each holds 1/n of it and drains at 1/n of the rate: backlog / rate either way);
/// - every other sample (download, handshake, active probe) includes the wait of a small packet (ACK, SYN,
///   ping) there: a sparse flow that CAKE serves next, so at most one full frame at the upload rate, and
///   never more than the segment's sojourn above.
///
/// Without this the controller would read its own (managed) queue as bloat, and at low upload rates, where
/// one frame takes tens of ms, cut again and again. An adjusted RTT never drops below the baseline (the
/// compensation cannot invent a queue that was not there).
fn without_local_queue<'a>(
    buffer: &'a mut Vec<RttSample>,
    baseline_ms: Option<f64>,
    upload_rate_bps: u64,
    input: &'a CycleInput<'_>,
) -> &'a [RttSample] {
    let Some(cake) = input.cake.upload else {
        return input.samples;
    };
    let at_upload_rate =
        |bytes: f64| Duration::try_from_secs_f64(bytes * 8.0 / upload_rate_bps.max(1) as f64);
    let backlog_wait = at_upload_rate(cake.backlog_bytes as f64).unwrap_or_default();
    let local = cake.max_tin_delay.max(backlog_wait);
    if local.is_zero() {
        return input.samples;
    }
    let frame = at_upload_rate(FRAME_BYTES).unwrap_or(local);
    let ack_wait = local.min(frame);
    let floor = baseline_ms.and_then(|ms| Duration::try_from_secs_f64(ms / 1e3).ok());
    buffer.clear();
    buffer.extend(input.samples.iter().map(|sample| {
        let queued = match sample.kind {
            SampleKind::Upload => local,
            // ACKs, SYNs and probes are all small sparse packets behind at most one frame.
            SampleKind::Download | SampleKind::Handshake | SampleKind::Active => ack_wait,
        };
        let floor = floor.unwrap_or(sample.rtt).min(sample.rtt);
        RttSample {
            rtt: sample.rtt.saturating_sub(queued).max(floor),
            ..*sample
        }
    }));
    buffer
}

/// The delay each direction decides on: with the download's own queue measured, the download takes it
/// and the upload the rest of the RTT's delay; otherwise both take the RTT's delay.
///
/// While the download's own delay is above its warn threshold (SOFT_RED, RED) the upload takes the whole
/// delta too: a queue that large means the capacity fell, which on a real link (a resync, a handover, a
/// shared medium filling) usually hits both directions, and the upload's queue shows in the RTT only a
/// queue's worth of time late (its samples wait in it), so by the time the split could show it the
/// upload's queue has grown by as much again.
fn split_delay(
    delta_ms: Option<f64>,
    downstream_ms: Option<f64>,
    download_warn_ms: f64,
) -> PerDirection<Option<f64>> {
    match (delta_ms, downstream_ms) {
        (Some(delta), Some(down)) if down <= download_warn_ms => PerDirection {
            download: Some(down),
            upload: Some(delta - down),
        },
        (Some(delta), Some(down)) => PerDirection {
            download: Some(down),
            upload: Some(delta),
        },
        _ => PerDirection {
            download: delta_ms,
            upload: delta_ms,
        },
    }
}

/// Achieved rate over the cycle divided by the rate in force (0 for a zero-length cycle).
fn utilization(bytes: u64, rate_bps: u64, dt_s: f64) -> f64 {
    if dt_s <= 0.0 || rate_bps == 0 {
        return 0.0;
    }
    bytes as f64 * 8.0 / dt_s / rate_bps as f64
}

fn initial_decision(directions: &PerDirection<DirectionState>, tracker: &RttTracker) -> Decision {
    let hold = |state: &DirectionState| DirectionDecision {
        rate: Bandwidth::from_bps(state.rate),
        state: state.zone,
        reason: Reason::Idle,
        utilization: 0.0,
    };
    Decision {
        at: Timestamp::default(),
        had_samples: false,
        samples: CycleStats::default(),
        rejected_total: 0,
        baseline_ms: tracker.baseline_ms(),
        load_ms: tracker.load_ms(),
        delta_ms: tracker.delta_ms(),
        downstream_ms: None,
        baseline_update: BaselineUpdate::NoSample,
        directions: PerDirection {
            download: hold(&directions.download),
            upload: hold(&directions.upload),
        },
    }
}
