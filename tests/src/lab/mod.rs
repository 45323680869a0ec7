//! The closed-loop lab: real CAKE, real CUBIC TCP and the real wanctl binary against an ISP bottleneck
//! whose capacity changes over time. The run half ([`run`]) executes inside the VM (it needs sch_cake and
//! netem) and prints its measurements as marked lines; the report half ([`report`], [`plot`]) runs on the
//! host and turns them into JSON and an SVG.

pub mod cpu;
pub mod data;
pub mod phases;
pub mod plot;
pub mod report;
pub mod run;
pub mod scenario;
pub mod stats;
pub mod topology;
pub mod trace_summary;
pub mod traffic;
pub mod wanctl;

#[cfg(test)]
mod tests;
