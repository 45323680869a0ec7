//! Unit tests of the steering core, with a small simulator that steps the machine on synthetic time.

mod config;
mod machine;
mod props;
mod routeros;

use std::time::Duration;

use super::{CongestionState, Decision, SteeringConfig, SteeringMachine, WanCongestion};
use crate::signal::Timestamp;

/// The base configuration of these tests: enter after 2 s RED, leave after 10 s GREEN, 30 s hold-down,
/// 4 switches per 5 minutes, 5 s staleness.
pub(super) const BASE: &str = "
primary: wan1
alternate: wan2
enter: { sustain: 2s }
leave: { sustain: 10s }
hold_down: 30s
flap_limit: { max_switches: 4, window: 5m }
staleness: 5s
actuator:
  linux:
    route: { device: wan2, gateway: 203.0.113.2 }
";

/// Parses `BASE` with `overrides` (YAML keys) replacing or adding top-level keys, and validates it.
pub(super) fn config(overrides: &str) -> SteeringConfig {
    let config = merged(BASE, overrides);
    config.validate().unwrap();
    config
}

/// Parses `base` with `overrides` replacing or adding top-level keys (not validated).
pub(super) fn merged(base: &str, overrides: &str) -> SteeringConfig {
    let mut base: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(base).unwrap();
    let extra: Option<serde_yaml_ng::Mapping> = serde_yaml_ng::from_str(overrides).unwrap();
    for (k, v) in extra.unwrap_or_default() {
        base.insert(k, v);
    }
    serde_yaml_ng::from_value(serde_yaml_ng::Value::Mapping(base)).unwrap()
}

/// One WAN's input in a scripted cycle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Wan {
    Ok(CongestionState),
    Stale,
    Down,
}

use CongestionState::{Green, Red, Yellow};
pub(super) const GREEN: Wan = Wan::Ok(Green);
pub(super) const YELLOW: Wan = Wan::Ok(Yellow);
pub(super) const RED: Wan = Wan::Ok(Red);

impl Wan {
    pub(super) fn input(self, now: Timestamp, staleness: Duration) -> WanCongestion {
        let (state, updated_at, link_up) = match self {
            Wan::Ok(state) => (state, now, true),
            Wan::Stale => (
                Green,
                Timestamp::from_nanos(
                    now.as_nanos()
                        .saturating_sub((staleness + Duration::from_secs(1)).as_nanos() as u64),
                ),
                true,
            ),
            Wan::Down => (Green, now, false),
        };
        WanCongestion {
            state,
            delay_delta_ms: 0.0,
            drop_rate: 0.0,
            backlog_bytes: 0,
            updated_at,
            link_up,
        }
    }
}

/// Drives a machine through scripted cycles, committing every switch (a perfect actuator).
pub(super) struct Sim {
    pub(super) machine: SteeringMachine,
    pub(super) now: Timestamp,
    staleness: Duration,
    /// Committed switches: when, and the decision.
    pub(super) switches: Vec<(Timestamp, Decision)>,
    pub(super) last: Option<Decision>,
}

impl Sim {
    /// Starts at t = 100 s (so stale inputs can lie in the past) with the actuator found `found`.
    pub(super) fn start(config: &SteeringConfig, found: bool) -> (Self, Decision) {
        let now = Timestamp::from_nanos(100_000_000_000);
        let (machine, decision) = SteeringMachine::start(config, now, found);
        let mut sim = Self {
            machine,
            now,
            staleness: config.staleness.get(),
            switches: Vec::new(),
            last: None,
        };
        if decision.switch {
            sim.machine.commit(now, &decision);
            sim.switches.push((now, decision));
        }
        (sim, decision)
    }

    pub(super) fn new(config: &SteeringConfig) -> Self {
        Self::start(config, false).0
    }

    /// Seconds since the simulation started.
    pub(super) fn elapsed(&self) -> f64 {
        self.now.as_secs_f64() - 100.0
    }

    /// One cycle at the current time, then the clock advances by `cycle`.
    pub(super) fn cycle(&mut self, cycle: Duration, primary: Wan, alternate: Wan) -> Decision {
        let p = primary.input(self.now, self.staleness);
        let a = alternate.input(self.now, self.staleness);
        let decision = self.machine.step(self.now, &p, &a);
        if decision.switch {
            self.machine.commit(self.now, &decision);
            self.switches.push((self.now, decision));
        }
        self.last = Some(decision);
        self.now = self.now.add(cycle);
        decision
    }

    /// Cycles every `cycle` for `total`, returning the last decision.
    pub(super) fn run(
        &mut self,
        total: Duration,
        cycle: Duration,
        primary: Wan,
        alternate: Wan,
    ) -> Decision {
        let end = self.now.add(total);
        let mut last = None;
        while self.now < end {
            last = Some(self.cycle(cycle, primary, alternate));
        }
        last.unwrap()
    }

    /// Milliseconds (since start) of every committed switch.
    pub(super) fn switch_times(&self) -> Vec<u64> {
        self.switches
            .iter()
            .map(|(t, _)| (t.as_nanos() - 100_000_000_000) / 1_000_000)
            .collect()
    }
}

pub(super) const MS100: Duration = Duration::from_millis(100);

/// `s` seconds, exact to the millisecond (so scripted cycles land on exact instants).
pub(super) fn secs(s: f64) -> Duration {
    Duration::from_millis((s * 1000.0).round() as u64)
}
