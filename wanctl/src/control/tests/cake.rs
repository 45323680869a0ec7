//! CAKE evidence: drops and marks make YELLOW immediate; neither drops nor a standing queue stop growth.

use std::time::Duration;

use super::helpers::{Sim, dl, params};
use crate::control::{CakeSignals, Reason, Zone};

fn settled() -> Sim {
    let mut sim = Sim::new(params(""));
    for _ in 0..20 {
        sim.at(20.0, 0.9);
    }
    sim
}

#[test]
fn drops_above_threshold_skip_the_dwell() {
    let mut plain = settled();
    let mut dropping = settled();
    // 2 drops per 50 ms cycle = 40/s, above the default 10/s once smoothed.
    dropping.cake.download = Some(CakeSignals {
        drops: 2,
        ..CakeSignals::default()
    });
    for _ in 0..10 {
        dropping.at(20.0, 0.9);
    }
    let a = plain.at(80.0, 1.0);
    let b = dropping.at(80.0, 1.0);
    assert_eq!(a.directions.download.reason, Reason::YellowDwell);
    assert_eq!(b.directions.download.state, Zone::Yellow);
    assert_eq!(b.directions.download.reason, Reason::CakeDrops);
    assert!(dl(&b) < dl(&a));
}

#[test]
fn a_standing_backlog_at_baseline_delay_does_not_stop_growth() {
    // CAKE holding a queue while the delay is at baseline is CAKE being the bottleneck: exactly where a
    // recovered link has to grow from (and at a few hundred kbit/s CAKE's own queue is always there).
    let mut plain = settled();
    let mut queued = settled();
    for sim in [&mut plain, &mut queued] {
        for _ in 0..40 {
            sim.at(200.0, 1.0);
        }
    }
    let low = dl(queued.ctrl.last_decision());
    queued.cake.download = Some(CakeSignals {
        backlog_bytes: 50_000,
        max_tin_delay: Duration::from_millis(30),
        ..CakeSignals::default()
    });
    for _ in 0..100 {
        plain.at(20.0, 1.0);
        queued.at(20.0, 1.0);
    }
    assert!(dl(queued.ctrl.last_decision()) > low);
    assert_eq!(
        dl(queued.ctrl.last_decision()),
        dl(plain.ctrl.last_decision())
    );
}

#[test]
fn drops_at_baseline_delay_do_not_stop_growth() {
    // CAKE dropping while the delay stays at baseline is CAKE being the bottleneck: the rate must still grow
    // (this is how capacity that came back is found), exactly as without drops.
    let mut plain = settled();
    let mut dropping = settled();
    for sim in [&mut plain, &mut dropping] {
        for _ in 0..40 {
            sim.at(200.0, 1.0);
        }
    }
    dropping.cake.download = Some(CakeSignals {
        drops: 5,
        ..CakeSignals::default()
    });
    let start = dl(plain.ctrl.last_decision());
    for _ in 0..100 {
        plain.at(20.0, 1.0);
        dropping.at(20.0, 1.0);
    }
    let grown = dl(dropping.ctrl.last_decision());
    assert!(grown > start, "{grown} did not grow from {start}");
    assert_eq!(grown, dl(plain.ctrl.last_decision()));
}

#[test]
fn the_local_upload_queue_is_not_read_as_bloat() {
    // Upload segments wait 40 ms in the local CAKE (a slow upload at full use): their RTT is 40 ms above
    // the 20 ms path. With CAKE's delay reported, the controller sees the path and stays GREEN; without it,
    // the same samples look like bloat.
    let mut aware = settled();
    let mut blind = settled();
    for sim in [&mut aware, &mut blind] {
        sim.kind = crate::signal::SampleKind::Upload;
    }
    aware.cake.upload = Some(CakeSignals {
        max_tin_delay: Duration::from_millis(40),
        ..CakeSignals::default()
    });
    for _ in 0..40 {
        aware.at(60.0, 1.0);
        blind.at(60.0, 1.0);
    }
    assert_eq!(
        aware.ctrl.last_decision().directions.upload.state,
        Zone::Green
    );
    assert_ne!(
        blind.ctrl.last_decision().directions.upload.state,
        Zone::Green
    );
    // The compensation never goes below the baseline: a reported delay larger than the sample's excess
    // leaves the baseline where it was.
    let baseline = aware.ctrl.last_decision().baseline_ms.unwrap();
    assert!((19.0..=21.0).contains(&baseline), "{baseline}");
}

