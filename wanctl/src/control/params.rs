//! Validated control parameters: every range and ordering checked once, units resolved to milliseconds,
//! seconds and bits per second. Only [`ControlConfig::validate`] builds them.

use std::time::Duration;

use super::config::{ControlConfig, DirectionConfig};
use crate::{config::Bandwidth, signal::Direction};

/// A control setting that breaks a rule, with its path in the `control` section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("control.{field}: {rule}")]
pub struct ParamError {
    /// Path of the field, e.g. `download.floor_red`.
    pub field: String,
    /// The rule it breaks, with the offending value.
    pub rule: String,
}

fn err(field: impl Into<String>, rule: impl Into<String>) -> ParamError {
    ParamError {
        field: field.into(),
        rule: rule.into(),
    }
}

/// Parameters of the whole controller (one WAN).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ControlParams {
    /// Nominal cycle length, seconds (used for the first cycle and for decay clamps).
    pub interval_s: f64,
    /// Cycles above target before GREEN turns YELLOW.
    pub dwell_cycles: u32,
    /// Deadband below target that keeps YELLOW, ms.
    pub deadband_ms: f64,
    /// Minimum time between RED/SOFT_RED decreases of one direction, s.
    pub red_refractory_s: f64,
    /// Minimum time from any decrease of one direction to its next YELLOW/deadband decrease, s.
    pub yellow_refractory_s: f64,
    /// Baseline EWMA time constant, s.
    pub baseline_tau_s: f64,
    /// Load EWMA time constant, s.
    pub load_tau_s: f64,
    /// Baseline always follows values up to this far above it, ms.
    pub baseline_update_threshold_ms: f64,
    /// Share of the shaped rate below which a direction is idle.
    pub idle_share: f64,
    /// Whether the download decides on its own one-way delay (and the upload on the rest of the RTT's).
    pub one_way_delay: bool,
    /// Starting baseline, ms.
    pub baseline_initial_ms: Option<f64>,
    /// Plausible RTT range.
    pub min_rtt: Duration,
    /// Plausible RTT range.
    pub max_rtt: Duration,
    /// Sample age limit.
    pub max_sample_age: Duration,
    /// Outlier distance in scaled MADs.
    pub outlier_sigma: f64,
    /// Minimum outlier distance, ms.
    pub outlier_floor_ms: f64,
    /// Distinct flows per cycle.
    pub max_flows: usize,
    /// Download rate law.
    pub download: DirectionParams,
    /// Upload rate law.
    pub upload: DirectionParams,
    /// CAKE evidence.
    pub cake: CakeParams,
}

/// Rate law of one direction, rates in bits per second.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DirectionParams {
    /// Which direction.
    pub direction: Direction,
    /// Highest rate.
    pub ceiling: u64,
    /// SOFT_RED floor (equals `floor_yellow` for upload, which has no SOFT_RED).
    pub floor_soft_red: u64,
    /// YELLOW floor.
    pub floor_yellow: u64,
    /// Lowest base rate.
    pub floor_green: u64,
    /// RED floor, the lowest rate.
    pub floor_red: u64,
    /// Rate an unused link relaxes to.
    pub base: u64,
    /// Increase per cycle.
    pub step_up: u64,
    /// Share of `step_up` near the last rate that bloated.
    pub plateau_step_share: f64,
    /// RED multiplier.
    pub factor_down: f64,
    /// YELLOW and SOFT_RED multiplier.
    pub factor_down_yellow: f64,
    /// GREEN cycles before increasing.
    pub green_required: u32,
    /// Utilisation needed to increase.
    pub load_share: f64,
    /// Smoothed achieved rate / rate needed to increase from the plateau upwards; 0 = no such check.
    pub fill_share: f64,
    /// Relaxation time constant, s.
    pub decay_tau_s: f64,
    /// GREEN/YELLOW boundary, ms.
    pub target_ms: f64,
    /// Download YELLOW/SOFT_RED boundary; upload YELLOW/RED boundary, ms.
    pub warn_ms: f64,
    /// Download SOFT_RED/RED boundary, ms (upload: unused, equals `warn_ms`).
    pub hard_red_ms: f64,
}

/// CAKE evidence thresholds.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CakeParams {
    /// Drops plus marks per second.
    pub drop_rate_threshold: f64,
    /// Smoothing time constant, s.
    pub drop_rate_tau_s: f64,
}

fn ms(d: crate::config::DurationSpec) -> f64 {
    d.get().as_secs_f64() * 1e3
}

/// A duration setting in seconds, checked like [`in_range`].
fn seconds_in_range(
    field: &str,
    d: crate::config::DurationSpec,
    low: f64,
    high: f64,
) -> Result<f64, ParamError> {
    in_range(field, d.get().as_secs_f64(), low, high, "s")
}

fn in_range(field: &str, value: f64, low: f64, high: f64, unit: &str) -> Result<f64, ParamError> {
    if value.is_finite() && value >= low && value <= high {
        Ok(value)
    } else {
        Err(err(
            field,
            format!("{value}{unit} is outside {low}{unit}..={high}{unit}"),
        ))
    }
}

