//! The `steering:` section of the configuration: which WANs, when to steer, how to actuate.
//!
//! Every duration is wall-clock time (`"2s"`, `"5m"`), never a count of control cycles, so changing the
//! cycle interval does not change how long "sustained" is.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CongestionState, actuator::ActuatorConfig};
use crate::config::DurationSpec;

/// Multi-WAN steering: move new latency-sensitive connections to `alternate` while `primary` is congested.
///
/// # Examples
/// Every key but `primary`, `alternate` and `actuator` is optional; the values shown are the defaults.
/// ```
/// let yaml = r#"
/// primary: wan1
/// alternate: wan2
/// enter: { state: red, sustain: 2s }      # RED (or soft_red) without interruption for 2 s
/// leave: { sustain: 30s }                 # GREEN without interruption for 30 s
/// hold_down: 30s                          # no switch within 30 s of the previous one
/// flap_limit: { max_switches: 4, window: 5m }
/// staleness: 5s                           # older input: the WAN is unknown, never a target
/// alternate_max_state: yellow
/// signals: { yellow_delay_ms: 15, red_delay_ms: 30, red_drop_rate: 0.01, red_backlog_bytes: 100000 }
/// startup: reset                          # or adopt
/// on_exit: not_steering                   # or keep
/// actuator:
///   linux:                                # or routeros: { mangle_comment: "wanctl steer" }
///     fwmark: 0x1
///     fwmask: 0x1
///     table: 100
///     priority: 1000
///     sticky: { fwmark: 0x2, fwmask: 0x2, priority: 999 }
///     route: { device: wan2, gateway: 203.0.113.2 }
/// "#;
/// let config: wanctl::steering::SteeringConfig = serde_yaml_ng::from_str(yaml).unwrap();
/// config.validate().unwrap();
/// let defaults: wanctl::steering::SteeringConfig = serde_yaml_ng::from_str(
///     "{ primary: wan1, alternate: wan2, actuator: { linux: { route: { device: wan2, gateway: 203.0.113.2 } } } }",
/// )
/// .unwrap();
/// assert_eq!(config, defaults);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SteeringConfig {
    /// Name of the WAN whose congestion triggers steering (as named in the `wans` section).
    pub primary: String,
    /// Name of the WAN that latency-sensitive connections move to.
    pub alternate: String,
    /// When to start steering.
    #[serde(default)]
    pub enter: EnterCondition,
    /// When to stop steering.
    #[serde(default)]
    pub leave: LeaveCondition,
    /// After any switch, no further switch for this long (except leaving an alternate that went bad).
    #[serde(default = "default_hold_down")]
    pub hold_down: DurationSpec,
    /// At most this many switches per window; further switching is suppressed, not just logged.
    #[serde(default)]
    pub flap_limit: FlapLimit,
    /// A WAN whose congestion input is older than this is treated as unknown: never a steering target.
    #[serde(default = "default_staleness")]
    pub staleness: DurationSpec,
    /// The worst state the alternate WAN may be in to receive traffic.
    #[serde(default)]
    pub alternate_max_state: AlternateLimit,
    /// Thresholds that let raw signals escalate a WAN's state beyond what the control core reports.
    #[serde(default)]
    pub signals: SignalThresholds,
    /// What to do with an actuator found steering when wanctl starts.
    #[serde(default)]
    pub startup: StartupPolicy,
    /// What to leave behind when wanctl stops.
    #[serde(default)]
    pub on_exit: ExitPolicy,
    /// How the routing decision is switched: Linux policy routing or a RouterOS mangle rule.
    pub actuator: ActuatorConfig,
}

/// Steering starts once the primary has been at least `state` for `sustain`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnterCondition {
    /// The state the primary must reach (`red` or `soft_red`).
    #[serde(default)]
    pub state: EnterState,
    /// How long the primary must stay at or above `state`, uninterrupted.
    #[serde(default = "default_enter_sustain")]
    pub sustain: DurationSpec,
}

impl Default for EnterCondition {
    fn default() -> Self {
        Self {
            state: EnterState::default(),
            sustain: default_enter_sustain(),
        }
    }
}

/// Steering stops once the primary has been GREEN for `sustain`; any other state restarts the period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaveCondition {
    /// How long the primary must stay GREEN, uninterrupted.
    #[serde(default = "default_leave_sustain")]
    pub sustain: DurationSpec,
}

impl Default for LeaveCondition {
    fn default() -> Self {
        Self {
            sustain: default_leave_sustain(),
        }
    }
}

/// The primary state that counts as congested for entering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnterState {
    /// SOFT_RED or RED.
    SoftRed,
    /// RED only.
    #[default]
    Red,
}

impl EnterState {
    /// The least severe state that counts.
    pub const fn threshold(self) -> CongestionState {
        match self {
            EnterState::SoftRed => CongestionState::SoftRed,
            EnterState::Red => CongestionState::Red,
        }
    }
}

/// The worst state an alternate WAN may be in to be a steering target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlternateLimit {
    /// Only a GREEN alternate.
    Green,
    /// GREEN or YELLOW.
    #[default]
    Yellow,
}

impl AlternateLimit {
    /// The worst acceptable state.
    pub const fn worst(self) -> CongestionState {
        match self {
            AlternateLimit::Green => CongestionState::Green,
            AlternateLimit::Yellow => CongestionState::Yellow,
        }
    }
}

