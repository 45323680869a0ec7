//! iproute2's `tc -s -j` as the independent reference for what the kernel holds.

use aya::programs::{SchedClassifier, TcAttachType};
use serde_json::Value;

use crate::netns::Netns;

/// The root qdisc of `dev` in `ns` as `tc -s -j qdisc show` prints it (`Value::Null` if none is listed).
pub fn root_qdisc(ns: &Netns, dev: &str) -> Value {
    let out = ns.exec_ok(&["tc", "-s", "-j", "qdisc", "show", "dev", dev, "root"]);
    let all: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("tc json `{out}`: {e}"));
    all.as_array()
        .and_then(|a| a.iter().find(|q| q["root"] == Value::Bool(true)).cloned())
        .unwrap_or(Value::Null)
}

/// Every qdisc of `dev` in `ns` (`tc -j qdisc show dev`).
pub fn qdiscs(ns: &Netns, dev: &str) -> Vec<Value> {
    let out = ns.exec_ok(&["tc", "-j", "qdisc", "show", "dev", dev]);
    serde_json::from_str::<Value>(&out)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

/// Runs `tc <args>` in `ns`; panics with its stderr on failure.
pub fn tc(ns: &Netns, args: &[&str]) {
    let mut command = vec!["tc"];
    command.extend_from_slice(args);
    ns.exec_ok(&command);
}

/// Every tc filter and TCX program on `dev` in `ns` whose name mentions wanctl, one per line (empty when
/// nothing of wanctl is attached).
pub fn filters_mentioning_wanctl(ns: &Netns, dev: &str) -> String {
    let mut found = String::new();
    for hook in ["ingress", "egress"] {
        let out = ns.exec_ok(&["tc", "filter", "show", "dev", dev, hook]);
        found.push_str(&out);
    }
    let tcx = ns.enter(|| {
        let mut names = Vec::new();
        for hook in [TcAttachType::Ingress, TcAttachType::Egress] {
            let (_, programs) = SchedClassifier::query_tcx(dev, hook).unwrap();
            names.extend(
                programs
                    .iter()
                    .map(|p| format!("tcx {}", p.name_as_str().unwrap_or("?"))),
            );
        }
        names.join("\n")
    });
    found.push_str(&tcx);

    found
        .lines()
        .filter(|l| l.contains("wanctl"))
        .collect::<Vec<_>>()
        .join("\n")
}
