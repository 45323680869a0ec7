//! Settings of the passive RTT probe (the `probe` section of the config).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use wanctl_common::{ProbeSettings, RecordBudget, budget, framing};

use crate::config::DurationSpec;

/// How the in-kernel RTT probe samples and bounds its work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    /// At most one timestamp is stored per flow per this interval (so at most one sample per flow per
    /// interval). Default 50ms.
    #[schemars(extend("x-minimum" = "0ms", "x-maximum" = "10s"))]
    pub sample_interval: DurationSpec,
    /// Flows tracked at once (LRU: the least recently seen flow is evicted). Default 65536.
    #[schemars(range(min = 1024, max = 16_777_216))]
    pub max_flows: u32,
    /// Ring-buffer records per second over all CPUs; samples beyond it are counted, not sent. Default 4000.
    #[schemars(range(min = 1, max = 1_000_000))]
    pub max_samples_per_second: u32,
    /// Produce download samples from pure-ACK timestamps echoed on data. Default true.
    pub download_samples: bool,
    /// Download guard: a sample counts only if the peer's previous data segment arrived at most this long
    /// (or an eighth of the flow's minimum RTT, if larger) before the echo. Default 2ms.
    #[schemars(extend("x-minimum" = "0ms", "x-maximum" = "1s"))]
    pub download_max_gap: DurationSpec,
    /// Download guard: data segments the flow must have received in the last 100-200 ms. Default 4.
    #[schemars(range(max = 10_000))]
    pub download_min_packets: u32,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            sample_interval: DurationSpec::from_millis(50),
            max_flows: 65_536,
            max_samples_per_second: 4_000,
            download_samples: true,
            download_max_gap: DurationSpec::from_millis(2),
            download_min_packets: 4,
        }
    }
}

/// A probe setting outside its allowed range.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("probe.{field}: {value} is out of range ({allowed})")]
pub struct ConfigError {
    /// The offending key.
    pub field: &'static str,
    /// Its value, as written.
    pub value: String,
    /// What is accepted.
    pub allowed: &'static str,
}

impl ProbeConfig {
    /// Checks every setting's range.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field, value: String, allowed| {
            Err(ConfigError {
                field,
                value,
                allowed,
            })
        };
        if self.sample_interval.get() > Duration::from_secs(10) {
            return err(
                "sample_interval",
                self.sample_interval.to_string(),
                "0 to 10s",
            );
        }
        if !(1_024..=16_777_216).contains(&self.max_flows) {
            return err("max_flows", self.max_flows.to_string(), "1024 to 16777216");
        }
        if !(1..=1_000_000).contains(&self.max_samples_per_second) {
            return err(
                "max_samples_per_second",
                self.max_samples_per_second.to_string(),
                "1 to 1000000",
            );
        }
        if self.download_max_gap.get() > Duration::from_secs(1) {
            return err(
                "download_max_gap",
                self.download_max_gap.to_string(),
                "0 to 1s",
            );
        }
        if self.download_min_packets > 10_000 {
            return err(
                "download_min_packets",
                self.download_min_packets.to_string(),
                "0 to 10000",
            );
        }
        Ok(())
    }

    /// The settings the kernel programs read, with the record budget split evenly over `cpus` CPUs (each
    /// CPU runs its own token bucket, so the sum never exceeds the configured rate). A quarter of the budget
    /// is reserved for handshakes, the rest for upload and download samples (at least one record per second
    /// each), so a storm of new connections cannot starve the samples of running flows.
    pub fn kernel_settings(&self, cpus: usize) -> ProbeSettings {
        let rate = u64::from(self.max_samples_per_second.max(1));
        let handshake_rate = (rate / 4).max(1);
        let data_rate = (rate - rate / 4).max(1);
        let mut budgets = [RecordBudget::default(); 2];
        budgets[budget::DATA as usize] = record_budget(data_rate, cpus);
        budgets[budget::HANDSHAKE as usize] = record_budget(handshake_rate, cpus);
        ProbeSettings {
            enabled: 1,
            framing: framing::ETHERNET,
            sample_interval_ns: duration_ns(self.sample_interval.get()),
            budgets,
            download_gap_min_ns: duration_ns(self.download_max_gap.get()),
            download_min_packets: self.download_min_packets,
            download_samples: u32::from(self.download_samples),
        }
    }
}

/// One CPU's share of `rate` records per second, with a tenth of a second of burst (at least one record).
fn record_budget(rate: u64, cpus: usize) -> RecordBudget {
    let cpus = cpus.max(1) as u64;
    let interval_ns = (1_000_000_000 * cpus / rate).max(1);
    let burst_records = (rate / 10 / cpus).max(1);
    RecordBudget {
        interval_ns,
        burst_ns: interval_ns.saturating_mul(burst_records - 1),
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_meet_the_documented_bounds() {
        let config = ProbeConfig::default();
        assert!(config.sample_interval.get() <= Duration::from_millis(100));
        assert!(config.max_flows >= 65_536);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn yaml_with_units_parses_and_unknown_keys_are_refused() {
        let config: ProbeConfig =
            serde_yaml_ng::from_str("sample_interval: 20ms\nmax_flows: 4096\n").unwrap();
        assert_eq!(config.sample_interval, DurationSpec::from_millis(20));
        assert_eq!(config.max_flows, 4096);
        assert_eq!(config.download_min_packets, 4, "unset keys keep defaults");
        let err = serde_yaml_ng::from_str::<ProbeConfig>("max_flow: 4096\n").unwrap_err();
        assert!(err.to_string().contains("max_flow"), "{err}");
    }

    #[test]
    fn json_schema_lists_every_setting() {
        let schema = serde_json::to_value(schemars::schema_for!(ProbeConfig)).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        for key in [
            "sample_interval",
            "max_flows",
            "max_samples_per_second",
            "download_samples",
            "download_max_gap",
            "download_min_packets",
        ] {
            assert!(properties.contains_key(key), "{key} missing from {schema}");
        }
        assert_eq!(schema["properties"]["sample_interval"]["type"], "string");
    }

    #[test]
    fn validation_names_the_field() {
        let config = ProbeConfig {
            max_flows: 10,
            ..ProbeConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "max_flows");
        assert!(err.to_string().contains("probe.max_flows: 10"), "{err}");
    }

    #[test]
    fn record_budget_is_split_over_cpus_and_kinds() {
        let config = ProbeConfig {
            max_samples_per_second: 1000,
            ..ProbeConfig::default()
        };
        let one = config.kernel_settings(1);
        let data = one.budgets[budget::DATA as usize];
        let handshake = one.budgets[budget::HANDSHAKE as usize];
        assert_eq!(
            data.interval_ns,
            1_000_000_000 / 750,
            "three quarters for data samples"
        );
        assert_eq!(data.burst_ns, 74 * data.interval_ns, "75 records of burst");
        assert_eq!(handshake.interval_ns, 4_000_000, "a quarter for handshakes");
        assert_eq!(handshake.burst_ns, 24 * 4_000_000);
        let four = config.kernel_settings(4);
        let data4 = four.budgets[budget::DATA as usize];
        assert_eq!(
            data4.interval_ns,
            4 * 1_000_000_000 / 750,
            "each CPU gets a quarter"
        );
        assert_eq!(data4.burst_ns, 17 * data4.interval_ns);
        assert_eq!(four.enabled, 1);
        assert_eq!(four.sample_interval_ns, 50_000_000);
    }
}
