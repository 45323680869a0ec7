//! The hub the daemon feeds once per cycle and per steering change; `/health`, `/metrics` and STATUS read it.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

use super::{
    health::{HealthReport, LinkState, ShaperStatus, WanHealth},
    metrics::{DirectionLabels, Metrics, ShaperLabels, StateLabels, SteeringLabels, WanLabels},
};
use crate::{
    config::Bandwidth,
    shaper::ShaperHealth,
    signal::{Direction, PerDirection},
};

/// What one control cycle of one WAN reports.
#[derive(Debug, Clone)]
pub struct CycleReport {
    /// When the cycle completed.
    pub at: Instant,
    /// How long the cycle's work took.
    pub duration: Duration,
    /// The cycle took longer than the cycle interval.
    pub overrun: bool,
    /// Congestion state per direction.
    pub state: PerDirection<LinkState>,
    /// Target rate per direction.
    pub rate: PerDirection<Bandwidth>,
    /// Baseline RTT, once known.
    pub baseline_rtt: Option<Duration>,
    /// Loaded RTT, once known.
    pub load_rtt: Option<Duration>,
    /// The download's own queue delay (from the peers' timestamps), while measured.
    pub downstream_delay: Option<Duration>,
    /// RTT samples consumed in this cycle.
    pub samples: u64,
    /// Ring-buffer events lost since the previous cycle.
    pub ringbuf_lost: u64,
    /// Every sink of this WAN after this cycle.
    pub shapers: Vec<ShaperReport>,
    /// Problems the loop knows about (probe detached, active fallback in use, …).
    pub degraded_reasons: Vec<String>,
}

/// One sink after a cycle; counts are totals since start.
#[derive(Debug, Clone)]
pub struct ShaperReport {
    /// Sink name, e.g. `cake:eth0`.
    pub name: String,
    /// `cake` or `routeros`.
    pub kind: String,
    /// Reachability, last error, writes.
    pub health: ShaperHealth,
    /// Failed writes since start.
    pub write_failures: u64,
}

/// Steering across WANs after a decision.
#[derive(Debug, Clone, Default)]
pub struct SteeringReport {
    /// The state name, e.g. `steering`.
    pub state: String,
    /// Each WAN's role, e.g. (`wan1`, `primary`).
    pub roles: Vec<(String, String)>,
    /// State changes since start.
    pub transitions: u64,
    /// Seconds in the current state.
    pub in_state_seconds: f64,
    /// Episodes in which the flap limit held back a wanted switch, since start.
    pub suppressed_flaps: u64,
}

#[derive(Debug, Default)]
pub(super) struct WanEntry {
    last: Option<CycleReport>,
    /// The active prober's latest snapshot, where the WAN has active probes.
    pub(super) reflectors: Option<crate::probe::active::ReflectorHealth>,
    overruns: u64,
    window_start: Option<Instant>,
    window_samples: u64,
    samples_per_second: f64,
    shaper_totals: HashMap<String, (u64, u64)>,
}

#[derive(Debug, Default)]
pub(super) struct Inner {
    order: Vec<String>,
    pub(super) wans: HashMap<String, WanEntry>,
    steering: Option<SteeringReport>,
}

/// Health and metrics state of the running daemon.
#[derive(Debug)]
pub struct Telemetry {
    started: Instant,
    stale_after: Duration,
    pub(super) metrics: Metrics,
    inner: Mutex<Inner>,
}

impl Telemetry {
    /// A hub whose WANs count as degraded when no cycle completed for `stale_after`.
    pub fn new(started: Instant, stale_after: Duration) -> Self {
        Self {
            started,
            stale_after,
            metrics: Metrics::new(),
            inner: Mutex::new(Inner::default()),
        }
    }

    pub(super) fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Declares a WAN so it shows (as degraded) before its first cycle; keeps configuration order.
    pub fn register_wan(&self, wan: &str) {
        let mut inner = self.inner();
        if !inner.wans.contains_key(wan) {
            inner.order.push(wan.to_string());
            inner.wans.insert(wan.to_string(), WanEntry::default());
        }
    }

    /// Forgets a WAN removed by a reload.
    pub fn remove_wan(&self, wan: &str) {
        let mut inner = self.inner();
        inner.order.retain(|name| name != wan);
        inner.wans.remove(wan);
    }

