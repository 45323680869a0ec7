//! The embedded eBPF object loads into the host kernel, attaches to a veth inside a namespace, produces RTT
//! samples from real TCP packets (and none while detached), passes every packet on, and leaves nothing
//! attached after it is dropped.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
};

use wanctl::{
    probe::ebpf::{AttachMode, ProbeConfig, WanPrograms},
    signal::SampleKind,
};
use wanctl_tests::{
    netns::{Netns, is_root, veth},
    tc::filters_mentioning_wanctl,
};

const EXCHANGES: usize = 20;

/// Opens a TCP connection from the gateway to the peer and does request/response round trips. Returns
/// how many completed.
fn tcp_round_trips(gw: &Netns, isp: &Netns) -> usize {
    let listener = isp.enter(|| TcpListener::bind("192.0.2.2:8080").unwrap());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 100];
            while conn.read_exact(&mut buf).is_ok() {
                conn.write_all(&buf).unwrap();
            }
        });
        gw.enter(|| {
            let mut conn = TcpStream::connect("192.0.2.2:8080").unwrap();
            conn.set_nodelay(true).unwrap();
            let mut buf = [0u8; 100];
            (0..EXCHANGES)
                .filter(|_| {
                    conn.write_all(&[0x5a; 100]).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    conn.read_exact(&mut buf).is_ok()
                })
                .count()
        })
    })
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
async fn embedded_programs_report_real_packets_only_while_attached() {
    assert!(is_root(), "this test needs root");
    let gw = Netns::new("gw");
    let isp = Netns::new("isp");
    veth(&gw, "wan0", &isp, "isp0");
    gw.ip(&["addr", "add", "192.0.2.1/24", "dev", "wan0"]);
    isp.ip(&["addr", "add", "192.0.2.2/24", "dev", "isp0"]);

    let config = ProbeConfig {
        sample_interval: "0ms".parse().unwrap(),
        ..ProbeConfig::default()
    };
    let mut programs = WanPrograms::load(&config).expect("load embedded eBPF object");
    let mut reader = programs.samples().unwrap();

    assert_eq!(
        tcp_round_trips(&gw, &isp),
        EXCHANGES,
        "TCP works before attaching"
    );
    assert!(
        reader.drain().is_empty(),
        "no samples before the programs are attached"
    );
    assert_eq!(programs.stats().unwrap().upload.packets, 0);

    gw.enter(|| programs.attach("wan0"))
        .expect("attach to wan0");
    assert_eq!(
        filters_mentioning_wanctl(&gw, "wan0").lines().count(),
        2,
        "one program per hook"
    );
    assert_eq!(
        tcp_round_trips(&gw, &isp),
        EXCHANGES,
        "the programs must not drop or alter traffic"
    );
    let samples = reader.drain();
    let handshakes = samples
        .iter()
        .filter(|s| s.sample.kind == SampleKind::Handshake)
        .count();
    let uploads = samples
        .iter()
        .filter(|s| s.sample.kind == SampleKind::Upload)
        .count();
    assert_eq!(handshakes, 1, "{samples:?}");
    assert!(
        uploads >= EXCHANGES / 2,
        "upload samples: {uploads}: {samples:?}"
    );
    assert!(
        samples.windows(2).all(|w| w[0].sample.at <= w[1].sample.at),
        "timestamps are monotonic"
    );
    for s in &samples {
        assert_eq!(s.remote, "192.0.2.2:8080".parse().unwrap());
    }

    let stats = programs.stats().unwrap();
    assert!(stats.upload.tcp_packets >= EXCHANGES as u64, "{stats:?}");
    assert!(stats.download.tcp_packets >= EXCHANGES as u64, "{stats:?}");
    assert!(stats.upload.bytes >= (EXCHANGES * 100) as u64, "{stats:?}");
    assert_eq!(stats.samples_emitted, samples.len() as u64);
    assert_eq!(stats.malformed, 0);

    drop(reader);
    drop(programs);
    assert_eq!(
        filters_mentioning_wanctl(&gw, "wan0"),
        "",
        "nothing left attached"
    );
}

