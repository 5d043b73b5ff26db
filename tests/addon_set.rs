//! End-to-end tests of `gitopsbridge_addon_set`: real terraform, our provider, and the Kubernetes
//! API test server (with Argo CD's real ApplicationSet CRD) as the hub.

mod support;

use kube_test_server::{ARGOCD_FINALIZER, Options, Resource};
use serde_json::{Value as Json, json};
use support::hub::Hub;
use support::{PlanOutcome, Workspace, required_providers};

const EXAMPLE: &str = include_str!("../examples/resources/gitopsbridge_addon_set/resource.tf");

/// Argo CD installed on the hub: the CRD, and finalizers on new ApplicationSets that the simulated
/// controller releases after a few reads of a deleting object.
fn argocd_hub() -> Hub {
    Hub::with_options(Options::default().with_argocd().with_argocd_finalizer().release_finalizers_after_gets(2))
}

/// A configuration: the provider pointed at `hub`, then `resources`.
fn config(hub: &Hub, resources: &str) -> String {
    format!(
        "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    config_path    = \"{}\"\n    config_context = \"hub\"\n  }}\n}}\n\n{resources}",
        required_providers(),
        hub.kubeconfig().display()
    )
}

fn appset(hub: &Hub, name: &str) -> Option<Json> {
    hub.server().get(Resource::ApplicationSet, "argocd", name)
}

/// An edit by someone else (`kubectl edit`): a merge patch under another field manager.
fn edit(hub: &Hub, name: &str, patch: Json) {
    hub.server().merge_patch(Resource::ApplicationSet, "argocd", name, "kubectl-edit", patch).expect("edit");
}

/// A cluster Secret as the gitops-bridge module writes it.
fn add_cluster(hub: &Hub, name: &str, environment: &str, annotations: Json) {
    hub.apply_as(
        "gitops-bridge",
        "argocd",
        name,
        json!({
            "metadata": {
                "labels": { "argocd.argoproj.io/secret-type": "cluster", "environment": environment },
                "annotations": annotations
            },
            "stringData": { "name": name, "server": format!("https://{name}.example.com") }
        }),
    );
}

