//! CAKE's statistics: the `TCA_STATS_APP` nest `cake_dump_stats` writes (qdisc-wide values and one nest
//! per tin), plus wrap-safe accumulation of the kernel's 32-bit per-tin counters.

use netlink_packet_core::NlasIterator;

use crate::shaper::DirectionStats;

const TCA_CAKE_STATS_CAPACITY_ESTIMATE64: u16 = 2;
const TCA_CAKE_STATS_MEMORY_LIMIT: u16 = 3;
const TCA_CAKE_STATS_MEMORY_USED: u16 = 4;
const TCA_CAKE_STATS_TIN_STATS: u16 = 10;

const TCA_CAKE_TIN_STATS_SENT_PACKETS: u16 = 2;
const TCA_CAKE_TIN_STATS_SENT_BYTES64: u16 = 3;
const TCA_CAKE_TIN_STATS_DROPPED_PACKETS: u16 = 4;
const TCA_CAKE_TIN_STATS_ACKS_DROPPED_PACKETS: u16 = 6;
const TCA_CAKE_TIN_STATS_ECN_MARKED_PACKETS: u16 = 8;
const TCA_CAKE_TIN_STATS_BACKLOG_BYTES: u16 = 11;
const TCA_CAKE_TIN_STATS_THRESHOLD_RATE64: u16 = 12;
const TCA_CAKE_TIN_STATS_PEAK_DELAY_US: u16 = 18;
const TCA_CAKE_TIN_STATS_AVG_DELAY_US: u16 = 19;
const TCA_CAKE_TIN_STATS_BASE_DELAY_US: u16 = 20;

/// One tin's counters as the kernel reports them (packet counters are 32 bits and wrap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TinStats {
    pub threshold_rate_bytes: u64,
    pub sent_bytes: u64,
    pub sent_packets: u32,
    pub dropped_packets: u32,
    pub ack_dropped_packets: u32,
    pub ecn_marked_packets: u32,
    pub backlog_bytes: u32,
    pub peak_delay_us: u32,
    pub avg_delay_us: u32,
    pub base_delay_us: u32,
}

/// CAKE's application statistics (`TCA_STATS_APP`), tins in the kernel's dump order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CakeAppStats {
    pub capacity_estimate_bytes: u64,
    pub memory_limit: u32,
    pub memory_used: u32,
    pub tins: Vec<TinStats>,
}

/// A `TCA_STATS_APP` blob could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed CAKE statistics (TCA_STATS_APP): {0}")]
pub struct StatsError(&'static str);

impl CakeAppStats {
    /// Parses the nest; skips `PAD` attributes and accepts 4- or 8-byte counters.
    pub fn parse(app: &[u8]) -> Result<Self, StatsError> {
        let mut out = Self::default();
        for nla in NlasIterator::new(app) {
            let nla = nla.map_err(|_| StatsError("attribute header"))?;
            match nla.kind() & 0x3fff {
                TCA_CAKE_STATS_CAPACITY_ESTIMATE64 => {
                    out.capacity_estimate_bytes = number(nla.value())?;
                }
                TCA_CAKE_STATS_MEMORY_LIMIT => out.memory_limit = narrow(nla.value())?,
                TCA_CAKE_STATS_MEMORY_USED => out.memory_used = narrow(nla.value())?,
                TCA_CAKE_STATS_TIN_STATS => {
                    for tin in NlasIterator::new(nla.value()) {
                        let tin = tin.map_err(|_| StatsError("tin nest"))?;
                        out.tins.push(parse_tin(tin.value())?);
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

fn parse_tin(nested: &[u8]) -> Result<TinStats, StatsError> {
    let mut t = TinStats::default();
    for nla in NlasIterator::new(nested) {
        let nla = nla.map_err(|_| StatsError("tin attribute"))?;
        let v = nla.value();
        match nla.kind() & 0x3fff {
            TCA_CAKE_TIN_STATS_SENT_PACKETS => t.sent_packets = narrow(v)?,
            TCA_CAKE_TIN_STATS_SENT_BYTES64 => t.sent_bytes = number(v)?,
            TCA_CAKE_TIN_STATS_DROPPED_PACKETS => t.dropped_packets = narrow(v)?,
            TCA_CAKE_TIN_STATS_ACKS_DROPPED_PACKETS => t.ack_dropped_packets = narrow(v)?,
            TCA_CAKE_TIN_STATS_ECN_MARKED_PACKETS => t.ecn_marked_packets = narrow(v)?,
            TCA_CAKE_TIN_STATS_BACKLOG_BYTES => t.backlog_bytes = narrow(v)?,
            TCA_CAKE_TIN_STATS_THRESHOLD_RATE64 => t.threshold_rate_bytes = number(v)?,
            TCA_CAKE_TIN_STATS_PEAK_DELAY_US => t.peak_delay_us = narrow(v)?,
            TCA_CAKE_TIN_STATS_AVG_DELAY_US => t.avg_delay_us = narrow(v)?,
            TCA_CAKE_TIN_STATS_BASE_DELAY_US => t.base_delay_us = narrow(v)?,
            _ => {}
        }
    }
    Ok(t)
}

fn number(v: &[u8]) -> Result<u64, StatsError> {
    match v.len() {
        8 => Ok(u64::from_ne_bytes(
            v.try_into().map_err(|_| StatsError("u64"))?,
        )),
        4 => Ok(u64::from(u32::from_ne_bytes(
            v.try_into().map_err(|_| StatsError("u32"))?,
        ))),
        _ => Err(StatsError("counter of unexpected size")),
    }
}

/// A counter the kernel sends as u32 (anything wider is truncated the way the kernel's own would wrap).
fn narrow(v: &[u8]) -> Result<u32, StatsError> {
    number(v).map(|n| n as u32)
}

/// Turns successive raw per-tin readings into cumulative 64-bit totals. 32-bit counters advance by
/// `wrapping_sub`; a qdisc that was re-created (sent bytes went backwards, or the tin count changed)
/// restarts from its new raw values instead of producing a bogus huge delta.
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    last: Vec<TinStats>,
    total: DirectionStats,
}

impl Accumulator {
    /// Folds in a new reading and returns the cumulative statistics.
    pub fn update(&mut self, stats: &CakeAppStats) -> DirectionStats {
        let restarted = self.last.len() != stats.tins.len()
            || self
                .last
                .iter()
                .zip(&stats.tins)
                .any(|(old, new)| new.sent_bytes < old.sent_bytes);
        let zero = vec![TinStats::default(); stats.tins.len()];
        let base = if restarted { &zero } else { &self.last };
        for (old, new) in base.iter().zip(&stats.tins) {
            let t = &mut self.total;
            t.sent_bytes += new.sent_bytes - old.sent_bytes.min(new.sent_bytes);
            t.sent_packets += u64::from(new.sent_packets.wrapping_sub(old.sent_packets));
            t.dropped_packets += u64::from(new.dropped_packets.wrapping_sub(old.dropped_packets));
            t.ecn_marked_packets +=
                u64::from(new.ecn_marked_packets.wrapping_sub(old.ecn_marked_packets));
        }
        self.total.backlog_bytes = stats.tins.iter().map(|t| u64::from(t.backlog_bytes)).sum();
        self.total.avg_delay_us = stats.tins.iter().map(|t| t.avg_delay_us).max();
        self.total.peak_delay_us = stats.tins.iter().map(|t| t.peak_delay_us).max();
        self.last = stats.tins.clone();
        self.total
    }
}
