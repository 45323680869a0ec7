//! Multi-WAN steering: move new latency-sensitive connections to the healthier WAN.
//!
//! - [`assess`]: per-WAN congestion input → [`WanHealth`] (usable with a state, down, stale, invalid).
//! - [`SteeringMachine`]: the pure state machine (enter after sustained congestion, leave after sustained
//!   GREEN, hold-down, a flap limit that suppresses, start-up reconciliation, exit policy).
//! - [`actuator`]: Linux policy routing over rtnetlink, or a RouterOS mangle rule; always verified.
//! - [`SteeringSnapshot`]: health and metrics.
//!
//! wanctl switches the routing decision only; classifying traffic and keeping flows sticky is the
//! firewall's job (`configs/steering-nftables.nft`), so only new connections ever move.

pub mod actuator;
pub mod assess;
pub mod config;
mod decision;
mod health;
mod machine;

pub use actuator::{ActuatorConfig, ActuatorError, SteeringActuator, set_verified};
pub use assess::{CongestionState, WanCongestion, WanHealth};
pub use config::{SteeringConfig, SteeringConfigError};
pub use decision::{Action, Decision, Reason};
pub use health::SteeringSnapshot;
pub use machine::SteeringMachine;

#[cfg(test)]
mod tests;
