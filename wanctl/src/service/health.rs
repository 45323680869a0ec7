//! The health model served at `/health` and printed by `wanctl status`: per WAN, what the loop last decided and
//! measured, how fresh that is, and why it counts as degraded.

use serde::{Deserialize, Serialize};

use crate::{config::Bandwidth, shaper::ShaperHealth, signal::PerDirection};

/// Congestion state of one direction, as the control core names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LinkState {
    /// No decision yet.
    #[default]
    Unknown,
    /// Delay near the baseline; rate may grow.
    Green,
    /// Delay rising; rate held or trimmed.
    Yellow,
    /// Delay high; rate cut.
    SoftRed,
    /// Delay very high; rate cut hard.
    Red,
}

impl LinkState {
    /// Every state, for metric state sets.
    pub const ALL: [LinkState; 5] = [
        LinkState::Unknown,
        LinkState::Green,
        LinkState::Yellow,
        LinkState::SoftRed,
        LinkState::Red,
    ];

    /// The name used in JSON, metrics labels and STATUS.
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkState::Unknown => "UNKNOWN",
            LinkState::Green => "GREEN",
            LinkState::Yellow => "YELLOW",
            LinkState::SoftRed => "SOFT_RED",
            LinkState::Red => "RED",
        }
    }

    /// Severity for graphs: -1 unknown, 0 green … 3 red.
    pub const fn level(self) -> i64 {
        match self {
            LinkState::Unknown => -1,
            LinkState::Green => 0,
            LinkState::Yellow => 1,
            LinkState::SoftRed => 2,
            LinkState::Red => 3,
        }
    }
}

/// One shaper (sink) of a WAN as health reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShaperStatus {
    /// Sink name, e.g. `cake:eth0` or `routeros:rb5009`.
    pub name: String,
    /// `cake` or `routeros`.
    pub kind: String,
    /// Reachability, errors and write counts.
    pub health: ShaperHealthView,
    /// Rate writes that failed, since start.
    pub write_failures: u64,
}

/// [`ShaperHealth`] in a form that can also be read back by `wanctl status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShaperHealthView {
    /// The last operation reached the shaper.
    pub reachable: bool,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// Writes that reached the shaper.
    pub writes_done: u64,
    /// Changes not written (unchanged, deadband, rate limit).
    pub writes_skipped: u64,
}

impl From<ShaperHealth> for ShaperHealthView {
    fn from(h: ShaperHealth) -> Self {
        Self {
            reachable: h.reachable,
            last_error: h.last_error,
            writes_done: h.writes_done,
            writes_skipped: h.writes_skipped,
        }
    }
}

/// Health of one WAN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WanHealth {
    /// WAN name.
    pub name: String,
    /// `healthy` or `degraded`.
    pub status: String,
    /// Congestion state per direction.
    pub state: PerDirection<LinkState>,
    /// Target rate per direction (bits per second).
    pub rate_bps: PerDirection<u64>,
    /// Baseline (idle) RTT, milliseconds.
    pub baseline_rtt_ms: Option<f64>,
    /// Loaded RTT, milliseconds.
    pub load_rtt_ms: Option<f64>,
    /// Load minus baseline, milliseconds.
    pub delta_rtt_ms: Option<f64>,
    /// Of that, the download's own queue (one-way delay from the peers' timestamps), milliseconds; absent
    /// while not measured. The upload's share is the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downstream_delay_ms: Option<f64>,
    /// RTT samples per second over the last second or so.
    pub samples_per_second: f64,
    /// Milliseconds since the last completed cycle; `None` before the first.
    pub last_cycle_age_ms: Option<u64>,
    /// Cycles that took longer than the cycle interval, since start.
    pub cycle_overruns: u64,
    /// Active ICMP probes: reflector states, probe loss, replacements (where the WAN has them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_probes: Option<serde_json::Value>,
    /// Every sink of this WAN.
    pub shapers: Vec<ShaperStatus>,
    /// Whether every RouterOS sink answered last time; `None` without RouterOS sinks.
    pub router_reachable: Option<bool>,
    /// This WAN's role in steering (e.g. `primary`, `avoided`); `None` without steering.
    pub steering: Option<String>,
    /// Why this WAN is degraded; empty when healthy.
    pub degraded_reasons: Vec<String>,
}

/// The whole `/health` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// `healthy` (HTTP 200) or `degraded` (HTTP 503).
    pub status: String,
    /// wanctl version.
    pub version: String,
    /// Seconds since the daemon started.
    pub uptime_seconds: u64,
    /// Steering state across WANs, if steering is configured.
    pub steering_state: Option<String>,
    /// One entry per WAN, in configuration order.
    pub wans: Vec<WanHealth>,
}

impl HealthReport {
    /// Whether every WAN is healthy (and there is at least one).
    pub fn is_healthy(&self) -> bool {
        self.status == "healthy"
    }

    /// The STATUS= line: one short clause per WAN, e.g. `wan1 GREEN/GREEN 95Mbit/18Mbit; wan2 RED/GREEN …`.
    pub fn status_line(&self) -> String {
        self.wans
            .iter()
            .map(|wan| {
                let mut clause = format!(
                    "{} {}/{} {}/{}",
                    wan.name,
                    wan.state.download.as_str(),
                    wan.state.upload.as_str(),
                    Bandwidth::from_bps(wan.rate_bps.download),
                    Bandwidth::from_bps(wan.rate_bps.upload),
                );
                if let Some(reason) = wan.degraded_reasons.first() {
                    clause.push_str(&format!(" ({reason})"));
                }
                clause
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}
