//! Local CAKE against the real sch_cake: run inside the VM by `cargo xtask vm test` (Debian's 6.12 kernel;
//! the host kernel has no sch_cake). `tc -s -j` is the independent reference throughout.

use std::{net::SocketAddr, time::Duration};

use serde_json::Value;
use wanctl::{
    config::{Bandwidth, DurationSpec},
    shaper::{
        Shaper,
        cake::{AckFilter, CakeShaper, DiffservMode, FlowMode, OverheadPreset, remove},
    },
    signal::Direction,
};
use wanctl_tests::cake::{config, direction, gateway, in_ns, options_without_rate, pair};
use wanctl_tests::{
    tc::{qdiscs, root_qdisc},
    traffic::{tcp_goodput, udp_flood},
};

#[test]
fn install_sets_exactly_the_configured_options_and_1000_rate_changes_touch_only_the_rate() {
    let p = pair("wa1");
    let mut upload = direction(10);
    upload.flow_mode = Some(FlowMode::TripleIsolate);
    upload.nat = true;
    upload.wash = true;
    upload.preset = Some(OverheadPreset::Ethernet);
    upload.rtt = Some(DurationSpec::from_millis(50));
    upload.ack_filter = AckFilter::Filter;
    let cfg = config("wa1", Some(upload), None);
    let health = in_ns(&p.wan, async || {
        let mut shaper = CakeShaper::setup(cfg).await.expect("install");
        let q = root_qdisc(&p.wan, "wa1");
        assert_eq!(q["kind"], "cake");
        assert_eq!(q["handle"], "1:");
        let expected = serde_json::json!({
            "bandwidth": 1_250_000, "diffserv": "diffserv4", "flowmode": "triple-isolate", "nat": true,
            "wash": true, "ingress": false, "ack-filter": "enabled", "split_gso": true, "rtt": 50_000,
            "raw": false, "atm": "noatm", "overhead": 38, "mpu": 84, "fwmark": "0"
        });
        assert_eq!(
            q["options"], expected,
            "tc shows exactly the configured options"
        );
        let before = options_without_rate(&q);
        for i in 1..=1000u64 {
            shaper
                .apply(
                    Direction::Upload,
                    Bandwidth::from_bps(5_000_000 + i * 8_000),
                )
                .await
                .expect("change");
        }
        // An unchanged rate is not written.
        shaper
            .apply(
                Direction::Upload,
                Bandwidth::from_bps(5_000_000 + 1000 * 8_000),
            )
            .await
            .expect("same");
        let q = root_qdisc(&p.wan, "wa1");
        assert_eq!(q["options"]["bandwidth"], (5_000_000 + 1000 * 8_000) / 8);
        assert_eq!(
            options_without_rate(&q),
            before,
            "every other option unchanged"
        );
        assert_eq!(q["handle"], "1:");
        shaper.health()
    });
    assert_eq!((health.writes_done, health.writes_skipped), (1000, 1));
    assert!(health.reachable && health.last_error.is_none());
}

/// Monotonic tin counters tc printed between two of our reads lie between them.
fn assert_between(
    ours_before: &Value,
    tc_tin: &Value,
    ours_after: &Value,
    key_ours: &str,
    key_tc: &str,
) {
    let (a, t, b) = (
        ours_before[key_ours].as_u64(),
        tc_tin[key_tc].as_u64(),
        ours_after[key_ours].as_u64(),
    );
    let (a, t, b) = (a.expect(key_ours), t.expect(key_tc), b.expect(key_ours));
    assert!(a <= t && t <= b, "{key_tc}: ours {a}..{b}, tc {t}");
}

