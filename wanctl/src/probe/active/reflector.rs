//! What is known about one reflector: its baseline RTT, smoothed delta, offences and counters.

use std::{collections::VecDeque, time::Duration};

use crate::signal::Timestamp;

/// Baseline EWMA weight for an RTT above the baseline: slow, so load cannot drag the baseline up quickly.
const ALPHA_BASELINE_UP: f64 = 0.01;
/// Baseline EWMA weight for an RTT below the baseline: fast, so the baseline tracks the path's minimum.
const ALPHA_BASELINE_DOWN: f64 = 0.9;
/// Weight of the delta EWMA that reflectors are compared on (cake-autorate's 0.095).
const ALPHA_DELTA: f64 = 0.095;

/// Where a reflector stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReflectorState {
    /// Probed; its replies are samples for the controller.
    Active,
    /// Probed but missed too many deadlines, and no spare was left to replace it.
    Unresponsive,
    /// Probed but its baseline or delta disagrees with the others, and no spare was left: its replies are
    /// withheld from the controller until it agrees again.
    Outlier,
    /// Waiting in the spare queue; not probed.
    Spare,
}

/// Per-reflector statistics, kept while the reflector rests in the spare queue so it can be reused.
#[derive(Debug, Clone)]
pub(crate) struct Reflector {
    pub state: ReflectorState,
    /// Smoothed minimum RTT in seconds, once a reply has been seen.
    pub baseline: Option<f64>,
    /// Smoothed `rtt - baseline` in seconds.
    pub delta_ewma: f64,
    pub last_rtt: Option<Duration>,
    /// Replies since the statistics started (they survive a stay in the spare queue).
    pub samples: u64,
    /// When each recent lost probe hit its deadline, oldest first.
    pub offences: VecDeque<Timestamp>,
    pub sent: u64,
    pub replies: u64,
    pub lost: u64,
}

impl Reflector {
    pub fn new(state: ReflectorState) -> Self {
        Self {
            state,
            baseline: None,
            delta_ewma: 0.0,
            last_rtt: None,
            samples: 0,
            offences: VecDeque::new(),
            sent: 0,
            replies: 0,
            lost: 0,
        }
    }

    /// Folds one reply into the baseline and delta EWMAs.
    pub fn record_reply(&mut self, rtt: Duration) {
        let secs = rtt.as_secs_f64();
        let baseline = match self.baseline {
            None => secs,
            Some(b) if secs < b => b + ALPHA_BASELINE_DOWN * (secs - b),
            Some(b) => b + ALPHA_BASELINE_UP * (secs - b),
        };
        self.baseline = Some(baseline);
        self.delta_ewma += ALPHA_DELTA * ((secs - baseline) - self.delta_ewma);
        self.last_rtt = Some(rtt);
        self.samples += 1;
        self.replies += 1;
    }

    /// Counts a probe that missed its deadline at `now`.
    pub fn record_loss(&mut self, now: Timestamp) {
        self.lost += 1;
        self.offences.push_back(now);
    }

    /// Forgets offences older than `window`; returns how many remain.
    pub fn offences_within(&mut self, window: Duration, now: Timestamp) -> usize {
        while self
            .offences
            .front()
            .is_some_and(|&t| now.saturating_since(t) > window)
        {
            self.offences.pop_front();
        }
        self.offences.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_tracks_the_minimum_and_rises_slowly() {
        let mut r = Reflector::new(ReflectorState::Active);
        r.record_reply(Duration::from_millis(20));
        r.record_reply(Duration::from_millis(10));
        let after_drop = r.baseline.unwrap();
        assert!(
            after_drop < 0.012,
            "a lower RTT pulls the baseline down at once: {after_drop}"
        );
        for _ in 0..10 {
            r.record_reply(Duration::from_millis(200));
        }
        let loaded = r.baseline.unwrap();
        assert!(
            loaded < 0.05,
            "ten loaded replies barely move the baseline: {loaded}"
        );
        assert!(
            r.delta_ewma > 0.05,
            "the delta shows the load: {}",
            r.delta_ewma
        );
    }

    #[test]
    fn offences_age_out_of_the_window() {
        let mut r = Reflector::new(ReflectorState::Active);
        for ms in [1_000, 2_000, 5_000] {
            r.record_loss(Timestamp::from_nanos(ms * 1_000_000));
        }
        let window = Duration::from_secs(10);
        assert_eq!(
            r.offences_within(window, Timestamp::from_nanos(11_500_000_000)),
            2
        );
        assert_eq!(
            r.offences_within(window, Timestamp::from_nanos(35_000_000_000)),
            0
        );
        assert_eq!(r.lost, 3, "the loss counter never ages");
    }
}
