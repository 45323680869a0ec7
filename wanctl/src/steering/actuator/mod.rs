//! Actuators: the one place where a steering decision touches the system.

pub mod linux;
mod linux_config;
pub mod routeros;

use std::future::Future;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use linux::{LinuxActuator, LinuxActuatorConfig, StickyRule, WanRoute};
pub use routeros::{MangleRuleClient, RouterOsActuator, RouterOsActuatorConfig};

use super::SteeringConfigError;

/// Which actuator switches the routing decision. In YAML, a map with exactly one key:
/// `actuator: { linux: {...} }` or `actuator: { routeros: {...} }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "ActuatorConfigRepr", into = "ActuatorConfigRepr")]
pub enum ActuatorConfig {
    /// Local policy routing: `ip rule fwmark X/M lookup T`, added while steering.
    Linux(LinuxActuatorConfig),
    /// A MikroTik mangle rule, found by comment, enabled while steering.
    RouterOs(RouterOsActuatorConfig),
}

/// The YAML form of [`ActuatorConfig`]: serde_yaml_ng reads externally tagged enums only as YAML tags
/// (`!linux`), which operators rarely write, so the choice is a map with one key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ActuatorConfigRepr {
    /// Local policy routing over rtnetlink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    linux: Option<LinuxActuatorConfig>,
    /// A RouterOS mangle rule toggled through the REST client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    routeros: Option<RouterOsActuatorConfig>,
}

impl TryFrom<ActuatorConfigRepr> for ActuatorConfig {
    type Error = String;

    fn try_from(repr: ActuatorConfigRepr) -> Result<Self, Self::Error> {
        match (repr.linux, repr.routeros) {
            (Some(linux), None) => Ok(ActuatorConfig::Linux(linux)),
            (None, Some(routeros)) => Ok(ActuatorConfig::RouterOs(routeros)),
            _ => Err("actuator: give exactly one of `linux` or `routeros`".to_string()),
        }
    }
}

impl From<ActuatorConfig> for ActuatorConfigRepr {
    fn from(config: ActuatorConfig) -> Self {
        match config {
            ActuatorConfig::Linux(linux) => Self {
                linux: Some(linux),
                routeros: None,
            },
            ActuatorConfig::RouterOs(routeros) => Self {
                linux: None,
                routeros: Some(routeros),
            },
        }
    }
}

impl ActuatorConfig {
    pub(super) fn validate(&self) -> Result<(), SteeringConfigError> {
        match self {
            ActuatorConfig::Linux(c) => c.validate(),
            ActuatorConfig::RouterOs(c) => c.validate(),
        }
    }
}

/// Boxed cause from an actuator's backend (a RouterOS client error, for example).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An actuator operation that failed; names what was being done.
#[derive(Debug, thiserror::Error)]
pub enum ActuatorError {
    /// A netlink request failed.
    #[error("netlink {op}: {source}")]
    Netlink {
        /// The request, e.g. `RTM_NEWRULE fwmark 0x1/0x1 lookup 100 pref 1000`.
        op: String,
        /// The kernel's or the library's error.
        #[source]
        source: rtnetlink::Error,
    },
    /// The netlink socket could not be opened.
    #[error("opening a rtnetlink socket: {0}")]
    Socket(#[source] std::io::Error),
    /// The route's device does not exist.
    #[error("device `{device}` not found")]
    DeviceNotFound {
        /// The configured name.
        device: String,
    },
    /// Another rule uses a priority this actuator owns; deleting ours could delete that one instead.
    #[error(
        "ip rule priority {priority} is also used by another rule ({rule}); give steering its own priority"
    )]
    PriorityConflict {
        /// The configured priority.
        priority: u32,
        /// The other rule's attributes.
        rule: String,
    },
    /// Reading back after a set disagreed with what was set.
    #[error("{actuator}: set steering={expected}, but reading back gives steering={found}")]
    Verify {
        /// The actuator, as [`SteeringActuator::describe`] names it.
        actuator: String,
        /// What was set.
        expected: bool,
        /// What was read back.
        found: bool,
    },
    /// The RouterOS client failed.
    #[error("RouterOS mangle rule `{comment}`: {op}: {source}")]
    RouterOs {
        /// The rule's comment.
        comment: String,
        /// "read" or "set".
        op: &'static str,
        /// The client's error.
        #[source]
        source: BoxError,
    },
}

/// Switches the routing decision for new latency-sensitive connections. One owner per actuator: the
/// steering task holds it, everyone else asks that task.
pub trait SteeringActuator: Send {
    /// Whether the system is steering now (read from the system, not remembered).
    ///
    /// # Errors
    /// The backend could not be read.
    fn read(&mut self) -> impl Future<Output = Result<bool, ActuatorError>> + Send;

    /// Makes the system steer (`true`) or not (`false`). Idempotent.
    ///
    /// # Errors
    /// The backend refused or could not be reached; the system may be unchanged.
    fn set(&mut self, steering: bool) -> impl Future<Output = Result<(), ActuatorError>> + Send;

    /// A short name for logs and errors, e.g. `ip rule fwmark 0x1/0x1 lookup 100 pref 1000`.
    fn describe(&self) -> String;
}

/// Sets `steering`, then reads it back. Only a verified switch may be committed to the state machine.
///
/// # Errors
/// The set or the read failed, or the read disagreed ([`ActuatorError::Verify`]).
pub async fn set_verified<A: SteeringActuator>(
    actuator: &mut A,
    steering: bool,
) -> Result<(), ActuatorError> {
    actuator.set(steering).await?;
    let found = actuator.read().await?;
    if found == steering {
        Ok(())
    } else {
        Err(ActuatorError::Verify {
            actuator: actuator.describe(),
            expected: steering,
            found,
        })
    }
}
