//! Types shared by the eBPF programs (`wanctl-ebpf`) and userspace (`wanctl`).
//!
//! Every type here is `#[repr(C)]` with explicit padding fields, so the kernel and userspace agree on the
//! layout byte for byte; `tests` below pins sizes and offsets. Booleans are integers, never `bool`, so no
//! type has implicit padding (the BPF verifier rejects reads of uninitialised stack bytes).
#![no_std]

pub mod drops;

/// Traffic direction as seen on the WAN interface.
pub mod direction {
    /// Leaving the gateway towards the ISP (upload).
    pub const EGRESS: u32 = 0;
    /// Arriving from the ISP (download).
    pub const INGRESS: u32 = 1;
    /// Number of directions; the length of per-direction arrays.
    pub const COUNT: u32 = 2;
}

/// One packet seen by the build-proof program: kept as the smallest end-to-end check that the embedded
/// object loads, attaches and delivers ring-buffer records from real packets.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketEvent {
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) when the packet was seen.
    pub timestamp_ns: u64,
    /// Length of the packet (`skb->len`).
    pub len: u32,
    /// [`direction::EGRESS`] or [`direction::INGRESS`].
    pub direction: u32,
}

/// Per-direction traffic counters, kept per CPU and summed by userspace.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficCounters {
    /// Packets seen.
    pub packets: u64,
    /// Bytes seen (`skb->len`, L2 or L3 depending on the device).
    pub bytes: u64,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all types are `#[repr(C)]`, `Copy`, made of integers with explicit padding, valid for any bits.
    unsafe impl aya::Pod for super::PacketEvent {}
    unsafe impl aya::Pod for super::TrafficCounters {}
    unsafe impl aya::Pod for super::drops::DropConfig {}
    unsafe impl aya::Pod for super::drops::WatchKey {}
    unsafe impl aya::Pod for super::drops::DropCounters {}
}

#[cfg(test)]
mod tests {
    extern crate std;
    use core::mem::{offset_of, size_of};

    use super::*;

    #[test]
    fn packet_event_layout_is_pinned() {
        assert_eq!(size_of::<PacketEvent>(), 16);
        assert_eq!(offset_of!(PacketEvent, timestamp_ns), 0);
        assert_eq!(offset_of!(PacketEvent, len), 8);
        assert_eq!(offset_of!(PacketEvent, direction), 12);
    }

    #[test]
    fn traffic_counters_layout_is_pinned() {
        assert_eq!(size_of::<TrafficCounters>(), 16);
        assert_eq!(offset_of!(TrafficCounters, packets), 0);
        assert_eq!(offset_of!(TrafficCounters, bytes), 8);
    }
}
