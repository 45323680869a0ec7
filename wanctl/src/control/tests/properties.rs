//! Properties over random inputs: bounds, no increase while congested, monotonic in delay, nothing
//! non-finite in state, no panics.

use std::time::Duration;

use proptest::prelude::*;

use super::helpers::params;
use crate::{
    control::{CakeSignals, Controller, ControllerState, CycleInput, DirectionSnapshot, Zone},
    signal::{Direction, PerDirection, RttSample, SampleKind, Timestamp},
};

#[derive(Debug, Clone)]
struct Cycle {
    rtts_ns: Vec<u64>,
    util: (f64, f64),
    dt_ms: u64,
    cake: Option<(u64, u64, u64, u64)>,
}

fn cycle() -> impl Strategy<Value = Cycle> {
    let rtt = prop_oneof![8 => 5_000_000u64..400_000_000, 1 => Just(0u64), 1 => any::<u64>()];
    (
        prop::collection::vec(rtt, 0..6),
        (0.0f64..1.5, 0.0f64..1.5),
        prop_oneof![9 => 40u64..60, 1 => 0u64..5_000],
        prop::option::of((0u64..500, 0u64..500, 0u64..200_000, 0u64..100_000)),
    )
        .prop_map(|(rtts_ns, util, dt_ms, cake)| Cycle {
            rtts_ns,
            util,
            dt_ms,
            cake,
        })
}

fn run(
    ctrl: &mut Controller,
    now: &mut Timestamp,
    c: &Cycle,
    buf: &mut Vec<RttSample>,
) -> PerDirection<(u64, Zone)> {
    *now = now.add(Duration::from_millis(c.dt_ms));
    buf.clear();
    buf.extend(c.rtts_ns.iter().enumerate().map(|(i, &ns)| RttSample {
        at: *now,
        rtt: Duration::from_nanos(ns),
        kind: SampleKind::Download,
        flow: i as u64,
        peer_tsval: None,
    }));
    let last = ctrl.last_decision().directions;
    let bytes = |rate: u64, u: f64| (rate as f64 * u * c.dt_ms as f64 / 8e3) as u64;
    let cake = c
        .cake
        .map(|(drops, ecn_marks, backlog_bytes, us)| CakeSignals {
            drops,
            ecn_marks,
            backlog_bytes,
            max_tin_delay: Duration::from_micros(us),
        });
    let input = CycleInput {
        now: *now,
        samples: buf,
        achieved_bytes: PerDirection {
            download: bytes(last.download.rate.bps(), c.util.0),
            upload: bytes(last.upload.rate.bps(), c.util.1),
        },
        cake: PerDirection {
            download: cake,
            upload: cake,
        },
    };
    let d = ctrl.step(&input);
    PerDirection {
        download: (
            d.directions.download.rate.bps(),
            d.directions.download.state,
        ),
        upload: (d.directions.upload.rate.bps(), d.directions.upload.state),
    }
}

fn finite_state(ctrl: &Controller) -> bool {
    let s = ctrl.snapshot();
    let d = ctrl.last_decision();
    [s.baseline_ms, s.load_ms, d.delta_ms]
        .into_iter()
        .flatten()
        .chain([
            s.download.drop_rate,
            s.upload.drop_rate,
            d.directions.download.utilization,
        ])
        .all(f64::is_finite)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rates_stay_in_bounds_and_never_rise_while_congested(cycles in prop::collection::vec(cycle(), 1..120)) {
        let params = params("");
        let mut ctrl = Controller::new(params.clone());
        let mut now = Timestamp::from_nanos(0);
        let mut buf = Vec::new();
        let mut previous = PerDirection { download: params.download.ceiling, upload: params.upload.ceiling };
        for c in &cycles {
            let out = run(&mut ctrl, &mut now, c, &mut buf);
            for direction in Direction::ALL {
                let p = if direction == Direction::Download { &params.download } else { &params.upload };
                let (rate, zone) = *out.get(direction);
                prop_assert!(rate >= p.floor_red && rate <= p.ceiling, "{direction:?} {rate}");
                if zone.is_congested() {
                    prop_assert!(rate <= *previous.get(direction), "{direction:?} rose in {zone}");
                }
                *previous.get_mut(direction) = rate;
            }
            prop_assert!(finite_state(&ctrl));
        }
    }

    #[test]
    fn more_delay_never_yields_a_higher_rate(
        prefix in prop::collection::vec(cycle(), 0..80),
        last in cycle(),
        low_ns in 5_000_000u64..400_000_000,
        extra_ns in 0u64..400_000_000,
    ) {
        let mut ctrl = Controller::new(params(""));
        let mut now = Timestamp::from_nanos(0);
        let mut buf = Vec::new();
        for c in &prefix {
            run(&mut ctrl, &mut now, c, &mut buf);
        }
        let mut other = ctrl.clone();
        let mut other_now = now;
        let less = Cycle { rtts_ns: vec![low_ns], ..last.clone() };
        let more = Cycle { rtts_ns: vec![low_ns + extra_ns], ..last };
        let a = run(&mut ctrl, &mut now, &less, &mut buf);
        let b = run(&mut other, &mut other_now, &more, &mut buf);
        prop_assert!(b.download.0 <= a.download.0, "download {:?} vs {:?}", b, a);
        prop_assert!(b.upload.0 <= a.upload.0, "upload {:?} vs {:?}", b, a);
    }

    #[test]
    fn restore_never_lets_poison_into_the_state(
        baseline in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), any::<f64>(), 1.0f64..100.0],
        load in prop_oneof![Just(f64::NAN), Just(f64::NEG_INFINITY), any::<f64>(), 1.0f64..100.0],
        rate in prop_oneof![any::<u64>(), 40_000_000u64..100_000_000],
        up_rate in prop_oneof![any::<u64>(), 5_000_000u64..20_000_000],
        drop_rate in prop_oneof![Just(f64::NAN), any::<f64>(), 0.0f64..100.0],
        streak in any::<u32>(),
        then in prop::collection::vec(cycle(), 0..20),
    ) {
        let params = params("");
        let mut ctrl = Controller::new(params.clone());
        let before = ctrl.snapshot();
        let snap = DirectionSnapshot { rate_bps: rate, state: Zone::Red, green_streak: streak, dwell: streak, drop_rate };
        let up = DirectionSnapshot { rate_bps: up_rate, ..snap };
        let state = ControllerState { baseline_ms: Some(baseline), load_ms: Some(load), download: snap, upload: up };
        match ctrl.restore(&state) {
            Ok(()) => {
                for v in [baseline, load] {
                    prop_assert!(v.is_finite() && (0.1..=10_000.0).contains(&v), "{v}");
                }
                prop_assert!((params.download.floor_red..=params.download.ceiling).contains(&rate));
                prop_assert!((params.upload.floor_red..=params.upload.ceiling).contains(&up_rate));
                prop_assert!(drop_rate.is_finite() && drop_rate >= 0.0);
                prop_assert_eq!(ctrl.snapshot().download.green_streak, streak.min(params.download.green_required));
            }
            Err(_) => prop_assert_eq!(ctrl.snapshot(), before),
        }
        prop_assert!(finite_state(&ctrl));
        let mut now = Timestamp::from_nanos(0);
        let mut buf = Vec::new();
        for c in &then {
            run(&mut ctrl, &mut now, c, &mut buf);
            prop_assert!(finite_state(&ctrl));
        }
    }
}
