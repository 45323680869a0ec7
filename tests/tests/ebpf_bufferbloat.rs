//! Live, on the host kernel: CUBIC bulk transfers through a deep TBF FIFO, once uploading and once
//! downloading through the gateway's WAN veth. wanctl's samples must agree with the sender's own
//! `TCP_INFO` RTT and rise with the queue, and the one-way delay from the peer's timestamps must put the
//! queue in the direction that has it.

use std::{net::SocketAddr, time::Duration};

use wanctl::{
    probe::ebpf::{ProbeConfig, ProbeSample, WanPrograms},
    signal::{DownstreamDelay, SampleKind},
};
use wanctl_tests::{
    netns::is_root,
    tcp::{Sender, bulk},
    topology::{Bottleneck, Bufferbloat, SERVER_V4, WAN_IF},
};

const TRANSFER: Duration = Duration::from_secs(6);
/// The comparison window: the last seconds of the transfer, when the queue is standing.
const WINDOW: Duration = Duration::from_secs(3);

fn median(mut values: Vec<Duration>) -> Duration {
    assert!(!values.is_empty(), "median of nothing");
    values.sort();
    values[values.len() / 2]
}

fn run(sender: Sender, kind: SampleKind, port: u16) {
    assert!(is_root(), "this test needs root");
    let lab = Bufferbloat::new("bloat", &Bottleneck::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let mut programs = WanPrograms::load(&ProbeConfig::default()).unwrap();
    lab.gateway.enter(|| programs.attach(WAN_IF)).unwrap();
    let mut reader = programs.samples().unwrap();

    let server: SocketAddr = format!("{SERVER_V4}:{port}").parse().unwrap();
    let transfer = bulk(
        &lab.gateway,
        &lab.server,
        server,
        sender,
        TRANSFER,
        Duration::from_millis(50),
    );
    let samples: Vec<ProbeSample> = reader
        .drain()
        .into_iter()
        .filter(|s| s.remote == server && s.local_port == transfer.client_port)
        .collect();
    let stats = programs.stats().unwrap();
    assert!(transfer.bytes > 1_000_000, "the transfer ran: {transfer:?}");
    assert_eq!(stats.ringbuf_full, 0, "{stats:?}");

    let end = transfer.sender_rtt.last().expect("RTT trace").0;
    let start = end - WINDOW.as_nanos() as u64;
    let kernel = median(
        transfer
            .sender_rtt
            .iter()
            .filter(|(at, _)| *at >= start)
            .map(|(_, rtt)| *rtt)
            .collect(),
    );
    let ours: Vec<Duration> = samples
        .iter()
        .filter(|s| s.sample.kind == kind && s.sample.at.as_nanos() >= start)
        .map(|s| s.sample.rtt)
        .collect();
    assert!(
        ours.len() >= 10,
        "{kind:?} samples in the window: {}; all: {samples:?}; {stats:?}",
        ours.len()
    );
    let ours = median(ours);
    let tolerance = (kernel / 10).max(Duration::from_millis(2));
    eprintln!(
        "{kind:?}: wanctl median {ours:?}, TCP_INFO median {kernel:?}, tolerance {tolerance:?}; {stats:?}"
    );
    assert!(
        ours.abs_diff(kernel) <= tolerance,
        "wanctl {ours:?} vs tcpi_rtt {kernel:?} (tolerance {tolerance:?})"
    );

    // Loss at the bottleneck shows up as retransmissions in the sender's direction.
    let bottleneck = if sender == Sender::Client {
        "r-srv"
    } else {
        "r-gw"
    };
    let qdisc = lab.router_qdisc_stats(bottleneck);
    let dropped: u64 = qdisc
        .split("dropped ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("tc -s qdisc shows drops");
    let retransmits = if sender == Sender::Client {
        stats.upload.tcp_retransmits
    } else {
        stats.download.tcp_retransmits
    };
    eprintln!("TBF dropped {dropped}, retransmissions seen {retransmits}");
    assert_eq!(dropped > 0, retransmits > 0, "{qdisc}");

    // The queue builds: the standing RTT is far above the path's base RTT, seen at the handshake.
    let handshake = samples
        .iter()
        .find(|s| s.sample.kind == SampleKind::Handshake)
        .expect("a handshake sample")
        .sample
        .rtt;
    assert!(
        ours > Duration::from_millis(30) && ours > handshake * 10,
        "RTT must rise with the queue: handshake {handshake:?}, standing {ours:?}"
    );

    // The queue towards us, from the server's TSvals, replayed in 50 ms cycles as the daemon would.
    let downstream = downstream_delays(&samples, start);
    let queue_ms = (ours - handshake).as_secs_f64() * 1e3;
    eprintln!("downstream delay median {downstream:.1} ms, RTT's queue {queue_ms:.1} ms");
    if sender == Sender::Client {
        assert!(
            downstream < 5.0,
            "the upload's queue is not towards us: {downstream} ms"
        );
    } else {
        assert!(
            (downstream - queue_ms).abs() <= (queue_ms / 5.0).max(3.0),
            "the download's queue is towards us: {downstream} ms against {queue_ms} ms"
        );
    }
}

/// Median of the per-cycle downstream delay over the cycles ending after `from_ns`.
fn downstream_delays(samples: &[ProbeSample], from_ns: u64) -> f64 {
    let mut delay = DownstreamDelay::new(16);
    let mut values = Vec::new();
    let mut cycle = Vec::new();
    let Some(first) = samples.first() else {
        panic!("no samples");
    };
    let mut end = first.sample.at.as_nanos() + 50_000_000;
    for s in samples {
        while s.sample.at.as_nanos() >= end {
            if let Some(v) = delay.cycle(&cycle).filter(|_| end >= from_ns) {
                values.push(v);
            }
            cycle.clear();
            end += 50_000_000;
        }
        cycle.push(s.sample);
    }
    assert!(values.len() >= 10, "downstream values: {values:?}");
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn upload_samples_track_tcp_info_through_a_bloated_queue() {
    run(Sender::Client, SampleKind::Upload, 5001);
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn download_samples_track_tcp_info_through_a_bloated_queue() {
    run(Sender::Server, SampleKind::Download, 5002);
}
