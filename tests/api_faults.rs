//! API faults end to end: the real terraform and our provider against the Kubernetes API test
//! server (the hub) and the Route53 double in front of moto, with faults injected into the
//! requests of one operation at a time: create, update, refresh (plan), import and destroy.
//!
//! Every resource and data source that talks to the hub (`cluster_metadata`, `addon_set`, data
//! `cluster_metadata`) or to Route53 (`weighted_route`, `traffic_split`, data `weighted_routes`)
//! sits in one root, so each operation exercises all of them at once.
//!
//! - Transient faults are retried and the operation succeeds; the servers' request logs show the
//!   retries.
//! - Permanent faults fail with an error naming the object, what happened and what to do, never
//!   a panic or a plugin crash; once the fault is gone a rerun converges, the next plan is empty,
//!   and nothing is duplicated or left behind.

mod support;

use std::time::Duration;

use base64::Engine as _;
use kube_test_server::{FaultRule, Resource};
use serde_json::json;
use support::hub::Hub;
use support::moto::{self, Moto};
use support::route53_double::{self as r53, Fault, Route53Double};
use support::{Workspace, required_providers};

// =============================================================================================
// Shared
// =============================================================================================

/// The operations faults are injected into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Create,
    Update,
    Refresh,
    Import,
    Destroy,
}

/// Terraform's output with whitespace runs collapsed: it wraps long details.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A failure the user can act on: every phrase is there, and nothing says the provider broke.
fn assert_clear_error(out: &str, phrases: &[&str]) {
    let text = flat(out);
    for phrase in phrases {
        assert!(text.contains(&flat(phrase)), "missing {phrase:?} in:\n{out}");
    }
    for broken in ["panic", "plugin did not respond", "Plugin did not respond", "rpc error", "unexpected EOF"] {
        assert!(!text.contains(broken), "{broken:?} in:\n{out}");
    }
}

/// An output's value, from the state file.
fn output(ws: &Workspace, name: &str) -> serde_json::Value {
    let state: serde_json::Value = serde_json::from_str(&ws.raw_state()).expect("state JSON");
    state["outputs"][name]["value"].clone()
}

/// Every operation's timeout in the roots of the tests with answers slower than the deadline.
const THREE_SECONDS: &[(&str, &str)] = &[("create", "3s"), ("update", "3s"), ("read", "3s"), ("delete", "3s")];

/// What an expired three-second deadline must say in `op`; `no_answer` in the service's words.
fn expired_phrases(op: Op, no_answer: &'static str) -> Vec<&'static str> {
    match op {
        Op::Create => {
            vec![
                "Create timed out",
                "did not finish within 3s (timeouts.create)",
                no_answer,
                "run terraform apply again",
            ]
        }
        Op::Update => {
            vec!["Update timed out", "did not finish within 3s (timeouts.update)", no_answer, "Raise timeouts.update"]
        }
        Op::Refresh | Op::Import => {
            vec!["Read timed out", "did not finish within 3s (timeouts.read)", "raise timeouts.read"]
        }
        Op::Destroy => vec![
            "Delete timed out",
            "did not finish within 3s (timeouts.delete)",
            no_answer,
            "run terraform destroy (or apply) again",
        ],
    }
}

/// A `timeouts` block with these entries (nothing when empty); `only_read` keeps just `read`,
/// for data sources.
fn timeouts_block(entries: &[(&str, &str)], only_read: bool) -> String {
    let lines: Vec<String> = entries
        .iter()
        .filter(|(op, _)| !only_read || *op == "read")
        .map(|(op, value)| format!("    {op} = \"{value}\"\n"))
        .collect();
    if lines.is_empty() { String::new() } else { format!("  timeouts {{\n{}  }}\n", lines.concat()) }
}

// =============================================================================================
// The hub
// =============================================================================================

const SPOKE: &str = "gitopsbridge_cluster_metadata.spoke";
const ADDONS: &str = "gitopsbridge_addon_set.addons";
/// Request paths of the three objects.
const SECRET_PATH: &str = "/secrets/eks-faults";
const APPSET_PATH: &str = "/applicationsets/faults-addons";
const SEED_PATH: &str = "/secrets/eks-seed";

/// A cluster Secret and an addon set, and the data source reading a cluster someone else wrote.
fn hub_root(hub: &Hub, environment: &str, timeouts: &[(&str, &str)]) -> String {
    format!(
        r#"{providers}
provider "gitopsbridge" {{
  hub {{
    config_path = "{kubeconfig}"
  }}
}}

resource "gitopsbridge_cluster_metadata" "spoke" {{
  cluster_name = "eks-faults"
  environment  = "{environment}"
  server       = "https://eks-faults.example.internal"
  metadata     = {{ addons_repo_url = "https://github.com/example/addons" }}
{resource_timeouts}}}

resource "gitopsbridge_addon_set" "addons" {{
  name    = "faults-addons"
  project = "{environment}"
  source {{
    from_metadata = "addons"
  }}
{resource_timeouts}}}

data "gitopsbridge_cluster_metadata" "seed" {{
  secret_name = "eks-seed"
{data_timeouts}}}

output "seed_environment" {{
  value = data.gitopsbridge_cluster_metadata.seed.environment
}}
"#,
        providers = required_providers(),
        kubeconfig = hub.kubeconfig().display(),
        resource_timeouts = timeouts_block(timeouts, false),
        data_timeouts = timeouts_block(timeouts, true),
    )
}

/// A hub with Argo CD and one cluster Secret that another tool wrote, for the data source.
fn seeded_hub() -> Hub {
    let hub = Hub::start();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    hub.apply_as(
        "seeder",
        "argocd",
        "eks-seed",
        json!({
            "metadata": {"labels": {"argocd.argoproj.io/secret-type": "cluster", "environment": "seed"}},
            "data": {"name": b64("eks-seed"), "server": b64("https://eks-seed.example.internal")},
        }),
    );
    hub
}

/// The names of the cluster Secrets and of the ApplicationSets on the hub.
fn hub_objects(hub: &Hub) -> (Vec<String>, Vec<String>) {
    let names = |items: Vec<serde_json::Value>| {
        let mut names: Vec<String> =
            items.iter().filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string)).collect();
        names.sort();
        names
    };
    (names(hub.cluster_secrets("argocd")), names(hub.application_sets("argocd")))
}

