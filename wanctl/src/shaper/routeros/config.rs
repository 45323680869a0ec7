//! Per-router configuration: where the router is, how to authenticate, which queues get which direction,
//! and how politely to write (timeouts, rate limit, deadband, retries, circuit breaker).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{config::DurationSpec, signal::Direction};

/// One MikroTik router driven over its REST API (RouterOS v7.1+; plain HTTP needs v7.9+).
///
/// ```yaml
/// host: 192.0.2.1
/// ca_file: /etc/wanctl/router-ca.pem      # /certificate export-certificate on the router
/// user: wanctl                            # group policy read,write,rest-api
/// password_credential: router-password    # systemd LoadCredential=router-password:/etc/wanctl/router-password
/// queues:
///   download: { tree: WAN-Download }
///   upload: { tree: WAN-Upload }          # or { simple: NAME } for /queue/simple (upload/download pairs)
/// rate_limit: { max_writes: 5, window: 10s }
/// deadband_percent: 1.0
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterOsConfig {
    /// Router address or host name; must match the certificate's subject alternative name.
    pub host: String,
    /// TCP port; default 443 for https, 80 for http.
    #[serde(default)]
    pub port: Option<u16>,
    /// `https` (default) or `http` (needs `allow_plain_http: true`).
    #[serde(default)]
    pub scheme: Scheme,
    /// PEM file with the CA that signed the router's certificate (RouterOS `/certificate export-certificate`).
    /// Without it, the system's trust store is used.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. For lab use only; a warning is logged at every start.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Allow `scheme: http` (password in clear text). A warning is logged at every start.
    #[serde(default)]
    pub allow_plain_http: bool,
    /// RouterOS user (group with `read,write,rest-api` policies).
    pub user: String,
    /// systemd credential name: the password is read from `$CREDENTIALS_DIRECTORY/<name>`.
    #[serde(default)]
    pub password_credential: Option<String>,
    /// File holding the password; refused if group or others can read it.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Which queue shapes which direction.
    pub queues: QueueMap,
    /// Timeout of one HTTP request.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: DurationSpec,
    /// Write rate limit (RouterOS persists queue changes to flash).
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// Changes smaller than this percentage of the rate on the router are not written.
    #[serde(default = "default_deadband_percent")]
    pub deadband_percent: f64,
    /// Backoff between failed attempts.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Stops calling a router that keeps failing.
    #[serde(default)]
    pub circuit_breaker: BreakerConfig,
    /// How often the writer reads queue statistics when it has nothing to write; `null` never.
    #[serde(default = "default_stats_interval")]
    pub stats_interval: Option<DurationSpec>,
}

/// URL scheme of the REST API.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    #[default]
    Https,
    Http,
}

/// The queue of each direction; a direction without a queue is not shaped on this router.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueMap {
    #[serde(default)]
    pub download: Option<QueueRef>,
    #[serde(default)]
    pub upload: Option<QueueRef>,
}

impl QueueMap {
    /// The queue of `direction`.
    pub fn get(&self, direction: Direction) -> Option<&QueueRef> {
        match direction {
            Direction::Download => self.download.as_ref(),
            Direction::Upload => self.upload.as_ref(),
        }
    }
}

/// A queue by name: `{tree: NAME}` (`/queue/tree`, one direction) or `{simple: NAME}` (`/queue/simple`,
/// whose `max-limit` is `upload/download`; both directions may name the same simple queue).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "QueueRefYaml", into = "QueueRefYaml")]
pub enum QueueRef {
    Tree(String),
    Simple(String),
}

/// How a [`QueueRef`] is written: a map with exactly one of `tree` or `simple` (YAML libraries
/// read externally tagged enums as `!tags`, which nobody writes by hand).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueRefYaml {
    /// Name of a `/queue/tree` entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// Name of a `/queue/simple` entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simple: Option<String>,
}

impl TryFrom<QueueRefYaml> for QueueRef {
    type Error = String;

    fn try_from(value: QueueRefYaml) -> Result<Self, String> {
        match (value.tree, value.simple) {
            (Some(name), None) => Ok(QueueRef::Tree(name)),
            (None, Some(name)) => Ok(QueueRef::Simple(name)),
            _ => Err("give exactly one of `tree: NAME` or `simple: NAME`".to_string()),
        }
    }
}

impl From<QueueRef> for QueueRefYaml {
    fn from(value: QueueRef) -> Self {
        match value {
            QueueRef::Tree(name) => Self {
                tree: Some(name),
                simple: None,
            },
            QueueRef::Simple(name) => Self {
                tree: None,
                simple: Some(name),
            },
        }
    }
}

