//! A WAN's sample source as configured: the passive eBPF probe, active ICMP probes, or both with the
//! WAN's `rtt_source` policy choosing each cycle which of them the control core sees.

use std::time::Duration;

use super::{Collected, EbpfSource, SampleSource};
use crate::{
    probe::active::ActiveProber,
    signal::{
        RttSample, Timestamp,
        source_policy::{Source, SourcePolicy, SourceSelector},
    },
};

/// How long passive samples must be missing before `passive_with_fallback` uses the active ones: longer
/// than the pauses between bursts of real traffic, short enough to track an idle line.
pub const FALLBACK_AFTER: Duration = Duration::from_secs(3);

/// The sources of one WAN, combined by its policy.
pub struct WanSource {
    passive: Option<EbpfSource>,
    active: Option<ActiveProber>,
    selector: SourceSelector,
    passive_batch: Vec<RttSample>,
    active_batch: Vec<RttSample>,
    last_source: Source,
}

impl WanSource {
    /// Combines the sources the daemon started for `policy` (either may be absent when the policy does not
    /// use it).
    pub fn new(
        policy: SourcePolicy,
        passive: Option<EbpfSource>,
        active: Option<ActiveProber>,
    ) -> Self {
        Self {
            passive,
            active,
            selector: SourceSelector::new(policy, FALLBACK_AFTER),
            passive_batch: Vec::with_capacity(1024),
            active_batch: Vec::with_capacity(64),
            last_source: Source::None,
        }
    }

    /// The eBPF programs, if this WAN runs them.
    pub fn passive_mut(&mut self) -> Option<&mut EbpfSource> {
        self.passive.as_mut()
    }

    /// Stops the active prober, if any; the eBPF programs detach when the source is dropped.
    pub async fn shutdown(self) {
        if let Some(active) = self.active {
            active.shutdown().await;
        }
    }
}

impl SampleSource for WanSource {
    fn collect(&mut self, now: Timestamp, samples: &mut Vec<RttSample>) -> Collected {
        let collected = match &mut self.passive {
            Some(passive) => passive.collect(now, &mut self.passive_batch),
            None => {
                self.passive_batch.clear();
                Collected::default()
            }
        };
        self.active_batch.clear();
        if let Some(active) = &mut self.active {
            self.active_batch.extend(active.drain());
        }
        let selection = self
            .selector
            .select(now, &self.passive_batch, &self.active_batch);
        samples.clear();
        samples.extend_from_slice(selection.samples);
        let source = selection.source;
        // Log only the switches between passive and active, not each quiet cycle in between.
        if source != Source::None && source != self.last_source {
            tracing::info!(?source, "RTT source in use");
            self.last_source = source;
        }
        collected
    }
}
