//! Starting one WAN for `wanctl run`: its controller (restored from the state file), its sample sources
//! (eBPF programs attached, active prober started) and its sinks (CAKE installed or adopted, the RouterOS
//! writer started). A failure names the WAN and the part; what was already started is dropped, which
//! detaches the programs and stops the tasks.

use std::{
    fs::File,
    io::{LineWriter, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use tokio::sync::watch;

use super::{ControlCycle, EbpfSource, Sink, wan_source::WanSource};
use crate::{
    config::{ServiceConfig, WanConfig},
    control::{ControlParams, Controller, ControllerState, ParamError, TraceWriter},
    probe::{
        active::{ActiveProbeError, ActiveProber, ReflectorHealth},
        ebpf::{ProbeError, WanPrograms},
    },
    shaper::{
        cake::{CakeError, CakeShaper},
        routeros::{RouterOsError, RouterOsWriter},
    },
    signal::source_policy::SourcePolicy,
    state::{LoadSource, StateStore},
};

/// How `wanctl run` was asked to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Compute and report decisions, write no shaper (no sink is set up).
    pub dry_run: bool,
    /// Record every cycle's input here (one file per WAN when there are several).
    pub record: Option<PathBuf>,
}

/// Why a WAN could not start.
#[derive(Debug, thiserror::Error)]
pub enum WanStartError {
    #[error("wan {wan}: control parameters: {source}")]
    Control { wan: String, source: ParamError },
    #[error("wan {wan}: state directory {path}: {source}")]
    StateDir {
        wan: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("wan {wan}: eBPF probe on {interface}: {source}")]
    Probe {
        wan: String,
        interface: String,
        source: Box<ProbeError>,
    },
    #[error("wan {wan}: active probes: {source}")]
    Active {
        wan: String,
        source: ActiveProbeError,
    },
    #[error("wan {wan}: CAKE: {source}")]
    Cake { wan: String, source: Box<CakeError> },
    #[error("wan {wan}: RouterOS: {source}")]
    RouterOs {
        wan: String,
        source: Box<RouterOsError>,
    },
    #[error("wan {wan}: recording to {path}: {source}")]
    Record {
        wan: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A started WAN, ready for [`super::run_wan_loop`].
pub struct StartedWan {
    /// WAN name.
    pub name: String,
    /// Cycle period.
    pub period: Duration,
    /// The cycle body: controller, sources, sinks.
    pub cycle: ControlCycle<WanSource>,
    /// Where the controller's state is persisted.
    pub store: StateStore<ControllerState>,
    /// Health of the active reflectors, when active probes run.
    pub reflectors: Option<watch::Receiver<ReflectorHealth>>,
}

/// Starts `wan`: controller and state, sources, sinks (none in a dry run), recorder.
///
/// # Errors
/// [`WanStartError`] naming the WAN and the part that failed.
pub async fn start_wan(
    wan: &WanConfig,
    service: &ServiceConfig,
    options: &RunOptions,
    record: Option<&Path>,
) -> Result<StartedWan, WanStartError> {
    let name = wan.name.clone();
    let params = wan
        .control
        .validate()
        .map_err(|source| WanStartError::Control {
            wan: name.clone(),
            source,
        })?;
    let period = Duration::from_secs_f64(params.interval_s);
    let (controller, store) = restore_controller(&name, params, service)?;

    let passive = if wan.rtt_source == SourcePolicy::Active {
        None
    } else {
        Some(attach_probe(wan)?)
    };
    let mut reflectors = None;
    let active = match (&wan.active_probe, wan.rtt_source) {
        (Some(config), SourcePolicy::Active | SourcePolicy::PassiveWithFallback) => {
            let prober =
                ActiveProber::spawn(&name, config).map_err(|source| WanStartError::Active {
                    wan: name.clone(),
                    source,
                })?;
            reflectors = Some(prober.health_watch());
            Some(prober)
        }
        _ => None,
    };
    let source = WanSource::new(wan.rtt_source, passive, active);

    let sinks = if options.dry_run {
        tracing::warn!(wan = %name, "dry run: decisions are computed and reported, no shaper is touched");
        Vec::new()
    } else {
        start_sinks(wan).await?
    };
    let mut cycle = ControlCycle::new(controller, source, sinks, options.dry_run);
    if let Some(path) = record {
        let file = File::create(path).map_err(|source| WanStartError::Record {
            wan: name.clone(),
            path: path.to_path_buf(),
            source,
        })?;
        let writer: Box<dyn Write + Send> = Box::new(LineWriter::new(file));
        let writer = TraceWriter::new(writer).map_err(|source| WanStartError::Record {
            wan: name.clone(),
            path: path.to_path_buf(),
            source,
        })?;
        cycle.record_to(writer);
        tracing::info!(wan = %name, path = %path.display(), "recording the control trace");
    }
    Ok(StartedWan {
        name,
        period,
        cycle,
        store,
        reflectors,
    })
}

/// A fresh controller, then the state file (else its backup) if it passes the controller's checks.
fn restore_controller(
    name: &str,
    params: ControlParams,
    service: &ServiceConfig,
) -> Result<(Controller, StateStore<ControllerState>), WanStartError> {
    std::fs::create_dir_all(&service.state_dir).map_err(|source| WanStartError::StateDir {
        wan: name.to_string(),
        path: service.state_dir.clone(),
        source,
    })?;
    let mut store =
        StateStore::for_wan(&service.state_dir, name, service.state_save_interval.get());
    let mut controller = Controller::new(params.clone());
    let check = |state: ControllerState| {
        Controller::new(params.clone())
            .restore(&state)
            .map(|()| state)
            .map_err(|e| e.to_string())
    };
    let fresh = controller.snapshot();
    let restored = store.restore(check, || fresh);
    for problem in &restored.problems {
        tracing::warn!(wan = %name, "{problem}");
    }
    match restored.source {
        LoadSource::Default => {
            tracing::info!(wan = %name, "no usable state file; starting from the configured rates")
        }
        source => {
            if let Err(error) = controller.restore(&restored.value) {
                tracing::warn!(wan = %name, %error, "restored state refused; starting afresh");
            } else {
                tracing::info!(wan = %name, ?source, path = %store.path().display(), "state restored");
            }
        }
    }
    Ok((controller, store))
}

fn attach_probe(wan: &WanConfig) -> Result<EbpfSource, WanStartError> {
    let error = |source| WanStartError::Probe {
        wan: wan.name.clone(),
        interface: wan.interface.clone(),
        source: Box::new(source),
    };
    let mut programs = WanPrograms::load(&wan.probe).map_err(error)?;
    programs.attach(&wan.interface).map_err(error)?;
    let reader = programs.samples().map_err(error)?;
    tracing::info!(wan = %wan.name, interface = %wan.interface, "eBPF probe attached");
    Ok(EbpfSource::new(programs, reader))
}

async fn start_sinks(wan: &WanConfig) -> Result<Vec<Box<dyn Sink>>, WanStartError> {
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(config) = &wan.cake {
        let cake =
            CakeShaper::setup(config.clone())
                .await
                .map_err(|source| WanStartError::Cake {
                    wan: wan.name.clone(),
                    source: Box::new(source),
                })?;
        tracing::info!(wan = %wan.name, interface = %config.interface, "CAKE verified");
        sinks.push(Box::new(cake));
    }
    if let Some(config) = &wan.routeros {
        // A router that is down does not hold up local shaping: the writer retries and health reports it.
        let writer = RouterOsWriter::spawn(config).map_err(|source| WanStartError::RouterOs {
            wan: wan.name.clone(),
            source: Box::new(source),
        })?;
        sinks.push(Box::new(writer));
    }
    Ok(sinks)
}
