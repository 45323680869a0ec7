//! Baseline and load RTT: two exponentially weighted moving averages of the cycle statistic.
//!
//! Both are defined by time constants in seconds. The weight of a new value is `1 - exp(-dt/tau)` with `dt`
//! the real time since the previous cycle, so a late or early cycle weighs exactly as much as the time it
//! covers (the Python wanctl used `0.05/tau`, the first-order approximation for a nominal 50 ms cycle).
//!
//! The baseline is the RTT of the empty path. It must not learn our own queue:
//! - it always follows values within `update_threshold` above it (drift);
//! - it follows values below it as fast as the load EWMA: a lower RTT can never be caused by a queue, so a
//!   baseline that started high (first value taken during a burst, a path that got shorter) must not keep
//!   reading real queueing as "below baseline" for a whole baseline time constant;
//! - a value further above it is followed only while the link is idle (no direction above `idle_share` of its
//!   shaped rate): then the queue cannot be ours and the rise is a path change, learnt within the time
//!   constant. While the link is loaded such values freeze the baseline.

/// Weight of a new value for an EWMA with time constant `tau_s` after `dt_s` seconds.
pub fn ewma_weight(dt_s: f64, tau_s: f64) -> f64 {
    // NaN counts as "no time passed" / "no smoothing": neither can reach an EWMA as NaN.
    if dt_s.is_nan() || dt_s <= 0.0 {
        return 0.0;
    }
    if tau_s.is_nan() || tau_s <= 0.0 {
        return 1.0;
    }
    1.0 - (-dt_s / tau_s).exp()
}

/// Settings of the two EWMAs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RttTrackerParams {
    /// Baseline time constant, seconds.
    pub baseline_tau_s: f64,
    /// Load time constant, seconds.
    pub load_tau_s: f64,
    /// Values up to this far above the baseline always update it, milliseconds.
    pub update_threshold_ms: f64,
}

/// Whether the baseline learnt from this cycle's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineUpdate {
    /// No value this cycle.
    NoSample,
    /// First value: baseline and load start there.
    Initialized,
    /// Followed a value near or below the baseline.
    Tracked,
    /// Followed a higher value because the link was idle (path change).
    FollowedIdle,
    /// Frozen: the value was far above the baseline while the link was loaded.
    Frozen,
}

/// Baseline (slow) and load (fast) RTT, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RttTracker {
    baseline_ms: Option<f64>,
    load_ms: Option<f64>,
}

impl RttTracker {
    /// A tracker that starts from `baseline_ms` if given (both EWMAs start there), else from the first value.
    pub fn new(initial_ms: Option<f64>) -> Self {
        Self {
            baseline_ms: initial_ms,
            load_ms: initial_ms,
        }
    }

    /// Baseline RTT, once known.
    pub fn baseline_ms(&self) -> Option<f64> {
        self.baseline_ms
    }

    /// Load RTT, once known.
    pub fn load_ms(&self) -> Option<f64> {
        self.load_ms
    }

    /// Load minus baseline, once both are known.
    pub fn delta_ms(&self) -> Option<f64> {
        Some(self.load_ms? - self.baseline_ms?)
    }

    /// Replaces both values (restoring persisted state; the caller has checked them).
    pub fn set(&mut self, baseline_ms: Option<f64>, load_ms: Option<f64>) {
        self.baseline_ms = baseline_ms;
        self.load_ms = load_ms.or(baseline_ms);
    }

    /// Feeds one cycle's value (`None` on an idle cycle: nothing moves).
    pub fn update(
        &mut self,
        params: &RttTrackerParams,
        value_ms: Option<f64>,
        dt_s: f64,
        link_idle: bool,
    ) -> BaselineUpdate {
        let Some(value) = value_ms.filter(|v| v.is_finite() && *v >= 0.0) else {
            return BaselineUpdate::NoSample;
        };
        let (Some(baseline), Some(load)) = (self.baseline_ms, self.load_ms) else {
            self.baseline_ms = Some(value);
            self.load_ms = Some(value);
            return BaselineUpdate::Initialized;
        };
        self.load_ms = Some(load + ewma_weight(dt_s, params.load_tau_s) * (value - load));
        let outcome = if value - baseline < params.update_threshold_ms {
            BaselineUpdate::Tracked
        } else if link_idle {
            BaselineUpdate::FollowedIdle
        } else {
            return BaselineUpdate::Frozen;
        };
        let tau_s = if value < baseline {
            params.load_tau_s
        } else {
            params.baseline_tau_s
        };
        self.baseline_ms = Some(baseline + ewma_weight(dt_s, tau_s) * (value - baseline));
        outcome
    }
}
