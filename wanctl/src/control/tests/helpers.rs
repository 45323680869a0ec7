//! Builders shared by the control tests.

use std::time::Duration;

use crate::{
    control::{CakeSignals, ControlConfig, ControlParams, Controller, CycleInput, Decision},
    signal::{PerDirection, RttSample, SampleKind, Timestamp},
};

/// A 95/18 Mbit WAN shaped like the Python wanctl's "ATT" replay vector.
pub const WAN: &str = "
interval: 50ms
target_bloat: 15ms
warn_bloat: 45ms
hard_red_bloat: 80ms
dwell_cycles: 2
deadband: 0ms
baseline_time_constant: 60s
load_time_constant: 100ms
download:
  ceiling: 95Mbit
  floor_green: 80Mbit
  floor_yellow: 65Mbit
  floor_soft_red: 55Mbit
  floor_red: 45Mbit
  step_up: 3Mbit
  factor_down: 0.85
  factor_down_yellow: 0.96
  green_required: 4
upload:
  ceiling: 18Mbit
  floor_red: 6Mbit
  step_up: 1Mbit
";

/// The parsed configuration of [`WAN`], with `extra` YAML lines appended.
pub fn config(extra: &str) -> ControlConfig {
    serde_yaml_ng::from_str(&format!("{WAN}{extra}")).unwrap()
}

/// Validated parameters of [`WAN`] plus `extra`.
pub fn params(extra: &str) -> ControlParams {
    config(extra).validate().unwrap()
}

/// Validated parameters of [`WAN`] with `keys` (YAML lines, each indented by two spaces) added to its
/// download section.
pub fn params_with_download(keys: &str) -> ControlParams {
    let yaml = WAN.replace(
        "  green_required: 4\n",
        &format!("  green_required: 4\n{keys}"),
    );
    serde_yaml_ng::from_str::<ControlConfig>(&yaml)
        .unwrap()
        .validate()
        .unwrap()
}

/// A controller driven at a fixed cycle length with made-up samples and utilisation.
#[derive(Clone)]
pub struct Sim {
    pub ctrl: Controller,
    pub now: Timestamp,
    pub dt: Duration,
    /// CAKE statistics fed with every cycle.
    pub cake: PerDirection<Option<CakeSignals>>,
    /// Kind of every generated sample.
    pub kind: SampleKind,
    /// When set, every sample carries a 1 kHz peer timestamp whose one-way delay holds this much queue.
    pub downstream_ms: Option<f64>,
    samples: Vec<RttSample>,
}

impl Sim {
    pub fn new(params: ControlParams) -> Self {
        Self {
            ctrl: Controller::new(params),
            now: Timestamp::from_nanos(0),
            dt: Duration::from_millis(50),
            cake: PerDirection::default(),
            kind: SampleKind::Download,
            downstream_ms: None,
            samples: Vec::new(),
        }
    }

    /// One cycle with one sample per entry of `rtts_ms` (each its own flow) and the given utilisation of the
    /// rate in force per direction.
    pub fn cycle(&mut self, rtts_ms: &[f64], util: PerDirection<f64>) -> Decision {
        self.now = self.now.add(self.dt);
        self.samples.clear();
        for (i, rtt) in rtts_ms.iter().enumerate() {
            // Sent 10 ms plus the queue before it arrived, on a clock with a per-flow offset.
            let peer_tsval = self.downstream_ms.map(|queue_ms| {
                let sent_ms = self.now.as_secs_f64() * 1e3 - 10.0 - queue_ms;
                (sent_ms as u32).wrapping_add(i as u32 * 7919)
            });
            self.samples.push(RttSample {
                at: self.now,
                rtt: Duration::from_secs_f64(rtt / 1e3),
                kind: self.kind,
                flow: i as u64,
                peer_tsval,
            });
        }
        let last = self.ctrl.last_decision().directions;
        let bytes = |rate: u64, u: f64| (rate as f64 * u * self.dt.as_secs_f64() / 8.0) as u64;
        let input = CycleInput {
            now: self.now,
            samples: &self.samples,
            achieved_bytes: PerDirection {
                download: bytes(last.download.rate.bps(), util.download),
                upload: bytes(last.upload.rate.bps(), util.upload),
            },
            cake: self.cake,
        };
        *self.ctrl.step(&input)
    }

    /// A cycle with a single sample of `rtt_ms` and both directions used at `util`.
    pub fn at(&mut self, rtt_ms: f64, util: f64) -> Decision {
        self.cycle(&[rtt_ms], both(util))
    }
}

/// The same value for both directions.
pub fn both<T: Copy>(v: T) -> PerDirection<T> {
    PerDirection {
        download: v,
        upload: v,
    }
}

/// Mbit/s of a decision's download rate.
pub fn dl(d: &Decision) -> u64 {
    d.directions.download.rate.bps()
}

/// Upload rate in bit/s.
pub fn ul(d: &Decision) -> u64 {
    d.directions.upload.rate.bps()
}
