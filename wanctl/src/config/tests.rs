//! Golden error messages and end-to-end loading of the top-level document.

use std::path::Path;

use super::*;

fn errors(text: &str) -> Vec<String> {
    match load_config_str(text, Path::new("wanctl.yaml")) {
        Ok(loaded) => panic!("accepted: {:?}", loaded.document),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn one_error(text: &str) -> String {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap()
}

/// The smallest control section: each direction needs its ceiling, lowest floor and step.
const CONTROL: &str = "    control: {download: {ceiling: 95Mbit, floor_red: 20Mbit, step_up: 1Mbit}, upload: {ceiling: 18Mbit, floor_red: 4Mbit, step_up: 1Mbit}}\n";

fn minimal() -> String {
    format!("schema_version: 1\nwans:\n  - name: wan1\n    interface: eth0\n{CONTROL}")
}

#[test]
fn minimal_config_gets_safe_defaults() {
    let loaded = load_config_str(&minimal(), Path::new("wanctl.yaml")).unwrap();
    assert!(loaded.notices.is_empty());
    let service = &loaded.document.service;
    assert_eq!(service.http_listen.to_string(), "127.0.0.1:9101");
    assert!(!service.allow_remote_http);
    assert_eq!(service.state_dir, Path::new("/var/lib/wanctl"));
    assert_eq!(service.runtime_dir, Path::new("/run/wanctl"));
    assert_eq!(service.state_save_interval, DurationSpec::from_secs(5));
    assert_eq!(loaded.document.wans[0].interface, "eth0");
}

#[test]
fn golden_unknown_keys_suggest_the_intended_one() {
    assert_eq!(
        one_error("schema_version: 1\nwans:\n  - name: wan1\n    intrface: eth0\n"),
        "wanctl.yaml:4:5: wans[0]: unknown key `intrface`; did you mean `interface`?"
    );
    assert_eq!(
        one_error("schema_version: 1\nservice:\n  http_lsiten: 127.0.0.1:1\nwans: []\n"),
        "wanctl.yaml:3:3: service: unknown key `http_lsiten`; did you mean `http_listen`?"
    );
    assert_eq!(
        one_error("schema_version: 1\nservice:\n  watchdog:\n    bark: 1s\nwans: []\n"),
        "wanctl.yaml:4:5: service.watchdog: unknown key `bark`; expected one of: stall_after"
    );
    assert_eq!(
        one_error("schema_version: 1\nwan:\n  - name: wan1\n"),
        "wanctl.yaml:2:1: unknown key `wan`; did you mean `wans`?"
    );
}

#[test]
fn golden_value_errors_name_position_and_field() {
    assert_eq!(
        one_error("schema_version: 1\nservice:\n  log_format: jsn\nwans: []\n"),
        "wanctl.yaml:3:15: service.log_format: unknown value `jsn`; did you mean `json`?"
    );
    assert_eq!(
        one_error("schema_version: 1\nservice:\n  state_save_interval: 5\nwans: []\n"),
        "wanctl.yaml:3:24: service.state_save_interval: `5` needs a unit, e.g. \"50ms\" or \"2s\""
    );
    assert_eq!(
        one_error("schema_version: 1\nwans:\n  - name: wan1\n"),
        "wanctl.yaml:3:5: wans[0]: missing field `interface`"
    );
    assert_eq!(
        one_error("schema_version: 1\nservice:\n  http_listen: localhost\nwans: []\n"),
        "wanctl.yaml:3:16: service.http_listen: invalid socket address syntax"
    );
    assert_eq!(
        one_error("schema_version: 1\nwans: [\n"),
        "wanctl.yaml:3:1: did not find expected node content"
    );
}

#[test]
fn golden_validation_reports_every_problem() {
    let text = format!(
        "schema_version: 1\nservice:\n  http_listen: 0.0.0.0:9101\nwans:\n  - name: wan1\n    interface: eth0\n{CONTROL}    cake: {{interface: eth0, upload: {{initial_rate: 0bit}}}}\n  - name: wan1\n    interface: eth0\n{CONTROL}  - name: \"bad name\"\n    interface: this-name-is-too-long\n{CONTROL}    rtt_source: active\n"
    );
    assert_eq!(
        errors(&text),
        [
            "wanctl.yaml: service.http_listen: 0.0.0.0:9101 is not a loopback address; /health and /metrics have no authentication. Set `service.allow_remote_http: true` to expose them anyway",
            "wanctl.yaml: wans[0].cake.upload.initial_rate: must be at least 8bit (1 byte/s)",
            "wanctl.yaml: wans[1].name: `wan1` is already the name of wans[0]",
            "wanctl.yaml: wans[1].interface: `eth0` is already used by wans[0]; one loop per interface",
            "wanctl.yaml: wans[2].name: `bad name` contains ` `; use letters, digits, `_`, `-`, `.`",
            "wanctl.yaml: wans[2].interface: `this-name-is-too-long` must have 1 to 15 bytes (Linux IFNAMSIZ)",
            "wanctl.yaml: wans[2].rtt_source: `active` needs an `active_probe` section with reflectors",
        ]
    );
    let allowed = format!(
        "schema_version: 1\nservice:\n  http_listen: 0.0.0.0:9101\n  allow_remote_http: true\nwans:\n  - name: wan1\n    interface: eth0\n{CONTROL}"
    );
    assert!(load_config_str(&allowed, Path::new("x")).is_ok());
}

#[test]
fn golden_schema_versions() {
    assert_eq!(
        one_error("wans: []\n"),
        "wanctl.yaml: schema_version: missing; add `schema_version: 1` at the top of the file"
    );
    assert_eq!(
        one_error("schema_version: 2\nwans: []\n"),
        "wanctl.yaml: schema_version: version 2 is newer than this wanctl reads (up to 1); upgrade wanctl, or write the file for version 1 (`wanctl config schema` prints it)"
    );
    assert_eq!(
        one_error("schema_version: \"1.0\"\nwans: []\n"),
        "wanctl.yaml: schema_version: must be a whole number such as 1"
    );
    assert_eq!(
        one_error(""),
        "wanctl.yaml: the document is empty; it must be a mapping that starts with `schema_version: 1`"
    );
}

#[test]
fn version_0_is_migrated_and_says_so() {
    let v0 = format!(
        "schema_version: 0\nhealth_listen: 127.0.0.1:9200\nwans:\n  - name: wan1\n    iface: eth0\n{CONTROL}"
    );
    let loaded = load_config_str(&v0, Path::new("old.yaml")).unwrap();
    assert_eq!(loaded.document.schema_version, 1);
    assert_eq!(loaded.document.wans[0].interface, "eth0");
    assert_eq!(loaded.document.service.http_listen.port(), 9200);
    assert_eq!(
        loaded.notices,
        [
            "schema_version 0 migrated in memory to 1: renamed `wans[].iface` to `wans[].interface` and moved `health_listen` to `service.http_listen`; update the file"
        ]
    );
    // Errors after migration still name the field (the positions refer to the old layout, so none are shown).
    let bad = "schema_version: 0\nwans:\n  - name: wan1\n    iface: eth0\n    colour: red\n";
    assert_eq!(
        one_error(bad),
        "wanctl.yaml: wans[0]: unknown key `colour`; expected one of: name, interface, control, rtt_source, active_probe, probe, cake, routeros"
    );
    let both = "schema_version: 0\nwans:\n  - name: wan1\n    iface: eth0\n    interface: eth1\n";
    assert_eq!(
        one_error(both),
        "wanctl.yaml: schema_version: migrating from version 0 failed: wans[0]: both `iface` (old name) and `interface` are set; keep only `interface`"
    );
}

#[test]
fn versions_without_a_migration_path_are_refused_with_instructions() {
    #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    struct Doc {
        #[expect(dead_code, reason = "read by serde only")]
        schema_version: u32,
    }
    impl Document for Doc {
        const SCHEMA_VERSION: u32 = 3;
        fn migrations() -> &'static [migrate::Migration] {
            static STEPS: [migrate::Migration; 1] = [migrate::Migration {
                from: 2,
                summary: "nothing",
                apply: |_| Ok(()),
            }];
            &STEPS
        }
    }
    let error = load::load_str::<Doc>("schema_version: 1\n", Path::new("f.yaml")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "f.yaml: schema_version: version 1 is too old to migrate automatically (no step from 1); rewrite the file for version 3: `wanctl config schema` prints the current schema and `configs/` has examples"
    );
    let loaded = load::load_str::<Doc>("schema_version: 2\n", Path::new("f.yaml")).unwrap();
    assert_eq!(loaded.notices.len(), 1);
}

