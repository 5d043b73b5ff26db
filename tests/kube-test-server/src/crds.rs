//! Where Argo CD's CRDs come from. A clone with nothing beside it must still run the tests and the
//! demo, so each CRD is looked up in order:
//!
//! 1. an environment variable (`KUBE_TEST_SERVER_CRD` or `APPSET_CRD` for the ApplicationSet CRD,
//!    `KUBE_TEST_SERVER_APPLICATION_CRD` or `APPLICATION_CRD` for the Application CRD); the value
//!    `off` asks for no schema validation of that kind;
//! 2. `shared/argocd/<file>` beside the nearest ancestor of this crate that has it;
//! 3. `<target dir>/argocd-crds/<file>`, the pinned copy `scripts/argocd_crds.py` downloads and
//!    checks against its SHA-256 before it puts it there;
//! 4. nothing: the server still serves Argo CD's kinds, without schema validation, and says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The ApplicationSet CRD's file name, in `shared/argocd/` and in the downloaded copy.
pub const APPLICATIONSET_CRD_FILE: &str = "applicationset-crd.yaml";
/// The Application CRD's file name.
pub const APPLICATION_CRD_FILE: &str = "application-crd.yaml";
/// Where `scripts/argocd_crds.py` puts the verified copies, under the cargo target directory.
pub const DOWNLOAD_DIR: &str = "argocd-crds";

const APPLICATIONSET_VARS: [&str; 2] = ["KUBE_TEST_SERVER_CRD", "APPSET_CRD"];
const APPLICATION_VARS: [&str; 2] = ["KUBE_TEST_SERVER_APPLICATION_CRD", "APPLICATION_CRD"];

/// How one CRD was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrdOrigin {
    /// Named by this environment variable (or the binary's flag).
    Env(String),
    /// `shared/argocd/` beside an ancestor directory.
    Shared,
    /// The checked download under the target directory.
    Downloaded,
    /// Turned off by `<variable>=off`.
    Off(String),
    /// Not found anywhere.
    Missing,
}

/// Argo CD's two CRDs as the lookup found them; `None` = serve that kind without validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgoCdCrds {
    pub applicationset: Option<PathBuf>,
    pub application: Option<PathBuf>,
    pub applicationset_origin: CrdOrigin,
    pub application_origin: CrdOrigin,
}

impl ArgoCdCrds {
    /// Neither CRD: Argo CD's kinds are served and accept any object.
    pub fn none() -> ArgoCdCrds {
        ArgoCdCrds {
            applicationset: None,
            application: None,
            applicationset_origin: CrdOrigin::Missing,
            application_origin: CrdOrigin::Missing,
        }
    }

    /// The one line that says validation is off for a kind, or `None` when both CRDs were found.
    pub fn notice(&self) -> Option<String> {
        let mut missing = Vec::new();
        let mut off = Vec::new();
        for (file, origin) in
            [(APPLICATIONSET_CRD_FILE, &self.applicationset_origin), (APPLICATION_CRD_FILE, &self.application_origin)]
        {
            match origin {
                CrdOrigin::Missing => missing.push(file),
                CrdOrigin::Off(var) => off.push(format!("{var}=off")),
                _ => {}
            }
        }
        if missing.is_empty() && off.is_empty() {
            return None;
        }
        let mut why = Vec::new();
        if !missing.is_empty() {
            why.push(format!(
                "{} not found in $APPSET_CRD/$APPLICATION_CRD, shared/argocd/ or target/{DOWNLOAD_DIR}/ \
                 (scripts/argocd_crds.py downloads them)",
                missing.join(" and ")
            ));
        }
        if !off.is_empty() {
            why.push(off.join(", "));
        }
        let kinds = match (self.applicationset.is_none(), self.application.is_none()) {
            (true, true) => "",
            (true, false) => " for ApplicationSets",
            (false, _) => " for Applications",
        };
        Some(format!("kube-test-server: Argo CD CRDs: {}: schema validation off{kinds}", why.join("; ")))
    }
}

/// The places the lookup reads; `CrdLookup::from_environment()` is what the server and its binary use.
#[derive(Clone, Debug)]
pub struct CrdLookup {
    /// Environment variables (only the CRD ones are read).
    pub env: BTreeMap<String, String>,
    /// The search for `shared/argocd/` starts here and goes up.
    pub search_from: PathBuf,
    /// The cargo target directory holding `argocd-crds/`.
    pub target_dir: PathBuf,
}

