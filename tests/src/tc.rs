//! iproute2's `tc -s -j` as the independent reference for what the kernel holds.

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
