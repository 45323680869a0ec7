//! A serializable snapshot of the steering state for the health endpoint and metrics.

use serde::Serialize;

use super::{Action, Decision, SteeringMachine, WanHealth};
use crate::signal::Timestamp;

/// Steering health at one moment. Counters are monotonic over the daemon's life (Prometheus counters);
/// the rest are gauges.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SteeringSnapshot {
    /// The committed state: "steering" or "not_steering".
    pub state: Action,
    /// Seconds since the committed state began.
    pub in_state_secs: f64,
    /// Committed switches since start (including a start-up reset).
    pub transitions: u64,
    /// Episodes in which a wanted switch was suppressed by the flap limit.
    pub suppressed_flaps: u64,
    /// Switches inside the current flap window.
    pub switches_in_window: usize,
    /// Seconds of hold-down left (0 when none).
    pub hold_down_remaining_secs: f64,
    /// The latest decision, if a cycle has run.
    pub last_decision: Option<Decision>,
    /// The primary WAN's latest assessment.
    pub primary: Option<WanHealth>,
    /// The alternate WAN's latest assessment.
    pub alternate: Option<WanHealth>,
    /// Seconds since the latest cycle.
    pub last_cycle_age_secs: Option<f64>,
}

impl SteeringMachine {
    /// The health snapshot at `now`.
    pub fn snapshot(&self, now: Timestamp) -> SteeringSnapshot {
        let (transitions, suppressed_flaps, switches_in_window) = self.counters(now);
        let last = self.last_observation();
        SteeringSnapshot {
            state: self.action(),
            in_state_secs: now.saturating_since(self.since()).as_secs_f64(),
            transitions,
            suppressed_flaps,
            switches_in_window,
            hold_down_remaining_secs: self
                .hold_down_remaining(now)
                .map_or(0.0, |d| d.as_secs_f64()),
            last_decision: last.map(|o| o.decision),
            primary: last.map(|o| o.primary),
            alternate: last.map(|o| o.alternate),
            last_cycle_age_secs: last.map(|o| now.saturating_since(o.at).as_secs_f64()),
        }
    }
}
