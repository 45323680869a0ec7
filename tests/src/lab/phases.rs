//! The load window cut at every capacity change. A whole-run p99 over a few hundred probes is set by its
//! worst handful, and goodput by the stretches where the shaper sat far from the capacity, so each
//! stretch's own numbers show where both went: the full capacity, the low one, the return.

use serde::Serialize;

use super::{
    data::{ProbeKind, RunData},
    scenario::{Dir, Scenario},
    stats::{self, CONTROLLED_MS},
};

/// One stretch of constant capacity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub from_s: f64,
    pub to_s: f64,
    pub download_capacity_mbit: f64,
    pub upload_capacity_mbit: f64,
    /// TCP probes sent in the stretch, outside the recovery allowances after drops.
    pub probes: usize,
    /// Of those, how many added more than `controlled_below_ms` (or got no answer).
    pub probes_above_controlled: usize,
    /// Their p99, ms.
    pub p99_settled_ms: Option<f64>,
    pub download_share: f64,
    pub upload_share: f64,
}

/// The stretches of `scenario`'s load window between changes of either direction's capacity, with the
/// probes within the `allowances` after drops left out of the latency numbers (not of goodput).
pub fn phases(scenario: &Scenario, run: &RunData, allowances: &[(f64, f64)]) -> Vec<Phase> {
    let (from, to) = scenario.load_window();
    let (from, to) = (from.as_secs_f64(), to.as_secs_f64());
    let mut bounds: Vec<f64> = Dir::BOTH
        .iter()
        .flat_map(|&dir| scenario.steps(dir).windows(2))
        .filter(|w| w[1].rate != w[0].rate)
        .map(|w| w[1].at.get().as_secs_f64())
        .filter(|&at| at > from && at < to)
        .chain([from, to])
        .collect();
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    bounds
        .windows(2)
        .map(|w| {
            let (start, end) = (w[0], w[1]);
            let latency = stats::added_latency_outside(run, ProbeKind::Tcp, start, end, allowances);
            Phase {
                from_s: start,
                to_s: end,
                download_capacity_mbit: scenario.capacity_at(Dir::Download, start).mbit(),
                upload_capacity_mbit: scenario.capacity_at(Dir::Upload, start).mbit(),
                probes: latency.samples,
                probes_above_controlled: stats::probes_above(
                    run,
                    ProbeKind::Tcp,
                    start,
                    end,
                    allowances,
                    CONTROLLED_MS,
                ),
                p99_settled_ms: latency.p99_ms,
                download_share: stats::goodput_share(scenario, run, Dir::Download, start, end),
                upload_share: stats::goodput_share(scenario, run, Dir::Upload, start, end),
            }
        })
        .collect()
}

/// One line per stretch for the terminal summary.
pub fn summary_lines(phases: &[Phase]) -> Vec<String> {
    phases
        .iter()
        .map(|p| {
            format!(
                "{:.0}-{:.0} s at {:.1} / {:.1} Mbit: {} of {} probes above {CONTROLLED_MS:.0} ms, p99 {}, goodput {:.0}% / {:.0}%",
                p.from_s,
                p.to_s,
                p.download_capacity_mbit,
                p.upload_capacity_mbit,
                p.probes_above_controlled,
                p.probes,
                p.p99_settled_ms
                    .map_or("-".into(), |v| format!("{v:.1} ms")),
                p.download_share * 100.0,
                p.upload_share * 100.0,
            )
        })
        .collect()
}
