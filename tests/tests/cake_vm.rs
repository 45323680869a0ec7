//! Local CAKE against the real sch_cake: run inside the VM by `cargo xtask vm test` (Debian's 6.12 kernel;
//! the host kernel has no sch_cake). `tc -s -j` is the independent reference throughout.

use std::{net::SocketAddr, time::Duration};

use serde_json::Value;
use wanctl::{
    config::{Bandwidth, DurationSpec},
    shaper::{
        Shaper,
        cake::{
            AckFilter, CakeConfig, CakeDirection, CakeError, CakeShaper, DiffservMode, ExitPolicy,
            FlowMode, OnReplaced, OverheadPreset, SetupMode, remove,
        },
    },
    signal::Direction,
};
use wanctl_tests::{
    netns::{Netns, veth},
    tc::{qdiscs, root_qdisc, tc},
    traffic::{tcp_goodput, udp_flood},
};

/// Two namespaces joined by a veth: `wan` (192.0.2.1, where wanctl shapes `dev`) and `peer`
/// (192.0.2.2, device `p<dev>`).
struct Pair {
    wan: Netns,
    peer: Netns,
}

fn pair(dev: &str) -> Pair {
    let wan = Netns::new("cake");
    let peer = Netns::new("cakepeer");
    let peer_dev = format!("p{dev}");
    veth(&wan, dev, &peer, &peer_dev);
    wan.ip(&["addr", "add", "192.0.2.1/24", "dev", dev]);
    peer.ip(&["addr", "add", "192.0.2.2/24", "dev", &peer_dev]);
    Pair { wan, peer }
}

fn direction(rate_mbit: u64) -> CakeDirection {
    CakeDirection {
        initial_rate: Bandwidth::from_mbit(rate_mbit),
        safe_rate: None,
        ifb: None,
        diffserv: DiffservMode::Diffserv4,
        flow_mode: None,
        nat: false,
        wash: false,
        preset: None,
        overhead: None,
        mpu: None,
        atm: None,
        rtt: None,
        ack_filter: AckFilter::Disabled,
        ingress: None,
    }
}

fn config(dev: &str, upload: Option<CakeDirection>, download: Option<CakeDirection>) -> CakeConfig {
    CakeConfig {
        interface: dev.to_string(),
        mode: SetupMode::Install,
        on_replaced: OnReplaced::Reinstall,
        on_exit: ExitPolicy::LeaveLastRate,
        upload,
        download,
    }
}

/// Runs `f` with a tokio runtime on a thread inside `ns`.
fn in_ns<T: Send>(ns: &Netns, f: impl AsyncFnOnce() -> T + Send) -> T {
    ns.enter(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f())
    })
}

fn options_without_rate(q: &Value) -> Value {
    let mut o = q["options"].clone();
    o.as_object_mut()
        .expect("options object")
        .remove("bandwidth");
    o
}

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
            let mut compared = None;
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
                compared = Some(ours);
                break;
            }
            let ours = compared.expect("the link never stayed quiet for two reads");
            let stats = shaper
                .stats()
                .await
                .expect("stats")
                .upload
                .expect("upload stats");
            assert!(
                stats.dropped_packets > 0,
                "the UDP overload was dropped: {stats:?}"
            );
            assert!(
                stats.ecn_marked_packets > 0,
                "the ECN-capable TCP flow was marked: {stats:?}"
            );
            assert_eq!(
                stats.sent_bytes,
                ours.app.tins.iter().map(|t| t.sent_bytes).sum::<u64>()
            );
        });
    });
}

/// The rate on the shaped link (CAKE's sent bytes as `tc` reads them, headers included) and the TCP
/// goodput, both over the transfer's measurement window.
fn shaped_transfer(ns: &Netns, dev: &str, transfer: impl FnOnce() -> f64 + Send) -> (f64, f64) {
    let bytes = || root_qdisc(ns, dev)["bytes"].as_u64().expect("bytes");
    std::thread::scope(|scope| {
        let start = std::time::Instant::now();
        let worker = scope.spawn(transfer);
        std::thread::sleep(WARMUP);
        let (b0, t0) = (bytes(), start.elapsed());
        std::thread::sleep(SECS - WARMUP);
        let (b1, t1) = (bytes(), start.elapsed());
        let goodput = worker.join().expect("transfer");
        ((b1 - b0) as f64 * 8.0 / (t1 - t0).as_secs_f64(), goodput)
    })
}

