//! The per-WAN `control` section of the YAML configuration, as operators write it. [`ControlConfig::validate`]
//! turns it into [`ControlParams`](super::ControlParams).
//!
//! ```yaml
//! control:
//!   interval: 50ms
//!   target_bloat: 15ms
//!   warn_bloat: 45ms
//!   hard_red_bloat: 80ms
//!   baseline_time_constant: 60s
//!   download: { ceiling: 95Mbit, floor_red: 20Mbit, floor_yellow: 45Mbit, floor_green: 60Mbit, step_up: 2Mbit }
//!   upload:   { ceiling: 18Mbit, floor_red: 4Mbit, step_up: 500kbit }
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::{Bandwidth, DurationSpec};

/// Control settings of one WAN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// Nominal control cycle length.
    #[serde(default = "d::interval")]
    #[schemars(with = "String")]
    pub interval: DurationSpec,
    /// Delay above baseline that leaves GREEN (YELLOW above it).
    #[serde(default = "d::target_bloat")]
    #[schemars(with = "String")]
    pub target_bloat: DurationSpec,
    /// Delay above baseline for download SOFT_RED and upload RED.
    #[serde(default = "d::warn_bloat")]
    #[schemars(with = "String")]
    pub warn_bloat: DurationSpec,
    /// Delay above baseline for download RED.
    #[serde(default = "d::hard_red_bloat")]
    #[schemars(with = "String")]
    pub hard_red_bloat: DurationSpec,
    /// Cycles above target before GREEN turns YELLOW (0: immediately).
    #[serde(default = "d::dwell_cycles")]
    pub dwell_cycles: u32,
    /// YELLOW stays YELLOW until delay is this far below target (at most half the target).
    #[serde(default = "d::deadband")]
    #[schemars(with = "String")]
    pub deadband: DurationSpec,
    /// Time constant of the baseline RTT.
    #[serde(default = "d::baseline_time_constant")]
    #[schemars(with = "String")]
    pub baseline_time_constant: DurationSpec,
    /// Time constant of the load RTT.
    #[serde(default = "d::load_time_constant")]
    #[schemars(with = "String")]
    pub load_time_constant: DurationSpec,
    /// Values up to this far above baseline always update it; higher ones only on an idle link.
    #[serde(default = "d::baseline_update_threshold")]
    #[schemars(with = "String")]
    pub baseline_update_threshold: DurationSpec,
    /// The link counts as idle (baseline may follow a path change) below this share of the shaped rate.
    #[serde(default = "d::idle_share")]
    pub idle_share: f64,
    /// Starting baseline when no state is restored; default: the first measured cycle.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub baseline_initial: Option<DurationSpec>,
    /// Samples below this RTT are rejected as implausible.
    #[serde(default = "d::min_rtt")]
    #[schemars(with = "String")]
    pub min_rtt: DurationSpec,
    /// Samples above this RTT are rejected as implausible.
    #[serde(default = "d::max_rtt")]
    #[schemars(with = "String")]
    pub max_rtt: DurationSpec,
    /// Samples older than this at the cycle's time are rejected as stale.
    #[serde(default = "d::max_sample_age")]
    #[schemars(with = "String")]
    pub max_sample_age: DurationSpec,
    /// Flows further than this many standard deviations (via MAD) from the median flow are ignored.
    #[serde(default = "d::outlier_sigma")]
    pub outlier_sigma: f64,
    /// The outlier distance is never smaller than this.
    #[serde(default = "d::outlier_floor")]
    #[schemars(with = "String")]
    pub outlier_floor: DurationSpec,
    /// Distinct flows considered per cycle (memory is reserved for this many up front).
    #[serde(default = "d::max_flows")]
    pub max_flows: u32,
    /// Download rate law.
    pub download: DirectionConfig,
    /// Upload rate law.
    pub upload: DirectionConfig,
    /// Evidence from a local CAKE qdisc, when one exists.
    #[serde(default)]
    pub cake: CakeConfig,
}

