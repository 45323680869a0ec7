//! Signal processing: RTT samples, per-cycle aggregation, outlier filtering, baseline and load EWMAs.

pub mod sample;

pub use sample::{Direction, PerDirection, RttSample, SampleKind, Timestamp};
