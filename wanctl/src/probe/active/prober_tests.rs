use super::*;
use crate::config::DurationSpec;

const ID: u16 = 0x4242;
const V4: Endpoint = Endpoint {
    family: Family::V4,
    id: ID,
    ip_header: false,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ms(n: u64) -> Timestamp {
    Timestamp::from_nanos(n * 1_000_000)
}

fn state() -> ProberState {
    let config = ActiveProbeConfig {
        reflectors: vec![ip("192.0.2.1"), ip("192.0.2.2")],
        deadline: DurationSpec::from_secs(1),
        ..ActiveProbeConfig::default()
    };
    ProberState::new("wan0", &config)
}

fn send(state: &mut ProberState, at: Timestamp) -> PendingProbe {
    let probe = state.next_probe(|_| Some(ID)).unwrap();
    state.probe_sent(&probe, at, Ok(()));
    probe
}

fn fix_checksum(packet: &mut [u8]) {
    packet[2..4].fill(0);
    let sum = packet::checksum(packet);
    packet[2..4].copy_from_slice(&sum.to_be_bytes());
}

/// The reply the reflector would send to `probe`.
fn reply_to(probe: &PendingProbe) -> Vec<u8> {
    let mut reply = probe.packet.to_vec();
    reply[0] = 0;
    fix_checksum(&mut reply);
    reply
}

fn ignored(state: &mut ProberState) -> IgnoredPackets {
    state.snapshot(ms(0), &[]).ignored
}

#[test]
fn a_matching_reply_becomes_an_active_sample() {
    let mut s = state();
    let probe = send(&mut s, ms(1_000));
    let sample = s
        .on_packet(V4, &reply_to(&probe), Some(probe.target), ms(1_020))
        .unwrap();
    assert_eq!(sample.rtt, Duration::from_millis(20));
    assert_eq!(sample.at, ms(1_020));
    assert_eq!(sample.kind, SampleKind::Active);
    assert_eq!(sample.flow, reflector_flow(probe.target));
    // The same reply again (a duplicate) matches nothing.
    assert!(
        s.on_packet(V4, &reply_to(&probe), Some(probe.target), ms(1_021))
            .is_none()
    );
    assert_eq!(ignored(&mut s).foreign, 1);
}

#[test]
fn replies_that_are_not_ours_never_become_samples() {
    let mut s = state();
    let probe = send(&mut s, ms(0));
    let good = reply_to(&probe);

    // Another process's identifier, then another prober's cookie, each with a valid checksum.
    let mut other_id = good.clone();
    other_id[4] ^= 1;
    fix_checksum(&mut other_id);
    assert!(
        s.on_packet(V4, &other_id, Some(probe.target), ms(5))
            .is_none()
    );

    let mut other_cookie = good.clone();
    other_cookie[8] ^= 0x80;
    fix_checksum(&mut other_cookie);
    assert!(
        s.on_packet(V4, &other_cookie, Some(probe.target), ms(5))
            .is_none()
    );

    let other_reflector = ip("192.0.2.2");
    assert!(
        s.on_packet(V4, &good, Some(other_reflector), ms(5))
            .is_none(),
        "wrong source"
    );
    assert_eq!(ignored(&mut s).foreign, 3);

    assert!(
        s.on_packet(V4, &good[..12], Some(probe.target), ms(5))
            .is_none()
    );
    let mut corrupt = good.clone();
    corrupt[15] ^= 1;
    assert!(
        s.on_packet(V4, &corrupt, Some(probe.target), ms(5))
            .is_none()
    );
    assert!(
        s.on_packet(V4, &probe.packet, Some(probe.target), ms(5))
            .is_none(),
        "a request"
    );
    let counts = ignored(&mut s);
    assert_eq!((counts.malformed, counts.not_reply), (2, 1));

    // After all that noise the real reply still matches.
    let sample = s.on_packet(V4, &good, Some(probe.target), ms(7)).unwrap();
    assert_eq!(sample.rtt, Duration::from_millis(7));
}

#[test]
fn raw_ipv4_packets_are_matched_after_the_ip_header() {
    let mut s = state();
    let probe = send(&mut s, ms(0));
    let mut packet = vec![
        0x45, 0, 0, 36, 0, 0, 0, 0, 64, 1, 0, 0, 192, 0, 2, 1, 192, 0, 2, 9,
    ];
    packet.extend_from_slice(&reply_to(&probe));
    let raw = Endpoint {
        ip_header: true,
        ..V4
    };
    assert!(
        s.on_packet(raw, &packet, Some(probe.target), ms(3))
            .is_some()
    );
}

#[test]
fn the_deadline_decides_even_before_the_expiry_timer_runs() {
    let mut s = state();
    let probe = send(&mut s, ms(0));
    assert!(
        s.on_packet(V4, &reply_to(&probe), Some(probe.target), ms(1_001))
            .is_none()
    );
    let health = s.snapshot(ms(1_001), &[]);
    assert_eq!(
        (health.lost, health.replies, health.ignored.late),
        (1, 0, 1)
    );
}

#[test]
fn expired_probes_count_as_lost_and_their_late_replies_as_late() {
    let mut s = state();
    let probe = send(&mut s, ms(0));
    s.expire(ms(500));
    assert_eq!(
        s.snapshot(ms(500), &[]).lost,
        0,
        "still within the deadline"
    );
    s.expire(ms(1_500));
    let target = probe.target;
    let health = s.snapshot(ms(1_500), &[]);
    assert_eq!(health.lost, 1);
    assert_eq!(health.reflector(target).unwrap().offences, 1);
    assert!(
        s.on_packet(V4, &reply_to(&probe), Some(target), ms(1_600))
            .is_none()
    );
    assert_eq!(ignored(&mut s).late, 1);
}

#[test]
fn an_unsendable_probe_is_an_offence() {
    let mut s = state();
    let probe = s.next_probe(|_| Some(ID)).unwrap();
    let unreachable = std::io::Error::from_raw_os_error(libc::ENETUNREACH);
    s.probe_sent(&probe, ms(0), Err(unreachable));
    let health = s.snapshot(ms(0), &[]);
    assert_eq!((health.send_errors, health.lost), (1, 1));
    assert_eq!(health.reflector(probe.target).unwrap().offences, 1);
}

#[test]
fn probes_without_a_socket_for_their_family_are_not_built() {
    let mut s = state();
    assert!(s.next_probe(|_| None).is_none());
}
