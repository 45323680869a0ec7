//! CAKE evidence: drops and marks make YELLOW immediate; a standing queue stops increases.

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
fn a_standing_backlog_stops_increases() {
    let mut sim = settled();
    for _ in 0..40 {
        sim.at(200.0, 1.0);
    }
    let low = dl(sim.ctrl.last_decision());
    sim.cake.download = Some(CakeSignals {
        backlog_bytes: 50_000,
        ..CakeSignals::default()
    });
    for _ in 0..100 {
        let d = sim.at(20.0, 1.0);
        assert_eq!(dl(&d), low, "{d:?}");
    }
    assert_eq!(
        sim.ctrl.last_decision().directions.download.reason,
        Reason::CakeBacklog
    );
    // A tin delay above target counts as a standing queue too; without either the link grows again.
    sim.cake.download = Some(CakeSignals {
        max_tin_delay: Duration::from_millis(30),
        ..CakeSignals::default()
    });
    assert_eq!(dl(&sim.at(20.0, 1.0)), low);
    sim.cake.download = Some(CakeSignals::default());
    for _ in 0..10 {
        sim.at(20.0, 1.0);
    }
    assert!(dl(sim.ctrl.last_decision()) > low);
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
