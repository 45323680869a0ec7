//! Signal processing: RTT samples, per-cycle aggregation, outlier filtering, baseline and load EWMAs.

pub mod sample;
pub mod source_policy;

pub use sample::{Direction, PerDirection, RttSample, SampleKind, Timestamp};
