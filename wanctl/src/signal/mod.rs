//! Signal processing: RTT samples, per-cycle aggregation, outlier filtering, baseline and load EWMAs, and
//! the download's own queue from the peers' timestamps.

pub mod aggregate;
pub mod downstream;
pub mod rtt;
pub mod sample;
pub mod source_policy;

pub use aggregate::{CycleAggregator, CycleStats, SampleFilter};
pub use downstream::DownstreamDelay;
pub use rtt::{BaselineUpdate, RttTracker, RttTrackerParams, ewma_weight};
pub use sample::{Direction, PerDirection, RttSample, SampleKind, Timestamp};