fn assert_hub_holds_both(hub: &Hub, environment: &str) {
    assert_eq!(
        hub_objects(hub),
        (vec!["eks-faults".to_string(), "eks-seed".to_string()], vec!["faults-addons".to_string()]),
        "one of each, nothing duplicated"
    );
    let secret = hub.secret("argocd", "eks-faults").expect("cluster Secret");
    assert_eq!(secret["metadata"]["labels"]["environment"], environment);
    let set = &hub.application_sets("argocd")[0];
    assert_eq!(set["spec"]["template"]["spec"]["project"], environment);
}

fn assert_hub_holds_only_the_seed(hub: &Hub) {
    assert_eq!(hub_objects(hub), (vec!["eks-seed".to_string()], vec![]), "nothing left behind");
}

/// The statuses the hub answered to `method` requests on `path` since the last reset (0 for a
/// dropped connection).
fn statuses(hub: &Hub, method: &str, path: &str) -> Vec<u16> {
    hub.server()
        .requests()
        .log
        .into_iter()
        .filter(|r| r.method == method && r.path.ends_with(path))
        .map(|r| r.status)
        .collect()
}

/// The requests an operation makes that faults are injected into: the writes of create,
/// update and destroy, the reads of refresh (the data source included) and import.
fn hub_requests(op: Op) -> &'static [(&'static str, &'static str)] {
    match op {
        Op::Create | Op::Update => &[("PATCH", SECRET_PATH), ("PATCH", APPSET_PATH)],
        Op::Refresh => &[("GET", SECRET_PATH), ("GET", APPSET_PATH), ("GET", SEED_PATH)],
        Op::Import => &[("GET", SECRET_PATH), ("GET", APPSET_PATH)],
        Op::Destroy => &[("DELETE", SECRET_PATH), ("DELETE", APPSET_PATH)],
    }
}

// ---------------------------------------------------------------------------------------------
// Transient hub faults: retried, and the operation succeeds

