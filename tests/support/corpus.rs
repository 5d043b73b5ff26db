//! The bad input corpus: one Terraform file per case under `tests/fixtures/bad_input/`, whose
//! leading comments say what Terraform must answer, and the diagnostics of `terraform … -json`
//! that are checked against them.
//!
//! A case file starts with comment lines:
//!
//! ```text
//! # One sentence: what is wrong.
//! # stage: validate | plan | apply      (the first command that must refuse it)
//! # category: weights                    (what kind of bad input it is)
//! # error: Invalid weight                (the diagnostic's summary, exactly)
//! # says: from 0 to 255                  (words its detail must contain)
//! # fix: = 256 => = 255                  (optional, repeatable: the edit that makes it valid)
//! ```
//!
//! and marks the line the diagnostic must point at with `# <-` (a block's first line when the
//! attribute to set is missing). Import ids have no line in the configuration that Terraform
//! could point at: those cases have no marker, and their diagnostic must have no range.

use std::path::Path;

use serde_json::Value as Json;

/// The first Terraform command that must refuse a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// `terraform validate`, with every value written in the configuration.
    Validate,
    /// The plan, once variables are known (validate sees them as unknown).
    Plan,
    /// The plan Terraform makes again during apply, once values of applied resources are known;
    /// still before any of our resources is written.
    Apply,
}

/// One invalid configuration.
#[derive(Clone, Debug)]
pub struct Case {
    /// The file's name without `.tf`; labels, aliases and variables inside it use it too.
    pub name: String,
    pub description: String,
    pub stage: Stage,
    pub category: String,
    pub summary: String,
    pub says: String,
    pub fixes: Vec<(String, String)>,
    /// 1-based line of the `# <-` marker.
    pub line: Option<u64>,
    text: String,
}

/// What a case is about, from its name's prefix.
pub fn subject(name: &str) -> &'static str {
    match name.split('_').next() {
        Some("p") => "provider block",
        Some("cm") => "resource gitopsbridge_cluster_metadata",
        Some("as") => "resource gitopsbridge_addon_set",
        Some("wr") => "resource gitopsbridge_weighted_route",
        Some("ts") => "resource gitopsbridge_traffic_split",
        Some("dcm") => "data source gitopsbridge_cluster_metadata",
        Some("dwr") => "data source gitopsbridge_weighted_routes",
        _ => panic!("case {name}: the name must start with p_, cm_, as_, wr_, ts_, dcm_ or dwr_"),
    }
}

/// Every case of `dir`, by name.
pub fn load(dir: &Path) -> Vec<Case> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("corpus dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .collect();
    paths.sort();
    paths.iter().map(|p| parse(p)).collect()
}

fn parse(path: &Path) -> Case {
    let name = path.file_stem().and_then(|s| s.to_str()).expect("file name").to_string();
    let text = std::fs::read_to_string(path).expect("case file");
    let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).map(|l| l[1..].trim()).collect();
    let field = |key: &str| -> Vec<String> {
        header.iter().filter_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string()).collect()
    };
    let one = |key: &str| -> String {
        match field(key).as_slice() {
            [value] if !value.is_empty() => value.clone(),
            other => panic!("{name}: expected one `# {key} …` line, found {other:?}"),
        }
    };
    let stage = match one("stage:").as_str() {
        "validate" => Stage::Validate,
        "plan" => Stage::Plan,
        "apply" => Stage::Apply,
        other => panic!("{name}: unknown stage {other:?}"),
    };
    let fixes = field("fix:")
        .iter()
        .map(|f| {
            let (from, to) = f.split_once("=>").unwrap_or_else(|| panic!("{name}: a fix is `<from> => <to>`"));
            (from.trim().to_string(), to.trim().replace("\\n", "\n"))
        })
        .collect();
    let marked: Vec<u64> = text
        .lines()
        .enumerate()
        .skip(header.len())
        .filter(|(_, l)| l.contains("# <-"))
        .map(|(i, _)| i as u64 + 1)
        .collect();
    assert!(marked.len() <= 1, "{name}: more than one line is marked with `# <-`");
    Case {
        description: header.first().map(|s| s.to_string()).unwrap_or_default(),
        stage,
        category: one("category:"),
        summary: one("error:"),
        says: one("says:"),
        fixes,
        line: marked.first().copied(),
        text,
        name,
    }
}

