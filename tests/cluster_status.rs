//! Argo CD's view of a cluster end to end: real terraform, our provider, and the hub test
//! server playing Argo CD (its ApplicationSet controller generates the Applications, scripted
//! statuses stand in for the application controller).

mod support;

use kube_test_server::{AppScript, Options};
use serde_json::Value as Json;
use support::hub::Hub;
use support::{Workspace, required_providers};

fn provider_block(hub: &Hub) -> String {
    format!(
        "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    config_path = \"{}\"\n  }}\n}}\n",
        required_providers(),
        hub.kubeconfig().display()
    )
}

/// Two clusters and the GitOps Bridge addon set: each cluster gets one Application per set,
/// named `<set>-<cluster>`.
const CLUSTERS: &str = r#"
resource "gitopsbridge_cluster_metadata" "green" {
  cluster_name = "eks-green"
  environment  = "prod"
  server       = "https://green.example.internal"
  addons       = { metrics_server = true }
  metadata     = { addons_repo_url = "https://github.com/example/addons", addons_repo_path = "bootstrap" }
}

resource "gitopsbridge_cluster_metadata" "blue" {
  cluster_name = "eks-blue"
  environment  = "prod"
  server       = "https://blue.example.internal"
  addons       = { metrics_server = true }
  metadata     = { addons_repo_url = "https://github.com/example/addons", addons_repo_path = "bootstrap" }
}

resource "gitopsbridge_addon_set" "addons" {
  name             = "addons"
  application_name = "addons-{{name}}"
  cluster_selector {
    match_labels = { enable_metrics_server = "true" }
  }
  source {
    from_metadata = "addons"
  }
}

resource "gitopsbridge_addon_set" "workloads" {
  name             = "workloads"
  application_name = "workloads-{{name}}"
  cluster_selector {
    match_labels = { environment = "prod" }
  }
  source {
    repo_url = "https://github.com/example/workloads"
    path     = "apps"
  }
}
"#;

const STATUS_OF_GREEN: &str = r#"
data "gitopsbridge_cluster_status" "green" {
  cluster_name = "eks-green"
}

output "green" {
  value = data.gitopsbridge_cluster_status.green
}
"#;

fn output(ws: &Workspace, name: &str) -> Json {
    let out = ws.run_ok(&["output", "-json", name]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("output {name}: {e}: {out}"))
}

/// Applies the clusters and sets, then reads the status in a second root-level apply (the data
/// source reads during plan, so it must see Applications that already exist).
fn green_status(hub: &Hub) -> (Workspace, Json) {
    let ws = Workspace::new(&(provider_block(hub) + CLUSTERS));
    ws.apply();
    ws.write("status.tf", STATUS_OF_GREEN);
    ws.apply();
    let status = output(&ws, "green");
    (ws, status)
}

