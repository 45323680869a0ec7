//! Checks of a [`RouterOsConfig`] that serde cannot express; every error names the field.

use super::{
    config::{QueueRef, RouterOsConfig, Scheme},
    error::RouterOsError,
};
use crate::signal::Direction;

fn invalid(field: &str, reason: impl Into<String>) -> RouterOsError {
    RouterOsError::Config {
        field: field.to_string(),
        reason: reason.into(),
    }
}

impl RouterOsConfig {
    /// Checks what serde cannot; the error names the field.
    ///
    /// # Errors
    /// [`RouterOsError::Config`] naming the first bad field.
    pub fn validate(&self) -> Result<(), RouterOsError> {
        if self.host.trim().is_empty() || self.host.contains(['/', ' ', '@']) {
            return Err(invalid("host", "expected an address or host name"));
        }
        if self.port == Some(0) {
            return Err(invalid("port", "must be 1-65535"));
        }
        if self.scheme == Scheme::Http && !self.allow_plain_http {
            return Err(invalid(
                "scheme",
                "http sends the password in clear text; set allow_plain_http: true to accept that",
            ));
        }
        if self.scheme == Scheme::Http && (self.ca_file.is_some() || self.insecure_skip_verify) {
            return Err(invalid(
                "scheme",
                "ca_file and insecure_skip_verify need https",
            ));
        }
        if self.ca_file.is_some() && self.insecure_skip_verify {
            return Err(invalid(
                "insecure_skip_verify",
                "conflicts with ca_file (verification against the CA would be skipped)",
            ));
        }
        if self.user.is_empty() {
            return Err(invalid("user", "must not be empty"));
        }
        match (&self.password_credential, &self.password_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "password_credential",
                    "set either password_credential or password_file, not both",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    "password_credential",
                    "set password_credential (systemd LoadCredential=) or password_file",
                ));
            }
            (Some(name), None) if name.is_empty() || name.contains('/') || name == ".." => {
                return Err(invalid(
                    "password_credential",
                    "a credential name, not a path",
                ));
            }
            _ => {}
        }
        if self.queues.download.is_none() && self.queues.upload.is_none() {
            return Err(invalid(
                "queues",
                "name a queue for download, upload or both",
            ));
        }
        for dir in Direction::ALL {
            if let Some(queue) = self.queues.get(dir)
                && queue.name().is_empty()
            {
                return Err(invalid(
                    &format!("queues.{}", dir.as_str()),
                    "empty queue name",
                ));
            }
        }
        if let (Some(QueueRef::Tree(d)), Some(QueueRef::Tree(u))) =
            (&self.queues.download, &self.queues.upload)
            && d == u
        {
            return Err(invalid(
                "queues.upload",
                "the same queue tree entry cannot shape both directions",
            ));
        }
        if self.request_timeout.get().is_zero() {
            return Err(invalid("request_timeout", "must be positive"));
        }
        if self.rate_limit.max_writes == 0 {
            return Err(invalid("rate_limit.max_writes", "must be at least 1"));
        }
        if self.rate_limit.window.get().is_zero() {
            return Err(invalid("rate_limit.window", "must be positive"));
        }
        if !(0.0..=50.0).contains(&self.deadband_percent) {
            return Err(invalid("deadband_percent", "must be between 0 and 50"));
        }
        if self.retry.initial_backoff.get().is_zero()
            || self.retry.max_backoff.get() < self.retry.initial_backoff.get()
        {
            return Err(invalid(
                "retry.max_backoff",
                "need 0 < initial_backoff <= max_backoff",
            ));
        }
        if self.circuit_breaker.failures == 0 {
            return Err(invalid("circuit_breaker.failures", "must be at least 1"));
        }
        if self.stats_interval.is_some_and(|i| i.get().is_zero()) {
            return Err(invalid(
                "stats_interval",
                "must be positive (or null for never)",
            ));
        }
        Ok(())
    }

    /// The port in use: the configured one or the scheme's default.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.scheme {
            Scheme::Https => 443,
            Scheme::Http => 80,
        })
    }

    /// `https://host:port/rest`, with IPv6 literals bracketed.
    pub fn base_url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Https => "https",
            Scheme::Http => "http",
        };
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}/rest", self.effective_port())
    }
}
