//! What the operator configures for local CAKE (the `cake:` section), and its validation.

use serde::{Deserialize, Serialize};

use super::options::{AckFilter, AtmMode, CakeOptions, DiffservMode, FlowMode};
use crate::config::{Bandwidth, DurationSpec};

/// Local CAKE on one WAN device: upload shaped on the device's egress, download on an IFB that receives
/// the device's ingress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CakeConfig {
    /// The WAN device, e.g. `eth0`.
    pub interface: String,
    /// `install`: put CAKE (handle `1:`) at the root with the options below. `adopt`: use a CAKE that is
    /// already there (e.g. from sqm-scripts) and change only its rate.
    #[serde(default)]
    pub mode: SetupMode,
    /// What to do when the CAKE was replaced or removed behind wanctl's back.
    #[serde(default)]
    pub on_replaced: OnReplaced,
    /// What to leave behind when wanctl stops.
    #[serde(default)]
    pub on_exit: ExitPolicy,
    /// Upload shaping (egress of `interface`); absent = not shaped here.
    #[serde(default)]
    pub upload: Option<CakeDirection>,
    /// Download shaping (CAKE with `ingress` on an IFB); absent = not shaped here.
    #[serde(default)]
    pub download: Option<CakeDirection>,
}

/// Install a CAKE or adopt an existing one.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SetupMode {
    #[default]
    Install,
    Adopt,
}

/// Reaction to a CAKE that disappeared or changed kind under wanctl.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum OnReplaced {
    /// Install it again with the configured options and the current rate.
    #[default]
    Reinstall,
    /// Leave it alone and report an error (health, logs).
    Report,
}

/// Rate left in place when wanctl exits.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ExitPolicy {
    /// Keep whatever rate was last applied.
    #[default]
    LeaveLastRate,
    /// Set each direction's `safe_rate`.
    SafeRate,
}

/// Link-layer overhead presets, as `tc-cake(8)` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OverheadPreset {
    /// No compensation (`raw`).
    Raw,
    /// Ethernet with preamble, IFG and VLAN: overhead 38, mpu 84.
    Ethernet,
    /// DOCSIS cable: overhead 18, mpu 64.
    Docsis,
    /// PPPoE over VDSL2 (PTM): overhead 30, ptm.
    PppoePtm,
    /// Bridged VDSL2 (PTM): overhead 22, ptm.
    BridgedPtm,
    /// PPPoE over ADSL, VC-mux: overhead 32, atm.
    PppoeVcmux,
    /// PPPoE over ADSL, LLC/SNAP: overhead 40, atm.
    PppoeLlcsnap,
    /// Unknown ATM link: overhead 48, atm.
    Conservative,
}

impl OverheadPreset {
    /// (overhead, mpu, atm) as `tc` sets them; `None` overhead means raw.
    pub const fn values(self) -> (Option<i32>, Option<u32>, AtmMode) {
        match self {
            Self::Raw => (None, None, AtmMode::None),
            Self::Ethernet => (Some(38), Some(84), AtmMode::None),
            Self::Docsis => (Some(18), Some(64), AtmMode::None),
            Self::PppoePtm => (Some(30), None, AtmMode::Ptm),
            Self::BridgedPtm => (Some(22), None, AtmMode::Ptm),
            Self::PppoeVcmux => (Some(32), None, AtmMode::Atm),
            Self::PppoeLlcsnap => (Some(40), None, AtmMode::Atm),
            Self::Conservative => (Some(48), None, AtmMode::Atm),
        }
    }
}

/// One direction's CAKE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CakeDirection {
    /// Rate installed at startup, before the controller's first decision.
    pub initial_rate: Bandwidth,
    /// Rate set on exit when `on_exit: safe-rate`.
    #[serde(default)]
    pub safe_rate: Option<Bandwidth>,
    /// Download only: the IFB that carries the WAN's ingress (default `ifb4<interface>`, the sqm-scripts
    /// name). Created if missing, adopted if present.
    #[serde(default)]
    pub ifb: Option<String>,
    /// CAKE's priority tin layout (`tc-cake(8)` `diffserv3`, `diffserv4`, `diffserv8`, `besteffort`, ...).
    #[serde(default = "default_diffserv")]
    pub diffserv: DiffservMode,
    /// Default: `dual-srchost` for upload, `dual-dsthost` for download (per-host fairness behind NAT).
    #[serde(default)]
    pub flow_mode: Option<FlowMode>,
    /// CAKE's `nat`: look up the NAT table for per-host fairness by internal address (useful on the egress of
    /// a NAT gateway).
    #[serde(default)]
    pub nat: bool,
    /// CAKE's `wash`: clear DSCP marks after use (for links whose ISP marks are meaningless).
    #[serde(default)]
    pub wash: bool,
    /// A named link-layer preset; conflicts with `overhead`, `mpu` and `atm`.
    #[serde(default)]
    pub preset: Option<OverheadPreset>,
    /// Bytes of link-layer overhead added to each packet's size (`tc-cake(8)` `overhead`); absent = `raw`.
    #[serde(default)]
    #[schemars(range(min = -64, max = 256))]
    pub overhead: Option<i32>,
    /// Minimum packet size in bytes after overhead (`tc-cake(8)` `mpu`); at most 256.
    #[serde(default)]
    #[schemars(range(max = 256))]
    pub mpu: Option<u32>,
    /// Cell framing compensation: `atm` for ADSL, `ptm` for VDSL2, `noatm` otherwise.
    #[serde(default)]
    pub atm: Option<AtmMode>,
    /// CAKE's `rtt` (default 100ms).
    #[serde(default)]
    pub rtt: Option<DurationSpec>,
    /// Default: `disabled` (upload on asymmetric links benefits from `ack-filter`).
    #[serde(default = "default_ack_filter")]
    pub ack_filter: AckFilter,
    /// CAKE's `ingress` keyword (count drops as sent). Default: true for download, false for upload.
    #[serde(default)]
    pub ingress: Option<bool>,
}

