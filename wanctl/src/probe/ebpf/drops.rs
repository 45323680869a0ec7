//! Qdisc drop counting per interface from the `skb:kfree_skb` tracepoint, on kernels whose drop reasons
//! include the qdisc reasons. Everything kernel-specific (reason values, argument positions, struct
//! offsets) is resolved from the running kernel's BTF at load time.

mod btf;
mod class;
mod counter;
mod resolve;

pub use class::DropReasonClass;
pub use counter::{ClassDrops, DropCounting, DropError, InterfaceDrops, QdiscDropCounter};
pub use resolve::Unavailable;