#[test]
fn stats_equal_tc_under_traffic_and_overload_shows_drops_and_ecn_marks() {
    let p = pair("wa2");
    p.wan.exec_ok(&["sysctl", "-w", "net.ipv4.tcp_ecn=1"]);
    let cfg = config("wa2", Some(direction(4)), None);
    let listen: SocketAddr = "192.0.2.2:5201".parse().expect("addr");
    let target: SocketAddr = "192.0.2.2:9".parse().expect("addr");
    p.wan.enter(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        let mut shaper = rt.block_on(CakeShaper::setup(cfg)).expect("install");
        std::thread::scope(|scope| {
            let traffic = scope.spawn(|| {
                std::thread::scope(|inner| {
                    inner.spawn(|| {
                        udp_flood(&p.wan, target, 12_000_000, 1200, Duration::from_secs(4))
                    });
                    tcp_goodput(
                        &p.wan,
                        &p.peer,
                        listen,
                        1,
                        Duration::from_secs(4),
                        Duration::from_secs(1),
                    )
                })
            });
            std::thread::sleep(Duration::from_secs(2));
            for _ in 0..3 {
                let before = rt.block_on(shaper.read(Direction::Upload)).expect("read");
                let tc_q = root_qdisc(&p.wan, "wa2");
                let after = rt.block_on(shaper.read(Direction::Upload)).expect("read");
                let before = serde_json::to_value(&before.app).expect("json");
                let after = serde_json::to_value(&after.app).expect("json");
                let tc_tins = tc_q["tins"].as_array().expect("tins");
                assert_eq!(tc_tins.len(), 4);
                for (i, t) in tc_tins.iter().enumerate() {
                    let (b, a) = (&before["tins"][i], &after["tins"][i]);
                    assert_between(b, t, a, "sent_bytes", "sent_bytes");
                    assert_between(b, t, a, "sent_packets", "sent_packets");
                    assert_between(b, t, a, "dropped_packets", "drops");
                    assert_between(b, t, a, "ecn_marked_packets", "ecn_mark");
                }
            }
            traffic.join().expect("traffic");
        });
        rt.block_on(async {
            // Quiet link: every per-tin value, including backlog and delays, equals tc's. A stray packet
            // (ARP, IPv6 neighbour discovery) between the reads is caught by reading twice around tc.
            std::thread::sleep(Duration::from_millis(300));
            let mut compared = false;
            for _ in 0..5 {
                let ours = shaper.read(Direction::Upload).await.expect("read");
                let tc_q = root_qdisc(&p.wan, "wa2");
                let again = shaper.read(Direction::Upload).await.expect("read");
                if ours.app != again.app {
                    continue;
                }
                let tins = tc_q["tins"].as_array().expect("tins");
                for (ours, t) in ours.app.tins.iter().zip(tins) {
                    let pairs = [
                        (ours.sent_bytes, "sent_bytes"),
                        (u64::from(ours.sent_packets), "sent_packets"),
                        (u64::from(ours.dropped_packets), "drops"),
                        (u64::from(ours.ecn_marked_packets), "ecn_mark"),
                        (u64::from(ours.ack_dropped_packets), "ack_drops"),
                        (u64::from(ours.backlog_bytes), "backlog_bytes"),
                        (u64::from(ours.peak_delay_us), "peak_delay_us"),
                        (u64::from(ours.avg_delay_us), "avg_delay_us"),
                        (u64::from(ours.base_delay_us), "base_delay_us"),
                        (ours.threshold_rate_bytes, "threshold_rate"),
                    ];
                    for (value, key) in pairs {
                        assert_eq!(Some(value), t[key].as_u64(), "{key}");
                    }
                }
                assert_eq!(
                    u64::from(ours.totals.drops),
                    tc_q["drops"].as_u64().expect("drops")
                );
                compared = true;
                break;
            }
            assert!(compared, "the link never stayed quiet for two reads");
            // The accumulated totals are the tins' sums, compared on a quiet link as above (a stray
            // packet between two reads once moved sent_bytes by 42).
            let mut totals = None;
            for _ in 0..5 {
                let before = shaper.read(Direction::Upload).await.expect("read");
                let stats = shaper
                    .stats()
                    .await
                    .expect("stats")
                    .upload
                    .expect("upload stats");
                let after = shaper.read(Direction::Upload).await.expect("read");
                if before.app != after.app {
                    continue;
                }
                assert_eq!(
                    stats.sent_bytes,
                    before.app.tins.iter().map(|t| t.sent_bytes).sum::<u64>()
                );
                totals = Some(stats);
                break;
            }
            let stats = totals.expect("the link never stayed quiet around a stats read");
            assert!(
                stats.dropped_packets > 0,
                "the UDP overload was dropped: {stats:?}"
            );
            assert!(
                stats.ecn_marked_packets > 0,
                "the ECN-capable TCP flow was marked: {stats:?}"
            );
        });
    });
}

