//! What the core receives each cycle.

use std::time::Duration;

use crate::signal::{PerDirection, RttSample, Timestamp};

/// Statistics of a local CAKE qdisc over one cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CakeSignals {
    /// Packets dropped during the cycle (all tins).
    pub drops: u64,
    /// Packets ECN-marked during the cycle (all tins).
    pub ecn_marks: u64,
    /// Bytes queued at the end of the cycle.
    pub backlog_bytes: u64,
    /// Largest average delay over the tins at the end of the cycle.
    pub max_tin_delay: Duration,
}

/// Everything the controller knows about one cycle.
#[derive(Debug, Clone, Copy)]
pub struct CycleInput<'a> {
    /// End of the cycle.
    pub now: Timestamp,
    /// RTT samples that arrived during the cycle, from every source.
    pub samples: &'a [RttSample],
    /// Bytes sent per direction during the cycle.
    pub achieved_bytes: PerDirection<u64>,
    /// CAKE statistics per direction, where a local CAKE exists.
    pub cake: PerDirection<Option<CakeSignals>>,
}
