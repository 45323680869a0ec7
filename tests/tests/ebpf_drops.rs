//! Qdisc drops counted by the `skb:kfree_skb` tracepoint program agree with the qdisc's own counter.
//!
//! Topology: sender ns -- router ns (TBF on its egress towards the receiver) -- receiver ns. A bounded UDP
//! blast at several times the TBF rate overflows the TBF's FIFO; the router's interfaces are watched.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream, UdpSocket},
    time::{Duration, Instant},
};

use socket2::{Domain, Protocol, Socket, Type};
use wanctl::probe::ebpf::{DropCounting, DropReasonClass, QdiscDropCounter};
use wanctl_tests::netns::{Netns, is_root, veth};

const PAYLOAD: usize = 1200;
/// Ethernet + IPv4 + UDP headers around the payload: `skb->len` at the veth's root qdisc.
const FRAME_LEN: u64 = 14 + 20 + 8 + PAYLOAD as u64;
/// Datagrams per millisecond tick: 4 x 1242-byte frames per ms is about 40 Mbit/s into a 5 Mbit/s TBF.
const PER_TICK: usize = 4;
const BLAST: Duration = Duration::from_secs(2);
const MAX_DATAGRAMS: usize = 8_000;

/// `drops` of the qdisc of kind `kind` in `tc -s -j qdisc show dev <dev>`.
fn tc_drops(ns: &Netns, dev: &str, kind: &str) -> u64 {
    let json = ns.exec_ok(&["tc", "-s", "-j", "qdisc", "show", "dev", dev]);
    let qdiscs: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let qdisc = qdiscs
        .iter()
        .find(|q| q["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} qdisc on {dev}: {json}"));
    qdisc["drops"].as_u64().unwrap()
}

/// ifindex of `dev` inside `ns`.
fn ifindex(ns: &Netns, dev: &str) -> u64 {
    let json = ns.exec_ok(&["ip", "-j", "link", "show", "dev", dev]);
    let links: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    links[0]["ifindex"].as_u64().unwrap()
}