fn fixture(name: &str) -> Json {
    let text = std::fs::read_to_string(format!("{}/tests/fixtures/bootstrap/{name}.json", env!("CARGO_MANIFEST_DIR")))
        .expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

/// The parts of a live object that came from us, for comparing with what users apply.
fn as_applied(live: &Json) -> Json {
    json!({
        "apiVersion": live["apiVersion"],
        "kind": live["kind"],
        "metadata": { "name": live["metadata"]["name"], "namespace": live["metadata"]["namespace"] },
        "spec": live["spec"],
    })
}

fn assert_plan_changes(ws: &Workspace, expect: &str) {
    match ws.plan() {
        PlanOutcome::Changes(plan) => assert!(plan.contains(expect), "plan should mention {expect:?}:\n{plan}"),
        PlanOutcome::NoChanges => panic!("expected changes mentioning {expect:?}, the plan was empty"),
    }
}

#[test]
fn addon_set_acceptance_rhythm_with_the_bootstrap_pair() {
    let hub = argocd_hub();
    let main_tf = config(&hub, EXAMPLE);
    let ws = Workspace::new(&main_tf);

    // Create: both ApplicationSets land on the hub field for field as users apply them today.
    ws.apply();
    for (name, file) in [("cluster-addons", "addons"), ("workloads", "workloads")] {
        let live = appset(&hub, name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(as_applied(&live), fixture(file), "{name}");
        let managers: Vec<&str> = live["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["manager"].as_str())
            .collect();
        assert!(managers.contains(&"terraform-provider-gitopsbridge"), "{managers:?}");
    }
    ws.assert_plan_empty();

    // Import verify: a fresh state imported from the hub equals the applied one.
    let imported = Workspace::new(&main_tf);
    imported.import("gitopsbridge_addon_set.addons", "argocd/cluster-addons");
    imported.import("gitopsbridge_addon_set.workloads", "argocd/workloads");
    for address in ["gitopsbridge_addon_set.addons", "gitopsbridge_addon_set.workloads"] {
        assert_eq!(imported.resource(address), ws.resource(address), "{address}");
    }
    imported.assert_plan_empty();

    // In-place update.
    ws.write(
        "main.tf",
        &main_tf.replace("\"CreateNamespace=true\"", "\"CreateNamespace=true\", \"ServerSideApply=true\""),
    );
    let applied = ws.apply();
    assert!(applied.contains("0 added, 1 changed, 0 destroyed"), "{applied}");
    let options = &appset(&hub, "workloads").unwrap()["spec"]["template"]["spec"]["syncPolicy"]["syncOptions"];
    assert_eq!(options, &json!(["CreateNamespace=true", "ServerSideApply=true"]));
    ws.assert_plan_empty();

    // Fields others add are not drift; our own fields changed by hand are.
    edit(&hub, "cluster-addons", json!({ "spec": { "strategy": { "type": "AllAtOnce" } } }));
    ws.assert_plan_empty();
    edit(
        &hub,
        "cluster-addons",
        json!({ "spec": { "template": { "spec": { "destination": { "namespace": "kube-system" } } } } }),
    );
    assert_plan_changes(&ws, "kube-system");
    ws.apply();
    assert_eq!(
        appset(&hub, "cluster-addons").unwrap()["spec"]["template"]["spec"]["destination"]["namespace"],
        json!("argocd")
    );
    ws.assert_plan_empty();

    // Disappears: deleted out of band, the next plan re-creates it.
    hub.server().delete(Resource::ApplicationSet, "argocd", "workloads").expect("delete");
    hub.server().remove_finalizers(Resource::ApplicationSet, "argocd", "workloads").expect("release");
    assert!(appset(&hub, "workloads").is_none());
    assert_plan_changes(&ws, "will be created");
    ws.apply();
    assert!(appset(&hub, "workloads").is_some());

    // Destroy waits until Argo CD has released its finalizers and nothing is left.
    ws.destroy();
    assert!(appset(&hub, "cluster-addons").is_none() && appset(&hub, "workloads").is_none());
}

#[test]
fn bad_inputs_name_their_attribute_and_never_reach_the_hub() {
    let hub = argocd_hub();
    let good = r#"resource "gitopsbridge_addon_set" "x" {
  name = "addons"
  cluster_selector {
    match_expressions {
      key      = "environment"
      operator = "NotIn"
      values   = ["control-plane"]
    }
  }
  source {
    from_metadata = "addons"
  }
}
"#;
    let cases: [(&str, &str, &str, &str); 7] = [
        ("name = \"addons\"", "name = \"Addons_Set\"", "Invalid ApplicationSet name", "name = \"Addons_Set\""),
        ("operator = \"NotIn\"", "operator = \"NotEquals\"", "Invalid selector operator", "operator = \"NotEquals\""),
        (
            "operator = \"NotIn\"",
            "operator = \"Exists\"",
            "Selector values not allowed",
            "values   = [\"control-plane\"]",
        ),
        (
            "from_metadata = \"addons\"",
            "from_metadata = \"addon\"",
            "Invalid from_metadata",
            "from_metadata = \"addon\"",
        ),
        (
            "from_metadata = \"addons\"",
            "from_metadata = \"addons\"\n    repo_url = \"https://github.com/x/y\"",
            "Conflicting source settings",
            "repo_url = \"https://github.com/x/y\"",
        ),
        (
            "from_metadata = \"addons\"",
            "from_metadata = \"addons\"\n    path = \"{{metadata.labels.x}\"",
            "Unbalanced template braces",
            "path = \"{{metadata.labels.x}\"",
        ),
        ("key      = \"environment\"", "key      = \"bad key\"", "Invalid label key", "key      = \"bad key\""),
    ];
    for (from, to, summary, line) in cases {
        let ws = Workspace::new(&config(&hub, &good.replace(from, to)));
        let out = ws.plan_err();
        assert!(out.contains(summary), "{to}: expected {summary:?}:\n{out}");
        // Terraform quotes the offending line of configuration: the attribute is named.
        assert!(out.contains(line), "{to}: expected the error on {line:?}:\n{out}");
    }
    assert_eq!(hub.server().write_count(), 0, "validation must fail before any write");
}

#[test]
fn a_missing_argocd_crd_is_named_and_plan_still_works() {
    let hub = Hub::with_options(Options::default());
    let ws = Workspace::new(&config(&hub, EXAMPLE));
    assert_plan_changes(&ws, "will be created");
    // Plan of a create asks nothing of the ApplicationSet API (only the read-only hint lists Secrets).
    let asked: u64 =
        ["get", "list", "patch"].iter().map(|verb| hub.server().request_count(verb, "applicationsets")).sum();
    assert_eq!((asked, hub.server().write_count()), (0, 0));
    let out = ws.apply_err();
    assert!(out.contains("applicationsets.argoproj.io"), "{out}");
    assert!(out.contains("Argo CD is not installed on the hub"), "{out}");
}

#[test]
fn plan_works_while_the_hub_cannot_be_reached() {
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    // Port 1 on loopback: nothing listens, as before the hub cluster exists.
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: hub\n  cluster:\n    server: https://127.0.0.1:1\n\
         users:\n- name: hub\n  user:\n    token: t\ncontexts:\n- name: hub\n  context:\n    cluster: hub\n    user: hub\n\
         current-context: hub\n",
    )
    .expect("kubeconfig");
    let config = format!(
        "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    config_path = \"{}\"\n  }}\n}}\n\n{EXAMPLE}",
        required_providers(),
        kubeconfig.display()
    );
    let ws = Workspace::new(&config);
    assert_plan_changes(&ws, "2 to add");
}

#[test]
fn plan_works_while_the_hub_settings_are_unknown() {
    // The hub is created in the same apply: its kubeconfig path is known only after apply.
    let config = format!(
        "{}\nresource \"terraform_data\" \"hub\" {{\n  input = \"/tmp/hub-kubeconfig\"\n}}\n\n\
         provider \"gitopsbridge\" {{\n  hub {{\n    config_path = terraform_data.hub.output\n  }}\n}}\n\n{EXAMPLE}",
        required_providers()
    );
    let ws = Workspace::new(&config);
    assert_plan_changes(&ws, "3 to add");
}

#[test]
fn refresh_keeps_state_while_the_hub_settings_become_unknown() {
    let hub = argocd_hub();
    let ws = Workspace::new(&config(&hub, EXAMPLE));
    ws.apply();
    // The hub's kubeconfig now comes from a resource that does not exist yet.
    let path = hub.kubeconfig().display().to_string();
    let config = format!(
        "{}\nresource \"terraform_data\" \"hub\" {{\n  input = \"{path}\"\n}}\n\n\
         provider \"gitopsbridge\" {{\n  hub {{\n    config_path = terraform_data.hub.output\n  }}\n}}\n\n{EXAMPLE}",
        required_providers()
    );
    ws.write("main.tf", &config);
    let PlanOutcome::Changes(plan) = ws.plan() else { panic!("expected terraform_data to be created") };
    assert!(plan.contains("1 to add, 0 to change, 0 to destroy"), "{plan}");
    assert!(plan.contains("ApplicationSet not refreshed"), "{plan}");
}

#[test]
fn plan_warns_about_what_argo_cd_would_make_of_the_selection() {
    let hub = argocd_hub();
    let ws = Workspace::new(&config(&hub, EXAMPLE));
    let PlanOutcome::Changes(plan) = ws.plan() else { panic!("expected a create") };
    assert!(plan.contains("The cluster selector matches no cluster"), "{plan}");
    assert_eq!(hub.server().write_count(), 0);

    add_cluster(&hub, "eks-blue", "prod", json!({ "addons_repo_url": "https://github.com/org/addons" }));
    add_cluster(&hub, "eks-green", "prod", json!({ "addons_repo_url": "https://github.com/org/addons" }));
    let PlanOutcome::Changes(plan) = ws.plan() else { panic!("expected a create") };
    assert!(plan.contains("Clusters lack the annotations addons_repo_basepath, addons_repo_path"), "{plan}");
    assert!(plan.contains("Application name does not depend on the cluster"), "{plan}");
}

#[test]
fn create_never_adopts_an_existing_application_set_without_allow_overwrite() {
    let hub = argocd_hub();
    hub.server().apply(Resource::ApplicationSet, "argocd", "kubectl", fixture("addons"), false).expect("existing set");
    let ws = Workspace::new(&config(&hub, EXAMPLE));
    let out = ws.apply_err();
    assert!(out.contains("ApplicationSet already exists"), "{out}");
    assert!(out.contains("argocd/cluster-addons"), "{out}");

    ws.write(
        "main.tf",
        &config(
            &hub,
            &EXAMPLE.replace(
                "preserve_resources_on_deletion = true",
                "preserve_resources_on_deletion = true\n  allow_overwrite = true",
            ),
        ),
    );
    ws.apply();
    ws.assert_plan_empty();
}

#[test]
fn destroy_times_out_naming_the_finalizers_still_present() {
    let hub = Hub::with_options(Options::default().with_argocd().with_argocd_finalizer());
    let resources = r#"resource "gitopsbridge_addon_set" "x" {
  name = "stuck"
  source {
    repo_url = "https://github.com/org/addons"
    path     = "bootstrap"
  }
  timeouts {
    delete = "1s"
  }
}
"#;
    let ws = Workspace::new(&config(&hub, resources));
    ws.apply();
    let out = ws.run_err(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert!(out.contains("Timed out waiting for the ApplicationSet to be deleted"), "{out}");
    assert!(out.contains(ARGOCD_FINALIZER), "{out}");
}
