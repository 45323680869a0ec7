//! Linux actuator: policy routing over rtnetlink.
//!
//! Steering on: the alternate WAN's default route in table T (`ip route replace`), the sticky rule, and
//! `ip rule add fwmark X/M lookup T pref P`. Steering off: that one rule is deleted; route and sticky rule
//! stay, because connections pinned to the alternate WAN still use them.
//!
//! Equivalent commands:
//! ```text
//! ip route replace default via <gw> dev <wan2> table <T>
//! ip rule add fwmark <sticky>/<sticky mask> lookup <T> pref <P-1>
//! ip rule add fwmark <X>/<M> lookup <T> pref <P>        # only while steering
//! ```

use std::net::IpAddr;

use futures::TryStreamExt;
use netlink_packet_route::{
    AddressFamily,
    route::RouteScope,
    rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage},
};
use rtnetlink::{Handle, IpVersion, RouteMessageBuilder};

pub use super::linux_config::{LinuxActuatorConfig, StickyRule, WanRoute};
use super::{ActuatorError, SteeringActuator};

/// The selectors of one `ip rule` this actuator owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RuleSpec {
    fwmark: u32,
    fwmask: u32,
    table: u32,
    priority: u32,
}

impl std::fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fwmark {:#x}/{:#x} lookup {} pref {}",
            self.fwmark, self.fwmask, self.table, self.priority
        )
    }
}

/// Switches steering with policy routing in the network namespace of its netlink socket.
#[derive(Debug, Clone)]
pub struct LinuxActuator {
    handle: Handle,
    config: LinuxActuatorConfig,
    steer: RuleSpec,
    sticky: Option<RuleSpec>,
}

impl LinuxActuator {
    /// Uses an existing rtnetlink handle (whose connection task is already running).
    pub fn new(handle: Handle, config: LinuxActuatorConfig) -> Self {
        let steer = RuleSpec {
            fwmark: config.fwmark,
            fwmask: config.fwmask,
            table: config.table,
            priority: config.priority,
        };
        let sticky = config.sticky.map(|s| RuleSpec {
            fwmark: s.fwmark,
            fwmask: s.fwmask,
            table: config.table,
            priority: s.priority,
        });
        Self {
            handle,
            config,
            steer,
            sticky,
        }
    }

