//! The systemd watchdog, gated on real progress: each WAN loop ticks a counter per completed cycle, and
//! WATCHDOG=1 is sent only while every registered loop's counter moved within `stall_after`. A timer that pings
//! regardless would keep a wedged daemon "healthy" forever.

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::time::{Instant, MissedTickBehavior};

use super::Notifier;

/// A registered loop: its name and its counter (weak, so a dropped loop disappears).
type Registration = (String, Weak<AtomicU64>);

/// Where loops report progress; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ProgressTracker {
    loops: Arc<Mutex<Vec<Registration>>>,
}

/// One loop's progress counter. Dropping it unregisters the loop (a WAN removed by a reload stops counting).
#[derive(Debug)]
pub struct LoopProgress {
    cycles: Arc<AtomicU64>,
}

impl LoopProgress {
    /// Records one completed cycle.
    pub fn tick(&self) {
        self.cycles.fetch_add(1, Ordering::Relaxed);
    }
}

impl ProgressTracker {
    /// Registers a loop by name; the watchdog waits for it from now on.
    pub fn register(&self, name: &str) -> LoopProgress {
        let cycles = Arc::new(AtomicU64::new(0));
        let mut loops = self.loops.lock().unwrap_or_else(PoisonError::into_inner);
        loops.push((name.to_string(), Arc::downgrade(&cycles)));
        LoopProgress { cycles }
    }

    /// Cycle counts of the live loops, dropping the ones that ended.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let mut loops = self.loops.lock().unwrap_or_else(PoisonError::into_inner);
        loops.retain(|(_, cycles)| cycles.strong_count() > 0);
        loops
            .iter()
            .filter_map(|(name, cycles)| {
                Some((name.clone(), cycles.upgrade()?.load(Ordering::Relaxed)))
            })
            .collect()
    }
}

/// The watchdog's decision at one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Every loop progressed recently (and there is at least one).
    pub healthy: bool,
    /// Loops without a completed cycle for longer than `stall_after`.
    pub stalled: Vec<String>,
}

/// Remembers when each loop's counter last moved.
#[derive(Debug)]
pub struct WatchdogGate {
    tracker: ProgressTracker,
    stall_after: Duration,
    seen: HashMap<String, (u64, Instant)>,
}

impl WatchdogGate {
    /// A gate over `tracker`'s loops; a loop stalls after `stall_after` without a completed cycle.
    pub fn new(tracker: ProgressTracker, stall_after: Duration) -> Self {
        Self {
            tracker,
            stall_after,
            seen: HashMap::new(),
        }
    }

    /// Checks every loop at `now`. A loop first seen now gets `stall_after` to complete its first cycle.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let snapshot = self.tracker.snapshot();
        self.seen
            .retain(|name, _| snapshot.iter().any(|(live, _)| live == name));
        let mut stalled = Vec::new();
        for (name, cycles) in &snapshot {
            let entry = self.seen.entry(name.clone()).or_insert((*cycles, now));
            if entry.0 != *cycles {
                *entry = (*cycles, now);
            } else if now.saturating_duration_since(entry.1) > self.stall_after {
                stalled.push(name.clone());
            }
        }
        Verdict {
            healthy: !snapshot.is_empty() && stalled.is_empty(),
            stalled,
        }
    }
}

/// Pings the watchdog every `period` while the gate says healthy, until `shutdown` resolves. A stall is logged
/// and shown in STATUS once when it starts, and once when it ends.
pub async fn run_watchdog(
    notifier: Notifier,
    mut gate: WatchdogGate,
    period: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    let mut was_stalled = Vec::new();
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = interval.tick() => {}
        }
        let verdict = gate.check(Instant::now());
        if verdict.healthy
            && let Err(error) = notifier.watchdog()
        {
            tracing::warn!(%error, "sending WATCHDOG=1 failed");
        }
        if verdict.stalled != was_stalled {
            if verdict.stalled.is_empty() {
                tracing::info!("all control loops progress again; watchdog pings resume");
            } else {
                let line = format!(
                    "stalled: {} (watchdog pings withheld)",
                    verdict.stalled.join(", ")
                );
                tracing::error!(loops = ?verdict.stalled, "control loop stalled; withholding WATCHDOG=1");
                if let Err(error) = notifier.status(&line) {
                    tracing::warn!(%error, "sending STATUS failed");
                }
            }
            was_stalled = verdict.stalled;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_only_while_every_loop_progresses() {
        let tracker = ProgressTracker::default();
        let mut gate = WatchdogGate::new(tracker.clone(), Duration::from_secs(2));
        let t0 = Instant::now();
        assert!(
            !gate.check(t0).healthy,
            "no loops registered proves nothing"
        );

        let wan1 = tracker.register("wan1");
        let wan2 = tracker.register("wan2");
        assert!(
            gate.check(t0).healthy,
            "a new loop gets stall_after to complete its first cycle"
        );
        for second in 1..=5 {
            wan1.tick();
            wan2.tick();
            assert!(gate.check(t0 + Duration::from_secs(second)).healthy);
        }
        // wan2 stops; it is reported once its silence exceeds stall_after.
        wan1.tick();
        assert!(gate.check(t0 + Duration::from_secs(6)).healthy);
        wan1.tick();
        let verdict = gate.check(t0 + Duration::from_secs(8));
        assert_eq!(
            verdict,
            Verdict {
                healthy: false,
                stalled: vec!["wan2".into()]
            }
        );
        // It recovers as soon as it ticks again.
        wan1.tick();
        wan2.tick();
        assert!(gate.check(t0 + Duration::from_secs(9)).healthy);
    }

    #[test]
    fn a_dropped_loop_is_no_longer_waited_for() {
        let tracker = ProgressTracker::default();
        let mut gate = WatchdogGate::new(tracker.clone(), Duration::from_secs(1));
        let t0 = Instant::now();
        let kept = tracker.register("kept");
        let removed = tracker.register("removed");
        gate.check(t0);
        drop(removed);
        kept.tick();
        assert!(gate.check(t0 + Duration::from_secs(5)).healthy);
        assert_eq!(tracker.snapshot(), [("kept".to_string(), 1)]);
    }
}
