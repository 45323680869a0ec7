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
    /// Nominal control cycle length: how often samples are aggregated and a rate is decided. Hysteresis counts
    /// (`dwell_cycles`, `green_required`) are in cycles, so they scale with it; time constants do not.
    #[serde(default = "d::interval")]
    #[schemars(extend("x-minimum" = "10ms", "x-maximum" = "10s"))]
    pub interval: DurationSpec,
    /// Delay above baseline (load RTT minus baseline RTT) above which a direction leaves GREEN for YELLOW.
    /// Must be below `warn_bloat`.
    #[serde(default = "d::target_bloat")]
    #[schemars(extend("x-minimum" = "100us", "x-maximum" = "5s"))]
    pub target_bloat: DurationSpec,
    /// Delay above baseline above which download goes SOFT_RED and upload RED. Must be between
    /// `target_bloat` and `hard_red_bloat`.
    #[serde(default = "d::warn_bloat")]
    #[schemars(extend("x-minimum" = "100us", "x-maximum" = "5s"))]
    pub warn_bloat: DurationSpec,
    /// Delay above baseline above which download goes RED (upload has no SOFT_RED; its RED starts at
    /// `warn_bloat`). Must be above `warn_bloat`.
    #[serde(default = "d::hard_red_bloat")]
    #[schemars(extend("x-minimum" = "100us", "x-maximum" = "5s"))]
    pub hard_red_bloat: DurationSpec,
    /// Consecutive cycles above target before a confirmed GREEN decreases as YELLOW; before that the state is
    /// reported YELLOW (`yellow_dwell`) and the rate holds. 0 or 1: the first cycle above target decreases.
    /// CAKE drop evidence and a way down from SOFT_RED/RED skip the dwell.
    #[serde(default = "d::dwell_cycles")]
    #[schemars(range(min = 0, max = 1000))]
    pub dwell_cycles: u32,
    /// A direction in YELLOW stays YELLOW (and keeps decreasing) until the delay is this far below target,
    /// and a GREEN one does not increase while the delay is within this of the target (the queue is
    /// already building); the deadband used is at most half the target.
    #[serde(default = "d::deadband")]
    #[schemars(extend("x-minimum" = "0ms", "x-maximum" = "5s"))]
    pub deadband: DurationSpec,
    /// After a RED or SOFT_RED decrease, further RED/SOFT_RED decreases of that direction wait this long
    /// (reason `refractory`), so the delay can show the effect of the cut before the rate is cut again: the
    /// queue a cut drains keeps the delay high for a round trip or more, and cutting on every cycle of it
    /// overshoots to the floor. A SOFT_RED cut is then sized to drain the measured queue within this time
    /// (`1 - delta / red_refractory`, between `factor_down` and `factor_down_yellow`). 0 cuts on every
    /// cycle by `factor_down_yellow`, as the Python wanctl does. YELLOW is not affected.
    #[serde(default = "d::red_refractory")]
    #[schemars(extend("x-minimum" = "0ms", "x-maximum" = "10s"))]
    pub red_refractory: DurationSpec,
    /// After any decrease (YELLOW, deadband, SOFT_RED or RED), further YELLOW and deadband decreases of that
    /// direction wait this long (reason `refractory`): the queue an overshoot left drains for a round trip
    /// or more after the cut that answered it, and a YELLOW cut on every cycle of that walks the rate to
    /// `floor_yellow`. A YELLOW cut is then sized to drain the measured queue within this time
    /// (`1 - delta / yellow_refractory`, between `factor_down` and `factor_down_yellow`). 0 cuts on every
    /// cycle by `factor_down_yellow`, as the Python wanctl does. cake-autorate's
    /// `bufferbloat_refractory_period` plays this role.
    #[serde(default = "d::yellow_refractory")]
    #[schemars(extend("x-minimum" = "0ms", "x-maximum" = "10s"))]
    pub yellow_refractory: DurationSpec,
    /// Time constant of the baseline RTT EWMA (the path's RTT without queueing). Weights are
    /// `1 - exp(-dt/tau)` with the measured cycle length.
    #[serde(default = "d::baseline_time_constant")]
    #[schemars(extend("x-minimum" = "1s", "x-maximum" = "86400s"))]
    pub baseline_time_constant: DurationSpec,
    /// Time constant of the load RTT EWMA (the RTT now); 0 uses each cycle's value as is. Must not exceed
    /// `baseline_time_constant`.
    #[serde(default = "d::load_time_constant")]
    #[schemars(extend("x-minimum" = "0ms", "x-maximum" = "600s"))]
    pub load_time_constant: DurationSpec,
    /// Cycle values up to this far above the baseline always update it; higher ones only while the link is
    /// idle (see `idle_share`), so a standing queue is never learnt as the path's RTT.
    #[serde(default = "d::baseline_update_threshold")]
    #[schemars(extend("x-minimum" = "0ms", "x-maximum" = "1s"))]
    pub baseline_update_threshold: DurationSpec,
    /// The link counts as idle (the baseline may follow a path change upwards) while both directions carry
    /// less than this share of their shaped rate.
    #[serde(default = "d::idle_share")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub idle_share: f64,
    /// Measure the download's queue on its own, from the one-way delay in the peers' TCP timestamps (passive
    /// samples only): the download then decides on that delay and the upload on the RTT's delay minus it, so
    /// one direction's queue no longer cuts the other's rate. While the download's own delay is above its
    /// `warn_bloat` the upload takes the whole RTT delay (a capacity drop, whose upload queue the RTT shows
    /// only late). Cycles without such samples (active probes only, peers without timestamps, a flow's
    /// first 2 s) fall back to the RTT's delay for both.
    #[serde(default = "d::one_way_delay")]
    pub one_way_delay: bool,
    /// Starting baseline when no state is restored; default: the first measured cycle. Must lie within
    /// `min_rtt..=max_rtt`.
    #[serde(default)]
    pub baseline_initial: Option<DurationSpec>,
    /// Samples below this RTT are rejected as implausible (counted as `invalid`). Must be above 0.
    #[serde(default = "d::min_rtt")]
    pub min_rtt: DurationSpec,
    /// Samples above this RTT are rejected as implausible (counted as `invalid`). Must be above `min_rtt`.
    #[serde(default = "d::max_rtt")]
    #[schemars(extend("x-maximum" = "60s"))]
    pub max_rtt: DurationSpec,
    /// Samples older than this at the cycle's time are rejected as stale (counted as `stale`).
    #[serde(default = "d::max_sample_age")]
    #[schemars(extend("x-minimum" = "1ms", "x-maximum" = "600s"))]
    pub max_sample_age: DurationSpec,
    /// With three or more flows in a cycle, flows further than this many standard deviations (estimated as
    /// 1.4826 MAD) from the median flow are ignored.
    #[serde(default = "d::outlier_sigma")]
    #[schemars(range(min = 1.0, max = 100.0))]
    pub outlier_sigma: f64,
    /// The outlier distance is never smaller than this (flows that agree exactly have a MAD of 0).
    #[serde(default = "d::outlier_floor")]
    #[schemars(extend("x-minimum" = "0ms", "x-maximum" = "10s"))]
    pub outlier_floor: DurationSpec,
    /// Distinct flows considered per cycle (memory is reserved for this many up front); samples of further
    /// flows are counted as `overflow`.
    #[serde(default = "d::max_flows")]
    #[schemars(range(min = 1, max = 1000000))]
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
    /// Highest rate ever set: the link's best sustained capacity. Needs `floor_red <= floor_soft_red <=
    /// floor_yellow <= floor_green <= base <= ceiling`.
    #[schemars(extend("x-minimum" = "1kbit", "x-maximum" = "1000Gbit"))]
    pub ceiling: Bandwidth,
    /// Lowest rate ever set: RED decreases stop here.
    #[schemars(extend("x-minimum" = "1kbit", "x-maximum" = "1000Gbit"))]
    pub floor_red: Bandwidth,
    /// SOFT_RED decreases stop here (download only: upload refuses this key; default `floor_yellow`).
    #[serde(default)]
    #[schemars(extend("x-minimum" = "1kbit", "x-maximum" = "1000Gbit"))]
    pub floor_soft_red: Option<Bandwidth>,
    /// YELLOW (and deadband) decreases stop here (default `floor_red`). A floor only stops a decrease; it
    /// never raises the rate.
    #[serde(default)]
    #[schemars(extend("x-minimum" = "1kbit", "x-maximum" = "1000Gbit"))]
    pub floor_yellow: Option<Bandwidth>,
    /// Lowest allowed `base` (default `floor_yellow`).
    #[serde(default)]
    #[schemars(extend("x-minimum" = "1kbit", "x-maximum" = "1000Gbit"))]
    pub floor_green: Option<Bandwidth>,
    /// Rate a GREEN but unused link relaxes to, with `decay_time_constant` (default `floor_green`).
    #[serde(default)]
    #[schemars(extend("x-minimum" = "1kbit", "x-maximum" = "1000Gbit"))]
    pub base: Option<Bandwidth>,
    /// Increase per cycle once GREEN has lasted `green_required` cycles and the link is used (`load_share`).
    /// At most `ceiling`.
    #[schemars(extend("x-minimum" = "1kbit", "x-maximum" = "1000Gbit"))]
    pub step_up: Bandwidth,
    /// Rate multiplier per RED cycle (rounded down). Must not exceed `factor_down_yellow`: more delay never
    /// leaves a higher rate.
    #[serde(default = "d::factor_down")]
    #[schemars(range(min = 0.1, max = 1.0))]
    pub factor_down: f64,
    /// Rate multiplier per YELLOW, deadband and SOFT_RED cycle (default 0.96 download, 0.94 upload).
    #[serde(default)]
    #[schemars(range(min = 0.5, max = 1.0))]
    pub factor_down_yellow: Option<f64>,
    /// Near the last rate that bloated (from 90% of it up to 125%), increases start at `step_up` times this
    /// share and double for every 3 s of growth without a decrease (up to `step_up`): growth is fast far
    /// below the capacity found last and probes gently around it, so a link whose capacity stays low is not
    /// overshot every few seconds, while a capacity that came back is found within seconds. 1 disables it (every increase a full
    /// `step_up`, as in the Python wanctl). The remembered rate is the basis of the latest decrease (the
    /// lower of the rate and what the link carried, not below the floor that decrease applied); passing 125%
    /// of it forgets it.
    #[serde(default = "d::plateau_step_share")]
    #[schemars(range(min = 0.01, max = 1.0))]
    pub plateau_step_share: f64,
    /// Consecutive GREEN cycles before the first increase (then one `step_up` per GREEN cycle).
    #[serde(default = "d::green_required")]
    #[schemars(range(min = 1, max = 10000))]
    pub green_required: u32,
    /// Increase only while the achieved rate is at least this share of the current rate: an unfilled link
    /// proves nothing about spare capacity.
    #[serde(default = "d::load_share")]
    #[schemars(range(min = 0.01, max = 1.0))]
    pub load_share: f64,
    /// From the last decrease's basis upwards, increases also need the link to fill the shaper: the achieved
    /// rate (smoothed) at least this share of the rate. A download shaped above a capacity that sits
    /// upstream carries only that capacity, and its TCP flows take a second or more to show that as delay
    /// (they first grow into the new rate), so without this check the probe runs several percent past the
    /// capacity before the queue answers, and the flows then fill the ISP's buffer at once. 0 (the default)
    /// disables it. The upload, shaped before its bottleneck, fills its shaper either way.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub fill_share: f64,
    /// Time constant of the relaxation towards `base` while GREEN and unused (never faster per cycle than one
    /// `factor_down_yellow` step).
    #[serde(default = "d::decay_time_constant")]
    #[schemars(extend("x-minimum" = "1s", "x-maximum" = "86400s"))]
    pub decay_time_constant: DurationSpec,
    /// This direction's target delay (default: the WAN's `target_bloat`); must stay below its warn delay.
    #[serde(default)]
    #[schemars(extend("x-minimum" = "100us", "x-maximum" = "5s"))]
    pub target_bloat: Option<DurationSpec>,
    /// This direction's warn delay (default: the WAN's `warn_bloat`); download must stay below
    /// `hard_red_bloat`.
    #[serde(default)]
    #[schemars(extend("x-minimum" = "100us", "x-maximum" = "5s"))]
    pub warn_bloat: Option<DurationSpec>,
}

