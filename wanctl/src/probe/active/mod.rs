//! Active RTT probing: low-rate ICMP echo to reflectors, for WANs this machine does not carry and for idle
//! links whose baseline should stay fresh. Passive samples stay the default source (see
//! [`crate::signal::source_policy`]).

mod config;
mod handle;
mod health;
mod median;
mod packet;
mod prober;
mod reflector;
mod snapshot;
mod socket;

pub use crate::clock::monotonic_now;
pub use config::{ActiveConfigError, ActiveProbeConfig, MAX_DEADLINE, MAX_RATE};
pub use handle::{ActiveProbeError, ActiveProber};
pub use health::{Fault, HealthEvent, HealthParams, ReflectorSet};
pub use median::{MEDIAN_FLOW, median_across_reflectors, reflector_flow};
pub use packet::{EchoReply, Family, Ignored, checksum, echo_request, parse_reply};
pub use reflector::ReflectorState;
pub use snapshot::{IgnoredPackets, ReflectorHealth, ReflectorStatus, SocketInfo, SocketKind};
pub use socket::{Binding, IcmpSocket, SocketError};
