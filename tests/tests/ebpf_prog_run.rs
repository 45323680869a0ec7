//! The TC programs on crafted packets (`BPF_PROG_TEST_RUN`): exact samples and counters for every framing,
//! family and segment type, and never a sample (or a flow) from malformed input.

use std::time::{Duration, Instant};

use wanctl::{
    probe::ebpf::{Framing, ProbeConfig, ProbeSample},
    signal::{Direction, SampleKind},
};
use wanctl_tests::{
    netns::is_root,
    packet::{Link, Segment, flags},
    prog_run::{Harness, pin_to_cpu},
};

const LOCAL4: &str = "192.0.2.1";
const REMOTE4: &str = "198.51.100.7";
const LOCAL6: &str = "2001:db8::1";
const REMOTE6: &str = "2001:db8:1::7";

/// Every timestamp stored and every sample written, so each test sees exact counts.
fn unlimited() -> ProbeConfig {
    ProbeConfig {
        sample_interval: "0ms".parse().unwrap(),
        max_samples_per_second: 1_000_000,
        ..ProbeConfig::default()
    }
}

fn harness(framing: Framing) -> Harness {
    assert!(is_root(), "this test needs root");
    pin_to_cpu(0);
    Harness::new(&unlimited(), framing)
}

fn kinds(samples: &[ProbeSample]) -> Vec<SampleKind> {
    samples.iter().map(|s| s.sample.kind).collect()
}

