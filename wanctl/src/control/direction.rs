//! The state machine and rate law of one direction.
//!
//! Rates are integers in bits per second; every multiplicative step rounds down, as the Python wanctl does
//! (`int(rate * factor)`), so replays are exact.

use super::{
    decision::{DirectionDecision, Reason, Zone},
    params::{ControlParams, DirectionParams},
};
use crate::{config::Bandwidth, signal::ewma_weight};

/// Evidence from CAKE for this cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CakeEvidence {
    /// Smoothed drop+mark rate above threshold.
    pub drops: bool,
}

/// What the direction needs to know about this cycle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observation {
    /// Load minus baseline, ms; `None` on an idle cycle.
    pub delta_ms: Option<f64>,
    /// Achieved rate / current rate.
    pub utilization: f64,
    /// Smoothed achieved rate, bit/s; `None` while the direction carries less than `idle_share` of its rate
    /// (then it says nothing about the link).
    pub achieved_bps: Option<f64>,
    /// False within `red_refractory` of this direction's last RED/SOFT_RED decrease.
    pub red_cut_allowed: bool,
    /// False within `yellow_refractory` of this direction's last decrease.
    pub yellow_cut_allowed: bool,
    /// Cycle length, s.
    pub dt_s: f64,
    pub cake: CakeEvidence,
}

/// Mutable state of one direction (persisted through [`super::ControllerState`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DirectionState {
    pub rate: u64,
    /// The confirmed zone: drives dwell and deadband.
    pub zone: Zone,
    pub green_streak: u32,
    pub dwell: u32,
    /// The basis of the latest decrease (the rate that bloated, or what the link carried); 0 = none.
    /// Not persisted: after a restart growth is simply fast again.
    pub plateau: u64,
    /// Time spent growing near the plateau since the last decrease, s (not persisted either).
    pub probing_s: f64,
}

/// Near the plateau means from this share of it ...
const PLATEAU_LOW: f64 = 0.9;
/// ... up to this share, past which it is forgotten.
const PLATEAU_HIGH: f64 = 1.25;
/// Near the plateau, the gentle step doubles for every this many seconds of growth without a decrease
/// (CUBIC's convex probing): a capacity that came back is found in seconds, while right after a cut
/// the climb is as gentle as `plateau_step_share` says.
const PROBE_DOUBLING_S: f64 = 3.0;

impl DirectionState {
    pub fn new(p: &DirectionParams) -> Self {
        Self {
            rate: p.ceiling,
            zone: Zone::Green,
            green_streak: 0,
            dwell: 0,
            plateau: 0,
            probing_s: 0.0,
        }
    }

    /// One cycle. `last` is the previous decision, returned unchanged in substance on an idle cycle.
    pub fn step(
        &mut self,
        p: &DirectionParams,
        common: &ControlParams,
        obs: &Observation,
        last_reported: Zone,
    ) -> DirectionDecision {
        let (state, reason) = match obs.delta_ms {
            None => (last_reported, Reason::Idle),
            Some(d) => self.classify_and_apply(p, common, obs, d),
        };
        DirectionDecision {
            rate: Bandwidth::from_bps(self.rate),
            state,
            reason,
            utilization: obs.utilization,
        }
    }

