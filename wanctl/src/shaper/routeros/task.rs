//! The writer task: coalesces targets, writes past the deadband within the rate limit (decreases
//! first), backs off and breaks the circuit on failures, polls statistics, and reports health.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::watch, time::Instant};

use super::{
    breaker::Breaker,
    client::RouterOsClient,
    config::{QueueMap, QueueRef, RouterOsConfig},
    error::RouterOsError,
    limiter::WriteLimiter,
    plan::{Next, Plan, Write},
    queue::QueueEntry,
    stats::CounterTracker,
    writer::{Shared, Targets},
};
use crate::signal::{Direction, PerDirection};

pub(super) struct WriterTask {
    client: Arc<RouterOsClient>,
    queues: QueueMap,
    plan: Plan,
    limiter: WriteLimiter,
    breaker: Breaker,
    trackers: PerDirection<CounterTracker>,
    /// Submissions seen and submissions accounted for (written or skipped), per direction.
    seen: PerDirection<u64>,
    resolved: PerDirection<u64>,
    rx: watch::Receiver<Targets>,
    shared: Arc<Mutex<Shared>>,
    stats_interval: Option<Duration>,
    next_stats: Option<Instant>,
    need_refresh: bool,
}

impl WriterTask {
    pub(super) fn new(
        client: Arc<RouterOsClient>,
        config: &RouterOsConfig,
        rx: watch::Receiver<Targets>,
        shared: Arc<Mutex<Shared>>,
    ) -> Self {
        Self {
            client,
            queues: config.queues.clone(),
            plan: Plan::new(config.queues.clone(), config.deadband_percent),
            limiter: WriteLimiter::new(
                config.rate_limit.max_writes,
                config.rate_limit.window.get(),
            ),
            breaker: Breaker::new(config.retry, config.circuit_breaker),
            trackers: PerDirection::default(),
            seen: PerDirection::default(),
            resolved: PerDirection::default(),
            rx,
            shared,
            stats_interval: config.stats_interval.map(|i| i.get()),
            next_stats: None,
            need_refresh: true,
        }
    }

    pub(super) async fn run(mut self) {
        loop {
            self.sync_targets();
            let now = Instant::now();
            let wait_until = if let Some(at) = self.breaker.not_before(now) {
                Some(at)
            } else if self.need_refresh || self.next_stats.is_some_and(|t| t <= now) {
                self.refresh().await;
                continue;
            } else {
                match self.plan.next() {
                    Next::Refresh => {
                        self.need_refresh = true;
                        continue;
                    }
                    Next::Idle => self.next_stats,
                    Next::Write(write) => {
                        let slot = self.limiter.next_slot(now, write.decrease);
                        if slot <= now {
                            self.write(write, now).await;
                            continue;
                        }
                        Some(slot)
                    }
                }
            };
            self.resolve_skipped();
            if !self.wait(wait_until).await {
                return;
            }
        }
    }

    /// Waits for a new target or `until`; false when the handle is gone.
    async fn wait(&mut self, until: Option<Instant>) -> bool {
        match until {
            Some(at) => tokio::select! {
                changed = self.rx.changed() => changed.is_ok(),
                () = tokio::time::sleep_until(at) => true,
            },
            None => self.rx.changed().await.is_ok(),
        }
    }

    fn sync_targets(&mut self) {
        let targets = *self.rx.borrow_and_update();
        for d in Direction::ALL {
            if let Some(rate) = *targets.rate.get(d) {
                self.plan.set_target(d, rate);
            }
            *self.seen.get_mut(d) = *targets.seq.get(d);
        }
    }

    /// Submissions that need no write (on the router already, or inside the deadband) count as skipped.
    fn resolve_skipped(&mut self) {
        for d in Direction::ALL {
            if !self.plan.needs_write(d) {
                let skipped = self.seen.get(d) - self.resolved.get(d);
                *self.resolved.get_mut(d) = *self.seen.get(d);
                self.update_shared(|s| s.health.writes_skipped += skipped);
            }
        }
    }

