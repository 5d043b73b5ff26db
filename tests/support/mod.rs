//! End-to-end harness: the real `terraform` binary, our provider from a filesystem mirror, and
//! a Kubernetes API test server standing in for the hub.
//!
//! Each test gets its own hub and working directory, so tests run in parallel without sharing
//! anything but the mirror, which is built once per test binary.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod corpus;
pub mod fleet;
pub mod green;
pub mod hub;
pub mod interrupt;
pub mod leaks;
pub mod moto;
pub mod moto_changes;
pub mod outcome;
pub mod route53_double;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value as Json;
use tempfile::TempDir;

pub const SOURCE: &str = "registry.terraform.io/gitops-bridge/gitopsbridge";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The provider binary installed into a filesystem mirror plus a CLI config pointing at it.
struct Mirror {
    cli_config: PathBuf,
}

/// One mirror under cargo's target dir, shared by every test binary and replaced in place. A
/// temporary directory per binary would leak a copy of the provider each run: statics are never
/// dropped. Files are written beside their final name and renamed, so test binaries starting
/// at the same time never see a half-written file.
fn mirror() -> &'static Mirror {
    static MIRROR: OnceLock<Mirror> = OnceLock::new();
    MIRROR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("terraform-mirror");
        let platform = format!("{}_{}", std::env::consts::OS, go_arch());
        let plugin_dir = dir.join(SOURCE).join(VERSION).join(platform);
        std::fs::create_dir_all(&plugin_dir).expect("mirror dir");
        let binary = env!("CARGO_BIN_EXE_terraform-provider-gitopsbridge");
        let installed = plugin_dir.join(format!("terraform-provider-gitopsbridge_v{VERSION}"));
        let staged = plugin_dir.join(format!(".staged-{}", std::process::id()));
        std::fs::copy(binary, &staged).expect("copy provider into mirror");
        std::fs::rename(&staged, &installed).expect("install provider into mirror");
        let cli_config = dir.join("terraform.rc");
        let staged = dir.join(format!(".terraform.rc-{}", std::process::id()));
        std::fs::write(
            &staged,
            format!(
                r#"provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["{SOURCE}"]
  }}
  direct {{
    exclude = ["{SOURCE}"]
  }}
}}
"#,
                mirror = dir.display()
            ),
        )
        .expect("write CLI config");
        std::fs::rename(&staged, &cli_config).expect("install CLI config");
        Mirror { cli_config }
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The `terraform { required_providers { … } }` block every test configuration starts with.
pub fn required_providers() -> String {
    format!(
        r#"terraform {{
  required_providers {{
    gitopsbridge = {{
      source  = "gitops-bridge/gitopsbridge"
      version = "{VERSION}"
    }}
  }}
}}
"#
    )
}

/// One Terraform working directory.
pub struct Workspace {
    dir: TempDir,
    env: Vec<(String, String)>,
}

/// What a `terraform plan -detailed-exitcode` found.
#[derive(Debug, PartialEq, Eq)]
pub enum PlanOutcome {
    NoChanges,
    Changes(String),
}

impl Workspace {
    /// A working directory with `main.tf`, already initialised.
    pub fn new(main_tf: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("gitopsbridge-e2e").tempdir().expect("temp dir");
        let ws = Workspace { dir, env: Vec::new() };
        ws.write("main.tf", main_tf);
        ws.run_ok(&["init", "-input=false", "-no-color"]);
        ws
    }

    /// A working directory holding a copy of the `.tf` files of `source`, initialised; when
    /// none of them declares `required_providers`, `providers_tf` is added as one more file.
    pub fn from_dir(source: &Path, providers_tf: &str) -> Self {
        let dir = tempfile::Builder::new().prefix("gitopsbridge-e2e").tempdir().expect("temp dir");
        for entry in std::fs::read_dir(source).expect("example dir").flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "tf") {
                std::fs::copy(&path, dir.path().join(entry.file_name())).expect("copy example");
            }
        }
        let declares_providers = std::fs::read_dir(dir.path())
            .expect("copied example")
            .flatten()
            .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("required_providers")));
        if !declares_providers {
            std::fs::write(dir.path().join("providers.tf"), providers_tf).expect("write providers.tf");
        }
        let ws = Workspace { dir, env: Vec::new() };
        ws.run_ok(&["init", "-input=false", "-no-color"]);
        ws
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Adds an environment variable to every later terraform run.
    pub fn env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn write(&self, name: &str, content: &str) {
        std::fs::write(self.dir.path().join(name), content).expect("write config");
    }

    /// A terraform command in this directory, with the test environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("terraform");
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", &mirror().cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PROVIDER")
            .env_remove("KUBECONFIG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("terraform must be installed and on PATH")
    }

    /// Runs terraform and returns stdout; panics with the whole output if it fails.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "terraform {} failed:\n{}", args.join(" "), render(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs terraform expecting failure; returns stdout and stderr together.
    pub fn run_err(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "terraform {} should have failed:\n{}", args.join(" "), render(&out));
        render(&out)
    }

    pub fn apply(&self) -> String {
        self.run_ok(&["apply", "-auto-approve", "-input=false", "-no-color"])
    }

    pub fn apply_err(&self) -> String {
        self.run_err(&["apply", "-auto-approve", "-input=false", "-no-color"])
    }

    pub fn plan(&self) -> PlanOutcome {
        let out = self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
        match out.status.code() {
            Some(0) => PlanOutcome::NoChanges,
            Some(2) => PlanOutcome::Changes(String::from_utf8_lossy(&out.stdout).into_owned()),
            _ => panic!("terraform plan failed:\n{}", render(&out)),
        }
    }

    /// Panics unless the next plan is empty: the acceptance-test rule after every apply.
    pub fn assert_plan_empty(&self) {
        if let PlanOutcome::Changes(plan) = self.plan() {
            panic!("expected an empty plan, got:\n{plan}");
        }
    }

    pub fn plan_err(&self) -> String {
        self.run_err(&["plan", "-input=false", "-no-color"])
    }

    pub fn import(&self, address: &str, id: &str) -> String {
        self.run_ok(&["import", "-input=false", "-no-color", address, id])
    }

    pub fn destroy(&self) -> String {
        self.run_ok(&["destroy", "-auto-approve", "-input=false", "-no-color"])
    }

    /// `terraform show -json` of the current state.
    pub fn state(&self) -> Json {
        serde_json::from_str(&self.run_ok(&["show", "-json", "-no-color"])).expect("state JSON")
    }

    /// The attribute values of one resource in state (`address` like `gitopsbridge_x.y`).
    pub fn resource(&self, address: &str) -> Json {
        let state = self.state();
        let resources = state["values"]["root_module"]["resources"].as_array().cloned().unwrap_or_default();
        resources
            .into_iter()
            .find(|r| r["address"] == address)
            .map(|r| r["values"].clone())
            .unwrap_or_else(|| panic!("{address} not in state"))
    }

    /// The raw state file, for checks that `show -json` would hide (write-only values).
    pub fn raw_state(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("terraform.tfstate")).unwrap_or_default()
    }
}

fn render(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}
