//! Every example validates offline with only our provider, and docs/ matches the schema.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Workspace;

/// Directories under examples/ that hold .tf files (each is one root module).
fn example_roots() -> Vec<PathBuf> {
    fn walk(dir: &Path, roots: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("examples dir").flatten().map(|e| e.path()).collect();
        entries.sort();
        if entries.iter().any(|p| p.extension().is_some_and(|e| e == "tf")) {
            roots.push(dir.to_path_buf());
        }
        for path in entries.iter().filter(|p| p.is_dir()) {
            walk(path, roots);
        }
    }
    let mut roots = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"), &mut roots);
    roots
}

#[test]
fn every_example_validates() {
    let roots = example_roots();
    assert!(roots.len() >= 4, "expected the registry examples, found {roots:?}");
    for root in roots {
        // Registry snippets leave out the terraform block; give them ours.
        let ws = Workspace::from_dir(&root, &support::required_providers());
        let out = ws.run(&["validate", "-no-color"]);
        assert!(
            out.status.success(),
            "{} does not validate:\n{}{}",
            root.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn docs_match_the_schema_and_examples() {
    let ws = Workspace::new(&support::required_providers());
    let schema = ws.run_ok(&["providers", "schema", "-json"]);
    let schema_file = ws.path().join("schema.json");
    std::fs::write(&schema_file, schema).expect("write schema");
    let out = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gendocs.py"))
        .arg(&schema_file)
        .arg("--check")
        .output()
        .expect("python3 must be installed");
    assert!(
        out.status.success(),
        "docs/ is stale or incomplete (run `make docs`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
