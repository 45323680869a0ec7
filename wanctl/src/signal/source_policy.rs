//! Which RTT source the control core sees each cycle: passive samples from real traffic, active probe
//! samples, or passive with active as the fallback when real traffic is absent.
//!
//! Pure: the caller passes the cycle's samples and the time.

use std::time::Duration;

use super::{RttSample, Timestamp};

/// Per-WAN choice of RTT source (`rtt_source` in the WAN's config).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SourcePolicy {
    /// Only samples measured from real traffic (the default).
    #[default]
    Passive,
    /// Only active probes (a WAN this machine does not carry).
    Active,
    /// Passive samples while real traffic provides them; active ones once it has not for a while.
    PassiveWithFallback,
}

/// The source a cycle's samples came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Passive,
    Active,
    /// Nothing usable this cycle: the core holds its state.
    None,
}

/// The samples the core sees this cycle, and where they came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Selection<'a> {
    pub source: Source,
    pub samples: &'a [RttSample],
}

/// Applies a [`SourcePolicy`] cycle by cycle. With fallback, active samples are used only after passive
/// ones have been absent for `fallback_after`, so a quiet cycle or two between bursts of traffic does not
/// switch sources (passive and active RTTs measure different paths and have different baselines).
#[derive(Debug, Clone)]
pub struct SourceSelector {
    policy: SourcePolicy,
    fallback_after: Duration,
    last_passive: Option<Timestamp>,
}

impl SourceSelector {
    /// A selector for `policy`; `fallback_after` matters only for [`SourcePolicy::PassiveWithFallback`].
    pub fn new(policy: SourcePolicy, fallback_after: Duration) -> Self {
        Self {
            policy,
            fallback_after,
            last_passive: None,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> SourcePolicy {
        self.policy
    }

    /// Chooses this cycle's samples. `passive` and `active` are the cycle's samples of each kind.
    pub fn select<'a>(
        &mut self,
        now: Timestamp,
        passive: &'a [RttSample],
        active: &'a [RttSample],
    ) -> Selection<'a> {
        let passive_ok = passive.iter().any(|s| s.kind.is_passive());
        let active_ok = active.iter().any(|s| !s.kind.is_passive());
        if passive_ok {
            self.last_passive = Some(now);
        }
        let pick = |source, samples: &'a [RttSample]| match source {
            Source::None => Selection {
                source,
                samples: &[],
            },
            _ => Selection { source, samples },
        };
        match self.policy {
            SourcePolicy::Passive if passive_ok => pick(Source::Passive, passive),
            SourcePolicy::Active if active_ok => pick(Source::Active, active),
            SourcePolicy::PassiveWithFallback if passive_ok => pick(Source::Passive, passive),
            SourcePolicy::PassiveWithFallback if active_ok && self.passive_absent(now) => {
                pick(Source::Active, active)
            }
            _ => pick(Source::None, &[]),
        }
    }

    fn passive_absent(&self, now: Timestamp) -> bool {
        self.last_passive
            .is_none_or(|t| now.saturating_since(t) >= self.fallback_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::SampleKind;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    fn sample(kind: SampleKind, ms: u64) -> RttSample {
        RttSample {
            at: at(ms),
            rtt: Duration::from_millis(20),
            kind,
            flow: 1,
            peer_tsval: None,
        }
    }

    const FALLBACK: Duration = Duration::from_secs(2);

    #[test]
    fn passive_policy_never_uses_probes() {
        let mut sel = SourceSelector::new(SourcePolicy::Passive, FALLBACK);
        let active = [sample(SampleKind::Active, 0)];
        let passive = [sample(SampleKind::Download, 0)];
        assert_eq!(sel.select(at(0), &[], &active).source, Source::None);
        assert_eq!(sel.select(at(10_000), &[], &active).source, Source::None);
        let chosen = sel.select(at(10_050), &passive, &active);
        assert_eq!(
            (chosen.source, chosen.samples),
            (Source::Passive, &passive[..])
        );
    }

    #[test]
    fn active_policy_ignores_passive_samples() {
        let mut sel = SourceSelector::new(SourcePolicy::Active, FALLBACK);
        let passive = [sample(SampleKind::Upload, 0)];
        let active = [sample(SampleKind::Active, 0)];
        assert_eq!(sel.select(at(0), &passive, &[]).source, Source::None);
        let chosen = sel.select(at(50), &passive, &active);
        assert_eq!(
            (chosen.source, chosen.samples),
            (Source::Active, &active[..])
        );
    }

    #[test]
    fn fallback_waits_for_passive_to_be_absent_then_returns_to_passive_at_once() {
        let mut sel = SourceSelector::new(SourcePolicy::PassiveWithFallback, FALLBACK);
        let passive = [sample(SampleKind::Handshake, 0)];
        let active = [sample(SampleKind::Active, 0)];
        // At start nothing passive has ever been seen: probes are used straight away.
        assert_eq!(sel.select(at(0), &[], &active).source, Source::Active);
        assert_eq!(
            sel.select(at(50), &passive, &active).source,
            Source::Passive
        );
        // A quiet second: the core holds rather than switching paths.
        assert_eq!(sel.select(at(1_050), &[], &active).source, Source::None);
        // Two seconds without real traffic: the idle link is tracked by probes.
        let chosen = sel.select(at(2_050), &[], &active);
        assert_eq!(
            (chosen.source, chosen.samples),
            (Source::Active, &active[..])
        );
        assert_eq!(
            sel.select(at(2_100), &passive, &active).source,
            Source::Passive
        );
    }

    #[test]
    fn samples_of_the_wrong_kind_do_not_count_as_present() {
        let mut sel = SourceSelector::new(SourcePolicy::PassiveWithFallback, Duration::ZERO);
        let mislabelled = [sample(SampleKind::Active, 0)];
        assert_eq!(sel.select(at(0), &mislabelled, &[]).source, Source::None);
    }

    #[test]
    fn policy_reads_from_yaml_in_snake_case() {
        let p: SourcePolicy = serde_yaml_ng::from_str("passive_with_fallback").unwrap();
        assert_eq!(p, SourcePolicy::PassiveWithFallback);
        assert!(serde_yaml_ng::from_str::<SourcePolicy>("fallback").is_err());
        assert_eq!(SourcePolicy::default(), SourcePolicy::Passive);
    }
}
