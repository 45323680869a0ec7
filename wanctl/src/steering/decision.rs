//! What the steering state machine decides each cycle, and why.

use std::{fmt, time::Duration};

use serde::Serialize;

use super::WanHealth;

/// The routing decision for new latency-sensitive connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// New latency-sensitive connections take the alternate WAN.
    Steer,
    /// Everything takes the primary (routing as if steering did not exist).
    DontSteer,
}

impl Action {
    /// `Steer` for true.
    pub const fn from_steering(steering: bool) -> Self {
        if steering {
            Action::Steer
        } else {
            Action::DontSteer
        }
    }

    /// True for `Steer`.
    pub const fn is_steer(self) -> bool {
        matches!(self, Action::Steer)
    }

    /// "steering" or "not_steering", for logs, labels and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Steer => "steering",
            Action::DontSteer => "not_steering",
        }
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why the machine decided what it did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    /// Start-up: the actuator was found in this state and the policy keeps it.
    StartupAdopted,
    /// Start-up: the actuator was found steering and the policy resets it.
    StartupReset,
    /// The primary has been congested long enough.
    PrimaryCongested {
        /// For how long.
        sustained: Duration,
    },
    /// The primary has been GREEN long enough.
    PrimaryRecovered {
        /// For how long.
        sustained: Duration,
    },
    /// The alternate WAN cannot take traffic (congested, down, stale or invalid).
    AlternateUnusable {
        /// Its assessment.
        alternate: WanHealth,
    },
    /// A switch is wanted but the hold-down after the last switch has not expired.
    HoldDown {
        /// Time left.
        remaining: Duration,
    },
    /// A switch is wanted but the flap limit has been reached.
    FlapLimit {
        /// Switches in the current window.
        switches: usize,
    },
    /// The primary's input cannot be trusted: no evidence either way, nothing changes.
    PrimaryUnknown {
        /// Its assessment.
        primary: WanHealth,
    },
    /// Nothing calls for a change.
    Steady,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::StartupAdopted => f.write_str("start-up: adopted the actuator's state"),
            Reason::StartupReset => f.write_str("start-up: resetting a leftover steering state"),
            Reason::PrimaryCongested { sustained } => {
                write!(f, "primary congested for {:.1}s", sustained.as_secs_f64())
            }
            Reason::PrimaryRecovered { sustained } => {
                write!(f, "primary green for {:.1}s", sustained.as_secs_f64())
            }
            Reason::AlternateUnusable { alternate } => {
                write!(f, "alternate unusable ({alternate})")
            }
            Reason::HoldDown { remaining } => {
                write!(f, "hold-down, {:.1}s left", remaining.as_secs_f64())
            }
            Reason::FlapLimit { switches } => {
                write!(f, "flap limit reached ({switches} switches in window)")
            }
            Reason::PrimaryUnknown { primary } => write!(f, "primary input unusable ({primary})"),
            Reason::Steady => f.write_str("steady"),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One cycle's decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decision {
    /// The state the actuator should be in.
    pub action: Action,
    /// Why.
    pub reason: Reason,
    /// True when `action` differs from the committed state: the caller must actuate, then
    /// [`commit`](super::SteeringMachine::commit) on success.
    pub switch: bool,
}