fn assert_near(wire: f64, goodput: f64, rate_bps: f64, what: &str) {
    let ratio = wire / rate_bps;
    eprintln!(
        "{what}: link {:.3} Mbit/s (ratio {ratio:.3}), TCP goodput {:.3} Mbit/s, set rate {:.3} Mbit/s",
        wire / 1e6,
        goodput / 1e6,
        rate_bps / 1e6
    );
    // Never more than 10% above the set rate. Below it, a TCG guest on a busy host loses sending
    // opportunities whenever its vCPU is descheduled (TBF loses the same), so the floor is 75%: a rate
    // that was not applied, or applied in the wrong unit, still fails by far.
    assert!(
        ratio <= 1.1,
        "{what}: the link carried {wire:.0} bit/s, more than 10% above {rate_bps}"
    );
    assert!(
        ratio >= 0.75,
        "{what}: the link carried {wire:.0} bit/s, far below {rate_bps}"
    );
}

/// A gateway between a LAN host and a server, as wanctl runs: `lan` (198.51.100.2) -- `gw` (forwarding;
/// WAN device `dev`, 192.0.2.1) -- `server` (192.0.2.2). The shaper sits on a forwarding hop, so the
/// sender's TCP Small Queues do not limit the flow.
struct Gateway {
    lan: Netns,
    gw: Netns,
    server: Netns,
}

fn gateway(dev: &str) -> Gateway {
    let lan = Netns::new("cakelan");
    let gw = Netns::new("cakegw");
    let server = Netns::new("cakesrv");
    veth(&lan, "lan0", &gw, &format!("l{dev}"));
    veth(&gw, dev, &server, "srv0");
    lan.ip(&["addr", "add", "198.51.100.2/24", "dev", "lan0"]);
    lan.ip(&["route", "add", "default", "via", "198.51.100.1"]);
    gw.ip(&["addr", "add", "198.51.100.1/24", "dev", &format!("l{dev}")]);
    gw.ip(&["addr", "add", "192.0.2.1/24", "dev", dev]);
    gw.exec_ok(&["sysctl", "-w", "net.ipv4.ip_forward=1"]);
    server.ip(&["addr", "add", "192.0.2.2/24", "dev", "srv0"]);
    server.ip(&["route", "add", "198.51.100.0/24", "via", "192.0.2.1"]);
    Gateway { lan, gw, server }
}

/// Parallel flows: one CUBIC flow behind a 5 ms AQM target leaves the link idle after each backoff
/// when the VM's timing jitters, several keep it busy as on a real link.
const FLOWS: usize = 4;
const SECS: Duration = Duration::from_secs(6);
const WARMUP: Duration = Duration::from_secs(2);

