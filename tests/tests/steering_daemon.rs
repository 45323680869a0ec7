//! Steering by the real daemon: `wanctl run` on a two-WAN gateway measures both WANs passively; a CUBIC
//! upload saturates WAN1's 20 Mbit/s bottleneck, the control core goes RED on its own samples, and the
//! steering task moves new latency-sensitive connections to WAN2 (the shipped nftables example classifies);
//! bulk and pre-existing connections stay on WAN1. When the upload stops, WAN1 turns GREEN again and new
//! connections return to WAN1. Start-up removes a rule left by a crashed run; SIGTERM leaves no steering.

use std::{
    net::{IpAddr, SocketAddr},
    path::Path,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use wanctl_tests::{
    daemon::{Daemon, free_port, http_get, metric},
    netns::is_root,
    steering_topology::{
        BulkUpload, PeerServers, ServerCounters, SteeringTopology, TcpAsker, WAN1_ADDR, WAN2_ADDR,
        udp_ask,
    },
};

const STUN: u16 = 3478;
const SSH: u16 = 22;
const BULK: u16 = 5201;
const PATIENCE: Duration = Duration::from_secs(30);

fn config(dir: &Path, port: u16) -> Value {
    let control = json!({
        "min_rtt": "10us",
        "target_bloat": "15ms", "warn_bloat": "45ms", "hard_red_bloat": "80ms",
        "download": { "ceiling": "22Mbit", "floor_red": "5Mbit", "step_up": "1Mbit" },
        "upload": { "ceiling": "22Mbit", "floor_red": "5Mbit", "step_up": "1Mbit" },
    });
    json!({
        "schema_version": 1,
        "service": {
            "http_listen": format!("127.0.0.1:{port}"),
            "state_dir": dir.join("state"),
            "runtime_dir": dir.join("run"),
        },
        "wans": [
            { "name": "wan1", "interface": "wan1", "control": control },
            { "name": "wan2", "interface": "wan2", "control": control },
        ],
        "steering": {
            "primary": "wan1",
            "alternate": "wan2",
            "enter": { "sustain": "1s" },
            "leave": { "sustain": "2s" },
            "hold_down": "3s",
            "actuator": { "linux": {
                "fwmark": 1, "fwmask": 1, "table": 100, "priority": 1000,
                "sticky": { "fwmark": 2, "fwmask": 2, "priority": 999 },
                "route": { "device": "wan2", "gateway": "203.0.113.2" },
            }},
        },
    })
}

fn ip(addr: Option<SocketAddr>) -> IpAddr {
    addr.expect("the server answered").ip()
}

/// Polls `done` every 100 ms, running `meanwhile` between polls, until it holds or `PATIENCE` passes.
fn eventually(what: &str, mut meanwhile: impl FnMut(), done: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        meanwhile();
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn the_daemon_steers_new_latency_class_connections_while_wan1_is_congested() {
    assert!(is_root(), "this test needs root");
    let topo = SteeringTopology::new("20mbit");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/steering-nftables.nft");
    topo.gw.exec_ok(&["nft", "-f", example.to_str().unwrap()]);
    let _servers = PeerServers::start(&topo.server, &[STUN], &[SSH], &[BULK]);
    let counters = ServerCounters::new(&topo.server);
    counters.watch("bulk_wan2", "srv2", BULK, None);
    // A steering rule left behind by a crashed run.
    topo.gw.ip(&[
        "rule", "add", "fwmark", "0x1/0x1", "lookup", "100", "pref", "1000",
    ]);
    let steering_rule = || {
        topo.gw
            .exec_ok(&["ip", "rule", "show"])
            .contains("fwmark 0x1/0x1 lookup 100")
    };

    let dir = tempfile::tempdir().unwrap();
    let port = free_port(&topo.gw);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let config_path = dir.path().join("wanctl.yaml");
    std::fs::write(&config_path, config(dir.path(), port).to_string()).unwrap();
    let mut daemon = Daemon::spawn(&topo.gw, dir.path(), &config_path, &[], None);
    daemon.wait_for(PATIENCE, |m| m.contains("READY=1"));
    eventually(
        "start-up reconciliation removes the leftover rule",
        || {},
        || !steering_rule(),
    );

    // WAN1 healthy: latency-class traffic leaves via WAN1.
    assert_eq!(ip(udp_ask(&topo.client, STUN, None)), WAN1_ADDR);
    let mut pre_existing = TcpAsker::connect(&topo.client, SSH);
    let pre_peer = pre_existing.ask().expect("SSH answers");
    assert_eq!(pre_peer.ip(), WAN1_ADDR);

    // The upload fills WAN1's bottleneck; the daemon's own samples must bring steering on.
    let bulk = BulkUpload::start(&topo.client, BULK);
    assert_eq!(bulk.peer.ip(), WAN1_ADDR);
    eventually("steering while WAN1 is saturated", || {}, steering_rule);
    let (_, health) = http_get(&topo.gw, address, "/health");
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["steering_state"], "steering", "{health}");
    let wan1 = &health["wans"][0];
    assert_eq!(wan1["steering"], "avoided", "{health}");
    assert!(
        ["RED", "SOFT_RED"].contains(&wan1["state"]["upload"].as_str().unwrap_or_default())
            || ["RED", "SOFT_RED"]
                .contains(&wan1["state"]["download"].as_str().unwrap_or_default()),
        "steering without a congested WAN1: {health}"
    );

    assert_eq!(
        ip(udp_ask(&topo.client, STUN, None)),
        WAN2_ADDR,
        "new STUN while steering"
    );
    let mut during = TcpAsker::connect(&topo.client, SSH);
    assert_eq!(ip(during.ask()), WAN2_ADDR, "new SSH while steering");
    assert_eq!(
        pre_existing.ask(),
        Some(pre_peer),
        "pre-existing SSH stays on WAN1"
    );

    // The upload ends; light interactive traffic on WAN1 keeps it measured until it is GREEN again.
    drop(bulk);
    eventually(
        "steering ends after WAN1 recovers",
        || {
            pre_existing.ask();
        },
        || !steering_rule(),
    );
    assert_eq!(
        ip(udp_ask(&topo.client, STUN, None)),
        WAN1_ADDR,
        "new STUN after recovery"
    );
    assert_eq!(
        ip(during.ask()),
        WAN2_ADDR,
        "SSH opened while steering stays on WAN2"
    );
    assert_eq!(counters.packets("bulk_wan2"), 0, "bulk never moved to WAN2");

    let metrics = http_get(&topo.gw, address, "/metrics").1;
    let transitions = metric(&metrics, "wanctl_steering_transitions_total").unwrap_or(0.0);
    assert!(transitions >= 3.0, "reset, enter, leave: {metrics}");
    assert!(
        metrics.contains("wanctl_steering_time_in_state_seconds"),
        "{metrics}"
    );

    daemon.signal(libc::SIGTERM);
    let exit = daemon.wait_exit(PATIENCE).expect("SIGTERM did not end it");
    assert!(exit.success(), "{exit}");
    assert!(!steering_rule());
}