/// Sends a bounded blast for `duration`; returns the number of datagrams sent.
fn blast(sender: &Netns, receiver: &Netns, duration: Duration) -> usize {
    let sink = receiver.enter(|| UdpSocket::bind("203.0.113.2:9").unwrap());
    let sent = sender.enter(|| {
        let socket = UdpSocket::bind("198.51.100.1:0").unwrap();
        let start = Instant::now();
        let mut sent = 0;
        while start.elapsed() < duration && sent < MAX_DATAGRAMS {
            for _ in 0..PER_TICK {
                socket.send_to(&[0xa5; PAYLOAD], "203.0.113.2:9").unwrap();
                sent += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        sent
    });
    drop(sink);
    sent
}

/// sender ns -- router ns (TBF root qdisc on `r1`, towards the receiver) -- receiver ns.
struct Lab {
    sender: Netns,
    router: Netns,
    receiver: Netns,
}

impl Lab {
    fn new() -> Self {
        let lab = Self {
            sender: Netns::new("dsnd"),
            router: Netns::new("drtr"),
            receiver: Netns::new("drcv"),
        };
        let Self {
            sender,
            router,
            receiver,
        } = &lab;
        veth(sender, "s0", router, "r0");
        veth(router, "r1", receiver, "c0");
        sender.ip(&["addr", "add", "198.51.100.1/24", "dev", "s0"]);
        sender.ip(&["route", "add", "default", "via", "198.51.100.2"]);
        router.ip(&["addr", "add", "198.51.100.2/24", "dev", "r0"]);
        router.ip(&["addr", "add", "203.0.113.1/24", "dev", "r1"]);
        receiver.ip(&["addr", "add", "203.0.113.2/24", "dev", "c0"]);
        receiver.ip(&["route", "add", "default", "via", "203.0.113.1"]);
        router.exec_ok(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        add_small_tbf(router, "r1");
        lab
    }

    /// The counter, attached and watching the router's two interfaces.
    fn counter(&self) -> QdiscDropCounter {
        match self.router.enter(|| QdiscDropCounter::load(&["r1", "r0"])) {
            Ok(DropCounting::Active(counter)) => counter,
            Ok(DropCounting::Unavailable { reason }) => {
                panic!("the host kernel (6.18) has the qdisc drop reasons, yet: {reason}")
            }
            Err(e) => panic!("loading the drop counter: {e:?}"),
        }
    }
}

/// Small enough to overflow: 30 kB of queue at 5 Mbit/s.
fn add_small_tbf(ns: &Netns, dev: &str) {
    ns.exec_ok(&[
        "tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", "5mbit", "burst", "16kbit",
        "limit", "30000",
    ]);
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn tbf_overlimit_drops_are_counted_per_interface_and_match_tc() {
    assert!(is_root(), "this test needs root");
    let lab = Lab::new();
    let Lab {
        sender,
        router,
        receiver,
    } = &lab;
    let counter = lab.counter();
    let tracked = counter.tracked();
    eprintln!("resolved drop reasons: {tracked:?}");
    assert_eq!(
        tracked.len(),
        DropReasonClass::ALL.len(),
        "6.18 has all four qdisc reasons"
    );
    let before = counter.counts().unwrap();
    assert!(before.iter().all(|i| i.total_packets() == 0), "{before:?}");
    assert_eq!(tc_drops(router, "r1", "tbf"), 0, "fresh TBF");

    // Drops on a device with the same ifindex in another namespace must not count: the sender's s0
    // shares r0's ifindex, and a TBF on it drops locally for a moment.
    assert_eq!(
        ifindex(sender, "s0"),
        ifindex(router, "r0"),
        "test precondition"
    );
    add_small_tbf(sender, "s0");
    blast(sender, receiver, Duration::from_millis(300));
    std::thread::sleep(Duration::from_millis(100));
    let foreign = tc_drops(sender, "s0", "tbf");
    assert!(foreign > 0, "the sender's own TBF must drop");
    eprintln!("{foreign} drops on the sender's s0 (same ifindex as r0, other namespace)");
    sender.exec_ok(&["tc", "qdisc", "del", "dev", "s0", "root"]);
    let after_foreign = counter.counts().unwrap();
    assert!(
        after_foreign.iter().all(|i| i.total_packets() == 0),
        "{foreign} drops in another namespace were counted: {after_foreign:?}"
    );
    assert_eq!(
        tc_drops(router, "r1", "tbf"),
        0,
        "the router's TBF has not dropped yet"
    );

    let sent = blast(sender, receiver, BLAST);
    // Let the 30 kB queue drain (48 ms at 5 Mbit/s) so no packet is between enqueue and free.
    std::thread::sleep(Duration::from_millis(300));

    let tc = tc_drops(router, "r1", "tbf");
    let counts = counter.counts().unwrap();
    eprintln!("sent {sent} datagrams; tc drops {tc}; tracepoint counts {counts:#?}");
    assert!(
        tc >= 100,
        "the blast must overflow the TBF: {tc} drops of {sent}"
    );
    let wan = counts.iter().find(|i| i.interface == "r1").unwrap();
    let lan = counts.iter().find(|i| i.interface == "r0").unwrap();
    assert_eq!(
        wan.total_packets(),
        tc,
        "tracepoint drops on r1 must equal the TBF's drops: {wan:?}"
    );
    // Every dropped skb is one whole datagram frame as the veth's qdisc sees it.
    assert!(
        wan.classes.iter().all(|c| c.bytes == c.packets * FRAME_LEN),
        "bytes are whole {FRAME_LEN}-byte frames: {wan:?}"
    );
    assert_eq!(lan.total_packets(), 0, "no qdisc drops on r0: {lan:?}");
}

/// One CUBIC TCP bulk transfer from the sender to the receiver for `duration` (BBR, the machine's default,
/// would keep the queue short and never overflow it). Returns the bytes received.
fn cubic_transfer(sender: &Netns, receiver: &Netns, duration: Duration) -> u64 {
    let listener = receiver.enter(|| TcpListener::bind("203.0.113.2:5001").unwrap());
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let (mut stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
            total
        });
        sender.enter(|| {
            let mut stream = cubic_connect("203.0.113.2:5001");
            stream
                .set_write_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let chunk = vec![0x5au8; 64 * 1024];
            let start = Instant::now();
            while start.elapsed() < duration {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
            stream.shutdown(std::net::Shutdown::Write).unwrap();
        });
        reader.join().unwrap()
    })
}

/// Connects with `TCP_CONGESTION` = cubic set on the socket before the handshake.
fn cubic_connect(addr: &str) -> TcpStream {
    let target: std::net::SocketAddr = addr.parse().unwrap();
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_tcp_congestion(b"cubic").unwrap();
    socket.connect(&target.into()).unwrap();
    socket.into()
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn tbf_drops_of_a_cubic_tcp_flow_match_tc() {
    // TCP may hand the TBF GSO skbs larger than its burst; TBF then segments them and drops per segment.
    // Either way tc and the tracepoint both count one drop per freed packet.
    assert!(is_root(), "this test needs root");
    let lab = Lab::new();
    let counter = lab.counter();
    let received = cubic_transfer(&lab.sender, &lab.receiver, BLAST);
    std::thread::sleep(Duration::from_millis(300));
    let tc = tc_drops(&lab.router, "r1", "tbf");
    let counts = counter.counts().unwrap();
    let wan = counts.iter().find(|i| i.interface == "r1").unwrap();
    eprintln!("received {received} bytes; tc drops {tc}; tracepoint {wan:?}");
    assert!(received > 0, "the transfer moved data");
    assert!(tc > 0, "a CUBIC flow overflows a 30 kB TBF queue");
    assert_eq!(wan.total_packets(), tc, "{wan:?}");
}

/// An empty directory removed on drop, used as a mount point inside a private mount namespace.
struct MountPoint(std::path::PathBuf);

impl Drop for MountPoint {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The `kfree_skb` tracepoint's format, read from a tracefs mounted in a private mount namespace that
/// disappears with the `unshare` process (the host's mounts are untouched).
fn kfree_skb_format() -> String {
    let dir =
        MountPoint(std::env::temp_dir().join(format!("wanctl-tracefs-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let script = format!(
        "mount -t tracefs nodev {0} && cat {0}/events/skb/kfree_skb/format",
        dir.0.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reading the tracefs format: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `{ value, "NAME" }` pairs of the format's `__print_symbolic(REC->reason, ...)` table.
fn reason_symbols(format: &str) -> Vec<(u32, String)> {
    let table = format
        .split_once("__print_symbolic(REC->reason")
        .map(|(_, rest)| rest)
        .expect("the format prints the reason symbolically");
    table
        .split('{')
        .skip(1)
        .filter_map(|entry| {
            let (value, rest) = entry.split_once(',')?;
            let name = rest.split('"').nth(1)?;
            Some((value.trim().parse().ok()?, name.to_string()))
        })
        .collect()
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn reason_values_from_btf_match_the_tracepoints_own_symbol_table() {
    assert!(is_root(), "this test needs root");
    let ns = Netns::new("dsym");
    let counter = match ns.enter(|| QdiscDropCounter::load(&["lo"])).unwrap() {
        DropCounting::Active(counter) => counter,
        DropCounting::Unavailable { reason } => panic!("unavailable on the host kernel: {reason}"),
    };
    let symbols = reason_symbols(&kfree_skb_format());
    assert!(symbols.len() > 10, "parsed the symbol table: {symbols:?}");
    let tracked = counter.tracked();
    for class in DropReasonClass::ALL {
        let short = class.kernel_name().trim_start_matches("SKB_DROP_REASON_");
        let in_tracefs = symbols
            .iter()
            .find(|(_, name)| name == short)
            .map(|(v, _)| *v);
        let resolved = tracked.iter().find(|(c, _)| *c == class).map(|(_, v)| *v);
        assert_eq!(resolved, in_tracefs, "{class:?}: BTF vs tracefs");
    }
}
