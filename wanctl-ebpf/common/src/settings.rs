//! Run-time settings written by userspace into a one-entry array map, and the rate limiter's state.

/// Values of [`ProbeSettings::framing`]: where the IP header starts.
pub mod framing {
    /// Ethernet header (optionally with up to two 802.1Q/802.1ad tags, or PPPoE session framing).
    pub const ETHERNET: u32 = 0;
    /// No link-layer header: PPP, WireGuard, tun (`ARPHRD_NONE`, `ARPHRD_PPP`, `ARPHRD_RAWIP`).
    pub const L3: u32 = 1;
}

/// Settings the programs read once per packet. Zeroed settings (before userspace writes them) make the
/// programs count traffic only.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeSettings {
    /// Nonzero once userspace has written the settings; RTT tracking is off until then.
    pub enabled: u32,
    /// [`framing`].
    pub framing: u32,
    /// At most one TSval stored per flow per this many ns (handshakes excepted).
    pub sample_interval_ns: u64,
    /// Record rate limits per CPU, indexed by [`budget`]: handshakes have their own share so that a burst
    /// of new connections cannot starve the samples of running flows.
    pub budgets: [RecordBudget; 2],
    /// Download guard: largest gap between ingress data segments is max(this, min RTT / 8).
    pub download_gap_min_ns: u64,
    /// Download guard: ingress data segments needed in the current plus previous activity window.
    pub download_min_packets: u32,
    /// Nonzero to store pure-ACK TSvals (download samples).
    pub download_samples: u32,
}

/// Indexes of [`ProbeSettings::budgets`] and of the rate limiter map.
pub mod budget {
    /// Upload and download samples.
    pub const DATA: u32 = 0;
    /// Handshake samples.
    pub const HANDSHAKE: u32 = 1;
}

/// One record budget as a generic cell rate: one record per `interval_ns`, bursts up to `burst_ns` early.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordBudget {
    /// Spacing of records at the sustained rate, ns.
    pub interval_ns: u64,
    /// Credit a burst may use, ns.
    pub burst_ns: u64,
}

/// Per-CPU state of the record rate limiter (GCRA: the theoretical arrival time of the next record).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimiter {
    /// Theoretical arrival time, ns.
    pub tat_ns: u64,
}

#[cfg(test)]
mod tests {
    use core::mem::{offset_of, size_of};

    use super::*;

    #[test]
    fn settings_layout_is_pinned() {
        assert_eq!(size_of::<ProbeSettings>(), 64);
        assert_eq!(offset_of!(ProbeSettings, enabled), 0);
        assert_eq!(offset_of!(ProbeSettings, framing), 4);
        assert_eq!(offset_of!(ProbeSettings, sample_interval_ns), 8);
        assert_eq!(offset_of!(ProbeSettings, budgets), 16);
        assert_eq!(size_of::<RecordBudget>(), 16);
        assert_eq!(offset_of!(RecordBudget, burst_ns), 8);
        assert_eq!(offset_of!(ProbeSettings, download_gap_min_ns), 48);
        assert_eq!(offset_of!(ProbeSettings, download_min_packets), 56);
        assert_eq!(offset_of!(ProbeSettings, download_samples), 60);
        assert_eq!(size_of::<RateLimiter>(), 8);
    }
}