/// No more than `max_switches` switches within any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlapLimit {
    /// Switches allowed per window (entering and leaving both count).
    #[serde(default = "default_max_switches")]
    pub max_switches: u32,
    /// The sliding window.
    #[serde(default = "default_flap_window")]
    pub window: DurationSpec,
}

impl Default for FlapLimit {
    fn default() -> Self {
        Self {
            max_switches: default_max_switches(),
            window: default_flap_window(),
        }
    }
}

/// Raw-signal thresholds. RED needs a delay increase *and* a queue symptom (drops or backlog), so a
/// delay spike alone, such as a reflector hiccup, does not move traffic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalThresholds {
    /// Delay increase over baseline (ms) that makes a WAN at least YELLOW.
    #[serde(default = "default_yellow_delay_ms")]
    pub yellow_delay_ms: f64,
    /// Delay increase over baseline (ms) that, with drops or backlog, makes a WAN RED.
    #[serde(default = "default_red_delay_ms")]
    pub red_delay_ms: f64,
    /// Fraction of packets dropped or marked (0..1) that corroborates RED.
    #[serde(default = "default_red_drop_rate")]
    pub red_drop_rate: f64,
    /// Queue backlog in bytes that corroborates RED.
    #[serde(default = "default_red_backlog_bytes")]
    pub red_backlog_bytes: u64,
}

impl Default for SignalThresholds {
    fn default() -> Self {
        Self {
            yellow_delay_ms: default_yellow_delay_ms(),
            red_delay_ms: default_red_delay_ms(),
            red_drop_rate: default_red_drop_rate(),
            red_backlog_bytes: default_red_backlog_bytes(),
        }
    }
}

/// What to do when the actuator is found steering at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartupPolicy {
    /// Return to not steering: after a restart there is no evidence the primary is still congested.
    #[default]
    Reset,
    /// Keep what was found; leaving then needs the usual sustained GREEN.
    Adopt,
}

/// What wanctl leaves behind when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExitPolicy {
    /// Stop steering: nothing left to watch the alternate WAN.
    #[default]
    NotSteering,
    /// Leave the routing decision as it is.
    Keep,
}

/// A configuration value that cannot work; names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("steering.{field}: {reason}")]
pub struct SteeringConfigError {
    /// Dotted path below `steering`, e.g. `flap_limit.max_switches`.
    pub field: String,
    /// What is wrong and what would be accepted.
    pub reason: String,
}

impl SteeringConfigError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl SteeringConfig {
    /// Checks what serde cannot: relations between fields and value ranges.
    ///
    /// # Errors
    /// The first invalid field, named by its path below `steering`.
    pub fn validate(&self) -> Result<(), SteeringConfigError> {
        for (field, name) in [("primary", &self.primary), ("alternate", &self.alternate)] {
            if name.trim().is_empty() {
                return Err(SteeringConfigError::new(field, "must name a WAN"));
            }
        }
        if self.primary == self.alternate {
            return Err(SteeringConfigError::new(
                "alternate",
                format!("must differ from primary `{}`", self.primary),
            ));
        }
        positive("enter.sustain", self.enter.sustain)?;
        positive("leave.sustain", self.leave.sustain)?;
        positive("staleness", self.staleness)?;
        positive("flap_limit.window", self.flap_limit.window)?;
        if self.flap_limit.max_switches == 0 {
            return Err(SteeringConfigError::new(
                "flap_limit.max_switches",
                "must be at least 1 (0 would never steer; remove the steering section instead)",
            ));
        }
        self.signals.validate()?;
        self.actuator.validate()
    }

    /// Hold-down as a [`Duration`].
    pub fn hold_down(&self) -> Duration {
        self.hold_down.get()
    }
}

impl SignalThresholds {
    fn validate(&self) -> Result<(), SteeringConfigError> {
        for (field, value) in [
            ("signals.yellow_delay_ms", self.yellow_delay_ms),
            ("signals.red_delay_ms", self.red_delay_ms),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(SteeringConfigError::new(
                    field,
                    format!("{value} must be a positive number of milliseconds"),
                ));
            }
        }
        if self.yellow_delay_ms > self.red_delay_ms {
            return Err(SteeringConfigError::new(
                "signals.yellow_delay_ms",
                format!(
                    "{} must not exceed red_delay_ms ({})",
                    self.yellow_delay_ms, self.red_delay_ms
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.red_drop_rate) {
            return Err(SteeringConfigError::new(
                "signals.red_drop_rate",
                format!("{} must be a fraction between 0 and 1", self.red_drop_rate),
            ));
        }
        Ok(())
    }
}

fn positive(field: &str, value: DurationSpec) -> Result<(), SteeringConfigError> {
    if value.get().is_zero() {
        return Err(SteeringConfigError::new(field, "must be longer than zero"));
    }
    Ok(())
}

fn default_hold_down() -> DurationSpec {
    DurationSpec::from_secs(30)
}
fn default_staleness() -> DurationSpec {
    DurationSpec::from_secs(5)
}
fn default_enter_sustain() -> DurationSpec {
    DurationSpec::from_secs(2)
}
fn default_leave_sustain() -> DurationSpec {
    DurationSpec::from_secs(30)
}
fn default_max_switches() -> u32 {
    4
}
fn default_flap_window() -> DurationSpec {
    DurationSpec::from_secs(300)
}
fn default_yellow_delay_ms() -> f64 {
    15.0
}
fn default_red_delay_ms() -> f64 {
    30.0
}
fn default_red_drop_rate() -> f64 {
    0.01
}
fn default_red_backlog_bytes() -> u64 {
    100_000
}
