//! Counters kept per CPU by the programs and summed by userspace.

/// Per-direction traffic counters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficCounters {
    /// Packets seen.
    pub packets: u64,
    /// Bytes seen (`skb->len`, L2 or L3 depending on the device).
    pub bytes: u64,
    /// TCP segments among them.
    pub tcp_packets: u64,
    /// TCP segments whose sequence range starts before the flow's highest sequence end: retransmissions (a
    /// loss signal), counted for tracked flows only.
    pub tcp_retransmits: u64,
}

/// What the RTT logic did, for diagnosis and for the `wanctl probe` summary.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeCounters {
    /// Records written to the ring buffer.
    pub samples_emitted: u64,
    /// TSvals not stored because the flow stored one less than the sampling interval ago.
    pub suppressed_interval: u64,
    /// Samples not written because the global record rate limit was exhausted.
    pub suppressed_rate: u64,
    /// Samples lost because the ring buffer was full.
    pub ringbuf_full: u64,
    /// Download candidates rejected by the guard (echo on a pure ACK, idle sender, too little activity).
    pub download_rejected: u64,
    /// Flow entries created.
    pub flows_created: u64,
    /// Flow entries the map refused.
    pub flow_create_failed: u64,
    /// TCP segments without the timestamp option (no RTT possible).
    pub no_timestamp: u64,
    /// Packets whose headers were truncated or inconsistent (bad lengths, option walk errors).
    pub malformed: u64,
    /// Always zero; keeps the size a multiple of 16.
    pub _reserved: u64,
}

impl TrafficCounters {
    /// Adds another CPU's counters.
    pub fn accumulate(&mut self, other: &Self) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.tcp_packets += other.tcp_packets;
        self.tcp_retransmits += other.tcp_retransmits;
    }
}

impl ProbeCounters {
    /// Adds another CPU's counters.
    pub fn accumulate(&mut self, other: &Self) {
        self.samples_emitted += other.samples_emitted;
        self.suppressed_interval += other.suppressed_interval;
        self.suppressed_rate += other.suppressed_rate;
        self.ringbuf_full += other.ringbuf_full;
        self.download_rejected += other.download_rejected;
        self.flows_created += other.flows_created;
        self.flow_create_failed += other.flow_create_failed;
        self.no_timestamp += other.no_timestamp;
        self.malformed += other.malformed;
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all types are `#[repr(C)]`, `Copy`, made of integers with explicit padding, valid for any bits.
    unsafe impl aya::Pod for super::TrafficCounters {}
    unsafe impl aya::Pod for super::ProbeCounters {}
    unsafe impl aya::Pod for crate::FlowKey {}
    unsafe impl aya::Pod for crate::FlowState {}
    unsafe impl aya::Pod for crate::ProbeSettings {}
    unsafe impl aya::Pod for crate::RateLimiter {}
    unsafe impl aya::Pod for crate::RttRecord {}
}

#[cfg(test)]
mod tests {
    use core::mem::{offset_of, size_of};

    use super::*;

    #[test]
    fn traffic_counters_layout_is_pinned() {
        assert_eq!(size_of::<TrafficCounters>(), 32);
        assert_eq!(offset_of!(TrafficCounters, packets), 0);
        assert_eq!(offset_of!(TrafficCounters, bytes), 8);
        assert_eq!(offset_of!(TrafficCounters, tcp_packets), 16);
        assert_eq!(offset_of!(TrafficCounters, tcp_retransmits), 24);
    }

    #[test]
    fn probe_counters_layout_is_pinned() {
        assert_eq!(size_of::<ProbeCounters>(), 80);
        assert_eq!(offset_of!(ProbeCounters, samples_emitted), 0);
        assert_eq!(offset_of!(ProbeCounters, ringbuf_full), 24);
        assert_eq!(offset_of!(ProbeCounters, flows_created), 40);
        assert_eq!(offset_of!(ProbeCounters, malformed), 64);
    }

    #[test]
    fn accumulate_adds_every_field() {
        let one = ProbeCounters {
            samples_emitted: 1,
            suppressed_interval: 2,
            suppressed_rate: 3,
            ringbuf_full: 4,
            download_rejected: 5,
            flows_created: 6,
            flow_create_failed: 7,
            no_timestamp: 8,
            malformed: 9,
            _reserved: 0,
        };
        let mut sum = one;
        sum.accumulate(&one);
        assert_eq!(sum.samples_emitted, 2);
        assert_eq!(sum.malformed, 18);
        assert_eq!(sum.flow_create_failed, 14);
        let mut t = TrafficCounters {
            packets: 1,
            bytes: 2,
            tcp_packets: 3,
            tcp_retransmits: 4,
        };
        t.accumulate(&TrafficCounters {
            packets: 1,
            bytes: 1,
            tcp_packets: 1,
            tcp_retransmits: 1,
        });
        assert_eq!(
            t,
            TrafficCounters {
                packets: 2,
                bytes: 3,
                tcp_packets: 4,
                tcp_retransmits: 5
            }
        );
    }
}
