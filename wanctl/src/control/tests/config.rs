//! Configuration: defaults, units, and errors that name the field and the rule.

use super::helpers::{WAN, config, params};
use crate::control::ControlConfig;

fn error_of(extra: &str) -> String {
    config(extra).validate().unwrap_err().to_string()
}

fn replace(from: &str, to: &str) -> String {
    let yaml = WAN.replace(from, to);
    assert_ne!(yaml, WAN, "{from} not in the test config");
    let config: ControlConfig = serde_yaml_ng::from_str(&yaml).unwrap();
    config.validate().unwrap_err().to_string()
}

#[test]
fn defaults_fill_what_operators_leave_out() {
    let p = params("");
    assert!((p.interval_s - 0.05).abs() < 1e-12);
    assert_eq!(
        p.upload.floor_yellow, 6_000_000,
        "floor_yellow defaults to floor_red"
    );
    assert_eq!(p.upload.base, 6_000_000, "base defaults to floor_green");
    assert!((p.download.factor_down_yellow - 0.96).abs() < 1e-12);
    assert!((p.upload.factor_down_yellow - 0.94).abs() < 1e-12);
    assert!(
        (p.upload.warn_ms - 45.0).abs() < 1e-12,
        "upload RED at the WAN's warn_bloat"
    );
    assert_eq!(p.download.base, 80_000_000);
}

#[test]
fn floor_ordering_errors_name_the_field() {
    let e = replace("floor_red: 45Mbit", "floor_red: 60Mbit");
    assert!(e.starts_with("control.download.floor_red:"), "{e}");
    assert!(e.contains("floor_soft_red"), "{e}");
    let e = replace("ceiling: 18Mbit", "ceiling: 5Mbit");
    assert!(e.starts_with("control.upload.base:"), "{e}");
}

#[test]
fn threshold_ordering_is_strict() {
    let e = replace("warn_bloat: 45ms", "warn_bloat: 15ms");
    assert!(e.starts_with("control.warn_bloat:"), "{e}");
    let e = replace("hard_red_bloat: 80ms", "hard_red_bloat: 45ms");
    assert!(e.starts_with("control.hard_red_bloat:"), "{e}");
    let e = error_of("  target_bloat: 50ms\n");
    assert!(e.starts_with("control.upload.warn_bloat:"), "{e}");
}

#[test]
fn non_finite_and_out_of_range_numbers_are_refused() {
    let e = replace("factor_down: 0.85", "factor_down: .nan");
    assert!(e.starts_with("control.download.factor_down:"), "{e}");
    let e = replace("factor_down_yellow: 0.96", "factor_down_yellow: 0.5");
    assert!(
        e.starts_with("control.download.factor_down:"),
        "factor_down above yellow: {e}"
    );
    let e = replace("green_required: 4", "green_required: 0");
    assert!(e.starts_with("control.download.green_required:"), "{e}");
    let e = replace("load_time_constant: 100ms", "load_time_constant: 2m");
    assert!(e.starts_with("control.load_time_constant:"), "{e}");
}

#[test]
fn unknown_fields_and_byte_units_are_refused_by_the_parser() {
    let typo = format!("{WAN}targt_bloat: 10ms\n");
    let e = serde_yaml_ng::from_str::<ControlConfig>(&typo)
        .unwrap_err()
        .to_string();
    assert!(e.contains("targt_bloat"), "{e}");
    let bytes = WAN.replace("ceiling: 95Mbit", "ceiling: 95Mbps");
    let e = serde_yaml_ng::from_str::<ControlConfig>(&bytes)
        .unwrap_err()
        .to_string();
    assert!(e.contains("ambiguous"), "{e}");
    let soft = WAN.replace(
        "floor_red: 6Mbit",
        "floor_red: 6Mbit\n  floor_soft_red: 7Mbit",
    );
    let config: ControlConfig = serde_yaml_ng::from_str(&soft).unwrap();
    let e = config.validate().unwrap_err().to_string();
    assert!(e.starts_with("control.upload.floor_soft_red:"), "{e}");
}
