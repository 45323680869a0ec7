//! Byte-level tests of the CAKE netlink messages and parsers, and of configuration validation.

use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};

use super::{
    config::{CakeConfig, OverheadPreset},
    netlink::{ROOT, new_qdisc_message},
    options::{AckFilter, CakeOptions, DiffservMode, FlowMode},
    qdisc::{CAKE_HANDLE, handle_text},
    stats::{Accumulator, CakeAppStats},
};

fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let len = 4 + value.len();
    let mut out = Vec::new();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(len.next_multiple_of(4), 0);
    out
}

fn serialize(
    mut msg: netlink_packet_core::NetlinkMessage<netlink_packet_route::RouteNetlinkMessage>,
) -> Vec<u8> {
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

#[test]
fn rate_change_is_exactly_kind_and_base_rate_with_the_pinned_handle() {
    let options = CakeOptions::rate_only(12_500_000).to_nlas();
    let bytes = serialize(new_qdisc_message(
        7,
        ROOT,
        CAKE_HANDLE,
        "cake",
        Some(options),
        0,
    ));
    let mut expected = Vec::new();
    expected.extend_from_slice(&64u32.to_ne_bytes()); // nlmsg_len
    expected.extend_from_slice(&36u16.to_ne_bytes()); // RTM_NEWQDISC
    expected.extend_from_slice(&0x0005u16.to_ne_bytes()); // REQUEST|ACK: `tc qdisc change`
    expected.extend_from_slice(&[0; 8]); // seq, pid
    expected.extend_from_slice(&[0, 0, 0, 0]); // family, pad
    expected.extend_from_slice(&7i32.to_ne_bytes());
    expected.extend_from_slice(&0x0001_0000u32.to_ne_bytes()); // handle 1:
    expected.extend_from_slice(&0xFFFF_FFFFu32.to_ne_bytes()); // parent root
    expected.extend_from_slice(&0u32.to_ne_bytes());
    expected.extend(nla(1, b"cake\0"));
    expected.extend(nla(2, &nla(2, &12_500_000u64.to_ne_bytes())));
    assert_eq!(bytes, expected);
}

#[test]
fn install_carries_every_configured_option_and_replace_flags() {
    let options = CakeOptions {
        base_rate_bytes: Some(1_000_000),
        diffserv: Some(DiffservMode::Besteffort),
        flow_mode: Some(FlowMode::DualDsthost),
        nat: Some(true),
        ingress: Some(true),
        overhead: Some(-4),
        ack_filter: Some(AckFilter::Aggressive),
        ..CakeOptions::default()
    };
    let bytes = serialize(new_qdisc_message(
        3,
        ROOT,
        CAKE_HANDLE,
        "cake",
        Some(options.to_nlas()),
        NLM_F_CREATE | NLM_F_REPLACE,
    ));
    assert_eq!(
        u16::from_ne_bytes([bytes[6], bytes[7]]),
        0x0005 | 0x0400 | 0x0100
    );
    // Skip nlmsghdr, tcmsg and TCA_KIND; what is left is TCA_OPTIONS.
    let options_nla = &bytes[16 + 20 + 12..];
    assert_eq!(u16::from_ne_bytes([options_nla[2], options_nla[3]]), 2);
    let parsed = CakeOptions::parse(&options_nla[4..]).unwrap();
    assert_eq!(parsed, options);
    assert!(
        options_nla[4..]
            .windows(8)
            .any(|w| w == nla(6, &(-4i32).to_ne_bytes()).as_slice())
    );
}

#[test]
fn options_parse_what_the_kernel_dumps_including_raw_and_unknown_attributes() {
    let mut blob = Vec::new();
    blob.extend(nla(2, &1_250_000u64.to_ne_bytes()));
    blob.extend(nla(5, &7u32.to_ne_bytes()));
    blob.extend(nla(7, &100_000u32.to_ne_bytes()));
    blob.extend(nla(3, &1u32.to_ne_bytes()));
    blob.extend(nla(12, &0u32.to_ne_bytes()));
    blob.extend(nla(99, &[1, 2, 3, 4]));
    let o = CakeOptions::parse(&blob).unwrap();
    assert_eq!(o.base_rate_bytes, Some(1_250_000));
    assert_eq!(o.flow_mode, Some(FlowMode::TripleIsolate));
    assert_eq!(o.diffserv, Some(DiffservMode::Diffserv4));
    assert_eq!(o.rtt_us, Some(100_000));
    assert!(o.raw);
    assert!(
        CakeOptions::parse(&nla(3, &9u32.to_ne_bytes())).is_err(),
        "unknown diffserv value"
    );
    assert!(
        CakeOptions::parse(&nla(2, &[1, 2, 3, 4])).is_err(),
        "short rate"
    );
}

fn tin(
    sent_bytes: u64,
    packets: u32,
    drops: u32,
    ecn: u32,
    backlog: u32,
    peak: u32,
    avg: u32,
) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(nla(1, &[])); // PAD before a u64, as nla_put_u64_64bit writes it
    t.extend(nla(12, &1_000u64.to_ne_bytes()));
    t.extend(nla(3, &sent_bytes.to_ne_bytes()));
    t.extend(nla(11, &backlog.to_ne_bytes()));
    t.extend(nla(2, &packets.to_ne_bytes()));
    t.extend(nla(4, &drops.to_ne_bytes()));
    t.extend(nla(8, &ecn.to_ne_bytes()));
    t.extend(nla(18, &peak.to_ne_bytes()));
    t.extend(nla(19, &avg.to_ne_bytes()));
    t.extend(nla(20, &5u32.to_ne_bytes()));
    t
}

