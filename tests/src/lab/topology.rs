//! The lab's namespaces: a LAN client behind the gateway wanctl runs on, an ISP whose bottleneck changes
//! rate with a modem-deep FIFO, a core hop that adds the base delay, and the server.
//!
//! ```text
//!  lan            gw (CAKE / wanctl)          isp (TBF both ways)            core (netem delay)       srv
//!  lan0 ------ g-lan | wan0 ------------ i-gw | i-core ------------ c-isp | c-srv ------------ srv0
//!  198.51.100.2  .1  | 192.0.2.1    192.0.2.254 | 203.0.113.1    203.0.113.2 | .129         203.0.113.130
//! ```
//! The delay sits on its own hop so the ISP's queue is a plain FIFO and the delay never holds a
//! sender's own packets (TCP Small Queues would cap the flow).

use super::scenario::{Dir, Scenario};
use crate::netns::{Netns, veth};
use wanctl::config::Bandwidth;

/// The gateway's WAN device (wanctl shapes it; its IFB is `ifb4wan0`).
pub const WAN_IF: &str = "wan0";
/// The IFB that carries the gateway's download shaping.
pub const IFB_IF: &str = "ifb4wan0";
/// The LAN client's address.
pub const LAN_ADDR: &str = "198.51.100.2";
/// The server's address.
pub const SERVER_ADDR: &str = "203.0.113.130";

/// The five namespaces; dropping it deletes them with their links and qdiscs.
pub struct LabNet {
    pub lan: Netns,
    pub gw: Netns,
    pub isp: Netns,
    pub core: Netns,
    pub srv: Netns,
    /// The ISP FIFO's size in bytes per direction: fixed, like a modem's buffer.
    limits: [u64; 2],
}

