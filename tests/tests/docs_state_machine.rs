//! Keeps `docs/state-machine.md` true: its example traces are replayed through the real controller and must
//! give the per-cycle states, rates and reasons the document states, and its defaults tables must equal the
//! real defaults.
//!
//! Markers in the document: one ```` ```yaml replay-config ```` block (the WAN the examples use), then per
//! example a ```` ```csv replay-trace NAME ```` block and a ```` ```text replay-expect NAME ```` block with one
//! line per cycle: `time delta download_state download_mbit download_reason upload_state upload_mbit
//! upload_reason` (`delta` is `-` when unknown). Defaults tables follow a `<!-- defaults: control -->` or
//! `<!-- defaults: steering -->` line; their first column is the key path, the second the default, and a
//! third column of the form `N ms` is checked as N cycles times the default interval. The
//! ```` ```text steering-example ```` block is a steering timeline (`t | primary | alternate | state after |
//! reason`) stepped through the real steering machine with the default policy.

use std::{collections::BTreeMap, path::PathBuf, str::FromStr};

use serde_json::Value;
use wanctl::{
    config::DurationSpec,
    signal::Timestamp,
    steering::{CongestionState, SteeringMachine, WanCongestion},
};

fn document() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/state-machine.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fenced blocks whose info string starts with `lang marker`, by the word after the marker (or "").
fn blocks(doc: &str, lang: &str, marker: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let mut words = info.split_whitespace();
        if words.next() != Some(lang) || words.next() != Some(marker) {
            continue;
        }
        let name = words.next().unwrap_or("").to_string();
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        assert!(
            found.insert(name.clone(), body.join("\n") + "\n").is_none(),
            "two `{marker}` blocks named `{name}`"
        );
    }
    found
}

fn mbit(value: &Value) -> String {
    format!("{:.3}", value.as_f64().unwrap() / 1e6)
}

/// The replay's decisions in the document's line format.
fn actual_lines(config: &str, trace: &str) -> Vec<String> {
    let params = wanctl::cli::replay::control_params(config, None).unwrap();
    let mut out = Vec::new();
    wanctl::cli::replay::replay(params, trace.as_bytes(), true, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| {
            let d: Value = serde_json::from_str(line).unwrap();
            let delta = d["delta_ms"]
                .as_f64()
                .map_or("-".to_string(), |v| format!("{v:.1}"));
            let dir = |name: &str| {
                let x = &d[name];
                format!(
                    "{} {} {}",
                    x["state"].as_str().unwrap(),
                    mbit(&x["rate_bps"]),
                    x["reason"].as_str().unwrap()
                )
            };
            format!(
                "{:.2} {delta} {} {}",
                d["time_s"].as_f64().unwrap(),
                dir("download"),
                dir("upload")
            )
        })
        .collect()
}

fn normalise(block: &str) -> Vec<String> {
    block
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("time"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn every_example_trace_replays_to_the_documented_outcome() {
    let doc = document();
    let configs = blocks(&doc, "yaml", "replay-config");
    let config = configs.get("").expect("one ```yaml replay-config block");
    let traces = blocks(&doc, "csv", "replay-trace");
    let expects = blocks(&doc, "text", "replay-expect");
    assert!(traces.len() >= 4, "the document lost its examples");
    assert_eq!(
        traces.keys().collect::<Vec<_>>(),
        expects.keys().collect::<Vec<_>>(),
        "every replay-trace needs a replay-expect of the same name"
    );
    for (name, trace) in &traces {
        let actual = actual_lines(config, trace);
        let expected = normalise(&expects[name]);
        assert_eq!(
            actual,
            expected,
            "docs/state-machine.md example `{name}`: the controller now gives\n{}\n\
             (review the change; if intended, update the table and the text around it)",
            actual.join("\n")
        );
    }
}

/// Table rows after `marker`: (key, default, third column).
fn defaults_table(doc: &str, marker: &str) -> Vec<(String, String, String)> {
    let start = doc
        .find(marker)
        .unwrap_or_else(|| panic!("no `{marker}` table"));
    doc[start..]
        .lines()
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            let key = cells.first()?.strip_prefix('`')?.strip_suffix('`')?;
            Some((
                key.to_string(),
                cells.get(1)?.trim_matches('`').to_string(),
                cells.get(2).unwrap_or(&"").to_string(),
            ))
        })
        .collect()
}

fn lookup<'a>(root: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(root, |node, key| &node[key])
}

