//! Per-connection state kept in the flow map, shared by the egress and ingress programs.

/// Identifies one TCP connection from the WAN interface's point of view: egress packets go from `local`
/// to `remote`, ingress packets the other way, so both directions find the same entry without sorting.
/// IPv4 addresses are stored v4-mapped (`::ffff:a.b.c.d`) so one key serves both families.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Our side's address (source on egress).
    pub local_addr: [u8; 16],
    /// The peer's address (destination on egress).
    pub remote_addr: [u8; 16],
    /// Our side's TCP port, host byte order.
    pub local_port: u16,
    /// The peer's TCP port, host byte order.
    pub remote_port: u16,
    /// 4 or 6.
    pub family: u8,
    /// Always zero: the map hashes raw bytes.
    pub _pad: [u8; 3],
}

/// One egress TSval waiting for its echo.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TsSlot {
    /// When the TSval was first seen leaving (`bpf_ktime_get_ns`); 0 = free slot.
    pub sent_ns: u64,
    /// The TSval.
    pub tsval: u32,
    /// [`crate::sample_kind`] the echo will produce.
    pub kind: u8,
    /// Always zero.
    pub _pad: [u8; 3],
}

/// Bits of [`FlowState::flags`].
pub mod flow_flags {
    /// `snd_end` holds a sequence number.
    pub const HAVE_SND: u32 = 1;
    /// `rcv_end` holds a sequence number.
    pub const HAVE_RCV: u32 = 2;
    /// `last_tsecr_in` holds an echo.
    pub const HAVE_TSECR: u32 = 4;
    /// A FIN left on egress.
    pub const FIN_OUT: u32 = 8;
    /// A FIN arrived on ingress.
    pub const FIN_IN: u32 = 16;
}

/// The state of one connection: two pending egress TSvals (held until echoed, as LibreQoS does), the last
/// TSval/TSecr seen for first-sighting and first-echo tests, sequence ends for retransmission counting, and
/// the ingress activity used to guard download samples.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowState {
    /// Pending egress TSvals.
    pub slots: [TsSlot; 2],
    /// When a TSval was last stored (per-flow sampling interval).
    pub last_stored_ns: u64,
    /// Arrival of the last ingress segment with payload.
    pub last_in_data_ns: u64,
    /// Start of the current ingress activity window.
    pub window_start_ns: u64,
    /// Smallest accepted RTT of this flow, 0 = none yet.
    pub min_rtt_ns: u64,
    /// Newest TSval seen leaving.
    pub last_tsval_out: u32,
    /// Newest TSecr seen arriving (valid with [`flow_flags::HAVE_TSECR`]).
    pub last_tsecr_in: u32,
    /// Highest egress sequence end (`seq + payload`), for retransmission counting.
    pub snd_end: u32,
    /// Highest ingress sequence end.
    pub rcv_end: u32,
    /// Ingress data packets in the current window.
    pub window_packets: u32,
    /// Ingress data packets in the previous window.
    pub previous_window_packets: u32,
    /// [`flow_flags`].
    pub flags: u32,
    /// Always zero.
    pub _pad: u32,
}

/// RFC 7323 / RFC 1982 serial comparison: `a` is strictly after `b` modulo 2^32.
#[inline(always)]
pub const fn seq_after(a: u32, b: u32) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 0x8000_0000
}

#[cfg(test)]
mod tests {
    use core::mem::{offset_of, size_of};

    use super::*;

    #[test]
    fn flow_key_layout_is_pinned() {
        assert_eq!(size_of::<FlowKey>(), 40);
        assert_eq!(offset_of!(FlowKey, local_addr), 0);
        assert_eq!(offset_of!(FlowKey, remote_addr), 16);
        assert_eq!(offset_of!(FlowKey, local_port), 32);
        assert_eq!(offset_of!(FlowKey, remote_port), 34);
        assert_eq!(offset_of!(FlowKey, family), 36);
        assert_eq!(offset_of!(FlowKey, _pad), 37);
    }

    #[test]
    fn flow_state_layout_is_pinned() {
        assert_eq!(size_of::<TsSlot>(), 16);
        assert_eq!(offset_of!(TsSlot, tsval), 8);
        assert_eq!(offset_of!(TsSlot, kind), 12);
        assert_eq!(size_of::<FlowState>(), 96);
        assert_eq!(offset_of!(FlowState, last_stored_ns), 32);
        assert_eq!(offset_of!(FlowState, min_rtt_ns), 56);
        assert_eq!(offset_of!(FlowState, last_tsval_out), 64);
        assert_eq!(offset_of!(FlowState, flags), 88);
    }

    #[test]
    fn serial_comparison_wraps() {
        assert!(seq_after(1, 0));
        assert!(!seq_after(0, 0));
        assert!(!seq_after(0, 1));
        assert!(seq_after(5, u32::MAX - 5), "after wrap-around");
        assert!(!seq_after(u32::MAX - 5, 5));
        assert!(
            !seq_after(0x8000_0000, 0),
            "half the space apart is not after"
        );
    }
}
