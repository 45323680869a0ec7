//! One WAN's cycle inside the daemon: the control cycle, plus what only a long-running service needs:
//! new control parameters after a reload, and the state file kept current.

use std::sync::Arc;

use tokio::{sync::watch, time::Instant};

use super::{ControlCycle, CycleReport, WanCycle, wan_source::WanSource};
use crate::{
    config::{Config, WanConfig},
    control::ControllerState,
    state::{SaveOutcome, StateStore},
};

/// The daemon's cycle body for one WAN.
pub struct DaemonCycle {
    name: String,
    running: WanConfig,
    cycle: ControlCycle<WanSource>,
    store: StateStore<ControllerState>,
    config: watch::Receiver<Arc<Config>>,
    state_error_logged: bool,
}

impl DaemonCycle {
    /// Wraps a started WAN's cycle; `running` is the configuration it was started with.
    pub fn new(
        running: WanConfig,
        cycle: ControlCycle<WanSource>,
        store: StateStore<ControllerState>,
        config: watch::Receiver<Arc<Config>>,
    ) -> Self {
        Self {
            name: running.name.clone(),
            running,
            cycle,
            store,
            config,
            state_error_logged: false,
        }
    }

    /// Saves the state now (at shutdown) and hands back the cycle for the exit policy.
    pub fn finish(mut self) -> ControlCycle<WanSource> {
        let state = self.cycle.controller().snapshot();
        match self.store.save_now(&state, std::time::Instant::now()) {
            Ok(_) => {
                tracing::info!(wan = %self.name, path = %self.store.path().display(), "state saved")
            }
            Err(error) => tracing::error!(wan = %self.name, %error, "saving state at exit failed"),
        }
        self.cycle
    }

    /// Takes what a reload changed for this WAN: control parameters apply at once; anything that needs
    /// devices or connections set up again (interfaces, probes, sinks) waits for a restart, and says so.
    fn apply_reload(&mut self) {
        let config = Arc::clone(&self.config.borrow_and_update());
        let Some(wan) = config.wans.iter().find(|w| w.name == self.name) else {
            tracing::warn!(wan = %self.name, "this WAN is gone from the reloaded configuration; it keeps running until wanctl restarts");
            return;
        };
        if wan.control != self.running.control {
            match wan.control.validate() {
                Ok(params) => {
                    self.cycle.retune(params);
                    self.running.control = wan.control.clone();
                    tracing::info!(wan = %self.name, "new control parameters in force");
                }
                Err(error) => {
                    tracing::error!(wan = %self.name, %error, "reloaded control parameters refused; the old ones stay")
                }
            }
        }
        let mut restart_needed = wan.clone();
        restart_needed.control = self.running.control.clone();
        if restart_needed != self.running {
            tracing::warn!(wan = %self.name, "interfaces, probes or shapers changed; restart wanctl to apply them");
        }
    }
}

impl WanCycle for DaemonCycle {
    async fn run_cycle(&mut self, now: Instant) -> CycleReport {
        if self.config.has_changed().unwrap_or(false) {
            self.apply_reload();
        }
        let mut report = self.cycle.run_cycle(now).await;
        // At most one small write per `state_save_interval`, so the inline file I/O stays rare.
        let state = self.cycle.controller().snapshot();
        match self.store.save_if_due(&state, std::time::Instant::now()) {
            Ok(SaveOutcome::Written) => self.state_error_logged = false,
            Ok(_) => {}
            Err(error) => {
                if !self.state_error_logged {
                    tracing::error!(wan = %self.name, %error, "saving state failed");
                    self.state_error_logged = true;
                }
                report
                    .degraded_reasons
                    .push(format!("state not saved: {error}"));
            }
        }
        report
    }
}
