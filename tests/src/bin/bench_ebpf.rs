//! `cargo xtask bench ebpf`: the cost of wanctl's TC programs, measured side by side in one run.
//!
//! 1. ns per packet via `BPF_PROG_TEST_RUN` (1,000,000 repeats per packet type) for a realistic steady-state
//!    mix, against an empty TC program (`r0 = TC_ACT_UNSPEC; exit`) run the same way, alternated.
//! 2. TCP throughput over a veth pair between two namespaces with the programs attached and detached,
//!    alternated round by round.
//!
//! Prints one JSON object. Needs root.

use std::{net::SocketAddr, time::Duration};

use aya::programs::SchedClassifier;
use serde_json::json;
use wanctl::probe::ebpf::{Framing, ProbeConfig, WanPrograms};
use wanctl_tests::{
    netns::{Netns, is_root, veth},
    packet::{Segment, flags},
    prog_run::{Harness, pin_to_cpu, run},
    tcp::{Sender, bulk},
};

const REPEAT: u32 = 1_000_000;
const ROUNDS: usize = 3;
const THROUGHPUT_ROUNDS: usize = 5;
const THROUGHPUT_SECONDS: u64 = 2;

/// An empty TC program loaded from two raw instructions, run with `BPF_PROG_TEST_RUN` directly.
struct EmptyProgram {
    fd: i32,
}

impl EmptyProgram {
    fn load() -> Self {
        // mov64 r0, -1 (TC_ACT_UNSPEC); exit
        let insns: [u64; 2] = [
            u64::from(0xb7u8) | (u64::from((-1i32) as u32) << 32),
            u64::from(0x95u8),
        ];
        let license = b"GPL\0";
        let mut attr = [0u8; 128];
        put_u32(&mut attr, 0, 3); // BPF_PROG_TYPE_SCHED_CLS
        put_u32(&mut attr, 4, 2);
        put_u64(&mut attr, 8, insns.as_ptr() as u64);
        put_u64(&mut attr, 16, license.as_ptr() as u64);
        // SAFETY: BPF_PROG_LOAD with a zeroed attr holding valid pointers that outlive the call.
        let fd = unsafe { libc::syscall(libc::SYS_bpf, 5, attr.as_ptr(), attr.len()) };
        assert!(
            fd >= 0,
            "BPF_PROG_LOAD: {}",
            std::io::Error::last_os_error()
        );
        Self { fd: fd as i32 }
    }

    fn run(&self, packet: &[u8], repeat: u32) -> Duration {
        let mut out = vec![0u8; packet.len() + 256];
        let mut attr = [0u8; 80];
        put_u32(&mut attr, 0, self.fd as u32);
        put_u32(&mut attr, 8, packet.len() as u32);
        put_u32(&mut attr, 12, out.len() as u32);
        put_u64(&mut attr, 16, packet.as_ptr() as u64);
        put_u64(&mut attr, 24, out.as_mut_ptr() as u64);
        put_u32(&mut attr, 32, repeat);
        // SAFETY: BPF_PROG_TEST_RUN with buffers that outlive the call.
        let rc = unsafe { libc::syscall(libc::SYS_bpf, 10, attr.as_mut_ptr(), attr.len()) };
        assert_eq!(
            rc,
            0,
            "BPF_PROG_TEST_RUN: {}",
            std::io::Error::last_os_error()
        );
        let retval = u32::from_ne_bytes(attr[4..8].try_into().unwrap());
        assert_eq!(retval, u32::MAX, "TC_ACT_UNSPEC");
        Duration::from_nanos(u64::from(u32::from_ne_bytes(
            attr[36..40].try_into().unwrap(),
        )))
    }
}

impl Drop for EmptyProgram {
    fn drop(&mut self) {
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(self.fd) };
    }
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct PacketType {
    name: &'static str,
    /// Share of a gateway's packets (a download-heavy home link).
    weight: f64,
    egress: bool,
    packet: Vec<u8>,
}

fn mix() -> Vec<PacketType> {
    let down = Segment::new("192.0.2.1", 40000, "198.51.100.7", 443);
    let up = Segment::new("192.0.2.1", 40001, "198.51.100.8", 22);
    let down6 = Segment::new("2001:db8::1", 40002, "2001:db8:1::7", 443);
    let mut udp = down.clone().ts(1, 1).payload(1200).build();
    udp[14 + 9] = 17; // QUIC and other UDP: counted, not parsed further
    vec![
        PacketType {
            name: "ingress IPv4 data (download)",
            weight: 0.40,
            egress: false,
            packet: down.reversed().seq(1000).ts(500, 100).payload(1448).build(),
        },
        PacketType {
            name: "egress IPv4 pure ACK (download)",
            weight: 0.20,
            egress: true,
            packet: down.clone().seq(1).ts(101, 500).build(),
        },
        PacketType {
            name: "egress IPv4 data (upload)",
            weight: 0.12,
            egress: true,
            packet: up.clone().seq(1).ts(300, 900).payload(1448).build(),
        },
        PacketType {
            name: "ingress IPv4 ACK (upload)",
            weight: 0.08,
            egress: false,
            packet: up.reversed().seq(1).ts(901, 300).build(),
        },
        PacketType {
            name: "ingress IPv6 data (download)",
            weight: 0.10,
            egress: false,
            packet: down6
                .reversed()
                .seq(1000)
                .ts(500, 100)
                .payload(1428)
                .build(),
        },
        PacketType {
            name: "ingress IPv4 UDP",
            weight: 0.10,
            egress: false,
            packet: udp,
        },
    ]
}

