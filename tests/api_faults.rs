//! API faults end to end: the real terraform and our provider against the Kubernetes API test
//! server (the hub) and the Route53 double in front of moto, with faults injected into the
//! requests of one operation at a time: create, update, refresh (plan), import and destroy.
//!
//! Every resource and data source that talks to the hub (`cluster_metadata`, `addon_set`, data
//! `cluster_metadata`) or to Route53 (`weighted_route`, `traffic_split`, data `weighted_routes`)
//! sits in one root, so each operation exercises all of them at once. Two fault kinds of the
//! same nature (429 and an optimistic 409, 500 and 503, Throttling and PriorRequestNotComplete)
//! take turns across the operations.
//!
//! - Transient faults are retried and the operation succeeds; the servers' request logs show the
//!   retries.
//! - Permanent faults fail with an error naming the object, what happened and what to do, never
//!   a panic or a plugin crash. A write that certainly did not happen records nothing; one whose
//!   answer was lost records the plan (a create is then tainted). Once the fault is gone a rerun
//!   converges, the next plan is empty, and nothing is duplicated or left behind.
//! - A deadline ends an operation like Ctrl-C does: a write already sent is finished, so an
//!   answer that comes after the deadline still counts (with a warning); reads are dropped.
//! - Within one operation a retry recognises the write its lost answer applied; across runs
//!   nothing is taken over silently.

mod support;

use std::time::Duration;

use base64::Engine as _;
use kube_test_server::{FaultRule, Resource};
use serde_json::json;
use support::hub::Hub;
use support::moto::{self, Moto};
use support::outcome::{flat, tainted, warnings};
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

/// What an error says when a write's answer was lost, and when the plan was recorded for it.
const UNCERTAIN: &str = "The write may have been carried out before its answer was lost.";
const PLANNED: &str = "The state records the object as planned: the next plan finds out what exists";

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

/// Every operation's timeout in the roots of the tests with answers later than the deadline.
const TWO_SECONDS: &[(&str, &str)] = &[("create", "2s"), ("update", "2s"), ("read", "2s"), ("delete", "2s")];

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

/// Checks that `out` warns once per object that `operation` (`Create`, …) finished after its
/// two-second deadline.
fn assert_late(out: &str, operation: &str, objects: &[&str]) {
    let summary = format!("{operation} took longer than timeouts.{}", operation.to_lowercase());
    // Terraform shows one of the warnings of a summary in full and counts the others.
    assert_eq!(warnings(out, &summary), objects.len(), "{out}");
    let gerund = format!("{}ing", operation.trim_end_matches('e'));
    assert!(objects.iter().any(|o| flat(out).contains(&format!("{gerund} {o} took longer than 2s"))), "{out}");
    assert_clear_error(out, &["its write was on the way when the deadline passed", "It succeeded"]);
}

// =============================================================================================
// The hub
// =============================================================================================

const SPOKE: &str = "gitopsbridge_cluster_metadata.spoke";
const ADDONS: &str = "gitopsbridge_addon_set.addons";
const SECRET: &str = "Secret argocd/eks-faults";
const APPSET: &str = "ApplicationSet argocd/faults-addons";
/// How errors name the listings refresh and import read through.
const SECRETS: &str = "Secret in namespace argocd";
const APPSETS: &str = "ApplicationSet in namespace argocd";
/// Request paths of the three objects.
const SECRET_PATH: &str = "/secrets/eks-faults";
const APPSET_PATH: &str = "/applicationsets/faults-addons";
const SEED_PATH: &str = "/secrets/eks-seed";
/// Refresh and import read through one listing per namespace and kind.
const SECRETS_PATH: &str = "/namespaces/argocd/secrets";
const APPSETS_PATH: &str = "/namespaces/argocd/applicationsets";

