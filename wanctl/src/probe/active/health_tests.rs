use super::*;

const A: &str = "192.0.2.1";
const B: &str = "192.0.2.2";
const C: &str = "192.0.2.3";
const S1: &str = "198.51.100.1";
const S2: &str = "198.51.100.2";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn secs(s: f64) -> Timestamp {
    Timestamp::from_secs_f64(s)
}

fn params() -> HealthParams {
    HealthParams {
        offence_window: Duration::from_secs(60),
        offence_threshold: 3,
        comparison_interval: Duration::from_secs(30),
        comparison_min_samples: 5,
        baseline_margin: Duration::from_millis(20),
        delta_margin: Duration::from_millis(10),
    }
}

fn set(active: &[&str], spares: &[&str]) -> ReflectorSet {
    let a: Vec<IpAddr> = active.iter().map(|s| ip(s)).collect();
    let s: Vec<IpAddr> = spares.iter().map(|s| ip(s)).collect();
    ReflectorSet::new(params(), &a, &s)
}

/// Feeds `n` replies per reflector, with the RTT each reflector gets from `rtt_ms`.
fn feed(set: &mut ReflectorSet, n: usize, rtt_ms: impl Fn(IpAddr, usize) -> f64) {
    for i in 0..n {
        for addr in set.active().to_vec() {
            set.record_reply(addr, Duration::from_secs_f64(rtt_ms(addr, i) / 1e3));
        }
    }
}

fn state(set: &mut ReflectorSet, addr: &str) -> ReflectorState {
    set.snapshot(secs(0.0)).reflector(ip(addr)).unwrap().state
}

#[test]
fn round_robin_covers_every_active_reflector_and_counts_sends() {
    let mut s = set(&[A, B, C], &[S1]);
    let order: Vec<IpAddr> = (0..6).filter_map(|_| s.next_target()).collect();
    assert_eq!(order, [A, B, C, A, B, C].map(ip));
    let health = s.snapshot(secs(0.0));
    assert_eq!(health.probes_sent, 6);
    assert_eq!(
        health.reflector(ip(S1)).unwrap().sent,
        0,
        "spares are not probed"
    );
}

#[test]
fn dead_reflector_is_replaced_by_the_first_spare_and_queued_last() {
    let mut s = set(&[A, B], &[S1, S2]);
    s.evaluate(secs(0.0));
    for t in [10.0, 11.0] {
        s.record_loss(ip(A), secs(t));
        assert!(s.evaluate(secs(t)).is_empty(), "two offences are tolerated");
    }
    s.record_loss(ip(A), secs(12.0));
    let events = s.evaluate(secs(12.0));
    assert_eq!(
        events,
        [HealthEvent::Replaced {
            old: ip(A),
            new: ip(S1),
            fault: Fault::Unresponsive { offences: 3 }
        }]
    );
    assert_eq!(s.active(), [ip(S1), ip(B)]);
    let health = s.snapshot(secs(12.0));
    assert_eq!(health.replacements, 1);
    assert_eq!(health.lost, 3);
    let order: Vec<IpAddr> = health.reflectors.iter().map(|r| r.address).collect();
    assert_eq!(
        order,
        [S1, B, S2, A].map(ip),
        "the dead reflector waits behind the other spare"
    );
    assert_eq!(
        health.reflector(ip(A)).unwrap().state,
        ReflectorState::Spare
    );
    assert_eq!(health.reflector(ip(A)).unwrap().offences, 0);
}

#[test]
fn offences_spread_wider_than_the_window_are_tolerated() {
    let mut s = set(&[A], &[S1]);
    for t in [0.0, 40.0, 80.0, 120.0] {
        s.record_loss(ip(A), secs(t));
        let events = s.evaluate(secs(t));
        assert!(
            events
                .iter()
                .all(|e| !matches!(e, HealthEvent::Replaced { .. })),
            "{t}: {events:?}"
        );
    }
    assert_eq!(s.active(), [ip(A)]);
}

#[test]
fn without_spares_a_dead_reflector_is_marked_and_recovers_when_offences_age_out() {
    let mut s = set(&[A, B], &[]);
    for t in [1.0, 2.0, 3.0] {
        s.record_loss(ip(A), secs(t));
    }
    let events = s.evaluate(secs(3.0));
    assert!(matches!(events[0], HealthEvent::Withheld { reflector, .. } if reflector == ip(A)));
    assert_eq!(state(&mut s, A), ReflectorState::Unresponsive);
    assert!(
        s.evaluate(secs(4.0)).is_empty(),
        "reported once, not at every evaluation"
    );
    assert_eq!(s.snapshot(secs(4.0)).replacements, 1);
    assert_eq!(
        s.active(),
        [ip(A), ip(B)],
        "it stays probed so recovery can be seen"
    );
    let events = s.evaluate(secs(70.0));
    assert!(
        events.contains(&HealthEvent::Restored { reflector: ip(A) }),
        "{events:?}"
    );
    assert_eq!(state(&mut s, A), ReflectorState::Active);
}

