//! `drain_on_destroy` on `gitopsbridge_cluster_metadata` end to end: real terraform, our
//! provider, and the hub test server playing Argo CD. The hub's ApplicationSets live in one root
//! (as on a real hub), the spoke's cluster Secret in another, and the spoke's destroy must take
//! its Applications away phase by phase before the Secret goes.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kube_test_server::Resource;
use serde_json::{Value as Json, json};
use support::Workspace;
use support::hub::Hub;
use support::interrupt::wait_until;

/// The hub's root: a workload set, an addon set, and the load balancer controller going last.
const SETS: &str = r#"
resource "gitopsbridge_addon_set" "workloads" {
  name             = "workloads"
  application_name = "workloads-{{name}}"
  cluster_selector {
    match_labels = { environment = "prod" }
  }
  source {
    from_metadata = "workload"
  }
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

resource "gitopsbridge_addon_set" "lb" {
  name             = "lb"
  application_name = "lb-{{name}}"
  drain_phase      = "last"
  cluster_selector {
    match_labels = { enable_aws_load_balancer_controller = "true" }
  }
  source {
    repo_url = "https://github.com/example/lb"
    path     = "chart"
  }
}
"#;

/// The spoke's root; `drain` is the body of `drain_on_destroy`, `None` for no block.
fn spoke(hub: &Hub, drain: Option<&str>, delete_timeout: &str) -> String {
    let drain = drain.map(|body| format!("drain_on_destroy {{\n    {body}\n  }}")).unwrap_or_default();
    hub.provider_block()
        + &format!(
            r#"
resource "gitopsbridge_cluster_metadata" "blue" {{
  cluster_name = "eks-blue"
  environment  = "prod"
  server       = "https://blue.example.internal"
  addons       = {{ metrics_server = true, aws_load_balancer_controller = true }}
  metadata = {{
    addons_repo_url   = "https://github.com/example/addons"
    workload_repo_url = "https://github.com/example/workloads"
  }}
  {drain}
  timeouts {{
    delete = "{delete_timeout}"
  }}
}}
"#
        )
}

const WORKLOADS: &str = "workloads-eks-blue";
const ADDONS: &str = "addons-eks-blue";
const LB: &str = "lb-eks-blue";

struct Setup {
    hub: Hub,
    _sets: Workspace,
    spoke: Workspace,
}

fn setup(drain: Option<&str>, delete_timeout: &str) -> Setup {
    let hub = Hub::start();
    let sets = Workspace::new(&(hub.provider_block() + SETS));
    sets.apply();
    let spoke_ws = Workspace::new(&spoke(&hub, drain, delete_timeout));
    spoke_ws.apply();
    for app in [WORKLOADS, ADDONS, LB] {
        assert!(application(&hub, app).is_some(), "{app} was generated");
    }
    Setup { hub, _sets: sets, spoke: spoke_ws }
}

fn application(hub: &Hub, name: &str) -> Option<Json> {
    hub.server().get(Resource::Application, "argocd", name)
}

/// Terraform wraps long error lines: compare with all whitespace runs as one space.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_says(out: &str, want: &str) {
    assert!(flat(out).contains(&flat(want)), "missing {want:?} in:\n{out}");
}

fn list_requests(hub: &Hub) -> u64 {
    hub.server().requests().counts.get("list applications").copied().unwrap_or(0)
}

fn drain_label(hub: &Hub) -> Option<String> {
    let secret = hub.secret("argocd", "eks-blue")?;
    secret["metadata"]["labels"]["gitops-bridge/drain"].as_str().map(str::to_string)
}

