//! Configuration of the Linux policy-routing actuator.

use std::net::IpAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::steering::SteeringConfigError;

/// Routing tables the kernel reserves: unspec (0), default (253), main (254), local (255).
const RESERVED_TABLES: [u32; 4] = [0, 253, 254, 255];
/// The kernel's `from all lookup main` rule; ours must come first.
const MAIN_RULE_PRIORITY: u32 = 32766;
/// Longest interface name (IFNAMSIZ - 1).
const IFNAMSIZ_MAX: usize = 15;

/// Policy routing: while steering, `ip rule add fwmark <fwmark>/<fwmask> lookup <table> pref <priority>`;
/// the table holds a default route via the alternate WAN.
///
/// Marks come from nftables (see `configs/steering-nftables.nft`): the first packet of a new
/// latency-sensitive connection carries `fwmark`; a connection that left via the alternate WAN carries
/// the `sticky` mark for its whole life, so ending steering never moves it back mid-flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinuxActuatorConfig {
    /// Mark of new latency-sensitive connections (`ip rule ... fwmark`).
    #[serde(default = "default_fwmark")]
    pub fwmark: u32,
    /// Which mark bits the rule compares.
    #[serde(default = "default_fwmark")]
    pub fwmask: u32,
    /// Routing table with the alternate WAN's default route.
    #[serde(default = "default_table")]
    pub table: u32,
    /// Rule priority (`pref`); must be below the main table's 32766.
    #[serde(default = "default_priority")]
    pub priority: u32,
    /// Permanent rule for connections pinned to the alternate WAN; `null` disables it (then ending
    /// steering moves those connections back, which breaks them behind NAT).
    #[serde(default = "default_sticky")]
    pub sticky: Option<StickyRule>,
    /// The alternate WAN's route, installed in `table`.
    pub route: WanRoute,
}

/// `ip rule add fwmark <fwmark>/<fwmask> lookup <table> pref <priority>`, kept while wanctl runs and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StickyRule {
    /// Mark nftables restores on packets of connections that left via the alternate WAN.
    pub fwmark: u32,
    /// Which mark bits the rule compares; must not overlap the steering rule's mask.
    pub fwmask: u32,
    /// Rule priority; must be below 32766 and differ from the steering rule's.
    pub priority: u32,
}

/// `ip route replace default [via <gateway>] dev <device> table <table>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WanRoute {
    /// The alternate WAN's interface.
    pub device: String,
    /// Next hop; omit for point-to-point links (PPP). Its family selects IPv4 or IPv6 policy routing.
    #[serde(default)]
    pub gateway: Option<IpAddr>,
}

impl LinuxActuatorConfig {
    /// True when rules and route are IPv6 (the gateway is IPv6).
    pub fn is_ipv6(&self) -> bool {
        matches!(self.route.gateway, Some(IpAddr::V6(_)))
    }

    pub(in crate::steering) fn validate(&self) -> Result<(), SteeringConfigError> {
        const P: &str = "actuator.linux";
        check_mark(&format!("{P}.fwmark"), self.fwmark, self.fwmask)?;
        if RESERVED_TABLES.contains(&self.table) {
            return Err(SteeringConfigError::new(
                format!("{P}.table"),
                format!(
                    "{} is reserved by the kernel (0, 253 default, 254 main, 255 local)",
                    self.table
                ),
            ));
        }
        check_priority(&format!("{P}.priority"), self.priority)?;
        if let Some(sticky) = &self.sticky {
            check_mark(&format!("{P}.sticky.fwmark"), sticky.fwmark, sticky.fwmask)?;
            check_priority(&format!("{P}.sticky.priority"), sticky.priority)?;
            if sticky.fwmask & self.fwmask != 0 {
                return Err(SteeringConfigError::new(
                    format!("{P}.sticky.fwmask"),
                    format!(
                        "{:#x} overlaps fwmask {:#x}: a pinned connection would match the steering rule",
                        sticky.fwmask, self.fwmask
                    ),
                ));
            }
            if sticky.priority == self.priority {
                return Err(SteeringConfigError::new(
                    format!("{P}.sticky.priority"),
                    "must differ from priority (the kernel keeps rules apart by priority)",
                ));
            }
        }
        let device = &self.route.device;
        if device.is_empty() || device.len() > IFNAMSIZ_MAX || device.contains(['/', ' ', '\0']) {
            return Err(SteeringConfigError::new(
                format!("{P}.route.device"),
                format!("`{device}` is not an interface name (1-15 characters, no '/' or spaces)"),
            ));
        }
        Ok(())
    }
}

fn check_mark(field: &str, mark: u32, mask: u32) -> Result<(), SteeringConfigError> {
    if mark == 0 || mask == 0 {
        return Err(SteeringConfigError::new(
            field,
            "mark and mask must be non-zero (a zero mark matches unmarked traffic)",
        ));
    }
    if mark & !mask != 0 {
        return Err(SteeringConfigError::new(
            field,
            format!("mark {mark:#x} has bits outside its mask {mask:#x}, so it can never match"),
        ));
    }
    Ok(())
}

fn check_priority(field: &str, priority: u32) -> Result<(), SteeringConfigError> {
    if priority == 0 || priority >= MAIN_RULE_PRIORITY {
        return Err(SteeringConfigError::new(
            field,
            format!(
                "{priority} must be between 1 and {} (before the main table)",
                MAIN_RULE_PRIORITY - 1
            ),
        ));
    }
    Ok(())
}

fn default_fwmark() -> u32 {
    0x1
}
fn default_table() -> u32 {
    100
}
fn default_priority() -> u32 {
    1000
}
fn default_sticky() -> Option<StickyRule> {
    Some(StickyRule {
        fwmark: 0x2,
        fwmask: 0x2,
        priority: 999,
    })
}
