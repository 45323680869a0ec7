//! The numbers a lab run is judged by: added-latency percentiles, goodput as a share of the capacity the
//! link offered, and how long latency took to come back under control after each capacity drop.

use serde::Serialize;

use super::{
    data::{ProbeKind, RunData},
    scenario::{Dir, Scenario},
};

/// Added latency below this counts as "under control".
pub const CONTROLLED_MS: f64 = 15.0;
/// ... when it stays there this long.
pub const CONTROLLED_HOLD_S: f64 = 1.0;
/// After a capacity drop latency may take this long to come back under control (the target); the
/// "settled" percentiles leave these windows out, the plain ones keep them.
pub const RECOVERY_ALLOWANCE_S: f64 = 2.0;

/// The `p`-th percentile (0..=100) by nearest rank; `None` for no values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Percentiles of added latency of one probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    pub samples: usize,
    /// Probes that got no answer (UDP); they count as the largest delay in the percentiles.
    pub lost: usize,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

/// Added latency (RTT minus the idle base RTT) of `kind`'s probes sent within `[from, to)` seconds.
pub fn added_latency(run: &RunData, kind: ProbeKind, from: f64, to: f64) -> Latency {
    added_latency_outside(run, kind, from, to, &[])
}

/// [`added_latency`] without the probes sent within any of the `excluded` `[start, end)` windows.
pub fn added_latency_outside(
    run: &RunData,
    kind: ProbeKind,
    from: f64,
    to: f64,
    excluded: &[(f64, f64)],
) -> Latency {
    let (mut values, lost) = added_values(run, kind, from, to, excluded);
    values.sort_by(f64::total_cmp);
    let max = values.last().copied();
    // A lost probe is worse than any answered one.
    values.extend(std::iter::repeat_n(f64::INFINITY, lost));
    let finite = |v: Option<f64>| v.map(|v| if v.is_finite() { v } else { f64::NAN });
    Latency {
        samples: values.len(),
        lost,
        p50_ms: finite(percentile(&values, 50.0)),
        p95_ms: finite(percentile(&values, 95.0)),
        p99_ms: finite(percentile(&values, 99.0)),
        max_ms: max,
    }
}

/// How many of `kind`'s probes sent within `[from, to)`, outside the `excluded` windows, added more than
/// `limit_ms` (a lost probe counts). A p99 over n probes stays within the limit only while at most n / 100
/// of them exceed it.
pub fn probes_above(
    run: &RunData,
    kind: ProbeKind,
    from: f64,
    to: f64,
    excluded: &[(f64, f64)],
    limit_ms: f64,
) -> usize {
    let (values, lost) = added_values(run, kind, from, to, excluded);
    values.iter().filter(|&&v| v > limit_ms).count() + lost
}

/// The answered probes' added latency (unsorted) and the number of lost probes in a window.
fn added_values(
    run: &RunData,
    kind: ProbeKind,
    from: f64,
    to: f64,
    excluded: &[(f64, f64)],
) -> (Vec<f64>, usize) {
    let base = base_rtt(run, kind);
    let window = run.probes.iter().filter(|p| {
        p.kind == kind
            && p.t >= from
            && p.t < to
            && !excluded.iter().any(|&(a, b)| p.t >= a && p.t < b)
    });
    let mut values = Vec::new();
    let mut lost = 0;
    for p in window {
        match p.rtt_ms {
            Some(rtt) => values.push(rtt - base),
            None => lost += 1,
        }
    }
    (values, lost)
}

/// The idle base RTT of `kind`.
pub fn base_rtt(run: &RunData, kind: ProbeKind) -> f64 {
    match kind {
        ProbeKind::Tcp => run.base_rtt_tcp_ms,
        ProbeKind::Udp => run.base_rtt_udp_ms,
    }
}

/// Bits the link could carry in `dir` within `[from, to)` seconds: the capacity integrated over time.
pub fn capacity_bits(scenario: &Scenario, dir: Dir, from: f64, to: f64) -> f64 {
    let steps = scenario.steps(dir);
    let mut total = 0.0;
    for (i, step) in steps.iter().enumerate() {
        let start = step.at.get().as_secs_f64().max(from);
        let end = steps
            .get(i + 1)
            .map_or(f64::INFINITY, |next| next.at.get().as_secs_f64())
            .min(to);
        if end > start {
            total += step.rate.bps() as f64 * (end - start);
        }
    }
    total
}

/// Payload bits received in `dir` within `[from, to)`, from bins of `bin_s` seconds (partial bins pro rata).
pub fn received_bits(bins: &[u64], bin_s: f64, from: f64, to: f64) -> f64 {
    bins.iter()
        .enumerate()
        .map(|(i, &bytes)| {
            let (start, end) = (i as f64 * bin_s, (i + 1) as f64 * bin_s);
            let overlap = (end.min(to) - start.max(from)).max(0.0);
            bytes as f64 * 8.0 * overlap / bin_s
        })
        // Not `sum()`: an empty sum of floats is -0.0, which the report would print as "-0%".
        .fold(0.0, |total, bits| total + bits)
}

/// Goodput of `dir` as a share of the capacity offered within `[from, to)`.
pub fn goodput_share(scenario: &Scenario, run: &RunData, dir: Dir, from: f64, to: f64) -> f64 {
    let bins = match dir {
        Dir::Download => &run.download_bytes,
        Dir::Upload => &run.upload_bytes,
    };
    let capacity = capacity_bits(scenario, dir, from, to);
    if capacity <= 0.0 {
        return 0.0;
    }
    received_bits(bins, run.bin_s, from, to) / capacity
}

/// Seconds from `drop_at` until the probe's added latency first stays below `limit_ms` for `hold_s`
/// (every answered sample in the hold window below the limit, no lost probe, and the window observed up
/// to its end). `None` if that never happens before `until`.
pub fn recovery_time(
    run: &RunData,
    kind: ProbeKind,
    drop_at: f64,
    until: f64,
    limit_ms: f64,
    hold_s: f64,
) -> Option<f64> {
    let base = base_rtt(run, kind);
    let samples: Vec<(f64, Option<f64>)> = run
        .probes
        .iter()
        .filter(|p| p.kind == kind && p.t >= drop_at && p.t < until)
        .map(|p| (p.t, p.rtt_ms.map(|r| r - base)))
        .collect();
    let good = |v: &Option<f64>| v.is_some_and(|v| v < limit_ms);
    for (i, (start, value)) in samples.iter().enumerate() {
        if !good(value) {
            continue;
        }
        let window = samples[i..].iter().take_while(|(t, _)| *t < start + hold_s);
        let observed = samples[i..].iter().any(|(t, _)| *t >= start + hold_s);
        if observed && window.clone().all(|(_, v)| good(v)) {
            return Some(start - drop_at);
        }
    }
    None
}
