//! Reflector health, as cake-autorate keeps it: lost probes are offences, too many within a window replace a
//! reflector from the spare queue, and a periodic comparison demotes a reflector whose baseline is far above
//! the best one's (a slow path) or whose delta disagrees with the others' (it would fake or hide bloat).
//!
//! Pure: the prober passes the time in.

use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    time::Duration,
};

use super::{
    ActiveProbeConfig,
    reflector::{Reflector, ReflectorState},
    snapshot::{ReflectorHealth, ReflectorStatus},
};
use crate::signal::Timestamp;

/// The thresholds of the health logic, from [`ActiveProbeConfig`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthParams {
    pub offence_window: Duration,
    pub offence_threshold: u32,
    pub comparison_interval: Duration,
    pub comparison_min_samples: u32,
    pub baseline_margin: Duration,
    pub delta_margin: Duration,
}

impl From<&ActiveProbeConfig> for HealthParams {
    fn from(c: &ActiveProbeConfig) -> Self {
        Self {
            offence_window: c.offence_window.get(),
            offence_threshold: c.offence_threshold,
            comparison_interval: c.comparison_interval.get(),
            comparison_min_samples: c.comparison_min_samples,
            baseline_margin: c.baseline_margin.get(),
            delta_margin: c.delta_margin.get(),
        }
    }
}

/// Why a reflector left the active set (or was withheld).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// `offences` probes missed their deadline within the window.
    Unresponsive { offences: usize },
    /// Its baseline exceeds the best reflector's by `excess`.
    SlowBaseline { excess: Duration },
    /// Its smoothed delta differs from the other reflectors' median by `deviation_ms` (signed).
    DeltaOutlier { deviation_ms: f64 },
}

/// Something the health logic did, for logs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HealthEvent {
    /// `old` went to the back of the spare queue and `new` took its place.
    Replaced {
        old: IpAddr,
        new: IpAddr,
        fault: Fault,
    },
    /// No spare was left: `reflector` stays probed, but its replies are not used.
    Withheld { reflector: IpAddr, fault: Fault },
    /// A withheld reflector agrees with the others again.
    Restored { reflector: IpAddr },
}

/// The active reflectors of one WAN, the spare queue, and every reflector's statistics.
#[derive(Debug, Clone)]
pub struct ReflectorSet {
    params: HealthParams,
    active: Vec<IpAddr>,
    spares: VecDeque<IpAddr>,
    stats: HashMap<IpAddr, Reflector>,
    next: usize,
    last_comparison: Option<Timestamp>,
    replacements: u64,
    demotions: u64,
}

impl ReflectorSet {
    /// Starts with `active` probed and `spares` queued in order.
    pub fn new(params: HealthParams, active: &[IpAddr], spares: &[IpAddr]) -> Self {
        let mut stats = HashMap::new();
        for a in active {
            stats.insert(*a, Reflector::new(ReflectorState::Active));
        }
        for s in spares {
            stats.insert(*s, Reflector::new(ReflectorState::Spare));
        }
        Self {
            params,
            active: active.to_vec(),
            spares: spares.iter().copied().collect(),
            stats,
            next: 0,
            last_comparison: None,
            replacements: 0,
            demotions: 0,
        }
    }

    /// The reflectors currently probed, in round-robin order.
    pub fn active(&self) -> &[IpAddr] {
        &self.active
    }

    /// The reflector to probe next (round robin over the active set), counted as sent.
    pub fn next_target(&mut self) -> Option<IpAddr> {
        if self.active.is_empty() {
            return None;
        }
        let target = self.active[self.next % self.active.len()];
        self.next = (self.next + 1) % self.active.len();
        if let Some(r) = self.stats.get_mut(&target) {
            r.sent += 1;
        }
        Some(target)
    }

    /// Records a reply; returns true when the sample should reach the controller (the reflector is active
    /// and trusted).
    pub fn record_reply(&mut self, reflector: IpAddr, rtt: Duration) -> bool {
        self.stats.get_mut(&reflector).is_some_and(|r| {
            r.record_reply(rtt);
            r.state == ReflectorState::Active
        })
    }

    /// Records a probe to `reflector` that missed its deadline at `now`.
    pub fn record_loss(&mut self, reflector: IpAddr, now: Timestamp) {
        if let Some(r) = self.stats.get_mut(&reflector) {
            r.record_loss(now);
        }
    }

    /// Applies the offence rule, and the comparison when it is due.
    pub fn evaluate(&mut self, now: Timestamp) -> Vec<HealthEvent> {
        let mut events = Vec::new();
        for slot in 0..self.active.len() {
            let addr = self.active[slot];
            let Some(r) = self.stats.get_mut(&addr) else {
                continue;
            };
            let offences = r.offences_within(self.params.offence_window, now);
            let over = offences >= self.params.offence_threshold as usize;
            if over && r.state == ReflectorState::Unresponsive {
                // Already withheld for want of a spare; nothing new to do or report.
            } else if over {
                self.replacements += 1;
                events.push(self.replace(
                    slot,
                    Fault::Unresponsive { offences },
                    ReflectorState::Unresponsive,
                ));
            } else if r.state == ReflectorState::Unresponsive {
                r.state = ReflectorState::Active;
                events.push(HealthEvent::Restored { reflector: addr });
            }
        }
        let due = self
            .last_comparison
            .is_none_or(|t| now.saturating_since(t) >= self.params.comparison_interval);
        if due {
            self.last_comparison = Some(now);
            events.extend(self.compare());
        }
        events
    }