/// A run killed while using clsact filters leaves them in the kernel; the next attach replaces them.
#[tokio::test(flavor = "current_thread")]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
async fn stale_clsact_filters_are_replaced_not_duplicated() {
    assert!(is_root(), "this test needs root");
    let gw = Netns::new("gw");
    let isp = Netns::new("isp");
    veth(&gw, "wan0", &isp, "isp0");
    gw.ip(&["addr", "add", "192.0.2.1/24", "dev", "wan0"]);
    isp.ip(&["addr", "add", "192.0.2.2/24", "dev", "isp0"]);
    let mut killed = WanPrograms::load(&ProbeConfig::default()).unwrap();
    gw.enter(|| killed.attach_with_mode("wan0", AttachMode::Clsact))
        .unwrap();
    // Simulates SIGKILL: no destructor runs, the filters stay in the kernel.
    std::mem::forget(killed);
    assert_eq!(filters_mentioning_wanctl(&gw, "wan0").lines().count(), 2);

    let mut programs = WanPrograms::load(&ProbeConfig::default()).unwrap();
    gw.enter(|| programs.attach_with_mode("wan0", AttachMode::Clsact))
        .unwrap();
    assert_eq!(
        filters_mentioning_wanctl(&gw, "wan0").lines().count(),
        2,
        "replaced, not duplicated: {}",
        filters_mentioning_wanctl(&gw, "wan0")
    );
    // The clsact path measures like the TCX path.
    let mut reader = programs.samples().unwrap();
    assert_eq!(tcp_round_trips(&gw, &isp), EXCHANGES);
    let samples = reader.drain();
    assert!(
        samples
            .iter()
            .any(|s| s.sample.kind == SampleKind::Handshake),
        "{samples:?}"
    );
    assert!(programs.stats().unwrap().download.tcp_packets >= EXCHANGES as u64);
    drop(reader);
    gw.enter(|| drop(programs));
    assert_eq!(filters_mentioning_wanctl(&gw, "wan0"), "", "clean detach");
}

/// Packets the `ifb0` device has transmitted (what the ingress mirred redirect delivered to it).
fn ifb_tx_packets(ns: &Netns) -> u64 {
    let out = ns.exec_ok(&["cat", "/sys/class/net/ifb0/statistics/tx_packets"]);
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("tx_packets: {out}"))
}

/// The ingress program returns TC_ACT_UNSPEC: the legacy mirred redirect to an IFB (how ingress shaping is
/// done) still sees every packet after it.
#[tokio::test(flavor = "current_thread")]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
async fn ingress_redirect_to_ifb_still_runs_after_the_programs() {
    assert!(is_root(), "this test needs root");
    let gw = Netns::new("gw");
    let isp = Netns::new("isp");
    veth(&gw, "wan0", &isp, "isp0");
    gw.ip(&["addr", "add", "192.0.2.1/24", "dev", "wan0"]);
    isp.ip(&["addr", "add", "192.0.2.2/24", "dev", "isp0"]);
    gw.ip(&["link", "add", "ifb0", "type", "ifb"]);
    gw.ip(&["link", "set", "ifb0", "up"]);
    gw.exec_ok(&["tc", "qdisc", "add", "dev", "wan0", "clsact"]);
    gw.exec_ok(&[
        "tc", "filter", "add", "dev", "wan0", "ingress", "protocol", "all", "u32", "match", "u32",
        "0", "0", "action", "mirred", "egress", "redirect", "dev", "ifb0",
    ]);

    let mut programs = WanPrograms::load(&ProbeConfig::default()).unwrap();
    gw.enter(|| programs.attach("wan0")).unwrap();
    let before = ifb_tx_packets(&gw);
    assert_eq!(tcp_round_trips(&gw, &isp), EXCHANGES);
    let redirected = ifb_tx_packets(&gw) - before;
    let seen = programs.stats().unwrap().download.packets;
    assert!(
        redirected >= seen && seen >= EXCHANGES as u64,
        "every ingress packet our program saw went on to the IFB: saw {seen}, redirected {redirected}"
    );
}