/// A fault the provider must ride out.
struct Transient {
    rule: fn() -> FaultRule,
    times: u32,
    /// The status a faulted request is logged with; `None` when it is served, only late.
    answered: Option<u16>,
    /// Whether it makes sense for reads (a 409 answers only writes).
    on_reads: bool,
    /// The resource imported under the fault: (address, import id, request path). One per
    /// fault keeps the suite short; the rows take turns.
    import: (&'static str, &'static str, &'static str),
}

const IMPORT_SPOKE: (&str, &str, &str) = (SPOKE, "argocd/eks-faults", SECRET_PATH);
const IMPORT_ADDONS: (&str, &str, &str) = (ADDONS, "argocd/faults-addons", APPSET_PATH);

/// Create, update, refresh, import and destroy, each with `fault` on every request of the
/// operation; each succeeds, after exactly `times` faulted answers per object.
fn hub_fault_is_ridden_out_in_every_operation(fault: Transient) {
    let hub = seeded_hub();
    let ws = Workspace::new(&hub_root(&hub, "prod", &[]));
    let (import_address, import_id, import_path) = fault.import;
    let with_fault = |op: Op, run: &dyn Fn()| {
        hub.server().reset_requests();
        let targets: Vec<_> = hub_requests(op)
            .iter()
            .filter(|(method, _)| fault.on_reads || *method != "GET")
            .filter(|(_, path)| op != Op::Import || *path == import_path)
            .collect();
        for (method, path) in &targets {
            hub.server().add_fault((fault.rule)().method(method).path_contains(path).times(fault.times));
        }
        run();
        assert!(hub.server().pending_faults().is_empty(), "{op:?}: every fault was met");
        for (method, path) in &targets {
            let seen = statuses(&hub, method, path);
            let faulted = fault.answered.map_or(0, |_| fault.times as usize);
            assert_eq!(seen.len(), faulted + 1, "{op:?} {method} {path}: {seen:?}");
            if let Some(code) = fault.answered {
                assert!(seen[..faulted].iter().all(|s| *s == code), "{op:?} {method} {path}: {seen:?}");
            }
            assert!((200..300).contains(&seen[faulted]), "{op:?} {method} {path} succeeded at last: {seen:?}");
        }
    };

    with_fault(Op::Create, &|| {
        ws.apply();
    });
    assert_hub_holds_both(&hub, "prod");
    assert_eq!(output(&ws, "seed_environment"), json!("seed"));

    ws.write("main.tf", &hub_root(&hub, "staging", &[]));
    with_fault(Op::Update, &|| {
        ws.apply();
    });
    assert_hub_holds_both(&hub, "staging");

    with_fault(Op::Refresh, &|| ws.assert_plan_empty());

    ws.run_ok(&["state", "rm", import_address]);
    with_fault(Op::Import, &|| {
        ws.import(import_address, import_id);
    });
    ws.assert_plan_empty();

    with_fault(Op::Destroy, &|| {
        ws.destroy();
    });
    assert_hub_holds_only_the_seed(&hub);
}

#[test]
fn hub_429_with_retry_after_is_waited_out_in_every_operation() {
    hub_fault_is_ridden_out_in_every_operation(Transient {
        rule: || FaultRule::too_many_requests(1),
        times: 1,
        answered: Some(429),
        on_reads: true,
        import: IMPORT_SPOKE,
    });
}

#[test]
fn hub_500_is_retried_in_every_operation() {
    hub_fault_is_ridden_out_in_every_operation(Transient {
        rule: || FaultRule::status(500),
        times: 2,
        answered: Some(500),
        on_reads: true,
        import: IMPORT_ADDONS,
    });
}

#[test]
fn hub_503_is_retried_in_every_operation() {
    hub_fault_is_ridden_out_in_every_operation(Transient {
        rule: || FaultRule::status(503),
        times: 2,
        answered: Some(503),
        on_reads: true,
        import: IMPORT_SPOKE,
    });
}

#[test]
fn hub_409_the_object_has_been_modified_is_retried_on_every_write() {
    hub_fault_is_ridden_out_in_every_operation(Transient {
        rule: || FaultRule::status(409),
        times: 2,
        answered: Some(409),
        on_reads: false,
        import: IMPORT_ADDONS,
    });
}

#[test]
fn hub_connection_resets_are_retried_in_every_operation() {
    hub_fault_is_ridden_out_in_every_operation(Transient {
        rule: FaultRule::drop_connection,
        times: 2,
        answered: Some(0),
        on_reads: true,
        import: IMPORT_SPOKE,
    });
}

#[test]
fn hub_answers_slower_than_usual_but_within_the_deadline_are_waited_for() {
    hub_fault_is_ridden_out_in_every_operation(Transient {
        rule: || FaultRule::delay_ms(1000),
        times: 1,
        answered: None,
        on_reads: true,
        import: IMPORT_ADDONS,
    });
}

// ---------------------------------------------------------------------------------------------
// Permanent hub faults: a clear error, then a rerun converges

/// A fault that does not pass by itself, and what the error must say in each operation.
struct Permanent {
    /// The rule for the requests of `op`; `None` when the fault is not tried there.
    rule: fn(Op) -> Option<FaultRule>,
    timeouts: &'static [(&'static str, &'static str)],
    /// Phrases every error of `op` must hold besides the object's name.
    phrases: fn(Op) -> Vec<&'static str>,
}

/// Each operation fails under `fault` with an error naming both objects (and the data source's
/// Secret on refresh); after the fault is cleared the same command converges.
fn hub_fault_fails_clearly_and_a_rerun_converges(fault: Permanent) {
    let hub = seeded_hub();
    let ws = Workspace::new(&hub_root(&hub, "prod", fault.timeouts));
    let objects = |op: Op| match op {
        Op::Refresh => {
            vec!["Secret argocd/eks-faults", "ApplicationSet argocd/faults-addons", "Secret argocd/eks-seed"]
        }
        Op::Import => vec!["Secret argocd/eks-faults"],
        _ => vec!["Secret argocd/eks-faults", "ApplicationSet argocd/faults-addons"],
    };
    // Runs `failing` under the fault (when it is tried in `op`) and checks its error.
    let under_fault = |op: Op, failing: &dyn Fn() -> String| {
        let Some(rule) = (fault.rule)(op) else { return };
        hub.server().reset_requests();
        for (method, path) in hub_requests(op) {
            if op != Op::Import || *path == SECRET_PATH {
                hub.server().add_fault(rule.clone().method(method).path_contains(path));
            }
        }
        let out = failing();
        let mut phrases = (fault.phrases)(op);
        phrases.extend(objects(op));
        assert_clear_error(&out, &phrases);
        hub.server().clear_faults();
    };

    under_fault(Op::Create, &|| ws.apply_err());
    ws.apply();
    ws.assert_plan_empty();
    assert_hub_holds_both(&hub, "prod");

    ws.write("main.tf", &hub_root(&hub, "staging", fault.timeouts));
    under_fault(Op::Update, &|| ws.apply_err());
    ws.apply();
    ws.assert_plan_empty();
    assert_hub_holds_both(&hub, "staging");

    under_fault(Op::Refresh, &|| ws.plan_err());
    ws.assert_plan_empty();

    ws.run_ok(&["state", "rm", SPOKE]);
    under_fault(Op::Import, &|| ws.run_err(&["import", "-input=false", "-no-color", SPOKE, "argocd/eks-faults"]));
    ws.import(SPOKE, "argocd/eks-faults");
    // The configuration's timeouts are not something an import can read back.
    ws.apply();
    ws.assert_plan_empty();
    assert_hub_holds_both(&hub, "staging");

    under_fault(Op::Destroy, &|| ws.run_err(&["destroy", "-auto-approve", "-input=false", "-no-color"]));
    ws.destroy();
    assert_hub_holds_only_the_seed(&hub);
}

#[test]
fn hub_500_forever_fails_clearly_and_a_rerun_converges() {
    hub_fault_fails_clearly_and_a_rerun_converges(Permanent {
        // Import is left to the connection resets below: with its default timeout it would only
        // repeat create's case.
        rule: |op| (op != Op::Import).then(|| FaultRule::status(500).times(0)),
        // Create keeps its default timeout: its retries run out first.
        timeouts: &[("update", "3s"), ("read", "3s"), ("delete", "3s")],
        phrases: |op| match op {
            Op::Create | Op::Import => vec![
                "Hub API error",
                "the hub answered 500 InternalError",
                "gave up after 6 attempts",
                "The hub kept failing: check that it is reachable and healthy, then run Terraform again",
            ],
            Op::Update => vec![
                "Update timed out",
                "did not finish within 3s (timeouts.update)",
                "one more attempt would pass the deadline; its last answer: the hub answered 500 InternalError",
                "run terraform apply again",
            ],
            Op::Refresh => vec!["Read timed out", "did not finish within 3s (timeouts.read)", "500 InternalError"],
            Op::Destroy => vec!["Delete timed out", "did not finish within 3s (timeouts.delete)", "500 InternalError"],
        },
    });
}

#[test]
fn hub_connection_resets_that_never_stop_fail_clearly_and_a_rerun_converges() {
    hub_fault_fails_clearly_and_a_rerun_converges(Permanent {
        rule: |_| Some(FaultRule::drop_connection().times(0)),
        timeouts: &[],
        phrases: |_| vec!["Cannot reach the hub", "gave up after 4 attempts", "check that it is reachable"],
    });
}

#[test]
fn hub_answers_slower_than_the_deadline_fail_clearly_and_a_rerun_converges() {
    hub_fault_fails_clearly_and_a_rerun_converges(Permanent {
        // Writes take effect at once and are answered too late: the rerun must recognise its own
        // earlier write. Import reads have no timeout of their own until the configuration's
        // timeouts are in state.
        rule: |op| match op {
            Op::Create | Op::Update | Op::Destroy => Some(FaultRule::delay_answer_ms(30_000).times(0)),
            Op::Refresh => Some(FaultRule::delay_ms(30_000).times(0)),
            Op::Import => None,
        },
        timeouts: THREE_SECONDS,
        phrases: |op| expired_phrases(op, "The hub did not answer in time"),
    });
}

#[test]
fn a_field_conflict_with_another_manager_names_the_fields_the_manager_and_the_ways_out() {
    let hub = seeded_hub();
    // Someone else writes both objects between our existence check (which the hub answers 404)
    // and our write, with values that differ from ours.
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    hub.apply_as(
        "kubectl-edit",
        "argocd",
        "eks-faults",
        json!({
            "metadata": {"labels": {"argocd.argoproj.io/secret-type": "cluster", "environment": "staging"}},
            "data": {"name": b64("eks-faults"), "server": b64("https://eks-faults.example.internal")},
        }),
    );
    let other_set = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "faults-addons", "namespace": "argocd"},
        "spec": {
            "generators": [{"clusters": {}}],
            "template": {
                "metadata": {"name": "faults-addons-{{name}}"},
                "spec": {"project": "platform", "destination": {"name": "{{name}}"}},
            },
        },
    });
    hub.server().apply(Resource::ApplicationSet, "argocd", "kubectl-edit", other_set, false).expect("other writer");
    for path in [SECRET_PATH, APPSET_PATH] {
        hub.server().add_fault(FaultRule::status(404).method("GET").path_contains(path));
    }
    let ws = Workspace::new(&hub_root(&hub, "prod", &[]));
    hub.server().reset_requests();
    let out = ws.apply_err();
    assert_clear_error(
        &out,
        &[
            "Field ownership conflict on the hub",
            "Secret argocd/eks-faults: field owned by another field manager: .metadata.labels.environment (held by \"kubectl-edit\")",
            "ApplicationSet argocd/faults-addons: field owned by another field manager: .spec.template.spec.project (held by \"kubectl-edit\")",
            "set allow_overwrite = true to take them over",
            "terraform import <address> argocd/eks-faults",
            "terraform import <address> argocd/faults-addons",
            "have \"kubectl-edit\" give the fields up",
        ],
    );
    for path in [SECRET_PATH, APPSET_PATH] {
        assert_eq!(statuses(&hub, "PATCH", path), [409], "a field conflict is not retried");
    }

    // The ways out: import the Secret, take the ApplicationSet over.
    ws.import(SPOKE, "argocd/eks-faults");
    let overwrite = hub_root(&hub, "prod", &[])
        .replace("  name    = \"faults-addons\"\n", "  name    = \"faults-addons\"\n  allow_overwrite = true\n");
    ws.write("main.tf", &overwrite);
    ws.apply();
    ws.assert_plan_empty();
    assert_hub_holds_both(&hub, "prod");
    ws.destroy();
    assert_hub_holds_only_the_seed(&hub);
}

