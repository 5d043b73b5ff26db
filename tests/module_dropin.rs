//! The gitops-bridge module's own `addons` and `metadata` maps, as its EKS getting-started example
//! builds them, go into `gitopsbridge_cluster_metadata` unchanged and give the Secret the module
//! writes; a Secret the module wrote imports with those maps as the configuration and plans empty.

mod support;

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Value as Json, json};
use support::hub::Hub;
use support::{Workspace, required_providers};

fn provider_block(hub: &Hub) -> String {
    format!(
        "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    config_path = \"{}\"\n  }}\n}}\n",
        required_providers(),
        hub.kubeconfig().display()
    )
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn decoded(secret: &Json, key: &str) -> String {
    let raw = secret["data"][key].as_str().unwrap_or_else(|| panic!("data.{key} missing in {secret}"));
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(raw).expect("base64")).expect("utf-8")
}

/// The maps as the module's getting-started example builds them (`aws_addons`, `oss_addons`, the
/// Kubernetes version and cluster name merged in; metadata from the blueprints addons'
/// `gitops_metadata`, AWS facts and the addons repository), with an `aws_enable_*` flag as one
/// version of the control-plane template selects it.
const MODULE_LOCALS: &str = r#"
locals {
  name            = "getting-started"
  cluster_version = "1.31"
  region          = "us-west-2"

  aws_addons = {
    enable_aws_load_balancer_controller = true
    enable_karpenter                    = false
    aws_enable_efs_csi_driver           = true
  }
  oss_addons = {
    enable_argocd         = true
    enable_metrics_server = true
  }
  addons = merge(
    local.aws_addons,
    local.oss_addons,
    { kubernetes_version = local.cluster_version },
    { aws_cluster_name = local.name }
  )

  # What module.eks_blueprints_addons.gitops_metadata gives for the load balancer controller.
  gitops_metadata = {
    aws_load_balancer_controller_iam_role_arn    = "arn:aws:iam::123456789012:role/alb-controller"
    aws_load_balancer_controller_namespace       = "kube-system"
    aws_load_balancer_controller_service_account = "aws-load-balancer-controller-sa"
  }
  addons_metadata = merge(
    local.gitops_metadata,
    {
      aws_cluster_name = local.name
      aws_region       = local.region
      aws_account_id   = "123456789012"
      aws_vpc_id       = "vpc-0123456789abcdef0"
    },
    {
      addons_repo_url      = "https://github.com/gitops-bridge-dev/gitops-bridge-argocd-control-plane-template"
      addons_repo_basepath = ""
      addons_repo_path     = "bootstrap/control-plane/addons"
      addons_repo_revision = "HEAD"
    }
  )
}
"#;

/// The resource as a module user writes it: the module's maps as they are. The module defaults
/// `environment` to `dev`; the resource has no default, so it is stated.
const RESOURCE: &str = r#"
resource "gitopsbridge_cluster_metadata" "hub" {
  cluster_name = local.name
  environment  = "dev"
  in_cluster   = true
  addons       = local.addons
  metadata     = local.addons_metadata
}
"#;

/// The same maps as JSON, as Terraform hands them to the module (every value a string).
fn module_addons() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("enable_aws_load_balancer_controller", "true"),
        ("enable_karpenter", "false"),
        ("aws_enable_efs_csi_driver", "true"),
        ("enable_argocd", "true"),
        ("enable_metrics_server", "true"),
        ("kubernetes_version", "1.31"),
        ("aws_cluster_name", "getting-started"),
    ])
}

fn module_metadata() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("aws_load_balancer_controller_iam_role_arn", "arn:aws:iam::123456789012:role/alb-controller"),
        ("aws_load_balancer_controller_namespace", "kube-system"),
        ("aws_load_balancer_controller_service_account", "aws-load-balancer-controller-sa"),
        ("aws_cluster_name", "getting-started"),
        ("aws_region", "us-west-2"),
        ("aws_account_id", "123456789012"),
        ("aws_vpc_id", "vpc-0123456789abcdef0"),
        ("addons_repo_url", "https://github.com/gitops-bridge-dev/gitops-bridge-argocd-control-plane-template"),
        ("addons_repo_basepath", ""),
        ("addons_repo_path", "bootstrap/control-plane/addons"),
        ("addons_repo_revision", "HEAD"),
    ])
}

