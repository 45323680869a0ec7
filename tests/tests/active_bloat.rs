//! Active probes through a saturated TBF bottleneck measure the queueing delay the TCP flow itself sees, over
//! IPv4 and IPv6, on unprivileged ICMP datagram sockets, with timestamps on CLOCK_MONOTONIC.

use std::time::Duration;

use wanctl::{
    probe::active::{ActiveProbeConfig, ActiveProber, Family, SocketKind, reflector_flow},
    signal::{RttSample, SampleKind},
};
use wanctl_tests::{
    active_topology::{ActiveTopology, addr, bulk_download, ip, monotonic_nanos},
    netns::is_root,
};

fn median_ms(samples: &[RttSample]) -> f64 {
    let mut ms: Vec<f64> = samples.iter().map(|s| s.rtt.as_secs_f64() * 1e3).collect();
    assert!(!ms.is_empty(), "no samples");
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

async fn collect(prober: &mut ActiveProber, during: Duration) -> Vec<RttSample> {
    tokio::time::sleep(during).await;
    prober.drain()
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn probes_measure_the_delay_added_by_a_saturated_bottleneck() {
    assert!(is_root(), "this test needs root");
    let topology = ActiveTopology::new(true);
    topology.add_bottleneck("10mbit", "300ms");
    topology.allow_ping_sockets();
    let config = ActiveProbeConfig {
        reflectors: vec![
            ip(addr::REFLECTORS[0]),
            ip(addr::REFLECTORS[1]),
            ip(addr::REFLECTOR_V6),
        ],
        rate: 6.0,
        ..ActiveProbeConfig::default()
    };

    let (idle, loaded, health, start, end) = topology.gw.enter(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let start = monotonic_nanos();
            let mut prober = ActiveProber::spawn("wan0", &config).expect("start prober");
            let idle = collect(&mut prober, Duration::from_secs(3)).await;
            let load = bulk_download(&topology, Duration::from_secs(2), Duration::from_secs(6));
            // Let CUBIC fill the queue, then measure while it stays full.
            let _ = collect(&mut prober, Duration::from_millis(2500)).await;
            let loaded = collect(&mut prober, Duration::from_secs(3)).await;
            let srtt = tokio::task::spawn_blocking(move || load.join().unwrap())
                .await
                .unwrap();
            let health = prober.health();
            prober.shutdown().await;
            (idle, (loaded, srtt), health, start, monotonic_nanos())
        })
    });
    let (loaded, tcp_srtt) = loaded;

    assert!(
        health
            .sockets
            .iter()
            .all(|s| s.kind == SocketKind::Datagram),
        "{health:?}"
    );
    assert_eq!(health.sockets.len(), 2, "one socket per family");
    for s in idle.iter().chain(&loaded) {
        assert_eq!(s.kind, SampleKind::Active);
        let at = s.at.as_nanos();
        assert!(start <= at && at <= end, "timestamps are CLOCK_MONOTONIC");
    }
    let v6_flow = reflector_flow(ip(addr::REFLECTOR_V6));
    assert!(
        idle.iter().any(|s| s.flow == v6_flow),
        "the IPv6 reflector answers: {health:#?}"
    );
    assert!(health.sockets.iter().any(|s| s.family == Family::V6));

    let idle_ms = median_ms(&idle);
    let loaded_ms = median_ms(&loaded);
    let mut tcp = tcp_srtt.clone();
    tcp.sort_by(f64::total_cmp);
    let tcp_ms = tcp[tcp.len() / 2];
    eprintln!(
        "idle probe median {idle_ms:.2} ms ({} samples), loaded probe median {loaded_ms:.2} ms ({} samples), \
         TCP srtt median {tcp_ms:.2} ms, loss {:.3}",
        idle.len(),
        loaded.len(),
        health.loss_ratio()
    );
    let tcp_added = tcp_ms - idle_ms;
    assert!(
        tcp_added > 50.0,
        "the load must build a queue for the test to mean anything: {tcp_ms} ms"
    );
    // The probes share the bottleneck queue with the flow's data, so they see most of its queueing delay.
    let probe_added = loaded_ms - idle_ms;
    assert!(
        probe_added > 0.5 * tcp_added,
        "probes saw {probe_added:.1} ms of the {tcp_added:.1} ms the TCP flow saw"
    );
    // A 300 ms queue stays well within the 1 s deadline; a rare straggler on a busy machine is tolerated.
    assert!(health.loss_ratio() < 0.1, "{health:?}");
}
