//! The control core: per WAN and direction, a state machine and a rate law turn delay into a target rate.
//! Pure: no I/O (except [`trace`] over caller-supplied readers and writers), no clock reads; time is passed in.
//!
//! # One cycle ([`Controller::step`])
//! 1. The cycle's RTT samples become one value: per-flow minimum, cross-flow outlier filter, median across
//!    flows ([`crate::signal::aggregate`] explains the choice). Implausible and stale samples are counted,
//!    never used. A cycle without usable samples is **idle**: rates, states and EWMAs hold, and the decision
//!    says so (`had_samples: false`, reason `idle`).
//! 2. Load RTT (fast EWMA) and baseline RTT (slow EWMA, frozen while the link is loaded and the value is far
//!    above it) are updated with weights from their time constants and the real cycle length
//!    ([`crate::signal::rtt`]); `delta = load - baseline`. With `one_way_delay`, the download's own queue
//!    is measured from the peers' TSvals ([`crate::signal::downstream`]), smoothed the same way: while it
//!    is known the download's delay is that and the upload's `delta` minus it (all of `delta` while the
//!    download's is above its warn threshold: a capacity drop, whose upload queue the RTT shows late);
//!    otherwise both are `delta`.
//! 3. Per direction, its delay (`delta` below) is classified against `target < warn < hard_red` (strict `>` at each boundary):
//!    download GREEN / YELLOW / SOFT_RED / RED, upload GREEN / YELLOW / RED (upload RED above warn).
//! 4. The rate law, with rates in integer bit/s and every cut rounded down:
//!
//!    | state | rate |
//!    |---|---|
//!    | RED | `min(rate, achieved) * factor_down`, not below `floor_red` |
//!    | SOFT_RED | `min(rate, achieved) * f`, not below `floor_soft_red` |
//!    | RED/SOFT_RED within `red_refractory` of the last such cut | hold |
//!    | YELLOW/deadband within `yellow_refractory` of the last cut of any kind | hold |
//!    | YELLOW | `rate * f` (`min(rate, achieved)` on a used link), not below `floor_yellow` |
//!    | YELLOW deadband | `rate * factor_down_yellow`, not below `floor_yellow` |
//!    | YELLOW during dwell | no increase (relaxation towards `base` from above only) |
//!    | GREEN, link used, `green_required` cycles | `rate + step_up` (from 90% to 125% of the last decrease's basis: times `plateau_step_share`, doubling every 3 s of growth), not above `ceiling` |
//!    | GREEN, link not used | relax towards `base` with `decay_time_constant` |
//!    | GREEN otherwise (streak too short, delay inside the deadband, or from the plateau up a link carrying less than `fill_share` of the rate) | hold |
//!
//!    `f` is `factor_down_yellow`, or with a refractory period T (`red_refractory` for SOFT_RED,
//!    `yellow_refractory` for YELLOW) `1 - delta / T` between `factor_down` and `factor_down_yellow`: the cut
//!    that drains the measured queue before the next may come.
//!
//!    A floor only stops a decrease; it never raises a rate. "Used" means achieved rate over the cycle at
//!    least `load_share` of the rate in force (cake-autorate's load-aware growth): a link that is not filled
//!    proves nothing about spare capacity, so it must not climb. `achieved` is the achieved rate smoothed
//!    with the load time constant, used only while the direction carries at least `idle_share` of its rate
//!    (cake-autorate's cut): when capacity falls upstream, what the link carried is the new capacity.
//! 5. Optional CAKE evidence: a smoothed drop+ECN-mark rate above `cake.drop_rate_threshold` makes YELLOW
//!    immediate (no dwell). Neither drops nor a CAKE backlog stop increases in GREEN: at baseline delay they
//!    mean CAKE is the bottleneck, which is where shaping wants it.
//!
//! An RTT alone cannot tell which direction queued (the same holds for the Python wanctl and cake-autorate
//! with RTT pingers); the peers' timestamps can, for the flows that carry them. Without them both
//! directions classify the same `delta`, each against its own thresholds. Further direction-specific
//! evidence comes from CAKE drops, from the achieved rate (the RED cut) and from the load gate: an unused
//! direction never grows.
//!
//! Hysteresis counts (`dwell_cycles`, `green_required`) are in cycles, as in the Python wanctl; everything
//! measured in time (EWMAs, relaxation, CAKE smoothing) uses seconds and the real cycle length.
//!
//! # Deliberate differences from the Python wanctl (v1.47, `queue_controller.py`)
//! 1. **No dwell quirk.** Python reports GREEN during the YELLOW dwell and, coming down from RED/SOFT_RED
//!    into the YELLOW band, passes through the dwell too, so it reports GREEN above target and jumps to
//!    `floor_green`. Here the dwell only applies when leaving a confirmed GREEN; it is reported as YELLOW
//!    with reason `yellow_dwell`, and the rate does not increase. From RED/SOFT_RED, YELLOW applies at once.
//! 2. **Floors never raise the rate.** Python enforces the state's floor upwards (`max(rate, floor)`), so
//!    one GREEN cycle lifts the rate to `floor_green` and entering YELLOW lifts it to `floor_yellow`. Here
//!    floors only bound decreases; `floor_green` is the lowest allowed `base`.
//! 3. **SOFT_RED decreases** (by `factor_down_yellow`, down to `floor_soft_red`) instead of holding. Python
//!    holds, so a standing delay between warn and hard_red is never worked off and more delay (SOFT_RED)
//!    leaves a higher rate than less (YELLOW, which decays). Here more delay never yields a higher rate;
//!    validation requires `factor_down <= factor_down_yellow` and `load_time_constant <=
//!    baseline_time_constant` for the same reason.
//! 4. **Load-aware growth** (from cake-autorate): GREEN steps up only while the link is used; otherwise the
//!    rate relaxes towards `base`. Python steps up on any GREEN streak, so an idle link climbs to the ceiling.
//! 5. **Baseline follows path changes on an idle link.** Python freezes the baseline whenever the sample is
//!    3 ms above it, so a real path change upwards is never learnt. Here the freeze applies only while the
//!    link is loaded. Python's fixed 10-60 ms baseline bounds (which froze sub-10 ms fibre baselines forever)
//!    are replaced by per-sample plausibility limits (`min_rtt`, `max_rtt`).
//! 6. **Exact EWMA weights** `1 - exp(-dt/tau)` with the measured cycle length, not `0.05/tau`; and the
//!    EWMAs only move when a cycle has samples (Python re-fed the last ICMP value every 50 ms).
//! 7. **Upload floors** `floor_yellow` is honoured by YELLOW (Python only enforced `floor_red` for upload).
//!    Upload keeps Python's RED threshold at `warn_bloat`.
//! 8. **Many samples, not three pings:** the cycle statistic is over all flows (see [`crate::signal::aggregate`]);
//!    Python's per-cycle Hampel filter over the time series is replaced by the cross-flow outlier filter,
//!    which cannot delay the reaction to a real delay step.
//! 9. Not carried over: the acceleration/burst clamp, DOCSIS upload mode, fusion, asymmetry gate, adaptive
//!    tuning and the geometric probe multiplier.

pub mod config;
mod controller;
pub mod decision;
mod direction;
pub mod input;
pub mod params;
mod state;
pub mod trace;

#[cfg(test)]
mod tests;

pub use config::{CakeConfig, ControlConfig, DirectionConfig};
pub use controller::Controller;
pub use decision::{Decision, DirectionDecision, Reason, Zone};
pub use input::{CakeSignals, CycleInput};
pub use params::{CakeParams, ControlParams, DirectionParams, ParamError};
pub use state::{ControllerState, DirectionSnapshot, RestoreError};
pub use trace::{TraceError, TraceReader, TraceRow, TraceWriter};
