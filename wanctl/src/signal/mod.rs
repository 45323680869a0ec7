//! Signal processing: RTT samples, per-cycle aggregation, outlier filtering, baseline and load EWMAs.