/// A component section plugs in as a typed field: its errors get the same paths, positions and suggestions.
mod plug_in {
    use super::*;

    #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct TestCakeSection {
        bandwidth: Bandwidth,
        #[serde(default)]
        diffserv: Option<String>,
    }

    #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct TestWan {
        name: String,
        interface: String,
        cake: Option<TestCakeSection>,
    }

    #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct TestDoc {
        #[expect(dead_code, reason = "read by serde only")]
        schema_version: u32,
        #[serde(default)]
        service: ServiceConfig,
        wans: Vec<TestWan>,
    }

    impl Document for TestDoc {
        const SCHEMA_VERSION: u32 = 1;
    }

    fn load(text: &str) -> Result<TestDoc, String> {
        load::load_str::<TestDoc>(text, Path::new("t.yaml"))
            .map(|loaded| loaded.document)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn typed_section_is_read_and_checked() {
        let doc = load("schema_version: 1\nwans:\n  - name: a\n    interface: eth0\n    cake:\n      bandwidth: 95Mbit\n").unwrap();
        let wan = &doc.wans[0];
        assert_eq!((wan.name.as_str(), wan.interface.as_str()), ("a", "eth0"));
        assert_eq!(
            wan.cake.as_ref().unwrap().bandwidth,
            Bandwidth::from_mbit(95)
        );
        assert_eq!(wan.cake.as_ref().unwrap().diffserv, None);
        assert_eq!(doc.service, ServiceConfig::default());
        assert_eq!(
            load("schema_version: 1\nwans:\n  - name: a\n    interface: eth0\n    cake:\n      bandwith: 95Mbit\n").unwrap_err(),
            "t.yaml:6:7: wans[0].cake: unknown key `bandwith`; did you mean `bandwidth`?"
        );
        assert_eq!(
            load("schema_version: 1\nwans:\n  - name: a\n    interface: eth0\n    cake:\n      bandwidth: 95Mbps\n").unwrap_err(),
            "t.yaml:6:18: wans[0].cake.bandwidth: `95Mbps` is ambiguous: `tc` reads \"bps\" as bytes per second; write bits, e.g. \"95Mbit\""
        );
    }
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    /// YAML-ish text from the characters that matter to the parser, plus real keys, so that inputs reach deep.
    fn yamlish() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            Just("schema_version: 1\n".to_string()),
            Just("schema_version: 0\n".to_string()),
            Just("wans:\n".to_string()),
            Just("  - name: wan1\n".to_string()),
            Just("    interface: eth0\n".to_string()),
            Just("    iface: eth0\n".to_string()),
            Just("service:\n".to_string()),
            Just("  http_listen: 127.0.0.1:9101\n".to_string()),
            Just("  state_save_interval: 5s\n".to_string()),
            Just("    cake: {bandwidth: 95Mbit}\n".to_string()),
            Just("steering: [1, 2]\n".to_string()),
            Just("&a x: *a\n".to_string()),
            "[ -~\n\t:{}\\[\\],&*!|>'\"%@`#-]{0,24}",
        ];
        prop::collection::vec(token, 0..12).prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_text_never_panics_and_errors_name_the_file(text in yamlish()) {
            if let Err(errors) = load_config_str(&text, Path::new("fuzz.yaml")) {
                prop_assert!(!errors.is_empty());
                for error in errors {
                    prop_assert!(error.to_string().starts_with("fuzz.yaml"));
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = load_config_str(&text, Path::new("fuzz.yaml"));
        }
    }
}

#[test]
fn schema_describes_the_document() {
    let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap();
    assert_eq!(schema["title"], "wanctl configuration");
    let properties = &schema["properties"];
    for key in ["schema_version", "service", "wans", "steering"] {
        assert!(
            properties.get(key).is_some(),
            "{key} missing from {properties}"
        );
    }
    assert_eq!(
        schema["required"],
        serde_json::json!(["schema_version", "wans"])
    );
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn a_routeros_steering_actuator_needs_the_primary_wans_router() {
    let text = format!(
        "{}  - name: wan2\n    interface: eth1\n{CONTROL}steering:\n  primary: wan1\n  alternate: wan2\n  \
         actuator: {{routeros: {{mangle_comment: wanctl-steer}}}}\n",
        minimal()
    );
    let error = one_error(&text);
    assert!(error.contains("steering.actuator.routeros"), "{error}");
    assert!(
        error.contains("`wan1` has no `routeros` section"),
        "{error}"
    );
}
