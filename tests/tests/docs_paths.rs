//! Every repository path and every relative link the documentation cites must exist, so a moved or renamed
//! file cannot leave the documents pointing nowhere.

use std::path::{Path, PathBuf};

/// Top-level entries a cited path may start with.
const ROOTS: [&str; 7] = [
    "wanctl/",
    "wanctl-ebpf/",
    "tests/",
    "xtask/",
    "configs/",
    "systemd/",
    "docs/",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn documents() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    files.push(repo().join("README.md"));
    files.sort();
    files
}

/// Text between backticks, outside fenced blocks.
fn code_spans(text: &str) -> Vec<String> {
    let mut spans = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        spans.extend(line.split('`').skip(1).step_by(2).map(str::to_string));
    }
    spans
}

/// Targets of Markdown links that are neither URLs nor anchors.
fn link_targets(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|target| target.split('#').next().unwrap_or("").to_string())
        .filter(|target| !target.is_empty() && !target.contains("://"))
        .collect()
}

/// A cited repository path, or `None` for code that is not one (`/etc/...`, `a/b` values, commands).
fn cited_path(span: &str) -> Option<&str> {
    let span = span.trim_end_matches('/');
    let plain = !span.contains(char::is_whitespace)
        && !span.contains(['<', '>', '*', '{', '$', '(', '[', '=', ','])
        && !span.contains("://");
    let rooted = ROOTS.iter().any(|root| span.starts_with(root));
    let source_file = span.contains('/') && span.ends_with(".rs") && !span.starts_with('/');
    (plain && (rooted || source_file)).then_some(span)
}

fn exists(path: &str, document: &Path) -> bool {
    // Source files are also cited relative to `wanctl/src/` (`control/trace.rs`).
    [
        repo().join(path),
        repo().join("wanctl/src").join(path),
        document.parent().unwrap().join(path),
    ]
    .iter()
    .any(|candidate| candidate.exists())
}

#[test]
fn paths_cited_in_the_documentation_exist() {
    let mut missing = Vec::new();
    let mut checked = 0;
    for document in documents() {
        let text = std::fs::read_to_string(&document).unwrap();
        let name = document.file_name().unwrap().to_string_lossy().to_string();
        let spans = code_spans(&text);
        let cited = spans.iter().filter_map(|span| cited_path(span));
        let links = link_targets(&text);
        for path in cited.chain(links.iter().map(String::as_str)) {
            checked += 1;
            if !exists(path, &document) {
                missing.push(format!("{name}: `{path}`"));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} paths found; is the extraction broken?"
    );
    assert!(
        missing.is_empty(),
        "paths cited in the documentation do not exist:\n{}",
        missing.join("\n")
    );
}