impl CrdLookup {
    /// This process's environment, this crate's directory, and `CARGO_TARGET_DIR` or the
    /// workspace's `target/`.
    pub fn from_environment() -> CrdLookup {
        let env = APPLICATIONSET_VARS
            .iter()
            .chain(APPLICATION_VARS.iter())
            .chain(["CARGO_TARGET_DIR"].iter())
            .filter_map(|name| std::env::var(name).ok().map(|value| (name.to_string(), value)))
            .collect::<BTreeMap<_, _>>();
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let workspace = manifest.parent().and_then(Path::parent).unwrap_or(manifest);
        let target_dir = env
            .get("CARGO_TARGET_DIR")
            .filter(|dir| !dir.is_empty())
            .map(|dir| workspace.join(dir))
            .unwrap_or_else(|| workspace.join("target"));
        CrdLookup { env, search_from: manifest.to_path_buf(), target_dir }
    }

    pub fn find(&self) -> ArgoCdCrds {
        let (applicationset, applicationset_origin) = self.find_one(APPLICATIONSET_CRD_FILE, &APPLICATIONSET_VARS);
        let (application, application_origin) = self.find_one(APPLICATION_CRD_FILE, &APPLICATION_VARS);
        ArgoCdCrds { applicationset, application, applicationset_origin, application_origin }
    }

    fn find_one(&self, file: &str, vars: &[&str]) -> (Option<PathBuf>, CrdOrigin) {
        for var in vars {
            match self.env.get(*var).map(String::as_str) {
                None | Some("") => {}
                Some("off") => return (None, CrdOrigin::Off(var.to_string())),
                // A path that does not exist is the user's mistake: loading it reports the error.
                Some(path) => return (Some(PathBuf::from(path)), CrdOrigin::Env(var.to_string())),
            }
        }
        if let Some(path) =
            self.search_from.ancestors().map(|dir| dir.join("shared/argocd").join(file)).find(|path| path.is_file())
        {
            return (Some(path), CrdOrigin::Shared);
        }
        let downloaded = self.target_dir.join(DOWNLOAD_DIR).join(file);
        if downloaded.is_file() {
            return (Some(downloaded), CrdOrigin::Downloaded);
        }
        (None, CrdOrigin::Missing)
    }
}

/// Both CRDs, looked up as the module documentation says.
pub fn argocd_crds() -> ArgoCdCrds {
    CrdLookup::from_environment().find()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(dir: &Path, env: &[(&str, &str)]) -> CrdLookup {
        CrdLookup {
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            search_from: dir.join("clone/tests/kube-test-server"),
            target_dir: dir.join("clone/target"),
        }
    }

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x").unwrap();
    }

    #[test]
    fn environment_then_shared_then_download_then_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let nothing = lookup(root, &[]).find();
        assert_eq!(nothing, ArgoCdCrds::none());
        assert!(nothing.notice().unwrap().ends_with("schema validation off"), "{:?}", nothing.notice());

        touch(&root.join("clone/target/argocd-crds/application-crd.yaml"));
        let partly = lookup(root, &[]).find();
        assert_eq!(partly.application_origin, CrdOrigin::Downloaded);
        assert_eq!(partly.applicationset_origin, CrdOrigin::Missing);
        assert!(partly.notice().unwrap().ends_with("schema validation off for ApplicationSets"));

        touch(&root.join("shared/argocd/applicationset-crd.yaml"));
        touch(&root.join("shared/argocd/application-crd.yaml"));
        let shared = lookup(root, &[]).find();
        assert_eq!(shared.applicationset, Some(root.join("shared/argocd/applicationset-crd.yaml")));
        assert_eq!(shared.application, Some(root.join("shared/argocd/application-crd.yaml")));
        assert_eq!(shared.notice(), None);

        let env = lookup(root, &[("APPSET_CRD", "/x/appset.yaml"), ("KUBE_TEST_SERVER_APPLICATION_CRD", "off")]).find();
        assert_eq!(env.applicationset, Some(PathBuf::from("/x/appset.yaml")));
        assert_eq!(env.applicationset_origin, CrdOrigin::Env("APPSET_CRD".into()));
        assert_eq!(env.application, None);
        assert!(env.notice().unwrap().contains("KUBE_TEST_SERVER_APPLICATION_CRD=off"));

        let first_wins = lookup(root, &[("APPSET_CRD", "/b"), ("KUBE_TEST_SERVER_CRD", "/a")]).find();
        assert_eq!(first_wins.applicationset, Some(PathBuf::from("/a")));
    }
}