fn same(actual: &Value, documented: &str, what: &str) {
    match actual {
        Value::String(text) => match (
            DurationSpec::from_str(text),
            DurationSpec::from_str(documented),
        ) {
            (Ok(a), Ok(d)) => assert_eq!(a, d, "{what}: documented {documented}, real {text}"),
            _ => assert_eq!(text, documented, "{what}"),
        },
        Value::Number(number) => {
            let documented: f64 = documented
                .replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{what}: `{documented}` is not a number"));
            assert_eq!(number.as_f64().unwrap(), documented, "{what}");
        }
        other => assert_eq!(other.to_string(), documented, "{what}"),
    }
}

#[test]
fn the_documented_control_defaults_are_the_real_ones() {
    let doc = document();
    let yaml = "download: { ceiling: 100Mbit, floor_red: 20Mbit, step_up: 1Mbit }\n\
                upload: { ceiling: 20Mbit, floor_red: 5Mbit, step_up: 1Mbit }\n";
    let config: wanctl::control::ControlConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let params = config.validate().unwrap();
    let root = serde_json::to_value(&config).unwrap();
    let interval_ms = params.interval_s * 1e3;
    let rows = defaults_table(&doc, "<!-- defaults: control -->");
    assert!(rows.len() >= 10, "the control defaults table is too short");
    for (key, documented, wall) in rows {
        // Defaults that only exist after validation (they depend on the direction).
        let actual = match key.as_str() {
            "download.factor_down_yellow" => params.download.factor_down_yellow.into(),
            "upload.factor_down_yellow" => params.upload.factor_down_yellow.into(),
            _ => lookup(&root, &key).clone(),
        };
        assert!(!actual.is_null(), "control.{key} has no default");
        same(&actual, &documented, &format!("control.{key}"));
        if let Some(ms) = wall.strip_suffix(" ms") {
            let cycles = actual.as_f64().unwrap();
            assert_eq!(
                ms.parse::<f64>().unwrap(),
                cycles * interval_ms,
                "control.{key}: wall-clock column"
            );
        }
    }
}

#[test]
fn the_documented_steering_defaults_are_the_real_ones() {
    let doc = document();
    let yaml = "{ primary: a, alternate: b, actuator: { routeros: { mangle_comment: x } } }";
    let config: wanctl::steering::SteeringConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let root = serde_json::to_value(&config).unwrap();
    let rows = defaults_table(&doc, "<!-- defaults: steering -->");
    assert!(rows.len() >= 8, "the steering defaults table is too short");
    for (key, documented, _) in rows {
        let actual = lookup(&root, &key);
        assert!(!actual.is_null(), "steering.{key} has no default");
        same(actual, &documented, &format!("steering.{key}"));
    }
}

fn congestion(state: &str, at: Timestamp) -> WanCongestion {
    let (state, link_up) = match state {
        "green" => (CongestionState::Green, true),
        "yellow" => (CongestionState::Yellow, true),
        "soft_red" => (CongestionState::SoftRed, true),
        "red" => (CongestionState::Red, true),
        "down" => (CongestionState::Green, false),
        other => panic!("steering example: unknown WAN state `{other}`"),
    };
    WanCongestion {
        state,
        delay_delta_ms: 0.0,
        drop_rate: 0.0,
        backlog_bytes: 0,
        updated_at: at,
        link_up,
    }
}

#[test]
fn the_steering_example_is_what_the_machine_does() {
    let doc = document();
    let example = blocks(&doc, "text", "steering-example")
        .remove("")
        .expect("a ```text steering-example block");
    let yaml = "{ primary: a, alternate: b, actuator: { routeros: { mangle_comment: x } } }";
    let config: wanctl::steering::SteeringConfig = serde_yaml_ng::from_str(yaml).unwrap();
    let (mut machine, _) = SteeringMachine::start(&config, Timestamp::from_secs_f64(0.0), false);
    let mut steps = 0;
    for line in example
        .lines()
        .filter(|l| !l.starts_with('t') && !l.trim().is_empty())
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [t, primary, alternate, state, reason] = cells[..] else {
            panic!("steering example: `{line}` does not have five columns");
        };
        let now = Timestamp::from_secs_f64(t.parse().unwrap());
        let decision = machine.step(now, &congestion(primary, now), &congestion(alternate, now));
        if decision.switch {
            machine.commit(now, &decision);
        }
        let actual = (
            machine.action().as_str().to_string(),
            decision.reason.to_string(),
        );
        assert_eq!(
            actual,
            (state.to_string(), reason.to_string()),
            "docs/state-machine.md steering example at t = {t}"
        );
        steps += 1;
    }
    assert!(steps >= 8, "the steering example lost its steps");
}
