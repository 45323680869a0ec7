//! Comparing a live CAKE with the configuration: what `wanctl check-cake` reports.

use serde::Serialize;

use super::options::CakeOptions;

fn s<T: ToString>(v: Option<T>) -> Option<String> {
    v.map(|v| v.to_string())
}

/// One option whose live value differs from the configured one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub option: &'static str,
    pub configured: String,
    pub live: String,
}

/// Options in `configured` (those present, except the rate, which the controller moves) that `live` does
/// not match.
pub fn mismatches(configured: &CakeOptions, live: &CakeOptions) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut check = |option: &'static str, want: Option<String>, have: Option<String>| {
        if let Some(want) = want
            && Some(&want) != have.as_ref()
        {
            out.push(Mismatch {
                option,
                configured: want,
                live: have.unwrap_or_else(|| "absent".into()),
            });
        }
    };
    check("diffserv", s(configured.diffserv), s(live.diffserv));
    check("flow_mode", s(configured.flow_mode), s(live.flow_mode));
    check("atm", s(configured.atm), s(live.atm));
    check(
        "overhead",
        s(configured.overhead),
        s(live.overhead.filter(|_| !live.raw)),
    );
    check(
        "raw",
        configured.raw.then(|| "true".to_string()),
        Some(live.raw.to_string()),
    );
    check("rtt_us", s(configured.rtt_us), s(live.rtt_us));
    check("autorate", s(configured.autorate), s(live.autorate));
    check("nat", s(configured.nat), s(live.nat));
    check("wash", s(configured.wash), s(live.wash));
    check("mpu", s(configured.mpu), s(live.mpu));
    check("ingress", s(configured.ingress), s(live.ingress));
    check("ack_filter", s(configured.ack_filter), s(live.ack_filter));
    out
}