    /// Opens a rtnetlink socket in the calling thread's network namespace and spawns its connection on the
    /// current tokio runtime.
    ///
    /// # Errors
    /// The socket could not be opened.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn connect(config: LinuxActuatorConfig) -> Result<Self, ActuatorError> {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(ActuatorError::Socket)?;
        tokio::spawn(connection);
        Ok(Self::new(handle, config))
    }

    fn family(&self) -> (IpVersion, AddressFamily) {
        if self.config.is_ipv6() {
            (IpVersion::V6, AddressFamily::Inet6)
        } else {
            (IpVersion::V4, AddressFamily::Inet)
        }
    }

    /// All rules of our family.
    async fn dump(&self) -> Result<Vec<RuleMessage>, ActuatorError> {
        let (version, _) = self.family();
        self.handle
            .rule()
            .get(version)
            .execute()
            .try_collect()
            .await
            .map_err(|source| ActuatorError::Netlink {
                op: "RTM_GETRULE dump".to_string(),
                source,
            })
    }

    /// Our rules among the kernel's, matching `spec` exactly.
    async fn find(&self, spec: RuleSpec) -> Result<Vec<RuleMessage>, ActuatorError> {
        let (_, family) = self.family();
        Ok(self
            .dump()
            .await?
            .into_iter()
            .filter(|r| rule_matches(r, &spec, family))
            .collect())
    }

    /// Fails if another rule shares a priority of ours. RTM_DELRULE removes the first rule matching the
    /// attributes given, so deleting ours could remove, say, an `iif`-restricted rule at the same priority.
    async fn check_priorities(&self) -> Result<(), ActuatorError> {
        let (_, family) = self.family();
        let rules = self.dump().await?;
        for spec in std::iter::once(self.steer).chain(self.sticky) {
            let foreign = rules.iter().find(|r| {
                rule_priority(r) == spec.priority
                    && !rule_matches(r, &self.steer, family)
                    && !self.sticky.is_some_and(|s| rule_matches(r, &s, family))
            });
            if let Some(rule) = foreign {
                return Err(ActuatorError::PriorityConflict {
                    priority: spec.priority,
                    rule: format!("{:?}", rule.attributes),
                });
            }
        }
        Ok(())
    }

    async fn ensure_rule(&self, spec: RuleSpec) -> Result<(), ActuatorError> {
        if !self.find(spec).await?.is_empty() {
            return Ok(());
        }
        let request = self.handle.rule().add();
        let mut request = if self.config.is_ipv6() {
            RuleBuilder::V6(request.v6())
        } else {
            RuleBuilder::V4(request.v4())
        };
        let message = request.message_mut();
        // iproute2 sets FR_ACT_TO_TBL on add; without it the kernel stores an action that never routes.
        message.header.action = RuleAction::ToTable;
        if spec.table > 255 {
            message.attributes.push(RuleAttribute::Table(spec.table));
        } else {
            message.header.table = spec.table as u8;
        }
        message.attributes.extend([
            RuleAttribute::Priority(spec.priority),
            RuleAttribute::FwMark(spec.fwmark),
            // rtnetlink has no builder for the mask; without it the kernel compares all 32 bits.
            RuleAttribute::FwMask(spec.fwmask),
        ]);
        request
            .execute()
            .await
            .map_err(|source| ActuatorError::Netlink {
                op: format!("RTM_NEWRULE {spec}"),
                source,
            })
    }

    async fn remove_rule(&self, spec: RuleSpec) -> Result<(), ActuatorError> {
        // Delete every copy: a duplicate left behind would keep steering on.
        for rule in self.find(spec).await? {
            self.handle
                .rule()
                .del(rule)
                .execute()
                .await
                .map_err(|source| ActuatorError::Netlink {
                    op: format!("RTM_DELRULE {spec}"),
                    source,
                })?;
        }
        Ok(())
    }

    async fn ifindex(&self, device: &str) -> Result<u32, ActuatorError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(device.to_string())
            .execute();
        match links.try_next().await {
            Ok(Some(link)) => Ok(link.header.index),
            Ok(None) => Err(ActuatorError::DeviceNotFound {
                device: device.to_string(),
            }),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => {
                Err(ActuatorError::DeviceNotFound {
                    device: device.to_string(),
                })
            }
            Err(source) => Err(ActuatorError::Netlink {
                op: format!("RTM_GETLINK {device}"),
                source,
            }),
        }
    }

    /// `ip route replace default [via gw] dev <device> table <T>`.
    async fn ensure_route(&self) -> Result<(), ActuatorError> {
        let route = &self.config.route;
        let index = self.ifindex(&route.device).await?;
        let message = match route.gateway {
            Some(IpAddr::V4(gw)) => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                .table_id(self.config.table)
                .output_interface(index)
                .gateway(gw)
                .build(),
            Some(IpAddr::V6(gw)) => RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                .table_id(self.config.table)
                .output_interface(index)
                .gateway(gw)
                .build(),
            // A device route needs link scope, as `ip route add default dev ppp0` sets it.
            None => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                .table_id(self.config.table)
                .output_interface(index)
                .scope(RouteScope::Link)
                .build(),
        };
        self.handle
            .route()
            .add(message)
            .replace()
            .execute()
            .await
            .map_err(|source| ActuatorError::Netlink {
                op: format!(
                    "RTM_NEWROUTE default dev {} table {} (replace)",
                    route.device, self.config.table
                ),
                source,
            })
    }
}

/// The typed rule builders of rtnetlink, so one code path serves both families.
enum RuleBuilder {
    V4(rtnetlink::RuleAddRequest<std::net::Ipv4Addr>),
    V6(rtnetlink::RuleAddRequest<std::net::Ipv6Addr>),
}

impl RuleBuilder {
    fn message_mut(&mut self) -> &mut RuleMessage {
        match self {
            RuleBuilder::V4(r) => r.message_mut(),
            RuleBuilder::V6(r) => r.message_mut(),
        }
    }

    async fn execute(self) -> Result<(), rtnetlink::Error> {
        match self {
            RuleBuilder::V4(r) => r.execute().await,
            RuleBuilder::V6(r) => r.execute().await,
        }
    }
}

impl SteeringActuator for LinuxActuator {
    async fn read(&mut self) -> Result<bool, ActuatorError> {
        Ok(!self.find(self.steer).await?.is_empty())
    }

    async fn set(&mut self, steering: bool) -> Result<(), ActuatorError> {
        self.check_priorities().await?;
        if steering {
            // Route first: a rule pointing at an empty table would fall through to main, steering nothing.
            self.ensure_route().await?;
            if let Some(sticky) = self.sticky {
                self.ensure_rule(sticky).await?;
            }
            self.ensure_rule(self.steer).await
        } else {
            self.remove_rule(self.steer).await
        }
    }

