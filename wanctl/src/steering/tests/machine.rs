//! The state machine's promises, one scenario each.

use std::time::Duration;

use super::{GREEN, MS100, RED, Sim, Wan, YELLOW, config, secs};
use crate::steering::{Action, CongestionState, Reason, WanHealth};

#[test]
fn enters_after_sustained_red_measured_in_wall_clock_not_cycles() {
    for cycle in [Duration::from_millis(50), MS100, Duration::from_millis(500)] {
        let mut sim = Sim::new(&config(""));
        sim.run(secs(1.9), cycle, RED, GREEN);
        assert!(
            sim.switches.is_empty(),
            "cycle {cycle:?}: entered too early"
        );
        sim.run(secs(0.6), cycle, RED, GREEN);
        assert_eq!(sim.switch_times(), vec![2000], "cycle {cycle:?}");
        assert_eq!(sim.machine.action(), Action::Steer);
        assert!(matches!(
            sim.switches[0].1.reason,
            Reason::PrimaryCongested { sustained } if sustained == Duration::from_secs(2)
        ));
    }
}

#[test]
fn one_non_red_sample_restarts_the_enter_period() {
    let mut sim = Sim::new(&config(""));
    sim.run(secs(1.5), MS100, RED, GREEN);
    sim.cycle(MS100, YELLOW, GREEN);
    sim.run(secs(1.9), MS100, RED, GREEN);
    assert!(sim.switches.is_empty());
    sim.run(secs(0.2), MS100, RED, GREEN);
    assert_eq!(sim.switch_times(), vec![3600]);
}

#[test]
fn soft_red_enters_only_when_configured() {
    let soft = Wan::Ok(CongestionState::SoftRed);
    let mut strict = Sim::new(&config(""));
    strict.run(secs(10.0), MS100, soft, GREEN);
    assert!(strict.switches.is_empty());

    let mut lenient = Sim::new(&config("enter: { state: soft_red, sustain: 2s }"));
    lenient.run(secs(3.0), MS100, soft, GREEN);
    assert_eq!(lenient.switch_times(), vec![2000]);
}

#[test]
fn leaves_after_sustained_green_and_any_other_state_restarts_it() {
    let mut sim = Sim::new(&config("hold_down: 1s"));
    sim.run(secs(2.1), MS100, RED, GREEN); // enters at 2.0
    sim.run(secs(9.0), MS100, GREEN, GREEN); // green from 2.1
    sim.cycle(MS100, YELLOW, GREEN); // at 11.1: restart
    sim.run(secs(9.9), MS100, GREEN, GREEN); // green from 11.2 to 21.1
    assert_eq!(
        sim.switches.len(),
        1,
        "still steering: {:?}",
        sim.switch_times()
    );
    sim.run(secs(0.2), MS100, GREEN, GREEN);
    assert_eq!(sim.switch_times(), vec![2000, 21200]);
    assert_eq!(sim.machine.action(), Action::DontSteer);
    assert!(matches!(
        sim.switches[1].1.reason,
        Reason::PrimaryRecovered { .. }
    ));
}

#[test]
fn hold_down_delays_leaving_until_it_expires() {
    let mut sim = Sim::new(&config("")); // leave after 10 s, hold-down 30 s
    sim.run(secs(2.1), MS100, RED, GREEN);
    let decision = sim.run(secs(29.8), MS100, GREEN, GREEN); // up to 31.9
    assert_eq!(sim.switches.len(), 1);
    assert!(
        matches!(decision.reason, Reason::HoldDown { .. }),
        "{decision:?}"
    );
    assert_eq!(decision.action, Action::Steer);
    sim.run(secs(0.2), MS100, GREEN, GREEN);
    assert_eq!(sim.switch_times(), vec![2000, 32000]);
}

#[test]
fn hold_down_delays_re_entering() {
    let mut sim = Sim::new(&config("{ hold_down: 30s, leave: { sustain: 1s } }"));
    sim.run(secs(2.1), MS100, RED, GREEN); // enter at 2.0
    sim.run(secs(30.0), MS100, GREEN, GREEN); // leave at 32.0 (hold-down)
    sim.run(secs(31.0), MS100, RED, GREEN); // congested again from 32.1
    assert_eq!(sim.switch_times(), vec![2000, 32000, 62000]);
}

