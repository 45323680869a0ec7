//! Errors of the RouterOS REST client and writer; each names the router and, where known, the queue or rule.

use std::time::Duration;

/// What went wrong talking to a RouterOS router.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouterOsError {
    /// The configuration is unusable; `field` is its YAML path.
    #[error("routeros config `{field}`: {reason}")]
    Config { field: String, reason: String },
    /// The password could not be read, or its file is not private.
    #[error("routeros password: {0}")]
    Secret(String),
    /// The router refused the user name or password (HTTP 401). Not retried soon: routers log and may ban.
    #[error(
        "{host}: authentication failed for user `{user}` (HTTP 401); check the user, its group policy (rest-api) and the password"
    )]
    Auth { host: String, user: String },
    /// The TLS handshake failed: usually the router's certificate is not signed by the configured CA.
    #[error("{host}: TLS handshake failed: {reason}")]
    Tls { host: String, reason: String },
    /// No answer within the request timeout.
    #[error("{host}: no answer within {after:?}")]
    Timeout { host: String, after: Duration },
    /// The router could not be reached (refused, reset, closed).
    #[error("{host}: unreachable: {reason}")]
    Unreachable { host: String, reason: String },
    /// The router answered with an error status and a RouterOS `{error, message, detail}` body.
    #[error("{host}: {method} {path}: HTTP {status} {message}{}", detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Http {
        host: String,
        method: &'static str,
        path: String,
        status: u16,
        /// The body's `error` number (usually equal to the status).
        error: Option<u16>,
        message: String,
        detail: Option<String>,
    },
    /// The queue or rule does not exist on the router.
    #[error("{host}: {what} not found")]
    NotFound { host: String, what: String },
    /// A reply that is not what RouterOS documents (bad JSON, a missing or unparsable field).
    #[error("{host}: unexpected reply to {path}: {reason}")]
    Decode {
        host: String,
        path: String,
        reason: String,
    },
    /// The router accepted a change but reads back something else.
    #[error("{host}: {what}: wrote {wrote}, router reports {got}")]
    Verify {
        host: String,
        what: String,
        wrote: String,
        got: String,
    },
    /// The writer task is gone (the handle outlived it after a panic).
    #[error("{host}: writer task stopped")]
    WriterStopped { host: String },
    /// No statistics were read from the router yet.
    #[error("{host}: no queue statistics read yet")]
    NoStats { host: String },
}

impl RouterOsError {
    /// True when the router answered at all (any HTTP status), i.e. it is reachable.
    pub fn router_answered(&self) -> bool {
        matches!(
            self,
            RouterOsError::Auth { .. }
                | RouterOsError::Http { .. }
                | RouterOsError::NotFound { .. }
                | RouterOsError::Decode { .. }
                | RouterOsError::Verify { .. }
        )
    }

    /// True when the connection itself failed, which is also how a router reboot looks; cached `.id`s
    /// may be stale afterwards.
    pub fn connection_lost(&self) -> bool {
        matches!(
            self,
            RouterOsError::Timeout { .. } | RouterOsError::Unreachable { .. }
        )
    }
}
