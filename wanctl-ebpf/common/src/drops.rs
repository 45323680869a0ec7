//! Qdisc drop counting from the `skb:kfree_skb` tracepoint: the configuration userspace resolves from the
//! running kernel's BTF, the per-interface map key and the per-CPU counters.
//!
//! Nothing here hard-codes a kernel value: `enum skb_drop_reason` numbering and struct offsets change between
//! kernels, so userspace fills [`DropConfig`] at load time and the program only compares and adds.

/// Number of qdisc drop-reason classes counted; the length of the per-class arrays.
pub const CLASS_COUNT: usize = 4;

/// Index of each counted reason class in [`DropConfig::reasons`] and [`DropCounters`].
pub mod class {
    /// `SKB_DROP_REASON_QDISC_DROP`: generic qdisc drop (enqueue refused, `qdisc_drop()`).
    pub const QDISC_DROP: usize = 0;
    /// `SKB_DROP_REASON_QDISC_OVERLIMIT`: the qdisc's buffer or limit was full.
    pub const QDISC_OVERLIMIT: usize = 1;
    /// `SKB_DROP_REASON_QDISC_CONGESTED`: AQM drop (CAKE's COBALT, dualpi2, gred).
    pub const QDISC_CONGESTED: usize = 2;
    /// `SKB_DROP_REASON_CAKE_FLOOD`: CAKE's BLUE drop of an unresponsive flow.
    pub const CAKE_FLOOD: usize = 3;
}

/// Reason value meaning "this kernel has no such reason": `enum skb_drop_reason` never gets near it.
pub const REASON_UNRESOLVED: u32 = u32::MAX;

/// What the tracepoint program needs to know about the running kernel, resolved from its BTF by userspace
/// and set as the global `WANCTL_DROP_CONFIG` at load time.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropConfig {
    /// `enum skb_drop_reason` value of each class ([`class`]), or [`REASON_UNRESOLVED`].
    pub reasons: [u32; CLASS_COUNT],
    /// Byte offset of `sk_buff.dev` (a `struct net_device *`).
    pub skb_dev: u32,
    /// Byte offset of `sk_buff.len` (`unsigned int`).
    pub skb_len: u32,
    /// Byte offset of `net_device.ifindex` (`int`).
    pub dev_ifindex: u32,
    /// Byte offset of `net_device.nd_net.net` (a `struct net *`).
    pub dev_net: u32,
    /// Byte offset of `net.ns.inum` (`unsigned int`), the namespace's inode number.
    pub net_inum: u32,
    /// Nonzero once userspace has filled this in; the program counts nothing while it is 0.
    pub enabled: u32,
}

impl DropConfig {
    /// The value compiled into the object: counts nothing until userspace overrides it.
    pub const DISABLED: Self = Self {
        reasons: [REASON_UNRESOLVED; CLASS_COUNT],
        skb_dev: 0,
        skb_len: 0,
        dev_ifindex: 0,
        dev_net: 0,
        net_inum: 0,
        enabled: 0,
    };
}

/// A watched interface: ifindex values repeat across network namespaces, so the namespace's inode number
/// (`stat -L /proc/self/ns/net`) is part of the key.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct WatchKey {
    /// Inode number of the interface's network namespace.
    pub netns_inum: u32,
    /// The interface's ifindex inside that namespace.
    pub ifindex: u32,
}

/// Qdisc drops on one watched interface, per reason class ([`class`]); kept per CPU, summed by userspace.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounters {
    /// Dropped packets (skbs; a dropped GSO skb counts once, as the qdisc counts it).
    pub packets: [u64; CLASS_COUNT],
    /// Dropped bytes (`skb->len`).
    pub bytes: [u64; CLASS_COUNT],
}

#[cfg(test)]
mod tests {
    use core::mem::{offset_of, size_of};

    use super::*;

    #[test]
    fn drop_config_layout_is_pinned() {
        assert_eq!(size_of::<DropConfig>(), 40);
        assert_eq!(offset_of!(DropConfig, reasons), 0);
        assert_eq!(offset_of!(DropConfig, skb_dev), 16);
        assert_eq!(offset_of!(DropConfig, skb_len), 20);
        assert_eq!(offset_of!(DropConfig, dev_ifindex), 24);
        assert_eq!(offset_of!(DropConfig, dev_net), 28);
        assert_eq!(offset_of!(DropConfig, net_inum), 32);
        assert_eq!(offset_of!(DropConfig, enabled), 36);
    }

    #[test]
    fn watch_key_layout_is_pinned() {
        assert_eq!(size_of::<WatchKey>(), 8);
        assert_eq!(offset_of!(WatchKey, netns_inum), 0);
        assert_eq!(offset_of!(WatchKey, ifindex), 4);
    }

    #[test]
    fn drop_counters_layout_is_pinned() {
        assert_eq!(size_of::<DropCounters>(), 64);
        assert_eq!(offset_of!(DropCounters, packets), 0);
        assert_eq!(offset_of!(DropCounters, bytes), 32);
    }

    #[test]
    fn the_compiled_in_config_counts_nothing() {
        let config = DropConfig::DISABLED;
        assert_eq!(config.enabled, 0);
        assert!(config.reasons.iter().all(|&r| r == REASON_UNRESOLVED));
    }
}
