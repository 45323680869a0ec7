//! Property tests over random congestion traces, random timings and a randomly failing actuator.

use std::time::Duration;

use proptest::prelude::*;

use super::{Wan, config};
use crate::{
    signal::Timestamp,
    steering::{Action, CongestionState, Decision, Reason, SteeringMachine},
};

fn wan() -> impl Strategy<Value = Wan> {
    prop_oneof![
        4 => Just(Wan::Ok(CongestionState::Green)),
        1 => Just(Wan::Ok(CongestionState::Yellow)),
        1 => Just(Wan::Ok(CongestionState::SoftRed)),
        4 => Just(Wan::Ok(CongestionState::Red)),
        1 => Just(Wan::Stale),
        1 => Just(Wan::Down),
    ]
}

/// One cycle: time since the previous one, both WANs, and whether actuation succeeds.
fn cycles() -> impl Strategy<Value = Vec<(u64, Wan, Wan, bool)>> {
    // Runs of equal input make sustained periods happen; single cycles make interruptions happen.
    let run = (
        1u64..1500,
        wan(),
        wan(),
        1usize..40,
        prop::bool::weighted(0.9),
    )
        .prop_map(|(dt, p, a, n, ok)| vec![(dt, p, a, ok); n]);
    prop::collection::vec(run, 1..40).prop_map(|runs| runs.concat())
}

/// Timers in milliseconds: enter, leave, hold-down, flap window; and the flap limit.
fn timers() -> impl Strategy<Value = (u64, u64, u64, u64, u32)> {
    (
        100u64..3000,
        100u64..5000,
        0u64..10_000,
        1000u64..60_000,
        1u32..5,
    )
}

fn is_safety_exit(d: &Decision) -> bool {
    d.action == Action::DontSteer && matches!(d.reason, Reason::AlternateUnusable { .. })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn never_steers_to_a_bad_wan_and_never_flaps_faster_than_allowed(
        trace in cycles(),
        (enter, leave, hold, window, max) in timers(),
    ) {
        let cfg = config(&format!(
            "{{ enter: {{ sustain: {enter}ms }}, leave: {{ sustain: {leave}ms }}, hold_down: {hold}ms, \
             flap_limit: {{ max_switches: {max}, window: {window}ms }} }}"
        ));
        let staleness = cfg.staleness.get();
        let hold_down = Duration::from_millis(hold);
        let window = Duration::from_millis(window);
        let mut now = Timestamp::from_nanos(100_000_000_000);
        let (mut machine, _) = SteeringMachine::start(&cfg, now, false);
        let mut committed: Vec<Timestamp> = Vec::new();

        for (dt, primary, alternate, actuator_ok) in trace {
            now = now.add(Duration::from_millis(dt));
            let decision = machine.step(now, &primary.input(now, staleness), &alternate.input(now, staleness));

            if decision.action == Action::Steer {
                let usable = matches!(alternate, Wan::Ok(s) if s <= CongestionState::Yellow);
                prop_assert!(usable, "decided to steer to alternate {alternate:?}: {decision:?}");
            }
            if decision.switch && actuator_ok {
                if !is_safety_exit(&decision) {
                    if let Some(&last) = committed.last() {
                        prop_assert!(
                            now.saturating_since(last) >= hold_down,
                            "switch {:?} after the previous: {decision:?}", now.saturating_since(last)
                        );
                    }
                    let in_window = committed.iter().filter(|&&t| now.saturating_since(t) < window).count();
                    prop_assert!(in_window < max as usize, "{in_window} switches already in window: {decision:?}");
                }
                machine.commit(now, &decision);
                committed.push(now);
            }
            prop_assert_eq!(machine.snapshot(now).transitions, committed.len() as u64);
        }
    }

    #[test]
    fn a_steady_primary_never_switches_anything(
        steps in prop::collection::vec((1u64..2000, wan()), 1..200),
    ) {
        // With the primary GREEN throughout, nothing may ever switch, whatever the alternate does.
        let cfg = config("");
        let staleness = cfg.staleness.get();
        let mut now = Timestamp::from_nanos(100_000_000_000);
        let (mut machine, _) = SteeringMachine::start(&cfg, now, false);
        for (dt, alternate) in steps {
            now = now.add(Duration::from_millis(dt));
            let primary = Wan::Ok(CongestionState::Green).input(now, staleness);
            let decision = machine.step(now, &primary, &alternate.input(now, staleness));
            prop_assert!(!decision.switch, "{decision:?}");
            prop_assert_eq!(decision.action, Action::DontSteer);
        }
    }
}