/// What one look at the hub saw: per Application `None` (gone), `Some(true)` (deleting) or
/// `Some(false)` (live), and whether the Secret was there.
#[derive(Clone, Debug)]
struct Snapshot {
    apps: Vec<(&'static str, Option<bool>)>,
    secret: bool,
}

impl Snapshot {
    fn take(hub: &Hub) -> Snapshot {
        let apps = [WORKLOADS, ADDONS, LB]
            .into_iter()
            .map(|name| (name, application(hub, name).map(|a| !a["metadata"]["deletionTimestamp"].is_null())))
            .collect();
        Snapshot { apps, secret: hub.secret("argocd", "eks-blue").is_some() }
    }

    fn state(&self, name: &str) -> Option<bool> {
        self.apps.iter().find(|(n, _)| *n == name).and_then(|(_, s)| *s)
    }

    /// Started going: deleting or gone.
    fn going(&self, name: &str) -> bool {
        self.state(name) != Some(false)
    }

    fn present(&self, name: &str) -> bool {
        self.state(name).is_some()
    }
}

/// Runs `work` while another thread watches the hub, and returns every distinct snapshot seen.
fn watch_while(hub: &Hub, work: impl FnOnce()) -> Vec<Snapshot> {
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let mut seen: Vec<Snapshot> = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let snapshot = Snapshot::take(hub);
                if seen.last().is_none_or(|last| format!("{last:?}") != format!("{snapshot:?}")) {
                    seen.push(snapshot);
                }
                std::thread::yield_now();
            }
            seen
        });
        work();
        done.store(true, Ordering::Relaxed);
        watcher.join().expect("watcher")
    })
}

#[test]
fn destroy_drains_workloads_then_addons_then_the_rest_and_deletes_the_secret_last() {
    let s = setup(Some(""), "2m");
    // Each deleting Application stays for three reads, so a phase started too early is seen.
    s.hub.server().set_deletion_hold_reads(3);
    let seen = watch_while(&s.hub, || {
        s.spoke.destroy();
    });

    for snapshot in &seen {
        if snapshot.going(ADDONS) || snapshot.going(LB) {
            assert!(!snapshot.present(WORKLOADS), "an addon went while workloads were there: {seen:#?}");
        }
        if snapshot.going(LB) {
            assert!(!snapshot.present(ADDONS), "the last set went while addons were there: {seen:#?}");
        }
        if !snapshot.secret {
            assert!(snapshot.apps.iter().all(|(_, s)| s.is_none()), "the Secret went first: {seen:#?}");
        }
    }
    // The watcher saw each Application deleting before it was gone: the phases were observed.
    for app in [WORKLOADS, ADDONS, LB] {
        assert!(seen.iter().any(|s| s.state(app) == Some(true)), "{app} never seen deleting: {seen:#?}");
    }
    assert!(s.hub.secret("argocd", "eks-blue").is_none());
    assert!(s.hub.server().abandoned_resources().is_empty(), "{:?}", s.hub.server().abandoned_resources());
}

#[test]
fn without_the_opt_in_destroy_deletes_the_secret_at_once() {
    let s = setup(None, "2m");
    s.spoke.destroy();
    assert!(s.hub.secret("argocd", "eks-blue").is_none());
    // As before: the Secret went with its Applications still there, so Argo CD could not clean up.
    let abandoned: Vec<String> = s.hub.server().abandoned_resources().iter().map(|a| format!("{a:?}")).collect();
    for app in [WORKLOADS, ADDONS, LB] {
        assert!(abandoned.iter().any(|a| a.contains(app)), "{app} not abandoned: {abandoned:?}");
    }
    assert!(!s.hub.server().requests().counts.contains_key("list applications"), "no drain ran");
}