    fn describe(&self) -> String {
        format!("ip rule {}", self.steer)
    }
}

/// The rule's priority (`pref`); the kernel omits the attribute for priority 0.
fn rule_priority(rule: &RuleMessage) -> u32 {
    rule.attributes
        .iter()
        .find_map(|a| match a {
            RuleAttribute::Priority(p) => Some(*p),
            _ => None,
        })
        .unwrap_or(0)
}

/// True when `rule` is exactly `spec`: same family, action, table, priority, mark and mask, and no other
/// selector (a rule restricted by interface or prefix is someone else's).
fn rule_matches(rule: &RuleMessage, spec: &RuleSpec, family: AddressFamily) -> bool {
    let h = &rule.header;
    if h.family != family
        || h.action != RuleAction::ToTable
        || h.src_len != 0
        || h.dst_len != 0
        || h.tos != 0
        || h.flags.contains(RuleFlags::Invert)
    {
        return false;
    }
    let mut table = u32::from(h.table);
    let (mut priority, mut mark, mut mask) = (0, None, None);
    for attribute in &rule.attributes {
        match attribute {
            RuleAttribute::Table(t) => table = *t,
            RuleAttribute::Priority(p) => priority = *p,
            RuleAttribute::FwMark(m) => mark = Some(*m),
            RuleAttribute::FwMask(m) => mask = Some(*m),
            RuleAttribute::Destination(_)
            | RuleAttribute::Source(_)
            | RuleAttribute::Iifname(_)
            | RuleAttribute::Oifname(_)
            | RuleAttribute::UidRange(_)
            | RuleAttribute::IpProtocol(_)
            | RuleAttribute::SourcePortRange(_)
            | RuleAttribute::DestinationPortRange(_)
            | RuleAttribute::TunId(_)
            | RuleAttribute::L3MDev(true) => return false,
            _ => {}
        }
    }
    // The kernel omits FRA_FWMASK only for unmarked rules; a mark without a mask compares all bits.
    let mask = mask.unwrap_or(u32::MAX);
    table == spec.table
        && priority == spec.priority
        && mark == Some(spec.fwmark)
        && mask == spec.fwmask
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: RuleSpec = RuleSpec {
        fwmark: 0x1,
        fwmask: 0x1,
        table: 100,
        priority: 1000,
    };

    /// A rule as the kernel dumps `ip rule add fwmark 0x1/0x1 lookup 100 pref 1000`.
    fn dumped() -> RuleMessage {
        let mut rule = RuleMessage::default();
        rule.header.family = AddressFamily::Inet;
        rule.header.action = RuleAction::ToTable;
        rule.header.table = 100;
        rule.attributes = vec![
            RuleAttribute::Table(100),
            RuleAttribute::Priority(1000),
            RuleAttribute::FwMark(0x1),
            RuleAttribute::FwMask(0x1),
        ];
        rule
    }

    #[test]
    fn exact_rule_matches_in_its_family_only() {
        assert!(rule_matches(&dumped(), &SPEC, AddressFamily::Inet));
        assert!(!rule_matches(&dumped(), &SPEC, AddressFamily::Inet6));
    }

    #[test]
    fn large_table_ids_are_read_from_the_attribute() {
        let mut rule = dumped();
        rule.header.table = 252; // RT_TABLE_COMPAT, as the kernel reports tables above 255
        rule.attributes[0] = RuleAttribute::Table(1000);
        let spec = RuleSpec {
            table: 1000,
            ..SPEC
        };
        assert!(rule_matches(&rule, &spec, AddressFamily::Inet));
    }

    #[test]
    fn similar_rules_of_others_do_not_match() {
        let mut unspec = dumped();
        unspec.header.action = RuleAction::Unspec;
        let mut other_mask = dumped();
        other_mask.attributes[3] = RuleAttribute::FwMask(0xff);
        let mut no_mask = dumped();
        no_mask.attributes.pop();
        let mut other_pref = dumped();
        other_pref.attributes[1] = RuleAttribute::Priority(1001);
        let mut restricted = dumped();
        restricted
            .attributes
            .push(RuleAttribute::Iifname("lan0".to_string()));
        let mut inverted = dumped();
        inverted.header.flags = RuleFlags::Invert;
        for rule in [
            unspec, other_mask, no_mask, other_pref, restricted, inverted,
        ] {
            assert!(!rule_matches(&rule, &SPEC, AddressFamily::Inet), "{rule:?}");
        }
    }
}