/// One direction's CAKE counters and the WAN device's byte counters at one instant, read in-process in
/// the gateway's namespace: a `tc` process in the TCG guest takes hundreds of milliseconds, which would
/// blur the measurement window by several percent.
#[derive(Clone, Copy)]
struct Snapshot {
    at: std::time::Instant,
    sent_bytes: u64,
    sent_packets: u64,
    drops: u64,
    backlog: u64,
    wan_rx: u64,
    wan_tx: u64,
}

/// Reads `dir`'s CAKE over netlink and the WAN device's counters, now.
fn snapshot(rt: &tokio::runtime::Runtime, shaper: &CakeShaper, dir: Direction) -> Snapshot {
    let reading = rt.block_on(shaper.read(dir)).expect("read CAKE stats");
    let at = std::time::Instant::now();
    let (wan_rx, wan_tx) = device_bytes("wa3");
    Snapshot {
        at,
        sent_bytes: reading.totals.bytes,
        sent_packets: u64::from(reading.totals.packets),
        drops: u64::from(reading.totals.drops),
        backlog: u64::from(reading.totals.backlog),
        wan_rx,
        wan_tx,
    }
}

/// Received and transmitted bytes of `dev` in the calling thread's namespace, from the kernel's
/// device counters (independent of wanctl's netlink parsing).
fn device_bytes(dev: &str) -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/thread-self/net/dev").expect("/proc net/dev");
    let fields: Vec<u64> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim() == dev)
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().expect("counter"))
                .collect()
        })
        .unwrap_or_else(|| panic!("{dev} not in net/dev"));
    (fields[0], fields[8])
}

/// Runs `transfer`; returns the counters at the end of its warm-up and shortly before it stops, and its
/// TCP goodput.
fn measure(
    rt: &tokio::runtime::Runtime,
    shaper: &CakeShaper,
    dir: Direction,
    transfer: impl FnOnce() -> f64 + Send,
) -> (Snapshot, Snapshot, f64) {
    std::thread::scope(|scope| {
        let start = std::time::Instant::now();
        let worker = scope.spawn(transfer);
        std::thread::sleep(WARMUP);
        let first = snapshot(rt, shaper, dir);
        std::thread::sleep((SECS - Duration::from_millis(300)).saturating_sub(start.elapsed()));
        let last = snapshot(rt, shaper, dir);
        (first, last, worker.join().expect("transfer"))
    })
}

/// Checks that the bytes CAKE charged to its shaper between `a` and `b` ran within 10% of `rate_bps`.
/// Without `ingress` that is what CAKE sent (Ethernet frames, the unit of its rate when no overhead is
/// configured). With `ingress` CAKE also charges the packets it drops, since they already crossed the
/// bottleneck upstream (tc-cake(8)); they are not sent, so sent bytes alone fall short by the drop rate
/// (8 to 13% here: a few flows at a few Mbit/s). CAKE counts dropped packets, not bytes; in the
/// download direction every packet is a full-size data segment (the ACKs go the other way), so the
/// mean size of the packets sent in the window prices them.
/// Goodput (payload only, after drops) is logged, not checked.
fn assert_near(a: Snapshot, b: Snapshot, goodput: f64, rate_bps: f64, ingress: bool, what: &str) {
    let secs = (b.at - a.at).as_secs_f64();
    let sent = (b.sent_bytes - a.sent_bytes) as f64;
    let mean = sent / (b.sent_packets - a.sent_packets).max(1) as f64;
    let dropped = (b.drops - a.drops) as f64 * mean;
    let charged = if ingress { sent + dropped } else { sent };
    let bps = |bytes: f64| bytes * 8.0 / secs;
    // The WAN device's view, for the log: frames sent, or frames received less what CAKE still holds.
    let link = if ingress {
        (b.wan_rx - a.wan_rx) as f64 - (b.backlog as f64 - a.backlog as f64)
    } else {
        (b.wan_tx - a.wan_tx) as f64
    };
    let ratio = bps(charged) / rate_bps;
    eprintln!(
        "{what}: set {:.3} Mbit/s; CAKE charged {:.3} Mbit/s (ratio {ratio:.3}; sent {:.3}, dropped {} \
         packets); WAN link {:.3} Mbit/s; TCP goodput {:.3} Mbit/s; window {secs:.2} s",
        rate_bps / 1e6,
        bps(charged) / 1e6,
        bps(sent) / 1e6,
        b.drops - a.drops,
        bps(link) / 1e6,
        goodput / 1e6,
    );
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{what}: CAKE charged {:.0} bit/s, not within 10% of {rate_bps}",
        bps(charged)
    );
}