/// How local CAKE statistics count as congestion evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CakeConfig {
    /// Drops plus ECN marks per second (smoothed) above which they confirm congestion: a delay above target
    /// goes YELLOW without dwell. They never stop increases in GREEN (at baseline delay, CAKE dropping means
    /// it is the bottleneck, as intended).
    #[serde(default = "d::drop_rate_threshold")]
    #[schemars(range(min = 0.001, max = 1000000000.0))]
    pub drop_rate_threshold: f64,
    /// Time constant of the drop/mark rate smoothing.
    #[serde(default = "d::drop_rate_time_constant")]
    #[schemars(extend("x-minimum" = "10ms", "x-maximum" = "600s"))]
    pub drop_rate_time_constant: DurationSpec,
}

impl Default for CakeConfig {
    fn default() -> Self {
        Self {
            drop_rate_threshold: d::drop_rate_threshold(),
            drop_rate_time_constant: d::drop_rate_time_constant(),
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
    pub fn red_refractory() -> DurationSpec {
        DurationSpec::from_millis(0)
    }
    pub fn yellow_refractory() -> DurationSpec {
        DurationSpec::from_millis(0)
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
    pub fn one_way_delay() -> bool {
        true
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
    pub fn plateau_step_share() -> f64 {
        1.0
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
}