    fn classify_and_apply(
        &mut self,
        p: &DirectionParams,
        common: &ControlParams,
        obs: &Observation,
        d: f64,
    ) -> (Zone, Reason) {
        let four_state = p.hard_red_ms > p.warn_ms;
        let red = d > p.hard_red_ms || (!four_state && d > p.warn_ms);
        if red || d > p.warn_ms {
            let (zone, reason, factor, floor) = if red {
                (Zone::Red, Reason::Red, p.factor_down, p.floor_red)
            } else {
                (
                    Zone::SoftRed,
                    Reason::SoftRed,
                    drain_factor(p, d, common.red_refractory_s),
                    p.floor_soft_red,
                )
            };
            // Escalating from SOFT_RED (or lower) to RED means the last cut was not enough: the queue is still
            // growing, and waiting out the refractory period would let it.
            let escalating = zone == Zone::Red && self.zone != Zone::Red;
            self.enter(zone);
            if !obs.red_cut_allowed && !escalating {
                return (zone, Reason::Refractory);
            }
            self.plateau = cut_basis(self.rate, obs.achieved_bps, floor);
            self.probing_s = 0.0;
            self.rate = cut(self.rate, self.plateau, factor, floor);
            return (zone, reason);
        }
        if d > p.target_ms {
            self.green_streak = 0;
            // Dwell only filters short excursions out of GREEN; from RED/SOFT_RED (or with CAKE evidence)
            // YELLOW applies at once.
            if self.zone == Zone::Green && !obs.cake.drops {
                self.dwell += 1;
                if self.dwell < common.dwell_cycles {
                    self.rate = self.rate.min(self.green_move(p, obs, false).0);
                    return (Zone::Yellow, Reason::YellowDwell);
                }
            }
            self.enter(Zone::Yellow);
            if !obs.yellow_cut_allowed {
                return (Zone::Yellow, Reason::Refractory);
            }
            // On a full link, what it carried is a capacity measurement (an overshoot shows as carrying
            // less than the rate); on a partly used one it only shows the demand, so YELLOW, a mild state,
            // then cuts from the rate alone.
            let achieved = obs.achieved_bps.filter(|_| obs.utilization >= p.load_share);
            self.plateau = cut_basis(self.rate, achieved, p.floor_yellow);
            self.probing_s = 0.0;
            self.rate = cut(
                self.rate,
                self.plateau,
                drain_factor(p, d, common.yellow_refractory_s),
                p.floor_yellow,
            );
            let reason = if obs.cake.drops {
                Reason::CakeDrops
            } else {
                Reason::Yellow
            };
            return (Zone::Yellow, reason);
        }
        let in_deadband = d >= p.target_ms - common.deadband_ms.min(p.target_ms / 2.0);
        if self.zone == Zone::Yellow && in_deadband {
            self.green_streak = 0;
            if !obs.yellow_cut_allowed {
                return (Zone::Yellow, Reason::Refractory);
            }
            self.rate = cut(self.rate, self.rate, p.factor_down_yellow, p.floor_yellow);
            self.probing_s = 0.0;
            return (Zone::Yellow, Reason::Deadband);
        }
        self.enter(Zone::Green);
        self.green_streak = self.green_streak.saturating_add(1);
        // Neither CAKE drops nor a CAKE backlog stop growth: with the delay at baseline they mean CAKE is the
        // bottleneck, which is where shaping wants it, and growing is how recovered capacity is found. A
        // delay just under the target does: the queue is already building, and one more step would overshoot.
        let grow = self.green_streak >= p.green_required && !in_deadband && self.fills(p, obs);
        let (rate, reason) = self.green_move(p, obs, grow);
        if reason == Reason::StepUp && self.near_plateau() {
            self.probing_s += obs.dt_s;
        }
        self.rate = rate;
        if (rate as f64) > self.plateau as f64 * PLATEAU_HIGH {
            // Well past the old capacity without bloat: it grew.
            self.plateau = 0;
        }
        (Zone::Green, reason)
    }

    /// Resets the counters that do not belong to `zone` and records it as confirmed.
    fn enter(&mut self, zone: Zone) {
        if zone != Zone::Green {
            self.green_streak = 0;
        }
        self.dwell = 0;
        self.zone = zone;
    }

    /// Whether growth may go on as far as `fill_share` is concerned: below the plateau, or with the link
    /// carrying at least that share of the rate.
    fn fills(&self, p: &DirectionParams, obs: &Observation) -> bool {
        p.fill_share <= 0.0
            || self.plateau == 0
            || self.rate < self.plateau
            || obs
                .achieved_bps
                .is_some_and(|achieved| achieved >= p.fill_share * self.rate as f64)
    }