fn per_packet(harness: &Harness, empty: &EmptyProgram) -> serde_json::Value {
    let egress: &SchedClassifier = harness.programs.egress_program().unwrap();
    let ingress: &SchedClassifier = harness.programs.ingress_program().unwrap();
    // Create the flows as a real connection would (egress SYNs), so the mix runs in steady state.
    for (local, port, remote) in [
        ("192.0.2.1", 40000, "198.51.100.7"),
        ("192.0.2.1", 40001, "198.51.100.8"),
        ("2001:db8::1", 40002, "2001:db8:1::7"),
    ] {
        let syn = Segment::new(local, port, remote, 443)
            .flags(flags::SYN)
            .seq(0)
            .ts(1, 0);
        run(egress, &syn.build(), 1);
    }
    let mut rows = Vec::new();
    let (mut ours_mix, mut empty_mix) = (0.0, 0.0);
    for kind in mix() {
        let program = if kind.egress { egress } else { ingress };
        let mut ours = Vec::new();
        let mut base = Vec::new();
        for _ in 0..ROUNDS {
            ours.push(run(program, &kind.packet, REPEAT).as_nanos() as f64);
            base.push(empty.run(&kind.packet, REPEAT).as_nanos() as f64);
        }
        let (ours, base) = (median(ours), median(base));
        ours_mix += kind.weight * ours;
        empty_mix += kind.weight * base;
        rows.push(json!({
            "packet": kind.name,
            "weight": kind.weight,
            "wanctl_ns": ours,
            "empty_ns": base,
        }));
    }
    json!({
        "repeat_per_run": REPEAT,
        "runs_per_packet_type": ROUNDS,
        "packets": rows,
        "mix_wanctl_ns": ours_mix,
        "mix_empty_ns": empty_mix,
        "added_ns_per_packet": ours_mix - empty_mix,
        "target_added_ns": 150,
        "meets_target": ours_mix - empty_mix <= 150.0,
    })
}

fn throughput() -> serde_json::Value {
    let a = Netns::new("bench-a");
    let b = Netns::new("bench-b");
    veth(&a, "wan0", &b, "peer0");
    a.ip(&["addr", "add", "192.0.2.1/24", "dev", "wan0"]);
    b.ip(&["addr", "add", "192.0.2.2/24", "dev", "peer0"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let mut programs = WanPrograms::load(&ProbeConfig::default()).unwrap();
    let mut reader = programs.samples().unwrap();
    let mut attached = Vec::new();
    let mut detached = Vec::new();
    let mut samples = 0;
    for round in 0..THROUGHPUT_ROUNDS * 2 {
        let on = round % 2 == 1;
        if on {
            a.enter(|| programs.attach("wan0")).unwrap();
        }
        let server: SocketAddr = format!("192.0.2.2:{}", 6000 + round).parse().unwrap();
        let t = bulk(
            &a,
            &b,
            server,
            Sender::Client,
            Duration::from_secs(THROUGHPUT_SECONDS),
            Duration::from_secs(1),
        );
        let gbps = t.bytes as f64 * 8.0 / t.elapsed.as_secs_f64() / 1e9;
        if on {
            programs.detach().unwrap();
            samples += reader.drain().len();
            attached.push(gbps);
        } else {
            detached.push(gbps);
        }
    }
    let (on, off) = (median(attached.clone()), median(detached.clone()));
    json!({
        "rounds_each": THROUGHPUT_ROUNDS,
        "seconds_per_round": THROUGHPUT_SECONDS,
        "attached_gbps": attached,
        "detached_gbps": detached,
        "median_attached_gbps": on,
        "median_detached_gbps": off,
        "ratio": on / off,
        "target_ratio": 0.97,
        "meets_target": on / off >= 0.97,
        "samples_while_attached": samples,
    })
}

fn main() {
    assert!(
        is_root(),
        "bench-ebpf needs root (BPF_PROG_TEST_RUN, namespaces)"
    );
    // Per-packet runs on one pinned thread, so both programs see the same CPU and caches; the throughput
    // test runs unpinned.
    let cost = std::thread::spawn(|| {
        pin_to_cpu(0);
        let harness = Harness::new(&ProbeConfig::default(), Framing::Ethernet);
        let empty = EmptyProgram::load();
        per_packet(&harness, &empty)
    })
    .join()
    .expect("per-packet benchmark");
    let tput = throughput();
    let report = json!({
        "benchmark": "ebpf",
        "prog_test_run": cost,
        "veth_tcp_throughput": tput,
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
