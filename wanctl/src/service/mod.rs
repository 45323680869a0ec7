//! The daemon: control loop per WAN, systemd notify and watchdog, signals, health and metrics.

mod control_cycle;
mod credentials;
mod ebpf_source;
pub mod health;
pub mod http;
mod lock;
pub mod metrics;
pub mod metrics_active;
mod notify;
mod reload;
mod runtime;
mod shutdown;
mod signals;
mod sink;
pub mod telemetry;
mod telemetry_active;
mod wan_loop;
mod warn_limit;
pub mod watchdog;

pub use crate::clock::monotonic_now;
pub use control_cycle::{Collected, ControlCycle, SampleSource};
pub use credentials::{CredentialError, read_credential, read_credential_from_env};
pub use ebpf_source::EbpfSource;
pub use health::{HealthReport, LinkState, WanHealth};
pub use lock::{InstanceLock, LockError};
pub use notify::{Notifier, watchdog_period_from_env};
pub use reload::{LoadFn, ReloadOutcome, Reloader};
pub use runtime::{ServiceRuntime, StartError};
pub use shutdown::{Shutdown, ShutdownTrigger, shutdown_channel};
pub use signals::{SignalEvent, Signals};
pub use sink::{BoxFuture, Sink};
pub use telemetry::{CycleReport, ShaperReport, SteeringReport, Telemetry};
pub use wan_loop::{LoopContext, LoopStats, WanCycle, run_wan_loop};
pub use warn_limit::RateLimitedWarn;
pub use watchdog::{LoopProgress, ProgressTracker, Verdict, WatchdogGate, run_watchdog};
