//! `wait_for_ready` on `gitopsbridge_cluster_metadata` end to end: real terraform, our provider,
//! and the hub test server playing Argo CD, whose scripted Applications decide when (and
//! whether) the cluster becomes ready.

mod support;

use std::time::Duration;

use kube_test_server::{AppScript, Options, Resource};
use serde_json::Value as Json;
use support::hub::Hub;
use support::interrupt::wait_until;
use support::{Workspace, required_providers};

fn provider_block(hub: &Hub) -> String {
    format!(
        "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    config_path = \"{}\"\n  }}\n}}\n",
        required_providers(),
        hub.kubeconfig().display()
    )
}

/// Green with `wait_for_ready` (its body given), and two ApplicationSets that select it: an
/// addon set templated from the metadata, and a workload set.
fn green(wait: &str, team: &str, timeouts: &str) -> String {
    format!(
        r#"
resource "gitopsbridge_cluster_metadata" "green" {{
  cluster_name = "eks-green"
  environment  = "prod"
  server       = "https://green.example.internal"
  addons       = {{ metrics_server = true }}
  metadata = {{
    addons_repo_url  = "https://github.com/example/addons"
    addons_repo_path = "bootstrap"
    team             = "{team}"
  }}
  wait_for_ready {{
    {wait}
  }}
  timeouts {{
    {timeouts}
  }}
}}

resource "gitopsbridge_addon_set" "addons" {{
  name             = "addons"
  application_name = "addons-{{{{name}}}}"
  cluster_selector {{
    match_labels = {{ enable_metrics_server = "true" }}
  }}
  source {{
    from_metadata = "addons"
  }}
}}

resource "gitopsbridge_addon_set" "workloads" {{
  name             = "workloads"
  application_name = "workloads-{{{{name}}}}"
  cluster_selector {{
    match_labels = {{ environment = "prod" }}
  }}
  source {{
    repo_url = "https://github.com/example/workloads"
    path     = "apps"
  }}
}}
"#
    )
}

fn application(hub: &Hub, name: &str) -> Json {
    hub.server().get(Resource::Application, "argocd", name).unwrap_or_else(|| panic!("Application {name} missing"))
}

fn health(hub: &Hub, name: &str) -> String {
    application(hub, name)["status"]["health"]["status"].as_str().unwrap_or_default().to_string()
}

fn list_requests(hub: &Hub) -> u64 {
    hub.server().requests().counts.get("list applications").copied().unwrap_or(0)
}

#[test]
fn the_apply_returns_once_the_applications_are_healthy() {
    let hub = Hub::start();
    hub.server().script_applications("*-eks-green", AppScript::progressing_then_healthy(3));
    let ws = Workspace::new(&(provider_block(&hub) + &green("min_applications = 2", "platform", "")));
    ws.apply();

    // The stand-in turns an Application Healthy only after it was read three times: the apply
    // kept reading until it was.
    assert_eq!(health(&hub, "addons-eks-green"), "Healthy");
    assert_eq!(health(&hub, "workloads-eks-green"), "Healthy");
    assert!(list_requests(&hub) >= 3, "{:?}", hub.server().requests().counts);
    ws.assert_plan_empty();
}

#[test]
fn an_update_is_not_fooled_by_the_healthy_status_from_before_it() {
    let hub = Hub::start();
    let ws = Workspace::new(&(provider_block(&hub) + &green("failure_grace = \"0s\"", "platform", "")));
    ws.apply();
    assert_eq!(health(&hub, "addons-eks-green"), "Healthy");
    let reconciled_before = application(&hub, "addons-eks-green")["status"]["reconciledAt"].clone();

    // The change breaks the cluster, but only a comparison after it can tell: the annotation
    // changes no Application's spec, so Argo CD keeps the old Healthy status until asked to
    // refresh. A wait that took that status would return at once and succeed.
    hub.server().script_applications("addons-eks-green", AppScript::degraded("broken by the change"));
    ws.write("main.tf", &(provider_block(&hub) + &green("failure_grace = \"0s\"", "payments", "")));
    let out = ws.apply_err();
    assert!(out.contains("Cluster not ready: Applications failing"), "{out}");
    assert!(out.contains("argocd/addons-eks-green: Degraded: broken by the change"), "{out}");
    let after = application(&hub, "addons-eks-green");
    assert_ne!(after["status"]["reconciledAt"], reconciled_before, "the wait asked Argo CD to compare again");
    assert!(after["metadata"]["annotations"].get("argocd.argoproj.io/refresh").is_none(), "refresh was served");
    // The write happened and is kept.
    assert_eq!(hub.secret("argocd", "eks-green").unwrap()["metadata"]["annotations"]["team"], "payments");
    assert_eq!(ws.resource("gitopsbridge_cluster_metadata.green")["metadata"]["team"], "payments");
}

