//! Multi-WAN steering end to end on a namespace gateway: the shipped nftables example classifies, the
//! Linux actuator switches policy routing over rtnetlink, and the state machine (fed synthetic congestion,
//! so its wall-clock timers can be checked exactly; `steering_daemon.rs` runs the real daemon) decides. While WAN1 is congested, new latency-sensitive connections
//! leave via WAN2; bulk and pre-existing connections stay on WAN1; after recovery new connections use
//! WAN1 again, and connections that started on WAN2 stay there.

use std::{
    net::{IpAddr, SocketAddr},
    path::Path,
    sync::atomic::Ordering,
    time::Duration,
};

use tokio::runtime::Runtime;
use wanctl::{
    signal::Timestamp,
    steering::{
        Action, CongestionState, Decision, SteeringActuator, SteeringConfig, SteeringMachine,
        WanCongestion,
        actuator::{ActuatorConfig, LinuxActuator},
        set_verified,
    },
};
use wanctl_tests::{
    netns::is_root,
    steering_topology::{
        BulkUpload, PeerServers, ServerCounters, SteeringTopology, TcpAsker, WAN1_ADDR, WAN2_ADDR,
        udp_ask,
    },
};

/// Ports: UDP 3478 (STUN) and TCP 22 (SSH) are latency-class in the example; UDP 9999 only with DSCP EF;
/// TCP 5201 is bulk.
const STUN: u16 = 3478;
const SSH: u16 = 22;
const PLAIN_UDP: u16 = 9999;
const BULK: u16 = 5201;
/// DSCP EF (46) in the TOS byte.
const TOS_EF: u8 = 46 << 2;

const CONFIG: &str = "
primary: wan1
alternate: wan2
enter: { sustain: 2s }
leave: { sustain: 5s }
hold_down: 10s
actuator:
  linux:
    fwmark: 0x1
    fwmask: 0x1
    table: 100
    priority: 1000
    sticky: { fwmark: 0x2, fwmask: 0x2, priority: 999 }
    route: { device: wan2, gateway: 203.0.113.2 }
";

const CYCLE: Duration = Duration::from_millis(100);

fn wan(state: CongestionState, now: Timestamp) -> WanCongestion {
    WanCongestion {
        state,
        delay_delta_ms: if state == CongestionState::Red {
            120.0
        } else {
            1.0
        },
        drop_rate: 0.0,
        backlog_bytes: if state == CongestionState::Red {
            600_000
        } else {
            0
        },
        updated_at: now,
        link_up: true,
    }
}

/// Feeds synthetic cycles until the machine asks for a switch (bounded), then actuates, verifies and
/// commits it. Returns the synthetic time of the switch and the decision.
fn run_until_switch(
    machine: &mut SteeringMachine,
    now: &mut Timestamp,
    primary: CongestionState,
    rt: &Runtime,
    actuator: &mut LinuxActuator,
) -> Decision {
    for _ in 0..1000 {
        let decision = machine.step(
            *now,
            &wan(primary, *now),
            &wan(CongestionState::Green, *now),
        );
        if decision.switch {
            rt.block_on(set_verified(actuator, decision.action.is_steer()))
                .expect("actuate");
            machine.commit(*now, &decision);
            return decision;
        }
        *now = now.add(CYCLE);
    }
    panic!("no switch within 100 s of synthetic {primary:?}");
}

