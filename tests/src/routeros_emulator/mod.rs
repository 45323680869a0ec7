//! An emulator of the MikroTik RouterOS v7 REST API (`/rest/queue/tree`, `/rest/queue/simple`,
//! `/rest/ip/firewall/mangle`) on loopback, with TLS from a CA made in the test and knobs for latency,
//! failures, outages and id renumbering.

mod records;
mod rest;
mod server;
mod state;
mod tls;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::Value;
use tokio::sync::watch;

use state::State;
pub use state::{Logged, MANGLE, Outage, QUEUE_SIMPLE, QUEUE_TREE, Record};
pub use tls::{TestPki, make_pki};

/// A running emulator; stops when dropped.
pub struct Emulator {
    addr: SocketAddr,
    ca_pem: Option<String>,
    state: Arc<Mutex<State>>,
    shutdown: watch::Sender<bool>,
}

/// Credentials the emulator accepts.
pub const USER: &str = "wanctl";
/// Password the emulator accepts.
pub const PASSWORD: &str = "s3cret-pw";

impl Emulator {
    /// Starts an HTTPS emulator on 127.0.0.1 with a fresh CA (see [`Emulator::ca_pem`]).
    pub async fn start_https() -> Self {
        let pki = make_pki("127.0.0.1");
        Self::start(Some(pki)).await
    }

    /// Starts a plain-HTTP emulator (RouterOS `www` service, v7.9+).
    pub async fn start_http() -> Self {
        Self::start(None).await
    }

    async fn start(pki: Option<TestPki>) -> Self {
        let (listener, addr) = server::bind().await;
        let state = Arc::new(Mutex::new(State::new(USER, PASSWORD)));
        let (shutdown, rx) = watch::channel(false);
        let acceptor = pki
            .as_ref()
            .map(|p| tokio_rustls::TlsAcceptor::from(p.server.clone()));
        tokio::spawn(server::serve(listener, acceptor, state.clone(), rx));
        Self {
            addr,
            ca_pem: pki.map(|p| p.ca_pem),
            state,
            shutdown,
        }
    }

    /// Listening address (127.0.0.1:port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA certificate (PEM) that signed the server certificate; `None` for plain HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A router config for this emulator: user [`USER`], credential `router` (pass the password to the
    /// client directly), the CA in `ca_file` (https) or plain HTTP allowed, no stats polling.
    pub fn config(&self, ca_file: Option<&Path>) -> wanctl::shaper::routeros::RouterOsConfig {
        let mut value = serde_json::json!({
            "host": self.addr.ip().to_string(),
            "port": self.addr.port(),
            "user": USER,
            "password_credential": "router",
            "queues": { "download": { "tree": "wan-down" }, "upload": { "tree": "wan-up" } },
            "stats_interval": null,
        });
        match (&self.ca_pem, ca_file) {
            (Some(_), Some(ca)) => value["ca_file"] = Value::String(ca.display().to_string()),
            (Some(_), None) => {}
            (None, _) => {
                value["scheme"] = Value::String("http".into());
                value["allow_plain_http"] = Value::Bool(true);
            }
        }
        serde_json::from_value(value).expect("emulator config")
    }

    /// Writes the CA to `dir/router-ca.pem` and returns the path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let path = dir.join("router-ca.pem");
        std::fs::write(&path, self.ca_pem.as_deref().expect("https emulator")).expect("write CA");
        path
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("emulator state"))
    }

    /// Adds a `/queue/tree` entry; returns its `.id`.
    pub fn add_queue_tree(&self, name: &str, max_limit: &str) -> String {
        self.with(|s| s.add(QUEUE_TREE, State::tree_record(name, max_limit)))
    }

    /// Adds a `/queue/simple` entry (`max-limit` as `upload/download`); returns its `.id`.
    pub fn add_simple_queue(&self, name: &str, max_limit: &str) -> String {
        self.with(|s| s.add(QUEUE_SIMPLE, State::simple_record(name, max_limit)))
    }

    /// Adds a `/ip/firewall/mangle` rule; returns its `.id`.
    pub fn add_mangle(&self, comment: &str, disabled: bool) -> String {
        self.with(|s| s.add(MANGLE, State::mangle_record(comment, disabled)))
    }

    /// The record of `menu` whose `key` equals `value`.
    pub fn find(&self, menu: &str, key: &str, value: &str) -> Option<Record> {
        self.with(|s| {
            s.tables
                .get(menu)?
                .iter()
                .find(|r| r.get(key).and_then(Value::as_str) == Some(value))
                .cloned()
        })
    }

    /// A string field of the record of `menu` named `name`.
    pub fn field(&self, menu: &str, name: &str, key: &str) -> Option<String> {
        self.find(menu, "name", name)
            .and_then(|r| r.get(key).and_then(Value::as_str).map(str::to_string))
    }

    /// Traffic through a queue: adds to `bytes`, `packets`, `dropped` and sets the backlog. `half`
    /// selects a simple queue's upload (0) or download (1) half.
    pub fn add_traffic(
        &self,
        menu: &str,
        name: &str,
        half: Option<usize>,
        bytes: u64,
        packets: u64,
        dropped: u64,
    ) {
        self.with(|s| {
            let record = s
                .tables
                .values_mut()
                .flat_map(|r| r.iter_mut())
                .find(|r| r.get("name").and_then(Value::as_str) == Some(name) && menu != MANGLE)
                .expect("queue exists");
            State::bump(record, "bytes", half, bytes);
            State::bump(record, "packets", half, packets);
            State::bump(record, "dropped", half, dropped);
        });
    }

    /// New ids for every record, as after a configuration reload; old ids answer 404.
    pub fn renumber(&self) {
        self.with(State::renumber);
    }

    /// A reboot: new ids and zeroed counters.
    pub fn reboot(&self) {
        self.with(|s| {
            s.renumber();
            s.reset_counters();
        });
    }

    /// Delay before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.with(|s| s.latency = latency);
    }

    /// Router down (`Some`) or up (`None`).
    pub fn set_outage(&self, outage: Option<Outage>) {
        self.with(|s| s.outage = outage);
    }

    /// Answers the next authenticated requests with these statuses (RouterOS error bodies).
    pub fn fail_next(&self, statuses: &[u16]) {
        self.with(|s| s.fail_next.extend_from_slice(statuses));
    }

    /// Changes the accepted password (e.g. to make the client's wrong).
    pub fn set_password(&self, password: &str) {
        self.with(|s| s.password = password.to_string());
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.with(|s| s.log.clone())
    }

    /// Requests answered so far with `method` (e.g. "PATCH").
    pub fn count(&self, method: &str) -> usize {
        self.with(|s| s.log.iter().filter(|l| l.method == method).count())
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.with(|s| s.log.clear());
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
