//! Configuration reload: read and validate the file again; publish it only when valid, otherwise keep running
//! the old one and say why. Tasks watch a `tokio::sync::watch` of the validated configuration.

use std::{fmt::Display, path::PathBuf, sync::Arc};

use tokio::sync::watch;

use super::{Notifier, SignalEvent, Signals};

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new configuration is published.
    Applied,
    /// The file was refused; the running configuration is unchanged. Carries the reasons.
    Kept(String),
}

/// Loads the configuration file: parse and validate, nothing else.
pub type LoadFn<C, E> = Box<dyn Fn(&std::path::Path) -> Result<C, E> + Send + Sync>;

/// Re-reads the configuration on request and publishes it to the watchers.
pub struct Reloader<C, E> {
    path: PathBuf,
    load: LoadFn<C, E>,
    sender: watch::Sender<Arc<C>>,
    notifier: Notifier,
}

impl<C, E: Display> Reloader<C, E> {
    /// A reloader for `path` whose current configuration is `initial`; returns the receiver tasks watch.
    pub fn new(
        path: PathBuf,
        initial: C,
        load: LoadFn<C, E>,
        notifier: Notifier,
    ) -> (Self, watch::Receiver<Arc<C>>) {
        let (sender, receiver) = watch::channel(Arc::new(initial));
        (
            Self {
                path,
                load,
                sender,
                notifier,
            },
            receiver,
        )
    }

    /// Another receiver of the configuration.
    pub fn subscribe(&self) -> watch::Receiver<Arc<C>> {
        self.sender.subscribe()
    }

    /// Reloads now: RELOADING=1 (+MONOTONIC_USEC), load and validate, publish or keep, then READY=1 in both cases
    /// so that systemd leaves the reloading state.
    pub fn reload(&self) -> ReloadOutcome {
        if let Err(error) = self.notifier.reloading() {
            tracing::warn!(%error, "sending RELOADING=1 failed");
        }
        let outcome = match (self.load)(&self.path) {
            Ok(config) => {
                self.sender.send_replace(Arc::new(config));
                tracing::info!(path = %self.path.display(), "configuration reloaded");
                ReloadOutcome::Applied
            }
            Err(error) => {
                let reason = error.to_string();
                tracing::error!(path = %self.path.display(), %reason, "reload refused; the running configuration stays");
                ReloadOutcome::Kept(reason)
            }
        };
        let status = match &outcome {
            ReloadOutcome::Applied => "configuration reloaded".to_string(),
            ReloadOutcome::Kept(reason) => {
                let first = reason.lines().next().unwrap_or_default();
                format!("reload refused, old configuration kept: {first}")
            }
        };
        if let Err(error) = self.notifier.ready(&status) {
            tracing::warn!(%error, "sending READY=1 after reload failed");
        }
        outcome
    }

    /// Handles signals until a shutdown signal: reloads on SIGHUP; sends STOPPING=1 and returns the signal's name.
    pub async fn run_until_shutdown(&self, signals: &mut Signals) -> &'static str {
        loop {
            match signals.next().await {
                SignalEvent::Reload => {
                    self.reload();
                }
                SignalEvent::Shutdown(name) => {
                    tracing::info!(signal = name, "shutting down");
                    if let Err(error) = self.notifier.stopping() {
                        tracing::warn!(%error, "sending STOPPING=1 failed");
                    }
                    return name;
                }
            }
        }
    }
}
