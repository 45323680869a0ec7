//! One WAN's cycle inside the daemon: the control cycle, plus what only a long-running service needs:
//! new control parameters after a reload, and the state file kept current.

use std::{sync::Arc, time::Duration};

use futures::FutureExt;
use tokio::{sync::watch, task::JoinHandle, time::Instant};

use super::{
    ControlCycle, CycleReport, WanCycle, steering_task::CongestionBoard, wan_source::WanSource,
};
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
    store: StoreSlot,
    config: watch::Receiver<Arc<Config>>,
    state_error_logged: bool,
    save_every: Duration,
    next_save: Instant,
    board: Option<CongestionBoard>,
}

type Store = StateStore<ControllerState>;
type SaveResult = Result<SaveOutcome, crate::state::StateError>;

/// The state store, or the blocking task currently writing with it: a write and its fsync can take
/// seconds on a busy disk or slow flash, and must never hold up the loop, HTTP or the watchdog.
enum StoreSlot {
    Idle(Store),
    Saving(JoinHandle<(Store, SaveResult)>),
    Lost,
}

impl DaemonCycle {
    /// Wraps a started WAN's cycle; `running` is the configuration it was started with.
    pub fn new(
        running: WanConfig,
        cycle: ControlCycle<WanSource>,
        store: StateStore<ControllerState>,
        save_every: Duration,
        config: watch::Receiver<Arc<Config>>,
    ) -> Self {
        Self {
            name: running.name.clone(),
            running,
            cycle,
            store: StoreSlot::Idle(store),
            config,
            state_error_logged: false,
            save_every,
            next_save: Instant::now() + save_every,
            board: None,
        }
    }

    /// Posts this WAN's congestion to the steering task after every cycle.
    pub fn post_to(mut self, board: CongestionBoard) -> Self {
        self.board = Some(board);
        self
    }

    /// Saves the state now (at shutdown) and hands back the cycle for the exit policy.
    pub async fn finish(self) -> ControlCycle<WanSource> {
        let store = match self.store {
            StoreSlot::Idle(store) => Some(store),
            StoreSlot::Saving(task) => task.await.ok().map(|(store, _)| store),
            StoreSlot::Lost => None,
        };
        let state = self.cycle.controller().snapshot();
        if let Some(mut store) = store {
            match store.save_now(&state, std::time::Instant::now()) {
                Ok(_) => {
                    tracing::info!(wan = %self.name, path = %store.path().display(), "state saved")
                }
                Err(error) => {
                    tracing::error!(wan = %self.name, %error, "saving state at exit failed")
                }
            }
        }
        self.cycle
    }

    /// Starts a save when none is in flight; reports the outcome of the previous one when it is done.
    fn save_state(&mut self, now: Instant, degraded: &mut Vec<String>) {
        if now < self.next_save {
            return;
        }
        self.next_save = now + self.save_every;
        let store = match std::mem::replace(&mut self.store, StoreSlot::Lost) {
            StoreSlot::Saving(task) if !task.is_finished() => {
                self.store = StoreSlot::Saving(task);
                return;
            }
            StoreSlot::Saving(task) => match task.now_or_never() {
                Some(Ok((store, result))) => {
                    self.check_saved(result, degraded);
                    store
                }
                _ => {
                    tracing::error!(wan = %self.name, "the state writer failed; state is no longer saved");
                    return;
                }
            },
            StoreSlot::Idle(store) => store,
            StoreSlot::Lost => return,
        };
        let state = self.cycle.controller().snapshot();
        let mut store = store;
        self.store = StoreSlot::Saving(tokio::task::spawn_blocking(move || {
            let result = store.save_if_due(&state, std::time::Instant::now());
            (store, result)
        }));
    }

    fn check_saved(&mut self, result: SaveResult, degraded: &mut Vec<String>) {
        match result {
            Ok(SaveOutcome::Written) => self.state_error_logged = false,
            Ok(_) => {}
            Err(error) => {
                if !self.state_error_logged {
                    tracing::error!(wan = %self.name, %error, "saving state failed");
                    self.state_error_logged = true;
                }
                degraded.push(format!("state not saved: {error}"));
            }
        }
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
        if let Some(board) = &self.board {
            board.post(&self.name, self.cycle.controller().last_decision());
        }
        self.save_state(now, &mut report.degraded_reasons);
        report
    }
}
