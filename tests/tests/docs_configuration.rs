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

/// A valid configuration that has every section whose keys have documented bounds.
const BASE: &str = "
schema_version: 1
wans:
  - name: w
    interface: eth0
    control:
      download: { ceiling: 100Mbit, floor_red: 10Mbit, step_up: 1Mbit }
      upload: { ceiling: 20Mbit, floor_red: 5Mbit, step_up: 1Mbit }
    cake:
      interface: eth0
      upload: { initial_rate: 20Mbit }
      download: { initial_rate: 100Mbit }
    active_probe: { reflectors: [192.0.2.10] }
    routeros:
      host: 192.0.2.1
      user: wanctl
      password_credential: router-password
      queues: { download: { tree: down }, upload: { tree: up } }
";

/// How the validators word a range violation (as opposed to an ordering between keys).
const RANGE_WORDS: [&str; 5] = [
    "outside",
    "out of range",
    ": expected",
    "at least",
    "must be above 0",
];

/// Every documented bound is enforced: a value just outside it is refused with an error naming the key.
/// (Whether the bound itself is accepted can depend on other keys, e.g. `target_bloat < warn_bloat`.)
#[test]
fn documented_ranges_are_enforced() {
    let schema = serde_json::to_value(schemars::schema_for!(wanctl::config::Config)).unwrap();
    let base: serde_yaml_ng::Value = serde_yaml_ng::from_str(BASE).unwrap();
    let path = std::path::Path::new("t.yaml");
    wanctl::config::load_config_str(BASE, path).expect("the base configuration is valid");
    let mut checked = 0;
    for key in wanctl::config::reference::keys(&schema) {
        // Steering needs two WANs and its own fixture; its keys have no bounds beyond their types.
        if key.path.starts_with("steering") {
            continue;
        }
        for (bound, direction) in [(&key.minimum, -1), (&key.maximum, 1)] {
            let Some(value) = bound.as_ref().and_then(|b| outside(b, direction)) else {
                continue;
            };
            let mut config = base.clone();
            set(&mut config, &key.path, value.clone());
            let text = serde_yaml_ng::to_string(&config).unwrap();
            let field = key.path.replace("[]", "[0]");
            let errors = wanctl::config::load_config_str(&text, path)
                .err()
                .unwrap_or_else(|| {
                    panic!("{field} = {value:?} is outside the documented range but accepted")
                });
            assert!(
                errors.iter().any(|e| e.to_string().contains(&field)),
                "{field} = {value:?}: the errors do not name it: {errors:?}"
            );
            checked += 1;
            // The bound itself must not be refused as out of range (it may be refused for an ordering).
            let mut config = base.clone();
            set(&mut config, &key.path, to_yaml(bound.as_ref().unwrap()));
            let text = serde_yaml_ng::to_string(&config).unwrap();
            if let Err(errors) = wanctl::config::load_config_str(&text, path) {
                let refused = errors.iter().map(ToString::to_string).find(|e| {
                    e.contains(&field) && RANGE_WORDS.iter().any(|words| e.contains(words))
                });
                assert!(
                    refused.is_none(),
                    "{field} at its documented bound: {refused:?}"
                );
            }
        }
    }
    assert!(checked >= 40, "only {checked} documented bounds found");
}

fn to_yaml(value: &serde_json::Value) -> serde_yaml_ng::Value {
    serde_yaml_ng::to_value(value).unwrap()
}

/// A value one step beyond `bound` (`direction` -1: below, 1: above), or `None` where nothing lies beyond
/// (unsigned zero).
fn outside(bound: &serde_json::Value, direction: i64) -> Option<serde_yaml_ng::Value> {
    if let Some(text) = bound.as_str() {
        if let Ok(duration) = text.parse::<wanctl::config::DurationSpec>() {
            let us = i64::try_from(duration.get().as_micros()).unwrap() + direction;
            return (us >= 0).then(|| format!("{us}us").into());
        }
        let bandwidth: wanctl::config::Bandwidth = text.parse().unwrap();
        let bps = i64::try_from(bandwidth.bps()).unwrap() + direction;
        return (bps >= 0).then(|| format!("{bps}bit").into());
    }
    if let Some(integer) = bound.as_i64() {
        let value = integer + direction;
        return (value >= 0 || integer < 0).then(|| value.into());
    }
    let number = bound.as_f64()?;
    Some((number + direction as f64 * number.abs().max(1e-3) * 1e-3).into())
}

/// Sets `path` (`wans[]` meaning the first WAN) in `config`, creating mappings on the way.
fn set(config: &mut serde_yaml_ng::Value, path: &str, value: serde_yaml_ng::Value) {
    let mut node = config;
    for part in path.split('.') {
        let (name, list) = match part.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (part, false),
        };
        let map = node.as_mapping_mut().unwrap();
        node = map
            .entry(name.into())
            .or_insert_with(|| serde_yaml_ng::Mapping::new().into());
        if list {
            node = &mut node.as_sequence_mut().unwrap()[0];
        }
    }
    *node = value;
}
