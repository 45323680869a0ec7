//! `wanctl run`: starts the service infrastructure and every WAN, announces READY once each WAN has its
//! programs attached, its shapers verified and one cycle done, serves reloads until SIGTERM/SIGINT, then
//! stops the loops, saves state, applies each sink's exit policy and detaches the programs.

use std::{path::PathBuf, sync::Arc};

use tokio::{sync::oneshot, task::JoinHandle};

use super::{
    LoopContext, LoopStats, Notifier, Reloader, ServiceRuntime, Signals, StartError, Telemetry,
    daemon_cycle::DaemonCycle,
    run_wan_loop, shutdown_channel,
    steering_task::{CongestionBoard, SteeringStartError, SteeringTask, open_actuator},
    wan_start::{RunOptions, StartedWan, WanStartError, start_wan},
    watchdog_period_from_env,
};
use crate::config::{Config, reload_config};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("systemd notification socket: {0}")]
    Notify(std::io::Error),
    #[error("installing signal handlers: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Wan(#[from] WanStartError),
    #[error("runtime directory {path}: {source}")]
    RuntimeDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Steering(#[from] SteeringStartError),
    #[error("sending READY=1: {0}")]
    Ready(std::io::Error),
}

type WanLoop = JoinHandle<(DaemonCycle, LoopStats)>;

/// Runs the daemon until SIGTERM or SIGINT. `config` is the validated content of `path` (reloaded from
/// there on SIGHUP).
///
/// # Errors
/// [`DaemonError`] when something fails before READY; nothing is left attached or locked.
pub async fn run(path: PathBuf, config: Config, options: RunOptions) -> Result<(), DaemonError> {
    let notifier = Notifier::from_env().map_err(DaemonError::Notify)?;
    let mut signals = Signals::install().map_err(DaemonError::Signals)?;
    // systemd creates it (RuntimeDirectory=); a manual run may not have it yet.
    let runtime_dir = &config.service.runtime_dir;
    std::fs::create_dir_all(runtime_dir).map_err(|source| DaemonError::RuntimeDir {
        path: runtime_dir.clone(),
        source,
    })?;
    let mut runtime = ServiceRuntime::start(
        &config.service,
        config.wans.iter().map(|w| w.name.as_str()),
        notifier.clone(),
    )
    .await?;
    let started = match start_all(&config, &options).await {
        Ok(started) => started,
        Err(error) => {
            runtime.stop().await;
            return Err(error.into());
        }
    };
    let steering = match prepare_steering(&config, runtime.telemetry()) {
        Ok(steering) => steering,
        Err(error) => {
            runtime.stop().await;
            return Err(error.into());
        }
    };
    let wans = config.wans.clone();
    let save_every = config.service.state_save_interval.get();
    let (reloader, receiver) = Reloader::new(path, config, Box::new(reload_config), notifier);
    let (loop_trigger, loop_shutdown) = shutdown_channel();
    let mut loops: Vec<WanLoop> = Vec::new();
    let mut first_cycles = Vec::new();
    for (wan, started) in wans.into_iter().zip(started) {
        let (first_tx, first_rx) = oneshot::channel();
        first_cycles.push(first_rx);
        if let Some(reflectors) = started.reflectors {
            tokio::spawn(forward_reflectors(
                started.name.clone(),
                reflectors,
                Arc::clone(runtime.telemetry()),
                loop_shutdown.clone(),
            ));
        }
        let context = LoopContext {
            name: started.name.clone(),
            period: started.period,
            telemetry: Arc::clone(runtime.telemetry()),
            progress: runtime.progress().register(&started.name),
            first_cycle: Some(first_tx),
            shutdown: loop_shutdown.clone(),
        };
        let mut body = DaemonCycle::new(
            wan,
            started.cycle,
            started.store,
            save_every,
            receiver.clone(),
        );
        if let Some(task) = &steering {
            body = body.post_to(task.board.clone());
        }
        loops.push(tokio::spawn(run_wan_loop(body, context)));
    }
    let steering = steering.map(|task| tokio::spawn(task.run(loop_shutdown.clone())));

    let stopped_early = tokio::select! {
        () = wait_first_cycles(first_cycles) => None,
        name = next_shutdown(&mut signals) => Some(name),
    };
    let signal = match stopped_early {
        None => {
            if let Err(error) = runtime.ready(watchdog_period_from_env()) {
                loop_trigger.fire();
                finish(loops).await;
                runtime.stop().await;
                return Err(DaemonError::Ready(error));
            }
            reloader.run_until_shutdown(&mut signals).await
        }
        Some(name) => {
            tracing::info!(signal = name, "stopped before READY");
            name
        }
    };
    tracing::info!(signal, "stopping the WAN loops");
    loop_trigger.fire();
    finish(loops).await;
    if let Some(steering) = steering
        && let Err(error) = steering.await
    {
        tracing::error!(%error, "the steering task ended abnormally");
    }
    runtime.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// The steering task, when configured: its actuator opened, not yet running.
fn prepare_steering(
    config: &Config,
    telemetry: &Arc<Telemetry>,
) -> Result<Option<SteeringTask>, SteeringStartError> {
    let Some(steering) = &config.steering else {
        return Ok(None);
    };
    let interface_of = |name: &str| {
        let interface = config
            .wans
            .iter()
            .find(|w| w.name == name)
            .map(|w| w.interface.clone())
            .unwrap_or_default();
        (name.to_string(), interface)
    };
    Ok(Some(SteeringTask {
        config: steering.clone(),
        primary: interface_of(&steering.primary),
        alternate: interface_of(&steering.alternate),
        actuator: open_actuator(config, steering)?,
        board: CongestionBoard::default(),
        telemetry: Arc::clone(telemetry),
    }))
}

/// Starts every WAN in order; on the first failure the ones already started are dropped (detached).
async fn start_all(
    config: &Config,
    options: &RunOptions,
) -> Result<Vec<StartedWan>, WanStartError> {
    let several = config.wans.len() > 1;
    let mut started = Vec::with_capacity(config.wans.len());
    for wan in &config.wans {
        let record = options
            .record
            .as_ref()
            .map(|path| record_path(path, &wan.name, several));
        started.push(start_wan(wan, &config.service, options, record.as_deref()).await?);
    }
    Ok(started)
}

/// `trace.csv` for one WAN; `trace.<wan>.csv` for each of several.
fn record_path(base: &std::path::Path, wan: &str, several: bool) -> PathBuf {
    if !several {
        return base.to_path_buf();
    }
    let stem = base.file_stem().unwrap_or_default().to_string_lossy();
    let name = match base.extension() {
        Some(ext) => format!("{stem}.{wan}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{wan}"),
    };
    base.with_file_name(name)
}

/// The next SIGTERM/SIGINT; a SIGHUP before READY has nothing to reload yet.
async fn next_shutdown(signals: &mut Signals) -> &'static str {
    loop {
        if let super::SignalEvent::Shutdown(name) = signals.next().await {
            return name;
        }
    }
}

