//! Golden replays: every `golden/<name>.trace.csv` is replayed with the WAN named in its `# wan:` comment
//! from `golden/wans.yaml`, and the per-cycle JSON decisions must equal `golden/<name>.expected.jsonl`.
//! After a deliberate behaviour change, regenerate with `UPDATE_GOLDEN=1 cargo test -p wanctl-tests --test
//! replay_golden` and review the diff like code.

use std::{fs, path::PathBuf};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden")
}

fn replay(name: &str) -> String {
    let dir = golden_dir();
    let trace = fs::read_to_string(dir.join(format!("{name}.trace.csv"))).unwrap();
    let wan = trace
        .lines()
        .find_map(|l| l.strip_prefix("# wan: "))
        .unwrap_or_else(|| panic!("{name}: no `# wan:` line"));
    let yaml = fs::read_to_string(dir.join("wans.yaml")).unwrap();
    let params = wanctl::cli::replay::control_params(&yaml, Some(wan.trim())).unwrap();
    let mut out = Vec::new();
    let cycles = wanctl::cli::replay::replay(params, trace.as_bytes(), true, &mut out).unwrap();
    assert!(cycles > 0, "{name}: empty trace");
    String::from_utf8(out).unwrap()
}

fn check(name: &str) {
    let actual = replay(name);
    let path = golden_dir().join(format!("{name}.expected.jsonl"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (cycle, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
        assert_eq!(a, e, "{name}: cycle {cycle} differs");
    }
    assert_eq!(
        actual.lines().count(),
        expected.lines().count(),
        "{name}: cycle count"
    );
}

#[test]
fn the_python_vector_replays_as_checked_in() {
    check("att-vector");
}

#[test]
fn the_cable_trace_replays_as_checked_in() {
    check("cable");
}

/// Independent of the checked-in file: the Python vector's rows where this core deliberately differs.
#[test]
fn the_python_vector_shows_the_documented_differences() {
    let lines: Vec<serde_json::Value> = replay("att-vector")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let dl = |i: usize| {
        (
            lines[i]["download"]["state"].as_str().unwrap().to_owned(),
            lines[i]["download"]["rate_bps"].as_u64().unwrap(),
        )
    };
    // Rows 0-7 equal Python's: hold at the ceiling, dwell, then YELLOW decay by 0.96.
    assert_eq!(
        dl(4),
        ("YELLOW".into(), 95_000_000),
        "dwell reported as YELLOW, not GREEN"
    );
    assert_eq!(dl(5).1, 91_200_000);
    assert_eq!(dl(7).1, 84_049_920);
    // SOFT_RED decreases by factor_down_yellow (Python holds 84049920).
    assert_eq!(dl(8), ("SOFT_RED".into(), 80_687_923));
    assert_eq!(dl(11).1, 71_387_509);
    // RED cuts by factor_down.
    assert_eq!(dl(13), ("RED".into(), 51_577_474));
    // Back in the YELLOW band after SOFT_RED: YELLOW at once, no jump to floor_green (Python: GREEN, 80 M).
    assert_eq!(dl(16), ("YELLOW".into(), 51_577_474));
    // The fourth GREEN cycle steps up by 3 Mbit.
    assert_eq!(dl(21), ("GREEN".into(), 51_577_474));
    assert_eq!(dl(22).1, 54_577_474);
    assert_eq!(dl(23).1, 57_577_474);
}
