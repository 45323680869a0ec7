//! Reflector health on a real path: a dead reflector is replaced from the spares, a slow one is demoted, and
//! neither leaks samples into what the controller sees afterwards. Runs on raw sockets (the namespace's
//! default `ping_group_range` refuses ICMP datagram sockets).

use std::time::{Duration, Instant};

use wanctl::{
    config::DurationSpec,
    probe::active::{
        ActiveProbeConfig, ActiveProber, ReflectorHealth, ReflectorState, SocketKind,
        reflector_flow,
    },
    signal::RttSample,
};
use wanctl_tests::{
    active_topology::{ActiveTopology, SlowResponder, addr, ip},
    netns::is_root,
};

const SLOW_DELAY: Duration = Duration::from_millis(80);

fn state(health: &ReflectorHealth, a: &str) -> ReflectorState {
    health
        .reflector(ip(a))
        .unwrap_or_else(|| panic!("{a} missing: {health:?}"))
        .state
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn dead_reflector_is_replaced_and_slow_reflector_is_demoted() {
    assert!(is_root(), "this test needs root");
    let topology = ActiveTopology::new(false);
    let responder = SlowResponder::start(&topology, SLOW_DELAY, Duration::from_secs(40));
    let config = ActiveProbeConfig {
        reflectors: vec![ip(addr::REFLECTORS[0]), ip(addr::DEAD), ip(addr::SLOW)],
        spares: vec![ip(addr::REFLECTORS[1]), ip(addr::REFLECTORS[2])],
        rate: 6.0,
        deadline: DurationSpec::from_millis(500),
        offence_window: DurationSpec::from_secs(10),
        offence_threshold: 3,
        comparison_interval: DurationSpec::from_secs(2),
        comparison_min_samples: 4,
        ..ActiveProbeConfig::default()
    };

    let (health, after, took) = topology.gw.enter(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let started = Instant::now();
            let mut prober = ActiveProber::spawn("wan0", &config).expect("start prober");
            let mut health = prober.health();
            while started.elapsed() < Duration::from_secs(25) {
                tokio::time::sleep(Duration::from_millis(250)).await;
                health = prober.health();
                let fast: Vec<_> = addr::REFLECTORS.iter().map(|a| ip(a)).collect();
                let active: Vec<_> = health
                    .reflectors
                    .iter()
                    .filter(|r| r.state == ReflectorState::Active)
                    .map(|r| r.address)
                    .collect();
                if fast.iter().all(|a| active.contains(a)) {
                    break;
                }
            }
            let took = started.elapsed();
            // What the controller sees once health has settled.
            prober.drain();
            tokio::time::sleep(Duration::from_secs(2)).await;
            let after: Vec<RttSample> = prober.drain();
            prober.shutdown().await;
            (health, after, took)
        })
    });
    let answered = responder.stop();
    eprintln!("settled after {took:?}; slow responder answered {answered}; {health:#?}");

    assert!(
        health.sockets.iter().all(|s| s.kind == SocketKind::Raw),
        "{:?}",
        health.sockets
    );
    assert_eq!(
        state(&health, addr::DEAD),
        ReflectorState::Spare,
        "dead reflector replaced"
    );
    assert_eq!(
        state(&health, addr::SLOW),
        ReflectorState::Spare,
        "slow reflector demoted"
    );
    for a in addr::REFLECTORS {
        assert_eq!(state(&health, a), ReflectorState::Active, "{a} active");
    }
    assert!(health.replacements >= 1, "{health:?}");
    assert!(health.demotions >= 1, "{health:?}");
    assert!(answered > 0, "the slow reflector did answer, just late");
    let dead = health.reflector(ip(addr::DEAD)).unwrap();
    assert_eq!(dead.replies, 0);
    assert!(dead.lost >= 3, "{dead:?}");
    let slow = health.reflector(ip(addr::SLOW)).unwrap();
    let slow_baseline = slow.baseline_ms.unwrap();
    assert!(slow_baseline >= SLOW_DELAY.as_secs_f64() * 1e3, "{slow:?}");

    assert!(
        !after.is_empty(),
        "the remaining reflectors keep delivering samples"
    );
    for s in &after {
        assert_ne!(
            s.flow,
            reflector_flow(ip(addr::SLOW)),
            "no samples from the demoted reflector"
        );
        assert_ne!(s.flow, reflector_flow(ip(addr::DEAD)));
        assert!(s.rtt < SLOW_DELAY, "{s:?}");
    }
    let json = serde_json::to_value(&health).unwrap();
    assert_eq!(json["replacements"], health.replacements);
    assert_eq!(json["reflectors"][0]["state"], "active");
}
