//! The per-WAN control loop's clockwork, independent of what a cycle does: a fixed cycle period, overruns
//! counted, each cycle reported to telemetry and ticked for the watchdog, stop on shutdown. The cycle body
//! (drain samples, run the controller, write the sinks) is the component-specific [`WanCycle`].

use std::{future::Future, sync::Arc, time::Duration};

use tokio::{
    sync::oneshot,
    time::{Instant, MissedTickBehavior},
};

use super::{CycleReport, LoopProgress, Shutdown, Telemetry};

/// What one WAN does each cycle. The loop fills in `at`, `duration` and `overrun` of the returned report.
pub trait WanCycle: Send {
    /// Runs one cycle that started at `now` and reports what it decided and measured.
    fn run_cycle(&mut self, now: Instant) -> impl Future<Output = CycleReport> + Send;
}

/// Counts of a finished loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoopStats {
    /// Completed cycles.
    pub cycles: u64,
    /// Cycles that took longer than the period.
    pub overruns: u64,
}

/// Everything a WAN loop needs besides its body.
#[derive(Debug)]
pub struct LoopContext {
    /// WAN name (telemetry key).
    pub name: String,
    /// Cycle period (default 50 ms).
    pub period: Duration,
    /// Where each cycle is reported.
    pub telemetry: Arc<Telemetry>,
    /// Ticked after each cycle.
    pub progress: LoopProgress,
    /// Fired after the first completed cycle (the daemon's READY waits for every WAN's).
    pub first_cycle: Option<oneshot::Sender<()>>,
    /// Ends the loop between cycles.
    pub shutdown: Shutdown,
}

/// Runs `body` every `period` until shutdown, then hands it back so the daemon can apply the exit policy and
/// save state. A cycle that overruns delays the next tick instead of bunching the missed ones.
pub async fn run_wan_loop<C: WanCycle>(mut body: C, mut context: LoopContext) -> (C, LoopStats) {
    let mut interval = tokio::time::interval(context.period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut stats = LoopStats::default();
    let stop = context.shutdown.clone().wait();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            () = &mut stop => return (body, stats),
            _ = interval.tick() => {}
        }
        let started = Instant::now();
        let mut report = body.run_cycle(started).await;
        let finished = Instant::now();
        report.at = finished;
        report.duration = finished.saturating_duration_since(started);
        report.overrun = report.duration > context.period;
        stats.cycles += 1;
        if report.overrun {
            stats.overruns += 1;
        }
        context.telemetry.record_cycle(&context.name, report);
        context.progress.tick();
        if let Some(first) = context.first_cycle.take() {
            let _ = first.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        config::Bandwidth,
        service::{LinkState, ProgressTracker, WatchdogGate, shutdown_channel},
        signal::PerDirection,
    };

    /// A body that sleeps 120 ms on every fourth cycle (an overrun at a 50 ms period) and otherwise 1 ms.
    struct Sleepy {
        calls: u64,
        starts: Vec<Instant>,
    }

    impl WanCycle for Sleepy {
        async fn run_cycle(&mut self, now: Instant) -> CycleReport {
            self.calls += 1;
            self.starts.push(now);
            let work = if self.calls.is_multiple_of(4) { 120 } else { 1 };
            tokio::time::sleep(Duration::from_millis(work)).await;
            CycleReport {
                at: now,
                duration: Duration::ZERO,
                overrun: false,
                state: PerDirection {
                    download: LinkState::Green,
                    upload: LinkState::Green,
                },
                rate: PerDirection {
                    download: Bandwidth::from_mbit(10),
                    upload: Bandwidth::from_mbit(1),
                },
                baseline_rtt: None,
                load_rtt: None,
                downstream_delay: None,
                samples: 0,
                ringbuf_lost: 0,
                shapers: vec![],
                degraded_reasons: vec![],
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn counts_overruns_reports_every_cycle_and_stops_on_shutdown() {
        let telemetry = Arc::new(Telemetry::new(Instant::now(), Duration::from_secs(2)));
        let tracker = ProgressTracker::default();
        let mut gate = WatchdogGate::new(tracker.clone(), Duration::from_millis(500));
        let (trigger, shutdown) = shutdown_channel();
        let (first_tx, first_rx) = oneshot::channel();
        let context = LoopContext {
            name: "wan1".into(),
            period: Duration::from_millis(50),
            telemetry: Arc::clone(&telemetry),
            progress: tracker.register("wan1"),
            first_cycle: Some(first_tx),
            shutdown,
        };
        let running = tokio::spawn(run_wan_loop(
            Sleepy {
                calls: 0,
                starts: vec![],
            },
            context,
        ));
        first_rx.await.unwrap();
        gate.check(Instant::now());
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Longer than stall_after: healthy only because the loop kept ticking.
        assert!(gate.check(Instant::now()).healthy);
        trigger.fire();
        let (body, stats) = running.await.unwrap();

        assert_eq!(stats.cycles, body.calls);
        assert_eq!(stats.overruns, body.calls / 4);
        assert!(stats.cycles >= 8, "{stats:?}");
        // After an overrun the next cycle starts at once, later ones keep the period: never a burst.
        for pair in body.starts.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap >= Duration::from_millis(50), "cycles {gap:?} apart");
        }
        let health = telemetry.health(Instant::now());
        assert_eq!(health.wans[0].cycle_overruns, stats.overruns);
        let metrics = telemetry.encode_metrics();
        assert!(
            metrics.contains(&format!(
                "wanctl_cycles_total{{wan=\"wan1\"}} {}",
                stats.cycles
            )),
            "{metrics}"
        );
    }
}
