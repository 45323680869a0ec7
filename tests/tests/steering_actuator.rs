//! The Linux steering actuator against the real kernel, in a namespace: what it adds and removes, that it
//! is idempotent, that it leaves other rules alone, and that failures name what failed.

use tokio::runtime::Runtime;
use wanctl::steering::{
    ActuatorError, SteeringActuator,
    actuator::{LinuxActuator, LinuxActuatorConfig, StickyRule, WanRoute},
    set_verified,
};
use wanctl_tests::netns::{Netns, is_root};

fn config(device: &str, gateway: &str, table: u32) -> LinuxActuatorConfig {
    LinuxActuatorConfig {
        fwmark: 0x100,
        fwmask: 0x100,
        table,
        priority: 1000,
        sticky: Some(StickyRule {
            fwmark: 0x200,
            fwmask: 0x200,
            priority: 999,
        }),
        route: WanRoute {
            device: device.to_string(),
            gateway: Some(gateway.parse().unwrap()),
        },
    }
}

/// A namespace with a dummy-like veth `wan2` (peer in a second namespace) carrying both address families.
fn gateway() -> (Netns, Netns) {
    let gw = Netns::new("sa-gw");
    let peer = Netns::new("sa-peer");
    wanctl_tests::netns::veth(&gw, "wan2", &peer, "isp2");
    gw.ip(&["addr", "add", "203.0.113.1/30", "dev", "wan2"]);
    gw.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8:2::1/64",
        "dev",
        "wan2",
        "nodad",
    ]);
    (gw, peer)
}

fn connect(rt: &Runtime, ns: &Netns, config: LinuxActuatorConfig) -> LinuxActuator {
    ns.enter(|| {
        let _runtime = rt.enter();
        LinuxActuator::connect(config).unwrap()
    })
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn ipv4_steering_is_idempotent_and_leaves_foreign_rules_alone() {
    assert!(is_root(), "this test needs root");
    let (gw, _peer) = gateway();
    let rt = runtime();
    // Table above 255 exercises FRA_TABLE on both rule and route.
    let mut actuator = connect(&rt, &gw, config("wan2", "203.0.113.2", 1000));
    // Someone else's rule with the same mark and table, restricted to an input interface.
    gw.ip(&[
        "rule",
        "add",
        "iif",
        "lan9",
        "fwmark",
        "0x100/0x100",
        "lookup",
        "1000",
        "pref",
        "1500",
    ]);
    assert!(
        !rt.block_on(actuator.read()).unwrap(),
        "a restricted rule is not ours"
    );

    for _ in 0..2 {
        rt.block_on(set_verified(&mut actuator, true)).unwrap();
    }
    let rules = gw.exec_ok(&["ip", "rule", "show"]);
    assert_eq!(
        count(&rules, "from all fwmark 0x100/0x100 lookup 1000"),
        1,
        "{rules}"
    );
    assert_eq!(
        count(&rules, "from all fwmark 0x200/0x200 lookup 1000"),
        1,
        "{rules}"
    );
    assert!(
        rules.contains("1000:\tfrom all fwmark 0x100/0x100 lookup 1000"),
        "{rules}"
    );
    let table = gw.exec_ok(&["ip", "route", "show", "table", "1000"]);
    assert!(
        table.contains("default via 203.0.113.2 dev wan2"),
        "{table}"
    );

    for _ in 0..2 {
        rt.block_on(set_verified(&mut actuator, false)).unwrap();
    }
    let rules = gw.exec_ok(&["ip", "rule", "show"]);
    assert!(
        !rules.contains("from all fwmark 0x100/0x100 lookup 1000"),
        "{rules}"
    );
    assert!(
        rules.contains("iif lan9"),
        "the foreign rule stays: {rules}"
    );
    assert!(
        rules.contains("from all fwmark 0x200/0x200 lookup 1000"),
        "the sticky rule stays for pinned connections: {rules}"
    );
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn a_foreign_rule_at_our_priority_is_refused_not_deleted() {
    assert!(is_root(), "this test needs root");
    let (gw, _peer) = gateway();
    let rt = runtime();
    let mut actuator = connect(&rt, &gw, config("wan2", "203.0.113.2", 100));
    rt.block_on(set_verified(&mut actuator, true)).unwrap();
    // Added later at our priority: the kernel would match it first on delete, so the actuator refuses.
    gw.ip(&[
        "rule",
        "add",
        "iif",
        "lan9",
        "fwmark",
        "0x100/0x100",
        "lookup",
        "100",
        "pref",
        "1000",
    ]);
    let err = rt.block_on(actuator.set(false)).unwrap_err();
    assert!(
        matches!(err, ActuatorError::PriorityConflict { priority: 1000, .. }),
        "{err}"
    );
    let rules = gw.exec_ok(&["ip", "rule", "show"]);
    assert!(
        rules.contains("iif lan9"),
        "the foreign rule survives: {rules}"
    );
    assert!(
        rules.contains("from all fwmark 0x100/0x100 lookup 100"),
        "nothing changed: {rules}"
    );
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn ipv6_gateway_steers_with_ipv6_rules() {
    assert!(is_root(), "this test needs root");
    let (gw, _peer) = gateway();
    let rt = runtime();
    let mut actuator = connect(&rt, &gw, config("wan2", "2001:db8:2::2", 100));
    rt.block_on(set_verified(&mut actuator, true)).unwrap();
    let rules = gw.exec_ok(&["ip", "-6", "rule", "show"]);
    assert!(
        rules.contains("from all fwmark 0x100/0x100 lookup 100"),
        "{rules}"
    );
    let table = gw.exec_ok(&["ip", "-6", "route", "show", "table", "100"]);
    assert!(
        table.contains("default via 2001:db8:2::2 dev wan2"),
        "{table}"
    );
    assert!(
        !gw.exec_ok(&["ip", "-4", "rule", "show"]).contains("0x100"),
        "no IPv4 rule for an IPv6 WAN"
    );
    rt.block_on(set_verified(&mut actuator, false)).unwrap();
    assert!(
        !gw.exec_ok(&["ip", "-6", "rule", "show"])
            .contains("0x100/0x100")
    );
}

#[test]
#[ignore = "privileged: needs root; run by `cargo xtask test`"]
fn a_missing_device_is_named_and_nothing_is_half_applied() {
    assert!(is_root(), "this test needs root");
    let (gw, _peer) = gateway();
    let rt = runtime();
    let mut actuator = connect(&rt, &gw, config("wan7", "203.0.113.2", 100));
    let err = rt.block_on(actuator.set(true)).unwrap_err();
    assert!(
        matches!(&err, ActuatorError::DeviceNotFound { device } if device == "wan7"),
        "{err}"
    );
    assert!(err.to_string().contains("wan7"));
    let rules = gw.exec_ok(&["ip", "rule", "show"]);
    assert!(
        !rules.contains("lookup 100"),
        "no rule without its route: {rules}"
    );
    assert!(!rt.block_on(actuator.read()).unwrap());
}
