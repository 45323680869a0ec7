//! RouterOS actuator: a mangle rule, found by its comment, enabled while steering.
//!
//! The router holds the classification and the routing mark, e.g.
//! `/ip firewall mangle add chain=prerouting connection-state=new dscp=46 action=mark-routing
//! new-routing-mark=via-wan2 disabled=yes comment="wanctl steer"`; wanctl only flips `disabled`.
//! Connection marks already set keep existing flows on their path.
//!
//! The actuator talks to the router through [`MangleRuleClient`], which the REST client implements with
//! `GET /rest/ip/firewall/mangle?comment=<comment>` (exactly one rule must match) and
//! `PATCH /rest/ip/firewall/mangle/<.id>` with `{"disabled":"true"|"false"}` (the `.id` re-resolved by comment
//! when the router renumbered it).

use std::future::Future;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ActuatorError, BoxError, SteeringActuator};
use crate::steering::SteeringConfigError;

/// Longest comment accepted (RouterOS and the Python wanctl's limit).
const MAX_COMMENT: usize = 128;

/// `actuator: { routeros: { mangle_comment: "..." } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterOsActuatorConfig {
    /// The comment that identifies exactly one mangle rule.
    pub mangle_comment: String,
}

impl RouterOsActuatorConfig {
    pub(in crate::steering) fn validate(&self) -> Result<(), SteeringConfigError> {
        let c = &self.mangle_comment;
        let allowed = |ch: char| ch.is_ascii_alphanumeric() || "_.-: ".contains(ch);
        if c.trim().is_empty() || c.len() > MAX_COMMENT || !c.chars().all(allowed) {
            return Err(SteeringConfigError::new(
                "actuator.routeros.mangle_comment",
                format!(
                    "`{c}` must be 1-{MAX_COMMENT} characters of letters, digits, space and _ . - :"
                ),
            ));
        }
        Ok(())
    }
}

/// What the actuator needs from a RouterOS client; the REST client implements it (below).
pub trait MangleRuleClient: Send {
    /// Whether the mangle rule with `comment` is enabled. An absent or ambiguous rule is an error.
    fn mangle_enabled(
        &mut self,
        comment: &str,
    ) -> impl Future<Output = Result<bool, BoxError>> + Send;

    /// Enables or disables the mangle rule with `comment`.
    fn set_mangle_enabled(
        &mut self,
        comment: &str,
        enabled: bool,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// Steers by enabling a mangle rule on a RouterOS router.
#[derive(Debug)]
pub struct RouterOsActuator<C> {
    client: C,
    comment: String,
}

impl<C: MangleRuleClient> RouterOsActuator<C> {
    /// Wraps a client; `config` names the rule.
    pub fn new(client: C, config: &RouterOsActuatorConfig) -> Self {
        Self {
            client,
            comment: config.mangle_comment.clone(),
        }
    }
}

impl<C: MangleRuleClient> SteeringActuator for RouterOsActuator<C> {
    async fn read(&mut self) -> Result<bool, ActuatorError> {
        self.client
            .mangle_enabled(&self.comment)
            .await
            .map_err(|source| ActuatorError::RouterOs {
                comment: self.comment.clone(),
                op: "read",
                source,
            })
    }

    async fn set(&mut self, steering: bool) -> Result<(), ActuatorError> {
        self.client
            .set_mangle_enabled(&self.comment, steering)
            .await
            .map_err(|source| ActuatorError::RouterOs {
                comment: self.comment.clone(),
                op: "set",
                source,
            })
    }

    fn describe(&self) -> String {
        format!("RouterOS mangle rule `{}`", self.comment)
    }
}

/// The REST client is the production [`MangleRuleClient`]; steering shares it with the queue writer of the
/// same router (`RouterOsWriter::client()`), so both use one connection pool and one id cache.
impl MangleRuleClient for std::sync::Arc<crate::shaper::routeros::RouterOsClient> {
    async fn mangle_enabled(&mut self, comment: &str) -> Result<bool, BoxError> {
        let rules = self.mangle_rules(comment).await?;
        match rules.as_slice() {
            [rule] => Ok(!rule.disabled),
            [] => Err(format!(
                "{}: no mangle rule has the comment `{comment}`",
                self.host()
            )
            .into()),
            many => Err(format!(
                "{}: {} mangle rules have the comment `{comment}`; steering needs exactly one",
                self.host(),
                many.len()
            )
            .into()),
        }
    }

    async fn set_mangle_enabled(&mut self, comment: &str, enabled: bool) -> Result<(), BoxError> {
        // Refuse an absent or ambiguous rule before writing anything: toggling two rules would half-apply.
        self.mangle_enabled(comment).await?;
        crate::shaper::routeros::RouterOsClient::set_mangle_enabled(self, comment, enabled).await?;
        Ok(())
    }
}