// =============================================================================================
// Route53
// =============================================================================================

const ROUTE: &str = "gitopsbridge_weighted_route.green";
const SPLIT: &str = "gitopsbridge_traffic_split.split";
const CHANGE: &str = "ChangeResourceRecordSets";
const LIST: &str = "ListResourceRecordSets";

/// A weighted route, a traffic split of another name, and the data source reading a third
/// name someone else wrote.
fn route53_root(endpoint: &str, green: i64, provider_extra: &str, timeouts: &[(&str, &str)]) -> String {
    let body = format!(
        r#"resource "gitopsbridge_weighted_route" "green" {{
  zone_name      = "example.com"
  name           = "app.example.com"
  type           = "CNAME"
  set_identifier = "green"
  weight         = {green}
  ttl            = 60
  records        = ["green.elb.example.net"]
{resource_timeouts}}}

resource "gitopsbridge_traffic_split" "split" {{
  zone_name = "example.com"
  name      = "split.example.com"
  type      = "CNAME"
  ttl       = 60
  route {{
    set_identifier = "blue"
    weight         = {blue}
    records        = ["blue.elb.example.net"]
  }}
  route {{
    set_identifier = "green"
    weight         = {green}
    records        = ["green.elb.example.net"]
  }}
{resource_timeouts}}}