fn app(tins: &[Vec<u8>]) -> Vec<u8> {
    let mut nest = Vec::new();
    for (i, t) in tins.iter().enumerate() {
        nest.extend(nla(i as u16 + 1, t));
    }
    let mut blob = nla(2, &9_999u64.to_ne_bytes());
    blob.extend(nla(3, &4_194_304u32.to_ne_bytes()));
    blob.extend(nla(10, &nest));
    blob
}

#[test]
fn stats_parse_per_tin_counters_and_skip_padding() {
    let stats = CakeAppStats::parse(&app(&[
        tin(10, 1, 0, 0, 0, 1, 1),
        tin(3_000, 20, 2, 3, 1514, 900, 400),
    ]))
    .unwrap();
    assert_eq!(stats.capacity_estimate_bytes, 9_999);
    assert_eq!(stats.memory_limit, 4_194_304);
    assert_eq!(stats.tins.len(), 2);
    let t = stats.tins[1];
    assert_eq!(
        (
            t.sent_bytes,
            t.sent_packets,
            t.dropped_packets,
            t.ecn_marked_packets
        ),
        (3_000, 20, 2, 3)
    );
    assert_eq!(
        (
            t.backlog_bytes,
            t.peak_delay_us,
            t.avg_delay_us,
            t.base_delay_us
        ),
        (1514, 900, 400, 5)
    );
    assert_eq!(t.threshold_rate_bytes, 1_000);
}

#[test]
fn accumulator_counts_across_a_32_bit_wrap_and_survives_a_reinstalled_qdisc() {
    let mut acc = Accumulator::default();
    let first = CakeAppStats::parse(&app(&[tin(100, u32::MAX - 1, 0, 0, 0, 0, 0)])).unwrap();
    assert_eq!(acc.update(&first).sent_packets, u64::from(u32::MAX - 1));
    let wrapped = CakeAppStats::parse(&app(&[tin(200, 3, 1, 0, 0, 0, 0)])).unwrap();
    let total = acc.update(&wrapped);
    assert_eq!(total.sent_packets, u64::from(u32::MAX) + 4);
    assert_eq!((total.sent_bytes, total.dropped_packets), (200, 1));
    // A new qdisc starts its counters at zero: the totals keep growing from there.
    let fresh = CakeAppStats::parse(&app(&[tin(50, 2, 0, 7, 0, 0, 0)])).unwrap();
    let total = acc.update(&fresh);
    assert_eq!(
        (
            total.sent_bytes,
            total.sent_packets,
            total.ecn_marked_packets
        ),
        (250, u64::from(u32::MAX) + 6, 7)
    );
}

fn config(yaml: &str) -> Result<CakeConfig, String> {
    let c: CakeConfig = serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())?;
    c.validate().map_err(|e| e.to_string())?;
    Ok(c)
}

#[test]
fn config_defaults_and_download_options() {
    let c = config("interface: eth0\ndownload: {initial_rate: 95Mbit, preset: docsis}\n").unwrap();
    assert_eq!(c.ifb_name().as_deref(), Some("ifb4eth0"));
    let o = c.download.as_ref().unwrap().options(true);
    assert_eq!(o.base_rate_bytes, Some(95_000_000 / 8));
    assert_eq!(
        (o.overhead, o.mpu, o.ingress, o.raw),
        (Some(18), Some(64), Some(true), false)
    );
    assert_eq!(o.flow_mode, Some(FlowMode::DualDsthost));
    assert_eq!(OverheadPreset::Ethernet.values().0, Some(38));
}

#[test]
fn config_errors_name_the_field() {
    let cases = [
        (
            "interface: eth0\nupload: {initial_rate: 20Mbit, colour: red}\n",
            "colour",
        ),
        (
            "interface: eth0\nupload: {initial_rate: 20Mbit, ifb: ifb0}\n",
            "cake.upload.ifb",
        ),
        (
            "interface: eth0\non_exit: safe-rate\nupload: {initial_rate: 20Mbit}\n",
            "cake.upload.safe_rate",
        ),
        (
            "interface: eth0\ndownload: {initial_rate: 20Mbit, preset: docsis, mpu: 64}\n",
            "cake.download.mpu",
        ),
        (
            "interface: eth0\ndownload: {initial_rate: 20Mbit, overhead: 300}\n",
            "cake.download.overhead",
        ),
        (
            "interface: a-very-long-device-name\nupload: {initial_rate: 20Mbit}\n",
            "cake.interface",
        ),
        ("interface: eth0\n", "cake.upload"),
    ];
    for (yaml, field) in cases {
        let error = config(yaml).unwrap_err();
        assert!(error.contains(field), "{yaml}: {error}");
    }
}

#[test]
fn handles_print_like_tc() {
    assert_eq!(handle_text(CAKE_HANDLE), "1:");
    assert_eq!(handle_text(0x8001_0000), "8001:");
}

#[test]
fn kernel_errors_become_actionable_messages() {
    use super::{error::CakeError, netlink::NlError};
    let nl = |errno| NlError {
        errno,
        text: String::new(),
    };
    let e = CakeError::netlink("RTM_NEWQDISC cake change", "eth0", nl(libc::EOPNOTSUPP));
    assert!(matches!(e, CakeError::CakeMq { .. }), "{e:?}");
    assert!(e.to_string().contains("cake_mq"), "{e}");
    let e = CakeError::netlink("RTM_GETLINK", "eth9", nl(libc::ENODEV));
    assert_eq!(
        e.to_string().split(':').next(),
        Some("no such device `eth9`")
    );
    let e = CakeError::netlink("RTM_NEWQDISC cake change", "eth0", nl(libc::EPERM));
    assert!(
        e.to_string()
            .starts_with("RTM_NEWQDISC cake change on eth0 failed"),
        "{e}"
    );
}
