//! Active-probe health in telemetry: the reflector snapshot in `/health`, counters in `/metrics`, and a
//! degraded reason when no reflector answers.

use super::{Telemetry, metrics::WanLabels, metrics_active::ReflectorLabels};
use crate::probe::active::{ReflectorHealth, ReflectorState};

const STATES: [ReflectorState; 4] = [
    ReflectorState::Active,
    ReflectorState::Unresponsive,
    ReflectorState::Outlier,
    ReflectorState::Spare,
];

fn state_name(state: ReflectorState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Telemetry {
    /// Records a WAN's active-probe health (the prober's snapshot; totals since start).
    pub fn record_reflectors(&self, wan: &str, health: ReflectorHealth) {
        let active = &self.metrics.active;
        let labels = WanLabels {
            wan: wan.to_string(),
        };
        let mut inner = self.inner();
        let entry = inner.wans.entry(wan.to_string()).or_default();
        let previous = entry.reflectors.take().unwrap_or_default();
        active
            .sent
            .get_or_create(&labels)
            .inc_by(health.probes_sent.saturating_sub(previous.probes_sent));
        active
            .lost
            .get_or_create(&labels)
            .inc_by(health.lost.saturating_sub(previous.lost));
        active
            .replacements
            .get_or_create(&labels)
            .inc_by(health.replacements.saturating_sub(previous.replacements));
        active
            .demotions
            .get_or_create(&labels)
            .inc_by(health.demotions.saturating_sub(previous.demotions));
        for reflector in &health.reflectors {
            for state in STATES {
                let labels = ReflectorLabels {
                    wan: wan.to_string(),
                    reflector: reflector.address.to_string(),
                    state: state_name(state),
                };
                active
                    .reflector_state
                    .get_or_create(&labels)
                    .set(i64::from(state == reflector.state));
            }
        }
        entry.reflectors = Some(health);
    }
}

/// Why active probing degrades the WAN, if it does: probes go out but no reflector answers.
pub(super) fn degraded_reason(health: &ReflectorHealth) -> Option<String> {
    let probed = health
        .reflectors
        .iter()
        .filter(|r| r.state != ReflectorState::Spare)
        .count();
    let answering = health
        .reflectors
        .iter()
        .filter(|r| r.state == ReflectorState::Active)
        .count();
    (probed > 0 && answering == 0).then(|| {
        format!(
            "active probes: none of {probed} probed reflectors answers in time (probe loss {:.0}%)",
            health.loss_ratio() * 100.0
        )
    })
}
