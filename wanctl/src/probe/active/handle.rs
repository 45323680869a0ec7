//! The running prober of one WAN, as the service holds it: samples out, health snapshots, shutdown.

use std::hash::{BuildHasher, RandomState};

use tokio::sync::{mpsc, oneshot, watch};

use super::{ActiveConfigError, ActiveProbeConfig, ReflectorHealth, SocketError, prober};
use crate::signal::RttSample;

/// Samples buffered between the prober and the controller (minutes of probing at the default rate).
const SAMPLE_QUEUE: usize = 256;

/// Why active probing could not start.
#[derive(Debug, thiserror::Error)]
pub enum ActiveProbeError {
    #[error("WAN {wan}: {source}")]
    Config {
        wan: String,
        #[source]
        source: ActiveConfigError,
    },
    #[error("WAN {wan}: {source}")]
    Socket {
        wan: String,
        #[source]
        source: SocketError,
    },
}

/// A running prober for one WAN. Dropping it stops the prober.
#[derive(Debug)]
pub struct ActiveProber {
    samples: mpsc::Receiver<RttSample>,
    health: watch::Receiver<ReflectorHealth>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl ActiveProber {
    /// Validates `config`, opens the sockets (in the calling thread's network namespace) and starts probing
    /// on the current tokio runtime.
    ///
    /// # Errors
    /// [`ActiveProbeError`] naming the WAN and the bad field or failed socket operation.
    pub fn spawn(wan: &str, config: &ActiveProbeConfig) -> Result<Self, ActiveProbeError> {
        config
            .validate()
            .map_err(|source| ActiveProbeError::Config {
                wan: wan.to_string(),
                source,
            })?;
        let raw_id = RandomState::new().hash_one(wan) as u16;
        let (v4, v6) =
            prober::open_sockets(config, raw_id).map_err(|source| ActiveProbeError::Socket {
                wan: wan.to_string(),
                source,
            })?;
        let state = prober::ProberState::new(wan, config);
        let (sample_tx, samples) = mpsc::channel(SAMPLE_QUEUE);
        let (health_tx, health) = watch::channel(ReflectorHealth::default());
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let interval = config.probe_interval();
        let task = tokio::spawn(prober::run(
            state,
            v4,
            v6,
            interval,
            sample_tx,
            health_tx,
            async {
                let _ = shutdown_rx.await;
            },
        ));
        Ok(Self {
            samples,
            health,
            shutdown: Some(shutdown_tx),
            task,
        })
    }

    /// Every sample received since the last call (for one control cycle), oldest first.
    pub fn drain(&mut self) -> Vec<RttSample> {
        std::iter::from_fn(|| self.samples.try_recv().ok()).collect()
    }

    /// Waits for the next sample; `None` once the prober has stopped.
    pub async fn recv(&mut self) -> Option<RttSample> {
        self.samples.recv().await
    }

    /// The latest health snapshot (refreshed at every probe).
    pub fn health(&self) -> ReflectorHealth {
        self.health.borrow().clone()
    }

    /// A receiver that sees every new health snapshot, for the health endpoint and metrics.
    pub fn health_watch(&self) -> watch::Receiver<ReflectorHealth> {
        self.health.clone()
    }

    /// Stops probing and waits for the task to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for ActiveProber {
    fn drop(&mut self) {
        self.task.abort();
    }
}