#[test]
fn an_upload_segment_waits_behind_the_backlog_not_the_tins_average() {
    // A 1 Mbit/s upload with 2500 bytes queued: a bulk segment waits 20 ms, while CAKE's per-tin average
    // (which includes the sparse ACKs' near-zero waits) says 8 ms. The path is 20 ms, the ISP adds nothing.
    let mut backlog_aware = Sim::new(slow_upload_params());
    let mut average_only = Sim::new(slow_upload_params());
    for sim in [&mut backlog_aware, &mut average_only] {
        for _ in 0..20 {
            sim.at(20.0, 1.0);
        }
        sim.kind = crate::signal::SampleKind::Upload;
    }
    backlog_aware.cake.upload = Some(CakeSignals {
        max_tin_delay: Duration::from_millis(8),
        backlog_bytes: 2500,
        ..CakeSignals::default()
    });
    average_only.cake.upload = Some(CakeSignals {
        max_tin_delay: Duration::from_millis(8),
        ..CakeSignals::default()
    });
    for _ in 0..40 {
        backlog_aware.at(40.0, 1.0);
        average_only.at(40.0, 1.0);
    }
    let delta = |sim: &Sim| sim.ctrl.last_decision().delta_ms.unwrap();
    assert!(delta(&backlog_aware) < 0.5, "{}", delta(&backlog_aware));
    assert!(
        (11.5..12.5).contains(&delta(&average_only)),
        "{}",
        delta(&average_only)
    );
}

/// One WAN whose upload is 1 Mbit/s: one 1514-byte frame takes 12.1 ms there.
fn slow_upload_params() -> crate::control::ControlParams {
    let slow_upload = super::helpers::WAN.replace(
        "ceiling: 18Mbit\n  floor_red: 6Mbit\n  step_up: 1Mbit",
        "ceiling: 1Mbit\n  floor_red: 500kbit\n  step_up: 50kbit",
    );
    serde_yaml_ng::from_str::<crate::control::ControlConfig>(&slow_upload)
        .unwrap()
        .validate()
        .unwrap()
}

#[test]
fn a_download_samples_wait_behind_one_upload_frame_is_taken_out_but_no_more() {
    // A 1 Mbit/s upload: one 1514-byte frame takes 12.1 ms, and the upload CAKE's tin delay is 30 ms.
    // Download samples (their ACKs queued there) show 20 ms path + 12.1 ms ACK wait + 10 ms ISP queue.
    let mut aware = Sim::new(slow_upload_params());
    let mut blind = Sim::new(slow_upload_params());
    for sim in [&mut aware, &mut blind] {
        for _ in 0..20 {
            sim.at(20.0, 1.0);
        }
    }
    aware.cake.upload = Some(CakeSignals {
        max_tin_delay: Duration::from_millis(30),
        ..CakeSignals::default()
    });
    for _ in 0..40 {
        aware.at(20.0 + 12.1 + 10.0, 1.0);
        blind.at(20.0 + 12.1 + 10.0, 1.0);
    }
    // Only the frame's wait is removed: the ISP's 10 ms stays visible (the tin's 30 ms would hide it).
    let delta = |sim: &Sim| sim.ctrl.last_decision().delta_ms.unwrap();
    assert!((9.5..10.5).contains(&delta(&aware)), "{}", delta(&aware));
    assert!((21.5..22.5).contains(&delta(&blind)), "{}", delta(&blind));
}