#[test]
fn slow_reflector_is_demoted_at_the_comparison_once_it_has_enough_samples() {
    let mut s = set(&[A, B, C], &[S1]);
    let rtt = |a: IpAddr, _| if a == ip(C) { 65.0 } else { 10.0 };
    s.evaluate(secs(0.0));
    feed(&mut s, 4, rtt);
    assert!(
        s.evaluate(secs(30.0)).is_empty(),
        "four samples are too few to judge"
    );
    feed(&mut s, 1, rtt);
    assert!(
        s.evaluate(secs(40.0)).is_empty(),
        "the next comparison is not due yet"
    );
    let events = s.evaluate(secs(60.0));
    let [
        HealthEvent::Replaced {
            old,
            new,
            fault: Fault::SlowBaseline { excess },
        },
    ] = events[..]
    else {
        panic!("expected a demotion: {events:?}");
    };
    assert_eq!((old, new), (ip(C), ip(S1)));
    assert!((excess.as_secs_f64() - 0.055).abs() < 1e-3, "{excess:?}");
    assert_eq!(s.snapshot(secs(60.0)).demotions, 1);
}

#[test]
fn shared_load_demotes_nobody() {
    let mut s = set(&[A, B, C], &[S1]);
    s.evaluate(secs(0.0));
    // Idle, then all three see the same 150 ms of queueing: that is real bloat, nobody is at fault.
    feed(&mut s, 10, |_, _| 20.0);
    feed(&mut s, 30, |_, _| 170.0);
    assert!(s.evaluate(secs(30.0)).is_empty());
}

#[test]
fn a_reflector_that_fakes_bloat_is_demoted() {
    let mut s = set(&[A, B, C], &[S1]);
    s.evaluate(secs(0.0));
    feed(&mut s, 10, |_, _| 20.0);
    // B alone answers late three times out of four (e.g. it rate-limits ICMP): its baseline stays low,
    // its delta says "bloat" while the others say idle.
    feed(&mut s, 40, |a, i| {
        if a == ip(B) && i % 4 != 0 {
            100.0
        } else {
            20.0
        }
    });
    let events = s.evaluate(secs(30.0));
    assert!(
        matches!(events[..], [HealthEvent::Replaced { old, fault: Fault::DeltaOutlier { deviation_ms }, .. }]
            if old == ip(B) && deviation_ms > 10.0),
        "{events:?}"
    );
}

#[test]
fn a_reflector_that_hides_bloat_is_demoted() {
    let mut s = set(&[A, B, C], &[S1]);
    s.evaluate(secs(0.0));
    feed(&mut s, 10, |_, _| 20.0);
    // Under load, A keeps answering at its baseline (e.g. it sits before the bottleneck).
    feed(&mut s, 15, |a, _| if a == ip(A) { 20.0 } else { 120.0 });
    let events = s.evaluate(secs(30.0));
    assert!(
        matches!(events[..], [HealthEvent::Replaced { old, fault: Fault::DeltaOutlier { deviation_ms }, .. }]
            if old == ip(A) && deviation_ms < -10.0),
        "{events:?}"
    );
}

#[test]
fn two_reflectors_that_disagree_on_delta_are_left_alone() {
    let mut s = set(&[A, B], &[S1]);
    s.evaluate(secs(0.0));
    feed(&mut s, 10, |_, _| 20.0);
    feed(&mut s, 20, |a, _| if a == ip(A) { 20.0 } else { 120.0 });
    assert!(
        s.evaluate(secs(30.0)).is_empty(),
        "nothing says which of two is wrong"
    );
}

#[test]
fn an_outlier_without_spares_is_withheld_until_it_agrees_again() {
    let mut s = set(&[A, B, C], &[]);
    s.evaluate(secs(0.0));
    feed(&mut s, 10, |a, _| if a == ip(C) { 60.0 } else { 10.0 });
    let events = s.evaluate(secs(30.0));
    assert!(matches!(events[..], [HealthEvent::Withheld { reflector, .. }] if reflector == ip(C)));
    assert!(
        !s.record_reply(ip(C), Duration::from_millis(60)),
        "its samples are withheld"
    );
    assert!(
        s.evaluate(secs(60.0)).is_empty(),
        "still an outlier: nothing new to report"
    );
    assert_eq!(s.snapshot(secs(60.0)).demotions, 1);
    assert!(
        s.record_reply(ip(A), Duration::from_millis(10)),
        "the others' are used"
    );
    // Its path gets fast again: the baseline follows the minimum within a few replies.
    feed(&mut s, 5, |_, _| 10.0);
    let events = s.evaluate(secs(90.0));
    assert_eq!(events, [HealthEvent::Restored { reflector: ip(C) }]);
    assert!(s.record_reply(ip(C), Duration::from_millis(10)));
}
