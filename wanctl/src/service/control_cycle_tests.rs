//! The cycle body with a scripted sample source and recording sinks: decisions reach every sink, only changes
//! are written, failures are retried and reported, dry runs write nothing, CAKE deltas start from a reference.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use super::*;
use crate::{
    control::ControlConfig,
    shaper::{Shaper, ShaperHealth, ShaperStats},
    signal::SampleKind,
};

/// Samples of `rtt_ms` from 4 flows each cycle, with the link busy in both directions.
struct Scripted {
    rtt_ms: Arc<Mutex<f64>>,
}

impl SampleSource for Scripted {
    fn collect(&mut self, now: Timestamp, samples: &mut Vec<RttSample>) -> Collected {
        let rtt = Duration::from_secs_f64(*self.rtt_ms.lock().unwrap() / 1e3);
        samples.clear();
        samples.extend((0..4).map(|flow| RttSample {
            at: now,
            rtt,
            kind: SampleKind::Upload,
            flow,
            peer_tsval: None,
        }));
        // 95 Mbit/s and 18 Mbit/s for a 50 ms cycle: the link is in use, so growth is allowed.
        Collected {
            achieved_bytes: PerDirection {
                download: 593_750,
                upload: 112_500,
            },
            ..Collected::default()
        }
    }
}

#[derive(Default)]
struct Log {
    writes: Vec<(Direction, Bandwidth)>,
    fail: bool,
    stats: ShaperStats,
}

struct Recording {
    name: String,
    log: Arc<Mutex<Log>>,
}

#[derive(Debug, thiserror::Error)]
#[error("refused")]
struct Refused;

impl Shaper for Recording {
    type Error = Refused;

    fn name(&self) -> &str {
        &self.name
    }

    async fn apply(&mut self, direction: Direction, rate: Bandwidth) -> Result<(), Refused> {
        let mut log = self.log.lock().unwrap();
        if log.fail {
            return Err(Refused);
        }
        log.writes.push((direction, rate));
        Ok(())
    }

    async fn stats(&mut self) -> Result<ShaperStats, Refused> {
        Ok(self.log.lock().unwrap().stats)
    }

    fn health(&self) -> ShaperHealth {
        ShaperHealth::default()
    }
}

fn controller() -> Controller {
    let config: ControlConfig = serde_yaml_ng::from_str(
        "{download: {ceiling: 95Mbit, floor_red: 20Mbit, step_up: 1Mbit}, \
          upload: {ceiling: 18Mbit, floor_red: 4Mbit, step_up: 500kbit}}",
    )
    .unwrap();
    Controller::new(config.validate().unwrap())
}

/// A clock that advances one 50 ms cycle per reading.
fn cycle_clock() -> impl FnMut() -> Timestamp + Send {
    let mut now = Timestamp::from_nanos(1_000_000_000);
    move || {
        now = now.add(Duration::from_millis(50));
        now
    }
}

fn body(source: Scripted, sinks: Vec<Box<dyn Sink>>, dry_run: bool) -> ControlCycle<Scripted> {
    ControlCycle::new(controller(), source, sinks, dry_run).with_clock(cycle_clock())
}

fn sink(name: &str) -> (Box<dyn Sink>, Arc<Mutex<Log>>) {
    let log = Arc::new(Mutex::new(Log::default()));
    (
        Box::new(Recording {
            name: name.into(),
            log: Arc::clone(&log),
        }),
        log,
    )
}

async fn cycles(body: &mut ControlCycle<Scripted>, n: usize) -> CycleReport {
    let mut last = None;
    for _ in 0..n {
        last = Some(body.run_cycle(Instant::now()).await);
    }
    last.unwrap()
}

