//! Parsing, defaults and validation of the `steering:` section.

use std::{net::IpAddr, time::Duration};

use super::{BASE, merged};
use crate::steering::{
    SteeringConfig,
    actuator::{ActuatorConfig, LinuxActuatorConfig},
    config::{AlternateLimit, EnterState, ExitPolicy, StartupPolicy},
};

fn parse(yaml: &str) -> Result<SteeringConfig, String> {
    serde_yaml_ng::from_str::<SteeringConfig>(yaml).map_err(|e| e.to_string())
}

fn invalid(yaml: &str) -> String {
    let config = parse(yaml).unwrap();
    config.validate().unwrap_err().to_string()
}

const MINIMAL: &str = "
primary: wan1
alternate: wan2
actuator:
  linux:
    route: { device: wan2 }
";

#[test]
fn minimal_config_gets_documented_defaults() {
    let c = parse(MINIMAL).unwrap();
    c.validate().unwrap();
    assert_eq!(c.enter.state, EnterState::Red);
    assert_eq!(c.enter.sustain.get(), Duration::from_secs(2));
    assert_eq!(c.leave.sustain.get(), Duration::from_secs(30));
    assert_eq!(c.hold_down(), Duration::from_secs(30));
    assert_eq!(c.flap_limit.max_switches, 4);
    assert_eq!(c.flap_limit.window.get(), Duration::from_secs(300));
    assert_eq!(c.staleness.get(), Duration::from_secs(5));
    assert_eq!(c.alternate_max_state, AlternateLimit::Yellow);
    assert_eq!(c.startup, StartupPolicy::Reset);
    assert_eq!(c.on_exit, ExitPolicy::NotSteering);
    let ActuatorConfig::Linux(linux) = &c.actuator else {
        panic!("linux actuator expected");
    };
    assert_eq!(
        (linux.fwmark, linux.fwmask, linux.table, linux.priority),
        (1, 1, 100, 1000)
    );
    let sticky = linux.sticky.unwrap();
    assert_eq!((sticky.fwmark, sticky.fwmask, sticky.priority), (2, 2, 999));
    assert!(!linux.is_ipv6());
}

#[test]
fn full_linux_and_routeros_forms_parse() {
    let c = parse(BASE).unwrap();
    let ActuatorConfig::Linux(LinuxActuatorConfig { route, .. }) = &c.actuator else {
        panic!()
    };
    assert_eq!(
        route.gateway,
        Some("203.0.113.2".parse::<IpAddr>().unwrap())
    );

    let hex = parse(&MINIMAL.replace(
        "route: { device: wan2 }",
        "{ fwmark: 0x100, fwmask: 0xff00, table: 1000, priority: 500, sticky: null, route: { device: wan2, gateway: \"2001:db8::1\" } }",
    ))
    .unwrap();
    hex.validate().unwrap();
    let ActuatorConfig::Linux(linux) = &hex.actuator else {
        panic!()
    };
    assert_eq!(
        (linux.fwmark, linux.fwmask, linux.table),
        (0x100, 0xff00, 1000)
    );
    assert_eq!(linux.sticky, None);
    assert!(linux.is_ipv6());

    let ros = parse(
        "primary: wan1\nalternate: wan2\nactuator:\n  routeros: { mangle_comment: \"ADAPTIVE: steer to wan2\" }\n",
    )
    .unwrap();
    ros.validate().unwrap();
    assert!(matches!(ros.actuator, ActuatorConfig::RouterOs(_)));
}

#[test]
fn unknown_fields_and_cycle_counts_are_refused() {
    let typo = parse(&format!("{MINIMAL}hold_dwn: 5s\n")).unwrap_err();
    assert!(typo.contains("hold_dwn"), "{typo}");
    // Counting cycles (the Python `red_samples_required`) is not a thing here: durations need units.
    let cycles = parse(&format!("{MINIMAL}enter: {{ sustain: 2 }}\n")).unwrap_err();
    assert!(cycles.contains("needs a unit"), "{cycles}");
    let nested = parse(&MINIMAL.replace("device: wan2", "device: wan2, metric: 5")).unwrap_err();
    assert!(nested.contains("metric"), "{nested}");
}

