//! The steering state machine: pure, time passed in.
//!
//! Each cycle the caller passes both WANs' congestion input to [`SteeringMachine::step`]. When the decision
//! has `switch` set, the caller actuates (with verification) and reports success with
//! [`SteeringMachine::commit`]; a failed actuation is simply not committed, so the next cycle asks again.
//!
//! Guarantees:
//! - never steers to an alternate that is congested, down, stale or invalid, and leaves it at once when it
//!   goes bad (that exit ignores hold-down and flap limit, which protect the primary, not the alternate);
//! - every other switch is at least `hold_down` after the previous one;
//! - every other switch finds fewer than `flap_limit.max_switches` switches in the preceding window;
//!   otherwise it is suppressed (and counted), not merely logged.

use std::{collections::VecDeque, time::Duration};

use super::{
    Action, Decision, Reason, WanCongestion, WanHealth,
    assess::assess,
    config::{
        AlternateLimit, EnterState, ExitPolicy, SignalThresholds, StartupPolicy, SteeringConfig,
    },
};
use crate::signal::Timestamp;

/// The parts of [`SteeringConfig`] the machine needs, copied so the machine owns no configuration handle.
#[derive(Debug, Clone, Copy)]
struct Policy {
    enter_state: EnterState,
    enter_sustain: Duration,
    leave_sustain: Duration,
    hold_down: Duration,
    max_switches: usize,
    flap_window: Duration,
    staleness: Duration,
    alternate_limit: AlternateLimit,
    signals: SignalThresholds,
    startup: StartupPolicy,
    on_exit: ExitPolicy,
}

impl From<&SteeringConfig> for Policy {
    fn from(c: &SteeringConfig) -> Self {
        Self {
            enter_state: c.enter.state,
            enter_sustain: c.enter.sustain.get(),
            leave_sustain: c.leave.sustain.get(),
            hold_down: c.hold_down.get(),
            max_switches: usize::try_from(c.flap_limit.max_switches).unwrap_or(usize::MAX),
            flap_window: c.flap_limit.window.get(),
            staleness: c.staleness.get(),
            alternate_limit: c.alternate_max_state,
            signals: c.signals,
            startup: c.startup,
            on_exit: c.on_exit,
        }
    }
}

/// Steering state for one primary/alternate pair.
#[derive(Debug, Clone)]
pub struct SteeringMachine {
    policy: Policy,
    /// The committed (actuated and verified) state.
    steering: bool,
    /// When the committed state began.
    since: Timestamp,
    last_switch: Option<Timestamp>,
    /// Switches inside the flap window, oldest first.
    recent_switches: VecDeque<Timestamp>,
    congested_since: Option<Timestamp>,
    green_since: Option<Timestamp>,
    /// True while a wanted switch is being suppressed; one suppression episode counts once.
    suppressing: bool,
    transitions: u64,
    suppressed_flaps: u64,
    last: Option<Observation>,
}

/// The latest step's inputs and output, for the health snapshot.
#[derive(Debug, Clone, Copy)]
pub(super) struct Observation {
    pub(super) at: Timestamp,
    pub(super) primary: WanHealth,
    pub(super) alternate: WanHealth,
    pub(super) decision: Decision,
}

impl SteeringMachine {
    /// Starts from the actuator's real state `found` (read before the first cycle), and returns the
    /// start-up decision: with `startup: reset` a steering actuator gets `switch` set towards not steering.
    /// Apply and [`commit`](Self::commit) it like any other decision.
    pub fn start(config: &SteeringConfig, now: Timestamp, found: bool) -> (Self, Decision) {
        let policy = Policy::from(config);
        let machine = Self {
            policy,
            steering: found,
            since: now,
            last_switch: None,
            recent_switches: VecDeque::new(),
            congested_since: None,
            green_since: None,
            suppressing: false,
            transitions: 0,
            suppressed_flaps: 0,
            last: None,
        };
        let decision = match (found, policy.startup) {
            (true, StartupPolicy::Reset) => Decision {
                action: Action::DontSteer,
                reason: Reason::StartupReset,
                switch: true,
            },
            _ => Decision {
                action: Action::from_steering(found),
                reason: Reason::StartupAdopted,
                switch: false,
            },
        };
        (machine, decision)
    }

    /// One cycle: assess both WANs at `now` and decide.
    pub fn step(
        &mut self,
        now: Timestamp,
        primary: &WanCongestion,
        alternate: &WanCongestion,
    ) -> Decision {
        let p = &self.policy;
        let primary = assess(primary, now, p.staleness, &p.signals);
        let alternate = assess(alternate, now, p.staleness, &p.signals);
        self.track_primary(now, primary);
        let decision = self.decide(now, primary, alternate);
        self.last = Some(Observation {
            at: now,
            primary,
            alternate,
            decision,
        });
        decision
    }

