//! Persistence: a snapshot restores the same behaviour; a poisoned one changes nothing.

use super::helpers::{Sim, dl, params};
use crate::control::{Controller, ControllerState, Zone};

#[test]
fn a_restored_controller_continues_exactly_where_the_snapshot_was_taken() {
    let mut sim = Sim::new(params(""));
    for i in 0..300 {
        sim.at(20.0 + (i % 40) as f64 * 3.0, 0.9);
    }
    let json = serde_json::to_string(&sim.ctrl.snapshot()).unwrap();
    let mut copy = Sim::new(params(""));
    copy.ctrl
        .restore(&serde_json::from_str(&json).unwrap())
        .unwrap();
    copy.now = sim.now;
    // The first cycle after a restart has no previous time: align by running one cycle on both.
    for i in 0..200 {
        let a = sim.at(20.0 + (i % 30) as f64 * 4.0, 0.8);
        let b = copy.at(20.0 + (i % 30) as f64 * 4.0, 0.8);
        if i > 0 {
            assert_eq!(dl(&a), dl(&b));
            assert_eq!(a.directions, b.directions);
        }
    }
}

type Poison = Box<dyn Fn(&mut ControllerState)>;

#[test]
fn a_poisoned_state_is_rejected_whole_and_names_the_value() {
    let mut ctrl = Controller::new(params(""));
    let good = ctrl.snapshot();
    let cases: [(&str, Poison); 5] = [
        ("baseline_ms", Box::new(|s| s.baseline_ms = Some(f64::NAN))),
        ("load_ms", Box::new(|s| s.load_ms = Some(-3.0))),
        (
            "download.rate_bps",
            Box::new(|s| s.download.rate_bps = u64::MAX),
        ),
        ("upload.state", Box::new(|s| s.upload.state = Zone::SoftRed)),
        (
            "upload.drop_rate",
            Box::new(|s| s.upload.drop_rate = f64::INFINITY),
        ),
    ];
    for (field, poison) in cases {
        let mut bad = good.clone();
        bad.baseline_ms = Some(20.0);
        poison(&mut bad);
        let e = ctrl.restore(&bad).unwrap_err();
        assert_eq!(e.field, field);
        assert_eq!(
            ctrl.snapshot(),
            good,
            "nothing changed after rejecting {field}"
        );
    }
    let text = r#"{"baseline_ms":20,"load_ms":20,"download":{"rate_bps":1,"state":"PURPLE","green_streak":0,"dwell":0,"drop_rate":0},"upload":{"rate_bps":1,"state":"RED","green_streak":0,"dwell":0,"drop_rate":0}}"#;
    assert!(serde_json::from_str::<ControllerState>(text).is_err());
}
