//! `gitopsbridge_cluster_metadata` end to end: real terraform, our provider, a hub test server.

mod support;

use base64::Engine;
use serde_json::{Value as Json, json};
use support::hub::Hub;
use support::{PlanOutcome, Workspace, required_providers};

fn provider_block(hub: &Hub) -> String {
    format!(
        "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    config_path = \"{}\"\n  }}\n}}\n",
        required_providers(),
        hub.kubeconfig().display()
    )
}

fn decoded(secret: &Json, key: &str) -> String {
    let raw = secret["data"][key].as_str().unwrap_or_else(|| panic!("data.{key} missing in {secret}"));
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(raw).expect("base64")).expect("utf-8")
}

const SPOKE: &str = r#"
resource "gitopsbridge_cluster_metadata" "spoke" {
  cluster_name = "spoke-prod"
  environment  = "prod"
  server       = "https://spoke.example.internal"
  ca_data      = "Y2EtZGF0YQ=="

  aws_auth {
    cluster_name = "spoke-prod"
    role_arn     = "arn:aws:iam::123456789012:role/argocd"
  }

  addons = { metrics_server = true, karpenter = false }
  labels = { team = "platform" }
  metadata = {
    addons_repo_url      = "https://github.com/example/addons"
    addons_repo_revision = "HEAD"
  }
}
"#;

