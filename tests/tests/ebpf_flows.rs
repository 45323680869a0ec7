//! Many flows at once: the flow map stays within its configured size (LRU), nothing fails, and the long
//! flows keep producing samples while thousands of short flows come and go.

use std::{
    io::Write,
    net::{SocketAddr, TcpListener, TcpStream},
    time::Duration,
};

use wanctl::{
    probe::ebpf::{Framing, ProbeConfig, WanPrograms},
    signal::SampleKind,
};
use wanctl_tests::{
    netns::{Netns, is_root, veth},
    packet::{Segment, flags},
    prog_run::{Harness, pin_to_cpu},
    tcp::{Sender, bulk, monotonic_ns},
};

const SHORT_FLOWS: u32 = 10_000;
const MAP_SIZE: u32 = 4_096;

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn ten_thousand_crafted_flows_never_starve_the_long_flow() {
    assert!(is_root(), "this test needs root");
    pin_to_cpu(0);
    let config = ProbeConfig {
        sample_interval: "0ms".parse().unwrap(),
        max_samples_per_second: 1_000_000,
        max_flows: 16_384,
        ..ProbeConfig::default()
    };
    let mut h = Harness::new(&config, Framing::Ethernet);
    let long = Segment::new("192.0.2.1", 50_000, "198.51.100.1", 443);
    h.egress(&long.clone().flags(flags::SYN).seq(0).ts(1, 0).build());
    let rounds = SHORT_FLOWS / 100;
    // Drained every round, as the control loop drains every cycle: the ring holds 4096 records.
    let mut samples = Vec::new();
    for round in 0..rounds {
        for i in 0..100 {
            let n = round * 100 + i;
            let short = Segment::new(
                "192.0.2.1",
                1024 + (n % 60_000) as u16,
                "203.0.113.9",
                80 + (n / 60_000) as u16,
            );
            h.egress(&short.clone().flags(flags::SYN).ts(n + 10, 0).build());
            h.ingress(
                &short
                    .reversed()
                    .flags(flags::SYN | flags::ACK)
                    .ts(5, n + 10)
                    .build(),
            );
        }
        let tsval = 10 + round;
        h.egress(
            &long
                .clone()
                .seq(1 + round * 100)
                .ts(tsval, 3)
                .payload(100)
                .build(),
        );
        h.ingress(&long.reversed().ts(4, tsval).build());
        samples.extend(h.samples());
    }
    let long_samples = samples
        .iter()
        .filter(|s| s.local_port == 50_000 && s.sample.kind == SampleKind::Upload)
        .count();
    assert_eq!(
        long_samples as u32, rounds,
        "one sample per round for the long flow"
    );
    assert_eq!(
        samples.len() as u32,
        rounds + SHORT_FLOWS,
        "and one handshake per short flow"
    );
    let stats = h.stats();
    assert_eq!(stats.flow_create_failed, 0);
    assert_eq!(stats.flows_created, u64::from(SHORT_FLOWS) + 1);
    assert_eq!(h.programs.flow_count().unwrap(), SHORT_FLOWS as usize + 1);
}

/// 10,000 real TCP connections held open at once next to one long bulk flow, with a map smaller than the
/// number of flows.
#[tokio::test(flavor = "current_thread")]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
async fn ten_thousand_concurrent_connections_beside_a_long_flow() {
    assert!(is_root(), "this test needs root");
    let gw = Netns::new("flows-gw");
    let srv = Netns::new("flows-srv");
    veth(&gw, "wan0", &srv, "srv0");
    gw.ip(&["addr", "add", "192.0.2.1/24", "dev", "wan0"]);
    srv.ip(&["addr", "add", "192.0.2.2/24", "dev", "srv0"]);
    srv.exec_ok(&["sysctl", "-qw", "net.core.somaxconn=16384"]);
    gw.exec_ok(&["sysctl", "-qw", "net.ipv4.ip_local_port_range=20000 60999"]);

    let config = ProbeConfig {
        max_flows: MAP_SIZE,
        ..ProbeConfig::default()
    };
    let mut programs = WanPrograms::load(&config).unwrap();
    gw.enter(|| programs.attach("wan0")).unwrap();
    let mut reader = programs.samples().unwrap();

    let short_server: SocketAddr = "192.0.2.2:8000".parse().unwrap();
    let bulk_server: SocketAddr = "192.0.2.2:5001".parse().unwrap();
    // The server never accepts: established connections wait in a deep accept queue, so this process
    // holds only the client ends (its descriptor limit could not hold both).
    let listener = srv.enter(|| {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&short_server.into()).unwrap();
        socket.listen(16_384).unwrap();
        TcpListener::from(socket)
    });
    let started = monotonic_ns();
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut samples = Vec::new();
    let (transfer, opened) = std::thread::scope(|scope| {
        // The control loop's drain, every 50 ms (bounded: the transfer ends within seconds).
        let drainer = scope.spawn(|| {
            for _ in 0..600 {
                reader.drain_into(&mut samples);
                if done.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            reader.drain_into(&mut samples);
        });
        let long = scope.spawn(|| {
            bulk(
                &gw,
                &srv,
                bulk_server,
                Sender::Client,
                Duration::from_secs(4),
                Duration::from_millis(100),
            )
        });
        let clients = gw.enter(|| {
            let mut held = Vec::with_capacity(SHORT_FLOWS as usize);
            for _ in 0..SHORT_FLOWS {
                let mut conn = TcpStream::connect_timeout(&short_server, Duration::from_secs(5))
                    .expect("connect");
                conn.write_all(b"hello").unwrap();
                held.push(conn);
            }
            held
        });
        let opened = clients.len();
        // While all of them are open: the LRU map is full but never larger than configured.
        let peak = programs.flow_count().unwrap();
        assert!(peak <= MAP_SIZE as usize, "the map holds {peak}");
        assert!(
            peak > MAP_SIZE as usize / 2,
            "the map was under pressure: {peak}"
        );
        let transfer = long.join().unwrap();
        drop(clients);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        drainer.join().unwrap();
        (transfer, opened)
    });
    assert_eq!(opened, SHORT_FLOWS as usize, "every connection succeeded");

    drop(listener);
    let stats = programs.stats().unwrap();
    eprintln!("{stats:?}");
    assert_eq!(stats.flow_create_failed, 0);
    assert!(stats.flows_created > u64::from(SHORT_FLOWS), "{stats:?}");
    assert_eq!(stats.ringbuf_full, 0);

    // The long flow is sampled in every second of its life, churn or not.
    let long: Vec<u64> = samples
        .iter()
        .filter(|s| s.remote == bulk_server && s.local_port == transfer.client_port)
        .map(|s| s.sample.at.as_nanos())
        .collect();
    for second in 0..4u64 {
        let from = started + second * 1_000_000_000;
        let to = from + 1_000_000_000;
        let n = long.iter().filter(|at| (from..to).contains(*at)).count();
        assert!(n >= 3, "second {second}: {n} samples of the long flow");
    }
}
