//! The download's own queue from the peers' timestamps: each direction answers its own queue.

use super::helpers::{Sim, both, dl, params, ul};
use crate::{
    control::{Decision, DirectionDecision, Zone},
    signal::PerDirection,
};

const BASE_MS: f64 = 40.0;
const FLOWS: usize = 3;

/// Three flows on a used link, peers with 1 kHz clocks, 4 s without any queue (the clocks' rates are
/// measured in the first 2 s).
fn settled(extra: &str) -> Sim {
    let mut sim = Sim::new(params(extra));
    sim.downstream_ms = Some(0.0);
    for _ in 0..80 {
        sim.cycle(&[BASE_MS; FLOWS], both(0.95));
    }
    sim
}

/// `cycles` cycles with `up_ms` of queue on the way out and `down_ms` on the way in.
fn queue(sim: &mut Sim, up_ms: f64, down_ms: f64, cycles: usize) -> Decision {
    if sim.downstream_ms.is_some() {
        sim.downstream_ms = Some(down_ms);
    }
    let mut last = None;
    for _ in 0..cycles {
        last = Some(sim.cycle(&[BASE_MS + up_ms + down_ms; FLOWS], both(0.95)));
    }
    last.unwrap()
}

/// The rates of a [`settled`] link with `extra` config, and the decision after [`queue`].
fn rates_then_queue(
    extra: &str,
    (up_ms, down_ms): (f64, f64),
    cycles: usize,
) -> (PerDirection<DirectionDecision>, Decision) {
    let mut sim = settled(extra);
    let before = sim.ctrl.last_decision().directions;
    (before, queue(&mut sim, up_ms, down_ms, cycles))
}

#[test]
fn an_upload_queue_cuts_only_the_upload() {
    let (before, d) = rates_then_queue("", (60.0, 0.0), 20);
    assert!(ul(&d) < before.upload.rate.bps(), "{d:?}");
    assert_eq!(dl(&d), before.download.rate.bps());
    assert_eq!(d.directions.download.state, Zone::Green);
    assert!(d.downstream_ms.is_some_and(|ms| ms.abs() < 1.5), "{d:?}");
}

#[test]
fn a_download_queue_cuts_only_the_download() {
    // Between target (15 ms) and warn (45 ms): YELLOW for the download alone.
    let (before, d) = rates_then_queue("", (0.0, 30.0), 20);
    assert!(dl(&d) < before.download.rate.bps(), "{d:?}");
    assert_eq!(ul(&d), before.upload.rate.bps());
    assert_eq!(d.directions.upload.state, Zone::Green);
    assert!(d.downstream_ms.is_some_and(|ms| ms > 25.0), "{d:?}");
}

#[test]
fn a_download_queue_past_warn_cuts_the_upload_too() {
    // A capacity drop: the upload's own queue would show in the RTT only that late, so it is cut at once.
    let (before, d) = rates_then_queue("", (0.0, 60.0), 3);
    assert!(dl(&d) < before.download.rate.bps(), "{d:?}");
    assert!(ul(&d) < before.upload.rate.bps(), "{d:?}");
}

#[test]
fn without_one_way_delay_both_directions_answer_any_queue() {
    let (before, d) = rates_then_queue("one_way_delay: false\n", (60.0, 0.0), 20);
    assert!(ul(&d) < before.upload.rate.bps());
    assert!(dl(&d) < before.download.rate.bps());
    assert_eq!(d.downstream_ms, None);
}

#[test]
fn when_the_peer_timestamps_stop_both_directions_answer_again() {
    let mut sim = settled("");
    let before = sim.ctrl.last_decision().directions;
    // Only the RTT is known now (say, active probes): after a second the split is no longer trusted.
    sim.downstream_ms = None;
    let d = queue(&mut sim, 60.0, 0.0, 40);
    assert_eq!(d.downstream_ms, None);
    assert!(ul(&d) < before.upload.rate.bps());
    assert!(dl(&d) < before.download.rate.bps());
}