/// The Secret terraform-helm-gitops-bridge writes for `cluster = { cluster_name, environment,
/// addons, metadata }` with no server or config given, from its `main.tf`: labels `cluster_name`,
/// `environment`, `enable_argocd = true`, the secret-type label, then `addons` merged over them
/// verbatim; annotations `cluster_name`, `environment`, then `metadata` verbatim; data `name`,
/// `server` (default the hub itself), `config` (default TLS verified, no credentials).
fn module_secret(cluster_name: &str, environment: &str) -> Json {
    let mut labels = json!({
        "cluster_name": cluster_name,
        "environment": environment,
        "enable_argocd": "true",
        "argocd.argoproj.io/secret-type": "cluster",
    });
    for (key, value) in module_addons() {
        labels[key] = json!(value);
    }
    let mut annotations = json!({"cluster_name": cluster_name, "environment": environment});
    for (key, value) in module_metadata() {
        annotations[key] = json!(value);
    }
    json!({
        "metadata": {"labels": labels, "annotations": annotations},
        "data": {
            "name": b64(cluster_name),
            "server": b64("https://kubernetes.default.svc"),
            "config": b64(r#"{"tlsClientConfig":{"insecure":false}}"#),
        },
    })
}

#[test]
fn the_module_maps_give_the_secret_the_module_writes() {
    let hub = Hub::start();
    let ws = Workspace::new(&(provider_block(&hub) + MODULE_LOCALS + RESOURCE));
    ws.apply();

    let secret = hub.secret("argocd", "getting-started").expect("secret created");
    let expected = module_secret("getting-started", "dev");
    assert_eq!(secret["metadata"]["labels"], expected["metadata"]["labels"], "labels, key for key");
    assert_eq!(secret["metadata"]["annotations"], expected["metadata"]["annotations"], "annotations, key for key");
    let data_keys: Vec<&String> = secret["data"].as_object().expect("data").keys().collect();
    assert_eq!(data_keys, ["config", "name", "server"]);
    assert_eq!(decoded(&secret, "name"), decoded(&expected, "name"));
    assert_eq!(decoded(&secret, "server"), decoded(&expected, "server"));
    let config: Json = serde_json::from_str(&decoded(&secret, "config")).expect("config JSON");
    let expected_config: Json = serde_json::from_str(&decoded(&expected, "config")).unwrap();
    assert_eq!(config, expected_config);

    // State keeps the maps as given, so the next plan is empty.
    let state = ws.resource("gitopsbridge_cluster_metadata.hub");
    assert_eq!(state["addons"], json!(module_addons()));
    ws.assert_plan_empty();

    // A flag flipped in the module's map changes just that label.
    ws.write(
        "main.tf",
        &(provider_block(&hub)
            + &MODULE_LOCALS.replace("enable_karpenter                    = false", "enable_karpenter = true")
            + RESOURCE),
    );
    ws.apply();
    let labels = &hub.secret("argocd", "getting-started").unwrap()["metadata"]["labels"];
    assert_eq!(labels["enable_karpenter"], "true");
    assert_eq!(labels["kubernetes_version"], "1.31");
    ws.assert_plan_empty();
}

#[test]
fn a_secret_the_module_wrote_imports_with_the_module_maps_and_plans_empty() {
    let hub = Hub::start();
    hub.apply_as("terraform-kubernetes", "argocd", "getting-started", module_secret("getting-started", "dev"));
    let writes_before = hub.writes();

    let ws = Workspace::new(&(provider_block(&hub) + MODULE_LOCALS + RESOURCE));
    ws.import("gitopsbridge_cluster_metadata.hub", "argocd/getting-started");
    let state = ws.resource("gitopsbridge_cluster_metadata.hub");
    assert_eq!(state["in_cluster"], true);
    assert_eq!(state["environment"], "dev");
    assert_eq!(state["metadata"], json!(module_metadata()));
    ws.assert_plan_empty();
    assert_eq!(hub.writes(), writes_before, "import and plan must not write");
}

#[test]
fn bad_addon_entries_fail_at_plan_on_their_key_without_writes() {
    let hub = Hub::start();
    let cases = [
        // (text in the locals, its bad replacement, words the error must contain)
        (
            "enable_karpenter                    = false",
            "enable_karpenter = \"maybe\"",
            "\"enable_karpenter\" is a flag: its value must be true or false",
        ),
        (
            "aws_enable_efs_csi_driver           = true",
            "aws_enable_efs_csi_driver = \"yes\"",
            "\"aws_enable_efs_csi_driver\" is a flag: its value must be true or false",
        ),
        (
            "{ kubernetes_version = local.cluster_version }",
            "{ kubernetes_version = \"1.31 or later\" }",
            "The value \"1.31 or later\" of addon \"kubernetes_version\"",
        ),
        (
            "{ aws_cluster_name = local.name }",
            "{ \"bad key!\" = \"x\" }",
            "The addon \"bad key!\" would make the label key",
        ),
    ];
    for (from, to, words) in cases {
        let locals = MODULE_LOCALS.replace(from, to);
        assert_ne!(locals, MODULE_LOCALS, "{from}");
        let ws = Workspace::new(&(provider_block(&hub) + &locals + RESOURCE));
        let err = ws.plan_err();
        // Terraform wraps the detail at 78 columns.
        let flat = err.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(err.contains("Error"), "{to}: {err}");
        assert!(flat.contains(words), "{to}: expected {words:?} in:\n{err}");
        assert!(err.contains("addons       = local.addons"), "{to}: expected the error on `addons`:\n{err}");
    }
    assert_eq!(hub.writes(), 0, "bad input must not write to the hub");
}

/// State written before `addons` became a map of strings (schema version 0, booleans) is read by
/// today's provider: the same configuration plans empty and nothing is written.
#[test]
fn state_with_boolean_addons_from_schema_version_0_upgrades_and_plans_empty() {
    let hub = Hub::start();
    let config = r#"
resource "gitopsbridge_cluster_metadata" "spoke" {
  cluster_name = "spoke"
  server       = "https://spoke.example.internal"
  insecure     = true
  addons       = { metrics_server = true, enable_karpenter = false }
}
"#;
    let ws = Workspace::new(&(provider_block(&hub) + config));
    ws.apply();

    let mut state: Json = serde_json::from_str(&ws.raw_state()).expect("state file");
    let instance = &mut state["resources"][0]["instances"][0];
    assert_eq!(instance["schema_version"], 1);
    assert_eq!(instance["attributes"]["addons"], json!({"metrics_server": "true", "enable_karpenter": "false"}));
    instance["schema_version"] = json!(0);
    instance["attributes"]["addons"] = json!({"metrics_server": true, "enable_karpenter": false});
    ws.write("terraform.tfstate", &state.to_string());

    let writes_before = hub.writes();
    ws.assert_plan_empty();
    assert_eq!(hub.writes(), writes_before, "the upgrade must not write");
    let labels = &hub.secret("argocd", "spoke").unwrap()["metadata"]["labels"];
    assert_eq!(labels["enable_metrics_server"], "true");
    assert_eq!(labels["enable_karpenter"], "false");
}