/// Parallel flows: one CUBIC flow behind a 5 ms AQM target leaves the link idle after each backoff
/// when the VM's timing jitters, several keep it busy as on a real link.
const FLOWS: usize = 4;
const SECS: Duration = Duration::from_secs(8);
const WARMUP: Duration = Duration::from_secs(2);

/// Rates a TCG guest on a busy 2-core host sustains: the packets CAKE keeps queued must bridge a
/// descheduled vCPU, else the link idles and the rate is lost. Egress CAKE keeps about four MTU times
/// (24 ms at 2 Mbit/s, half that at 4), so upload gets the lower rate; in ingress mode CAKE keeps two
/// packets per bulk flow. Different per direction, so swapped directions fail.
const UPLOAD_MBIT: u64 = 2;
const DOWNLOAD_MBIT: u64 = 3;

#[test]
fn egress_and_ifb_ingress_shaping_hold_tcp_to_the_set_rate() {
    let g = gateway("wa3");
    let mut download = direction(DOWNLOAD_MBIT);
    download.diffserv = DiffservMode::Besteffort;
    let mut upload = direction(UPLOAD_MBIT);
    upload.diffserv = DiffservMode::Besteffort;
    let cfg = config("wa3", Some(upload), Some(download));
    g.gw.enter(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let shaper = rt
            .block_on(CakeShaper::setup(cfg.clone()))
            .expect("install");
        let listen = "192.0.2.2:5202".parse().expect("addr");
        let (a, b, good) = measure(&rt, &shaper, Direction::Upload, || {
            tcp_goodput(&g.lan, &g.server, listen, FLOWS, SECS, WARMUP)
        });
        let mbit = |m: u64| m as f64 * 1e6;
        assert_near(a, b, good, mbit(UPLOAD_MBIT), false, "upload (egress CAKE)");
        let listen = "198.51.100.2:5203".parse().expect("addr");
        let (a, b, good) = measure(&rt, &shaper, Direction::Download, || {
            tcp_goodput(&g.server, &g.lan, listen, FLOWS, SECS, WARMUP)
        });
        assert_near(
            a,
            b,
            good,
            mbit(DOWNLOAD_MBIT),
            true,
            "download (IFB ingress CAKE)",
        );
        let ifb = root_qdisc(&g.gw, "ifb4wa3");
        assert_eq!(ifb["options"]["ingress"], true);
        assert!(
            ifb["bytes"].as_u64().expect("bytes") >= b.sent_bytes,
            "tc sees the download on the IFB's CAKE: {ifb}"
        );
        let removed = rt.block_on(remove(&cfg)).expect("remove");
        assert_eq!(removed.len(), 5, "{removed:?}");
    });
    assert_eq!(
        root_qdisc(&g.gw, "wa3")["kind"],
        "noqueue",
        "our root CAKE is gone"
    );
    assert!(
        qdiscs(&g.gw, "wa3").iter().all(|q| q["kind"] != "clsact"),
        "our clsact is gone"
    );
    assert!(
        !g.gw
            .exec(&["ip", "link", "show", "ifb4wa3"])
            .status
            .success(),
        "our IFB is gone"
    );
}
