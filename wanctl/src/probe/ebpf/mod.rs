//! wanctl's embedded eBPF programs: loading, attaching to the WAN interface, and reading their RTT samples
//! and counters.

mod attach;
mod config;
mod drops;
mod object;
mod programs;
mod reader;
mod stats;

pub use attach::{AttachMode, Framing};
pub use config::{ConfigError, ProbeConfig};
pub use drops::{
    ClassDrops, DropCounting, DropError, DropReasonClass, InterfaceDrops, QdiscDropCounter,
    Unavailable,
};
pub use object::embedded_object;
pub use programs::{ProbeError, WanPrograms};
pub use reader::{ProbeSample, SampleReader};
pub use stats::{DirectionTraffic, ProbeStats};
