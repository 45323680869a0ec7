use super::*;
use crate::probe::active::{ReflectorHealth, ReflectorState, ReflectorStatus};

fn cycle(at: Instant, samples: u64) -> CycleReport {
    CycleReport {
        at,
        duration: Duration::from_micros(300),
        overrun: false,
        state: PerDirection {
            download: LinkState::Yellow,
            upload: LinkState::Green,
        },
        rate: PerDirection {
            download: Bandwidth::from_mbit(95),
            upload: Bandwidth::from_mbit(18),
        },
        baseline_rtt: Some(Duration::from_millis(20)),
        load_rtt: Some(Duration::from_millis(32)),
        downstream_delay: Some(Duration::from_millis(4)),
        samples,
        ringbuf_lost: 0,
        shapers: vec![ShaperReport {
            name: "cake:eth0".into(),
            kind: "cake".into(),
            health: ShaperHealth {
                reachable: true,
                last_error: None,
                writes_done: 3,
                writes_skipped: 1,
            },
            write_failures: 0,
        }],
        degraded_reasons: vec![],
    }
}

#[test]
fn health_reports_the_last_cycle_and_turns_degraded_when_stale() {
    let t0 = Instant::now();
    let telemetry = Telemetry::new(t0, Duration::from_secs(2));
    telemetry.register_wan("wan1");
    let before = telemetry.health(t0);
    assert!(!before.is_healthy());
    assert_eq!(
        before.wans[0].degraded_reasons,
        ["no control cycle completed yet"]
    );

    for i in 0..=20 {
        telemetry.record_cycle("wan1", cycle(t0 + Duration::from_millis(50 * i), 5));
    }
    let now = t0 + Duration::from_millis(1010);
    let health = telemetry.health(now);
    assert!(health.is_healthy(), "{health:?}");
    let wan = &health.wans[0];
    assert_eq!(wan.state.download, LinkState::Yellow);
    assert_eq!(wan.rate_bps.download, 95_000_000);
    assert_eq!(wan.baseline_rtt_ms, Some(20.0));
    assert_eq!(wan.delta_rtt_ms.map(|d| d.round()), Some(12.0));
    assert_eq!(wan.downstream_delay_ms, Some(4.0));
    // 20 cycles of 5 samples over 1 s after the window's first cycle (whose samples count too: 105 / 1 s).
    assert_eq!(wan.samples_per_second, 105.0);
    assert_eq!(wan.last_cycle_age_ms, Some(10));
    assert_eq!(wan.router_reachable, None);
    assert_eq!(health.status_line(), "wan1 YELLOW/GREEN 95Mbit/18Mbit");

    let later = telemetry.health(now + Duration::from_secs(3));
    assert!(!later.is_healthy());
    assert_eq!(
        later.wans[0].degraded_reasons,
        ["no control cycle for 3010 ms"]
    );
    assert_eq!(
        later.status_line(),
        "wan1 YELLOW/GREEN 95Mbit/18Mbit (no control cycle for 3010 ms)"
    );
}

#[test]
fn unreachable_router_and_loop_reasons_degrade_one_wan() {
    let t0 = Instant::now();
    let telemetry = Telemetry::new(t0, Duration::from_secs(2));
    telemetry.record_cycle("wan1", cycle(t0, 1));
    let mut report = cycle(t0, 1);
    report.shapers.push(ShaperReport {
        name: "routeros:rb5009".into(),
        kind: "routeros".into(),
        health: ShaperHealth {
            reachable: false,
            last_error: Some("timeout after 2s".into()),
            ..ShaperHealth::default()
        },
        write_failures: 4,
    });
    report.degraded_reasons.push("eBPF probe detached".into());
    telemetry.record_cycle("wan2", report);
    telemetry.record_steering(SteeringReport {
        state: "WAN1_GOOD".into(),
        roles: vec![
            ("wan1".into(), "primary".into()),
            ("wan2".into(), "alternate".into()),
        ],
        transitions: 0,
        ..SteeringReport::default()
    });
    let health = telemetry.health(t0);
    assert_eq!(health.status, "degraded");
    assert_eq!(health.steering_state.as_deref(), Some("WAN1_GOOD"));
    assert_eq!(
        (
            health.wans[0].status.as_str(),
            health.wans[0].steering.as_deref()
        ),
        ("healthy", Some("primary"))
    );
    let wan2 = &health.wans[1];
    assert_eq!(wan2.router_reachable, Some(false));
    assert_eq!(
        wan2.degraded_reasons,
        [
            "shaper routeros:rb5009 unreachable: timeout after 2s",
            "eBPF probe detached"
        ]
    );
    // The JSON round-trips, which `wanctl status` relies on.
    let json = serde_json::to_string(&health).unwrap();
    assert_eq!(serde_json::from_str::<HealthReport>(&json).unwrap(), health);
}

