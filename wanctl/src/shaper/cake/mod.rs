//! Local CAKE over rtnetlink: install or adopt, change only the rate, read per-tin statistics, and shape
//! download through an IFB. No `tc` or `ip` subprocess: every operation is a netlink message.

pub mod audit;
pub mod config;
pub mod error;
pub mod ifb;
pub mod netlink;
pub mod options;
pub mod qdisc;
pub mod record;
pub mod shaper;
pub mod stats;

#[cfg(test)]
mod tests;

pub use config::{
    CakeConfig, CakeConfigError, CakeDirection, ExitPolicy, OnReplaced, OverheadPreset, SetupMode,
};
pub use error::CakeError;
pub use options::{AckFilter, AtmMode, CakeOptions, DiffservMode, FlowMode};
pub use shaper::{CakeShaper, remove};
pub use stats::{Accumulator, CakeAppStats, TinStats};