fn default_diffserv() -> DiffservMode {
    DiffservMode::Diffserv4
}

fn default_ack_filter() -> AckFilter {
    AckFilter::Disabled
}

/// A configuration value that cannot work; `field` is the YAML path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cake.{field}: {reason}")]
pub struct CakeConfigError {
    pub field: String,
    pub reason: String,
}

const IFNAMSIZ: usize = 16;

impl CakeConfig {
    /// Checks everything that can be checked without the kernel.
    ///
    /// # Errors
    /// The first invalid field, named by its path (e.g. `cake.download.overhead`).
    pub fn validate(&self) -> Result<(), CakeConfigError> {
        let err = |field: &str, reason: String| CakeConfigError {
            field: field.into(),
            reason,
        };
        check_ifname("interface", &self.interface)?;
        if self.upload.is_none() && self.download.is_none() {
            return Err(err(
                "upload",
                "neither `upload` nor `download` is configured".into(),
            ));
        }
        for (name, dir) in [("upload", &self.upload), ("download", &self.download)] {
            let Some(dir) = dir else { continue };
            let f = |leaf: &str| format!("{name}.{leaf}");
            if dir.initial_rate.bps() < 8 {
                return Err(err(
                    &f("initial_rate"),
                    "must be at least 8bit (1 byte/s)".into(),
                ));
            }
            if self.on_exit == ExitPolicy::SafeRate && dir.safe_rate.is_none() {
                return Err(err(
                    &f("safe_rate"),
                    "required by `on_exit: safe-rate`".into(),
                ));
            }
            if name == "upload" && dir.ifb.is_some() {
                return Err(err(
                    &f("ifb"),
                    "only download is shaped through an IFB".into(),
                ));
            }
            if let Some(ifb) = &dir.ifb {
                check_ifname(&f("ifb"), ifb)?;
                if ifb == &self.interface {
                    return Err(err(&f("ifb"), "must differ from `interface`".into()));
                }
            }
            if dir.preset.is_some() {
                for (leaf, set) in [
                    ("overhead", dir.overhead.is_some()),
                    ("mpu", dir.mpu.is_some()),
                    ("atm", dir.atm.is_some()),
                ] {
                    if set {
                        return Err(err(
                            &f(leaf),
                            "conflicts with `preset`; use one or the other".into(),
                        ));
                    }
                }
            }
            if let Some(o) = dir.overhead
                && !(-64..=256).contains(&o)
            {
                return Err(err(
                    &f("overhead"),
                    format!("{o} is outside -64..=256 bytes"),
                ));
            }
            if let Some(m) = dir.mpu
                && m > 256
            {
                return Err(err(&f("mpu"), format!("{m} is above 256 bytes")));
            }
            if let Some(rtt) = dir.rtt {
                let us = rtt.get().as_micros();
                if !(1..=u128::from(u32::MAX)).contains(&us) {
                    return Err(err(
                        &f("rtt"),
                        "must be between 1us and about 71 minutes".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The IFB device download is shaped on.
    pub fn ifb_name(&self) -> Option<String> {
        let download = self.download.as_ref()?;
        Some(
            download
                .ifb
                .clone()
                .unwrap_or_else(|| default_ifb(&self.interface)),
        )
    }
}

/// sqm-scripts' name for the IFB of `interface`, cut to the kernel's 15-character limit.
pub fn default_ifb(interface: &str) -> String {
    let mut name = format!("ifb4{interface}");
    name.truncate(IFNAMSIZ - 1);
    name
}

fn check_ifname(field: &str, name: &str) -> Result<(), CakeConfigError> {
    if name.is_empty() || name.len() >= IFNAMSIZ || name.contains(['/', ' ', '\0']) {
        return Err(CakeConfigError {
            field: field.into(),
            reason: format!(
                "`{name}` is not a valid interface name (1-15 characters, no '/' or spaces)"
            ),
        });
    }
    Ok(())
}

impl CakeDirection {
    /// The options wanctl installs for this direction (`download` selects the download defaults).
    pub fn options(&self, download: bool) -> CakeOptions {
        let (overhead, mpu, atm) = match self.preset {
            Some(p) => {
                let (o, m, a) = p.values();
                (o, m, Some(a))
            }
            None => (self.overhead, self.mpu, self.atm),
        };
        let default_flow = if download {
            FlowMode::DualDsthost
        } else {
            FlowMode::DualSrchost
        };
        CakeOptions {
            base_rate_bytes: Some(self.initial_rate.bps() / 8),
            diffserv: Some(self.diffserv),
            atm,
            flow_mode: Some(self.flow_mode.unwrap_or(default_flow)),
            overhead,
            rtt_us: Some(self.rtt.map_or(100_000, |r| r.get().as_micros() as u32)),
            autorate: Some(false),
            nat: Some(self.nat),
            raw: overhead.is_none(),
            wash: Some(self.wash),
            mpu,
            ingress: Some(self.ingress.unwrap_or(download)),
            ack_filter: Some(self.ack_filter),
            ..CakeOptions::default()
        }
    }
}
