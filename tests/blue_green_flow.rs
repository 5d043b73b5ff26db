//! The whole user flow on the shipped examples, as `make demo` walks it: hub/spoke, blue and
//! green in their own roots, the flip by editing main.tf, and a destroy that leaves nothing.

mod support;

use std::path::Path;

use support::hub::Hub;
use support::moto::{Moto, weight_of};
use support::{PlanOutcome, Workspace, required_providers};

const SERVICE: &str = "burnham.example.com";

fn example_root(relative: &str, env: &[(&str, String)]) -> Workspace {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(relative);
    let mut ws = Workspace::from_dir(&dir, &required_providers());
    for (key, value) in env {
        ws.env(key, value);
    }
    ws
}

/// Edits a root's main.tf the way the user does and returns the plan that follows.
fn edit_weight(ws: &Workspace, from: u32, to: u32) -> String {
    let path = ws.path().join("main.tf");
    let text = std::fs::read_to_string(&path).unwrap();
    let needle = format!("weight         = {from} ");
    assert!(text.contains(&needle), "{needle:?} not in {}", path.display());
    std::fs::write(&path, text.replace(&needle, &format!("weight         = {to} "))).unwrap();
    match ws.plan() {
        PlanOutcome::Changes(plan) => plan,
        PlanOutcome::NoChanges => panic!("editing the weight must plan a change"),
    }
}

/// Lines of a plan that change something, without the resource headers.
fn changed_attributes(plan: &str) -> Vec<String> {
    plan.lines()
        .map(str::trim)
        .filter(|l| l.starts_with('~') || l.starts_with('+') || l.starts_with('-'))
        .filter(|l| !l.contains("update in-place") && !l.ends_with('{'))
        .map(str::to_string)
        .collect()
}

#[test]
fn hub_spoke_then_blue_green_flip_then_destroy_leaves_nothing() {
    let hub = Hub::start();
    let moto = Moto::start();
    let zone = moto.create_zone("example.com");
    let kubeconfig = hub.kubeconfig().display().to_string();
    let env = [
        ("TF_VAR_hub_kubeconfig", kubeconfig),
        ("TF_VAR_hosted_zone_id", zone.clone()),
        ("TF_VAR_service_name", SERVICE.to_string()),
        ("TF_VAR_route53_endpoint", moto.endpoint()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ];

    let hub_spoke = example_root("hub-spoke", &env);
    hub_spoke.apply();
    hub_spoke.assert_plan_empty();
    assert_eq!(hub.cluster_secrets("argocd").len(), 3);
    assert_eq!(hub.application_sets("argocd").len(), 2);

    let blue = example_root("blue-green/eks-blue", &env);
    let green = example_root("blue-green/eks-green", &env);
    blue.apply();
    green.apply();
    blue.assert_plan_empty();
    green.assert_plan_empty();
    assert_eq!(weight_of(&moto.endpoint(), &zone, SERVICE, "blue"), Some(100));
    assert_eq!(weight_of(&moto.endpoint(), &zone, SERVICE, "green"), Some(0));

    // Green carries blue's metadata, read from the hub.
    let blue_secret = hub.secret("argocd", "eks-blue").expect("blue registered");
    let green_secret = hub.secret("argocd", "eks-green").expect("green registered");
    assert_eq!(
        green_secret["metadata"]["annotations"]["addons_repo_url"],
        blue_secret["metadata"]["annotations"]["addons_repo_url"]
    );
    assert_eq!(green_secret["metadata"]["labels"]["environment"], blue_secret["metadata"]["labels"]["environment"]);

    // The flip: each plan is exactly one weight change, in place.
    for (ws, from, to) in [(&green, 0, 100), (&blue, 100, 0)] {
        let plan = edit_weight(ws, from, to);
        assert_eq!(changed_attributes(&plan), [format!("~ weight         = {from} -> {to}")], "{plan}");
        assert!(plan.contains("0 to add, 1 to change, 0 to destroy"), "{plan}");
        ws.apply();
        ws.assert_plan_empty();
    }
    assert_eq!(weight_of(&moto.endpoint(), &zone, SERVICE, "green"), Some(100));
    assert_eq!(weight_of(&moto.endpoint(), &zone, SERVICE, "blue"), Some(0));

    // Blue goes first, as in the upgrade; then green and the hub's own root. No -target anywhere.
    blue.destroy();
    // Green outlives blue: it keeps the metadata it copied, and its plan stays empty.
    green.assert_plan_empty();
    assert_eq!(
        hub.secret("argocd", "eks-green").unwrap()["metadata"]["annotations"]["addons_repo_url"],
        green_secret["metadata"]["annotations"]["addons_repo_url"]
    );
    green.destroy();
    hub_spoke.destroy();
    assert!(hub.cluster_secrets("argocd").is_empty(), "cluster Secrets left behind");
    assert!(hub.application_sets("argocd").is_empty(), "ApplicationSets left behind");
    assert_eq!(weight_of(&moto.endpoint(), &zone, SERVICE, "blue"), None);
    assert_eq!(weight_of(&moto.endpoint(), &zone, SERVICE, "green"), None);
}
