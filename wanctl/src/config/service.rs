//! The `service:` section: where the daemon listens, keeps state and locks, how it logs, and what its
//! systemd watchdog counts as a stalled loop.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DurationSpec;

/// Daemon-wide settings. Every key has a default, so the section may be left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Address of the `/health` and `/metrics` endpoints. They have no authentication, so loopback by default.
    pub http_listen: SocketAddr,
    /// Allow `http_listen` on a non-loopback address (expose health and metrics to the network).
    pub allow_remote_http: bool,
    /// Where per-WAN state files live (baseline, rates, states); must be writable and persistent.
    pub state_dir: PathBuf,
    /// Where the single-instance lock lives; a tmpfs such as /run is right.
    pub runtime_dir: PathBuf,
    /// Log line format; `--log-format` on the command line wins.
    pub log_format: LogFormat,
    /// Minimum time between two state-file writes of one WAN (flash wear); a shutdown always writes.
    #[schemars(extend("x-minimum" = "1s", "x-maximum" = "600s"))]
    pub state_save_interval: DurationSpec,
    /// What the systemd watchdog counts as a stalled control loop.
    pub watchdog: WatchdogPolicy,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            http_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 9101)),
            allow_remote_http: false,
            state_dir: PathBuf::from("/var/lib/wanctl"),
            runtime_dir: PathBuf::from("/run/wanctl"),
            log_format: LogFormat::Human,
            state_save_interval: DurationSpec::from_secs(5),
            watchdog: WatchdogPolicy::default(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The watchdog sends `WATCHDOG=1` only while every WAN loop completed a cycle within `stall_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WatchdogPolicy {
    /// A loop without a completed cycle for this long counts as stalled; keep it below half of `WatchdogSec=`.
    #[schemars(extend("x-minimum" = "100ms", "x-maximum" = "600s"))]
    pub stall_after: DurationSpec,
}

impl Default for WatchdogPolicy {
    fn default() -> Self {
        Self {
            stall_after: DurationSpec::from_secs(2),
        }
    }
}