#[tokio::test]
async fn bloat_cuts_the_rate_on_every_sink_and_unchanged_rates_are_not_rewritten() {
    let rtt = Arc::new(Mutex::new(20.0));
    let (cake, cake_log) = sink("cake:wan0");
    let (router, router_log) = sink("routeros:192.0.2.1");
    let mut body = body(
        Scripted {
            rtt_ms: Arc::clone(&rtt),
        },
        vec![cake, router],
        false,
    );

    let calm = cycles(&mut body, 40).await;
    assert_eq!(calm.state.download, LinkState::Green, "{calm:?}");
    assert_eq!(calm.rate.download, Bandwidth::from_mbit(95));
    // The first cycle writes both directions once; holding at the ceiling writes nothing more.
    assert_eq!(cake_log.lock().unwrap().writes.len(), 2);

    *rtt.lock().unwrap() = 150.0;
    let bloated = cycles(&mut body, 3).await;
    assert_eq!(bloated.state.download, LinkState::Red, "{bloated:?}");
    assert!(
        bloated.rate.download < Bandwidth::from_mbit(95),
        "{bloated:?}"
    );
    for log in [&cake_log, &router_log] {
        let log = log.lock().unwrap();
        let last_download = log
            .writes
            .iter()
            .rev()
            .find(|(d, _)| *d == Direction::Download)
            .unwrap();
        assert_eq!(
            last_download.1, bloated.rate.download,
            "every sink gets the newest decision"
        );
    }
    assert_eq!(bloated.shapers.len(), 2);
    assert_eq!(bloated.shapers[0].kind, "cake");
    assert_eq!(bloated.shapers[1].kind, "routeros");
}

#[tokio::test]
async fn a_failed_write_is_counted_reported_and_retried() {
    let (cake, log) = sink("cake:wan0");
    let mut body = body(
        Scripted {
            rtt_ms: Arc::new(Mutex::new(20.0)),
        },
        vec![cake],
        false,
    );
    log.lock().unwrap().fail = true;
    let report = cycles(&mut body, 1).await;
    assert_eq!(
        report.shapers[0].write_failures, 2,
        "both directions failed"
    );
    assert!(
        report
            .degraded_reasons
            .iter()
            .any(|r| r.contains("cake:wan0") && r.contains("download")),
        "{report:?}"
    );

    log.lock().unwrap().fail = false;
    let report = cycles(&mut body, 1).await;
    assert!(report.degraded_reasons.is_empty(), "{report:?}");
    assert_eq!(
        log.lock().unwrap().writes.len(),
        2,
        "the unchanged rate is written once the sink works again"
    );
}

#[tokio::test]
async fn dry_run_decides_but_writes_nothing() {
    let rtt = Arc::new(Mutex::new(20.0));
    let (cake, log) = sink("cake:wan0");
    let mut body = body(
        Scripted {
            rtt_ms: Arc::clone(&rtt),
        },
        vec![cake],
        true,
    );
    cycles(&mut body, 10).await;
    *rtt.lock().unwrap() = 150.0;
    let report = cycles(&mut body, 3).await;
    assert!(report.rate.download < Bandwidth::from_mbit(95));
    assert!(log.lock().unwrap().writes.is_empty());
}

#[tokio::test]
async fn cake_deltas_start_from_the_first_reading() {
    let (cake, log) = sink("cake:wan0");
    let mut body = body(
        Scripted {
            rtt_ms: Arc::new(Mutex::new(20.0)),
        },
        vec![cake],
        true,
    );
    let reading = |dropped| DirectionStats {
        dropped_packets: dropped,
        backlog_bytes: 3000,
        ..DirectionStats::default()
    };
    log.lock().unwrap().stats = PerDirection {
        download: Some(reading(1_000_000)),
        upload: None,
    };
    let mut degraded = Vec::new();
    let first = body.cake_signals(&mut degraded).await;
    assert_eq!(
        first.download, None,
        "a counter that existed before start is not a delta"
    );
    log.lock().unwrap().stats.download = Some(reading(1_000_007));
    let second = body.cake_signals(&mut degraded).await;
    assert_eq!(
        second.download.map(|s| (s.drops, s.backlog_bytes)),
        Some((7, 3000))
    );
    assert_eq!(second.upload, None);
    assert!(degraded.is_empty());
}
