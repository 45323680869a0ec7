//! The ring-buffer record: one RTT sample produced in the kernel.

/// Values of [`RttRecord::kind`] and [`crate::TsSlot::kind`].
pub mod sample_kind {
    /// Egress data segment echoed by an ingress ACK: the RTT an upload sees.
    pub const UPLOAD: u8 = 1;
    /// Egress pure ACK echoed by the next ingress data segment of a busy flow: the RTT a download sees.
    pub const DOWNLOAD: u8 = 2;
    /// Egress SYN (or SYN-ACK) echoed by the peer's answer: the path's base RTT at connection start.
    pub const HANDSHAKE: u8 = 3;
}

/// Bits of [`RttRecord::flags`].
pub mod record_flags {
    /// The flow is IPv6.
    pub const IPV6: u8 = 1;
}

/// One RTT sample, 64 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RttRecord {
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) when the echo arrived.
    pub at_ns: u64,
    /// Time from the TSval leaving to its echo arriving.
    pub rtt_ns: u64,
    /// Hash of the [`crate::FlowKey`], stable for the flow's lifetime.
    pub flow_hash: u64,
    /// The peer's address (v4-mapped for IPv4).
    pub remote_addr: [u8; 16],
    /// The peer's port.
    pub remote_port: u16,
    /// Our port.
    pub local_port: u16,
    /// [`sample_kind`].
    pub kind: u8,
    /// [`record_flags`].
    pub flags: u8,
    /// Always zero.
    pub _pad0: u16,
    /// The flow's smallest accepted RTT so far, in µs (saturating).
    pub min_rtt_us: u32,
    /// Gap since the flow's previous ingress data segment, in µs (saturating): the quality of a download sample.
    pub gap_us: u32,
    /// The peer's TSval on the segment that carried the echo: its clock when it sent that segment, so the
    /// arrival time minus it is the one-way delay towards us up to a per-flow constant.
    pub peer_tsval: u32,
    /// Always zero.
    pub _pad1: u32,
}

#[cfg(test)]
mod tests {
    use core::mem::{offset_of, size_of};

    use super::*;

    #[test]
    fn rtt_record_layout_is_pinned() {
        assert_eq!(size_of::<RttRecord>(), 64);
        assert_eq!(offset_of!(RttRecord, at_ns), 0);
        assert_eq!(offset_of!(RttRecord, rtt_ns), 8);
        assert_eq!(offset_of!(RttRecord, flow_hash), 16);
        assert_eq!(offset_of!(RttRecord, remote_addr), 24);
        assert_eq!(offset_of!(RttRecord, remote_port), 40);
        assert_eq!(offset_of!(RttRecord, local_port), 42);
        assert_eq!(offset_of!(RttRecord, kind), 44);
        assert_eq!(offset_of!(RttRecord, flags), 45);
        assert_eq!(offset_of!(RttRecord, min_rtt_us), 48);
        assert_eq!(offset_of!(RttRecord, gap_us), 52);
        assert_eq!(offset_of!(RttRecord, peer_tsval), 56);
        assert_eq!(offset_of!(RttRecord, _pad1), 60);
    }
}