    /// Whether the rate is near the last rate that bloated.
    fn near_plateau(&self) -> bool {
        let plateau = self.plateau as f64;
        let rate = self.rate as f64;
        self.plateau > 0 && rate >= plateau * PLATEAU_LOW && rate <= plateau * PLATEAU_HIGH
    }

    /// The increase this cycle: `step_up`, or near the last rate that bloated its `plateau_step_share`,
    /// doubled for every `PROBE_DOUBLING_S` of growth since the last decrease (never above `step_up`).
    fn increase(&self, p: &DirectionParams) -> u64 {
        if !self.near_plateau() {
            return p.step_up;
        }
        let gentle = p.step_up as f64 * p.plateau_step_share;
        let accelerated = gentle * (self.probing_s / PROBE_DOUBLING_S).exp2();
        (accelerated.min(p.step_up as f64) as u64).max(1)
    }

    /// The GREEN rate law: step up while used, else relax towards base. Increases need `streak_ok`; relaxing
    /// down towards base does not.
    fn green_move(&self, p: &DirectionParams, obs: &Observation, streak_ok: bool) -> (u64, Reason) {
        let rate = self.rate;
        if obs.utilization >= p.load_share {
            return match (streak_ok, rate >= p.ceiling) {
                (false, _) => (rate, Reason::GreenHold),
                (true, true) => (p.ceiling, Reason::Ceiling),
                (true, false) => (
                    rate.saturating_add(self.increase(p)).min(p.ceiling),
                    Reason::StepUp,
                ),
            };
        }
        if rate == p.base || (rate < p.base && !streak_ok) {
            return (rate, Reason::GreenHold);
        }
        // Never relax faster per cycle than one YELLOW step, so a GREEN outcome is never below a YELLOW one.
        let weight = ewma_weight(obs.dt_s, p.decay_tau_s).min(1.0 - p.factor_down_yellow);
        let gap = rate.abs_diff(p.base) as f64;
        let moved = (gap * weight).ceil() as u64;
        let new = if rate > p.base {
            rate - moved
        } else {
            rate + moved
        };
        (new, Reason::DecayToBase)
    }
}

/// What a cut starts from: the lower of the rate and what the link carried, when that is known
/// (cake-autorate's rule). When the bottleneck sits upstream (a download whose capacity fell), the achieved
/// rate is the new capacity and one cut lands below it, where cutting the shaper's own rate by a factor per
/// cycle would need several cycles while the queue grows. Never below the cut's `floor`: the basis is also
/// the plateau growth is gentle around, and the rate cannot go below the floor. A cut while the flows back
/// off (they carry half the rate for a moment) would otherwise remember a plateau so far below the floor
/// that the rate, climbing from the floor, leaves the gentle zone at once and overshoots at full steps.
fn cut_basis(rate: u64, achieved_bps: Option<f64>, floor: u64) -> u64 {
    achieved_bps
        .map_or(rate, |a| (a.max(0.0) as u64).min(rate))
        .max(floor.min(rate))
}

/// The factor of a mild cut (YELLOW, SOFT_RED): `factor_down_yellow`, or deeper when the queue the delay
/// shows would not drain at it before the next such cut may come. A link carrying its capacity C with
/// `delta` of queue drains it within `horizon` at `C × (1 − delta / horizon)`; the cut's basis is what the
/// link carried. Never deeper than `factor_down` (RED's); no horizon (no refractory period, the default)
/// keeps `factor_down_yellow`, as in the Python wanctl.
fn drain_factor(p: &DirectionParams, delta_ms: f64, horizon_s: f64) -> f64 {
    if horizon_s <= 0.0 {
        return p.factor_down_yellow;
    }
    (1.0 - delta_ms / (horizon_s * 1e3))
        .max(p.factor_down)
        .min(p.factor_down_yellow)
}

/// `basis * factor` rounded down, not below `floor`, never above `rate` (a floor never raises the rate).
fn cut(rate: u64, basis: u64, factor: f64, floor: u64) -> u64 {
    ((basis as f64 * factor).floor() as u64)
        .max(floor)
        .min(rate)
}
