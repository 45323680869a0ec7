//! Reflector health as the health endpoint and metrics report it.

use std::net::IpAddr;

use super::{packet::Family, reflector::ReflectorState};

/// One reflector's state and counters.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReflectorStatus {
    pub address: IpAddr,
    pub state: ReflectorState,
    /// Smoothed minimum RTT, once the reflector has answered.
    pub baseline_ms: Option<f64>,
    /// Smoothed RTT above the baseline, the value reflectors are compared on.
    pub delta_ms: f64,
    pub last_rtt_ms: Option<f64>,
    /// Lost probes still inside the offence window.
    pub offences: usize,
    pub sent: u64,
    pub replies: u64,
    pub lost: u64,
}

/// Received packets that were not replies to an outstanding probe of ours, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IgnoredPackets {
    /// Shorter than an echo reply, or with a bad checksum.
    pub malformed: u64,
    /// Not an echo reply (someone else's request, an error message, another protocol).
    pub not_reply: u64,
    /// An echo reply with someone else's identifier, cookie or sequence number, or from the wrong address.
    pub foreign: u64,
    /// A reply to one of our probes that arrived after its deadline (already counted as lost).
    pub late: u64,
}

/// How a family's probes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SocketKind {
    /// Unprivileged ICMP datagram socket (`net.ipv4.ping_group_range`).
    Datagram,
    /// Raw socket (CAP_NET_RAW).
    Raw,
}

/// The socket in use for one IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SocketInfo {
    pub family: Family,
    pub kind: SocketKind,
}

/// Snapshot of one WAN's active prober.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReflectorHealth {
    /// Active reflectors first (in probing order), then the spare queue in order.
    pub reflectors: Vec<ReflectorStatus>,
    pub probes_sent: u64,
    pub replies: u64,
    /// Probes that missed their deadline.
    pub lost: u64,
    /// Probes that could not be sent (e.g. no route out of the bound device).
    pub send_errors: u64,
    /// Samples discarded because the controller did not drain them in time.
    pub samples_dropped: u64,
    /// Reflectors swapped for a spare after too many offences.
    pub replacements: u64,
    /// Reflectors swapped for a spare, or withheld, because their baseline or delta disagreed with the others.
    pub demotions: u64,
    pub ignored: IgnoredPackets,
    pub sockets: Vec<SocketInfo>,
}

impl ReflectorHealth {
    /// Lost probes as a fraction of probes whose fate is known; zero before any.
    pub fn loss_ratio(&self) -> f64 {
        let settled = self.replies + self.lost;
        if settled == 0 {
            0.0
        } else {
            self.lost as f64 / settled as f64
        }
    }

    /// The status of `address`, if it is configured.
    pub fn reflector(&self, address: IpAddr) -> Option<&ReflectorStatus> {
        self.reflectors.iter().find(|r| r.address == address)
    }
}
