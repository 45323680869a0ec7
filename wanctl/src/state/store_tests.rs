use serde::Deserialize;

use super::*;

/// A sample of what the control core persists: a baseline and a rate, with the bounds its `restore` checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sample {
    baseline_ms: f64,
    rate_bps: u64,
}

const DEFAULT: Sample = Sample {
    baseline_ms: 20.0,
    rate_bps: 50_000_000,
};

fn validate(s: Sample) -> Result<Sample, String> {
    if !s.baseline_ms.is_finite() || !(0.1..=1000.0).contains(&s.baseline_ms) {
        return Err(format!("baseline_ms {} outside 0.1..=1000", s.baseline_ms));
    }
    Ok(Sample {
        rate_bps: s.rate_bps.clamp(1_000_000, 1_000_000_000),
        ..s
    })
}

fn store(dir: &Path) -> StateStore<Sample> {
    StateStore::for_wan(dir, "wan1", Duration::from_secs(5))
}

fn sample(baseline_ms: f64) -> Sample {
    Sample {
        baseline_ms,
        rate_bps: 90_000_000,
    }
}

#[test]
fn first_start_uses_defaults_without_complaint() {
    let dir = tempfile::tempdir().unwrap();
    let restored = store(dir.path()).restore(validate, || DEFAULT);
    assert_eq!(
        (restored.value, restored.source),
        (DEFAULT, LoadSource::Default)
    );
    assert!(restored.problems.is_empty());
}

#[test]
fn saved_state_comes_back_and_the_previous_one_is_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let t0 = Instant::now();
    assert_eq!(s.save_now(&sample(21.0), t0).unwrap(), SaveOutcome::Written);
    assert_eq!(s.save_now(&sample(22.0), t0).unwrap(), SaveOutcome::Written);
    let restored = store(dir.path()).restore(validate, || DEFAULT);
    assert_eq!(
        (restored.value, restored.source),
        (sample(22.0), LoadSource::Primary)
    );
    let backup: Sample =
        serde_json::from_slice(&fs::read(dir.path().join("wan1.state.json.bak")).unwrap()).unwrap();
    assert_eq!(backup, sample(21.0));
}

#[test]
fn writes_are_throttled_and_skipped_when_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let t0 = Instant::now();
    assert_eq!(
        s.save_if_due(&sample(21.0), t0).unwrap(),
        SaveOutcome::Written
    );
    assert_eq!(
        s.save_if_due(&sample(21.0), t0 + Duration::from_secs(60))
            .unwrap(),
        SaveOutcome::Unchanged
    );
    assert_eq!(
        s.save_if_due(&sample(22.0), t0 + Duration::from_secs(1))
            .unwrap(),
        SaveOutcome::NotDue
    );
    assert_eq!(
        s.save_if_due(&sample(22.0), t0 + Duration::from_secs(5))
            .unwrap(),
        SaveOutcome::Written
    );
    // A forced save ignores the interval (shutdown).
    assert_eq!(
        s.save_now(&sample(23.0), t0 + Duration::from_secs(6))
            .unwrap(),
        SaveOutcome::Written
    );
}

#[test]
fn a_corrupt_file_recovers_from_the_backup_and_is_kept_for_inspection() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    s.save_now(&sample(21.0), Instant::now()).unwrap();
    s.save_now(&sample(22.0), Instant::now()).unwrap();
    let path = dir.path().join("wan1.state.json");
    fs::write(&path, b"{\"baseline_ms\": 22.0, \"rate_b").unwrap();

    let mut s = store(dir.path());
    let restored = s.restore(validate, || DEFAULT);
    assert_eq!(
        (restored.value.clone(), restored.source),
        (sample(21.0), LoadSource::Backup)
    );
    assert_eq!(restored.problems.len(), 1);
    assert!(
        restored.problems[0].contains("wan1.state.json: corrupt"),
        "{:?}",
        restored.problems
    );
    assert!(dir.path().join("wan1.state.json.corrupt").exists());

    // The next save must not turn the good backup into a copy of the corrupt file.
    s.save_now(&sample(23.0), Instant::now()).unwrap();
    let backup: Sample =
        serde_json::from_slice(&fs::read(dir.path().join("wan1.state.json.bak")).unwrap()).unwrap();
    assert_eq!(backup, sample(21.0));
}

#[test]
fn poisoned_values_are_refused_then_defaults_are_used_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wan1.state.json");
    // NaN cannot be written as JSON; serde_json writes null, which must not parse back as a number.
    fs::write(&path, br#"{"baseline_ms": null, "rate_bps": 5}"#).unwrap();
    fs::write(
        dir.path().join("wan1.state.json.bak"),
        br#"{"baseline_ms": 1e308, "rate_bps": 5}"#,
    )
    .unwrap();
    let restored = store(dir.path()).restore(validate, || DEFAULT);
    assert_eq!(
        (restored.value, restored.source),
        (DEFAULT, LoadSource::Default)
    );
    assert_eq!(restored.problems.len(), 2, "{:?}", restored.problems);
    assert!(
        restored.problems[1].contains("refused: baseline_ms"),
        "{:?}",
        restored.problems
    );
}

#[test]
fn the_validator_repairs_values_in_range() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("wan1.state.json"),
        br#"{"baseline_ms": 20.0, "rate_bps": 99999999999999}"#,
    )
    .unwrap();
    let restored = store(dir.path()).restore(validate, || DEFAULT);
    assert_eq!(restored.source, LoadSource::Primary);
    assert_eq!(restored.value.rate_bps, 1_000_000_000);
}

#[test]
fn a_crash_between_backup_and_write_recovers_from_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    store(dir.path())
        .save_now(&sample(21.0), Instant::now())
        .unwrap();
    let path = dir.path().join("wan1.state.json");
    fs::rename(&path, dir.path().join("wan1.state.json.bak")).unwrap();
    let restored = store(dir.path()).restore(validate, || DEFAULT);
    assert_eq!(
        (restored.value, restored.source),
        (sample(21.0), LoadSource::Backup)
    );
    assert_eq!(restored.problems, [format!("{}: missing", path.display())]);
}

#[test]
fn write_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut s: StateStore<Sample> =
        StateStore::new(dir.path().join("gone").join("x.json"), Duration::ZERO);
    let error = s
        .save_now(&sample(1.0), Instant::now())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("writing state file ") && error.contains("gone/x.json"),
        "{error}"
    );
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Whatever bytes the files hold, restore never panics and only ever returns validated values.
        #[test]
        fn restore_returns_only_validated_values(
            primary in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
            backup in prop::option::of(prop_oneof![
                prop::collection::vec(any::<u8>(), 0..64),
                (any::<f64>(), any::<u64>()).prop_map(|(baseline_ms, rate_bps)| {
                    serde_json::to_vec(&Sample { baseline_ms, rate_bps }).unwrap()
                }),
            ]),
        ) {
            let dir = tempfile::tempdir().unwrap();
            if let Some(bytes) = primary {
                fs::write(dir.path().join("wan1.state.json"), bytes).unwrap();
            }
            if let Some(bytes) = backup {
                fs::write(dir.path().join("wan1.state.json.bak"), bytes).unwrap();
            }
            let restored = store(dir.path()).restore(validate, || DEFAULT);
            prop_assert_eq!(validate(restored.value.clone()), Ok(restored.value));
        }
    }
}
