//! Loading and attaching wanctl's embedded eBPF programs.

mod object;
mod programs;

pub use object::embedded_object;
pub use programs::{ProbeError, WanPrograms};
