//! Raw-socket probing (the namespace's default `ping_group_range` refuses ICMP datagram sockets) over IPv4
//! and IPv6, with other ICMP traffic on the host: another pinger's echo replies reach a raw socket too and
//! must be ignored and counted, never taken as samples; echo requests towards the gateway are filtered out
//! in the kernel.

use std::time::Duration;

use wanctl::{
    probe::active::{ActiveProbeConfig, ActiveProber, Family, SocketKind, reflector_flow},
    signal::RttSample,
};
use wanctl_tests::{
    active_topology::{ActiveTopology, addr, foreign_pings, ip},
    netns::is_root,
};

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn raw_sockets_ignore_other_pingers_and_count_them() {
    assert!(is_root(), "this test needs root");
    let topology = ActiveTopology::new(true);
    let v4 = ip(addr::REFLECTORS[0]);
    let v6 = ip(addr::REFLECTOR_V6);
    let config = ActiveProbeConfig {
        reflectors: vec![v4, v6],
        rate: 5.0,
        ..ActiveProbeConfig::default()
    };

    let (samples, health) = topology.gw.enter(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut prober = ActiveProber::spawn("wan0", &config).expect("start prober");
            tokio::time::sleep(Duration::from_millis(500)).await;
            // Another pinger on the gateway (same reflectors, its own identifier), and a host pinging the
            // gateway itself.
            let others = [
                foreign_pings(&topology.gw, v4, 0x7777, 20),
                foreign_pings(&topology.gw, v6, 0x7777, 20),
                foreign_pings(&topology.refl, ip(addr::WAN0), 0x6666, 20),
            ];
            tokio::time::sleep(Duration::from_secs(3)).await;
            for other in others {
                tokio::task::spawn_blocking(move || other.join().unwrap())
                    .await
                    .unwrap();
            }
            let samples: Vec<RttSample> = prober.drain();
            let health = prober.health();
            prober.shutdown().await;
            (samples, health)
        })
    });
    eprintln!("{} samples; {health:#?}", samples.len());

    assert_eq!(health.sockets.len(), 2);
    assert!(
        health.sockets.iter().all(|s| s.kind == SocketKind::Raw),
        "{:?}",
        health.sockets
    );
    assert!(health.sockets.iter().any(|s| s.family == Family::V6));
    for reflector in [v4, v6] {
        let status = health.reflector(reflector).unwrap();
        assert!(
            status.replies >= 5,
            "{reflector} answered over a raw socket: {status:?}"
        );
        assert!(samples.iter().any(|s| s.flow == reflector_flow(reflector)));
    }
    assert_eq!(
        samples.len() as u64,
        health.replies,
        "exactly one sample per reply of ours"
    );
    assert!(
        health.ignored.foreign >= 30,
        "the other pinger's 40 replies are seen and ignored: {:?}",
        health.ignored
    );
    assert_eq!(
        health.ignored.not_reply, 0,
        "echo requests never reach user space"
    );
    assert_eq!(health.lost, 0);
}