    /// Swaps the reflector in `slot` for the first spare, or marks it `unspared` when none is left.
    fn replace(&mut self, slot: usize, fault: Fault, unspared: ReflectorState) -> HealthEvent {
        let old = self.active[slot];
        let Some(new) = self.spares.pop_front() else {
            if let Some(r) = self.stats.get_mut(&old) {
                r.state = unspared;
            }
            return HealthEvent::Withheld {
                reflector: old,
                fault,
            };
        };
        self.active[slot] = new;
        self.spares.push_back(old);
        if let Some(r) = self.stats.get_mut(&old) {
            r.state = ReflectorState::Spare;
            r.offences.clear();
        }
        if let Some(r) = self.stats.get_mut(&new) {
            r.state = ReflectorState::Active;
            r.offences.clear();
        }
        HealthEvent::Replaced { old, new, fault }
    }

    /// Demotes at most one reflector per comparison (the worst), so a shared problem never empties the set.
    fn compare(&mut self) -> Vec<HealthEvent> {
        let min = u64::from(self.params.comparison_min_samples);
        let eligible: Vec<(usize, f64, f64)> = self
            .active
            .iter()
            .enumerate()
            .filter_map(|(slot, a)| {
                let r = self.stats.get(a)?;
                let usable = r.samples >= min && r.state != ReflectorState::Unresponsive;
                Some((slot, r.baseline?, r.delta_ewma)).filter(|_| usable)
            })
            .collect();
        let fault = worst_baseline(&eligible, self.params.baseline_margin)
            .or_else(|| worst_delta(&eligible, self.params.delta_margin));
        let mut events = Vec::new();
        // Outliers that now agree with the others are trusted again.
        for &(slot, ..) in &eligible {
            let addr = self.active[slot];
            let flagged = fault.is_some_and(|(s, _)| s == slot);
            if let Some(r) = self.stats.get_mut(&addr)
                && r.state == ReflectorState::Outlier
                && !flagged
            {
                r.state = ReflectorState::Active;
                events.push(HealthEvent::Restored { reflector: addr });
            }
        }
        let already_withheld = |slot: usize| {
            self.stats
                .get(&self.active[slot])
                .is_some_and(|r| r.state == ReflectorState::Outlier)
        };
        if let Some((slot, fault)) = fault.filter(|&(slot, _)| !already_withheld(slot)) {
            self.demotions += 1;
            events.push(self.replace(slot, fault, ReflectorState::Outlier));
        }
        events
    }

    /// The state of every reflector, active ones first.
    pub fn snapshot(&mut self, now: Timestamp) -> ReflectorHealth {
        let window = self.params.offence_window;
        let order: Vec<IpAddr> = self
            .active
            .iter()
            .chain(self.spares.iter())
            .copied()
            .collect();
        let mut health = ReflectorHealth {
            replacements: self.replacements,
            demotions: self.demotions,
            ..ReflectorHealth::default()
        };
        for addr in order {
            let Some(r) = self.stats.get_mut(&addr) else {
                continue;
            };
            let offences = r.offences_within(window, now);
            health.probes_sent += r.sent;
            health.replies += r.replies;
            health.lost += r.lost;
            health.reflectors.push(ReflectorStatus {
                address: addr,
                state: r.state,
                baseline_ms: r.baseline.map(|b| b * 1e3),
                delta_ms: r.delta_ewma * 1e3,
                last_rtt_ms: r.last_rtt.map(|d| d.as_secs_f64() * 1e3),
                offences,
                sent: r.sent,
                replies: r.replies,
                lost: r.lost,
            });
        }
        health
    }
}

/// The reflector whose baseline exceeds the lowest by the most, if by more than `margin`.
fn worst_baseline(eligible: &[(usize, f64, f64)], margin: Duration) -> Option<(usize, Fault)> {
    if eligible.len() < 2 {
        return None;
    }
    let best = eligible.iter().map(|e| e.1).fold(f64::INFINITY, f64::min);
    let (slot, baseline, _) = eligible
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let excess = baseline - best;
    (excess > margin.as_secs_f64()).then(|| {
        let excess = Duration::from_secs_f64(excess);
        (slot, Fault::SlowBaseline { excess })
    })
}

/// The reflector whose delta deviates most from the median of the others', if by more than `margin`.
/// Needs three reflectors: with two, nothing says which one is wrong.
fn worst_delta(eligible: &[(usize, f64, f64)], margin: Duration) -> Option<(usize, Fault)> {
    if eligible.len() < 3 {
        return None;
    }
    let deviation = |i: usize| {
        let mut others: Vec<f64> = eligible
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, e)| e.2)
            .collect();
        eligible[i].2 - median(&mut others)
    };
    let (i, dev) = (0..eligible.len())
        .map(|i| (i, deviation(i)))
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))?;
    (dev.abs() > margin.as_secs_f64()).then_some((
        eligible[i].0,
        Fault::DeltaOutlier {
            deviation_ms: dev * 1e3,
        },
    ))
}

/// Median of a non-empty slice (mean of the middle two for even lengths).
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