    /// Records one completed cycle of `wan`.
    pub fn record_cycle(&self, wan: &str, report: CycleReport) {
        self.register_wan(wan);
        let m = &self.metrics;
        let wan_labels = WanLabels {
            wan: wan.to_string(),
        };
        for direction in Direction::ALL {
            let labels = DirectionLabels {
                wan: wan.to_string(),
                direction: direction.as_str().to_string(),
            };
            let rate = i64::try_from(report.rate.get(direction).bps()).unwrap_or(i64::MAX);
            m.rate.get_or_create(&labels).set(rate);
            let current = *report.state.get(direction);
            m.level.get_or_create(&labels).set(current.level());
            for state in LinkState::ALL {
                let labels = StateLabels {
                    wan: wan.to_string(),
                    direction: direction.as_str().to_string(),
                    state: state.as_str().to_string(),
                };
                m.state
                    .get_or_create(&labels)
                    .set(i64::from(state == current));
            }
        }
        if let Some(baseline) = report.baseline_rtt {
            m.rtt_baseline
                .get_or_create(&wan_labels)
                .set(baseline.as_secs_f64());
        }
        if let Some(load) = report.load_rtt {
            m.rtt_load
                .get_or_create(&wan_labels)
                .set(load.as_secs_f64());
        }
        if let Some(delta) = delta_seconds(&report) {
            m.rtt_delta.get_or_create(&wan_labels).set(delta);
        }
        if let Some(downstream) = report.downstream_delay {
            m.downstream_delay
                .get_or_create(&wan_labels)
                .set(downstream.as_secs_f64());
        }
        m.rtt_samples
            .get_or_create(&wan_labels)
            .inc_by(report.samples);
        m.ringbuf_lost
            .get_or_create(&wan_labels)
            .inc_by(report.ringbuf_lost);
        m.cycles.get_or_create(&wan_labels).inc();
        // Created on the first cycle even without an overrun: an alert on the counter needs the series.
        let overruns = m.cycle_overruns.get_or_create(&wan_labels);
        if report.overrun {
            overruns.inc();
        }
        m.cycle_duration
            .get_or_create(&wan_labels)
            .observe(report.duration.as_secs_f64());

        let mut inner = self.inner();
        let entry = inner.wans.entry(wan.to_string()).or_default();
        for shaper in &report.shapers {
            let labels = ShaperLabels {
                wan: wan.to_string(),
                shaper: shaper.name.clone(),
                kind: shaper.kind.clone(),
            };
            // Sinks report totals; counters take increments.
            let (writes, failures) = entry.shaper_totals.entry(shaper.name.clone()).or_default();
            m.shaper_writes
                .get_or_create(&labels)
                .inc_by(shaper.health.writes_done.saturating_sub(*writes));
            m.shaper_write_failures
                .get_or_create(&labels)
                .inc_by(shaper.write_failures.saturating_sub(*failures));
            (*writes, *failures) = (shaper.health.writes_done, shaper.write_failures);
            m.shaper_reachable
                .get_or_create(&labels)
                .set(i64::from(shaper.health.reachable));
        }
        if report.overrun {
            entry.overruns += 1;
        }
        let window_start = *entry.window_start.get_or_insert(report.at);
        entry.window_samples += report.samples;
        let elapsed = report.at.saturating_duration_since(window_start);
        if elapsed >= Duration::from_secs(1) {
            entry.samples_per_second = entry.window_samples as f64 / elapsed.as_secs_f64();
            m.rtt_sample_rate
                .get_or_create(&wan_labels)
                .set(entry.samples_per_second);
            entry.window_start = Some(report.at);
            entry.window_samples = 0;
        }
        entry.last = Some(report);
    }

    /// Records the steering state.
    pub fn record_steering(&self, report: SteeringReport) {
        let m = &self.metrics;
        let mut inner = self.inner();
        if let Some(previous) = &inner.steering {
            m.steering_state
                .get_or_create(&SteeringLabels {
                    state: previous.state.clone(),
                })
                .set(0);
            m.steering_transitions
                .inc_by(report.transitions.saturating_sub(previous.transitions));
            m.steering_suppressed_flaps.inc_by(
                report
                    .suppressed_flaps
                    .saturating_sub(previous.suppressed_flaps),
            );
        } else {
            m.steering_transitions.inc_by(report.transitions);
            m.steering_suppressed_flaps.inc_by(report.suppressed_flaps);
        }
        m.steering_in_state.set(report.in_state_seconds);
        m.steering_state
            .get_or_create(&SteeringLabels {
                state: report.state.clone(),
            })
            .set(1);
        inner.steering = Some(report);
    }

