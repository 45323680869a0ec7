//! The daemon: control loop per WAN, systemd notify and watchdog, signals, health and metrics.

pub mod health;
pub mod http;
mod lock;
pub mod metrics;
mod notify;
mod reload;
mod signals;
pub mod telemetry;
mod warn_limit;
pub mod watchdog;

pub use health::{HealthReport, LinkState, WanHealth};
pub use lock::{InstanceLock, LockError};
pub use notify::{Notifier, watchdog_period_from_env};
pub use reload::{LoadFn, ReloadOutcome, Reloader};
pub use signals::{SignalEvent, Signals};
pub use telemetry::{CycleReport, ShaperReport, SteeringReport, Telemetry};
pub use warn_limit::RateLimitedWarn;
pub use watchdog::{LoopProgress, ProgressTracker, Verdict, WatchdogGate, run_watchdog};
