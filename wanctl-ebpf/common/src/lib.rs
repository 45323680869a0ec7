//! Types shared by the eBPF programs (`wanctl-ebpf`) and userspace (`wanctl`).
//!
//! Every type here is `#[repr(C)]` with explicit padding fields, so the kernel and userspace agree on the
//! layout byte for byte; each module's tests pin sizes and offsets. Booleans are integers, never `bool`, so
//! no type has implicit padding (the BPF verifier rejects reads of uninitialised stack bytes, and map keys
//! are hashed over raw bytes).
#![no_std]

mod counters;
pub mod drops;
mod flow;
mod record;
mod settings;

pub use counters::{ProbeCounters, TrafficCounters};
pub use flow::{FlowKey, FlowState, TsSlot, flow_flags, seq_after};
pub use record::{RttRecord, record_flags, sample_kind};
pub use settings::{ProbeSettings, RateLimiter, RecordBudget, budget, framing};

/// Traffic direction as seen on the WAN interface.
pub mod direction {
    /// Leaving the gateway towards the ISP (upload).
    pub const EGRESS: u32 = 0;
    /// Arriving from the ISP (download).
    pub const INGRESS: u32 = 1;
    /// Number of directions; the length of per-direction arrays.
    pub const COUNT: u32 = 2;
}

/// Names of the maps in the eBPF object, so both sides spell them the same way.
pub mod map_names {
    /// `LruHashMap<FlowKey, FlowState>`: per-connection state, shared by both programs.
    pub const FLOWS: &str = "FLOWS";
    /// `RingBuf` of [`crate::RttRecord`].
    pub const RTT_RECORDS: &str = "RTT_RECORDS";
    /// `PerCpuArray<TrafficCounters>`, indexed by [`crate::direction`].
    pub const TRAFFIC: &str = "TRAFFIC";
    /// `PerCpuArray<ProbeCounters>`, one entry.
    pub const COUNTERS: &str = "COUNTERS";
    /// `Array<ProbeSettings>`, one entry, written by userspace before attaching.
    pub const SETTINGS: &str = "SETTINGS";
    /// `PerCpuArray<RateLimiter>`, indexed by [`crate::budget`]: the global record budgets, split over CPUs.
    pub const RATE_LIMIT: &str = "RATE_LIMIT";
}

/// Default and compile-time sizes.
pub mod limits {
    /// Default number of flows in [`crate::map_names::FLOWS`]; userspace resizes it from the config.
    pub const DEFAULT_FLOWS: u32 = 65_536;
    /// Ring buffer size in bytes: 4096 records of 64 bytes.
    pub const RING_BYTES: u32 = 256 * 1024;
    /// Records submitted while the ring holds at least this many bytes wake the reader (512 records).
    pub const RING_WAKEUP_BYTES: u32 = RING_BYTES / 8;
    /// A pending timestamp older than this can no longer be echoed usefully and its slot is reused.
    pub const SLOT_TIMEOUT_NS: u64 = 10_000_000_000;
    /// Window over which ingress data packets are counted for the download guard.
    pub const ACTIVITY_WINDOW_NS: u64 = 100_000_000;
    /// IPv6 extension headers walked before giving up on a packet.
    pub const MAX_IPV6_EXT_HEADERS: u32 = 3;
}

#[cfg(feature = "user")]
mod drops_pod {
    // SAFETY: `#[repr(C)]`, `Copy`, integers with explicit padding, valid for any bits.
    unsafe impl aya::Pod for crate::drops::DropConfig {}
    unsafe impl aya::Pod for crate::drops::WatchKey {}
    unsafe impl aya::Pod for crate::drops::DropCounters {}
}