impl ControlConfig {
    /// Checks every range and ordering and resolves units and defaults.
    ///
    /// # Errors
    /// The first setting that breaks a rule, named by its path (e.g. `download.floor_red`).
    pub fn validate(&self) -> Result<ControlParams, ParamError> {
        let interval_s = seconds_in_range("interval", self.interval, 0.01, 10.0)?;
        let target = in_range("target_bloat", ms(self.target_bloat), 0.1, 5000.0, "ms")?;
        let warn = in_range("warn_bloat", ms(self.warn_bloat), 0.1, 5000.0, "ms")?;
        let hard = in_range("hard_red_bloat", ms(self.hard_red_bloat), 0.1, 5000.0, "ms")?;
        check_thresholds("", target, warn, Some(hard))?;
        if self.dwell_cycles > 1000 {
            return Err(err(
                "dwell_cycles",
                format!("{} is above 1000", self.dwell_cycles),
            ));
        }
        let deadband_ms = in_range("deadband", ms(self.deadband), 0.0, 5000.0, "ms")?;
        let red_refractory_s = seconds_in_range("red_refractory", self.red_refractory, 0.0, 10.0)?;
        let yellow_refractory_s =
            seconds_in_range("yellow_refractory", self.yellow_refractory, 0.0, 10.0)?;
        let baseline_tau_s = seconds_in_range(
            "baseline_time_constant",
            self.baseline_time_constant,
            1.0,
            86_400.0,
        )?;
        let load_tau_s =
            seconds_in_range("load_time_constant", self.load_time_constant, 0.0, 600.0)?;
        if load_tau_s > baseline_tau_s {
            // A load EWMA slower than the baseline would let more delay lower the measured delta.
            return Err(err(
                "load_time_constant",
                format!(
                    "{} must not exceed baseline_time_constant {}",
                    self.load_time_constant, self.baseline_time_constant
                ),
            ));
        }
        let baseline_update_threshold_ms = in_range(
            "baseline_update_threshold",
            ms(self.baseline_update_threshold),
            0.0,
            1000.0,
            "ms",
        )?;
        let idle_share = in_range("idle_share", self.idle_share, 0.0, 1.0, "")?;
        let (min_rtt, max_rtt) = (self.min_rtt.get(), self.max_rtt.get());
        if min_rtt.is_zero() {
            return Err(err("min_rtt", "must be above 0"));
        }
        if min_rtt >= max_rtt || max_rtt > Duration::from_secs(60) {
            return Err(err(
                "max_rtt",
                format!(
                    "{} must be above min_rtt {} and at most 60s",
                    self.max_rtt, self.min_rtt
                ),
            ));
        }
        let baseline_initial_ms = match self.baseline_initial {
            Some(initial) if initial.get() < min_rtt || initial.get() > max_rtt => {
                return Err(err(
                    "baseline_initial",
                    format!("{initial} is outside min_rtt..=max_rtt"),
                ));
            }
            initial => initial.map(ms),
        };
        let age = self.max_sample_age.get();
        if age < Duration::from_millis(1) || age > Duration::from_secs(600) {
            return Err(err(
                "max_sample_age",
                format!("{} is outside 1ms..=600s", self.max_sample_age),
            ));
        }
        let outlier_sigma = in_range("outlier_sigma", self.outlier_sigma, 1.0, 100.0, "")?;
        let outlier_floor_ms =
            in_range("outlier_floor", ms(self.outlier_floor), 0.0, 10_000.0, "ms")?;
        if self.max_flows == 0 || self.max_flows > 1_000_000 {
            return Err(err(
                "max_flows",
                format!("{} is outside 1..=1000000", self.max_flows),
            ));
        }
        let download = direction(&self.download, Direction::Download, target, warn, hard)?;
        let upload = direction(&self.upload, Direction::Upload, target, warn, hard)?;
        let cake = &self.cake;
        let cake = CakeParams {
            drop_rate_threshold: in_range(
                "cake.drop_rate_threshold",
                cake.drop_rate_threshold,
                0.001,
                1e9,
                "/s",
            )?,
            drop_rate_tau_s: seconds_in_range(
                "cake.drop_rate_time_constant",
                cake.drop_rate_time_constant,
                0.01,
                600.0,
            )?,
        };
        Ok(ControlParams {
            interval_s,
            dwell_cycles: self.dwell_cycles,
            deadband_ms,
            red_refractory_s,
            yellow_refractory_s,
            baseline_tau_s,
            load_tau_s,
            baseline_update_threshold_ms,
            idle_share,
            one_way_delay: self.one_way_delay,
            baseline_initial_ms,
            min_rtt,
            max_rtt,
            max_sample_age: age,
            outlier_sigma,
            outlier_floor_ms,
            max_flows: self.max_flows as usize,
            download,
            upload,
            cake,
        })
    }
}

