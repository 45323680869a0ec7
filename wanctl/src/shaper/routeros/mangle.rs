//! Firewall mangle rules enabled or disabled by comment, verified by reading them back (steering).

use reqwest::Method;
use serde_json::json;

use super::{
    client::RouterOsClient,
    error::RouterOsError,
    queue::as_records,
    wire::{field, parse_bool},
};

const MENU: &str = "ip/firewall/mangle";

/// A mangle rule's id and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MangleRule {
    pub id: String,
    pub comment: String,
    pub disabled: bool,
}

impl RouterOsClient {
    /// The mangle rules whose comment is exactly `comment` (`GET /rest/ip/firewall/mangle?comment=`).
    ///
    /// # Errors
    /// Transport, HTTP and decode errors.
    pub async fn mangle_rules(&self, comment: &str) -> Result<Vec<MangleRule>, RouterOsError> {
        let reply = self
            .call(Method::GET, MENU, &[("comment", comment)], None)
            .await?;
        let mut rules = Vec::new();
        for record in as_records(self, MENU, reply)? {
            if field(&record, "comment") != Some(comment) {
                continue;
            }
            let decode = |reason: &str| RouterOsError::Decode {
                host: self.host.clone(),
                path: MENU.to_string(),
                reason: reason.to_string(),
            };
            let id = field(&record, ".id").ok_or_else(|| decode("rule without `.id`"))?;
            let disabled = field(&record, "disabled")
                .and_then(parse_bool)
                .ok_or_else(|| decode("rule without a boolean `disabled`"))?;
            rules.push(MangleRule {
                id: id.to_string(),
                comment: comment.to_string(),
                disabled,
            });
        }
        self.cache_ids(MENU, comment, rules.iter().map(|r| r.id.clone()).collect());
        Ok(rules)
    }

    /// Enables (`enabled = true`) or disables every mangle rule commented `comment`, then reads them back
    /// and checks the router reports the wanted state.
    ///
    /// # Errors
    /// [`RouterOsError::NotFound`] when no rule has that comment, [`RouterOsError::Verify`] when the
    /// read-back disagrees, transport and HTTP errors otherwise.
    pub async fn set_mangle_enabled(
        &self,
        comment: &str,
        enabled: bool,
    ) -> Result<Vec<MangleRule>, RouterOsError> {
        let body = json!({ "disabled": if enabled { "false" } else { "true" } });
        let mut retried = false;
        'attempt: loop {
            let ids = match self.cached_ids(MENU, comment) {
                Some(ids) if !ids.is_empty() => ids,
                _ => {
                    retried = true;
                    self.mangle_rules(comment)
                        .await?
                        .into_iter()
                        .map(|r| r.id)
                        .collect()
                }
            };
            if ids.is_empty() {
                return Err(self.no_rule(comment));
            }
            for id in &ids {
                let path = format!("{MENU}/{id}");
                match self.call(Method::PATCH, &path, &[], Some(&body)).await {
                    Ok(_) => {}
                    Err(RouterOsError::Http { status: 404, .. }) if !retried => {
                        self.forget(MENU, comment);
                        retried = true;
                        continue 'attempt;
                    }
                    Err(e) => return Err(e),
                }
            }
            break;
        }
        let rules = self.mangle_rules(comment).await?;
        if rules.is_empty() {
            return Err(self.no_rule(comment));
        }
        if let Some(bad) = rules.iter().find(|r| r.disabled == enabled) {
            let state = |disabled: bool| if disabled { "disabled" } else { "enabled" };
            return Err(RouterOsError::Verify {
                host: self.host.clone(),
                what: format!("mangle rule {} `{comment}`", bad.id),
                wrote: state(!enabled).to_string(),
                got: state(bad.disabled).to_string(),
            });
        }
        Ok(rules)
    }

    fn no_rule(&self, comment: &str) -> RouterOsError {
        RouterOsError::NotFound {
            host: self.host.clone(),
            what: format!("/ip/firewall/mangle rule with comment `{comment}`"),
        }
    }
}