#[test]
fn flap_limit_suppresses_switching_and_counts_episodes() {
    // Short timers so only the flap limit can stop switching: 2 switches per 60 s.
    let mut sim = Sim::new(&config(
        "{ enter: { sustain: 1s }, leave: { sustain: 1s }, hold_down: 1s, flap_limit: { max_switches: 2, window: 60s } }",
    ));
    sim.run(secs(1.5), MS100, RED, GREEN); // enter at 1.0
    sim.run(secs(2.0), MS100, GREEN, GREEN); // leave at 2.5
    assert_eq!(sim.switch_times(), vec![1000, 2500]);
    let decision = sim.run(secs(10.0), MS100, RED, GREEN);
    assert_eq!(sim.switches.len(), 2, "third switch must be suppressed");
    assert_eq!(decision.action, Action::DontSteer);
    assert!(
        matches!(decision.reason, Reason::FlapLimit { switches: 2 }),
        "{decision:?}"
    );
    let snapshot = sim.machine.snapshot(sim.now);
    assert_eq!(
        snapshot.suppressed_flaps, 1,
        "one episode, however many cycles"
    );
    assert_eq!(snapshot.switches_in_window, 2);

    sim.run(secs(5.0), MS100, GREEN, GREEN); // the wish goes away: episode ends
    sim.run(secs(5.0), MS100, RED, GREEN); // a second episode
    assert_eq!(sim.machine.snapshot(sim.now).suppressed_flaps, 2);

    // The first switch (t = 1.0) leaves the window at 61.0; sustained RED then switches.
    sim.run(secs(61.5 - sim.elapsed()), MS100, RED, GREEN);
    assert_eq!(sim.switch_times(), vec![1000, 2500, 61000]);
}

#[test]
fn never_steers_to_a_stale_down_or_congested_alternate() {
    let cases = [
        (Wan::Stale, "stale"),
        (Wan::Down, "down"),
        (RED, "red"),
        (Wan::Ok(CongestionState::SoftRed), "soft_red"),
    ];
    for (alternate, name) in cases {
        let mut sim = Sim::new(&config(""));
        let decision = sim.run(secs(10.0), MS100, RED, alternate);
        assert!(sim.switches.is_empty(), "{name}");
        assert_eq!(decision.action, Action::DontSteer, "{name}");
        assert!(
            matches!(decision.reason, Reason::AlternateUnusable { .. }),
            "{name}: {decision:?}"
        );
        // Once the alternate is usable again, the (still sustained) congestion switches at once.
        sim.cycle(MS100, RED, GREEN);
        assert_eq!(sim.switches.len(), 1, "{name}");
    }
}

#[test]
fn yellow_alternate_is_acceptable_unless_configured_otherwise() {
    let mut default = Sim::new(&config(""));
    default.run(secs(3.0), MS100, RED, YELLOW);
    assert_eq!(default.switches.len(), 1);

    let mut strict = Sim::new(&config("alternate_max_state: green"));
    strict.run(secs(3.0), MS100, RED, YELLOW);
    assert!(strict.switches.is_empty());
}

#[test]
fn leaves_a_failing_alternate_at_once_despite_hold_down_and_flap_limit() {
    let mut sim = Sim::new(&config("flap_limit: { max_switches: 1, window: 5m }"));
    sim.run(secs(2.1), MS100, RED, GREEN);
    let decision = sim.cycle(MS100, RED, Wan::Stale);
    assert_eq!(decision.action, Action::DontSteer);
    assert!(decision.switch);
    assert!(matches!(
        decision.reason,
        Reason::AlternateUnusable {
            alternate: WanHealth::Stale { .. }
        }
    ));
    assert_eq!(sim.switch_times(), vec![2000, 2100]);
}

