//! `check-config` on every example in `configs/`, on broken files (exit 2), and the committed JSON Schema.

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use wanctl::cli::{Cli, run};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check(path: &std::path::Path) -> ExitCode {
    let cli = Cli::parse_from(["wanctl", "check-config", "--quiet", path.to_str().unwrap()]);
    run(cli).unwrap()
}

#[test]
fn every_example_config_is_valid() {
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo().join("configs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 3, "{examples:?}");
    for example in examples {
        assert_eq!(check(&example), ExitCode::SUCCESS, "{}", example.display());
        let loaded = wanctl::config::load_config(&example).unwrap();
        assert!(
            loaded.notices.is_empty(),
            "{}: {:?}",
            example.display(),
            loaded.notices
        );
    }
}

#[test]
fn invalid_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "schema_version: 1\nwans:\n  - name: wan1\n    intrface: eth0\n",
    )
    .unwrap();
    assert_eq!(check(&bad), ExitCode::from(2));
    assert_eq!(check(&dir.path().join("missing.yaml")), ExitCode::from(2));
}

#[test]
fn committed_schema_matches_the_code() {
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("configs/wanctl.schema.json")).unwrap(),
    )
    .unwrap();
    let current = serde_json::to_value(schemars::schema_for!(wanctl::config::Config)).unwrap();
    assert_eq!(
        committed, current,
        "regenerate: cargo run -p wanctl -- config schema > configs/wanctl.schema.json"
    );
}