#[test]
fn egress_and_ifb_ingress_shaping_hold_tcp_to_the_set_rate() {
    let g = gateway("wa3");
    let mut download = direction(1);
    download.diffserv = DiffservMode::Besteffort;
    let mut upload = direction(2);
    upload.diffserv = DiffservMode::Besteffort;
    let cfg = config("wa3", Some(upload), Some(download));
    in_ns(&g.gw, async || {
        let _shaper = CakeShaper::setup(cfg.clone()).await.expect("install");
        let listen = "192.0.2.2:5202".parse().expect("addr");
        let (wire, good) = shaped_transfer(&g.gw, "wa3", || {
            tcp_goodput(&g.lan, &g.server, listen, FLOWS, SECS, WARMUP)
        });
        assert_near(wire, good, 2e6, "upload (egress CAKE)");
        let listen = "198.51.100.2:5203".parse().expect("addr");
        let (wire, good) = shaped_transfer(&g.gw, "ifb4wa3", || {
            tcp_goodput(&g.server, &g.lan, listen, FLOWS, SECS, WARMUP)
        });
        assert_near(wire, good, 1e6, "download (IFB ingress CAKE)");
        let ifb = root_qdisc(&g.gw, "ifb4wa3");
        assert_eq!(ifb["options"]["ingress"], true);
        assert!(
            ifb["bytes"].as_u64().expect("bytes") > 250_000,
            "download went through the IFB"
        );
        let removed = remove(&cfg).await.expect("remove");
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

#[test]
fn adopts_a_cake_and_ifb_configured_by_tc_and_changes_only_the_rate() {
    let p = pair("wa4");
    tc(
        &p.wan,
        &[
            "qdisc",
            "add",
            "dev",
            "wa4",
            "root",
            "cake",
            "bandwidth",
            "20mbit",
            "autorate-ingress",
            "diffserv8",
            "flows",
            "nat",
            "mpu",
            "64",
        ],
    );
    p.wan.ip(&["link", "add", "ifb4wa4", "type", "ifb"]);
    p.wan.ip(&["link", "set", "ifb4wa4", "up"]);
    tc(
        &p.wan,
        &["qdisc", "add", "dev", "wa4", "handle", "ffff:", "ingress"],
    );
    tc(
        &p.wan,
        &[
            "filter", "add", "dev", "wa4", "parent", "ffff:", "protocol", "all", "prio", "10",
            "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev",
            "ifb4wa4",
        ],
    );
    tc(
        &p.wan,
        &[
            "qdisc",
            "add",
            "dev",
            "ifb4wa4",
            "root",
            "cake",
            "bandwidth",
            "50mbit",
            "besteffort",
            "ingress",
            "dual-dsthost",
        ],
    );
    let before_up = options_without_rate(&root_qdisc(&p.wan, "wa4"));
    let before_down = options_without_rate(&root_qdisc(&p.wan, "ifb4wa4"));
    let mut cfg = config("wa4", Some(direction(1)), Some(direction(1)));
    cfg.mode = SetupMode::Adopt;
    in_ns(&p.wan, async || {
        let mut shaper = CakeShaper::setup(cfg.clone()).await.expect("adopt");
        assert_eq!(shaper.device(Direction::Download), Some("ifb4wa4"));
        shaper
            .apply(Direction::Upload, Bandwidth::from_mbit(30))
            .await
            .expect("upload rate");
        shaper
            .apply(Direction::Download, Bandwidth::from_mbit(40))
            .await
            .expect("download rate");
        let removed = remove(&cfg).await.expect("remove");
        assert!(
            removed.is_empty(),
            "adopted objects are not wanctl's to remove: {removed:?}"
        );
    });
    let up = root_qdisc(&p.wan, "wa4");
    assert_eq!(up["options"]["bandwidth"], 30_000_000 / 8);
    assert_eq!(
        up["options"]["autorate"], "autorate-ingress",
        "unlike `tc change bandwidth`, autorate survives"
    );
    assert_eq!(options_without_rate(&up), before_up);
    let down = root_qdisc(&p.wan, "ifb4wa4");
    assert_eq!(down["options"]["bandwidth"], 40_000_000 / 8);
    assert_eq!(options_without_rate(&down), before_down);
    assert!(
        qdiscs(&p.wan, "wa4").iter().any(|q| q["kind"] == "ingress"),
        "the operator's ingress qdisc stays"
    );
}

fn setup_error(ns: &Netns, cfg: CakeConfig) -> CakeError {
    in_ns(ns, async || match CakeShaper::setup(cfg).await {
        Ok(_) => panic!("setup unexpectedly succeeded"),
        Err(e) => e,
    })
}

#[test]
fn each_error_case_names_the_device_and_what_to_do() {
    let p = pair("wa5");
    let e = setup_error(&p.wan, config("nope0", Some(direction(10)), None));
    assert!(matches!(e, CakeError::NoSuchDevice { .. }), "{e:?}");
    assert!(e.to_string().contains("no such device `nope0`"), "{e}");

    tc(
        &p.wan,
        &["qdisc", "add", "dev", "wa5", "root", "handle", "1:", "htb"],
    );
    let mut adopt = config("wa5", Some(direction(10)), None);
    adopt.mode = SetupMode::Adopt;
    let e = setup_error(&p.wan, adopt);
    assert!(
        e.to_string()
            .contains("root qdisc of wa5 is `htb`, not cake"),
        "{e}"
    );
    let e = setup_error(&p.wan, config("wa5", Some(direction(10)), None));
    assert!(matches!(e, CakeError::HandleTaken { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("handle 1: on wa5 is taken by a `htb` qdisc"),
        "{e}"
    );
    assert_eq!(
        root_qdisc(&p.wan, "wa5")["kind"],
        "htb",
        "the operator's qdisc was not touched"
    );
    tc(&p.wan, &["qdisc", "del", "dev", "wa5", "root"]);

    // Without the module (and no modprobe in the VM) the kernel cannot create a cake qdisc.
    let rmmod = p.wan.exec(&["rmmod", "sch_cake"]);
    assert!(
        rmmod.status.success(),
        "rmmod sch_cake: {}",
        String::from_utf8_lossy(&rmmod.stderr)
    );
    let e = setup_error(&p.wan, config("wa5", Some(direction(10)), None));
    let insmod = p.wan.exec(&["insmod", "/lib/modules/sch_cake.ko"]);
    assert!(insmod.status.success(), "insmod sch_cake back");
    assert!(matches!(e, CakeError::ModuleMissing { .. }), "{e:?}");
    assert!(e.to_string().contains("modprobe sch_cake"), "{e}");
}

#[test]
fn a_cake_replaced_behind_our_back_is_reported_or_reinstalled() {
    let p = pair("wa6");
    let mut cfg = config("wa6", Some(direction(10)), None);
    cfg.on_replaced = OnReplaced::Report;
    in_ns(&p.wan, async || {
        let mut shaper = CakeShaper::setup(cfg.clone()).await.expect("install");
        tc(
            &p.wan,
            &[
                "qdisc", "replace", "dev", "wa6", "root", "handle", "2:", "htb",
            ],
        );
        let e = shaper
            .apply(Direction::Upload, Bandwidth::from_mbit(11))
            .await
            .expect_err("replaced");
        assert!(
            e.to_string()
                .contains("was replaced or removed (root is now `htb 2:`)"),
            "{e}"
        );
        assert_eq!(
            root_qdisc(&p.wan, "wa6")["kind"],
            "htb",
            "report leaves it alone"
        );
        assert!(shaper.health().last_error.is_some());

        cfg.on_replaced = OnReplaced::Reinstall;
        cfg.upload.as_mut().expect("upload").safe_rate = Some(Bandwidth::from_mbit(3));
        cfg.on_exit = ExitPolicy::SafeRate;
        let mut shaper = CakeShaper::setup(cfg.clone())
            .await
            .expect("install over htb 2:");
        tc(&p.wan, &["qdisc", "del", "dev", "wa6", "root"]);
        shaper
            .apply(Direction::Upload, Bandwidth::from_mbit(12))
            .await
            .expect("reinstalled");
        let q = root_qdisc(&p.wan, "wa6");
        assert_eq!(
            (q["kind"].as_str(), q["handle"].as_str()),
            (Some("cake"), Some("1:"))
        );
        assert_eq!(q["options"]["bandwidth"], 12_000_000 / 8);
        assert_eq!(
            q["options"]["flowmode"], "dual-srchost",
            "reinstalled with the configured options"
        );
        shaper.shutdown().await.expect("exit policy");
        assert_eq!(
            root_qdisc(&p.wan, "wa6")["options"]["bandwidth"],
            3_000_000 / 8,
            "safe rate on exit"
        );
        remove(&cfg).await.expect("remove");
    });
    assert_eq!(root_qdisc(&p.wan, "wa6")["kind"], "noqueue");
}

#[test]
fn check_cake_reports_then_fixes_and_shaper_remove_cleans_up() {
    use std::process::ExitCode;
    use wanctl::cli::{check_cake, shaper};
    let p = pair("wa7");
    let path = std::env::temp_dir().join("wanctl-check-cake.yaml");
    std::fs::write(
        &path,
        "wans:\n  - name: a\n    cake:\n      interface: wa7\n      upload: {initial_rate: 10Mbit, diffserv: besteffort}\n      download: {initial_rate: 20Mbit}\n",
    )
    .expect("write config");
    let code = |c: ExitCode| format!("{c:?}");
    let check = |fix: bool| {
        let args = check_cake::Args {
            config: path.clone(),
            fix,
        };
        p.wan
            .enter(|| check_cake::run(&args).expect("check-cake runs"))
    };
    assert_eq!(
        code(check(false)),
        code(ExitCode::FAILURE),
        "nothing installed yet"
    );
    assert_eq!(code(check(true)), code(ExitCode::SUCCESS), "--fix installs");
    assert_eq!(code(check(false)), code(ExitCode::SUCCESS));
    assert_eq!(
        root_qdisc(&p.wan, "wa7")["options"]["diffserv"],
        "besteffort"
    );
    tc(
        &p.wan,
        &[
            "qdisc",
            "change",
            "dev",
            "wa7",
            "root",
            "handle",
            "1:",
            "cake",
            "diffserv8",
        ],
    );
    assert_eq!(
        code(check(false)),
        code(ExitCode::FAILURE),
        "a changed option is reported"
    );
    assert_eq!(code(check(true)), code(ExitCode::SUCCESS), "and fixed");
    assert_eq!(
        root_qdisc(&p.wan, "wa7")["options"]["diffserv"],
        "besteffort"
    );
    let args = shaper::Args {
        command: shaper::ShaperCommand::Remove {
            config: path.clone(),
        },
    };
    assert_eq!(
        code(p.wan.enter(|| shaper::run(&args).expect("remove"))),
        code(ExitCode::SUCCESS)
    );
    assert_eq!(root_qdisc(&p.wan, "wa7")["kind"], "noqueue");
    assert!(
        !p.wan
            .exec(&["ip", "link", "show", "ifb4wa7"])
            .status
            .success(),
        "the IFB wanctl created is gone"
    );
}
