//! Steering inside the daemon: each WAN loop posts its congestion on a shared board every cycle; one task
//! reads both WANs' entries, steps the steering machine, switches the actuator (verified), and reports to
//! telemetry. It reconciles with the actuator's real state at start and applies the exit policy at the end.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use super::{RateLimitedWarn, Shutdown, SteeringReport, Telemetry};
use crate::{
    clock::monotonic_now,
    config::Config,
    control::{Decision as ControlDecision, Zone},
    shaper::routeros::{RouterOsClient, load_password},
    signal::Timestamp,
    steering::{
        Action, ActuatorError, CongestionState, SteeringActuator, SteeringConfig, SteeringMachine,
        WanCongestion,
        actuator::{ActuatorConfig, LinuxActuator, RouterOsActuator},
        set_verified,
    },
};

/// How often steering decides; its timers are in wall-clock time, so this only bounds the reaction delay.
const STEP: Duration = Duration::from_millis(100);

/// The latest congestion of every WAN, posted by the WAN loops.
#[derive(Debug, Clone, Default)]
pub struct CongestionBoard(Arc<Mutex<HashMap<String, WanCongestion>>>);

impl CongestionBoard {
    /// Posts `wan`'s state after a cycle: the worse direction (latency-sensitive traffic suffers from a
    /// queue either way) and the delay over the baseline.
    pub fn post(&self, wan: &str, decision: &ControlDecision) {
        let state = congestion(decision.directions.download.state)
            .max(congestion(decision.directions.upload.state));
        let entry = WanCongestion {
            state,
            delay_delta_ms: decision.delta_ms.unwrap_or(0.0),
            drop_rate: 0.0,
            backlog_bytes: 0,
            updated_at: decision.at,
            link_up: true,
        };
        if let Ok(mut board) = self.0.lock() {
            board.insert(wan.to_string(), entry);
        }
    }

    fn get(&self, wan: &str) -> Option<WanCongestion> {
        self.0.lock().ok().and_then(|board| board.get(wan).copied())
    }
}

fn congestion(zone: Zone) -> CongestionState {
    match zone {
        Zone::Green => CongestionState::Green,
        Zone::Yellow => CongestionState::Yellow,
        Zone::SoftRed => CongestionState::SoftRed,
        Zone::Red => CongestionState::Red,
    }
}

/// Whether `interface` is up, from sysfs (`unknown` counts as up: many virtual and PPP devices report it).
fn link_up(interface: &str) -> bool {
    std::fs::read_to_string(format!("/sys/class/net/{interface}/operstate"))
        .map(|state| matches!(state.trim(), "up" | "unknown"))
        .unwrap_or(false)
}

/// The configured actuator.
pub enum DaemonActuator {
    Linux(LinuxActuator),
    RouterOs(RouterOsActuator<Arc<RouterOsClient>>),
}

impl SteeringActuator for DaemonActuator {
    async fn read(&mut self) -> Result<bool, ActuatorError> {
        match self {
            DaemonActuator::Linux(a) => a.read().await,
            DaemonActuator::RouterOs(a) => a.read().await,
        }
    }

    async fn set(&mut self, steering: bool) -> Result<(), ActuatorError> {
        match self {
            DaemonActuator::Linux(a) => a.set(steering).await,
            DaemonActuator::RouterOs(a) => a.set(steering).await,
        }
    }

    fn describe(&self) -> String {
        match self {
            DaemonActuator::Linux(a) => a.describe(),
            DaemonActuator::RouterOs(a) => a.describe(),
        }
    }
}

/// Why steering could not start.
#[derive(Debug, thiserror::Error)]
pub enum SteeringStartError {
    #[error("steering: {0}")]
    Actuator(#[from] ActuatorError),
    #[error(
        "steering.actuator.routeros: the primary WAN `{wan}` has no `routeros` section to reach the router"
    )]
    NoRouter { wan: String },
    #[error("steering.actuator.routeros: {0}")]
    Router(String),
}