impl QueueRef {
    /// The queue's `name` on the router.
    pub fn name(&self) -> &str {
        match self {
            QueueRef::Tree(name) | QueueRef::Simple(name) => name,
        }
    }

    /// REST menu path, e.g. `queue/tree`.
    pub fn menu(&self) -> &'static str {
        match self {
            QueueRef::Tree(_) => "queue/tree",
            QueueRef::Simple(_) => "queue/simple",
        }
    }
}

impl std::fmt::Display for QueueRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "/{} `{}`", self.menu(), self.name())
    }
}

/// At most `max_writes` queue writes (PATCHes) per sliding `window`. Increases may use all but one of
/// them, so a decrease always finds a slot unless decreases used the whole window; a pending decrease
/// replaces a pending increase and goes first. Refused connections do not count (nothing was written).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Queue writes allowed per `window`; at least 1.
    #[serde(default = "default_max_writes")]
    #[schemars(range(min = 1))]
    pub max_writes: u32,
    /// The sliding window the write limit counts over; above zero.
    #[serde(default = "default_window")]
    pub window: DurationSpec,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            max_writes: default_max_writes(),
            window: default_window(),
        }
    }
}

/// Exponential backoff after a failed request: `initial`, doubling, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Wait after the first failed request; above zero.
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff: DurationSpec,
    /// Longest wait between retries; at least `initial_backoff`.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: DurationSpec,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}

/// After `failures` consecutive failures, no request for `open_for`; then one probe decides.
/// A rejected password opens it for `auth_open_for` at once (no retry storm against a router that logs
/// and may block failed logins).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed requests that open the breaker; at least 1.
    #[serde(default = "default_failures")]
    #[schemars(range(min = 1))]
    pub failures: u32,
    /// How long an open breaker sends nothing before one probe request.
    #[serde(default = "default_open_for")]
    pub open_for: DurationSpec,
    /// How long the breaker stays open after the router rejected the credentials.
    #[serde(default = "default_auth_open_for")]
    pub auth_open_for: DurationSpec,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: default_failures(),
            open_for: default_open_for(),
            auth_open_for: default_auth_open_for(),
        }
    }
}

fn default_request_timeout() -> DurationSpec {
    DurationSpec::from_secs(2)
}
fn default_deadband_percent() -> f64 {
    1.0
}
fn default_stats_interval() -> Option<DurationSpec> {
    Some(DurationSpec::from_secs(5))
}
fn default_max_writes() -> u32 {
    5
}
fn default_window() -> DurationSpec {
    DurationSpec::from_secs(10)
}
fn default_initial_backoff() -> DurationSpec {
    DurationSpec::from_millis(250)
}
fn default_max_backoff() -> DurationSpec {
    DurationSpec::from_secs(5)
}
fn default_failures() -> u32 {
    3
}
fn default_open_for() -> DurationSpec {
    DurationSpec::from_secs(10)
}
fn default_auth_open_for() -> DurationSpec {
    DurationSpec::from_secs(300)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "
host: 192.0.2.1
ca_file: /etc/wanctl/router-ca.pem
user: wanctl
password_credential: router-password
queues:
  download: { tree: WAN-Download }
  upload: { simple: lan }
rate_limit: { window: 20s }
";

    #[test]
    fn yaml_example_reads_with_defaults() {
        let config: RouterOsConfig = serde_yaml_ng::from_str(EXAMPLE).unwrap();
        config.validate().unwrap();
        assert_eq!(
            config.queues.download,
            Some(QueueRef::Tree("WAN-Download".into()))
        );
        assert_eq!(config.queues.upload, Some(QueueRef::Simple("lan".into())));
        assert_eq!(config.rate_limit.max_writes, 5);
        assert_eq!(config.rate_limit.window, DurationSpec::from_secs(20));
        assert_eq!(config.request_timeout, DurationSpec::from_secs(2));
        assert_eq!(config.scheme, Scheme::Https);
        assert_eq!(config.base_url(), "https://192.0.2.1:443/rest");
    }

    #[test]
    fn schema_describes_queue_names_and_durations() {
        let schema = serde_json::to_string(&schemars::schema_for!(RouterOsConfig)).unwrap();
        for needle in [
            "\"tree\"",
            "\"simple\"",
            "\"request_timeout\"",
            "\"password_credential\"",
        ] {
            assert!(schema.contains(needle), "{needle} missing from the schema");
        }
        let err = serde_yaml_ng::from_str::<QueueRef>("{tree: a, simple: b}").unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
    }

    #[test]
    fn same_tree_for_both_directions_is_refused() {
        let mut config: RouterOsConfig = serde_yaml_ng::from_str(EXAMPLE).unwrap();
        config.queues.upload = Some(QueueRef::Tree("WAN-Download".into()));
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("`queues.upload`"), "{err}");
    }
}
