//! The shipped systemd unit keeps its hardening: the directives wanctl relies on, and an exposure score of at most
//! 2.5 from `systemd-analyze security --offline=true`.

use std::{path::PathBuf, process::Command};

fn unit() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../systemd/wanctl.service")
}

fn directives() -> Vec<(String, String)> {
    std::fs::read_to_string(unit())
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect()
}

fn value(key: &str) -> String {
    directives()
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn unit_has_the_directives_wanctl_relies_on() {
    assert_eq!(value("Type"), "notify");
    assert!(value("WatchdogSec").ends_with('s'));
    assert_eq!(
        value("AmbientCapabilities"),
        "CAP_NET_ADMIN CAP_BPF CAP_PERFMON"
    );
    assert_eq!(
        value("CapabilityBoundingSet"),
        "CAP_NET_ADMIN CAP_BPF CAP_PERFMON"
    );
    assert!(value("SystemCallFilter").contains("@system-service bpf perf_event_open"));
    assert!(value("LoadCredential").starts_with("router-password:"));
    assert_eq!(value("ProtectSystem"), "strict");
    assert_eq!(
        value("PrivateNetwork"),
        "",
        "capabilities must act in the host network namespace"
    );
    assert_eq!(value("Environment"), "", "secrets belong in credentials");
    assert!(value("RestrictAddressFamilies").contains("AF_NETLINK"));
}

#[test]
fn exposure_score_stays_at_most_2_5() {
    let output = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit())
        .output()
        .expect("systemd-analyze is needed (Debian package systemd)");
    let text = String::from_utf8_lossy(&output.stdout);
    let score: f64 = text
        .lines()
        .find_map(|line| line.split_once("Overall exposure level for wanctl.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|score| score.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no score in:\n{text}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    assert!(score <= 2.5, "exposure {score} > 2.5");
}