fn ip(addr: Option<SocketAddr>) -> IpAddr {
    addr.expect("the server answered").ip()
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn latency_class_connections_move_to_wan2_only_while_wan1_is_congested() {
    assert!(is_root(), "this test needs root");
    let topo = SteeringTopology::new("20mbit");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/steering-nftables.nft");
    topo.gw.exec_ok(&["nft", "-f", example.to_str().unwrap()]);
    let servers = PeerServers::start(&topo.server, &[STUN, PLAIN_UDP], &[SSH], &[BULK]);
    let counters = ServerCounters::new(&topo.server);
    counters.watch("bulk_wan1", "srv1", BULK, None);
    counters.watch("bulk_wan2", "srv2", BULK, None);

    let config: SteeringConfig = serde_yaml_ng::from_str(CONFIG).unwrap();
    config.validate().unwrap();
    let ActuatorConfig::Linux(linux) = config.actuator.clone() else {
        unreachable!()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut actuator = topo.gw.enter(|| {
        let _runtime = rt.enter();
        LinuxActuator::connect(linux).unwrap()
    });

    // Start-up reconciliation: a steering rule left behind by a crashed run is found and removed.
    topo.gw.ip(&[
        "rule", "add", "fwmark", "0x1/0x1", "lookup", "100", "pref", "1000",
    ]);
    let found = rt.block_on(actuator.read()).unwrap();
    assert!(found, "the leftover rule must be read as steering");
    let mut now = Timestamp::from_nanos(1_000_000_000_000);
    let (mut machine, startup) = SteeringMachine::start(&config, now, found);
    assert!(
        startup.switch && startup.action == Action::DontSteer,
        "{startup:?}"
    );
    rt.block_on(set_verified(&mut actuator, false)).unwrap();
    machine.commit(now, &startup);
    assert!(
        !topo
            .gw
            .exec_ok(&["ip", "rule", "show"])
            .contains("fwmark 0x1/0x1")
    );

    // Phase A: WAN1 healthy. Everything leaves via WAN1.
    assert_eq!(
        ip(udp_ask(&topo.client, STUN, None)),
        WAN1_ADDR,
        "STUN before congestion"
    );
    let mut pre_existing = TcpAsker::connect(&topo.client, SSH);
    let pre_peer = pre_existing.ask().expect("SSH answers");
    assert_eq!(pre_peer.ip(), WAN1_ADDR, "SSH before congestion");
    counters.watch("pre_wan2", "srv2", SSH, Some(pre_peer.port()));
    let bulk = BulkUpload::start(&topo.client, BULK);
    assert_eq!(bulk.peer.ip(), WAN1_ADDR, "bulk upload");

    // WAN1 congested (synthetic input): the machine enters after the sustain period, in wall-clock time.
    let start = now;
    let enter = run_until_switch(
        &mut machine,
        &mut now,
        CongestionState::Red,
        &rt,
        &mut actuator,
    );
    assert_eq!(enter.action, Action::Steer, "{enter:?}");
    assert_eq!(now.saturating_since(start), Duration::from_secs(2));
    let rules = topo.gw.exec_ok(&["ip", "rule", "show"]);
    assert!(
        rules.contains("from all fwmark 0x1/0x1 lookup 100"),
        "{rules}"
    );
    assert!(
        rules.contains("from all fwmark 0x2/0x2 lookup 100"),
        "{rules}"
    );
    let table = topo.gw.exec_ok(&["ip", "route", "show", "table", "100"]);
    assert!(
        table.contains("default via 203.0.113.2 dev wan2"),
        "{table}"
    );

    // The scenario is real: the bulk upload keeps WAN1's bottleneck queue filled (bounded wait).
    let saturated = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        topo.wan1_backlog_bytes() >= 20_000
    });
    assert!(saturated, "WAN1's TBF never queued 20 kB");

    // Phase B: steering. New latency-class connections leave via WAN2, by port or by DSCP.
    let bulk_before = servers.sink_bytes.load(Ordering::Relaxed);
    assert_eq!(
        ip(udp_ask(&topo.client, STUN, None)),
        WAN2_ADDR,
        "new STUN while steering"
    );
    assert_eq!(
        ip(udp_ask(&topo.client, PLAIN_UDP, Some(TOS_EF))),
        WAN2_ADDR,
        "new DSCP EF while steering"
    );
    let mut during = TcpAsker::connect(&topo.client, SSH);
    assert_eq!(ip(during.ask()), WAN2_ADDR, "new SSH while steering");
    // Other new traffic, and connections from before, stay on WAN1.
    assert_eq!(
        ip(udp_ask(&topo.client, PLAIN_UDP, None)),
        WAN1_ADDR,
        "new unclassified UDP"
    );
    let mut new_bulk = TcpAsker::connect(&topo.client, BULK);
    assert_eq!(ip(new_bulk.ask()), WAN1_ADDR, "new bulk connection");
    assert_eq!(
        pre_existing.ask(),
        Some(pre_peer),
        "pre-existing SSH keeps working on WAN1"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        servers.sink_bytes.load(Ordering::Relaxed) > bulk_before,
        "the bulk upload keeps flowing while steering"
    );
    assert_eq!(
        counters.packets("pre_wan2"),
        0,
        "pre-existing SSH must not arrive via WAN2"
    );

    // WAN1 recovers: the machine leaves after sustained GREEN and the hold-down.
    let recovered_at = now;
    let leave = run_until_switch(
        &mut machine,
        &mut now,
        CongestionState::Green,
        &rt,
        &mut actuator,
    );
    assert_eq!(leave.action, Action::DontSteer, "{leave:?}");
    assert!(now.saturating_since(recovered_at) >= Duration::from_secs(5));
    let rules = topo.gw.exec_ok(&["ip", "rule", "show"]);
    assert!(!rules.contains("fwmark 0x1/0x1"), "{rules}");
    assert!(
        rules.contains("fwmark 0x2/0x2 lookup 100"),
        "the sticky rule stays: {rules}"
    );

    // Phase C: new latency-class connections use WAN1 again; the one that started on WAN2 stays there.
    assert_eq!(
        ip(udp_ask(&topo.client, STUN, None)),
        WAN1_ADDR,
        "new STUN after recovery"
    );
    assert_eq!(
        ip(udp_ask(&topo.client, PLAIN_UDP, Some(TOS_EF))),
        WAN1_ADDR,
        "new DSCP EF after recovery"
    );
    assert_eq!(
        ip(during.ask()),
        WAN2_ADDR,
        "SSH opened while steering keeps WAN2"
    );
    assert_eq!(pre_existing.ask(), Some(pre_peer));

    drop(bulk);
    assert!(
        counters.packets("bulk_wan1") > 100,
        "the bulk counter saw the upload"
    );
    assert_eq!(
        counters.packets("bulk_wan2"),
        0,
        "no bulk packet arrived via WAN2"
    );
    let snapshot = machine.snapshot(now);
    assert_eq!(
        (snapshot.transitions, snapshot.suppressed_flaps),
        (3, 0),
        "{snapshot:?}"
    );

    // Exit: the default policy leaves the actuator not steering.
    assert_eq!(machine.exit_target(), Some(Action::DontSteer));
    rt.block_on(set_verified(&mut actuator, false)).unwrap();
    assert!(!rt.block_on(actuator.read()).unwrap());
}
