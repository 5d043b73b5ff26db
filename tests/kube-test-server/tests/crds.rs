//! Argo CD's CRDs from anywhere: found (env or shared/), downloaded by scripts/argocd_crds.py and
//! checked against the pinned SHA-256 (a local file server stands in for the network), or absent
//! (the server runs without schema validation and says so once).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{client_from_kubeconfig, raw, start};
use kube_test_server::{ArgoCdCrds, CrdLookup, CrdOrigin, Options, Resource, argocd_crds};
use serde_json::json;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A small CRD of the right group and kind whose schema requires `spec.project`.
fn tiny_crd(plural: &str, kind: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.argoproj.io
spec:
  group: argoproj.io
  names:
    kind: {kind}
    plural: {plural}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [project]
            properties:
              project:
                type: string
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"
    )
}

fn sha256(data: &[u8]) -> String {
    let mut python = Command::new("python3")
        .args(["-c", "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    python.stdin.take().unwrap().write_all(data).unwrap();
    String::from_utf8(python.wait_with_output().unwrap().stdout).unwrap().trim().to_string()
}

/// Serves the files of `dir` over HTTP/1.0 on 127.0.0.1 from a thread; returns the base URL.
fn file_server(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            BufReader::new(&mut stream).read_line(&mut line).unwrap_or_default();
            let path = line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            let answer = match std::fs::read(dir.join(&path)) {
                Ok(body) => {
                    [format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes(), body].concat()
                }
                Err(_) => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            };
            let _ = stream.write_all(&answer);
        }
    });
    url
}

/// Runs scripts/argocd_crds.py for a clone at `root` with nothing beside it; returns its stderr.
fn fetch_script(root: &Path, url: &str, pins: &str) -> String {
    let mut command = Command::new("python3");
    command
        .arg(repo_root().join("scripts/argocd_crds.py"))
        .args(["--root".as_ref(), root.as_os_str(), "--target".as_ref(), root.join("target").as_os_str()])
        .env("ARGOCD_CRDS_URL", url)
        .env("ARGOCD_CRDS_PINNED", pins)
        .env("ARGOCD_CRDS_TIMEOUT", "3");
    for var in [
        "KUBE_TEST_SERVER_CRD",
        "APPSET_CRD",
        "KUBE_TEST_SERVER_APPLICATION_CRD",
        "APPLICATION_CRD",
        "CARGO_TARGET_DIR",
    ] {
        command.env_remove(var);
    }
    let output = command.output().expect("python3 runs");
    assert!(output.status.success(), "the script never fails the build: {output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn lookup_in(root: &Path) -> ArgoCdCrds {
    CrdLookup { env: Default::default(), search_from: root.to_path_buf(), target_dir: root.join("target") }.find()
}

#[test]
fn this_checkout_finds_the_crds_it_has_beside_it() {
    let shared = repo_root().ancestors().map(|d| d.join("shared/argocd/applicationset-crd.yaml")).find(|p| p.is_file());
    let found = argocd_crds();
    if std::env::var_os("APPSET_CRD").is_none() && std::env::var_os("KUBE_TEST_SERVER_CRD").is_none() {
        match shared {
            Some(path) => {
                assert_eq!(found.applicationset, Some(path));
                assert_eq!(found.applicationset_origin, CrdOrigin::Shared);
            }
            None => assert_ne!(found.applicationset_origin, CrdOrigin::Shared),
        }
    }
}

#[tokio::test]
async fn a_verified_download_is_found_and_validates() {
    let served = tempfile::tempdir().unwrap();
    let appset = tiny_crd("applicationsets", "ApplicationSet");
    let app = tiny_crd("applications", "Application");
    std::fs::write(served.path().join("applicationset-crd.yaml"), &appset).unwrap();
    std::fs::write(served.path().join("application-crd.yaml"), &app).unwrap();
    let url = file_server(served.path().to_path_buf());
    let clone = tempfile::tempdir().unwrap();
    let pins = format!(
        "applicationset-crd.yaml={} application-crd.yaml={}",
        sha256(appset.as_bytes()),
        sha256(app.as_bytes())
    );

    let said = fetch_script(clone.path(), &url, &pins);
    assert!(said.contains("downloaded and verified"), "{said}");
    let crds = lookup_in(clone.path());
    assert_eq!(crds.application_origin, CrdOrigin::Downloaded);
    assert_eq!(crds.applicationset, Some(clone.path().join("target/argocd-crds/applicationset-crd.yaml")));
    assert_eq!(crds.notice(), None);

    // A second run finds the verified copies and fetches nothing.
    let again = fetch_script(clone.path(), "http://127.0.0.1:9/unreachable", &pins);
    assert!(again.is_empty(), "{again}");

    // The server validates against the downloaded CRDs.
    let h = start(Options::default().with_argocd_crds(&crds)).await;
    let no_project = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "x"}, "spec": {}});
    let path = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications";
    let refused = raw(&h.client, "POST", path, Some("application/json"), &no_project.to_string()).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
}

