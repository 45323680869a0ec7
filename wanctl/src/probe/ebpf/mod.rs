//! Loading and attaching wanctl's embedded eBPF programs.

mod drops;
mod object;
mod programs;

pub use drops::{
    ClassDrops, DropCounting, DropError, DropReasonClass, InterfaceDrops, QdiscDropCounter,
    Unavailable,
};
pub use object::embedded_object;
pub use programs::{ProbeError, WanPrograms};