#[test]
fn acceptance_rhythm_create_import_update_drift_disappear_destroy() {
    let hub = Hub::start();
    let ws = Workspace::new(&(provider_block(&hub) + SPOKE));

    // Create: the Secret is exactly what Argo CD reads.
    ws.apply();
    let secret = hub.secret("argocd", "spoke-prod").expect("secret created");
    let labels = &secret["metadata"]["labels"];
    assert_eq!(labels["argocd.argoproj.io/secret-type"], "cluster");
    assert_eq!(labels["cluster_name"], "spoke-prod");
    assert_eq!(labels["environment"], "prod");
    assert_eq!(labels["enable_metrics_server"], "true");
    assert_eq!(labels["enable_karpenter"], "false");
    assert_eq!(labels["team"], "platform");
    let annotations = &secret["metadata"]["annotations"];
    assert_eq!(annotations["addons_repo_url"], "https://github.com/example/addons");
    assert_eq!(annotations["cluster_name"], "spoke-prod");
    assert_eq!(annotations["environment"], "prod");
    assert_eq!(decoded(&secret, "name"), "spoke-prod");
    assert_eq!(decoded(&secret, "server"), "https://spoke.example.internal");
    let config: Json = serde_json::from_str(&decoded(&secret, "config")).unwrap();
    assert_eq!(
        config,
        json!({
            "awsAuthConfig": {"clusterName": "spoke-prod", "roleARN": "arn:aws:iam::123456789012:role/argocd"},
            "tlsClientConfig": {"caData": "Y2EtZGF0YQ==", "insecure": false}
        })
    );
    let managers: Vec<&str> = secret["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["terraform-provider-gitopsbridge"]);
    assert_eq!(ws.resource("gitopsbridge_cluster_metadata.spoke")["id"], "argocd/spoke-prod");
    ws.assert_plan_empty();

    // Import into a fresh root yields the same state, and its plan is empty too. Import cannot see
    // the configuration, so labels come back as they are on the Secret, all in `addons`: the
    // configuration that matches an import states them that way.
    let verbatim = SPOKE.replace(
        "addons = { metrics_server = true, karpenter = false }\n  labels = { team = \"platform\" }",
        "addons = { enable_metrics_server = true, enable_karpenter = false, team = \"platform\" }",
    );
    assert_ne!(verbatim, SPOKE);
    let imported = Workspace::new(&(provider_block(&hub) + &verbatim));
    imported.import("gitopsbridge_cluster_metadata.spoke", "argocd/spoke-prod");
    let applied_state = ws.resource("gitopsbridge_cluster_metadata.spoke");
    let imported_state = imported.resource("gitopsbridge_cluster_metadata.spoke");
    for key in ["id", "cluster_name", "environment", "server", "metadata", "secret_name", "namespace", "aws_auth"] {
        assert_eq!(imported_state[key], applied_state[key], "imported {key}");
    }
    assert_eq!(
        imported_state["addons"],
        json!({"enable_metrics_server": "true", "enable_karpenter": "false", "team": "platform"})
    );
    imported.assert_plan_empty();

    // In-place update: flipping an addon and a metadata value is one apply, no replacement.
    ws.write(
        "main.tf",
        &(provider_block(&hub) + &SPOKE.replace("karpenter = false", "karpenter = true").replace("\"HEAD\"", "\"v2\"")),
    );
    match ws.plan() {
        PlanOutcome::Changes(plan) => {
            assert!(plan.contains("update in-place"), "{plan}");
            assert!(!plan.contains("must be replaced"), "{plan}");
            assert!(plan.contains("1 to change"), "{plan}");
        }
        PlanOutcome::NoChanges => panic!("flipping an addon must plan a change"),
    }
    ws.apply();
    let secret = hub.secret("argocd", "spoke-prod").unwrap();
    assert_eq!(secret["metadata"]["labels"]["enable_karpenter"], "true");
    assert_eq!(secret["metadata"]["annotations"]["addons_repo_revision"], "v2");
    ws.assert_plan_empty();

    // Keys other managers add are not ours: no diff.
    hub.apply_as(
        "argocd-controller",
        "argocd",
        "spoke-prod",
        json!({"metadata": {"labels": {"argocd.argoproj.io/auto-label": "x"}, "annotations": {"managed-by": "argocd.argoproj.io"}}}),
    );
    ws.assert_plan_empty();

    // Our own label changed by hand is drift, and apply restores it.
    hub.apply_as("kubectl-edit", "argocd", "spoke-prod", json!({"metadata": {"labels": {"environment": "staging"}}}));
    match ws.plan() {
        PlanOutcome::Changes(plan) => assert!(plan.contains("\"staging\" -> \"prod\""), "{plan}"),
        PlanOutcome::NoChanges => panic!("a hand-edited owned label must show as drift"),
    }
    ws.apply();
    assert_eq!(hub.secret("argocd", "spoke-prod").unwrap()["metadata"]["labels"]["environment"], "prod");

    // Deleted out of band: the plan proposes a create, not an error.
    hub.delete_secret("argocd", "spoke-prod");
    match ws.plan() {
        PlanOutcome::Changes(plan) => assert!(plan.contains("1 to add"), "{plan}"),
        PlanOutcome::NoChanges => panic!("a vanished Secret must be planned for creation"),
    }
    ws.apply();
    assert!(hub.secret("argocd", "spoke-prod").is_some());

    // Destroy leaves nothing.
    ws.destroy();
    assert!(hub.secret("argocd", "spoke-prod").is_none());
    assert!(hub.cluster_secrets("argocd").is_empty());
}

#[test]
fn write_only_token_reaches_the_hub_but_never_the_state() {
    let hub = Hub::start();
    let token = "tok-3f9a1c2e-never-in-state";
    let config = format!(
        r#"{}
resource "gitopsbridge_cluster_metadata" "dev" {{
  cluster_name            = "spoke-dev"
  server                  = "https://dev.example.internal/"
  bearer_token_wo         = "{token}"
  bearer_token_wo_version = 1
}}
"#,
        provider_block(&hub)
    );
    let mut ws = Workspace::new(&config);
    ws.env("TF_LOG_PROVIDER", "trace");
    ws.apply();

    let secret = hub.secret("argocd", "spoke-dev").unwrap();
    let config_json: Json = serde_json::from_str(&decoded(&secret, "config")).unwrap();
    assert_eq!(config_json["bearerToken"], token);
    // Argo CD matches clusters by exact server URL: the trailing slash never reaches the hub,
    // while the state keeps the user's spelling so the next plan stays empty.
    assert_eq!(decoded(&secret, "server"), "https://dev.example.internal");
    assert!(!ws.raw_state().contains(token), "write-only token leaked into the state file");
    assert!(ws.resource("gitopsbridge_cluster_metadata.dev")["bearer_token_wo"].is_null());
    ws.assert_plan_empty();
}

#[test]
fn the_hub_registers_itself_in_cluster() {
    let hub = Hub::start();
    let ws = Workspace::new(
        &(provider_block(&hub)
            + r#"
resource "gitopsbridge_cluster_metadata" "hub" {
  cluster_name = "hub"
  environment  = "control-plane"
  in_cluster   = true
  # Keys pasted from gitops-bridge maps keep their enable_ prefix.
  addons       = { enable_argocd = true, metrics_server = false }
}
"#),
    );
    ws.apply();
    let secret = hub.secret("argocd", "hub").expect("hub secret");
    assert_eq!(decoded(&secret, "server"), "https://kubernetes.default.svc");
    assert_eq!(secret["metadata"]["labels"]["enable_argocd"], "true");
    assert_eq!(secret["metadata"]["labels"]["enable_metrics_server"], "false");
    ws.assert_plan_empty();
}

#[test]
fn create_refuses_to_adopt_an_existing_secret_unless_allowed() {
    let hub = Hub::start();
    hub.apply_as(
        "gitops-bridge-module",
        "argocd",
        "spoke-prod",
        json!({"metadata": {"labels": {"argocd.argoproj.io/secret-type": "cluster"}}, "data": {"name": "c3Bva2UtcHJvZA=="}}),
    );
    let ws = Workspace::new(&(provider_block(&hub) + SPOKE));
    let err = ws.apply_err();
    assert!(err.contains("argocd/spoke-prod"), "{err}");
    assert!(err.contains("allow_overwrite") && err.contains("import"), "{err}");

    ws.write(
        "main.tf",
        &(provider_block(&hub)
            + &SPOKE.replace("environment  = \"prod\"", "environment  = \"prod\"\n  allow_overwrite = true")),
    );
    ws.apply();
    assert_eq!(hub.secret("argocd", "spoke-prod").unwrap()["metadata"]["labels"]["environment"], "prod");
}

#[test]
fn plan_works_while_the_hub_does_not_exist_yet() {
    // The hub's address is only known after apply (as when the hub cluster is created in the
    // same run): planning a create must not need it.
    let config = format!(
        r#"{}
resource "terraform_data" "hub_endpoint" {{
  input = "https://127.0.0.1:1"
}}

provider "gitopsbridge" {{
  hub {{
    host  = terraform_data.hub_endpoint.output
    token = "unused"
  }}
}}

resource "gitopsbridge_cluster_metadata" "spoke" {{
  cluster_name = "spoke"
  server       = "https://spoke.example.internal"
}}
"#,
        required_providers()
    );
    let ws = Workspace::new(&config);
    match ws.plan() {
        PlanOutcome::Changes(plan) => assert!(plan.contains("2 to add"), "{plan}"),
        PlanOutcome::NoChanges => panic!("expected creates"),
    }
}

/// Each bad input fails before anything is written, with an error on the attribute.
#[test]
fn bad_inputs_fail_at_plan_on_their_attribute_without_writes() {
    let hub = Hub::start();
    let cases: &[(&str, &str, &str)] = &[
        // (resource body, text of the offending line, words the error must contain)
        (
            r#"cluster_name = ""
  server = "https://a.example""#,
            r#"cluster_name = """#,
            "cluster_name",
        ),
        (
            r#"cluster_name = "a"
  server = "ftp://a.example""#,
            r#"server = "ftp://a.example""#,
            "https",
        ),
        (
            r#"cluster_name = "a"
  in_cluster = true
  server = "https://a.example""#,
            "in_cluster = true",
            "server",
        ),
        (r#"cluster_name = "a""#, "", "server"),
        (
            r#"cluster_name = "a"
  server = "https://a.example"
  labels = { "bad key!" = "x" }"#,
            "labels",
            "bad key!",
        ),
        (
            r#"cluster_name = "a"
  server = "https://a.example"
  labels = { team = "this-value-is-far-too-long-for-a-kubernetes-label-value-0123456789" }"#,
            "labels",
            "63",
        ),
        (
            r#"cluster_name = "a"
  server = "https://a.example"
  addons = { "metrics server" = true }"#,
            "addons",
            "metrics server",
        ),
        (
            r#"cluster_name = "a"
  server = "https://a.example"
  addons = { metrics_server = true, enable_metrics_server = false }"#,
            "addons",
            "metrics_server",
        ),
        (
            r#"cluster_name = "a"
  server = "https://a.example"
  bearer_token = "x"
  aws_auth {
    cluster_name = "a"
  }"#,
            "",
            "bearer_token",
        ),
        (
            r#"cluster_name = "a"
  server = "https://a.example"
  cert_data = "Y2VydA==""#,
            r#"cert_data = "Y2VydA==""#,
            "key_data",
        ),
        (
            r#"cluster_name = "a"
  server = "https://a.example"
  secret_name = "Not_A_DNS_Name""#,
            r#"secret_name = "Not_A_DNS_Name""#,
            "secret_name",
        ),
    ];
    for (body, line, words) in cases {
        let ws = Workspace::new(&format!(
            "{}\nresource \"gitopsbridge_cluster_metadata\" \"bad\" {{\n  {body}\n}}\n",
            provider_block(&hub)
        ));
        let err = ws.plan_err();
        assert!(err.contains("Error"), "{body}: {err}");
        assert!(err.contains(words), "{body}: expected {words:?} in:\n{err}");
        if !line.is_empty() {
            assert!(err.contains(line), "{body}: expected the diagnostic to point at {line:?}:\n{err}");
        }
    }
    assert_eq!(hub.writes(), 0, "bad input must not write to the hub");
}