impl Case {
    pub fn file_name(&self) -> String {
        format!("{}.tf", self.name)
    }

    /// The configuration with the harness's values (`HUB_KUBECONFIG`, `ROUTE53_ENDPOINT`) put in.
    pub fn text(&self, values: &[(&str, String)]) -> String {
        values.iter().fold(self.text.clone(), |text, (placeholder, value)| text.replace(placeholder, value))
    }

    /// The configuration with its fixes applied, when it has any.
    pub fn fixed_text(&self, values: &[(&str, String)]) -> Option<String> {
        if self.fixes.is_empty() {
            return None;
        }
        let body: String = self.text.lines().skip_while(|l| l.starts_with('#')).collect::<Vec<_>>().join("\n");
        let fixed = self.fixes.iter().fold(body, |body, (from, to)| {
            assert_eq!(body.matches(from.as_str()).count(), 1, "{}: the fix {from:?} must match once", self.name);
            body.replace(from.as_str(), to)
        });
        let case = Case { text: fixed, ..self.clone() };
        Some(case.text(values))
    }

    /// Whether `d` is the error this case expects, at the place it expects it.
    ///
    /// The place is the diagnostic's range: file and first line. Terraform computes it from the
    /// attribute path our diagnostic carries (or from its own expression, for type errors), so
    /// the line proves the path resolved to the offending attribute; a wrong or missing path
    /// lands on the block's first line or has no range at all. `address` would only name the
    /// resource or provider, and `snippet` is the same line's text.
    pub fn is_expected(&self, d: &Diagnostic) -> bool {
        let place = match self.line {
            Some(line) => d.filename.as_deref() == Some(self.file_name().as_str()) && d.line == Some(line),
            None => d.filename.is_none(),
        };
        d.severity == "error" && d.summary == self.summary && flat(&d.detail).contains(&flat(&self.says)) && place
    }
}

fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One diagnostic as `terraform … -json` reports it.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: String,
    pub summary: String,
    pub detail: String,
    pub address: Option<String>,
    pub filename: Option<String>,
    pub line: Option<u64>,
}

impl Diagnostic {
    fn from_json(d: &Json) -> Diagnostic {
        let text = |key: &str| d[key].as_str().unwrap_or_default().to_string();
        Diagnostic {
            severity: text("severity"),
            summary: text("summary"),
            detail: text("detail"),
            address: d["address"].as_str().map(str::to_string),
            filename: d["range"]["filename"].as_str().map(str::to_string),
            line: d["range"]["start"]["line"].as_u64(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == "error"
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = match (&self.filename, self.line) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            _ => "no range".to_string(),
        };
        write!(f, "{} [{at}] {}: {}", self.severity, self.summary, flat(&self.detail))
    }
}

/// The diagnostics of `terraform validate -json` (one JSON document).
pub fn validate_diagnostics(stdout: &str) -> Vec<Diagnostic> {
    let doc: Json = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("validate -json output ({e}):\n{stdout}"));
    doc["diagnostics"].as_array().map(|ds| ds.iter().map(Diagnostic::from_json).collect()).unwrap_or_default()
}

/// The messages of a streaming `terraform plan|apply -json` (one JSON object per line).
pub fn messages(stdout: &str) -> Vec<Json> {
    stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The diagnostics among streamed messages.
pub fn streamed_diagnostics(messages: &[Json]) -> Vec<Diagnostic> {
    messages.iter().filter(|m| m["type"] == "diagnostic").map(|m| Diagnostic::from_json(&m["diagnostic"])).collect()
}

/// Addresses of the resources whose apply started or completed (`kind` is `apply_start` or
/// `apply_complete`). Terraform reports data source reads with the same hooks, even while
/// planning: those (action `read`) are left out.
pub fn applied(messages: &[Json], kind: &str) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["type"] == kind && m["hook"]["action"] != "read")
        .filter_map(|m| m["hook"]["resource"]["addr"].as_str().map(str::to_string))
        .collect()
}