#[test]
fn the_timeout_names_the_stuck_application_and_the_next_destroy_continues() {
    let s = setup(Some(""), "3s");
    s.hub.server().set_deletion_hold_reads(1_000_000);
    let out = s.spoke.run_err(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert!(out.contains("Drain did not finish"), "{out}");
    assert_says(&out, "did not drain (phase workloads) within the delete timeout (3s)");
    assert_says(
        &out,
        "argocd/workloads-eks-blue (ApplicationSet workloads): being deleted, finalizer \
         resources-finalizer.argocd.argoproj.io still pending",
    );
    assert!(!out.contains("addons-eks-blue"), "addons were not asked to go yet: {out}");
    assert_eq!(drain_label(&s.hub).as_deref(), Some("workloads"), "the Secret stays, labelled");
    assert!(application(&s.hub, ADDONS).is_some_and(|a| a["metadata"]["deletionTimestamp"].is_null()));

    // Argo CD finishes; destroy again picks up where the drain stopped.
    s.hub.server().set_deletion_hold_reads(1);
    s.spoke.destroy();
    assert!(s.hub.secret("argocd", "eks-blue").is_none());
    assert!(s.hub.server().abandoned_resources().is_empty(), "{:?}", s.hub.server().abandoned_resources());
}

#[test]
fn an_application_set_that_ignores_the_drain_is_reported_with_the_selector_line() {
    let s = setup(Some(""), "3s");
    // A hand-written set, selecting the cluster without the drain requirement.
    let hand = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": { "name": "hand", "namespace": "argocd" },
        "spec": {
            "generators": [{ "clusters": { "selector": { "matchLabels": { "environment": "prod" } } } }],
            "template": {
                "metadata": { "name": "hand-{{name}}" },
                "spec": {
                    "project": "default",
                    "source": { "repoURL": "https://github.com/example/hand", "path": "." },
                    "destination": { "name": "{{name}}" }
                }
            }
        }
    });
    s.hub.server().apply(Resource::ApplicationSet, "argocd", "kubectl", hand, false).unwrap();
    assert!(application(&s.hub, "hand-eks-blue").is_some());

    let out = s.spoke.run_err(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_says(&out, "did not drain (phase all)");
    assert_says(
        &out,
        "argocd/hand-eks-blue (ApplicationSet hand): its ApplicationSet does not honour the drain; add to the \
         matchExpressions of its clusters generator's selector `- {key: gitops-bridge/drain, operator: NotIn, \
         values: [workloads, addons, all]}`",
    );
    // Everything that honours the drain is gone; the Secret stays for the hand-written one.
    for app in [WORKLOADS, ADDONS, LB] {
        assert!(application(&s.hub, app).is_none(), "{app}");
    }
    assert_eq!(drain_label(&s.hub).as_deref(), Some("all"));
}

/// An Application written by hand (no ApplicationSet), named `manual-blue`.
fn add_manual_application(hub: &Hub, destination: Json) {
    let manual = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": { "name": "manual-blue", "namespace": "argocd" },
        "spec": {
            "project": "default",
            "source": { "repoURL": "https://github.com/example/manual", "path": "." },
            "destination": destination
        }
    });
    hub.server().apply(Resource::Application, "argocd", "kubectl", manual, false).unwrap();
}

#[test]
fn keep_applications_lets_named_applications_stay() {
    let s = setup(Some("keep_applications = [\"manual-*\"]"), "1m");
    add_manual_application(&s.hub, json!({ "name": "eks-blue" }));
    s.spoke.destroy();
    assert!(s.hub.secret("argocd", "eks-blue").is_none());
    assert!(application(&s.hub, "manual-blue").is_some(), "kept");
    assert!(application(&s.hub, WORKLOADS).is_none() && application(&s.hub, LB).is_none());
}

