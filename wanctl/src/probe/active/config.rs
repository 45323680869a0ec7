//! Per-WAN active probing settings: reflectors, rate, deadline, how probes are bound to the WAN, and the
//! reflector-health thresholds.

use std::{
    collections::HashSet,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use crate::config::DurationSpec;

/// Most probes per second a WAN may send in total: active probing is a low-rate fallback, not a load.
pub const MAX_RATE: f64 = 10.0;
/// The longest per-probe deadline accepted; later replies are useless to a controller running every 50 ms.
pub const MAX_DEADLINE: Duration = Duration::from_secs(10);

/// Active ICMP probing for one WAN (YAML section `active_probe`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ActiveProbeConfig {
    /// Reflectors probed at start (IPv4 or IPv6 literals); their median RTT is the active sample.
    pub reflectors: Vec<IpAddr>,
    /// Replacements, taken in order when an active reflector stops answering or is demoted.
    pub spares: Vec<IpAddr>,
    /// Probes per second for the whole WAN, shared round-robin across the active reflectors; above 0.
    #[schemars(range(max = MAX_RATE))]
    pub rate: f64,
    /// A probe without a reply after this long is lost and counts as an offence against its reflector; above 0.
    #[schemars(extend("x-maximum" = "10s"))]
    pub deadline: DurationSpec,
    /// Interface the probes must leave by (`SO_BINDTODEVICE`), e.g. the WAN's device.
    pub device: Option<String>,
    /// Source address for IPv4 probes (selects the WAN by policy routing or source-based routes).
    pub source_v4: Option<Ipv4Addr>,
    /// Source address for IPv6 probes.
    pub source_v6: Option<Ipv6Addr>,
    /// Firewall mark put on every probe (`SO_MARK`, needs CAP_NET_ADMIN), for `ip rule fwmark` routing.
    pub fwmark: Option<u32>,
    /// Offences (lost probes) are counted over this sliding window.
    pub offence_window: DurationSpec,
    /// A reflector with this many offences within the window is replaced by a spare.
    #[schemars(range(min = 1))]
    pub offence_threshold: u32,
    /// How often the active reflectors' baselines and deltas are compared with each other.
    pub comparison_interval: DurationSpec,
    /// Replies a reflector needs before it takes part in comparisons.
    pub comparison_min_samples: u32,
    /// A reflector whose baseline RTT exceeds the best one's by more than this is demoted (slow path).
    pub baseline_margin: DurationSpec,
    /// A reflector whose smoothed delta differs from the other reflectors' median by more than this is
    /// demoted: it would fake bloat (delta too high) or hide it (delta too low).
    pub delta_margin: DurationSpec,
}

impl Default for ActiveProbeConfig {
    fn default() -> Self {
        Self {
            reflectors: Vec::new(),
            spares: Vec::new(),
            rate: 2.0,
            deadline: DurationSpec::from_secs(1),
            device: None,
            source_v4: None,
            source_v6: None,
            fwmark: None,
            offence_window: DurationSpec::from_secs(60),
            offence_threshold: 3,
            comparison_interval: DurationSpec::from_secs(60),
            comparison_min_samples: 10,
            baseline_margin: DurationSpec::from_millis(20),
            delta_margin: DurationSpec::from_millis(10),
        }
    }
}

/// A setting of `active_probe` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("active_probe.{field}: {reason}")]
pub struct ActiveConfigError {
    /// The offending key, e.g. `rate` or `reflectors[2]`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ActiveConfigError {
    ActiveConfigError {
        field: field.into(),
        reason: reason.into(),
    }
}

impl ActiveProbeConfig {
    /// Checks every field; the error names the first bad one.
    ///
    /// # Errors
    /// [`ActiveConfigError`] naming the field and the reason.
    pub fn validate(&self) -> Result<(), ActiveConfigError> {
        if self.reflectors.is_empty() {
            return Err(invalid("reflectors", "at least one reflector is needed"));
        }
        let mut seen = HashSet::new();
        let all = self.reflectors.iter().map(|a| ("reflectors", a));
        let spares = self.spares.iter().map(|a| ("spares", a));
        for (i, (list, addr)) in all.enumerate().chain(spares.enumerate()) {
            let field = format!("{list}[{i}]");
            if addr.is_unspecified() || addr.is_multicast() || is_broadcast(addr) {
                return Err(invalid(
                    field,
                    format!("{addr} cannot answer echo requests"),
                ));
            }
            if !seen.insert(*addr) {
                return Err(invalid(field, format!("{addr} is listed twice")));
            }
        }
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE) {
            return Err(invalid(
                "rate",
                format!(
                    "{} probes/s is outside (0, {MAX_RATE}]; the default is 2",
                    self.rate
                ),
            ));
        }
        let deadline = self.deadline.get();
        if deadline.is_zero() || deadline > MAX_DEADLINE {
            return Err(invalid(
                "deadline",
                format!("{} is outside (0, {MAX_DEADLINE:?}]", self.deadline),
            ));
        }
        if let Some(device) = &self.device
            && (device.is_empty() || device.len() >= libc::IFNAMSIZ || device.contains('/'))
        {
            return Err(invalid(
                "device",
                format!("`{device}` is not an interface name"),
            ));
        }
        for (field, ok) in [
            (
                "source_v4",
                self.source_v4.is_none_or(|a| !a.is_unspecified()),
            ),
            (
                "source_v6",
                self.source_v6.is_none_or(|a| !a.is_unspecified()),
            ),
        ] {
            if !ok {
                return Err(invalid(
                    field,
                    "the unspecified address selects nothing; omit it",
                ));
            }
        }
        if self.offence_threshold == 0 {
            return Err(invalid("offence_threshold", "must be at least 1"));
        }
        if self.offence_window.get() < deadline {
            return Err(invalid(
                "offence_window",
                "must be at least the probe deadline, or no offence can ever count",
            ));
        }
        if self.comparison_interval.get().is_zero() {
            return Err(invalid("comparison_interval", "must be positive"));
        }
        if self.comparison_min_samples == 0 {
            return Err(invalid("comparison_min_samples", "must be at least 1"));
        }
        Ok(())
    }

    /// Time between two probes of this WAN.
    pub fn probe_interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.rate.clamp(f64::MIN_POSITIVE, MAX_RATE))
    }
}

