//! End to end: the committed `docs/results.md` is exactly what `somnium results`
//! generates from the committed `reports/`, and `--check` catches a stale copy.

mod common;

use std::path::Path;

/// Runs `somnium` in the workspace root, where `docs/` and `reports/` are.
fn somnium(args: &[&str]) -> std::process::Output {
    common::somnium_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

#[test]
fn committed_results_doc_equals_the_generated_text() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.md");
    let o = somnium(&["results", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let generated = std::fs::read_to_string(&out).unwrap();
    let committed = std::fs::read_to_string(root.join("docs/results.md")).unwrap();
    assert!(
        generated == committed,
        "docs/results.md is stale: run `cargo run --release -- results` and commit it"
    );
    let o = somnium(&["results", "--check"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn results_check_fails_on_an_edited_copy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("results.md");
    let text = std::fs::read_to_string(root.join("docs/results.md")).unwrap();
    std::fs::write(
        &copy,
        text.replacen("| **model** |", "| **the model** |", 1),
    )
    .unwrap();
    let o = somnium(&["results", "--check", "--out", copy.to_str().unwrap()]);
    assert!(!o.status.success(), "--check passed on an edited copy");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("out of date") && err.contains("the model"),
        "{err}"
    );
}
