//! Per-WAN congestion assessment: the control core's state, escalated by raw signals, and whether the input
//! can be trusted at all (link up, fresh, finite).

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

use super::config::SignalThresholds;
use crate::signal::Timestamp;

/// A WAN's congestion state, ordered from best to worst. Mirrors the control core's download state machine
/// (GREEN / YELLOW / SOFT_RED / RED); the daemon converts the core's state into this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CongestionState {
    /// Delay near baseline.
    Green,
    /// Delay rising; an early warning, no action.
    Yellow,
    /// Clearly congested, below the hard threshold.
    SoftRed,
    /// Hard congestion.
    Red,
}

impl CongestionState {
    /// "green", "yellow", "soft_red" or "red", for logs, labels and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            CongestionState::Green => "green",
            CongestionState::Yellow => "yellow",
            CongestionState::SoftRed => "soft_red",
            CongestionState::Red => "red",
        }
    }
}

impl fmt::Display for CongestionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the daemon knows about one WAN in this cycle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WanCongestion {
    /// The control core's state for the direction that matters (usually download).
    pub state: CongestionState,
    /// Smoothed delay increase over the baseline, in milliseconds.
    pub delay_delta_ms: f64,
    /// Fraction of packets dropped or ECN-marked by the shaper in the last interval (0..1).
    pub drop_rate: f64,
    /// Bytes queued in the shaper.
    pub backlog_bytes: u64,
    /// When this input was last refreshed by the WAN's control loop.
    pub updated_at: Timestamp,
    /// Whether the WAN's link is up (carrier and configured).
    pub link_up: bool,
}

/// The verdict on one WAN's input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "health")]
pub enum WanHealth {
    /// Trustworthy input; the assessed state.
    Usable {
        /// The worse of the control state and what the raw signals say.
        state: CongestionState,
    },
    /// The link is down.
    Down,
    /// The input has not been refreshed within the staleness limit.
    Stale {
        /// How old the input is.
        #[serde(rename = "age_secs", serialize_with = "secs")]
        age: Duration,
    },
    /// The input holds a non-finite or out-of-range number.
    Invalid,
}

impl WanHealth {
    /// The assessed state if the input is usable.
    pub const fn state(self) -> Option<CongestionState> {
        match self {
            WanHealth::Usable { state } => Some(state),
            _ => None,
        }
    }
}

impl fmt::Display for WanHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WanHealth::Usable { state } => write!(f, "{state}"),
            WanHealth::Down => f.write_str("link down"),
            WanHealth::Stale { age } => write!(f, "stale for {:.1}s", age.as_secs_f64()),
            WanHealth::Invalid => f.write_str("invalid input"),
        }
    }
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Assesses one WAN at `now`.
///
/// Order matters: a down link or stale input says nothing about congestion, so those win over any state.
pub fn assess(
    wan: &WanCongestion,
    now: Timestamp,
    staleness: Duration,
    thresholds: &SignalThresholds,
) -> WanHealth {
    if !wan.link_up {
        return WanHealth::Down;
    }
    let age = now.saturating_since(wan.updated_at);
    if age > staleness {
        return WanHealth::Stale { age };
    }
    if !wan.delay_delta_ms.is_finite() || !(0.0..=1.0).contains(&wan.drop_rate) {
        return WanHealth::Invalid;
    }
    WanHealth::Usable {
        state: wan.state.max(signal_state(wan, thresholds)),
    }
}

/// What the raw signals alone say.
fn signal_state(wan: &WanCongestion, t: &SignalThresholds) -> CongestionState {
    let queue_symptom = wan.drop_rate >= t.red_drop_rate && wan.drop_rate > 0.0
        || wan.backlog_bytes >= t.red_backlog_bytes;
    if wan.delay_delta_ms >= t.red_delay_ms && queue_symptom {
        CongestionState::Red
    } else if wan.delay_delta_ms >= t.yellow_delay_ms {
        CongestionState::Yellow
    } else {
        CongestionState::Green
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE: Duration = Duration::from_secs(5);

    fn wan(state: CongestionState) -> WanCongestion {
        WanCongestion {
            state,
            delay_delta_ms: 0.0,
            drop_rate: 0.0,
            backlog_bytes: 0,
            updated_at: Timestamp::from_nanos(10_000_000_000),
            link_up: true,
        }
    }

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_nanos(secs * 1_000_000_000)
    }

    #[test]
    fn control_state_passes_through_when_signals_are_quiet() {
        let t = SignalThresholds::default();
        for state in [
            CongestionState::Green,
            CongestionState::Yellow,
            CongestionState::SoftRed,
            CongestionState::Red,
        ] {
            assert_eq!(
                assess(&wan(state), at(11), STALE, &t),
                WanHealth::Usable { state }
            );
        }
    }

    #[test]
    fn delay_alone_is_yellow_and_needs_a_queue_symptom_for_red() {
        let t = SignalThresholds::default();
        let mut w = wan(CongestionState::Green);
        w.delay_delta_ms = t.red_delay_ms + 10.0;
        assert_eq!(
            assess(&w, at(11), STALE, &t).state(),
            Some(CongestionState::Yellow)
        );
        w.backlog_bytes = t.red_backlog_bytes;
        assert_eq!(
            assess(&w, at(11), STALE, &t).state(),
            Some(CongestionState::Red)
        );
        w.backlog_bytes = 0;
        w.drop_rate = t.red_drop_rate;
        assert_eq!(
            assess(&w, at(11), STALE, &t).state(),
            Some(CongestionState::Red)
        );
    }

    #[test]
    fn signals_never_soften_the_control_state() {
        let t = SignalThresholds::default();
        let w = wan(CongestionState::Red);
        assert_eq!(
            assess(&w, at(11), STALE, &t).state(),
            Some(CongestionState::Red)
        );
    }

    #[test]
    fn down_stale_and_invalid_inputs_are_not_usable() {
        let t = SignalThresholds::default();
        let mut down = wan(CongestionState::Green);
        down.link_up = false;
        assert_eq!(assess(&down, at(11), STALE, &t), WanHealth::Down);

        let old = wan(CongestionState::Green);
        assert_eq!(
            assess(&old, at(16), STALE, &t),
            WanHealth::Stale {
                age: Duration::from_secs(6)
            }
        );
        assert!(
            assess(&old, at(15), STALE, &t).state().is_some(),
            "exactly at the limit is fresh"
        );

        let mut nan = wan(CongestionState::Green);
        nan.delay_delta_ms = f64::NAN;
        assert_eq!(assess(&nan, at(11), STALE, &t), WanHealth::Invalid);
        let mut bad_rate = wan(CongestionState::Green);
        bad_rate.drop_rate = 1.5;
        assert_eq!(assess(&bad_rate, at(11), STALE, &t), WanHealth::Invalid);
    }
}
