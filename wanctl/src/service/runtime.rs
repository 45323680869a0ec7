//! The component-independent half of `wanctl run`: single-instance lock, telemetry, HTTP endpoints, watchdog,
//! STATUS updates and shutdown. The daemon starts this first, then its WAN loops (each registers with
//! [`ServiceRuntime::progress`] and feeds [`ServiceRuntime::telemetry`] every cycle), and calls
//! [`ServiceRuntime::ready`] once the programs are attached, the shapers verified and one cycle completed.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{task::JoinHandle, time::Instant};

use super::{
    InstanceLock, LockError, Notifier, ProgressTracker, Shutdown, ShutdownTrigger, Telemetry,
    WatchdogGate,
    http::{self, HttpError},
    run_watchdog, shutdown_channel,
};
use crate::config::ServiceConfig;

/// How often STATUS= is refreshed (only sent when the line changed).
const STATUS_PERIOD: Duration = Duration::from_secs(5);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another instance runs, or the lock file is unusable.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The HTTP address is unusable.
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// The running service infrastructure.
#[derive(Debug)]
pub struct ServiceRuntime {
    _lock: InstanceLock,
    notifier: Notifier,
    telemetry: Arc<Telemetry>,
    progress: ProgressTracker,
    trigger: ShutdownTrigger,
    http_address: SocketAddr,
    stall_after: Duration,
    tasks: Vec<JoinHandle<()>>,
}

impl ServiceRuntime {
    /// Takes the lock, creates the telemetry with `wans` registered, and serves `/health` and `/metrics`.
    ///
    /// # Errors
    /// [`StartError`] when another instance runs or the HTTP address cannot be bound; nothing is left running.
    pub async fn start<'a>(
        service: &ServiceConfig,
        wans: impl IntoIterator<Item = &'a str>,
        notifier: Notifier,
    ) -> Result<Self, StartError> {
        let lock = InstanceLock::acquire(&service.runtime_dir)?;
        let stall_after = service.watchdog.stall_after.get();
        let telemetry = Arc::new(Telemetry::new(Instant::now(), stall_after));
        for wan in wans {
            telemetry.register_wan(wan);
        }
        let listener = http::bind(service.http_listen).await?;
        let http_address = listener.local_addr().map_err(|source| HttpError {
            address: service.http_listen,
            source,
        })?;
        let (trigger, shutdown) = shutdown_channel();
        let server = tokio::spawn(http::serve(
            listener,
            Arc::clone(&telemetry),
            shutdown.wait(),
        ));
        tracing::info!(address = %http_address, "serving /health and /metrics");
        Ok(Self {
            _lock: lock,
            notifier,
            telemetry,
            progress: ProgressTracker::default(),
            trigger,
            http_address,
            stall_after,
            tasks: vec![server],
        })
    }

    /// Where WAN loops report each cycle.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// Where WAN loops tick each completed cycle (the watchdog's evidence).
    pub fn progress(&self) -> &ProgressTracker {
        &self.progress
    }

    /// The notifier, for the daemon's own messages (RELOADING via the reloader, STOPPING).
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// The bound HTTP address (differs from the configured one when that used port 0).
    pub fn http_address(&self) -> SocketAddr {
        self.http_address
    }

    /// A shutdown listener for the daemon's own tasks.
    pub fn shutdown(&self) -> Shutdown {
        self.trigger.subscribe()
    }

    /// Sends READY=1 with the per-WAN STATUS line, then starts the STATUS refresher and, when `watchdog_period` is
    /// set (see [`super::watchdog_period_from_env`]), the progress-gated watchdog.
    ///
    /// # Errors
    /// When the READY message cannot be sent.
    pub fn ready(&mut self, watchdog_period: Option<Duration>) -> std::io::Result<()> {
        let line = self.telemetry.health(Instant::now()).status_line();
        self.notifier.ready(&line)?;
        tracing::info!(status = %line, "ready");
        if let Some(period) = watchdog_period {
            let gate = WatchdogGate::new(self.progress.clone(), self.stall_after);
            self.tasks.push(tokio::spawn(run_watchdog(
                self.notifier.clone(),
                gate,
                period,
                self.shutdown().wait(),
            )));
        }
        self.tasks.push(tokio::spawn(refresh_status(
            self.notifier.clone(),
            Arc::clone(&self.telemetry),
            line,
            self.shutdown(),
        )));
        Ok(())
    }

    /// Stops the HTTP server, watchdog and STATUS tasks and releases the lock. Send STOPPING=1 before this.
    pub async fn stop(self) {
        self.trigger.fire();
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::warn!(%error, "a service task ended abnormally");
            }
        }
    }
}

async fn refresh_status(
    notifier: Notifier,
    telemetry: Arc<Telemetry>,
    mut last: String,
    shutdown: Shutdown,
) {
    let mut interval = tokio::time::interval(STATUS_PERIOD);
    let stop = shutdown.wait();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = interval.tick() => {}
        }
        let line = telemetry.health(Instant::now()).status_line();
        if line != last {
            if let Err(error) = notifier.status(&line) {
                tracing::warn!(%error, "sending STATUS failed");
            }
            last = line;
        }
    }
}
