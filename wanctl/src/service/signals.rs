//! Process signals: SIGTERM and SIGINT end the daemon; SIGHUP asks for a configuration reload.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalEvent {
    /// Stop: STOPPING=1, apply the exit policy, detach, exit. Carries the signal's name for the log.
    Shutdown(&'static str),
    /// Reload the configuration (SIGHUP).
    Reload,
}

/// The daemon's signal handlers; install before READY so that no signal takes the default action.
#[derive(Debug)]
pub struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    /// Installs handlers for SIGTERM, SIGINT and SIGHUP.
    ///
    /// # Errors
    /// When the runtime cannot register a handler.
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the next signal.
    pub async fn next(&mut self) -> SignalEvent {
        tokio::select! {
            _ = self.term.recv() => SignalEvent::Shutdown("SIGTERM"),
            _ = self.int.recv() => SignalEvent::Shutdown("SIGINT"),
            _ = self.hup.recv() => SignalEvent::Reload,
        }
    }
}
