//! `docs/configuration.md` is generated (`wanctl config docs`) from the configuration schema plus
//! `docs/configuration-tuning.md`; the committed file must equal what this build generates, so the reference
//! cannot drift from `wanctl config schema` or from the code.

use std::path::PathBuf;

#[test]
fn configuration_reference_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
    let committed =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let generated = wanctl::config::reference::configuration_markdown();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "docs/configuration.md differs from the generated reference (first at line {}); regenerate: \
             cargo run -p wanctl -- config docs > docs/configuration.md",
            line + 1
        );
    }
}

/// Every documented range must be enforced: a value just outside it is refused, naming the key.
#[test]
fn documented_control_ranges_are_enforced() {
    let schema = serde_json::to_value(schemars::schema_for!(wanctl::config::Config)).unwrap();
    let defs = &schema["$defs"];
    let mut checked = 0;
    let cake = defs["ControlConfig"]["properties"]["cake"]["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/$defs/"))
        .unwrap();
    for (section, def) in [
        ("", "ControlConfig"),
        ("download.", "DirectionConfig"),
        ("cake.", cake),
    ] {
        let properties = defs[def]["properties"].as_object().unwrap();
        for (key, property) in properties {
            for (bound, outside) in [("minimum", -1.0), ("maximum", 1.0)] {
                let Some(value) = outside_value(property, bound, outside) else {
                    continue;
                };
                let field = format!("{section}{key}");
                let yaml = control_yaml(&field, &value);
                let text =
                    format!("schema_version: 1\nwans:\n  - name: w\n    interface: eth0\n{yaml}");
                let errors = wanctl::config::load_config_str(&text, std::path::Path::new("t.yaml"))
                    .err()
                    .unwrap_or_else(|| panic!("control.{field} = {value} is outside the documented {bound} but accepted"));
                assert!(
                    errors
                        .iter()
                        .any(|e| e.to_string().contains(&format!("control.{field}"))),
                    "control.{field} = {value}: errors do not name it: {errors:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} documented bounds found");
}

/// A value just beyond the documented `bound` of `property`, as YAML text.
fn outside_value(property: &serde_json::Value, bound: &str, direction: f64) -> Option<String> {
    if let Some(text) = property[format!("x-{bound}")].as_str() {
        let step = direction as i64;
        if let Ok(duration) = text.parse::<wanctl::config::DurationSpec>() {
            let us = i64::try_from(duration.get().as_micros()).unwrap() + step;
            return (us >= 0).then(|| format!("{us}us"));
        }
        let bandwidth: wanctl::config::Bandwidth = text.parse().unwrap();
        let bps = i64::try_from(bandwidth.bps()).unwrap() + step;
        return (bps >= 0).then(|| format!("{bps}bit"));
    }
    let limit = property[bound].as_f64()?;
    let integer = property["type"] == "integer";
    if integer && bound == "minimum" && limit == 0.0 {
        return None;
    }
    let step = if integer {
        1.0
    } else {
        limit.abs().max(1e-3) * 1e-3
    };
    Some(format!("{}", limit + direction * step))
}

/// A control section with `field` set to `value` and everything else valid.
fn control_yaml(field: &str, value: &str) -> String {
    let mut download = vec![
        ("ceiling".to_string(), "100Mbit".to_string()),
        ("floor_red".to_string(), "10Mbit".to_string()),
        ("step_up".to_string(), "1Mbit".to_string()),
    ];
    let mut top = Vec::new();
    if let Some(key) = field.strip_prefix("download.") {
        download.retain(|(k, _)| k != key);
        download.push((key.to_string(), value.to_string()));
    } else if let Some(key) = field.strip_prefix("cake.") {
        top.push(("cake".to_string(), format!("{{ {key}: {value} }}")));
    } else {
        top.push((field.to_string(), value.to_string()));
    }
    let line = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "    control: {{ {}{}download: {{ {} }}, upload: {{ ceiling: 20Mbit, floor_red: 5Mbit, step_up: 1Mbit }} }}\n",
        line(&top),
        if top.is_empty() { "" } else { ", " },
        line(&download)
    )
}