#[test]
fn unusable_primary_input_changes_nothing_and_restarts_periods() {
    let mut sim = Sim::new(&config(""));
    sim.run(secs(1.5), MS100, RED, GREEN);
    let decision = sim.cycle(MS100, Wan::Stale, GREEN);
    assert!(
        matches!(decision.reason, Reason::PrimaryUnknown { .. }),
        "{decision:?}"
    );
    sim.run(secs(1.9), MS100, RED, GREEN);
    assert!(
        sim.switches.is_empty(),
        "the stale gap must restart the period"
    );
    sim.run(secs(0.2), MS100, RED, GREEN);
    assert_eq!(sim.switches.len(), 1);

    // While steering, a stale primary keeps steering (the alternate is still fine).
    let decision = sim.run(secs(60.0), MS100, Wan::Down, GREEN);
    assert_eq!(decision.action, Action::Steer);
    assert_eq!(sim.switches.len(), 1);
}

#[test]
fn failed_actuation_is_not_committed_and_is_asked_again() {
    let mut sim = Sim::new(&config(""));
    sim.run(secs(1.95), MS100, RED, GREEN);
    let input = RED.input(sim.now, Duration::from_secs(5));
    let alt = GREEN.input(sim.now, Duration::from_secs(5));
    let first = sim.machine.step(sim.now, &input, &alt);
    assert!(first.switch && first.action == Action::Steer);
    // Not committed (the actuator failed): the machine still believes it is not steering.
    assert_eq!(sim.machine.action(), Action::DontSteer);
    let later = sim.now.add(MS100);
    let again = sim.machine.step(
        later,
        &RED.input(later, Duration::from_secs(5)),
        &GREEN.input(later, Duration::from_secs(5)),
    );
    assert!(again.switch && again.action == Action::Steer);
    assert_eq!(sim.machine.snapshot(later).transitions, 0);
}

#[test]
fn startup_reset_corrects_a_leftover_steering_state_without_hold_down() {
    let cfg = config("");
    let (mut sim, decision) = Sim::start(&cfg, true);
    assert_eq!(decision.action, Action::DontSteer);
    assert!(decision.switch);
    assert_eq!(decision.reason, Reason::StartupReset);
    assert_eq!(sim.machine.action(), Action::DontSteer);
    // No hold-down from the reset: real congestion steers after the usual 2 s.
    sim.run(secs(2.1), MS100, RED, GREEN);
    assert_eq!(sim.switch_times(), vec![0, 2000]);

    let (_, untouched) = Sim::start(&cfg, false);
    assert!(!untouched.switch);
    assert_eq!(untouched.action, Action::DontSteer);
}

#[test]
fn startup_adopt_keeps_steering_until_sustained_green() {
    let (mut sim, decision) = Sim::start(&config("startup: adopt"), true);
    assert!(!decision.switch);
    assert_eq!(decision.reason, Reason::StartupAdopted);
    assert_eq!(sim.machine.action(), Action::Steer);
    sim.run(secs(9.9), MS100, GREEN, GREEN);
    assert!(sim.switches.is_empty());
    sim.run(secs(0.2), MS100, GREEN, GREEN);
    assert_eq!(sim.switch_times(), vec![10000]);
}

#[test]
fn exit_policy_returns_to_not_steering_by_default() {
    let sim = Sim::new(&config(""));
    assert_eq!(sim.machine.exit_target(), Some(Action::DontSteer));
    let keep = Sim::new(&config("on_exit: keep"));
    assert_eq!(keep.machine.exit_target(), None);
}

#[test]
fn snapshot_reports_state_time_in_state_and_counters() {
    let mut sim = Sim::new(&config(""));
    sim.run(secs(5.0), MS100, RED, GREEN); // enter at 2.0, now 5.0
    let snapshot = sim.machine.snapshot(sim.now);
    assert_eq!(snapshot.state, Action::Steer);
    assert!((snapshot.in_state_secs - 3.0).abs() < 1e-6, "{snapshot:?}");
    assert_eq!(snapshot.transitions, 1);
    assert!((snapshot.hold_down_remaining_secs - 27.0).abs() < 1e-6);
    assert_eq!(
        snapshot.primary,
        Some(WanHealth::Usable {
            state: CongestionState::Red
        })
    );

    let json = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(json["state"], "steering");
    assert_eq!(json["transitions"], 1);
    assert_eq!(json["primary"]["health"], "usable");
    assert_eq!(json["primary"]["state"], "red");
    assert_eq!(json["last_decision"]["reason"], "steady");
    assert_eq!(json["last_decision"]["action"], "steering");
}
