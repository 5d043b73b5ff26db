//! Least privilege on the hub: the hub-spoke example runs with a token the hub allows exactly
//! the Role documented in `examples/hub-rbac/role.yaml` (read from that file, so the document and
//! the test cannot drift apart), and a Role missing one verb fails with an error that names the
//! verb, the resource and the namespace.

mod support;

use std::path::{Path, PathBuf};

use kube_test_server::{AccessRule, Options};
use support::hub::Hub;
use support::{Workspace, required_providers};

const TOKEN: &str = "restricted-terraform-token";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The rules of the documented Role.
fn documented_rules() -> Vec<AccessRule> {
    let path = repo().join("examples/hub-rbac/role.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    AccessRule::from_role_manifest(&yaml).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A hub that accepts [`TOKEN`] with only `rules`, and a kubeconfig that uses that token.
fn restricted_hub(rules: Vec<AccessRule>) -> (Hub, PathBuf) {
    let options = Options::default().with_argocd().with_restricted_token(TOKEN, rules);
    let hub = Hub::with_options(options);
    let kubeconfig = hub.dir().join("restricted-kubeconfig");
    std::fs::write(&kubeconfig, hub.server().kubeconfig_with_token("hub", TOKEN)).expect("write kubeconfig");
    (hub, kubeconfig)
}

fn hub_spoke(kubeconfig: &Path) -> Workspace {
    let mut ws = Workspace::from_dir(&repo().join("examples/hub-spoke"), &required_providers());
    ws.env("TF_VAR_hub_kubeconfig", &kubeconfig.display().to_string());
    ws
}

/// Terraform's output as one line: diagnostics are drawn in boxes and may be wrapped.
fn flattened(output: &str) -> String {
    output.replace('│', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_guide_shows_the_role_manifest_as_committed() {
    let role = std::fs::read_to_string(repo().join("examples/hub-rbac/role.yaml")).expect("role.yaml");
    let guide = std::fs::read_to_string(repo().join("docs/guides/hub-rbac.md")).expect("the guide");
    assert!(
        guide.contains(&format!("```yaml\n{role}```")),
        "docs/guides/hub-rbac.md must show examples/hub-rbac/role.yaml as it is"
    );
}

#[test]
fn the_documented_role_is_enough_for_the_hub_spoke_example() {
    let rules = documented_rules();
    assert!(rules.iter().all(|r| r.namespace == "argocd"), "the Role is for Argo CD's namespace: {rules:?}");
    let (hub, kubeconfig) = restricted_hub(rules);
    let ws = hub_spoke(&kubeconfig);

    ws.apply();
    ws.assert_plan_empty();
    assert_eq!(hub.cluster_secrets("argocd").len(), 3);
    assert_eq!(hub.application_sets("argocd").len(), 2);
    ws.destroy();
    assert!(hub.cluster_secrets("argocd").is_empty() && hub.application_sets("argocd").is_empty());

    let requests = hub.server().requests();
    let denied: Vec<_> = requests.log.iter().filter(|r| r.status == 403).collect();
    assert!(denied.is_empty(), "requests the documented Role does not allow: {denied:?}");
    // Every verb the Role grants on Secrets and ApplicationSets was needed (an apply that
    // creates is a patch on the wire; taking `create` away is tested below).
    for resource in ["secrets", "applicationsets"] {
        for verb in ["get", "list", "patch", "delete"] {
            assert!(requests.count(verb, resource) > 0, "no {verb} on {resource}: {:?}", requests.counts);
        }
    }
}

#[test]
fn a_role_without_one_verb_fails_naming_the_verb_resource_and_namespace() {
    // (verb taken away, its resource and API group, whether apply still succeeds)
    let cases = [
        ("patch", "secrets", "", false),
        ("create", "applicationsets", "argoproj.io", false),
        ("delete", "applicationsets", "argoproj.io", true),
    ];
    for (verb, resource, group, apply_succeeds) in cases {
        let mut rules = documented_rules();
        let rule = rules
            .iter_mut()
            .find(|r| r.resources.iter().any(|x| x == resource) && r.verbs.iter().any(|v| v == verb))
            .unwrap_or_else(|| panic!("the documented Role grants no {verb} on {resource}"));
        rule.verbs.retain(|v| v != verb);
        let (_hub, kubeconfig) = restricted_hub(rules);
        let ws = hub_spoke(&kubeconfig);

        let failed = if apply_succeeds {
            ws.apply();
            ws.run_err(&["destroy", "-auto-approve", "-input=false", "-no-color"])
        } else {
            ws.apply_err()
        };
        let output = flattened(&failed);
        let missing =
            format!("cannot {verb} resource \"{resource}\" in API group \"{group}\" in the namespace \"argocd\"");
        assert!(output.contains("Permission denied on the hub"), "without {verb} on {resource}:\n{failed}");
        assert!(output.contains(&missing), "the error must say {missing:?}:\n{failed}");
    }
}
