//! Combining one cycle's active samples: the median across reflectors, so one reflector's outlier cannot
//! move the result on its own when three or more answered.

use std::{collections::HashMap, net::IpAddr, time::Duration};

use crate::signal::{RttSample, SampleKind};

/// The `flow` tag of a reflector's samples: FNV-1a of its address, stable across runs.
pub fn reflector_flow(addr: IpAddr) -> u64 {
    let bytes: Vec<u8> = match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The `flow` tag of a median sample.
pub const MEDIAN_FLOW: u64 = 0;

/// Median across reflectors of each reflector's latest active sample; `at` is the newest sample's time.
/// Passive samples are ignored. `None` when there is no active sample.
pub fn median_across_reflectors(samples: &[RttSample]) -> Option<RttSample> {
    let mut latest: HashMap<u64, &RttSample> = HashMap::new();
    for s in samples.iter().filter(|s| s.kind == SampleKind::Active) {
        latest
            .entry(s.flow)
            .and_modify(|kept| {
                if s.at >= kept.at {
                    *kept = s;
                }
            })
            .or_insert(s);
    }
    let at = latest.values().map(|s| s.at).max()?;
    let mut rtts: Vec<Duration> = latest.values().map(|s| s.rtt).collect();
    rtts.sort();
    let n = rtts.len();
    let rtt = if n % 2 == 1 {
        rtts[n / 2]
    } else {
        (rtts[n / 2 - 1] + rtts[n / 2]) / 2
    };
    Some(RttSample {
        at,
        rtt,
        kind: SampleKind::Active,
        flow: MEDIAN_FLOW,
        peer_tsval: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Timestamp;

    fn sample(flow: u64, at_ms: u64, rtt_ms: u64, kind: SampleKind) -> RttSample {
        RttSample {
            at: Timestamp::from_nanos(at_ms * 1_000_000),
            rtt: Duration::from_millis(rtt_ms),
            kind,
            flow,
            peer_tsval: None,
        }
    }

    #[test]
    fn one_outlier_among_three_reflectors_does_not_move_the_median() {
        let a = SampleKind::Active;
        let samples = [
            sample(1, 10, 20, a),
            sample(2, 20, 22, a),
            sample(3, 30, 900, a),
        ];
        let median = median_across_reflectors(&samples).unwrap();
        assert_eq!(median.rtt, Duration::from_millis(22));
        assert_eq!(median.at, Timestamp::from_nanos(30_000_000));
        assert_eq!(median.kind, SampleKind::Active);
    }

    #[test]
    fn each_reflector_counts_once_with_its_latest_sample() {
        let a = SampleKind::Active;
        // Reflector 1 answered three times; only its latest (40 ms) counts, next to reflector 2's 20 ms.
        let samples = [
            sample(1, 10, 5, a),
            sample(1, 30, 40, a),
            sample(1, 20, 6, a),
            sample(2, 15, 20, a),
        ];
        assert_eq!(
            median_across_reflectors(&samples).unwrap().rtt,
            Duration::from_millis(30)
        );
    }

    #[test]
    fn passive_samples_and_empty_cycles_give_nothing() {
        assert_eq!(median_across_reflectors(&[]), None);
        assert_eq!(
            median_across_reflectors(&[sample(1, 1, 5, SampleKind::Upload)]),
            None
        );
    }

    #[test]
    fn flows_differ_per_reflector_and_family() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_ne!(reflector_flow(v4), reflector_flow(other));
        assert_ne!(reflector_flow(v4), reflector_flow(v6));
        assert_eq!(
            reflector_flow(v4),
            reflector_flow("192.0.2.1".parse().unwrap())
        );
    }
}