#[test]
fn an_unlisted_application_without_a_set_is_named() {
    let s = setup(Some(""), "3s");
    add_manual_application(&s.hub, json!({ "server": "https://blue.example.internal" }));
    let out = s.spoke.run_err(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_says(
        &out,
        "argocd/manual-blue (no ApplicationSet): not generated by an ApplicationSet: delete it or list it in \
         keep_applications",
    );
    assert!(s.hub.secret("argocd", "eks-blue").is_some());
}

#[test]
fn ctrl_c_keeps_the_drain_and_a_later_apply_takes_it_back() {
    let s = setup(Some(""), "10m");
    s.hub.server().set_deletion_hold_reads(1_000_000);
    let destroy = s.spoke.spawn(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    // Draining: the workload Application is being deleted and the provider has looked at it.
    assert!(
        wait_until(Duration::from_secs(120), || application(&s.hub, WORKLOADS)
            .is_some_and(|a| !a["metadata"]["deletionTimestamp"].is_null())
            && list_requests(&s.hub) >= 2),
        "the drain never started"
    );
    destroy.interrupt();
    let (status, out) = destroy.wait(Duration::from_secs(60));
    assert!(!status.success(), "{out}");
    assert!(out.contains("Drain interrupted"), "{out}");
    assert_says(&out, "interrupted in phase workloads");
    assert_says(&out, "Still present: - argocd/workloads-eks-blue (ApplicationSet workloads): being deleted");
    assert_eq!(drain_label(&s.hub).as_deref(), Some("workloads"));
    assert_eq!(s.spoke.resource("gitopsbridge_cluster_metadata.blue")["cluster_name"], "eks-blue");

    // The user changes their mind: apply takes the label back, so the cluster rejoins its sets.
    s.hub.server().set_deletion_hold_reads(1);
    let plan = s.spoke.run_ok(&["plan", "-input=false", "-no-color"]);
    assert!(plan.contains("~ draining"), "{plan}");
    s.spoke.apply();
    assert_eq!(drain_label(&s.hub), None);
    let secret = s.hub.secret("argocd", "eks-blue").unwrap();
    assert_eq!(secret["metadata"]["labels"]["environment"], "prod", "the main manager's fields stay");
    s.spoke.assert_plan_empty();

    // And a destroy after that drains from the start.
    s.spoke.destroy();
    assert!(s.hub.secret("argocd", "eks-blue").is_none());
    assert!(s.hub.server().abandoned_resources().is_empty());
}

#[test]
fn a_destroy_after_ctrl_c_continues_the_drain() {
    let s = setup(Some(""), "10m");
    s.hub.server().set_deletion_hold_reads(1_000_000);
    let destroy = s.spoke.spawn(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        wait_until(Duration::from_secs(120), || drain_label(&s.hub).as_deref() == Some("workloads")),
        "the drain never started"
    );
    destroy.interrupt();
    let (_, out) = destroy.wait(Duration::from_secs(60));
    assert!(out.contains("Drain interrupted"), "{out}");
    s.hub.server().set_deletion_hold_reads(1);
    s.spoke.destroy();
    assert!(s.hub.secret("argocd", "eks-blue").is_none());
    assert!(s.hub.server().abandoned_resources().is_empty());
}

#[test]
fn the_hub_itself_cannot_drain() {
    let hub = Hub::start();
    let config = hub.provider_block()
        + r#"
resource "gitopsbridge_cluster_metadata" "hub" {
  cluster_name = "hub"
  in_cluster   = true
  drain_on_destroy {}
}
"#;
    let ws = Workspace::new(&config);
    let out = ws.plan_err();
    assert!(out.contains("Cannot drain the hub"), "{out}");
    assert!(out.contains("in_cluster"), "{out}");
    assert_eq!(hub.writes(), 0);
}

#[test]
fn a_set_without_a_selector_keeps_selecting_the_hub_itself() {
    let hub = Hub::start();
    let config = hub.provider_block()
        + r#"
resource "gitopsbridge_addon_set" "everywhere" {
  name = "everywhere"
  source {
    repo_url = "https://github.com/example/everywhere"
    path     = "."
  }
}
"#;
    let ws = Workspace::new(&config);
    ws.apply();
    assert_eq!(ws.resource("gitopsbridge_addon_set.everywhere")["drain_phase"], "never");
    assert!(application(&hub, "everywhere-in-cluster").is_some(), "the hub's implicit in-cluster is selected");
    ws.assert_plan_empty();
}