fn check_thresholds(
    prefix: &str,
    target: f64,
    warn: f64,
    hard: Option<f64>,
) -> Result<(), ParamError> {
    if target >= warn {
        return Err(err(
            format!("{prefix}warn_bloat"),
            format!("{warn}ms must be above target_bloat {target}ms"),
        ));
    }
    if let Some(hard) = hard.filter(|hard| warn >= *hard) {
        return Err(err(
            format!("{prefix}hard_red_bloat"),
            format!("{hard}ms must be above warn_bloat {warn}ms"),
        ));
    }
    Ok(())
}

fn direction(
    c: &DirectionConfig,
    direction: Direction,
    wan_target: f64,
    wan_warn: f64,
    hard: f64,
) -> Result<DirectionParams, ParamError> {
    let name = direction.as_str();
    let f = |field: &str| format!("{name}.{field}");
    let bps = |field: &str, value: Bandwidth| -> Result<u64, ParamError> {
        match value.bps() {
            1_000..=1_000_000_000_000 => Ok(value.bps()),
            _ => Err(err(
                f(field),
                format!("{value} is outside 1kbit..=1000Gbit"),
            )),
        }
    };
    let ceiling = bps("ceiling", c.ceiling)?;
    let floor_red = bps("floor_red", c.floor_red)?;
    let floor_yellow = bps("floor_yellow", c.floor_yellow.unwrap_or(c.floor_red))?;
    let floor_soft_red = match (direction, c.floor_soft_red) {
        (Direction::Upload, Some(_)) => {
            return Err(err(
                f("floor_soft_red"),
                "upload has no SOFT_RED state; remove it",
            ));
        }
        (_, value) => bps(
            "floor_soft_red",
            value.unwrap_or(Bandwidth::from_bps(floor_yellow)),
        )?,
    };
    let floor_green = bps(
        "floor_green",
        c.floor_green.unwrap_or(Bandwidth::from_bps(floor_yellow)),
    )?;
    let base = bps("base", c.base.unwrap_or(Bandwidth::from_bps(floor_green)))?;
    let order = [
        ("floor_red", floor_red),
        ("floor_soft_red", floor_soft_red),
        ("floor_yellow", floor_yellow),
        ("floor_green", floor_green),
        ("base", base),
        ("ceiling", ceiling),
    ];
    for pair in order.windows(2) {
        let ((low_name, low), (high_name, high)) = (pair[0], pair[1]);
        if low > high {
            return Err(err(
                f(low_name),
                format!(
                    "{} is above {high_name} {}; need floor_red <= floor_soft_red <= floor_yellow <= floor_green <= base <= ceiling",
                    Bandwidth::from_bps(low),
                    Bandwidth::from_bps(high)
                ),
            ));
        }
    }
    let step_up = bps("step_up", c.step_up)?;
    if step_up > ceiling {
        return Err(err(
            f("step_up"),
            format!("{} is above the ceiling", c.step_up),
        ));
    }
    let plateau_step_share = in_range(
        &f("plateau_step_share"),
        c.plateau_step_share,
        0.01,
        1.0,
        "",
    )?;
    let factor_down = in_range(&f("factor_down"), c.factor_down, 0.1, 1.0, "")?;
    let default_yellow = match direction {
        Direction::Download => 0.96,
        Direction::Upload => 0.94,
    };
    let factor_down_yellow = in_range(
        &f("factor_down_yellow"),
        c.factor_down_yellow.unwrap_or(default_yellow),
        0.5,
        1.0,
        "",
    )?;
    if factor_down > factor_down_yellow {
        // RED must cut at least as hard as YELLOW, or more delay could leave a higher rate.
        return Err(err(
            f("factor_down"),
            format!("{factor_down} must not exceed factor_down_yellow {factor_down_yellow}"),
        ));
    }
    if c.green_required == 0 || c.green_required > 10_000 {
        return Err(err(
            f("green_required"),
            format!("{} is outside 1..=10000", c.green_required),
        ));
    }
    let load_share = in_range(&f("load_share"), c.load_share, 0.01, 1.0, "")?;
    let fill_share = in_range(&f("fill_share"), c.fill_share, 0.0, 1.0, "")?;
    let decay_tau_s = seconds_in_range(
        &f("decay_time_constant"),
        c.decay_time_constant,
        1.0,
        86_400.0,
    )?;
    let target_ms = match c.target_bloat {
        Some(t) => in_range(&f("target_bloat"), ms(t), 0.1, 5000.0, "ms")?,
        None => wan_target,
    };
    let warn_ms = match c.warn_bloat {
        Some(w) => in_range(&f("warn_bloat"), ms(w), 0.1, 5000.0, "ms")?,
        None => wan_warn,
    };
    let hard_red_ms = match direction {
        Direction::Download => hard,
        Direction::Upload => warn_ms,
    };
    let hard_check = (direction == Direction::Download).then_some(hard_red_ms);
    check_thresholds(&format!("{name}."), target_ms, warn_ms, hard_check)?;
    Ok(DirectionParams {
        direction,
        ceiling,
        floor_soft_red,
        floor_yellow,
        floor_green,
        floor_red,
        base,
        step_up,
        plateau_step_share,
        factor_down,
        factor_down_yellow,
        green_required: c.green_required,
        load_share,
        fill_share,
        decay_tau_s,
        target_ms,
        warn_ms,
        hard_red_ms,
    })
}
