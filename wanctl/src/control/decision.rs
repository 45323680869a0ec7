//! What the core returns each cycle: per direction a target rate, a state and the reason for it.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use crate::{
    config::Bandwidth,
    signal::{BaselineUpdate, CycleStats, PerDirection, Timestamp},
};

/// Congestion state of a direction. Upload never uses `SoftRed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Zone {
    /// Delay at or below target.
    Green,
    /// Delay above target.
    Yellow,
    /// Download: delay above warn.
    SoftRed,
    /// Delay above hard red (download) or warn (upload).
    Red,
}

impl Zone {
    /// True for SOFT_RED and RED, the states in which the rate never increases.
    pub const fn is_congested(self) -> bool {
        matches!(self, Zone::SoftRed | Zone::Red)
    }

    /// "GREEN", "YELLOW", "SOFT_RED" or "RED".
    pub const fn as_str(self) -> &'static str {
        match self {
            Zone::Green => "GREEN",
            Zone::Yellow => "YELLOW",
            Zone::SoftRed => "SOFT_RED",
            Zone::Red => "RED",
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the rate is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No usable sample this cycle: everything held.
    Idle,
    /// Delay above the RED threshold: multiplicative decrease towards `floor_red`.
    Red,
    /// Delay above warn: decrease towards `floor_soft_red`.
    SoftRed,
    /// Delay above target: decrease towards `floor_yellow`.
    Yellow,
    /// Delay above target for fewer than `dwell_cycles` cycles after GREEN: no increase yet, no decrease.
    YellowDwell,
    /// Delay back under target but inside the deadband: still YELLOW.
    Deadband,
    /// CAKE drops/marks above threshold confirmed a delay above target: YELLOW without dwell.
    CakeDrops,
    /// A decrease was due, but the direction's last one is younger than `red_refractory` (RED/SOFT_RED) or
    /// `yellow_refractory` (YELLOW/deadband): holding while the delay answers it.
    Refractory,
    /// GREEN, fewer than `green_required` cycles in a row or the delay inside the deadband: hold.
    GreenHold,
    /// GREEN long enough and the link is used: step up.
    StepUp,
    /// GREEN and used, but already at the ceiling.
    Ceiling,
    /// GREEN but the link is not used enough to prove more capacity: relax towards `base`.
    DecayToBase,
}

impl Reason {
    /// The machine name, as in JSON (`step_up`, `yellow_dwell`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Reason::Idle => "idle",
            Reason::Red => "red",
            Reason::SoftRed => "soft_red",
            Reason::Yellow => "yellow",
            Reason::YellowDwell => "yellow_dwell",
            Reason::Deadband => "deadband",
            Reason::CakeDrops => "cake_drops",
            Reason::Refractory => "refractory",
            Reason::GreenHold => "green_hold",
            Reason::StepUp => "step_up",
            Reason::Ceiling => "ceiling",
            Reason::DecayToBase => "decay_to_base",
        }
    }

    /// Whether the rate law decreased the rate for delay (or CAKE drop) evidence: what starts a refractory
    /// period.
    pub const fn is_cut(self) -> bool {
        matches!(
            self,
            Reason::Red | Reason::SoftRed | Reason::Yellow | Reason::Deadband | Reason::CakeDrops
        )
    }

    /// A short human-readable explanation.
    pub const fn describe(self) -> &'static str {
        match self {
            Reason::Idle => "no RTT samples this cycle; holding",
            Reason::Red => "delay above RED threshold; cutting",
            Reason::SoftRed => "delay above warn; decreasing",
            Reason::Yellow => "delay above target; decreasing",
            Reason::YellowDwell => "delay above target, dwell not over; holding",
            Reason::Deadband => "delay inside deadband below target; decreasing",
            Reason::CakeDrops => "CAKE drop/mark rate above threshold",
            Reason::Refractory => "delay high, waiting for the last cut to take effect; holding",
            Reason::GreenHold => {
                "delay under target; holding (GREEN streak too short, or inside the deadband)"
            }
            Reason::StepUp => "delay fine and link used; increasing",
            Reason::Ceiling => "delay fine; at ceiling",
            Reason::DecayToBase => "delay fine but link not used; relaxing towards base",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The outcome for one direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DirectionDecision {
    /// Target rate.
    #[serde(rename = "rate_bps", serialize_with = "bps")]
    pub rate: Bandwidth,
    /// Congestion state.
    pub state: Zone,
    /// Why.
    pub reason: Reason,
    /// Achieved rate over the cycle divided by the rate in force during it.
    #[serde(serialize_with = "rounded")]
    pub utilization: f64,
}

/// The controller's output for one cycle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decision {
    /// End of the cycle, seconds on the caller's monotonic clock.
    #[serde(rename = "time_s", serialize_with = "secs")]
    pub at: Timestamp,
    /// False on an idle cycle (no usable sample): rates and states were held.
    pub had_samples: bool,
    /// How the cycle's samples were used and rejected.
    pub samples: CycleStats,
    /// Samples and flows rejected since start (invalid + stale + outlier flows + overflow).
    pub rejected_total: u64,
    /// Baseline RTT, ms.
    #[serde(serialize_with = "rounded_opt")]
    pub baseline_ms: Option<f64>,
    /// Load RTT, ms.
    #[serde(serialize_with = "rounded_opt")]
    pub load_ms: Option<f64>,
    /// Load minus baseline, ms.
    #[serde(serialize_with = "rounded_opt")]
    pub delta_ms: Option<f64>,
    /// The download's own queue delay (one-way, from the peers' timestamps), smoothed, ms; when present the
    /// download decides on it and the upload on `delta_ms` minus it.
    #[serde(
        serialize_with = "rounded_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub downstream_ms: Option<f64>,
    /// What the baseline did this cycle.
    pub baseline_update: BaselineUpdate,
    /// Per-direction outcome.
    #[serde(flatten)]
    pub directions: PerDirection<DirectionDecision>,
}

// Micro-precision keeps JSON output identical across libm implementations for the golden files.
fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

fn rounded<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round6(*v))
}

fn rounded_opt<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&round6(*v)),
        None => s.serialize_none(),
    }
}

fn bps<S: Serializer>(v: &Bandwidth, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(v.bps())
}

fn secs<S: Serializer>(v: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round6(v.as_secs_f64()))
}