/// Rate law of one direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectionConfig {
    /// Highest rate ever set.
    #[schemars(with = "String")]
    pub ceiling: Bandwidth,
    /// Lowest rate ever set (RED decreases stop here).
    #[schemars(with = "String")]
    pub floor_red: Bandwidth,
    /// SOFT_RED decreases stop here (download only; default `floor_yellow`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub floor_soft_red: Option<Bandwidth>,
    /// YELLOW decreases stop here (default `floor_red`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub floor_yellow: Option<Bandwidth>,
    /// Lowest base rate (default `floor_yellow`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub floor_green: Option<Bandwidth>,
    /// Rate an unused link relaxes to (default `floor_green`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub base: Option<Bandwidth>,
    /// Increase per GREEN cycle while the link is used.
    #[schemars(with = "String")]
    pub step_up: Bandwidth,
    /// Multiplier per RED cycle.
    #[serde(default = "d::factor_down")]
    pub factor_down: f64,
    /// Multiplier per YELLOW and SOFT_RED cycle (default 0.96 download, 0.94 upload).
    #[serde(default)]
    pub factor_down_yellow: Option<f64>,
    /// Consecutive GREEN cycles before the first increase.
    #[serde(default = "d::green_required")]
    pub green_required: u32,
    /// Increase only while the achieved rate is above this share of the current rate.
    #[serde(default = "d::load_share")]
    pub load_share: f64,
    /// Time constant of the relaxation towards `base` while the link is unused.
    #[serde(default = "d::decay_time_constant")]
    #[schemars(with = "String")]
    pub decay_time_constant: DurationSpec,
    /// This direction's target delay (default: the WAN's `target_bloat`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub target_bloat: Option<DurationSpec>,
    /// This direction's warn delay (default: the WAN's `warn_bloat`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub warn_bloat: Option<DurationSpec>,
}

/// How local CAKE statistics count as congestion evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CakeConfig {
    /// Drops plus ECN marks per second (smoothed) above which the queue counts as congested.
    #[serde(default = "d::drop_rate_threshold")]
    pub drop_rate_threshold: f64,
    /// Time constant of the drop/mark rate smoothing.
    #[serde(default = "d::drop_rate_time_constant")]
    #[schemars(with = "String")]
    pub drop_rate_time_constant: DurationSpec,
    /// A backlog above this many bytes is a standing queue: no increase.
    #[serde(default = "d::backlog_threshold")]
    pub backlog_threshold: u64,
}

impl Default for CakeConfig {
    fn default() -> Self {
        Self {
            drop_rate_threshold: d::drop_rate_threshold(),
            drop_rate_time_constant: d::drop_rate_time_constant(),
            backlog_threshold: d::backlog_threshold(),
        }
    }
}

/// Defaults, one function per field (serde needs functions).
mod d {
    use crate::config::DurationSpec;

    pub fn interval() -> DurationSpec {
        DurationSpec::from_millis(50)
    }
    pub fn target_bloat() -> DurationSpec {
        DurationSpec::from_millis(15)
    }
    pub fn warn_bloat() -> DurationSpec {
        DurationSpec::from_millis(45)
    }
    pub fn hard_red_bloat() -> DurationSpec {
        DurationSpec::from_millis(80)
    }
    pub fn dwell_cycles() -> u32 {
        3
    }
    pub fn deadband() -> DurationSpec {
        DurationSpec::from_millis(3)
    }
    pub fn baseline_time_constant() -> DurationSpec {
        DurationSpec::from_secs(60)
    }
    pub fn load_time_constant() -> DurationSpec {
        DurationSpec::from_millis(100)
    }
    pub fn baseline_update_threshold() -> DurationSpec {
        DurationSpec::from_millis(3)
    }
    pub fn idle_share() -> f64 {
        0.1
    }
    pub fn min_rtt() -> DurationSpec {
        DurationSpec::new(std::time::Duration::from_micros(100))
    }
    pub fn max_rtt() -> DurationSpec {
        DurationSpec::from_secs(10)
    }
    pub fn max_sample_age() -> DurationSpec {
        DurationSpec::from_secs(1)
    }
    pub fn outlier_sigma() -> f64 {
        3.0
    }
    pub fn outlier_floor() -> DurationSpec {
        DurationSpec::from_millis(2)
    }
    pub fn max_flows() -> u32 {
        4096
    }
    pub fn factor_down() -> f64 {
        0.85
    }
    pub fn green_required() -> u32 {
        5
    }
    pub fn load_share() -> f64 {
        0.75
    }
    pub fn decay_time_constant() -> DurationSpec {
        DurationSpec::from_secs(30)
    }
    pub fn drop_rate_threshold() -> f64 {
        10.0
    }
    pub fn drop_rate_time_constant() -> DurationSpec {
        DurationSpec::from_secs(1)
    }
    pub fn backlog_threshold() -> u64 {
        10_000
    }
}
