//! Finding secrets where they must not be: every artifact a run leaves (terraform's output, its
//! log file, `show -json`, the state file) is searched for distinctive secret values, as they
//! are and inside any base64 text (Secret data, kubeconfig `*-data` fields, `key_data`).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;

/// A secret value the configuration uses, with a name for reports.
#[derive(Clone, Debug)]
pub struct Secret {
    pub name: &'static str,
    pub value: String,
}

impl Secret {
    pub fn new(name: &'static str, value: impl Into<String>) -> Secret {
        let value = value.into();
        assert!(value.len() >= 12, "a secret to search for must be distinctive: {name}");
        Secret { name, value }
    }
}

/// One place a secret was found.
#[derive(Clone, Debug)]
pub struct Finding {
    pub artifact: String,
    pub secret: &'static str,
    /// A few characters around the hit, with the secret itself masked.
    pub context: String,
}

/// Tally of one test's scanning: what was looked at and what was found.
#[derive(Default)]
pub struct Scanner {
    artifacts: BTreeMap<String, usize>,
    bytes: usize,
    findings: Vec<Finding>,
}

impl Scanner {
    pub fn new() -> Scanner {
        Scanner::default()
    }

    /// Searches `text` (named `artifact` in reports) for each of `secrets`.
    pub fn scan(&mut self, artifact: &str, text: &str, secrets: &[Secret]) {
        *self.artifacts.entry(artifact.to_string()).or_default() += 1;
        self.bytes += text.len();
        let decoded = decoded_base64_runs(text);
        for secret in secrets {
            for (origin, haystack) in
                std::iter::once(("", text)).chain(decoded.iter().map(|d| ("base64 of ", d.as_str())))
            {
                let mut from = 0;
                while let Some(at) = haystack[from..].find(&secret.value) {
                    let at = from + at;
                    let start = floor_char(haystack, at.saturating_sub(80));
                    let end = floor_char(haystack, (at + secret.value.len() + 80).min(haystack.len()));
                    self.findings.push(Finding {
                        artifact: format!("{origin}{artifact}"),
                        secret: secret.name,
                        context: haystack[start..end].replace(&secret.value, "<SECRET>"),
                    });
                    from = at + secret.value.len();
                }
            }
        }
    }

    /// How many artifacts were scanned (each terraform output, log file, state counts once).
    pub fn artifacts(&self) -> usize {
        self.artifacts.values().sum()
    }

    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Panics listing every finding; prints the tally otherwise (`--nocapture` shows it).
    pub fn assert_clean(&self, test: &str) {
        assert!(self.findings.is_empty(), "{test}: secrets found:\n{self}");
        println!("{test}: {self}");
    }
}

impl fmt::Display for Scanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "scanned {} artifacts ({} bytes): {} secret occurrences",
            self.artifacts(),
            self.bytes,
            self.findings.len()
        )?;
        for finding in &self.findings {
            writeln!(f, "  {} in {}: …{}…", finding.secret, finding.artifact, finding.context)?;
        }
        Ok(())
    }
}

/// Every run of 16 or more base64 characters that decodes to UTF-8 text, decoded. Runs are cut
/// at anything outside the alphabet, so JSON strings and YAML fields are found one by one.
fn decoded_base64_runs(text: &str) -> Vec<String> {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    text.split(|c: char| !is_b64(c))
        .filter(|run| run.len() >= 16)
        .filter_map(|run| {
            let run = run.trim_end_matches('=');
            [&base64::engine::general_purpose::STANDARD_NO_PAD, &base64::engine::general_purpose::URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(run).ok())
        })
        .filter_map(|bytes| String::from_utf8(bytes).ok())
        .collect()
}

fn floor_char(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// A workspace whose every terraform run is logged at trace level (`TF_LOG`, `TF_LOG_PROVIDER`,
/// `TF_LOG_PATH`) and whose outputs are kept for scanning.
pub struct LoggedWorkspace {
    pub ws: super::Workspace,
    log_path: std::path::PathBuf,
    outputs: Vec<(String, String)>,
}

impl LoggedWorkspace {
    pub fn new(mut ws: super::Workspace) -> LoggedWorkspace {
        let log_path = ws.path().join("terraform-trace.log");
        ws.env("TF_LOG", "trace");
        ws.env("TF_LOG_PROVIDER", "trace");
        ws.env("TF_LOG_PATH", &log_path.display().to_string());
        LoggedWorkspace { ws, log_path, outputs: Vec::new() }
    }

    /// Runs terraform, keeps stdout and stderr, and returns them together with the exit status.
    pub fn run(&mut self, args: &[&str]) -> (bool, String) {
        let out = self.ws.run(args);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        self.outputs.push((format!("terraform {}", args[0]), text.clone()));
        (out.status.success(), text)
    }

    pub fn run_ok(&mut self, args: &[&str]) -> String {
        let (ok, text) = self.run(args);
        assert!(ok, "terraform {} failed:\n{text}", args.join(" "));
        text
    }

    /// Runs terraform expecting failure; returns its output.
    pub fn run_err(&mut self, args: &[&str]) -> String {
        let (ok, text) = self.run(args);
        assert!(!ok, "terraform {} should have failed:\n{text}", args.join(" "));
        text
    }

    pub fn apply(&mut self) -> String {
        self.run_ok(&["apply", "-auto-approve", "-input=false", "-no-color"])
    }

    pub fn apply_err(&mut self) -> String {
        self.run_err(&["apply", "-auto-approve", "-input=false", "-no-color"])
    }

    /// `terraform show -json`: not kept with the outputs, since it shows the state's stored
    /// secrets by design; callers scan it for what must not be there.
    pub fn show_json(&mut self) -> serde_json::Value {
        let out = self.ws.run(&["show", "-json", "-no-color"]);
        assert!(out.status.success(), "terraform show failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("show -json")
    }

    /// Lines the provider wrote (its hclog lines and any raw stderr), as Terraform logged them.
    pub fn provider_log(&self) -> String {
        self.log_lines(true)
    }

    /// Terraform's own log lines.
    pub fn core_log(&self) -> String {
        self.log_lines(false)
    }

    fn log_lines(&self, provider: bool) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        assert!(!log.is_empty(), "terraform wrote no log to {}", self.log_path.display());
        log.lines()
            .filter(|line| line.contains("provider.terraform-provider-gitopsbridge") == provider)
            .map(|line| format!("{line}\n"))
            .collect()
    }

    /// Scans every kept output and the log (provider lines and Terraform's own) for `secrets`.
    pub fn scan_outputs_and_log(&self, scanner: &mut Scanner, secrets: &[Secret]) {
        for (label, text) in &self.outputs {
            scanner.scan(&format!("{label} output"), text, secrets);
        }
        let provider_log = self.provider_log();
        assert!(provider_log.contains("rpc finished"), "the provider logged at trace level");
        scanner.scan("provider log", &provider_log, secrets);
        scanner.scan("terraform core log", &self.core_log(), secrets);
    }
}