fn is_broadcast(addr: &IpAddr) -> bool {
    matches!(addr, IpAddr::V4(v4) if v4.is_broadcast())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<ActiveProbeConfig, String> {
        let config: ActiveProbeConfig = serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    #[test]
    fn defaults_are_low_rate_and_cake_autorate_like() {
        let config = parse("reflectors: [192.0.2.1, 2001:db8::1]").unwrap();
        assert_eq!(config.rate, 2.0);
        assert_eq!(config.probe_interval(), Duration::from_millis(500));
        assert_eq!(config.deadline.get(), Duration::from_secs(1));
        assert_eq!(config.offence_threshold, 3);
        assert_eq!(config.offence_window.get(), Duration::from_secs(60));
        assert!(config.device.is_none() && config.fwmark.is_none());
    }

    #[test]
    fn full_config_reads_units_and_binding() {
        let config = parse(
            "reflectors: [192.0.2.1]\nspares: [198.51.100.7]\nrate: 1.5\ndeadline: 800ms\n\
             device: wan1\nsource_v4: 192.0.2.10\nfwmark: 2\noffence_window: 30s\n\
             offence_threshold: 2\ncomparison_interval: 10s\nbaseline_margin: 15ms\ndelta_margin: 5ms\n",
        )
        .unwrap();
        assert_eq!(
            config.spares,
            vec!["198.51.100.7".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(config.deadline.get(), Duration::from_millis(800));
        assert_eq!(config.device.as_deref(), Some("wan1"));
        assert_eq!(config.fwmark, Some(2));
        assert_eq!(config.delta_margin.get(), Duration::from_millis(5));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("reflectors: []", "active_probe.reflectors"),
            ("reflectors: [192.0.2.1]\nrate: 0", "active_probe.rate"),
            ("reflectors: [192.0.2.1]\nrate: 50", "active_probe.rate"),
            (
                "reflectors: [192.0.2.1]\ndeadline: 0s",
                "active_probe.deadline",
            ),
            (
                "reflectors: [192.0.2.1]\ndeadline: 1m",
                "active_probe.deadline",
            ),
            (
                "reflectors: [192.0.2.1, 0.0.0.0]",
                "active_probe.reflectors[1]",
            ),
            (
                "reflectors: [192.0.2.1]\nspares: [192.0.2.1]",
                "active_probe.spares[0]",
            ),
            ("reflectors: [ff02::1]", "active_probe.reflectors[0]"),
            ("reflectors: [192.0.2.1]\ndevice: ''", "active_probe.device"),
            (
                "reflectors: [192.0.2.1]\noffence_threshold: 0",
                "active_probe.offence_threshold",
            ),
            (
                "reflectors: [192.0.2.1]\noffence_window: 10ms",
                "active_probe.offence_window",
            ),
            (
                "reflectors: [192.0.2.1]\nsource_v4: 0.0.0.0",
                "active_probe.source_v4",
            ),
        ];
        for (yaml, field) in cases {
            let err = parse(yaml).unwrap_err();
            assert!(err.starts_with(field), "{yaml:?}: {err}");
        }
    }

    #[test]
    fn unknown_keys_and_non_literals_are_refused() {
        assert!(
            parse("reflectors: [192.0.2.1]\nrates: 2")
                .unwrap_err()
                .contains("rates")
        );
        assert!(parse("reflectors: [one.one.one.one]").is_err());
    }

    #[test]
    fn schema_describes_every_field_with_durations_as_strings() {
        let schema = serde_json::to_value(schemars::schema_for!(ActiveProbeConfig)).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        for field in [
            "reflectors",
            "spares",
            "rate",
            "deadline",
            "device",
            "fwmark",
            "offence_window",
        ] {
            assert!(
                properties.contains_key(field),
                "{field} missing from the schema"
            );
        }
        assert_eq!(properties["deadline"]["type"], "string");
        assert_eq!(
            schema["additionalProperties"], false,
            "unknown keys are refused"
        );
    }
}
