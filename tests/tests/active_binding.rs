//! Probes leave by the WAN they are bound to, whether by device (`SO_BINDTODEVICE`) or by firewall mark
//! (`SO_MARK` + `ip rule`), even though the gateway's preferred route to the reflectors is the other WAN.
//! Checked with counters on both WAN links: nftables counts the echo requests leaving by each, the links'
//! own tx counters confirm the packets went out. An unbound prober is the control that shows the counters
//! do tell the WANs apart.

use std::time::Duration;

use wanctl::probe::active::{ActiveProbeConfig, ActiveProber, ReflectorHealth};
use wanctl_tests::{
    active_topology::{ActiveTopology, addr, ip},
    netns::is_root,
};

const PROBE_FOR: Duration = Duration::from_secs(3);

/// What left by each WAN while one prober ran.
#[derive(Debug)]
struct Run {
    health: ReflectorHealth,
    echo: [u64; 2],
    tx: [u64; 2],
}

fn counters(topology: &ActiveTopology) -> ([u64; 2], [u64; 2]) {
    let devs = ["wan0", "wan1"];
    (
        devs.map(|d| topology.gw_echo_requests(d)),
        devs.map(|d| topology.gw_tx_packets(d)),
    )
}

/// Runs a prober in the gateway for a while; returns its health and the counter deltas on wan0 and wan1.
fn probe_through(topology: &ActiveTopology, config: &ActiveProbeConfig) -> Run {
    let before = counters(topology);
    let health = topology.gw.enter(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let prober = ActiveProber::spawn("wan1", config).expect("start prober");
            tokio::time::sleep(PROBE_FOR).await;
            let health = prober.health();
            prober.shutdown().await;
            health
        })
    });
    let after = counters(topology);
    Run {
        health,
        echo: [0, 1].map(|i| after.0[i] - before.0[i]),
        tx: [0, 1].map(|i| after.1[i] - before.1[i]),
    }
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn probes_leave_through_the_bound_wan_only() {
    assert!(is_root(), "this test needs root");
    let topology = ActiveTopology::new(false);
    topology.count_echo_requests();
    topology
        .gw
        .ip(&["rule", "add", "fwmark", "0x2", "table", "102"]);
    topology.gw.ip(&[
        "route",
        "add",
        "203.0.113.0/24",
        "via",
        "198.51.100.2",
        "dev",
        "wan1",
        "table",
        "102",
    ]);
    let base = ActiveProbeConfig {
        reflectors: vec![ip(addr::REFLECTORS[0]), ip(addr::REFLECTORS[1])],
        rate: 5.0,
        ..ActiveProbeConfig::default()
    };

    let unbound = probe_through(&topology, &base);
    let by_device = probe_through(
        &topology,
        &ActiveProbeConfig {
            device: Some("wan1".into()),
            ..base.clone()
        },
    );
    let by_mark = probe_through(
        &topology,
        &ActiveProbeConfig {
            fwmark: Some(2),
            ..base.clone()
        },
    );
    let by_source = probe_through(
        &topology,
        &ActiveProbeConfig {
            device: Some("wan1".into()),
            source_v4: Some(addr::WAN1.parse().unwrap()),
            ..base.clone()
        },
    );

    let runs = [
        ("unbound", &unbound),
        ("device", &by_device),
        ("fwmark", &by_mark),
        ("device+source", &by_source),
    ];
    for (name, run) in runs {
        eprintln!("{name}: {run:?}");
        let health = &run.health;
        assert!(health.replies >= 10, "{name}: the path works: {health:?}");
        assert_eq!(health.lost, 0, "{name}: {health:?}");
    }
    // The counters are read after the prober stopped, its health snapshot a moment earlier: a probe sent in
    // between is counted on the wire but not in the snapshot. So the chosen WAN carries at least the probes
    // the snapshot counts, and the other WAN carries none at all.
    // Control: unbound probes follow the preferred route.
    assert!(
        unbound.echo[0] >= unbound.health.probes_sent && unbound.echo[1] == 0,
        "unbound: {unbound:?}"
    );
    for (name, run) in &runs[1..] {
        assert!(
            run.echo[0] == 0 && run.echo[1] >= run.health.probes_sent,
            "{name}: every probe left by wan1, none by wan0: {run:?}"
        );
        assert!(
            run.tx[1] >= run.health.probes_sent,
            "{name}: wan1 sent them: {run:?}"
        );
    }
}
