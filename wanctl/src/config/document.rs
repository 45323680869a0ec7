//! The top-level configuration document: `schema_version`, the `service` section, the WANs, and the sections
//! of components that plug in per WAN.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};

use crate::{
    control::ControlConfig,
    probe::{active::ActiveProbeConfig, ebpf::ProbeConfig},
    shaper::{cake::CakeConfig, routeros::RouterOsConfig},
    signal::source_policy::SourcePolicy,
    steering::SteeringConfig,
};

use super::{
    ConfigError, ServiceConfig,
    load::{self, Document, Loaded},
    migrate::{self, Migration},
    validate,
};

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "wanctl configuration")]
pub struct Config {
    /// Version of this file's layout; this wanctl reads 1 and migrates 0.
    pub schema_version: u32,
    /// Daemon-wide settings.
    #[serde(default)]
    pub service: ServiceConfig,
    /// The links to control, one entry per WAN.
    pub wans: Vec<WanConfig>,
    /// Multi-WAN steering: new latency-sensitive connections move to the alternate WAN while the primary is
    /// congested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steering: Option<SteeringConfig>,
}

/// One WAN link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WanConfig {
    /// Short name used in logs, metrics labels, state file names: letters, digits, `_`, `-`, `.`; at most 32.
    pub name: String,
    /// The Linux network interface that carries this WAN's traffic (e.g. `eth0`, `ppp0`).
    pub interface: String,
    /// Control core: thresholds, floors, ceilings, time constants, cycle.
    pub control: ControlConfig,
    /// Which RTT samples drive the controller: `passive` (eBPF, the default), `active` (ICMP probes only) or
    /// `passive_with_fallback` (probes while real traffic gives no samples).
    #[serde(default)]
    pub rtt_source: SourcePolicy,
    /// Active ICMP probes with reflectors; required when `rtt_source` uses them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_probe: Option<ActiveProbeConfig>,
    /// Passive eBPF RTT probe on `interface` (sampling interval, flow table size, record budget).
    #[serde(default)]
    pub probe: ProbeConfig,
    /// Local CAKE sink: upload on `cake.interface`'s egress, download on an IFB fed by its ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cake: Option<CakeConfig>,
    /// MikroTik RouterOS sink: the same decisions written to the router's queues over its REST API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routeros: Option<RouterOsConfig>,
}

impl Document for Config {
    const SCHEMA_VERSION: u32 = 1;

    fn migrations() -> &'static [Migration] {
        &MIGRATIONS
    }
}

/// Version 0 (the first drafts) named a WAN's interface `iface` and had the health address at the top level.
static MIGRATIONS: [Migration; 1] = [Migration {
    from: 0,
    summary: "renamed `wans[].iface` to `wans[].interface` and moved `health_listen` to `service.http_listen`",
    apply: v0_to_v1,
}];

fn v0_to_v1(doc: &mut Mapping) -> Result<(), String> {
    migrate::move_into_section(doc, "health_listen", "service", "http_listen")?;
    if let Some(Value::Sequence(wans)) = doc.get_mut("wans") {
        for (index, wan) in wans.iter_mut().enumerate() {
            if let Value::Mapping(wan) = wan {
                migrate::rename_key(wan, "iface", "interface", &format!("wans[{index}]"))?;
            }
        }
    }
    Ok(())
}

/// Reads, migrates and validates the configuration file at `path`.
///
/// # Errors
/// Every problem found: one parse error, or all validation errors at once.
pub fn load_config(path: &Path) -> Result<Loaded<Config>, Vec<ConfigError>> {
    let loaded = load::load::<Config>(path).map_err(|error| vec![error])?;
    validate::validate(&loaded.document, path)?;
    Ok(loaded)
}

/// As [`load_config`], keeping only the document, with every problem on its own line (what a reload reports).
///
/// # Errors
/// The problems [`load_config`] found, one per line.
pub fn reload_config(path: &Path) -> Result<Config, String> {
    load_config(path)
        .map(|loaded| loaded.document)
        .map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })
}

/// As [`load_config`], from text; `source` names it in errors.
///
/// # Errors
/// As [`load_config`].
pub fn load_config_str(text: &str, source: &Path) -> Result<Loaded<Config>, Vec<ConfigError>> {
    let loaded = load::load_str::<Config>(text, source).map_err(|error| vec![error])?;
    validate::validate(&loaded.document, source)?;
    Ok(loaded)
}