#[test]
fn metrics_follow_prometheus_naming_and_count_increments() {
    let t0 = Instant::now();
    let telemetry = Telemetry::new(t0, Duration::from_secs(2));
    let mut report = cycle(t0, 7);
    report.ringbuf_lost = 2;
    report.overrun = true;
    telemetry.record_cycle("wan1", report.clone());
    report.shapers[0].health.writes_done = 5;
    report.shapers[0].write_failures = 1;
    telemetry.record_cycle("wan1", report);
    telemetry.record_steering(SteeringReport {
        state: "A".into(),
        roles: vec![],
        transitions: 1,
        ..SteeringReport::default()
    });
    telemetry.record_steering(SteeringReport {
        state: "B".into(),
        roles: vec![],
        transitions: 2,
        ..SteeringReport::default()
    });
    let text = telemetry.encode_metrics();
    for line in [
        "wanctl_target_rate_bits_per_second{wan=\"wan1\",direction=\"download\"} 95000000",
        "wanctl_congestion_state{wan=\"wan1\",direction=\"download\",state=\"YELLOW\"} 1",
        "wanctl_congestion_state{wan=\"wan1\",direction=\"download\",state=\"GREEN\"} 0",
        "wanctl_congestion_level{wan=\"wan1\",direction=\"upload\"} 0",
        "wanctl_rtt_baseline_seconds{wan=\"wan1\"} 0.02",
        "wanctl_rtt_load_seconds{wan=\"wan1\"} 0.032",
        "wanctl_rtt_samples_total{wan=\"wan1\"} 14",
        "wanctl_ringbuf_lost_events_total{wan=\"wan1\"} 4",
        "wanctl_cycles_total{wan=\"wan1\"} 2",
        "wanctl_cycle_overruns_total{wan=\"wan1\"} 2",
        "wanctl_cycle_duration_seconds_count{wan=\"wan1\"} 2",
        "wanctl_shaper_writes_total{wan=\"wan1\",shaper=\"cake:eth0\",kind=\"cake\"} 5",
        "wanctl_shaper_write_failures_total{wan=\"wan1\",shaper=\"cake:eth0\",kind=\"cake\"} 1",
        "wanctl_shaper_reachable{wan=\"wan1\",shaper=\"cake:eth0\",kind=\"cake\"} 1",
        "wanctl_steering_state{state=\"A\"} 0",
        "wanctl_steering_state{state=\"B\"} 1",
        "wanctl_steering_transitions_total 2",
        "# TYPE wanctl_cycle_duration_seconds histogram",
        "# UNIT wanctl_rtt_delta_seconds seconds",
        "wanctl_downstream_delay_seconds{wan=\"wan1\"} 0.004",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(text.ends_with("# EOF\n"));
}

fn reflectors(
    sent: u64,
    lost: u64,
    replacements: u64,
    states: [ReflectorState; 2],
) -> ReflectorHealth {
    let status = |address: &str, state| ReflectorStatus {
        address: address.parse().unwrap(),
        state,
        baseline_ms: Some(20.0),
        delta_ms: 0.5,
        last_rtt_ms: Some(21.0),
        offences: 0,
        sent: sent / 2,
        replies: (sent - lost) / 2,
        lost: lost / 2,
    };
    ReflectorHealth {
        reflectors: vec![
            status("198.51.100.10", states[0]),
            status("203.0.113.7", states[1]),
        ],
        probes_sent: sent,
        replies: sent - lost,
        lost,
        replacements,
        ..ReflectorHealth::default()
    }
}

#[test]
fn active_probe_health_reaches_health_and_metrics() {
    use crate::probe::active::ReflectorState::{Active, Spare, Unresponsive};
    let start = Instant::now();
    let telemetry = Telemetry::new(start, Duration::from_secs(2));
    telemetry.record_cycle("wan1", cycle(start, 4));
    telemetry.record_reflectors("wan1", reflectors(10, 2, 0, [Active, Spare]));
    telemetry.record_reflectors("wan1", reflectors(30, 4, 1, [Active, Spare]));
    let wan = &telemetry.health(start).wans[0];
    assert_eq!(wan.status, "healthy", "{wan:?}");
    let active = wan.active_probes.as_ref().unwrap();
    assert_eq!(active["probes_sent"], 30);
    assert_eq!(active["reflectors"][1]["state"], "spare");

    let text = telemetry.encode_metrics();
    for line in [
        "wanctl_active_probes_sent_total{wan=\"wan1\"} 30",
        "wanctl_active_probes_lost_total{wan=\"wan1\"} 4",
        "wanctl_reflector_replacements_total{wan=\"wan1\"} 1",
        "wanctl_reflector_state{wan=\"wan1\",reflector=\"198.51.100.10\",state=\"active\"} 1",
        "wanctl_reflector_state{wan=\"wan1\",reflector=\"203.0.113.7\",state=\"spare\"} 1",
        "wanctl_reflector_state{wan=\"wan1\",reflector=\"203.0.113.7\",state=\"active\"} 0",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }

    // Probes going out with no reflector answering degrades the WAN and says why.
    telemetry.record_reflectors("wan1", reflectors(40, 14, 1, [Unresponsive, Spare]));
    let wan = &telemetry.health(start).wans[0];
    assert_eq!(wan.status, "degraded");
    assert!(
        wan.degraded_reasons
            .iter()
            .any(|r| r.contains("none of 1 probed reflectors answers")),
        "{wan:?}"
    );
}