async fn wait_first_cycles(first_cycles: Vec<oneshot::Receiver<()>>) {
    for first in first_cycles {
        // A loop that ended before its first cycle has dropped the sender; READY waits for the others.
        let _ = first.await;
    }
}

async fn forward_reflectors(
    wan: String,
    mut health: tokio::sync::watch::Receiver<crate::probe::active::ReflectorHealth>,
    telemetry: Arc<Telemetry>,
    shutdown: super::Shutdown,
) {
    let stop = shutdown.wait();
    tokio::pin!(stop);
    loop {
        let snapshot = health.borrow_and_update().clone();
        telemetry.record_reflectors(&wan, snapshot);
        tokio::select! {
            () = &mut stop => return,
            changed = health.changed() => if changed.is_err() { return },
        }
    }
}

/// Joins the loops, saves each WAN's state, applies the sinks' exit policies and detaches the probes.
async fn finish(loops: Vec<WanLoop>) {
    for handle in loops {
        let (body, stats) = match handle.await {
            Ok(done) => done,
            Err(error) => {
                tracing::error!(%error, "a WAN loop ended abnormally; its exit policy was not applied");
                continue;
            }
        };
        let (controller, source, sinks) = body.finish().await.into_parts();
        let decision = controller.last_decision();
        tracing::info!(
            cycles = stats.cycles,
            overruns = stats.overruns,
            download = %decision.directions.download.rate,
            upload = %decision.directions.upload.rate,
            "WAN loop stopped"
        );
        for sink in sinks {
            let name = sink.name().to_string();
            match sink.finish().await {
                Ok(()) => tracing::info!(sink = %name, "exit policy applied"),
                Err(message) => tracing::error!("{message}"),
            }
        }
        source.shutdown().await;
    }
}
