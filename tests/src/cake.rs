//! Fixtures for the CAKE VM tests: namespaces wired as a WAN link or a gateway, and shaper configs.

use serde_json::Value;
use wanctl::{
    config::Bandwidth,
    shaper::cake::{
        AckFilter, CakeConfig, CakeDirection, DiffservMode, ExitPolicy, OnReplaced, SetupMode,
    },
};

use crate::netns::{Netns, veth};

/// Two namespaces joined by a veth: `wan` (192.0.2.1, where wanctl shapes `dev`) and `peer`
/// (192.0.2.2, device `p<dev>`).
pub struct Pair {
    pub wan: Netns,
    pub peer: Netns,
}

/// Namespaces `cake` and `cakepeer` with the veth `dev` / `p<dev>` between them.
pub fn pair(dev: &str) -> Pair {
    let wan = Netns::new("cake");
    let peer = Netns::new("cakepeer");
    let peer_dev = format!("p{dev}");
    veth(&wan, dev, &peer, &peer_dev);
    wan.ip(&["addr", "add", "192.0.2.1/24", "dev", dev]);
    peer.ip(&["addr", "add", "192.0.2.2/24", "dev", &peer_dev]);
    Pair { wan, peer }
}

/// A direction at `rate_mbit` with CAKE defaults (diffserv4, no overhead, no ACK filter).
pub fn direction(rate_mbit: u64) -> CakeDirection {
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

/// Install mode, reinstall on replacement, leave the last rate on exit.
pub fn config(
    dev: &str,
    upload: Option<CakeDirection>,
    download: Option<CakeDirection>,
) -> CakeConfig {
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
pub fn in_ns<T: Send>(ns: &Netns, f: impl AsyncFnOnce() -> T + Send) -> T {
    ns.enter(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f())
    })
}

/// A qdisc's `tc -j` options without the rate.
pub fn options_without_rate(q: &Value) -> Value {
    let mut o = q["options"].clone();
    o.as_object_mut()
        .expect("options object")
        .remove("bandwidth");
    o
}

/// A gateway between a LAN host and a server, as wanctl runs: `lan` (198.51.100.2) -- `gw` (forwarding;
/// WAN device `dev`, 192.0.2.1) -- `server` (192.0.2.2). The shaper sits on a forwarding hop, so the
/// sender's TCP Small Queues do not limit the flow.
pub struct Gateway {
    pub lan: Netns,
    pub gw: Netns,
    pub server: Netns,
}

/// Builds the three namespaces and routes of [`Gateway`].
pub fn gateway(dev: &str) -> Gateway {
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
