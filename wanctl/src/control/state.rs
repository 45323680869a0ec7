//! The controller's persistent state: what survives a restart through the service's state file.
//!
//! Restoring checks every value against the parameters in force (the file may be old, hand-edited or
//! corrupt): a non-finite or out-of-range value rejects the whole state and nothing is changed.

use serde::{Deserialize, Serialize};

use super::{Controller, decision::Zone, direction::DirectionState, params::DirectionParams};
use crate::signal::{Direction, PerDirection};

/// Snapshot of a [`Controller`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControllerState {
    /// Baseline RTT, ms.
    pub baseline_ms: Option<f64>,
    /// Load RTT, ms.
    pub load_ms: Option<f64>,
    /// Download state.
    pub download: DirectionSnapshot,
    /// Upload state.
    pub upload: DirectionSnapshot,
}

/// Snapshot of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectionSnapshot {
    /// Current rate, bits per second.
    pub rate_bps: u64,
    /// Confirmed state.
    pub state: Zone,
    /// Consecutive GREEN cycles.
    pub green_streak: u32,
    /// Cycles spent in the YELLOW dwell.
    pub dwell: u32,
    /// Smoothed CAKE drops+marks per second.
    pub drop_rate: f64,
}

/// A value in a state file that cannot be restored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("controller state: {field} = {value}: {rule}")]
pub struct RestoreError {
    /// Which value, e.g. `download.rate_bps`.
    pub field: String,
    /// The value as found.
    pub value: String,
    /// What it must satisfy.
    pub rule: String,
}

fn reject(field: &str, value: impl ToString, rule: impl Into<String>) -> RestoreError {
    RestoreError {
        field: field.to_string(),
        value: value.to_string(),
        rule: rule.into(),
    }
}

impl Controller {
    /// The state worth persisting.
    pub fn snapshot(&self) -> ControllerState {
        let snap = |direction: Direction| {
            let s = self.directions.get(direction);
            DirectionSnapshot {
                rate_bps: s.rate,
                state: s.zone,
                green_streak: s.green_streak,
                dwell: s.dwell,
                drop_rate: *self.drop_rate.get(direction),
            }
        };
        ControllerState {
            baseline_ms: self.tracker.baseline_ms(),
            load_ms: self.tracker.load_ms(),
            download: snap(Direction::Download),
            upload: snap(Direction::Upload),
        }
    }

    /// Takes over a persisted state after checking every value; on error nothing changes.
    ///
    /// # Errors
    /// The first value that is not finite, out of range for the current parameters, or inconsistent.
    pub fn restore(&mut self, state: &ControllerState) -> Result<(), RestoreError> {
        let (min_ms, max_ms) = (
            self.params.min_rtt.as_secs_f64() * 1e3,
            self.params.max_rtt.as_secs_f64() * 1e3,
        );
        for (field, value) in [
            ("baseline_ms", state.baseline_ms),
            ("load_ms", state.load_ms),
        ] {
            if let Some(v) = value
                && !(v.is_finite() && v >= min_ms && v <= max_ms)
            {
                return Err(reject(
                    field,
                    v,
                    format!("must be within {min_ms}..={max_ms} ms"),
                ));
            }
        }
        if state.baseline_ms.is_none() && state.load_ms.is_some() {
            return Err(reject("baseline_ms", "null", "must be set when load_ms is"));
        }
        let download = self.check_direction(&self.params.download, &state.download)?;
        let upload = self.check_direction(&self.params.upload, &state.upload)?;
        self.tracker.set(state.baseline_ms, state.load_ms);
        self.directions = PerDirection { download, upload };
        self.drop_rate = PerDirection {
            download: state.download.drop_rate,
            upload: state.upload.drop_rate,
        };
        self.refresh_decision();
        Ok(())
    }

    fn check_direction(
        &self,
        p: &DirectionParams,
        s: &DirectionSnapshot,
    ) -> Result<DirectionState, RestoreError> {
        let name = p.direction.as_str();
        let field = |f: &str| format!("{name}.{f}");
        if s.rate_bps < p.floor_red || s.rate_bps > p.ceiling {
            return Err(reject(
                &field("rate_bps"),
                s.rate_bps,
                format!(
                    "must be within floor_red {}..=ceiling {}",
                    p.floor_red, p.ceiling
                ),
            ));
        }
        if p.direction == Direction::Upload && s.state == Zone::SoftRed {
            return Err(reject(
                &field("state"),
                s.state,
                "upload has no SOFT_RED state",
            ));
        }
        if !(s.drop_rate.is_finite() && (0.0..=1e9).contains(&s.drop_rate)) {
            return Err(reject(
                &field("drop_rate"),
                s.drop_rate,
                "must be within 0..=1e9",
            ));
        }
        Ok(DirectionState {
            rate: s.rate_bps,
            zone: s.state,
            // Counters only delay decisions; clamping them cannot inject anything absurd.
            green_streak: s.green_streak.min(p.green_required),
            dwell: s.dwell.min(self.params.dwell_cycles),
            plateau: 0,
            probing_s: 0.0,
        })
    }
}
