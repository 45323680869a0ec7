//! The per-router writer handle: the control loop hands it the newest targets and moves on; a task owns
//! the HTTP client, the limiter and the breaker (see `task.rs`).

use std::sync::{Arc, Mutex};

use tokio::{sync::watch, task::JoinHandle};

use super::{
    client::RouterOsClient, config::RouterOsConfig, error::RouterOsError, secret::load_password,
    task::WriterTask,
};
use crate::{
    config::Bandwidth,
    shaper::{Shaper, ShaperHealth, ShaperStats},
    signal::{Direction, PerDirection},
};

/// The newest target per direction, with a submission counter so the task can count coalesced targets.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Targets {
    pub rate: PerDirection<Option<Bandwidth>>,
    pub seq: PerDirection<u64>,
}

/// What the task reports back, read without I/O.
#[derive(Debug, Default)]
pub(super) struct Shared {
    pub health: ShaperHealth,
    pub stats: ShaperStats,
    pub stats_read: bool,
}

/// Handle to a router's writer task; implements [`Shaper`]. `apply` never waits on the router.
/// Dropping the handle stops the task.
#[derive(Debug)]
pub struct RouterOsWriter {
    name: String,
    host: String,
    client: Arc<RouterOsClient>,
    shapes: PerDirection<bool>,
    targets: watch::Sender<Targets>,
    last_submitted: PerDirection<Option<Bandwidth>>,
    shared: Arc<Mutex<Shared>>,
    task: JoinHandle<()>,
}

impl RouterOsWriter {
    /// Reads the password, builds the client and spawns the writer task (needs a tokio runtime).
    ///
    /// # Errors
    /// Configuration, password and TLS setup errors.
    pub fn spawn(config: &RouterOsConfig) -> Result<Self, RouterOsError> {
        let password = load_password(config)?;
        let client = Arc::new(RouterOsClient::new(config, password)?);
        Ok(Self::with_client(client, config))
    }

    /// Spawns the writer task on an existing client (steering may share it for mangle rules).
    pub fn with_client(client: Arc<RouterOsClient>, config: &RouterOsConfig) -> Self {
        let (targets, rx) = watch::channel(Targets::default());
        let shared = Arc::new(Mutex::new(Shared::default()));
        let task = tokio::spawn(WriterTask::new(client.clone(), config, rx, shared.clone()).run());
        Self {
            name: format!("routeros:{}", config.host),
            host: config.host.clone(),
            client,
            shapes: PerDirection {
                download: config.queues.download.is_some(),
                upload: config.queues.upload.is_some(),
            },
            targets,
            last_submitted: PerDirection::default(),
            shared,
            task,
        }
    }

    /// The router's REST client.
    pub fn client(&self) -> &Arc<RouterOsClient> {
        &self.client
    }

    fn with_shared<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> Option<T> {
        self.shared.lock().ok().map(|mut s| f(&mut s))
    }
}

impl Drop for RouterOsWriter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shaper for RouterOsWriter {
    type Error = RouterOsError;

    fn name(&self) -> &str {
        &self.name
    }

    /// Hands `rate` to the task and returns at once. A rate equal to the previous one is counted as skipped.
    async fn apply(&mut self, direction: Direction, rate: Bandwidth) -> Result<(), RouterOsError> {
        if self.task.is_finished() {
            return Err(RouterOsError::WriterStopped {
                host: self.host.clone(),
            });
        }
        if !*self.shapes.get(direction) {
            return Ok(());
        }
        if *self.last_submitted.get(direction) == Some(rate) {
            self.with_shared(|s| s.health.writes_skipped += 1);
            return Ok(());
        }
        *self.last_submitted.get_mut(direction) = Some(rate);
        self.targets.send_modify(|t| {
            *t.rate.get_mut(direction) = Some(rate);
            *t.seq.get_mut(direction) += 1;
        });
        Ok(())
    }

    /// The statistics of the last read (the task polls every `stats_interval` and after each write).
    async fn stats(&mut self) -> Result<ShaperStats, RouterOsError> {
        self.with_shared(|s| s.stats_read.then_some(s.stats))
            .flatten()
            .ok_or_else(|| RouterOsError::NoStats {
                host: self.host.clone(),
            })
    }

    fn health(&self) -> ShaperHealth {
        self.with_shared(|s| s.health.clone()).unwrap_or_default()
    }
}