impl LabNet {
    /// Builds the topology with the scenario's initial capacities and base delay.
    pub fn new(scenario: &Scenario) -> Self {
        let net = Self {
            lan: Netns::new("lablan"),
            gw: Netns::new("labgw"),
            isp: Netns::new("labisp"),
            core: Netns::new("labcore"),
            srv: Netns::new("labsrv"),
            limits: Dir::BOTH.map(|dir| {
                let rate = scenario.capacity_at(dir, 0.0).bps() as f64;
                ((rate / 8.0 * scenario.buffer.get().as_secs_f64()) as u64).max(20_000)
            }),
        };
        veth(&net.lan, "lan0", &net.gw, "g-lan");
        veth(&net.gw, WAN_IF, &net.isp, "i-gw");
        veth(&net.isp, "i-core", &net.core, "c-isp");
        veth(&net.core, "c-srv", &net.srv, "srv0");
        net.lan
            .ip(&["addr", "add", "198.51.100.2/24", "dev", "lan0"]);
        net.lan
            .ip(&["route", "add", "default", "via", "198.51.100.1"]);
        net.gw
            .ip(&["addr", "add", "198.51.100.1/24", "dev", "g-lan"]);
        net.gw.ip(&["addr", "add", "192.0.2.1/24", "dev", WAN_IF]);
        net.gw
            .ip(&["route", "add", "default", "via", "192.0.2.254"]);
        net.isp
            .ip(&["addr", "add", "192.0.2.254/24", "dev", "i-gw"]);
        net.isp
            .ip(&["addr", "add", "203.0.113.1/25", "dev", "i-core"]);
        net.isp
            .ip(&["route", "add", "198.51.100.0/24", "via", "192.0.2.1"]);
        net.isp
            .ip(&["route", "add", "default", "via", "203.0.113.2"]);
        net.core
            .ip(&["addr", "add", "203.0.113.2/25", "dev", "c-isp"]);
        net.core
            .ip(&["addr", "add", "203.0.113.129/25", "dev", "c-srv"]);
        net.core
            .ip(&["route", "add", "default", "via", "203.0.113.1"]);
        net.srv
            .ip(&["addr", "add", "203.0.113.130/25", "dev", "srv0"]);
        net.srv
            .ip(&["route", "add", "default", "via", "203.0.113.129"]);
        for ns in [&net.gw, &net.isp, &net.core] {
            ns.exec_ok(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        }
        let half = format!("{}us", scenario.base_delay.get().as_micros() / 2);
        for dev in ["c-isp", "c-srv"] {
            net.core.exec_ok(&[
                "tc", "qdisc", "replace", "dev", dev, "root", "netem", "delay", &half, "limit",
                "10000",
            ]);
        }
        for dir in Dir::BOTH {
            net.set_capacity(dir, scenario.capacity_at(dir, 0.0), "replace");
        }
        net
    }

    /// Sets the ISP bottleneck of `dir` to `rate` (`verb`: "replace" to install, "change" after).
    pub fn set_capacity(&self, dir: Dir, rate: Bandwidth, verb: &str) {
        let (dev, limit) = match dir {
            Dir::Download => ("i-gw", self.limits[0]),
            Dir::Upload => ("i-core", self.limits[1]),
        };
        // 25 ms of tokens (at least two full frames): the emulated guest's timers fire late under load,
        // and a smaller bucket would lose the tokens of the late part, running the link below its rate.
        let burst = (rate.bps() / 8 / 40).max(3100);
        self.isp.exec_ok(&[
            "tc",
            "qdisc",
            verb,
            "dev",
            dev,
            "root",
            "handle",
            "1:",
            "tbf",
            "rate",
            &format!("{}bit", rate.bps()),
            "burst",
            &burst.to_string(),
            "limit",
            &limit.to_string(),
        ]);
    }

    /// Installs static CAKE on the gateway: `upload` on the WAN egress, `download` on an IFB fed by the
    /// WAN's ingress.
    pub fn static_cake(&self, upload: Bandwidth, download: Bandwidth) {
        let gw = &self.gw;
        gw.ip(&["link", "add", IFB_IF, "type", "ifb"]);
        gw.ip(&["link", "set", IFB_IF, "up"]);
        let cake = |dev: &str, rate: Bandwidth, extra: &[&str]| {
            let rate = format!("{}bit", rate.bps());
            let mut args = vec![
                "tc",
                "qdisc",
                "replace",
                "dev",
                dev,
                "root",
                "cake",
                "bandwidth",
                &rate,
                "diffserv4",
            ];
            args.extend_from_slice(extra);
            gw.exec_ok(&args);
        };
        // The upload carries the download's ACKs too; CAKE's ACK filter drops those a later ACK of the same
        // flow makes redundant (the usual setting on an asymmetric link), in both shaped modes alike.
        cake(WAN_IF, upload, &["ack-filter"]);
        cake(IFB_IF, download, &["ingress"]);
        gw.exec_ok(&[
            "tc", "qdisc", "replace", "dev", WAN_IF, "handle", "ffff:", "ingress",
        ]);
        gw.exec_ok(&[
            "tc", "filter", "add", "dev", WAN_IF, "parent", "ffff:", "protocol", "all", "u32",
            "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", IFB_IF,
        ]);
    }

    /// Changes the rate of the CAKE that [`Self::static_cake`] installed for `dir`, keeping its other
    /// settings.
    pub fn set_cake_rate(&self, dir: Dir, rate: Bandwidth) {
        let dev = match dir {
            Dir::Download => IFB_IF,
            Dir::Upload => WAN_IF,
        };
        self.gw.exec_ok(&[
            "tc",
            "qdisc",
            "change",
            "dev",
            dev,
            "root",
            "cake",
            "bandwidth",
            &format!("{}bit", rate.bps()),
        ]);
    }

    /// The CAKE rates on the gateway now (upload on the WAN, download on the IFB), as `tc -j` shows them.
    pub fn cake_rates(&self) -> (Option<u64>, Option<u64>) {
        let rate = |dev: &str| -> Option<u64> {
            let out = self
                .gw
                .exec(&["tc", "-j", "qdisc", "show", "dev", dev, "root"]);
            let all: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            all.as_array()?
                .iter()
                .find(|q| q["kind"] == "cake")
                .and_then(|q| q["options"]["bandwidth"].as_u64())
                .map(|bytes| bytes * 8)
        };
        (rate(IFB_IF), rate(WAN_IF))
    }
}
