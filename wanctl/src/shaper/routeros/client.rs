//! The REST transport: one `reqwest` client per router (keep-alive, rustls with the ring provider), basic
//! auth, per-request timeout, and the mapping of failures onto [`RouterOsError`].

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::{
    config::{RouterOsConfig, Scheme},
    error::RouterOsError,
    secret::Password,
    wire::ErrorBody,
};

/// A RouterOS REST client for one router. Queue and mangle operations live in `queue.rs` and
/// `mangle.rs`; this part sends requests and caches `.id`s.
pub struct RouterOsClient {
    pub(super) http: reqwest::Client,
    base: Url,
    pub(super) host: String,
    user: String,
    password: Password,
    timeout: Duration,
    /// `.id`s by (menu, name or comment). Ids are not stable across reboots: re-resolved on 404 and after
    /// a connection loss.
    pub(super) ids: Mutex<HashMap<(&'static str, String), Vec<String>>>,
    requests: AtomicU64,
}

impl std::fmt::Debug for RouterOsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterOsClient")
            .field("base", &self.base.as_str())
            .field("user", &self.user)
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}

impl RouterOsClient {
    /// Builds a client for `config` (validated here). Logs a warning when verification is off or the
    /// transport is plain HTTP, at every start.
    ///
    /// # Errors
    /// [`RouterOsError::Config`] for an invalid config or an unreadable `ca_file`.
    pub fn new(config: &RouterOsConfig, password: Password) -> Result<Self, RouterOsError> {
        config.validate()?;
        // reqwest takes the process-wide provider; installing it twice is harmless (Err ignored).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeout = config.request_timeout.get();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("wanctl/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path).map_err(|e| RouterOsError::Config {
                field: "ca_file".into(),
                reason: format!("{}: {e}", path.display()),
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| RouterOsError::Config {
                    field: "ca_file".into(),
                    reason: format!("{}: not a PEM certificate: {e}", path.display()),
                })?;
            if certs.is_empty() {
                return Err(RouterOsError::Config {
                    field: "ca_file".into(),
                    reason: format!("{}: no certificate in the file", path.display()),
                });
            }
            builder = builder.tls_certs_only(certs);
        }
        if config.insecure_skip_verify {
            tracing::warn!(host = %config.host, "insecure_skip_verify: the router's certificate is NOT verified; anyone on the path can read the password");
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        if config.scheme == Scheme::Http {
            tracing::warn!(host = %config.host, "allow_plain_http: the RouterOS password is sent in clear text");
        }
        let http = builder.build().map_err(|e| RouterOsError::Config {
            field: "ca_file".into(),
            reason: format!("TLS client setup failed: {e}"),
        })?;
        let base = Url::parse(&config.base_url()).map_err(|e| RouterOsError::Config {
            field: "host".into(),
            reason: format!("{}: {e}", config.host),
        })?;
        Ok(Self {
            http,
            base,
            host: config.host.clone(),
            user: config.user.clone(),
            password,
            timeout,
            ids: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
        })
    }

    /// The router's host as configured, for logs and errors.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// HTTP requests sent so far (for benchmarks and health).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Forgets every cached `.id`, e.g. after the router was unreachable (it may have rebooted).
    pub fn forget_ids(&self) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.clear();
        }
    }

    pub(super) fn cached_ids(&self, menu: &'static str, key: &str) -> Option<Vec<String>> {
        self.ids.lock().ok()?.get(&(menu, key.to_string())).cloned()
    }

    pub(super) fn cache_ids(&self, menu: &'static str, key: &str, ids: Vec<String>) {
        if let Ok(mut map) = self.ids.lock() {
            map.insert((menu, key.to_string()), ids);
        }
    }

    pub(super) fn forget(&self, menu: &'static str, key: &str) {
        if let Ok(mut map) = self.ids.lock() {
            map.remove(&(menu, key.to_string()));
        }
    }

    /// Sends `method /rest/<path>?<query>` with an optional JSON body; returns the JSON reply.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, RouterOsError> {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.extend(path.split('/'));
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let method_name = method_str(&method);
        let mut request = self
            .http
            .request(method, url)
            .basic_auth(&self.user, Some(self.password.expose()));
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        if status == StatusCode::UNAUTHORIZED {
            return Err(RouterOsError::Auth {
                host: self.host.clone(),
                user: self.user.clone(),
            });
        }
        if !status.is_success() {
            let body = ErrorBody::parse(&bytes);
            return Err(RouterOsError::Http {
                host: self.host.clone(),
                method: method_name,
                path: path.to_string(),
                status: status.as_u16(),
                error: body.error,
                message: body
                    .message
                    .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string()),
                detail: body.detail,
            });
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| RouterOsError::Decode {
            host: self.host.clone(),
            path: path.to_string(),
            reason: e.to_string(),
        })
    }

    fn transport_error(&self, error: &reqwest::Error) -> RouterOsError {
        if error.is_timeout() {
            return RouterOsError::Timeout {
                host: self.host.clone(),
                after: self.timeout,
            };
        }
        if let Some(tls) = find_tls_error(error) {
            return RouterOsError::Tls {
                host: self.host.clone(),
                reason: tls,
            };
        }
        RouterOsError::Unreachable {
            host: self.host.clone(),
            reason: error_chain(error),
        }
    }
}

fn method_str(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        _ => "request",
    }
}

/// A rustls error somewhere in the cause chain. `io::Error::source` skips its own payload (and
/// hyper-rustls nests io errors), so descend into io payloads explicitly.
fn find_tls_error(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        current = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(err) = current {
        let next = err.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        current = err.source();
    }
    text
}