/// A cluster Secret and an addon set, and the data source reading a cluster someone else wrote;
/// `hub_extra` goes into the provider's `hub` block.
fn hub_root(hub: &Hub, environment: &str, timeouts: &[(&str, &str)], hub_extra: &str) -> String {
    format!(
        r#"{providers}
provider "gitopsbridge" {{
  hub {{
    config_path = "{kubeconfig}"
{hub_extra}  }}
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
        Op::Refresh => &[("GET", SECRETS_PATH), ("GET", APPSETS_PATH), ("GET", SEED_PATH)],
        Op::Import => &[("GET", SECRETS_PATH), ("GET", APPSETS_PATH)],
        Op::Destroy => &[("DELETE", SECRET_PATH), ("DELETE", APPSET_PATH)],
    }
}

// ---------------------------------------------------------------------------------------------
// Transient hub faults: retried, and the operation succeeds

/// A fault the provider must ride out.
struct Transient {
    /// The rule for the requests of an operation, and the status a faulted request is logged
    /// with (`None` when it is served, only late).
    fault: fn(Op) -> (FaultRule, Option<u16>),
    times: u32,
    /// The resource imported under the fault: (address, import id, request path). One per
    /// fault keeps the suite short; the rows take turns.
    import: (&'static str, &'static str, &'static str),
}

const IMPORT_SPOKE: (&str, &str, &str) = (SPOKE, "argocd/eks-faults", SECRETS_PATH);
const IMPORT_ADDONS: (&str, &str, &str) = (ADDONS, "argocd/faults-addons", APPSETS_PATH);

/// Create, update, refresh, import and destroy, each with its fault on every request of the
/// operation; each succeeds, after exactly `times` faulted answers per object.
fn hub_fault_is_ridden_out_in_every_operation(row: Transient) {
    let hub = seeded_hub();
    let ws = Workspace::new(&hub_root(&hub, "prod", &[], ""));
    let (import_address, import_id, import_path) = row.import;
    let with_fault = |op: Op, run: &dyn Fn()| {
        hub.server().reset_requests();
        let (rule, answered) = (row.fault)(op);
        let targets: Vec<_> =
            hub_requests(op).iter().filter(|(_, path)| op != Op::Import || *path == import_path).collect();
        for (method, path) in &targets {
            hub.server().add_fault(rule.clone().method(method).path_ends_with(path).times(row.times));
        }
        run();
        assert!(hub.server().pending_faults().is_empty(), "{op:?}: every fault was met");
        for (method, path) in &targets {
            let seen = statuses(&hub, method, path);
            let faulted = answered.map_or(0, |_| row.times as usize);
            assert_eq!(seen.len(), faulted + 1, "{op:?} {method} {path}: {seen:?}");
            if let Some(code) = answered {
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

    ws.write("main.tf", &hub_root(&hub, "staging", &[], ""));
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

/// An optimistic-concurrency 409 ("the object has been modified") answers writes only: it takes
/// the writes of update and destroy, 429 the rest.
#[test]
fn hub_429_with_retry_after_and_409_the_object_has_been_modified_are_retried_in_every_operation() {
    hub_fault_is_ridden_out_in_every_operation(Transient {
        fault: |op| match op {
            Op::Update | Op::Destroy => (FaultRule::status(409), Some(409)),
            _ => (FaultRule::too_many_requests(1), Some(429)),
        },
        times: 1,
        import: IMPORT_SPOKE,
    });
}

#[test]
fn hub_500_and_503_are_retried_in_every_operation() {
    hub_fault_is_ridden_out_in_every_operation(Transient {
        fault: |op| match op {
            Op::Update | Op::Import => (FaultRule::status(503), Some(503)),
            _ => (FaultRule::status(500), Some(500)),
        },
        times: 2,
        import: IMPORT_ADDONS,
    });
}

#[test]
fn hub_connection_resets_are_retried_in_every_operation() {
    hub_fault_is_ridden_out_in_every_operation(Transient {
        fault: |_| (FaultRule::drop_connection(), Some(0)),
        times: 2,
        import: IMPORT_SPOKE,
    });
}

#[test]
fn hub_answers_slower_than_usual_but_within_the_deadline_are_waited_for() {
    hub_fault_is_ridden_out_in_every_operation(Transient {
        fault: |_| (FaultRule::delay_ms(1000), None),
        times: 1,
        import: IMPORT_ADDONS,
    });
}

// ---------------------------------------------------------------------------------------------
// Permanent hub faults: a clear error, then a rerun converges

/// 500s and lost connections that do not stop take turns: 500 in create, refresh and destroy,
/// resets in update and import. A write that got no answer or a 5xx may have happened: create
/// and update record the plan, and the rerun finds out what exists (here: nothing was written).
#[test]
fn hub_500_or_connection_resets_that_never_stop_fail_clearly_and_a_rerun_converges() {
    // Create and import keep their default timeouts: their retries run out first.
    let timeouts: &[(&str, &str)] = &[("update", "3s"), ("read", "3s"), ("delete", "3s")];
    let hub = seeded_hub();
    let ws = Workspace::new(&hub_root(&hub, "prod", timeouts, ""));
    let both = vec![SECRET, APPSET];
    // Runs `failing` under the fault of `op` and checks its error.
    let under_fault = |op: Op, failing: &dyn Fn() -> String, mut phrases: Vec<&str>| {
        hub.server().reset_requests();
        let rule = match op {
            Op::Update | Op::Import => FaultRule::drop_connection(),
            _ => FaultRule::status(500),
        };
        // A listing that fails is followed by a GET of each object: both fail.
        let requests = match op {
            Op::Import => &[("GET", SECRETS_PATH), ("GET", SECRET_PATH)][..],
            Op::Refresh => &[hub_requests(op), &[("GET", SECRET_PATH), ("GET", APPSET_PATH)]].concat()[..],
            _ => hub_requests(op),
        };
        for (method, path) in requests {
            hub.server().add_fault(rule.clone().method(method).path_ends_with(path).times(0));
        }
        let out = failing();
        phrases.extend(match op {
            Op::Refresh => vec![SECRETS, APPSETS, "Secret argocd/eks-seed"],
            Op::Import => vec![SECRET],
            _ => both.clone(),
        });
        assert_clear_error(&out, &phrases);
        hub.server().clear_faults();
    };
    let gave_up_500 = vec![
        "Hub API error",
        "the hub answered 500 InternalError",
        "gave up after 6 attempts",
        "The hub kept failing: check that it is reachable and healthy, then run Terraform again",
    ];
    let unreachable = vec!["Cannot reach the hub", "gave up after 4 attempts", "check that it is reachable"];

    under_fault(Op::Create, &|| ws.apply_err(), [gave_up_500.clone(), vec![UNCERTAIN, PLANNED]].concat());
    assert_eq!(tainted(&ws), [ADDONS, SPOKE], "the creates whose outcome is unknown are recorded, tainted");
    let rerun = ws.apply();
    assert!(rerun.contains("2 added, 0 changed, 0 destroyed"), "none of them existed: created again\n{rerun}");
    ws.assert_plan_empty();
    assert_hub_holds_both(&hub, "prod");

    ws.write("main.tf", &hub_root(&hub, "staging", timeouts, ""));
    under_fault(Op::Update, &|| ws.apply_err(), [unreachable.clone(), vec![UNCERTAIN, PLANNED]].concat());
    let rerun = ws.apply();
    assert!(rerun.contains("0 added, 2 changed, 0 destroyed"), "{rerun}");
    ws.assert_plan_empty();
    assert_hub_holds_both(&hub, "staging");

    let read_timed_out = vec!["Read timed out", "did not finish within 3s (timeouts.read)", "500 InternalError"];
    under_fault(Op::Refresh, &|| ws.plan_err(), read_timed_out);
    ws.assert_plan_empty();

    ws.run_ok(&["state", "rm", SPOKE]);
    under_fault(
        Op::Import,
        &|| ws.run_err(&["import", "-input=false", "-no-color", SPOKE, "argocd/eks-faults"]),
        unreachable,
    );
    ws.import(SPOKE, "argocd/eks-faults");
    // The configuration's timeouts are not something an import can read back.
    ws.apply();
    ws.assert_plan_empty();

    let delete_timed_out =
        vec!["Delete timed out", "did not finish within 3s (timeouts.delete)", "500 InternalError", UNCERTAIN];
    under_fault(
        Op::Destroy,
        &|| ws.run_err(&["destroy", "-auto-approve", "-input=false", "-no-color"]),
        delete_timed_out,
    );
    ws.destroy();
    assert_hub_holds_only_the_seed(&hub);
}

/// A deadline ends an operation like Ctrl-C: writes already sent are finished. Answered after the
/// two-second deadline (but within the read timeout) they count, with a warning; a refresh is
/// dropped at the deadline. An answer that does not come within `hub.request_timeout` leaves the
/// outcome open: the create records the plan (tainted), and the rerun, which finds both objects
/// written, replaces them.
#[test]
fn hub_answers_after_the_deadline_finish_the_write_and_a_lost_answer_records_the_plan() {
    let hub = seeded_hub();
    let ws = Workspace::new(&hub_root(&hub, "prod", TWO_SECONDS, ""));
    let answers_late = |op: Op| {
        hub.server().clear_faults();
        for (method, path) in hub_requests(op) {
            hub.server().add_fault(FaultRule::delay_answer_ms(3_000).method(method).path_ends_with(path));
        }
    };
    let both = [SECRET, APPSET];

    answers_late(Op::Create);
    assert_late(&ws.apply(), "Create", &both);
    ws.assert_plan_empty();
    assert_hub_holds_both(&hub, "prod");

    ws.write("main.tf", &hub_root(&hub, "staging", TWO_SECONDS, ""));
    answers_late(Op::Update);
    assert_late(&ws.apply(), "Update", &both);
    ws.assert_plan_empty();
    assert_hub_holds_both(&hub, "staging");

    hub.server().clear_faults();
    for (method, path) in hub_requests(Op::Refresh) {
        hub.server().add_fault(FaultRule::delay_ms(3_000).method(method).path_ends_with(path).times(0));
    }
    let out = ws.plan_err();
    let refresh = ["Read timed out", "did not finish within 2s (timeouts.read)", "The hub did not answer in time"];
    assert_clear_error(&out, &[&refresh[..], &[SECRETS, APPSETS, "Secret argocd/eks-seed"]].concat());
    hub.server().clear_faults();
    ws.assert_plan_empty();

    answers_late(Op::Destroy);
    assert_late(&ws.destroy(), "Delete", &both);
    assert_hub_holds_only_the_seed(&hub);

    // Answers later than the client's read timeout: every attempt lands and none is answered.
    let quick = "    request_timeout = \"1s\"\n";
    ws.write("main.tf", &hub_root(&hub, "prod", TWO_SECONDS, quick));
    hub.server().clear_faults();
    for (method, path) in hub_requests(Op::Create) {
        hub.server().add_fault(FaultRule::delay_answer_ms(3_000).method(method).path_ends_with(path).times(0));
    }
    let out = ws.apply_err();
    assert_clear_error(
        &out,
        &[
            "Create timed out",
            "did not finish within 2s (timeouts.create)",
            "its last answer: cannot reach the hub",
            UNCERTAIN,
            PLANNED,
            SECRET,
            APPSET,
        ],
    );
    assert_eq!(tainted(&ws), [ADDONS, SPOKE]);
    hub.server().clear_faults();
    let rerun = ws.apply();
    assert!(rerun.contains("2 added, 0 changed, 2 destroyed"), "both existed: replaced\n{rerun}");
    ws.assert_plan_empty();
    assert_hub_holds_both(&hub, "prod");
    ws.destroy();
    assert_hub_holds_only_the_seed(&hub);
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
        hub.server().add_fault(FaultRule::status(404).method("GET").path_ends_with(path));
    }
    let ws = Workspace::new(&hub_root(&hub, "prod", &[], ""));
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
    assert!(tainted(&ws).is_empty() && !flat(&out).contains(UNCERTAIN), "a refused write records nothing");

    // The ways out: import the Secret, take the ApplicationSet over.
    ws.import(SPOKE, "argocd/eks-faults");
    let overwrite = hub_root(&hub, "prod", &[], "")
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
const RECORD: &str = "weighted record app.example.com CNAME green";
const SET: &str = "weighted set split.example.com CNAME";
const CHANGE: &str = "ChangeResourceRecordSets";
const LIST: &str = "ListResourceRecordSets";

/// A weighted route, a traffic split of another name, and the data source reading a third
/// name someone else wrote. No set identifier appears twice in the zone: moto deletes every
/// record of a set identifier, whatever its name.
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
    set_identifier = "split-blue"
    weight         = {blue}
    records        = ["blue.elb.example.net"]
  }}
  route {{
    set_identifier = "split-green"
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
                row("split.example.com", "split-blue", 100 - green),
                row("split.example.com", "split-green", green),
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

/// The provider setting of the roots whose faults outlast the retries: two attempts, so that
/// retries run out in about a second instead of Route53's usual backoff of many seconds.
const TWO_ATTEMPTS: &str = "    max_attempts = 2\n";

// ---------------------------------------------------------------------------------------------
// Transient Route53 faults

/// A Route53 fault the provider must ride out: answering `times` requests of each resource (or
/// of the shared zone listing), counted as retried unless it is only a late answer.
struct Route53Transient {
    fault: fn(Op) -> Fault,
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
        route53_faults(&env.double, op, |operation| r53::FaultRule::new(operation, fault(op)).times(times));
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
fn route53_throttling_and_prior_request_not_complete_are_retried_in_every_operation() {
    route53_fault_is_ridden_out_in_every_operation(Route53Transient {
        fault: |op| match op {
            Op::Update | Op::Import => Fault::PriorRequestNotComplete,
            _ => Fault::Throttling,
        },
        times: 2,
        answered: true,
        import_split: false,
    });
}

#[test]
fn route53_503_and_500_are_retried_in_every_operation() {
    route53_fault_is_ridden_out_in_every_operation(Route53Transient {
        fault: |op| match op {
            Op::Update | Op::Import => Fault::InternalFailure,
            _ => Fault::ServiceUnavailable,
        },
        times: 1,
        answered: true,
        import_split: true,
    });
}

#[test]
fn route53_connection_resets_are_retried_in_every_operation() {
    route53_fault_is_ridden_out_in_every_operation(Route53Transient {
        fault: |_| Fault::Drop,
        times: 1,
        answered: true,
        import_split: false,
    });
}

#[test]
fn route53_answers_slower_than_usual_but_within_the_deadline_are_waited_for() {
    route53_fault_is_ridden_out_in_every_operation(Route53Transient {
        fault: |_| Fault::Delay(Duration::from_millis(1000)),
        times: 1,
        answered: false,
        import_split: true,
    });
}

// ---------------------------------------------------------------------------------------------
// Permanent Route53 faults

/// A Route53 fault that does not pass by itself, and what the error must say in each operation.
struct Route53Permanent {
    /// The rule for one target of `op` (a resource's writes, or the zone listing).
    rule: fn(Op, &'static str) -> r53::FaultRule,
    /// Phrases every error of `op` must hold besides the objects' names.
    phrases: fn(Op) -> Vec<&'static str>,
    /// Whether a faulted write may have happened: then create and update record the plan.
    uncertain: bool,
}

/// Each operation fails under its fault with an error naming every object; after the fault is
/// cleared the same command converges and leaves exactly the records of the configuration.
fn route53_fault_fails_clearly_and_a_rerun_converges(fault: Route53Permanent) {
    let env = Route53Env::start();
    let endpoint = env.double.endpoint();
    let ws = moto::aws_workspace(&route53_root(&endpoint, 10, TWO_ATTEMPTS, &[]));
    let objects = |op: Op| match op {
        Op::Refresh => vec![RECORD, SET, "weighted records of seed.example.com"],
        Op::Import => vec![RECORD],
        _ => vec![RECORD, SET],
    };
    // Runs `failing` under the fault of `op` and checks its error.
    let under_fault = |op: Op, failing: &dyn Fn() -> String| {
        env.double.reset_counts();
        route53_faults(&env.double, op, |operation| (fault.rule)(op, operation));
        let out = failing();
        let mut phrases = (fault.phrases)(op);
        phrases.extend(objects(op));
        if fault.uncertain && matches!(op, Op::Create | Op::Update) {
            phrases.extend([UNCERTAIN, PLANNED]);
        }
        assert_clear_error(&out, &phrases);
        env.double.clear_faults();
    };

    under_fault(Op::Create, &|| ws.apply_err());
    let expected_tainted: &[&str] = if fault.uncertain { &[SPLIT, ROUTE] } else { &[] };
    assert_eq!(tainted(&ws), expected_tainted, "recorded only when the create may have happened");
    let rerun = ws.apply();
    assert!(rerun.contains("2 added, 0 changed, 0 destroyed"), "nothing was written: created now\n{rerun}");
    ws.assert_plan_empty();
    env.assert_records(10);

    ws.write("main.tf", &route53_root(&endpoint, 20, TWO_ATTEMPTS, &[]));
    under_fault(Op::Update, &|| ws.apply_err());
    let rerun = ws.apply();
    assert!(rerun.contains("0 added, 2 changed, 0 destroyed"), "{rerun}");
    ws.assert_plan_empty();
    env.assert_records(20);

    under_fault(Op::Refresh, &|| ws.plan_err());
    ws.assert_plan_empty();

    ws.run_ok(&["state", "rm", ROUTE]);
    let id = format!("{}_app.example.com_CNAME_green", env.zone);
    under_fault(Op::Import, &|| ws.run_err(&["import", "-input=false", "-no-color", ROUTE, &id]));
    ws.import(ROUTE, &id);
    ws.assert_plan_empty();
    env.assert_records(20);

    under_fault(Op::Destroy, &|| ws.run_err(&["destroy", "-auto-approve", "-input=false", "-no-color"]));
    ws.destroy();
    env.assert_only_the_seed();
}

/// A rejected batch and throttling that never stops both say for certain that nothing was
/// written: nothing is recorded. They take turns: rejections on create and destroy, throttling
/// on update and the reads.
#[test]
fn route53_rejected_or_always_throttled_changes_fail_clearly_and_record_nothing() {
    route53_fault_fails_clearly_and_a_rerun_converges(Route53Permanent {
        rule: |op, operation| match op {
            Op::Create | Op::Destroy => r53::FaultRule::new(
                operation,
                Fault::InvalidChangeBatch("[RRSet with DNS name is not permitted in zone example.com.]".into()),
            ),
            _ => r53::FaultRule::new(operation, Fault::Throttling).always(),
        },
        phrases: |op| match op {
            Op::Create | Op::Destroy => {
                vec!["Route53 rejected the change", "[RRSet with DNS name is not permitted in zone example.com.]"]
            }
            _ => vec!["Route53 throttled every attempt", "after 2 attempts; raise route53.max_attempts or retry later"],
        },
        uncertain: false,
    });
}

/// 503s and lost connections are the same to the user (Route53 cannot be reached or used), so
/// the two take turns across the operations. Either may come after Route53 applied the batch.
#[test]
fn route53_503_or_connection_resets_that_never_stop_fail_clearly_and_a_rerun_converges() {
    route53_fault_fails_clearly_and_a_rerun_converges(Route53Permanent {
        rule: |op, operation| {
            let fault = if matches!(op, Op::Update | Op::Import) { Fault::ServiceUnavailable } else { Fault::Drop };
            r53::FaultRule::new(operation, fault).always()
        },
        phrases: |op| {
            let mut phrases = vec!["Route53 unavailable", "after 2 attempts", "check that Route53 is reachable"];
            if matches!(op, Op::Update | Op::Import) {
                phrases.push("(last answer: 503 ServiceUnavailable)");
            }
            phrases
        },
        uncertain: true,
    });
}

/// Changes applied at once and answered after the two-second deadline are finished: each write
/// succeeds with a warning. A refresh is dropped at the deadline.
#[test]
fn route53_answers_after_the_deadline_finish_the_write() {
    let env = Route53Env::start();
    let endpoint = env.double.endpoint();
    let ws = moto::aws_workspace(&route53_root(&endpoint, 10, "", TWO_SECONDS));
    let answers_late = |op: Op| {
        env.double.clear_faults();
        route53_faults(&env.double, op, |operation| {
            r53::FaultRule::new(operation, Fault::DelayAnswer(Duration::from_secs(3)))
        });
    };

    answers_late(Op::Create);
    assert_late(&ws.apply(), "Create", &[RECORD, SET]);
    ws.assert_plan_empty();
    env.assert_records(10);

    ws.write("main.tf", &route53_root(&endpoint, 20, "", TWO_SECONDS));
    answers_late(Op::Update);
    assert_late(&ws.apply(), "Update", &[RECORD, SET]);
    ws.assert_plan_empty();
    env.assert_records(20);

    env.double.clear_faults();
    env.double.add_fault(r53::FaultRule::new(LIST, Fault::Delay(Duration::from_secs(3))).always());
    let out = ws.plan_err();
    assert_clear_error(
        &out,
        &["Read timed out", "did not finish within 2s (timeouts.read)", "Route53 did not answer in time", RECORD, SET],
    );
    env.double.clear_faults();
    ws.assert_plan_empty();

    answers_late(Op::Destroy);
    assert_late(&ws.destroy(), "Delete", &[RECORD, SET]);
    env.assert_only_the_seed();
}

/// A change whose answer is lost after Route53 applied it: the retry finds the batch in place
/// and takes it as this apply's own write (a weighted route's identity change, a DELETE and a
/// CREATE in one batch, included).
#[test]
fn route53_a_retry_recognises_the_write_its_lost_answer_applied() {
    let env = Route53Env::start();
    let endpoint = env.double.endpoint();
    let root = |green, set_identifier: &str| {
        route53_root(&endpoint, green, TWO_ATTEMPTS, &[]).replace(
            "set_identifier = \"green\"\n  weight         =",
            &format!("set_identifier = \"{set_identifier}\"\n  weight         ="),
        )
    };
    let ws = moto::aws_workspace(&root(10, "green"));
    let answer_lost = |op: Op| {
        env.double.reset_counts();
        route53_faults(&env.double, op, |operation| r53::FaultRule::new(operation, Fault::DropAnswer));
    };

    answer_lost(Op::Create);
    let out = ws.apply();
    assert_eq!(warnings(&out, "Change not awaited"), 2, "{out}");
    assert_eq!(env.double.count(CHANGE), 4, "one lost answer and one retry each");
    env.assert_records(10);
    ws.assert_plan_empty();

    // The weighted route moves to another set identifier: one DELETE+CREATE batch.
    ws.write("main.tf", &root(20, "green-2"));
    answer_lost(Op::Update);
    ws.apply();
    assert_eq!(env.double.count(CHANGE), 4);
    ws.assert_plan_empty();
    let app: Vec<_> = env.weights().into_iter().filter(|(name, _, _)| name == "app.example.com").collect();
    assert_eq!(app, [("app.example.com".to_string(), "green-2".to_string(), 20)]);

    answer_lost(Op::Destroy);
    ws.destroy();
    env.assert_only_the_seed();
}

/// The answer is lost and the retry answered 503: nobody knows whether the batch happened (it
/// did). The create records the plan, tainted, and the rerun, which finds the records, replaces
/// them.
#[test]
fn route53_a_create_whose_retry_fails_too_records_the_plan_and_the_rerun_replaces_it() {
    let env = Route53Env::start();
    let ws = moto::aws_workspace(&route53_root(&env.double.endpoint(), 10, TWO_ATTEMPTS, &[]));
    route53_faults(&env.double, Op::Create, |operation| r53::FaultRule::new(operation, Fault::DropAnswer));
    route53_faults(&env.double, Op::Create, |operation| r53::FaultRule::new(operation, Fault::ServiceUnavailable));
    let out = ws.apply_err();
    assert_clear_error(&out, &["Route53 unavailable", UNCERTAIN, PLANNED, RECORD, SET]);
    assert_eq!(tainted(&ws), [SPLIT, ROUTE]);
    env.assert_records(10);
    let rerun = ws.apply();
    assert!(rerun.contains("2 added, 0 changed, 2 destroyed"), "{rerun}");
    ws.assert_plan_empty();
    env.assert_records(10);
    ws.destroy();
    env.assert_only_the_seed();
}

// =============================================================================================
// Across runs: nothing is taken over silently
// =============================================================================================

/// Green's root made as a copy of blue's that forgot to rename: every object it would create
/// exists, exactly as it would write it, and belongs to blue. Its apply refuses each one with
/// its import id and writes nothing; blue's objects and plans stay as they were.
#[test]
fn a_copied_root_that_kept_the_names_takes_over_nothing() {
    let hub = seeded_hub();
    let env = Route53Env::start();
    let endpoint = env.double.endpoint();
    let hub_main = hub_root(&hub, "prod", &[], "");
    let route53_main = route53_root(&endpoint, 10, "", &[]);
    let blue = [Workspace::new(&hub_main), moto::aws_workspace(&route53_main)];
    blue.iter().for_each(|ws| {
        ws.apply();
    });
    let (hub_writes, changes) = (hub.writes(), env.double.count(CHANGE));

    let green = [Workspace::new(&hub_main), moto::aws_workspace(&route53_main)];
    let out = green[0].apply_err();
    assert_clear_error(
        &out,
        &[
            "Cluster Secret already exists",
            "id = \"argocd/eks-faults\"",
            "ApplicationSet already exists",
            "id = \"argocd/faults-addons\"",
        ],
    );
    let out = green[1].apply_err();
    assert_clear_error(
        &out,
        &[
            "Record already exists",
            &format!("id = \"{}_app.example.com_CNAME_green\"", env.zone),
            "Weighted set has other members",
            &format!("id = \"{}_split.example.com_CNAME\"", env.zone),
        ],
    );
    assert_eq!((hub.writes(), env.double.count(CHANGE)), (hub_writes, changes), "green wrote nothing");
    for ws in &green {
        assert!(tainted(ws).is_empty());
        let state = ws.state();
        let managed = state["values"]["root_module"]["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["mode"] == "managed")
            .count();
        assert_eq!(managed, 0, "green holds none of blue's objects");
    }
    blue.iter().for_each(Workspace::assert_plan_empty);
    assert_hub_holds_both(&hub, "prod");
    env.assert_records(10);
}
