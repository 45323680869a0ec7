//! Prometheus metrics (`/metrics`, OpenMetrics text). Names follow Prometheus conventions: `wanctl_` prefix,
//! base units in the name (`_seconds`, `_bits_per_second`), `_total` on counters, enums as state sets.

use std::sync::atomic::AtomicU64;

use super::metrics_active::ActiveProbeMetrics;
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Registry, Unit},
};

/// A float gauge.
type FGauge = Gauge<f64, AtomicU64>;

/// `{wan}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WanLabels {
    /// WAN name.
    pub wan: String,
}

/// `{wan, direction}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabels {
    /// WAN name.
    pub wan: String,
    /// `download` or `upload`.
    pub direction: String,
}

/// `{wan, direction, state}` for the congestion state set.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// WAN name.
    pub wan: String,
    /// `download` or `upload`.
    pub direction: String,
    /// `GREEN`, `YELLOW`, …
    pub state: String,
}

/// `{wan, shaper, kind}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShaperLabels {
    /// WAN name.
    pub wan: String,
    /// Sink name.
    pub shaper: String,
    /// `cake` or `routeros`.
    pub kind: String,
}

/// `{state}` for the steering state set.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SteeringLabels {
    /// Steering state name.
    pub state: String,
}

/// Every metric family wanctl exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Target shaping rate.
    pub rate: Family<DirectionLabels, Gauge>,
    /// Congestion state as a state set (1 for the current state, 0 otherwise).
    pub state: Family<StateLabels, Gauge>,
    /// Congestion level: -1 unknown, 0 green … 3 red.
    pub level: Family<DirectionLabels, Gauge>,
    /// Baseline RTT.
    pub rtt_baseline: Family<WanLabels, FGauge>,
    /// Loaded RTT.
    pub rtt_load: Family<WanLabels, FGauge>,
    /// Load minus baseline.
    pub rtt_delta: Family<WanLabels, FGauge>,
    /// The download's own queue delay (one-way, from the peers' timestamps).
    pub downstream_delay: Family<WanLabels, FGauge>,
    /// RTT samples consumed.
    pub rtt_samples: Family<WanLabels, Counter>,
    /// RTT samples per second over the last window.
    pub rtt_sample_rate: Family<WanLabels, FGauge>,
    /// Ring-buffer events lost between kernel and daemon.
    pub ringbuf_lost: Family<WanLabels, Counter>,
    /// Completed control cycles.
    pub cycles: Family<WanLabels, Counter>,
    /// Cycles longer than the cycle interval.
    pub cycle_overruns: Family<WanLabels, Counter>,
    /// Duration of control cycles.
    pub cycle_duration: Family<WanLabels, Histogram>,
    /// Rate writes that reached a shaper.
    pub shaper_writes: Family<ShaperLabels, Counter>,
    /// Rate writes that failed.
    pub shaper_write_failures: Family<ShaperLabels, Counter>,
    /// Whether the shaper (router) answered last time.
    pub shaper_reachable: Family<ShaperLabels, Gauge>,
    /// Steering state as a state set.
    pub steering_state: Family<SteeringLabels, Gauge>,
    /// Steering transitions.
    pub steering_transitions: Counter,
    /// Seconds in the current steering state.
    pub steering_in_state: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Wanted switches held back by the flap limit.
    pub steering_suppressed_flaps: Counter,
    /// Active ICMP probes.
    pub active: ActiveProbeMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every family under the `wanctl` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("wanctl");
        let cycle_duration = Family::<WanLabels, Histogram>::new_with_constructor(|| {
            // 0.1 ms … ~0.4 s: a 50 ms cycle normally takes well under a millisecond.
            Histogram::new(exponential_buckets(0.0001, 2.0, 13))
        });
        let metrics = Self {
            rate: Family::default(),
            state: Family::default(),
            level: Family::default(),
            rtt_baseline: Family::default(),
            rtt_load: Family::default(),
            rtt_delta: Family::default(),
            downstream_delay: Family::default(),
            rtt_samples: Family::default(),
            rtt_sample_rate: Family::default(),
            ringbuf_lost: Family::default(),
            cycles: Family::default(),
            cycle_overruns: Family::default(),
            cycle_duration,
            shaper_writes: Family::default(),
            shaper_write_failures: Family::default(),
            shaper_reachable: Family::default(),
            steering_state: Family::default(),
            steering_transitions: Counter::default(),
            steering_in_state: Gauge::default(),
            steering_suppressed_flaps: Counter::default(),
            active: ActiveProbeMetrics::default(),
            registry: Registry::default(),
        };
        let m = &metrics;
        let r = &mut registry;
        r.register(
            "target_rate_bits_per_second",
            "Target shaping rate",
            m.rate.clone(),
        );
        r.register(
            "congestion_state",
            "Congestion state per direction (1 = current)",
            m.state.clone(),
        );
        r.register(
            "congestion_level",
            "Congestion level: -1 unknown, 0 green, 1 yellow, 2 soft red, 3 red",
            m.level.clone(),
        );
        r.register_with_unit(
            "rtt_baseline",
            "Baseline (idle) RTT",
            Unit::Seconds,
            m.rtt_baseline.clone(),
        );
        r.register_with_unit("rtt_load", "Loaded RTT", Unit::Seconds, m.rtt_load.clone());
        r.register_with_unit(
            "rtt_delta",
            "Loaded minus baseline RTT",
            Unit::Seconds,
            m.rtt_delta.clone(),
        );
        r.register_with_unit(
            "downstream_delay",
            "Queue delay towards us alone (download), from the peers' TCP timestamps",
            Unit::Seconds,
            m.downstream_delay.clone(),
        );
        r.register(
            "rtt_samples",
            "RTT samples consumed by the control loop",
            m.rtt_samples.clone(),
        );
        r.register(
            "rtt_samples_per_second",
            "RTT samples per second over the last window",
            m.rtt_sample_rate.clone(),
        );
        r.register(
            "ringbuf_lost_events",
            "Kernel ring-buffer events lost before the daemon read them",
            m.ringbuf_lost.clone(),
        );
        r.register("cycles", "Completed control cycles", m.cycles.clone());
        r.register(
            "cycle_overruns",
            "Control cycles that took longer than the cycle interval",
            m.cycle_overruns.clone(),
        );
        r.register_with_unit(
            "cycle_duration",
            "Duration of one control cycle",
            Unit::Seconds,
            m.cycle_duration.clone(),
        );
        r.register(
            "shaper_writes",
            "Rate writes that reached a shaper",
            m.shaper_writes.clone(),
        );
        r.register(
            "shaper_write_failures",
            "Rate writes that failed",
            m.shaper_write_failures.clone(),
        );
        r.register(
            "shaper_reachable",
            "Whether the shaper or router answered last time (1 = yes)",
            m.shaper_reachable.clone(),
        );
        r.register(
            "steering_state",
            "Steering state (1 = current)",
            m.steering_state.clone(),
        );
        r.register(
            "steering_transitions",
            "Steering state changes",
            m.steering_transitions.clone(),
        );
        r.register_with_unit(
            "steering_time_in_state",
            "Time in the current steering state",
            Unit::Seconds,
            m.steering_in_state.clone(),
        );
        r.register(
            "steering_suppressed_flaps",
            "Wanted steering switches held back by the flap limit",
            m.steering_suppressed_flaps.clone(),
        );
        m.active.register(r);
        Self {
            registry,
            ..metrics
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}
