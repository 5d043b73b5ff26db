//! The architecture of `src/`, checked on every test run (DESIGN.md, "Architecture").
//!
//! Reads every file under `src/`, resolves its `use` declarations and its inline `crate::…` and
//! `super::…` paths to the files they name (module granularity: a path names the deepest file
//! it reaches), and asserts:
//! - no file imports a file that imports it back, directly or around a longer cycle;
//! - the layer rules: the domain (`argocd/`, `hub/`, `route53/`) imports nothing Terraform
//!   (`protocol`, `provider`, `resources`, `data_sources`, `tf`); the neutral modules import
//!   no other file; `protocol` imports only itself and the neutral modules; `tf` imports no
//!   provider, resource or data source; no resource imports another resource; data sources import
//!   no resource; resources and data sources reach the provider only through `provider/state.rs`,
//!   which imports no resource or data source.
//!
//! A parent's use of the submodules it declares itself (`mod live;` then `live::X`) is part of
//! declaring them and is not counted; a `use` of them is.
//!
//! Run alone: `cargo test --test architecture`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

/// Files with no layer of their own that any layer may import; they import no other file.
const NEUTRAL: [&str; 4] = ["halt.rs", "secrets.rs", "unanswered.rs", "http_url.rs"];
const DOMAIN: [&str; 3] = ["argocd", "hub", "route53"];
const TERRAFORM: [&str; 5] = ["protocol", "provider", "resources", "data_sources", "tf"];

// ---------------------------------------------------------------------------------------------
// Reading files