data "gitopsbridge_weighted_routes" "seed" {{
  zone_name = "example.com"
  name      = "seed.example.com"
{data_timeouts}}}

output "seed_weights" {{
  value = data.gitopsbridge_weighted_routes.seed.routes[*].weight
}}
"#,
        blue = 100 - green,
        resource_timeouts = timeouts_block(timeouts, false),
        data_timeouts = timeouts_block(timeouts, true),
    );
    moto::route53_config_with(endpoint, provider_extra, &body)
}

/// moto with a zone holding one weighted record another tool wrote, and the double before it.
struct Route53Env {
    moto: Moto,
    double: Route53Double,
    zone: String,
}

impl Route53Env {
    fn start() -> Route53Env {
        let moto = Moto::start();
        let zone = moto.create_zone("example.com");
        moto::seed(
            &moto.endpoint(),
            &zone,
            vec![moto::record_set("seed.example.com", "CNAME", Some("seed"), Some(7), 60, &["seed.elb.example.net"])],
        );
        let double = Route53Double::start(&moto.endpoint());
        Route53Env { moto, double, zone }
    }

    /// `(name, set identifier, weight)` of every weighted record, sorted.
    fn weights(&self) -> Vec<(String, String, i64)> {
        let mut found: Vec<(String, String, i64)> = moto::records(&self.moto.endpoint(), &self.zone)
            .into_iter()
            .filter_map(|r| Some((r.name.trim_end_matches('.').to_string(), r.set_identifier?, r.weight?)))
            .collect();
        found.sort();
        found
    }