fn app_names(status: &Json) -> Vec<&str> {
    status["applications"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect()
}

#[test]
fn a_ready_cluster_lists_only_its_own_applications() {
    let hub = Hub::start();
    let (_ws, status) = green_status(&hub);

    assert_eq!(status["found"], true);
    assert_eq!(status["id"], "argocd/eks-green");
    assert_eq!(status["server"], "https://green.example.internal");
    assert_eq!(app_names(&status), ["addons-eks-green", "workloads-eks-green"], "blue's Applications are not green's");
    assert_eq!(status["application_count"], 2);
    assert_eq!(status["healthy_count"], 2);
    assert_eq!(status["synced_count"], 2);
    assert_eq!(status["ready"], true, "{status}");
    assert_eq!(status["not_ready"], serde_json::json!([]));
    let addons = &status["applications"][0];
    assert_eq!(addons["application_set"], "addons");
    assert_eq!(addons["namespace"], "argocd");
    assert_eq!(addons["health_status"], "Healthy");
    assert_eq!(addons["sync_status"], "Synced");
    assert_eq!(addons["operation_phase"], "Succeeded");
    assert!(addons["reconciled_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{addons}");
}

#[test]
fn a_progressing_cluster_is_not_ready_and_says_why() {
    let hub = Hub::start();
    hub.server().script_applications("workloads-*", AppScript::progressing_then_healthy(1_000));
    let (_ws, status) = green_status(&hub);

    assert_eq!(status["ready"], false);
    assert_eq!(status["healthy_count"], 1);
    let workloads = &status["applications"][1];
    assert_eq!(workloads["health_status"], "Progressing");
    let not_ready: Vec<&str> = status["not_ready"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(not_ready.len(), 1, "{not_ready:?}");
    assert!(not_ready[0].starts_with("argocd/workloads-eks-green: Progressing"), "{not_ready:?}");
}

#[test]
fn a_degraded_cluster_carries_argo_cds_message() {
    let hub = Hub::start();
    hub.server()
        .script_applications("addons-eks-green", AppScript::degraded("Deployment metrics-server: 0 of 2 ready"));
    let (_ws, status) = green_status(&hub);

    assert_eq!(status["ready"], false);
    let addons = &status["applications"][0];
    assert_eq!(addons["health_status"], "Degraded");
    assert_eq!(addons["health_message"], "Deployment metrics-server: 0 of 2 ready");
    assert_eq!(status["not_ready"][0], "argocd/addons-eks-green: Degraded: Deployment metrics-server: 0 of 2 ready");
}

#[test]
fn a_failed_sync_is_not_ready() {
    let hub = Hub::start();
    hub.server()
        .script_applications("workloads-eks-green", AppScript::sync_failed("one or more objects failed to apply"));
    let (_ws, status) = green_status(&hub);

    assert_eq!(status["ready"], false);
    let workloads = &status["applications"][1];
    assert_eq!(workloads["operation_phase"], "Failed");
    assert_eq!(workloads["operation_message"], "one or more objects failed to apply");
}

#[test]
fn required_applications_and_a_minimum_count() {
    let hub = Hub::start();
    let ws = Workspace::new(&(provider_block(&hub) + CLUSTERS));
    ws.apply();
    ws.write(
        "status.tf",
        r#"
data "gitopsbridge_cluster_status" "green" {
  cluster_name          = "eks-green"
  required_applications = ["addons-*", "guestbook-*"]
  min_applications      = 3
}
output "green" {
  value = data.gitopsbridge_cluster_status.green
}
"#,
    );
    ws.apply();
    let status = output(&ws, "green");
    assert_eq!(status["ready"], false);
    assert_eq!(
        status["not_ready"],
        serde_json::json!([
            "2 Application(s) target the cluster, at least 3 required",
            "no Application matches \"guestbook-*\" yet"
        ])
    );
}

#[test]
fn a_missing_cluster_is_an_error_unless_allowed() {
    let hub = Hub::start();
    let ws = Workspace::new(&(provider_block(&hub) + STATUS_OF_GREEN));
    let out = ws.plan_err();
    assert!(out.contains("Cluster not found"), "{out}");
    assert!(out.contains("cluster_name"), "{out}");

    ws.write(
        "main.tf",
        &(provider_block(&hub)
            + r#"
data "gitopsbridge_cluster_status" "green" {
  cluster_name = "eks-green"
  must_exist   = false
}
output "green" {
  value = data.gitopsbridge_cluster_status.green
}
"#),
    );
    ws.apply();
    let status = output(&ws, "green");
    assert_eq!(status["found"], false);
    assert_eq!(status["ready"], false);
    assert_eq!(status["application_count"], 0);
}

#[test]
fn a_hub_without_the_application_crd_names_it() {
    // Argo CD not installed: no ApplicationSets, no Applications.
    let hub = Hub::with_options(Options::default());
    let spoke = r#"
resource "gitopsbridge_cluster_metadata" "green" {
  cluster_name = "eks-green"
  server       = "https://green.example.internal"
}
"#;
    let ws = Workspace::new(&(provider_block(&hub) + spoke));
    ws.apply();
    assert!(hub.secret("argocd", "eks-green").is_some(), "the metadata write works without Argo CD");
    ws.write("status.tf", STATUS_OF_GREEN);
    let out = ws.plan_err();
    assert!(out.contains("applications.argoproj.io"), "{out}");
}

#[test]
fn many_readers_share_one_listing() {
    let hub = Hub::start();
    let ws = Workspace::new(&(provider_block(&hub) + CLUSTERS));
    ws.apply();
    let readers: String = (0..20)
        .map(|i| {
            let cluster = if i % 2 == 0 { "eks-green" } else { "eks-blue" };
            format!(
                "data \"gitopsbridge_cluster_status\" \"s{i}\" {{\n  cluster_name = \"{cluster}\"\n}}\n\
                 data \"gitopsbridge_cluster_metadata\" \"m{i}\" {{\n  cluster_name = \"{cluster}\"\n}}\n"
            )
        })
        .collect();
    ws.write("status.tf", &readers);
    hub.server().reset_requests();
    ws.run_ok(&["plan", "-input=false", "-no-color", "-refresh=false"]);
    let stats = hub.server().requests();
    let count = |key: &str| stats.counts.get(key).copied().unwrap_or(0);
    // One listing of cluster Secrets and one of Applications for all twenty status readers and
    // the twenty metadata readers beside them.
    assert_eq!(count("list applications"), 1, "{:?}", stats.counts);
    assert_eq!(count("list secrets"), 1, "{:?}", stats.counts);
    assert_eq!(count("get applications"), 0, "{:?}", stats.counts);
    assert_eq!(count("get secrets"), 0, "{:?}", stats.counts);
}
