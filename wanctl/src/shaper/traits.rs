//! The seam between the control loop and whatever enforces the rate.

use std::future::Future;

use crate::{
    config::Bandwidth,
    signal::{Direction, PerDirection},
};

/// Cumulative counters of one direction's shaper, widened to 64 bits so consumers take deltas by plain
/// subtraction (shapers that read 32-bit kernel or router counters accumulate wrap-safe deltas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct DirectionStats {
    pub sent_bytes: u64,
    pub sent_packets: u64,
    pub dropped_packets: u64,
    pub ecn_marked_packets: u64,
    /// Bytes queued right now (not cumulative).
    pub backlog_bytes: u64,
    /// Largest per-tin average queueing delay right now, where the shaper reports it (CAKE).
    pub avg_delay_us: Option<u32>,
    /// Largest per-tin peak queueing delay right now, where the shaper reports it (CAKE).
    pub peak_delay_us: Option<u32>,
}

/// Statistics of both directions; `None` where this shaper does not shape that direction.
pub type ShaperStats = PerDirection<Option<DirectionStats>>;

/// What health checks and metrics report about a shaper.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ShaperHealth {
    /// The last operation reached the shaper (netlink answered, router replied).
    pub reachable: bool,
    /// The last error, if the last operation failed.
    pub last_error: Option<String>,
    /// Rate writes that reached the shaper.
    pub writes_done: u64,
    /// Rate changes not written (unchanged, deadband, rate limit, coalesced).
    pub writes_skipped: u64,
}

/// Something that enforces a rate per direction. The control loop calls it once per cycle with the newest
/// targets; implementations write only what changed and must never make the loop wait on a slow peer
/// (remote shapers queue the target and return).
pub trait Shaper: Send {
    /// Error type of this shaper; it names the device or router.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Short name for logs, health and metric labels, e.g. `cake:eth0` or `routeros:192.0.2.1`.
    fn name(&self) -> &str;

    /// Sets the target rate of `direction`.
    fn apply(
        &mut self,
        direction: Direction,
        rate: Bandwidth,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Reads cumulative statistics.
    fn stats(&mut self) -> impl Future<Output = Result<ShaperStats, Self::Error>> + Send;

    /// Applies the exit policy when the daemon stops (the default leaves the last rate in place).
    fn finish(self) -> impl Future<Output = Result<(), Self::Error>> + Send
    where
        Self: Sized,
    {
        async { Ok(()) }
    }

    /// Current health, without I/O.
    fn health(&self) -> ShaperHealth;
}
