//! A bufferbloat lab in three namespaces: gateway -- router -- server, with a deep TBF FIFO on the router's
//! egress in both directions (the ISP's buffers), so real CUBIC TCP builds real queueing delay.
//!
//! ```text
//!  gateway ns               router ns (ip_forward, TBF both ways)               server ns
//!  wan0 192.0.2.1/24  ---  r-gw 192.0.2.254   r-srv 198.51.100.254  ---  srv0 198.51.100.1/24
//!       2001:db8:1::1/64    2001:db8:1::fe     2001:db8:2::fe             2001:db8:2::1/64
//! ```

use crate::netns::{Netns, veth};

/// The gateway's WAN interface, where wanctl attaches.
pub const WAN_IF: &str = "wan0";
/// The gateway's WAN address.
pub const GATEWAY_V4: &str = "192.0.2.1";
/// The server's address.
pub const SERVER_V4: &str = "198.51.100.1";
/// The gateway's WAN IPv6 address.
pub const GATEWAY_V6: &str = "2001:db8:1::1";
/// The server's IPv6 address.
pub const SERVER_V6: &str = "2001:db8:2::1";

/// The bottleneck: a FIFO deep enough to hold 300 ms at its rate.
#[derive(Debug, Clone)]
pub struct Bottleneck {
    /// TBF rate, in tc syntax ("20mbit").
    pub rate: String,
    /// TBF burst ("32kbit").
    pub burst: String,
    /// TBF latency, which sizes the queue ("300ms").
    pub latency: String,
}

impl Default for Bottleneck {
    fn default() -> Self {
        Self {
            rate: "20mbit".into(),
            burst: "32kbit".into(),
            latency: "300ms".into(),
        }
    }
}

/// The three namespaces; dropping it deletes them with every link and qdisc in them.
pub struct Bufferbloat {
    pub gateway: Netns,
    pub router: Netns,
    pub server: Netns,
}

impl Bufferbloat {
    /// Builds the lab with `bottleneck` on the router's egress towards both the gateway (download) and the
    /// server (upload). Panics on failure (tests need root).
    pub fn new(prefix: &str, bottleneck: &Bottleneck) -> Self {
        let lab = Self {
            gateway: Netns::new(&format!("{prefix}-gw")),
            router: Netns::new(&format!("{prefix}-rt")),
            server: Netns::new(&format!("{prefix}-srv")),
        };
        veth(&lab.gateway, WAN_IF, &lab.router, "r-gw");
        veth(&lab.router, "r-srv", &lab.server, "srv0");
        let (gw, rt, srv) = (&lab.gateway, &lab.router, &lab.server);
        gw.ip(&["addr", "add", "192.0.2.1/24", "dev", WAN_IF]);
        gw.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:1::1/64",
            "dev",
            WAN_IF,
            "nodad",
        ]);
        rt.ip(&["addr", "add", "192.0.2.254/24", "dev", "r-gw"]);
        rt.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:1::fe/64",
            "dev",
            "r-gw",
            "nodad",
        ]);
        rt.ip(&["addr", "add", "198.51.100.254/24", "dev", "r-srv"]);
        rt.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:2::fe/64",
            "dev",
            "r-srv",
            "nodad",
        ]);
        srv.ip(&["addr", "add", "198.51.100.1/24", "dev", "srv0"]);
        srv.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:2::1/64",
            "dev",
            "srv0",
            "nodad",
        ]);
        gw.ip(&["route", "add", "default", "via", "192.0.2.254"]);
        gw.ip(&["-6", "route", "add", "default", "via", "2001:db8:1::fe"]);
        srv.ip(&["route", "add", "default", "via", "198.51.100.254"]);
        srv.ip(&["-6", "route", "add", "default", "via", "2001:db8:2::fe"]);
        rt.exec_ok(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        rt.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
        for dev in ["r-gw", "r-srv"] {
            rt.exec_ok(&[
                "tc",
                "qdisc",
                "replace",
                "dev",
                dev,
                "root",
                "tbf",
                "rate",
                &bottleneck.rate,
                "burst",
                &bottleneck.burst,
                "latency",
                &bottleneck.latency,
            ]);
        }
        lab
    }

    /// `tc -s qdisc show dev <dev>` in the router (for drop counts and backlog).
    pub fn router_qdisc_stats(&self, dev: &str) -> String {
        self.router
            .exec_ok(&["tc", "-s", "qdisc", "show", "dev", dev])
    }
}