/// SYN out, SYN-ACK in, data out, ACK in: one handshake and one upload sample, both bounded by the time
/// the exchange took.
fn handshake_and_upload(h: &mut Harness, out: &Segment) {
    let back = out.reversed();
    let start = Instant::now();
    h.egress(&out.clone().flags(flags::SYN).seq(1000).ts(100, 0).build());
    h.ingress(
        &back
            .clone()
            .flags(flags::SYN | flags::ACK)
            .seq(5000)
            .ts(7000, 100)
            .build(),
    );
    h.egress(&out.clone().seq(1001).ts(101, 7000).payload(1000).build());
    h.ingress(&back.clone().seq(5001).ts(7001, 101).build());
    let elapsed = start.elapsed();
    let samples = h.samples();
    assert_eq!(
        kinds(&samples),
        [SampleKind::Handshake, SampleKind::Upload],
        "{samples:?}"
    );
    for s in &samples {
        assert!(
            s.sample.rtt > Duration::ZERO && s.sample.rtt <= elapsed,
            "{s:?} within {elapsed:?}"
        );
        assert_eq!(s.remote.ip(), out.dst);
        assert_eq!(s.remote.port(), out.dport);
        assert_eq!(s.local_port, out.sport);
        assert_eq!(s.sample.flow, samples[0].sample.flow, "one flow, one hash");
    }
    assert_eq!(samples[0].direction, None);
    assert_eq!(samples[1].direction, Some(Direction::Upload));
    let stats = h.stats();
    assert_eq!(stats.samples_emitted, 2);
    assert_eq!(stats.flows_created, 1);
    assert_eq!(stats.malformed, 0);
    assert_eq!(stats.upload.tcp_packets, 2);
    assert_eq!(stats.download.tcp_packets, 2);
    assert_eq!(
        stats.upload.tcp_retransmits + stats.download.tcp_retransmits,
        0
    );
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn ipv4_ethernet_gives_handshake_and_upload_samples() {
    let mut h = harness(Framing::Ethernet);
    handshake_and_upload(&mut h, &Segment::new(LOCAL4, 40000, REMOTE4, 443));
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn ipv6_with_extension_headers_gives_the_same_samples() {
    let mut h = harness(Framing::Ethernet);
    let mut out = Segment::new(LOCAL6, 40000, REMOTE6, 443);
    // Hop-by-hop and destination options before TCP, within the walk's bound of three.
    out.ipv6_ext = vec![(0, 8), (60, 16)];
    handshake_and_upload(&mut h, &out);
    let samples_v6 = Segment::new(LOCAL6, 40001, REMOTE6, 443);
    assert_eq!(samples_v6.build().len(), 14 + 40 + 20);
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn vlan_qinq_and_pppoe_frames_are_parsed() {
    for link in [
        Link::Ethernet(vec![0x8100]),
        Link::Ethernet(vec![0x88a8, 0x8100]),
        Link::Pppoe,
    ] {
        let mut h = harness(Framing::Ethernet);
        handshake_and_upload(
            &mut h,
            &Segment::new(LOCAL4, 40000, REMOTE4, 443).link(link.clone()),
        );
        let mut h = harness(Framing::Ethernet);
        handshake_and_upload(
            &mut h,
            &Segment::new(LOCAL6, 40000, REMOTE6, 443).link(link),
        );
    }
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn l3_devices_are_parsed_from_the_ip_header() {
    let mut h = harness(Framing::L3);
    handshake_and_upload(
        &mut h,
        &Segment::new(LOCAL4, 40000, REMOTE4, 443).link(Link::None),
    );
    let mut h = harness(Framing::L3);
    handshake_and_upload(
        &mut h,
        &Segment::new(LOCAL6, 40000, REMOTE6, 443).link(Link::None),
    );
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn timestamps_found_after_other_options_and_missing_ones_counted() {
    let mut h = harness(Framing::Ethernet);
    let out = Segment::new(LOCAL4, 40000, REMOTE4, 443);
    let back = out.reversed();
    // MSS, SACK-permitted, window scale, then the timestamp: the option walk, not the fast path.
    let syn_options = |tsval: u32, tsecr: u32| {
        let mut o = vec![2, 4, 5, 0xb4, 4, 2, 3, 3, 7, 8, 10];
        o.extend_from_slice(&tsval.to_be_bytes());
        o.extend_from_slice(&tsecr.to_be_bytes());
        o
    };
    h.egress(
        &out.clone()
            .flags(flags::SYN)
            .options(syn_options(50, 0))
            .build(),
    );
    h.ingress(
        &back
            .clone()
            .flags(flags::SYN | flags::ACK)
            .options(syn_options(900, 50))
            .build(),
    );
    assert_eq!(kinds(&h.samples()), [SampleKind::Handshake]);

    // A flow without timestamps (Windows' default): counted, never sampled.
    let plain = Segment::new(LOCAL4, 40001, REMOTE4, 443);
    h.egress(&plain.clone().flags(flags::SYN).build());
    h.ingress(&plain.reversed().flags(flags::SYN | flags::ACK).build());
    h.egress(&plain.clone().payload(500).build());
    h.ingress(&plain.reversed().build());
    // Forty NOPs: a full option space without a timestamp.
    h.egress(&plain.clone().payload(10).options(vec![1; 40]).build());
    assert!(h.samples().is_empty());
    let stats = h.stats();
    assert_eq!(stats.no_timestamp, 5);
    assert_eq!(stats.samples_emitted, 1);
    assert_eq!(stats.malformed, 0);
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn retransmissions_are_counted_and_never_sampled() {
    let mut h = harness(Framing::Ethernet);
    let out = Segment::new(LOCAL4, 40000, REMOTE4, 443);
    let back = out.reversed();
    h.egress(&out.clone().seq(1000).ts(100, 5).payload(100).build());
    // The same data again with a newer TSval: a retransmission.
    h.egress(&out.clone().seq(1000).ts(105, 5).payload(100).build());
    // Its echo must not produce a sample, and it makes TSval 100 unmatchable.
    h.ingress(&back.clone().seq(1).ts(9, 105).build());
    h.ingress(&back.clone().seq(1).ts(10, 100).build());
    assert!(h.samples().is_empty());

    // Ingress: data at 500..600, then 500..600 again.
    h.ingress(&back.clone().seq(500).ts(11, 105).payload(100).build());
    h.ingress(&back.clone().seq(500).ts(12, 105).payload(100).build());
    let stats = h.stats();
    assert_eq!(stats.upload.tcp_retransmits, 1);
    assert_eq!(stats.download.tcp_retransmits, 1);
    assert_eq!(stats.samples_emitted, 0);
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn only_the_first_sighting_and_first_echo_count() {
    let mut h = harness(Framing::Ethernet);
    let out = Segment::new(LOCAL4, 40000, REMOTE4, 443);
    let back = out.reversed();
    h.egress(&out.clone().flags(flags::SYN).seq(0).ts(100, 0).build());
    h.ingress(
        &back
            .clone()
            .flags(flags::SYN | flags::ACK)
            .ts(7, 100)
            .build(),
    );
    // Two segments with the same TSval: only the first is timestamped.
    h.egress(&out.clone().seq(1).ts(101, 7).payload(100).build());
    h.egress(&out.clone().seq(101).ts(101, 7).payload(100).build());
    // The echo twice, and an older echo after it: one sample.
    h.ingress(&back.clone().ts(8, 101).build());
    h.ingress(&back.clone().ts(8, 101).build());
    h.ingress(&back.clone().ts(8, 100).build());
    assert_eq!(
        kinds(&h.samples()),
        [SampleKind::Handshake, SampleKind::Upload]
    );
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn tsval_and_tsecr_comparisons_wrap_around() {
    let mut h = harness(Framing::Ethernet);
    let out = Segment::new(LOCAL4, 40000, REMOTE4, 443);
    let back = out.reversed();
    h.egress(
        &out.clone()
            .flags(flags::SYN)
            .seq(0)
            .ts(u32::MAX - 1, 0)
            .build(),
    );
    h.ingress(
        &back
            .clone()
            .flags(flags::SYN | flags::ACK)
            .ts(7, u32::MAX - 1)
            .build(),
    );
    h.egress(&out.clone().seq(1).ts(2, 7).payload(100).build());
    h.ingress(&back.clone().ts(8, 2).build());
    assert_eq!(
        kinds(&h.samples()),
        [SampleKind::Handshake, SampleKind::Upload]
    );
}

/// Egress pure ACK, then ingress data: accepted only while the flow receives back to back.
#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn download_samples_need_a_busy_sender() {
    let mut h = harness(Framing::Ethernet);
    let out = Segment::new(LOCAL4, 40000, REMOTE4, 443);
    let back = out.reversed();
    h.egress(&out.clone().seq(1).ts(100, 1).build());
    // Too little activity yet: one data segment carrying the echo.
    h.egress(&out.clone().seq(1).ts(101, 1).build());
    h.ingress(&back.clone().seq(1000).ts(2, 101).payload(1400).build());
    assert!(h.samples().is_empty());
    assert_eq!(h.stats().download_rejected, 1);

    // Four more segments back to back, then the echo of a new ACK on data: a download sample.
    for i in 0..4u32 {
        h.ingress(
            &back
                .clone()
                .seq(2400 + i * 1400)
                .ts(3, 101)
                .payload(1400)
                .build(),
        );
    }
    h.egress(&out.clone().seq(1).ts(102, 3).build());
    h.ingress(&back.clone().seq(8000).ts(4, 102).payload(1400).build());
    let samples = h.samples();
    assert_eq!(kinds(&samples), [SampleKind::Download]);
    assert_eq!(samples[0].direction, Some(Direction::Download));
    assert!(samples[0].gap.is_some());

    // The echo on a pure ACK (the sender paused): rejected.
    h.egress(&out.clone().seq(1).ts(103, 4).build());
    h.ingress(&back.clone().seq(9400).ts(5, 103).build());
    assert!(h.samples().is_empty());
    let stats = h.stats();
    assert_eq!(stats.download_rejected, 2);
    assert_eq!(stats.samples_emitted, 1);
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn download_samples_can_be_switched_off() {
    assert!(is_root(), "this test needs root");
    let config = ProbeConfig {
        download_samples: false,
        ..unlimited()
    };
    let mut h = Harness::new(&config, Framing::Ethernet);
    let out = Segment::new(LOCAL4, 40000, REMOTE4, 443);
    let back = out.reversed();
    h.egress(&out.clone().seq(1).ts(100, 1).build());
    for i in 0..5u32 {
        h.ingress(
            &back
                .clone()
                .seq(1000 + i * 1400)
                .ts(2, 1)
                .payload(1400)
                .build(),
        );
    }
    h.egress(&out.clone().seq(1).ts(101, 2).build());
    h.ingress(&back.clone().seq(9000).ts(3, 101).payload(1400).build());
    assert!(h.samples().is_empty());
    assert_eq!(h.stats().download_rejected, 0, "never a candidate");
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn malformed_packets_are_counted_and_never_sampled() {
    let mut h = harness(Framing::Ethernet);
    let out = Segment::new(LOCAL4, 40000, REMOTE4, 443);
    let ts_then = |mut o: Vec<u8>| {
        o.extend_from_slice(&[8, 10, 0, 0, 0, 100, 0, 0, 0, 1]);
        o
    };
    let mut bad: Vec<(&str, Vec<u8>)> = vec![
        // Behind a VLAN tag: BPF_PROG_TEST_RUN itself refuses untagged IPv4 frames this short.
        ("truncated IPv4 header", {
            let mut s = out.clone().ts(100, 1).link(Link::Ethernet(vec![0x8100]));
            s.truncate = Some(18 + 12);
            s.build()
        }),
        ("truncated TCP header", {
            let mut s = out.clone().ts(100, 1);
            s.truncate = Some(14 + 20 + 10);
            s.build()
        }),
        ("TCP data offset below 5 words", {
            let mut s = out.clone().ts(100, 1).payload(20);
            s.doff = Some(3);
            s.build()
        }),
        ("TCP data offset past the packet", {
            let mut s = out.clone().ts(100, 1);
            s.doff = Some(15);
            s.build()
        }),
        (
            "option length 0 (a loop)",
            out.clone().options(ts_then(vec![3, 0])).build(),
        ),
        (
            "option length 1",
            out.clone().options(ts_then(vec![3, 1])).build(),
        ),
        (
            "option running past the end",
            out.clone()
                .options(vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 40])
                .build(),
        ),
        ("timestamp option with length 8", {
            out.clone()
                .options(vec![1, 1, 1, 1, 8, 8, 0, 0, 0, 1, 0, 0])
                .build()
        }),
        ("IPv4 header length below 20", {
            let mut p = out.clone().ts(100, 1).build();
            p[14] = 0x44;
            p
        }),
        ("IPv4 total length below the header", {
            let mut p = out.clone().ts(100, 1).build();
            p[14 + 2] = 0;
            p[14 + 3] = 10;
            p
        }),
        ("IPv6 extension header past the payload", {
            let mut s = Segment::new(LOCAL6, 40000, REMOTE6, 443).ts(100, 1);
            s.ipv6_ext = vec![(60, 8)];
            let mut p = s.build();
            p[14 + 40 + 1] = 200;
            p
        }),
        ("IP version 5 behind an IPv4 EtherType", {
            let mut p = out.clone().ts(100, 1).build();
            p[14] = 0x55;
            p
        }),
    ];
    let count = bad.len() as u64;
    for (what, packet) in bad.drain(..) {
        h.egress(&packet);
        h.ingress(&packet);
        assert!(h.samples().is_empty(), "{what}");
    }
    let stats = h.stats();
    assert_eq!(stats.malformed, 2 * count, "{stats:?}");
    assert_eq!(stats.flows_created, 0, "malformed packets create no state");

    // Not malformed, just not ours to parse: a fourth IPv6 extension header, a non-first fragment.
    let mut deep = Segment::new(LOCAL6, 40000, REMOTE6, 443).ts(100, 1);
    deep.ipv6_ext = vec![(0, 8), (60, 8), (60, 8), (60, 8)];
    h.egress(&deep.build());
    let mut fragment = out.clone().ts(100, 1).build();
    fragment[14 + 6] = 0x00;
    fragment[14 + 7] = 0x10;
    h.egress(&fragment);
    let after = h.stats();
    assert_eq!(after.malformed, stats.malformed);
    assert_eq!(after.upload.tcp_packets, 0);
    assert_eq!(after.flows_created, 0);
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn sampling_interval_and_record_rate_limit_bound_the_output() {
    assert!(is_root(), "this test needs root");
    pin_to_cpu(0);
    let config = ProbeConfig {
        sample_interval: "10s".parse().unwrap(),
        ..unlimited()
    };
    let mut h = Harness::new(&config, Framing::Ethernet);
    let out = Segment::new(LOCAL4, 40000, REMOTE4, 443);
    let back = out.reversed();
    for i in 0..3u32 {
        h.egress(
            &out.clone()
                .seq(1 + i * 100)
                .ts(100 + i, 1)
                .payload(100)
                .build(),
        );
    }
    h.ingress(&back.clone().ts(2, 102).build());
    h.ingress(&back.clone().ts(3, 101).build());
    // TSval 100 met the flow mid-stream (not stored), 101 was stored, 102 fell within the interval; the
    // echo of 102 came first, so 101 can never match.
    assert!(h.samples().is_empty());
    let stats = h.stats();
    assert_eq!(stats.suppressed_interval, 1);

    // One record per second over all CPUs: with a burst of one, the second flow's sample is refused.
    let config = ProbeConfig {
        max_samples_per_second: 1,
        ..unlimited()
    };
    let mut h = Harness::new(&config, Framing::Ethernet);
    for port in [40000, 40001, 40002] {
        let out = Segment::new(LOCAL4, port, REMOTE4, 443);
        h.egress(&out.clone().flags(flags::SYN).ts(100, 0).build());
        h.ingress(
            &out.reversed()
                .flags(flags::SYN | flags::ACK)
                .ts(9, 100)
                .build(),
        );
    }
    assert_eq!(h.samples().len(), 1);
    let stats = h.stats();
    assert_eq!(stats.samples_emitted, 1);
    assert_eq!(stats.suppressed_rate, 2);
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn resets_and_closes_forget_the_flow_and_inbound_syns_create_nothing() {
    let mut h = harness(Framing::Ethernet);
    let out = Segment::new(LOCAL4, 40000, REMOTE4, 443);
    let back = out.reversed();
    h.egress(&out.clone().flags(flags::SYN).ts(100, 0).build());
    assert_eq!(h.programs.flow_count().unwrap(), 1);
    h.ingress(
        &back
            .clone()
            .flags(flags::RST | flags::ACK)
            .ts(5, 100)
            .build(),
    );
    assert_eq!(h.programs.flow_count().unwrap(), 0);
    assert!(h.samples().is_empty(), "a reset is no echo");

    h.egress(&out.clone().seq(10).ts(200, 5).payload(10).build());
    h.egress(
        &out.clone()
            .flags(flags::FIN | flags::ACK)
            .seq(20)
            .ts(201, 5)
            .build(),
    );
    h.ingress(
        &back
            .clone()
            .flags(flags::FIN | flags::ACK)
            .ts(6, 201)
            .build(),
    );
    h.egress(&out.clone().flags(flags::ACK).seq(21).ts(202, 6).build());
    h.egress(
        &out.clone()
            .flags(flags::FIN | flags::ACK)
            .seq(21)
            .ts(203, 6)
            .build(),
    );
    assert_eq!(
        h.programs.flow_count().unwrap(),
        0,
        "FIN both ways removes the flow"
    );

    // A flood of inbound SYNs to us: no state.
    for port in 1..=50u16 {
        let syn = Segment::new(REMOTE4, port, LOCAL4, 22)
            .flags(flags::SYN)
            .ts(1, 0);
        h.ingress(&syn.build());
    }
    assert_eq!(h.programs.flow_count().unwrap(), 0);
}