/// `route53/client.rs` -> `["route53", "client"]`; `route53/mod.rs` -> `["route53"]`; the crate
/// roots -> `[]`.
fn module_path(file: &str) -> Vec<String> {
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    let mut parts: Vec<String> = stem.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The code of `text` with comments, strings and char literals blanked, so that neither a
/// commented-out `use` nor a URL in a string counts.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&chars, i) {
            // Raw string r"…", r#"…"#: skip to the closing quote and as many hashes.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F600}'), or else a lifetime ('a), kept as is.
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

fn tokens(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".to_string());
            i += 2;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// Expands the use tree starting at `tokens[*at]` (after `use`), up to `;`, into full paths.
fn use_tree(tokens: &[String], at: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    loop {
        let Some(token) = tokens.get(*at) else { return };
        match token.as_str() {
            "{" => {
                *at += 1;
                loop {
                    use_tree(tokens, at, &path, out);
                    match tokens.get(*at).map(String::as_str) {
                        Some(",") => {
                            *at += 1;
                            if tokens.get(*at).map(String::as_str) == Some("}") {
                                *at += 1;
                                return;
                            }
                        }
                        Some("}") => {
                            *at += 1;
                            return;
                        }
                        _ => return,
                    }
                }
            }
            "::" => *at += 1,
            "*" => {
                *at += 1;
                out.push(path);
                return;
            }
            "as" => {
                *at += 2;
                out.push(path);
                return;
            }
            "," | "}" | ";" => {
                if !path.is_empty() {
                    out.push(path);
                }
                return;
            }
            name => {
                // `{self, X}` names the module the group is in.
                if name != "self" || path.is_empty() {
                    path.push(name.to_string());
                }
                *at += 1;
            }
        }
    }
}

/// The module paths `text` (the file at `file`) refers to, made absolute.
fn references(file: &str, text: &str) -> Vec<Vec<String>> {
    let tokens = tokens(&code_only(text));
    let home = module_path(file);
    // Inline modules (`mod tests { … }`) shift what `super` and `self` mean.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut children: BTreeSet<String> = BTreeSet::new();
    for w in tokens.windows(3) {
        if w[0] == "mod" && w[2] == ";" {
            children.insert(w[1].clone());
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i].as_str();
        let here = || {
            let mut here = home.clone();
            here.extend(inline.iter().map(|(name, _)| name.clone()));
            here
        };
        match token {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            "mod" if tokens.get(i + 2).map(String::as_str) == Some("{") => {
                inline.push((tokens[i + 1].clone(), depth));
                depth += 1;
                i += 3;
                continue;
            }
            "use" => {
                let mut at = i + 1;
                let mut paths = Vec::new();
                use_tree(&tokens, &mut at, &[], &mut paths);
                let here = here();
                for path in paths {
                    if let Some(absolute) = absolute(&here, &path, &children, inline.is_empty()) {
                        out.push(absolute);
                    }
                }
                i = at;
                continue;
            }
            "crate" | "super" | "terraform_provider_gitopsbridge"
                if tokens.get(i + 1).map(String::as_str) == Some("::")
                    && !matches!(i.checked_sub(1).map(|p| tokens[p].as_str()), Some("::" | "$")) =>
            {
                let mut path = vec![token.to_string()];
                let mut at = i + 1;
                while tokens.get(at).map(String::as_str) == Some("::")
                    && tokens.get(at + 1).is_some_and(|t| t.chars().all(|c| c.is_alphanumeric() || c == '_'))
                {
                    path.push(tokens[at + 1].clone());
                    at += 2;
                }
                if let Some(absolute) = absolute(&here(), &path, &BTreeSet::new(), false) {
                    out.push(absolute);
                }
                i = at;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// `path` as seen from module `here`; `None` for other crates and the standard library.
fn absolute(here: &[String], path: &[String], children: &BTreeSet<String>, top: bool) -> Option<Vec<String>> {
    let first = path.first()?;
    match first.as_str() {
        "crate" | "terraform_provider_gitopsbridge" => Some(path[1..].to_vec()),
        "super" | "self" => {
            let mut base = here.to_vec();
            let mut rest = path;
            while let Some(step) = rest.first() {
                match step.as_str() {
                    "super" => {
                        base.pop()?;
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            Some(base)
        }
        name if top && children.contains(name) => {
            let mut base = here.to_vec();
            base.extend(path.iter().cloned());
            Some(base)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The graph

/// File -> the files it imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn graph(files: &BTreeMap<String, String>) -> Graph {
    let by_module: BTreeMap<Vec<String>, String> =
        files.keys().filter(|f| f.as_str() != "main.rs").map(|f| (module_path(f), f.clone())).collect();
    let mut graph = Graph::new();
    for (file, text) in files {
        let edges = graph.entry(file.clone()).or_default();
        for path in references(file, text) {
            // The deepest file the path reaches.
            let target = (0..=path.len()).rev().find_map(|n| by_module.get(&path[..n]));
            // The crate root only declares modules (and exports the log macros `crate::tf_debug!`
            // etc. reach through it): not an import.
            if let Some(target) = target.filter(|t| *t != file && t.as_str() != "lib.rs") {
                edges.insert(target.clone());
            }
        }
    }
    graph
}

/// A cycle `a -> b -> … -> a`, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    for (from, targets) in graph {
        for to in targets {
            // Breadth-first from `to` back to `from`: the shortest way round.
            let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
            let mut queue = VecDeque::from([to]);
            while let Some(node) = queue.pop_front() {
                if node == from {
                    // Back from `from` to `to`, then read forwards: from -> to -> … -> from.
                    let mut back = vec![from.clone()];
                    let mut at = from;
                    while at != to {
                        at = came_from[at];
                        back.push(at.clone());
                    }
                    back.reverse();
                    let mut cycle = vec![from.clone()];
                    cycle.extend(back);
                    return Some(cycle);
                }
                for next in graph.get(node).into_iter().flatten() {
                    if next != to && !came_from.contains_key(next) {
                        came_from.insert(next, node);
                        queue.push_back(next);
                    }
                }
            }
        }
    }
    None
}

fn layer(file: &str) -> &str {
    match file.split_once('/') {
        Some((folder, _)) => folder,
        None => file,
    }
}

/// Every import that breaks a layer rule, as `from -> to: rule`.
fn layer_violations(graph: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for (from, targets) in graph {
        let from_layer = layer(from);
        for to in targets {
            let to_layer = layer(to);
            let rule = if DOMAIN.contains(&from_layer) && TERRAFORM.contains(&to_layer) {
                Some("the domain imports nothing Terraform")
            } else if NEUTRAL.contains(&from.as_str()) {
                Some("a neutral module imports no other file")
            } else if from_layer == "protocol" && to_layer != "protocol" && !NEUTRAL.contains(&to.as_str()) {
                Some("protocol imports only itself and the neutral modules")
            } else if from_layer == "tf" && ["provider", "resources", "data_sources"].contains(&to_layer) {
                Some("tf imports no provider, resource or data source")
            } else if from_layer == "resources" && to_layer == "resources" && to.as_str() != "resources/mod.rs" {
                Some("no resource imports another resource")
            } else if from_layer == "data_sources" && to_layer == "resources" {
                Some("data sources import no resource")
            } else if ["resources", "data_sources"].contains(&from_layer) && to.as_str() == "provider/mod.rs" {
                Some("resources and data sources reach the provider through provider/state.rs only")
            } else if from.as_str() == "provider/state.rs" && ["resources", "data_sources"].contains(&to_layer) {
                Some("provider/state.rs imports no resource or data source")
            } else {
                None
            };
            if let Some(rule) = rule {
                out.push(format!("{from} -> {to}: {rule}"));
            }
        }
    }
    out
}

fn read_src(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            read_src(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = path.strip_prefix(root).expect("under src/").to_string_lossy().replace('\\', "/");
            out.insert(name, std::fs::read_to_string(&path).expect("a source file is UTF-8"));
        }
    }
}

fn src_files() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    read_src(&root, &root, &mut files);
    files
}

// ---------------------------------------------------------------------------------------------
// The checks on src/

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let graph = graph(&src_files());
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle in src/: {}", cycle.join(" -> "));
    }
}

#[test]
fn layers_import_only_what_they_may() {
    let violations = layer_violations(&graph(&src_files()));
    assert!(violations.is_empty(), "imports that break the layer rules:\n{}", violations.join("\n"));
}

#[test]
fn every_folder_says_what_lives_there_and_what_it_may_not_import() {
    for (file, text) in src_files() {
        if file.ends_with("/mod.rs") {
            assert!(text.starts_with("//!"), "{file} has no module docs (//!)");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The checker itself, on small trees

fn tree(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files.iter().map(|(f, t)| (f.to_string(), t.to_string())).collect()
}

#[test]
fn a_cycle_between_two_files_is_found() {
    let files = tree(&[
        ("lib.rs", "pub mod a;\npub mod b;"),
        ("a.rs", "use crate::b::Thing;\npub struct Other;"),
        ("b.rs", "use super::a::Other;\npub struct Thing;"),
    ]);
    assert_eq!(find_cycle(&graph(&files)), Some(vec!["a.rs".into(), "b.rs".into(), "a.rs".into()]));
}

#[test]
fn a_cycle_round_three_files_is_found_through_inline_paths_and_use_groups() {
    let files = tree(&[
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;"),
        ("a/mod.rs", "pub mod x;\nfn f() { crate::b::g(); }"),
        ("a/x.rs", ""),
        ("b.rs", "use crate::{c::{self, H}, a::x};"),
        ("c.rs", "fn h() -> super::a::T { todo!() }"),
    ]);
    let cycle = find_cycle(&graph(&files)).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4, "{cycle:?}");
    for file in ["a/mod.rs", "b.rs", "c.rs"] {
        assert!(cycle.contains(&file.to_string()), "{cycle:?}");
    }
}

#[test]
fn comments_strings_tests_and_declared_children_make_no_cycle() {
    let files = tree(&[
        ("lib.rs", "pub mod a;\npub mod b;"),
        ("a/mod.rs", "mod live;\nuse crate::b::Thing;\nstruct S { l: live::L }"),
        ("a/live.rs", "use super::Thing;\npub struct L;"),
        (
            "b.rs",
            "// use crate::a::X;\n/* use crate::a::Y; */\nconst URL: &str = \"crate::a::Z\";\nconst C: char = '\"';\n\
             pub struct Thing;\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::b::Thing as T;\n}\n\
             fn after() { let _: &'static str = r#\"crate::a\"#; }",
        ),
    ]);
    let graph = graph(&files);
    assert_eq!(find_cycle(&graph), None, "{graph:?}");
    assert_eq!(graph["a/live.rs"], BTreeSet::from(["a/mod.rs".to_string()]));
    assert!(graph["b.rs"].is_empty(), "{graph:?}");
}

#[test]
fn a_use_of_a_declared_child_counts() {
    let files = tree(&[
        ("lib.rs", "pub mod a;"),
        ("a/mod.rs", "mod live;\npub use live::L;\npub struct T;"),
        ("a/live.rs", "use super::T;\npub struct L;"),
    ]);
    assert!(find_cycle(&graph(&files)).is_some());
}

#[test]
fn layer_rules_catch_each_kind_of_import() {
    let files = tree(&[
        ("lib.rs", "pub mod protocol;\npub mod route53;\npub mod resources;\npub mod data_sources;\npub mod provider;"),
        ("protocol/mod.rs", "pub struct Context;"),
        ("route53/client.rs", "use crate::protocol::Context;"),
        ("resources/mod.rs", "pub mod a;\npub mod b;"),
        ("resources/a.rs", "use crate::resources::b::X;\nuse crate::provider::Configured;"),
        ("resources/b.rs", "pub struct X;"),
        ("data_sources/c.rs", "use crate::resources::b::X;"),
        ("provider/mod.rs", "pub mod state;"),
        ("provider/state.rs", ""),
        ("halt.rs", "use crate::route53::client::Thing;"),
    ]);
    let violations = layer_violations(&graph(&files));
    for expected in [
        "route53/client.rs -> protocol/mod.rs",
        "resources/a.rs -> resources/b.rs",
        "resources/a.rs -> provider/mod.rs",
        "data_sources/c.rs -> resources/b.rs",
        "halt.rs -> route53/client.rs",
    ] {
        assert!(violations.iter().any(|v| v.starts_with(expected)), "{expected} not caught in {violations:#?}");
    }
    assert_eq!(violations.len(), 5, "{violations:#?}");
}