    async fn refresh(&mut self) {
        let mut queues: Vec<QueueRef> = Vec::new();
        for d in Direction::ALL {
            if let Some(q) = self.queues.get(d)
                && !queues.contains(q)
            {
                queues.push(q.clone());
            }
        }
        for queue in &queues {
            match self.client.queue(queue).await {
                Ok(entry) => self.learn(queue, &entry),
                Err(e) => return self.failed(e),
            }
        }
        self.need_refresh = false;
        self.next_stats = self.stats_interval.map(|i| Instant::now() + i);
        self.succeeded();
    }

    async fn write(&mut self, write: Write, now: Instant) {
        let seqs = self.seen;
        let result = self.client.set_max_limit(&write.queue, write.limit).await;
        // A write counts against the flash budget when it may have reached the router; a connection
        // that was refused or failed its handshake wrote nothing.
        if result.as_ref().map_or_else(
            |e| e.router_answered() || matches!(e, RouterOsError::Timeout { .. }),
            |_| true,
        ) {
            self.limiter.record(now);
        }
        match result {
            Ok(entry) => {
                self.learn(&write.queue, &entry);
                for d in write.directions {
                    let skipped = (seqs.get(d) - self.resolved.get(d)).saturating_sub(1);
                    *self.resolved.get_mut(d) = *seqs.get(d);
                    self.update_shared(|s| s.health.writes_skipped += skipped);
                }
                self.update_shared(|s| s.health.writes_done += 1);
                tracing::debug!(host = %self.client.host(), queue = %write.queue, limit = %write.limit.to_wire(), "max-limit written");
                self.succeeded();
            }
            Err(e) => {
                if matches!(e, RouterOsError::Verify { .. }) {
                    self.need_refresh = true;
                }
                self.failed(e);
            }
        }
    }

    fn learn(&mut self, queue: &QueueRef, entry: &QueueEntry) {
        self.plan.on_router(queue, entry.max_limit);
        let Some(counters) = entry.counters else {
            return;
        };
        let mut updated = Vec::new();
        for d in Direction::ALL {
            if self.queues.get(d) == Some(queue) {
                updated.push((d, self.trackers.get_mut(d).update(counters.get(d))));
            }
        }
        self.update_shared(|s| {
            for (d, stats) in updated {
                *s.stats.get_mut(d) = Some(stats);
            }
            s.stats_read = true;
        });
    }

    fn succeeded(&mut self) {
        if self.breaker.failures() > 0 {
            tracing::info!(host = %self.client.host(), "router reachable again");
        }
        self.breaker.on_success();
        self.update_shared(|s| {
            s.health.reachable = true;
            s.health.last_error = None;
        });
    }

    fn failed(&mut self, error: RouterOsError) {
        let auth = matches!(error, RouterOsError::Auth { .. });
        let first = self.breaker.failures() == 0;
        let was_open = self.breaker.is_open();
        let wait = self.breaker.on_failure(Instant::now(), auth);
        if error.connection_lost() {
            // A router that went away may have rebooted and renumbered its ids.
            self.client.forget_ids();
        }
        if auth || (self.breaker.is_open() && !was_open) {
            tracing::error!(host = %self.client.host(), %error, retry_in = ?wait, "router writes paused");
        } else if first {
            tracing::warn!(host = %self.client.host(), %error, retry_in = ?wait, "router request failed");
        } else {
            tracing::debug!(host = %self.client.host(), %error, retry_in = ?wait, "router request failed");
        }
        let answered = error.router_answered();
        let text = error.to_string();
        self.update_shared(|s| {
            s.health.reachable = answered;
            s.health.last_error = Some(text);
        });
    }

    fn update_shared(&self, f: impl FnOnce(&mut Shared)) {
        if let Ok(mut shared) = self.shared.lock() {
            f(&mut shared);
        }
    }
}