#[test]
fn a_degraded_application_fails_the_apply_early() {
    let hub = Hub::start();
    hub.server().script_applications("workloads-eks-green", AppScript::degraded("0 of 2 replicas ready"));
    let ws = Workspace::new(&(provider_block(&hub) + &green("failure_grace = \"0s\"", "platform", "create = \"10m\"")));
    let out = ws.apply_err();
    assert!(out.contains("Cluster not ready: Applications failing"), "{out}");
    assert!(out.contains("argocd/workloads-eks-green: Degraded: 0 of 2 replicas ready"), "{out}");
    assert!(!out.contains("addons-eks-green"), "a healthy Application is not named: {out}");
    assert!(out.contains("The cluster Secret was written and stays in state."), "{out}");
    assert!(hub.secret("argocd", "eks-green").is_some());
    // Terraform keeps a create that failed after its write, tainted.
    let state = ws.state();
    let green = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "gitopsbridge_cluster_metadata.green")
        .cloned()
        .expect("green in state");
    assert_eq!(green["tainted"], true, "{green}");
}

#[test]
fn a_failed_sync_fails_the_apply_early() {
    let hub = Hub::start();
    hub.server().script_applications("addons-eks-green", AppScript::sync_failed("one or more objects failed to apply"));
    let ws = Workspace::new(&(provider_block(&hub) + &green("failure_grace = \"0s\"", "platform", "create = \"10m\"")));
    let out = ws.apply_err();
    assert!(out.contains("argocd/addons-eks-green: sync Failed: one or more objects failed to apply"), "{out}");
}

#[test]
fn the_timeout_lists_what_is_not_ready() {
    let hub = Hub::start();
    hub.server().script_applications("addons-eks-green", AppScript::progressing_then_healthy(1_000_000));
    let ws = Workspace::new(&(provider_block(&hub) + &green("", "platform", "create = \"4s\"")));
    let out = ws.apply_err();
    assert!(out.contains("Timed out waiting for the cluster to be ready"), "{out}");
    assert!(out.contains("was not ready within the create timeout (4s)"), "{out}");
    assert!(out.contains("argocd/addons-eks-green: Progressing"), "{out}");
    assert!(!out.contains("workloads-eks-green:"), "a ready Application is not listed: {out}");
    assert!(out.contains("Raise timeouts.create"), "{out}");
}

#[test]
fn a_hub_without_argo_cd_names_the_missing_crd() {
    let hub = Hub::with_options(Options::default());
    let spoke = r#"
resource "gitopsbridge_cluster_metadata" "green" {
  cluster_name = "eks-green"
  server       = "https://green.example.internal"
  wait_for_ready {}
}
"#;
    let ws = Workspace::new(&(provider_block(&hub) + spoke));
    let out = ws.apply_err();
    assert!(out.contains("applications.argoproj.io"), "{out}");
    assert!(hub.secret("argocd", "eks-green").is_some(), "the metadata write itself works");
}

#[test]
fn ctrl_c_ends_the_wait_and_keeps_the_write() {
    let hub = Hub::start();
    hub.server().script_applications("addons-eks-green", AppScript::progressing_then_healthy(1_000_000));
    let ws = Workspace::new(&(provider_block(&hub) + &green("", "platform", "create = \"10m\"")));
    let apply = ws.spawn(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    // Waiting: the Secret is written and the provider keeps listing Applications.
    assert!(
        wait_until(Duration::from_secs(120), || hub.secret("argocd", "eks-green").is_some()
            && list_requests(&hub) >= 2),
        "the apply never started waiting"
    );
    apply.interrupt();
    let (_, out) = apply.wait(Duration::from_secs(60));
    assert!(out.contains("Stopped waiting for the cluster to be ready"), "{out}");
    assert!(out.contains("still not ready:\n  - argocd/addons-eks-green: "), "{out}");
    assert!(hub.secret("argocd", "eks-green").is_some());
    assert_eq!(ws.resource("gitopsbridge_cluster_metadata.green")["cluster_name"], "eks-green");
}