    fn assert_records(&self, green: i64) {
        let row = |name: &str, set: &str, weight: i64| (name.to_string(), set.to_string(), weight);
        assert_eq!(
            self.weights(),
            [
                row("app.example.com", "green", green),
                row("seed.example.com", "seed", 7),
                row("split.example.com", "blue", 100 - green),
                row("split.example.com", "green", green),
            ],
            "one record per member, nothing duplicated"
        );
    }

    fn assert_only_the_seed(&self) {
        assert_eq!(self.weights(), [("seed.example.com".to_string(), "seed".to_string(), 7)], "nothing left behind");
    }
}

/// Adds this operation's rules: writes of each resource (told apart by record name) for create,
/// update and destroy; the zone listing every read of refresh and import shares.
fn route53_faults(double: &Route53Double, op: Op, rule: impl Fn(&'static str) -> r53::FaultRule) {
    match op {
        Op::Create | Op::Update | Op::Destroy => {
            for name in ["app.example.com", "split.example.com"] {
                double.add_fault(rule(CHANGE).containing(name));
            }
        }
        Op::Refresh | Op::Import => double.add_fault(rule(LIST)),
    }
}

// ---------------------------------------------------------------------------------------------
// Transient Route53 faults

/// A Route53 fault the provider must ride out: answering `times` requests of each resource (or
/// of the shared zone listing), counted as retried unless it is only a late answer.
struct Route53Transient {
    fault: Fault,
    times: usize,
    answered: bool,
    /// Which resource is imported under the fault; the rows take turns.
    import_split: bool,
}

/// Create, update, refresh, import and destroy under the fault; each succeeds, and the double saw
/// exactly the retries.
fn route53_fault_is_ridden_out_in_every_operation(row: Route53Transient) {
    let Route53Transient { fault, times, answered, import_split } = row;
    let env = Route53Env::start();
    let ws = moto::aws_workspace(&route53_root(&env.double.endpoint(), 10, "", &[]));
    let retried = if answered { times } else { 0 };
    let with_fault = |op: Op, run: &dyn Fn()| {
        env.double.reset_counts();
        route53_faults(&env.double, op, |operation| r53::FaultRule::new(operation, fault.clone()).times(times));
        run();
        // Each resource writes once; refresh lists the zone once for both resources and the data
        // source; the import lists it once.
        let (operation, expected) = match op {
            Op::Create | Op::Update | Op::Destroy => (CHANGE, 2 * (retried + 1)),
            Op::Refresh | Op::Import => (LIST, retried + 1),
        };
        assert_eq!(env.double.pending_faults(operation), 0, "{op:?}: every fault was met");
        assert_eq!(env.double.count(operation), expected as u64, "{op:?}: {operation} requests, retries included");
    };

    with_fault(Op::Create, &|| {
        ws.apply();
    });
    env.assert_records(10);
    assert_eq!(output(&ws, "seed_weights"), json!([7]));

    ws.write("main.tf", &route53_root(&env.double.endpoint(), 20, "", &[]));
    with_fault(Op::Update, &|| {
        ws.apply();
    });
    env.assert_records(20);

    with_fault(Op::Refresh, &|| ws.assert_plan_empty());

    // One import per fault keeps the suite short; the faults take turns.
    let (address, id) = if import_split {
        (SPLIT, format!("{}_split.example.com_CNAME", env.zone))
    } else {
        (ROUTE, format!("{}_app.example.com_CNAME_green", env.zone))
    };
    ws.run_ok(&["state", "rm", address]);
    with_fault(Op::Import, &|| {
        ws.import(address, &id);
    });
    ws.assert_plan_empty();

    with_fault(Op::Destroy, &|| {
        ws.destroy();
    });
    env.assert_only_the_seed();
}

#[test]
fn route53_throttling_is_retried_in_every_operation() {
    route53_fault_is_ridden_out_in_every_operation(Route53Transient {
        fault: Fault::Throttling,
        times: 2,
        answered: true,
        import_split: false,
    });
}

#[test]
fn route53_prior_request_not_complete_is_retried_in_every_operation() {
    route53_fault_is_ridden_out_in_every_operation(Route53Transient {
        fault: Fault::PriorRequestNotComplete,
        times: 2,
        answered: true,
        import_split: true,
    });
}

#[test]
fn route53_503_service_unavailable_is_retried_in_every_operation() {
    route53_fault_is_ridden_out_in_every_operation(Route53Transient {
        fault: Fault::ServiceUnavailable,
        times: 1,
        answered: true,
        import_split: false,
    });
}

#[test]
fn route53_500_internal_failure_is_retried_in_every_operation() {
    route53_fault_is_ridden_out_in_every_operation(Route53Transient {
        fault: Fault::InternalFailure,
        times: 1,
        answered: true,
        import_split: true,
    });
}

#[test]
fn route53_connection_resets_are_retried_in_every_operation() {
    route53_fault_is_ridden_out_in_every_operation(Route53Transient {
        fault: Fault::Drop,
        times: 1,
        answered: true,
        import_split: false,
    });
}

#[test]
fn route53_answers_slower_than_usual_but_within_the_deadline_are_waited_for() {
    route53_fault_is_ridden_out_in_every_operation(Route53Transient {
        fault: Fault::Delay(Duration::from_millis(1000)),
        times: 1,
        answered: false,
        import_split: true,
    });
}

// ---------------------------------------------------------------------------------------------
// Permanent Route53 faults

/// The provider setting of every permanent-fault root: two attempts, so that retries run out
/// in about a second instead of Route53's usual backoff of many seconds.
const TWO_ATTEMPTS: &str = "    max_attempts = 2\n";

/// A Route53 fault that does not pass by itself, and what the error must say in each operation.
struct Route53Permanent {
    /// The rule for one target of `op` (a resource's writes, or the zone listing); `None` when the
    /// fault is not tried there.
    rule: fn(Op, &'static str) -> Option<r53::FaultRule>,
    timeouts: &'static [(&'static str, &'static str)],
    /// Phrases every error of `op` must hold besides the objects' names.
    phrases: fn(Op) -> Vec<&'static str>,
    /// Whether a faulted write still reaches Route53, so that the rerun has nothing to write.
    writes_land: bool,
}

/// Each operation fails under `fault` with an error naming every object; after the fault is
/// cleared the same command converges and leaves exactly the records of the configuration.
fn route53_fault_fails_clearly_and_a_rerun_converges(fault: Route53Permanent) {
    let env = Route53Env::start();
    let endpoint = env.double.endpoint();
    let ws = moto::aws_workspace(&route53_root(&endpoint, 10, TWO_ATTEMPTS, fault.timeouts));
    let objects = |op: Op| match op {
        Op::Refresh => vec![
            "weighted record app.example.com CNAME green",
            "weighted set split.example.com CNAME",
            "weighted records of seed.example.com",
        ],
        Op::Import => vec!["weighted record app.example.com CNAME green"],
        _ => vec!["weighted record app.example.com CNAME green", "weighted set split.example.com CNAME"],
    };
    // Runs `failing` under the fault (when it is tried in `op`) and checks its error.
    let under_fault = |op: Op, failing: &dyn Fn() -> String| {
        if (fault.rule)(op, CHANGE).is_none() {
            return;
        }
        route53_faults(&env.double, op, |operation| (fault.rule)(op, operation).expect("a rule"));
        let out = failing();
        let mut phrases = (fault.phrases)(op);
        phrases.extend(objects(op));
        assert_clear_error(&out, &phrases);
        env.double.clear_faults();
        env.double.reset_counts();
    };

    under_fault(Op::Create, &|| ws.apply_err());
    ws.apply();
    let rewrites = env.double.count(CHANGE);
    ws.assert_plan_empty();
    env.assert_records(10);
    if fault.writes_land {
        assert_eq!(rewrites, 0, "the rerun recognised the records its first attempt wrote");
    }

    ws.write("main.tf", &route53_root(&endpoint, 20, TWO_ATTEMPTS, fault.timeouts));
    under_fault(Op::Update, &|| ws.apply_err());
    ws.apply();
    ws.assert_plan_empty();
    env.assert_records(20);

    under_fault(Op::Refresh, &|| ws.plan_err());
    ws.assert_plan_empty();

    ws.run_ok(&["state", "rm", ROUTE]);
    let id = format!("{}_app.example.com_CNAME_green", env.zone);
    under_fault(Op::Import, &|| ws.run_err(&["import", "-input=false", "-no-color", ROUTE, &id]));
    ws.import(ROUTE, &id);
    // The configuration's timeouts are not something an import can read back.
    ws.apply();
    ws.assert_plan_empty();
    env.assert_records(20);

    under_fault(Op::Destroy, &|| ws.run_err(&["destroy", "-auto-approve", "-input=false", "-no-color"]));
    ws.destroy();
    env.assert_only_the_seed();
}

#[test]
fn route53_invalid_change_batch_is_not_retried_and_arrives_verbatim() {
    route53_fault_fails_clearly_and_a_rerun_converges(Route53Permanent {
        rule: |op, operation| match op {
            Op::Create | Op::Update | Op::Destroy => Some(r53::FaultRule::new(
                operation,
                Fault::InvalidChangeBatch(
                    "[RRSet with DNS name app.example.com. is not permitted in zone example.com.]".into(),
                ),
            )),
            Op::Refresh | Op::Import => None,
        },
        timeouts: &[],
        phrases: |_| {
            vec![
                "Route53 rejected the change",
                "[RRSet with DNS name app.example.com. is not permitted in zone example.com.]",
            ]
        },
        writes_land: false,
    });
}

#[test]
fn route53_throttling_that_never_stops_fails_clearly_and_a_rerun_converges() {
    route53_fault_fails_clearly_and_a_rerun_converges(Route53Permanent {
        rule: |op, operation| (op != Op::Update).then(|| r53::FaultRule::new(operation, Fault::Throttling).always()),
        timeouts: &[],
        phrases: |_| {
            vec!["Route53 throttled every attempt", "after 2 attempts; raise route53.max_attempts or retry later"]
        },
        writes_land: false,
    });
}

/// 503s and lost connections are the same to the user (Route53 cannot be reached or used), so
/// the two take turns across the operations.
#[test]
fn route53_503_or_connection_resets_that_never_stop_fail_clearly_and_a_rerun_converges() {
    route53_fault_fails_clearly_and_a_rerun_converges(Route53Permanent {
        rule: |op, operation| {
            let fault = if matches!(op, Op::Update | Op::Import) { Fault::ServiceUnavailable } else { Fault::Drop };
            Some(r53::FaultRule::new(operation, fault).always())
        },
        timeouts: &[],
        phrases: |op| {
            let mut phrases = vec!["Route53 unavailable", "after 2 attempts", "check that Route53 is reachable"];
            if matches!(op, Op::Update | Op::Import) {
                phrases.push("(last answer: 503 ServiceUnavailable)");
            }
            phrases
        },
        writes_land: false,
    });
}

#[test]
fn route53_answers_slower_than_the_deadline_fail_clearly_and_a_rerun_converges() {
    route53_fault_fails_clearly_and_a_rerun_converges(Route53Permanent {
        // Changes take effect at once and are answered too late: the rerun must recognise them.
        rule: |op, operation| match op {
            Op::Create | Op::Update | Op::Destroy => {
                Some(r53::FaultRule::new(operation, Fault::DelayAnswer(Duration::from_secs(30))).always())
            }
            Op::Refresh => Some(r53::FaultRule::new(operation, Fault::Delay(Duration::from_secs(30))).always()),
            // An import reads with the default timeout: the state holds no timeouts yet.
            Op::Import => None,
        },
        timeouts: THREE_SECONDS,
        phrases: |op| expired_phrases(op, "Route53 did not answer in time"),
        writes_land: true,
    });
}
