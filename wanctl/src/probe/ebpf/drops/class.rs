//! The qdisc drop reasons wanctl counts, named as the kernel names them.

use wanctl_common::drops::class;

/// A class of qdisc drop, one per kernel drop reason (`enum skb_drop_reason`, `include/net/dropreason-core.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReasonClass {
    /// `SKB_DROP_REASON_QDISC_DROP`: a qdisc refused the packet (generic `qdisc_drop()`).
    QdiscDrop,
    /// `SKB_DROP_REASON_QDISC_OVERLIMIT`: the qdisc's limit was reached (buffer overflow).
    QdiscOverlimit,
    /// `SKB_DROP_REASON_QDISC_CONGESTED`: an AQM drop (CAKE's COBALT, dualpi2, gred).
    QdiscCongested,
    /// `SKB_DROP_REASON_CAKE_FLOOD`: CAKE's BLUE drop of an unresponsive flow.
    CakeFlood,
}

impl DropReasonClass {
    /// Every class, in the order of the shared counter arrays.
    pub const ALL: [Self; 4] = [
        Self::QdiscDrop,
        Self::QdiscOverlimit,
        Self::QdiscCongested,
        Self::CakeFlood,
    ];

    /// Index into [`wanctl_common::drops::DropCounters`] and `DropConfig::reasons`.
    pub fn index(self) -> usize {
        match self {
            Self::QdiscDrop => class::QDISC_DROP,
            Self::QdiscOverlimit => class::QDISC_OVERLIMIT,
            Self::QdiscCongested => class::QDISC_CONGESTED,
            Self::CakeFlood => class::CAKE_FLOOD,
        }
    }

    /// The enumerator's name in the kernel's `enum skb_drop_reason`.
    pub fn kernel_name(self) -> &'static str {
        match self {
            Self::QdiscDrop => "SKB_DROP_REASON_QDISC_DROP",
            Self::QdiscOverlimit => "SKB_DROP_REASON_QDISC_OVERLIMIT",
            Self::QdiscCongested => "SKB_DROP_REASON_QDISC_CONGESTED",
            Self::CakeFlood => "SKB_DROP_REASON_CAKE_FLOOD",
        }
    }

    /// Short lowercase label for logs, JSON and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::QdiscDrop => "qdisc_drop",
            Self::QdiscOverlimit => "qdisc_overlimit",
            Self::QdiscCongested => "qdisc_congested",
            Self::CakeFlood => "cake_flood",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DropReasonClass;

    #[test]
    fn indices_are_distinct_and_fill_the_shared_arrays() {
        let mut seen = [false; wanctl_common::drops::CLASS_COUNT];
        for class in DropReasonClass::ALL {
            assert!(!seen[class.index()], "{class:?} index reused");
            seen[class.index()] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
