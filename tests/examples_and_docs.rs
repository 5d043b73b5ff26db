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

/// The ```terraform blocks of a Markdown page.
fn terraform_snippets(markdown: &str) -> Vec<String> {
    let mut snippets = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```terraform") => current = Some(Vec::new()),
            (Some(lines), "```") => {
                snippets.push(lines.join("\n"));
                current = None;
            }
            (Some(lines), _) => lines.push(line),
            (None, _) => {}
        }
    }
    snippets
}

/// Whitespace-insensitive form, so that an indented snippet matches its place in a file.
fn squeezed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn guide_snippets_are_copies_of_examples_that_validate() {
    let examples: Vec<String> = example_roots()
        .iter()
        .flat_map(|root| std::fs::read_dir(root).expect("example root").flatten().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .map(|p| squeezed(&std::fs::read_to_string(p).expect("example file")))
        .collect();
    let guides = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guides/blue-green-cluster-upgrade.md");
    let text = std::fs::read_to_string(&guides).expect("the blue/green guide");
    let snippets = terraform_snippets(&text);
    assert!(snippets.len() >= 3, "expected the guide's snippets, found {}", snippets.len());
    for snippet in snippets {
        let wanted = squeezed(&snippet);
        assert!(
            examples.iter().any(|file| file.contains(&wanted)),
            "this snippet of {} is in no file under examples/ (which every_example_validates checks):\n{snippet}",
            guides.display()
        );
    }
}

#[test]
fn terraform_snippets_are_found() {
    let page = "text\n```terraform\na = 1\n  b = 2\n```\n```shell\nls\n```\n```terraform\nc = 3\n```\n";
    assert_eq!(terraform_snippets(page), ["a = 1\n  b = 2", "c = 3"]);
    assert_eq!(squeezed("  a =\n 1 "), "a = 1");
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