    /// Records that `decision` was actuated and verified at `now`. A decision without `switch` is a no-op.
    pub fn commit(&mut self, now: Timestamp, decision: &Decision) {
        let steering = decision.action.is_steer();
        if steering == self.steering {
            return;
        }
        self.steering = steering;
        self.since = now;
        self.transitions += 1;
        self.suppressing = false;
        // A start-up reset undoes a previous run's state; it is not a flap of ours.
        if decision.reason != Reason::StartupReset {
            self.last_switch = Some(now);
            self.recent_switches.push_back(now);
        }
    }

    /// The state to leave behind on shutdown, or `None` to leave the actuator as it is.
    pub fn exit_target(&self) -> Option<Action> {
        match self.policy.on_exit {
            ExitPolicy::NotSteering => Some(Action::DontSteer),
            ExitPolicy::Keep => None,
        }
    }

    /// The committed state.
    pub fn action(&self) -> Action {
        Action::from_steering(self.steering)
    }

    fn track_primary(&mut self, now: Timestamp, primary: WanHealth) {
        let Some(state) = primary.state() else {
            // No evidence either way: a sustained period must be observed, not assumed across a gap.
            self.congested_since = None;
            self.green_since = None;
            return;
        };
        if state >= self.policy.enter_state.threshold() {
            self.congested_since.get_or_insert(now);
        } else {
            self.congested_since = None;
        }
        if state == super::CongestionState::Green {
            self.green_since.get_or_insert(now);
        } else {
            self.green_since = None;
        }
    }

    fn decide(&mut self, now: Timestamp, primary: WanHealth, alternate: WanHealth) -> Decision {
        let alternate_ok = alternate
            .state()
            .is_some_and(|s| s <= self.policy.alternate_limit.worst());
        let current = Action::from_steering(self.steering);
        let stay = |reason| Decision {
            action: current,
            reason,
            switch: false,
        };
        let congested_for = self.congested_since.map(|t| now.saturating_since(t));
        let green_for = self.green_since.map(|t| now.saturating_since(t));

        let wanted = if self.steering {
            if !alternate_ok {
                // Safety exit: immediate, not subject to hold-down or flap limit.
                self.suppressing = false;
                return Decision {
                    action: Action::DontSteer,
                    reason: Reason::AlternateUnusable { alternate },
                    switch: true,
                };
            }
            match green_for {
                Some(d) if d >= self.policy.leave_sustain => {
                    (Action::DontSteer, Reason::PrimaryRecovered { sustained: d })
                }
                _ if primary.state().is_none() => {
                    return self.quiet(stay(Reason::PrimaryUnknown { primary }));
                }
                _ => return self.quiet(stay(Reason::Steady)),
            }
        } else {
            match congested_for {
                Some(d) if d >= self.policy.enter_sustain => {
                    if !alternate_ok {
                        return self.quiet(stay(Reason::AlternateUnusable { alternate }));
                    }
                    (Action::Steer, Reason::PrimaryCongested { sustained: d })
                }
                _ if primary.state().is_none() => {
                    return self.quiet(stay(Reason::PrimaryUnknown { primary }));
                }
                _ => return self.quiet(stay(Reason::Steady)),
            }
        };

        if let Some(remaining) = self.hold_down_remaining(now) {
            return stay(Reason::HoldDown { remaining });
        }
        let switches = self.switches_in_window(now);
        if switches >= self.policy.max_switches {
            if !self.suppressing {
                self.suppressing = true;
                self.suppressed_flaps += 1;
            }
            return stay(Reason::FlapLimit { switches });
        }
        self.suppressing = false;
        Decision {
            action: wanted.0,
            reason: wanted.1,
            switch: true,
        }
    }

    /// A decision that wants no switch ends any suppression episode.
    fn quiet(&mut self, decision: Decision) -> Decision {
        self.suppressing = false;
        decision
    }

    /// Time left in the hold-down after the last switch, if any.
    pub fn hold_down_remaining(&self, now: Timestamp) -> Option<Duration> {
        let elapsed = now.saturating_since(self.last_switch?);
        self.policy
            .hold_down
            .checked_sub(elapsed)
            .filter(|d| !d.is_zero())
    }

    /// Switches within the flap window ending at `now`; forgets older ones.
    fn switches_in_window(&mut self, now: Timestamp) -> usize {
        while let Some(&oldest) = self.recent_switches.front() {
            if now.saturating_since(oldest) >= self.policy.flap_window {
                self.recent_switches.pop_front();
            } else {
                break;
            }
        }
        self.recent_switches.len()
    }

    /// Transitions, suppressed flap episodes, and switches within the flap window ending at `now`.
    pub(super) fn counters(&self, now: Timestamp) -> (u64, u64, usize) {
        let in_window = self
            .recent_switches
            .iter()
            .filter(|&&t| now.saturating_since(t) < self.policy.flap_window)
            .count();
        (self.transitions, self.suppressed_flaps, in_window)
    }

    pub(super) fn since(&self) -> Timestamp {
        self.since
    }

    pub(super) fn last_observation(&self) -> Option<Observation> {
        self.last
    }
}
