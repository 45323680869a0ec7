//! Metric families of the active ICMP probes: probe traffic, losses, reflector states and replacements.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

use super::metrics::WanLabels;

/// Labels of one reflector's state gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReflectorLabels {
    /// WAN name.
    pub wan: String,
    /// Reflector address.
    pub reflector: String,
    /// `active`, `unresponsive`, `outlier` or `spare`.
    pub state: String,
}

/// The active-probe families, registered with the daemon's registry.
#[derive(Debug, Default, Clone)]
pub struct ActiveProbeMetrics {
    /// Echo requests sent.
    pub sent: Family<WanLabels, Counter>,
    /// Echo requests without a reply before their deadline.
    pub lost: Family<WanLabels, Counter>,
    /// Reflectors replaced from the spares (offences) or demoted (slow or disagreeing).
    pub replacements: Family<WanLabels, Counter>,
    /// Demotions of slow or disagreeing reflectors.
    pub demotions: Family<WanLabels, Counter>,
    /// Reflector state (1 = current).
    pub reflector_state: Family<ReflectorLabels, Gauge>,
}

impl ActiveProbeMetrics {
    /// Registers every family in `registry` (which carries the `wanctl` prefix).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "active_probes_sent",
            "ICMP echo requests sent to reflectors",
            self.sent.clone(),
        );
        registry.register(
            "active_probes_lost",
            "ICMP echo requests without a reply in time",
            self.lost.clone(),
        );
        registry.register(
            "reflector_replacements",
            "Reflectors replaced by a spare after missed deadlines",
            self.replacements.clone(),
        );
        registry.register(
            "reflector_demotions",
            "Reflectors demoted for a slow baseline or a delta that disagrees with the others",
            self.demotions.clone(),
        );
        registry.register(
            "reflector_state",
            "Reflector state (1 = current)",
            self.reflector_state.clone(),
        );
    }
}