/// Opens the configured actuator (the RouterOS one uses the primary WAN's router).
///
/// # Errors
/// The netlink socket or the router client could not be set up.
pub fn open_actuator(
    config: &Config,
    steering: &SteeringConfig,
) -> Result<DaemonActuator, SteeringStartError> {
    match &steering.actuator {
        ActuatorConfig::Linux(linux) => Ok(DaemonActuator::Linux(LinuxActuator::connect(
            linux.clone(),
        )?)),
        ActuatorConfig::RouterOs(mangle) => {
            let router = config
                .wans
                .iter()
                .find(|w| w.name == steering.primary)
                .and_then(|w| w.routeros.as_ref())
                .ok_or_else(|| SteeringStartError::NoRouter {
                    wan: steering.primary.clone(),
                })?;
            let password =
                load_password(router).map_err(|e| SteeringStartError::Router(e.to_string()))?;
            let client = RouterOsClient::new(router, password)
                .map_err(|e| SteeringStartError::Router(e.to_string()))?;
            Ok(DaemonActuator::RouterOs(RouterOsActuator::new(
                Arc::new(client),
                mangle,
            )))
        }
    }
}

/// The steering task: runs until `shutdown`, then applies the exit policy.
pub struct SteeringTask {
    pub config: SteeringConfig,
    /// (WAN name, interface) of the primary and the alternate.
    pub primary: (String, String),
    pub alternate: (String, String),
    pub actuator: DaemonActuator,
    pub board: CongestionBoard,
    pub telemetry: Arc<Telemetry>,
}

impl SteeringTask {
    /// Runs the task.
    pub async fn run(mut self, shutdown: Shutdown) {
        let mut warn = RateLimitedWarn::new(Duration::from_secs(10));
        let found = match self.actuator.read().await {
            Ok(found) => found,
            Err(error) => {
                tracing::error!(%error, "steering: reading the actuator at start failed; assuming not steering");
                false
            }
        };
        let (mut machine, startup) = SteeringMachine::start(&self.config, monotonic_now(), found);
        tracing::info!(actuator = %self.actuator.describe(), steering = found, "steering started");
        self.apply(&mut machine, startup, &mut warn).await;
        let mut ticker = tokio::time::interval(STEP);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop = shutdown.wait();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                biased;
                () = &mut stop => break,
                _ = ticker.tick() => {}
            }
            let now = monotonic_now();
            let primary = self.observe(&self.primary, now);
            let alternate = self.observe(&self.alternate, now);
            let decision = machine.step(now, &primary, &alternate);
            self.apply(&mut machine, decision, &mut warn).await;
            self.report(&machine, now);
        }
        if let Some(target) = machine.exit_target()
            && target != machine.action()
        {
            match set_verified(&mut self.actuator, target.is_steer()).await {
                Ok(()) => tracing::info!(state = target.as_str(), "steering: exit policy applied"),
                Err(error) => tracing::error!(%error, "steering: applying the exit policy failed"),
            }
        }
    }

    /// A WAN's latest congestion, with its link state; never-posted WANs look infinitely stale.
    fn observe(&self, (wan, interface): &(String, String), _now: Timestamp) -> WanCongestion {
        let mut entry = self.board.get(wan).unwrap_or(WanCongestion {
            state: CongestionState::Green,
            delay_delta_ms: 0.0,
            drop_rate: 0.0,
            backlog_bytes: 0,
            updated_at: Timestamp::from_nanos(0),
            link_up: true,
        });
        entry.link_up = link_up(interface);
        entry
    }

    async fn apply(
        &mut self,
        machine: &mut SteeringMachine,
        decision: crate::steering::Decision,
        warn: &mut RateLimitedWarn,
    ) {
        if !decision.switch {
            return;
        }
        let steer = decision.action.is_steer();
        match set_verified(&mut self.actuator, steer).await {
            Ok(()) => {
                machine.commit(monotonic_now(), &decision);
                tracing::info!(state = decision.action.as_str(), reason = ?decision.reason, "steering switched");
            }
            Err(error) => {
                if let Some(held_back) = warn.allow("steering_switch", tokio::time::Instant::now())
                {
                    tracing::warn!(%error, held_back, "steering: switch failed; retrying next step");
                }
            }
        }
    }

    fn report(&self, machine: &SteeringMachine, now: Timestamp) {
        let snapshot = machine.snapshot(now);
        let steering = snapshot.state == Action::Steer;
        let (primary_role, alternate_role) = if steering {
            ("avoided", "steered_to")
        } else {
            ("primary", "standby")
        };
        self.telemetry.record_steering(SteeringReport {
            state: snapshot.state.as_str().to_string(),
            roles: vec![
                (self.primary.0.clone(), primary_role.to_string()),
                (self.alternate.0.clone(), alternate_role.to_string()),
            ],
            transitions: snapshot.transitions,
            in_state_seconds: snapshot.in_state_secs,
            suppressed_flaps: snapshot.suppressed_flaps,
        });
    }
}
