//! Shapers: the [`Shaper`] seam the control loop drives, local CAKE over netlink, and MikroTik RouterOS
//! over REST.

pub mod cake;
pub mod routeros;
mod traits;

pub use traits::{DirectionStats, Shaper, ShaperHealth, ShaperStats};