#[test]
fn a_download_with_the_wrong_checksum_is_refused() {
    let served = tempfile::tempdir().unwrap();
    std::fs::write(served.path().join("applicationset-crd.yaml"), "tampered").unwrap();
    std::fs::write(served.path().join("application-crd.yaml"), "tampered").unwrap();
    let url = file_server(served.path().to_path_buf());
    let clone = tempfile::tempdir().unwrap();
    // The real pins: "tampered" is not Argo CD's CRD.
    let said = fetch_script(clone.path(), &url, "");
    assert_eq!(said.matches("refused, not used").count(), 2, "{said}");
    assert!(!clone.path().join("target/argocd-crds/applicationset-crd.yaml").exists());
    assert_eq!(lookup_in(clone.path()), ArgoCdCrds::none());
}

#[test]
fn no_network_is_not_an_error() {
    let clone = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let said = fetch_script(clone.path(), &format!("http://127.0.0.1:{port}"), "");
    // One try: the second file does not wait for the timeout again.
    assert_eq!(said.matches("cannot fetch").count(), 1, "{said}");
    assert_eq!(said.matches("not fetched either").count(), 1, "{said}");
    assert_eq!(lookup_in(clone.path()), ArgoCdCrds::none());
}

#[test]
fn shared_beside_an_ancestor_needs_no_download() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared/argocd");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("applicationset-crd.yaml"), "x").unwrap();
    std::fs::write(shared.join("application-crd.yaml"), "x").unwrap();
    let clone = dir.path().join("work/clone");
    std::fs::create_dir_all(&clone).unwrap();
    let said = fetch_script(&clone, "http://127.0.0.1:9/never-asked", "");
    assert!(said.is_empty(), "{said}");
    assert_eq!(lookup_in(&clone).applicationset_origin, CrdOrigin::Shared);
}

#[tokio::test]
async fn without_crds_argocd_kinds_accept_anything() {
    let h = start(Options::default().with_argocd_crds(&ArgoCdCrds::none())).await;
    let odd = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "odd"}, "spec": {"generators": "not a list", "whatever": 1}});
    let path = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applicationsets";
    let created = raw(&h.client, "POST", path, Some("application/json"), &odd.to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["spec"]["whatever"], 1);
    // The controller reports what it cannot use instead of failing the write.
    let stored = h.server.get(Resource::ApplicationSet, "argocd", "odd").unwrap();
    assert_eq!(stored["status"]["conditions"][0]["type"], "ErrorOccurred");
    assert_eq!(stored["status"]["conditions"][0]["status"], "True");
    let app =
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"}, "spec": 3});
    let path = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications";
    assert_eq!(raw(&h.client, "POST", path, Some("application/json"), &app.to_string()).await.status, 201);
}

#[tokio::test]
async fn the_binary_says_once_that_validation_is_off_and_serves_argocd_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-test-server"))
        .args(["--argocd".as_ref(), "--kubeconfig".as_ref(), kubeconfig.as_os_str()])
        .env("APPSET_CRD", "off")
        .env("APPLICATION_CRD", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on https://127.0.0.1:"), "{line}");

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = client_from_kubeconfig(&kubeconfig, false).await;
    let app =
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"}, "spec": {}});
    let path = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications";
    assert_eq!(raw(&client, "POST", path, Some("application/json"), &app.to_string()).await.status, 201);

    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("schema validation off")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("kube-test-server: Argo CD CRDs: "), "{}", lines[0]);
    assert!(lines[0].contains("APPSET_CRD=off"), "{}", lines[0]);
}