#[test]
fn validation_names_the_field() {
    let cases = [
        ("alternate: wan1", "steering.alternate:"),
        ("primary: \" \"", "steering.primary:"),
        ("enter: { sustain: 0s }", "steering.enter.sustain:"),
        ("leave: { sustain: 0ms }", "steering.leave.sustain:"),
        ("staleness: 0s", "steering.staleness:"),
        (
            "flap_limit: { max_switches: 0 }",
            "steering.flap_limit.max_switches:",
        ),
        ("flap_limit: { window: 0s }", "steering.flap_limit.window:"),
        (
            "signals: { yellow_delay_ms: 40, red_delay_ms: 30 }",
            "steering.signals.yellow_delay_ms:",
        ),
        (
            "signals: { red_delay_ms: .nan }",
            "steering.signals.red_delay_ms:",
        ),
        (
            "signals: { red_drop_rate: 2 }",
            "steering.signals.red_drop_rate:",
        ),
    ];
    for (line, field) in cases {
        let err = merged(MINIMAL, line).validate().unwrap_err().to_string();
        assert!(err.starts_with(field), "{line}: {err}");
    }
}

#[test]
fn linux_actuator_validation_names_the_field() {
    let cases = [
        ("fwmark: 0", "actuator.linux.fwmark:"),
        ("fwmark: 0x3, fwmask: 0x1", "actuator.linux.fwmark:"),
        ("table: 254", "actuator.linux.table:"),
        ("priority: 32766", "actuator.linux.priority:"),
        ("priority: 0", "actuator.linux.priority:"),
        (
            "sticky: { fwmark: 0x1, fwmask: 0x1, priority: 999 }",
            "actuator.linux.sticky.fwmask:",
        ),
        (
            "sticky: { fwmark: 0x2, fwmask: 0x2, priority: 1000 }",
            "actuator.linux.sticky.priority:",
        ),
        (
            "sticky: { fwmark: 0x4, fwmask: 0x2, priority: 999 }",
            "actuator.linux.sticky.fwmark:",
        ),
    ];
    for (fields, field) in cases {
        let yaml = MINIMAL.replace(
            "route: { device: wan2 }",
            &format!("{{ {fields}, route: {{ device: wan2 }} }}"),
        );
        let err = invalid(&yaml);
        assert!(
            err.starts_with(&format!("steering.{field}")),
            "{fields}: {err}"
        );
    }
    for device in ["\"\"", "a-very-long-interface-name", "\"wan 2\""] {
        let err = invalid(&MINIMAL.replace("device: wan2", &format!("device: {device}")));
        assert!(
            err.starts_with("steering.actuator.linux.route.device:"),
            "{device}: {err}"
        );
    }
}

#[test]
fn routeros_comment_is_checked() {
    for comment in [
        "\"\"",
        "\"steer; /system reboot\"",
        &format!("\"{}\"", "x".repeat(129)),
    ] {
        let yaml = format!(
            "primary: wan1\nalternate: wan2\nactuator:\n  routeros: {{ mangle_comment: {comment} }}\n"
        );
        let err = invalid(&yaml);
        assert!(
            err.starts_with("steering.actuator.routeros.mangle_comment:"),
            "{err}"
        );
    }
}

#[test]
fn schema_describes_durations_as_strings_and_lists_the_actuators() {
    let schema = serde_json::to_value(schemars::schema_for!(SteeringConfig)).unwrap();
    let text = schema.to_string();
    assert_eq!(
        schema["properties"]["hold_down"]["type"], "string",
        "{text}"
    );
    assert!(
        text.contains("mangle_comment") && text.contains("fwmask"),
        "{text}"
    );
    let required = schema["required"].as_array().unwrap();
    assert!(required.contains(&"actuator".into()) && !required.contains(&"hold_down".into()));
}