    /// The `/metrics` body.
    pub fn encode_metrics(&self) -> String {
        self.metrics.encode()
    }

    /// The `/health` document as of `now`.
    pub fn health(&self, now: Instant) -> HealthReport {
        let inner = self.inner();
        let wans: Vec<WanHealth> = inner
            .order
            .iter()
            .filter_map(|name| {
                Some(self.wan_health(name, inner.wans.get(name)?, inner.steering.as_ref(), now))
            })
            .collect();
        let healthy = !wans.is_empty() && wans.iter().all(|wan| wan.degraded_reasons.is_empty());
        HealthReport {
            status: if healthy { "healthy" } else { "degraded" }.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_seconds: now.saturating_duration_since(self.started).as_secs(),
            steering_state: inner.steering.as_ref().map(|s| s.state.clone()),
            wans,
        }
    }

    fn wan_health(
        &self,
        name: &str,
        entry: &WanEntry,
        steering: Option<&SteeringReport>,
        now: Instant,
    ) -> WanHealth {
        let mut reasons = Vec::new();
        let last = entry.last.as_ref();
        let age = last.map(|report| now.saturating_duration_since(report.at));
        match age {
            None => reasons.push("no control cycle completed yet".to_string()),
            Some(age) if age > self.stale_after => {
                reasons.push(format!("no control cycle for {} ms", age.as_millis()));
            }
            Some(_) => {}
        }
        let shapers: Vec<ShaperStatus> = last
            .map(|report| {
                report
                    .shapers
                    .iter()
                    .map(|shaper| ShaperStatus {
                        name: shaper.name.clone(),
                        kind: shaper.kind.clone(),
                        health: shaper.health.clone().into(),
                        write_failures: shaper.write_failures,
                    })
                    .collect()
            })
            .unwrap_or_default();
        for shaper in &shapers {
            // Not yet answered and no error: still connecting at start-up, not known to be broken.
            if let (false, Some(why)) = (shaper.health.reachable, &shaper.health.last_error) {
                reasons.push(format!("shaper {} unreachable: {why}", shaper.name));
            }
        }
        if let Some(report) = last {
            reasons.extend(report.degraded_reasons.iter().cloned());
        }
        if let Some(why) = entry
            .reflectors
            .as_ref()
            .and_then(super::telemetry_active::degraded_reason)
        {
            reasons.push(why);
        }
        let routers: Vec<bool> = shapers
            .iter()
            .filter(|s| s.kind == "routeros")
            .map(|s| s.health.reachable)
            .collect();
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e3);
        WanHealth {
            name: name.to_string(),
            status: if reasons.is_empty() {
                "healthy"
            } else {
                "degraded"
            }
            .to_string(),
            state: last.map(|r| r.state).unwrap_or_default(),
            rate_bps: last
                .map(|r| PerDirection {
                    download: r.rate.download.bps(),
                    upload: r.rate.upload.bps(),
                })
                .unwrap_or_default(),
            baseline_rtt_ms: ms(last.and_then(|r| r.baseline_rtt)),
            load_rtt_ms: ms(last.and_then(|r| r.load_rtt)),
            delta_rtt_ms: last.and_then(delta_seconds).map(|s| s * 1e3),
            downstream_delay_ms: ms(last.and_then(|r| r.downstream_delay)),
            samples_per_second: entry.samples_per_second,
            last_cycle_age_ms: age.map(|age| u64::try_from(age.as_millis()).unwrap_or(u64::MAX)),
            cycle_overruns: entry.overruns,
            active_probes: entry
                .reflectors
                .as_ref()
                .and_then(|health| serde_json::to_value(health).ok()),
            router_reachable: (!routers.is_empty()).then(|| routers.iter().all(|r| *r)),
            steering: steering.and_then(|s| {
                s.roles
                    .iter()
                    .find(|(wan, _)| wan == name)
                    .map(|(_, role)| role.clone())
            }),
            shapers,
            degraded_reasons: reasons,
        }
    }
}

fn delta_seconds(report: &CycleReport) -> Option<f64> {
    Some(report.load_rtt?.as_secs_f64() - report.baseline_rtt?.as_secs_f64())
}

#[cfg(test)]
#[path = "telemetry_tests.rs"]
mod tests;
