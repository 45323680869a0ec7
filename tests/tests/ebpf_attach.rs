//! The embedded eBPF object loads into the host kernel, attaches to a veth inside a namespace, and delivers
//! ring-buffer records for real packets, and none while detached.

use std::{net::UdpSocket, time::Duration};

use wanctl::probe::ebpf::WanPrograms;
use wanctl_common::{PacketEvent, direction};
use wanctl_tests::netns::{Netns, is_root, veth};

const PAYLOAD: usize = 100;
/// Ethernet + IPv4 + UDP headers around the payload, as `skb->len` counts them on a veth.
const FRAME_LEN: u32 = (14 + 20 + 8 + PAYLOAD) as u32;
const DATAGRAMS: usize = 20;

fn drain(ring: &mut aya::maps::RingBuf<aya::maps::MapData>) -> Vec<PacketEvent> {
    let mut events = Vec::new();
    while let Some(item) = ring.next() {
        assert_eq!(item.len(), size_of::<PacketEvent>(), "record size");
        // SAFETY: the record is a PacketEvent written by the kernel program; read_unaligned copes with any
        // alignment of the ring buffer slot.
        events.push(unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<PacketEvent>()) });
    }
    events
}

/// Sends datagrams from the gateway to an echo socket in the peer namespace; the echoes are ingress traffic
/// of the same size. Returns how many echoes came back.
fn exchange_datagrams(gw: &Netns, isp: &Netns) -> usize {
    let echo = isp.enter(|| UdpSocket::bind("192.0.2.2:7").unwrap());
    echo.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut buf = [0u8; 2048];
            for _ in 0..DATAGRAMS {
                let Ok((len, from)) = echo.recv_from(&mut buf) else {
                    break;
                };
                echo.send_to(&buf[..len], from).unwrap();
            }
        });
        gw.enter(|| {
            let socket = UdpSocket::bind("192.0.2.1:0").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut buf = [0u8; 2048];
            (0..DATAGRAMS)
                .filter(|_| {
                    socket.send_to(&[0x5a; PAYLOAD], "192.0.2.2:7").unwrap();
                    socket
                        .recv_from(&mut buf)
                        .is_ok_and(|(len, _)| len == PAYLOAD)
                })
                .count()
        })
    })
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn embedded_programs_report_real_packets_only_while_attached() {
    assert!(is_root(), "this test needs root");
    let gw = Netns::new("gw");
    let isp = Netns::new("isp");
    veth(&gw, "wan0", &isp, "isp0");
    gw.ip(&["addr", "add", "192.0.2.1/24", "dev", "wan0"]);
    isp.ip(&["addr", "add", "192.0.2.2/24", "dev", "isp0"]);

    let mut programs = WanPrograms::load().expect("load embedded eBPF object");
    let mut ring = programs.take_packet_events().unwrap();

    assert_eq!(
        exchange_datagrams(&gw, &isp),
        DATAGRAMS,
        "echo path works before attaching"
    );
    assert!(
        drain(&mut ring).is_empty(),
        "no records may arrive before the programs are attached"
    );

    gw.enter(|| programs.attach("wan0"))
        .expect("attach to wan0");
    assert_eq!(
        exchange_datagrams(&gw, &isp),
        DATAGRAMS,
        "the programs must not drop or alter traffic"
    );
    let events = drain(&mut ring);

    let egress_datagrams = events
        .iter()
        .filter(|e| e.direction == direction::EGRESS && e.len == FRAME_LEN)
        .count();
    assert!(
        egress_datagrams >= DATAGRAMS,
        "egress datagram records: {egress_datagrams} of {DATAGRAMS}: {events:?}"
    );
    let ingress_echoes = events
        .iter()
        .filter(|e| e.direction == direction::INGRESS && e.len == FRAME_LEN)
        .count();
    assert!(
        ingress_echoes >= DATAGRAMS,
        "ingress echo records: {ingress_echoes} of {DATAGRAMS}: {events:?}"
    );
    assert!(
        events
            .windows(2)
            .all(|w| w[0].timestamp_ns <= w[1].timestamp_ns),
        "timestamps are monotonic"
    );

    let traffic = programs.traffic().unwrap();
    let egress = traffic[direction::EGRESS as usize];
    assert!(egress.packets >= DATAGRAMS as u64, "{traffic:?}");
    assert!(
        egress.bytes >= (DATAGRAMS as u64) * u64::from(FRAME_LEN),
        "{traffic:?}"
    );
    let ingress = traffic[direction::INGRESS as usize];
    assert!(ingress.packets >= DATAGRAMS as u64, "{traffic:?}");
}
