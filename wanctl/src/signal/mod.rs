//! Signal processing: RTT samples, per-cycle aggregation, outlier filtering, baseline and load EWMAs.

pub mod aggregate;
pub mod rtt;
pub mod sample;
pub mod source_policy;

pub use aggregate::{CycleAggregator, CycleStats, SampleFilter};
pub use rtt::{BaselineUpdate, RttTracker, RttTrackerParams, ewma_weight};
pub use sample::{Direction, PerDirection, RttSample, SampleKind, Timestamp};
