//! Counters of the programs, summed over CPUs, in the words the operator reads.

use serde::Serialize;
use wanctl_common::{ProbeCounters, TrafficCounters};

/// Traffic seen in one direction on the WAN interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DirectionTraffic {
    /// Packets.
    pub packets: u64,
    /// Bytes (`skb->len`).
    pub bytes: u64,
    /// TCP segments.
    pub tcp_packets: u64,
    /// TCP retransmissions (segments starting below the flow's highest sequence end).
    pub tcp_retransmits: u64,
}

impl From<&TrafficCounters> for DirectionTraffic {
    fn from(c: &TrafficCounters) -> Self {
        Self {
            packets: c.packets,
            bytes: c.bytes,
            tcp_packets: c.tcp_packets,
            tcp_retransmits: c.tcp_retransmits,
        }
    }
}

/// Everything the programs count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProbeStats {
    /// RTT samples written to the ring buffer.
    pub samples_emitted: u64,
    /// Timestamps not stored because of the per-flow sampling interval.
    pub suppressed_interval: u64,
    /// Samples dropped by the global record rate limit.
    pub suppressed_rate: u64,
    /// Samples lost because the ring buffer was full (reservation failures).
    pub ringbuf_full: u64,
    /// Download candidates refused by the guard.
    pub download_rejected: u64,
    /// Flows created in the flow map.
    pub flows_created: u64,
    /// Flows the map refused.
    pub flow_create_failed: u64,
    /// TCP segments without timestamps.
    pub no_timestamp: u64,
    /// Malformed packets (truncated or inconsistent headers or options).
    pub malformed: u64,
    /// Egress traffic.
    pub upload: DirectionTraffic,
    /// Ingress traffic.
    pub download: DirectionTraffic,
}

impl ProbeStats {
    /// Combines the RTT counters with the per-direction traffic counters.
    pub fn new(c: &ProbeCounters, egress: &TrafficCounters, ingress: &TrafficCounters) -> Self {
        Self {
            samples_emitted: c.samples_emitted,
            suppressed_interval: c.suppressed_interval,
            suppressed_rate: c.suppressed_rate,
            ringbuf_full: c.ringbuf_full,
            download_rejected: c.download_rejected,
            flows_created: c.flows_created,
            flow_create_failed: c.flow_create_failed,
            no_timestamp: c.no_timestamp,
            malformed: c.malformed,
            upload: egress.into(),
            download: ingress.into(),
        }
    }
}
