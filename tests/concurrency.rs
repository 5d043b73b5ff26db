//! Concurrency on the real terraform: 200 resources at `-parallelism=50` against both servers,
//! and two roots flipping the weights of one name at the same moment.

mod support;

use std::time::Duration;

use support::fleet::{self, CLUSTER, ROUTE};
use support::hub::Hub;
use support::moto::{self, Moto, create_zone, route53_workspace, weight_of};
use support::route53_double::{Fault, Route53Double};
use support::{PlanOutcome, Workspace};

const CHANGE: &str = "ChangeResourceRecordSets";
const WAIT: Duration = Duration::from_secs(120);

/// Runs terraform with `-parallelism=50`; panics with its output if it fails.
fn run_50(ws: &Workspace, command: &str) -> String {
    ws.run_ok(&[command, "-auto-approve", "-input=false", "-no-color", "-parallelism=50"])
}

/// Requests per operation the double saw since the last reset, for the report.
fn route53_counts(double: &Route53Double) -> String {
    ["ListHostedZonesByName", "GetHostedZone", "ListResourceRecordSets", CHANGE, "GetChange"]
        .map(|op| format!("{op} {}", double.count(op)))
        .join(", ")
}

/// 100 cluster Secrets and 100 weighted records in one root, at 50 operations at a time: both
/// clients' connection pools busy together. Every request is one operation (no retry, no 429,
/// no 5xx, no dropped connection), refresh sees exactly the drift made by hand, destroy leaves
/// nothing.
#[test]
fn parallelism_50_over_200_resources_applies_refreshes_and_destroys_without_a_retry() {
    let hub = Hub::start();
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone = create_zone(&moto.endpoint(), "example.com");
    let ws = fleet::workspace(&hub, &double.endpoint(), &(fleet::spokes(100) + &fleet::routes(100)));
    let server = hub.server();
    server.reset_requests();
    double.reset_counts();

    let applied = run_50(&ws, "apply");
    assert!(applied.contains("200 added, 0 changed, 0 destroyed"), "{applied}");
    assert!(!applied.contains("Warning:"), "{applied}");
    let requests = server.requests();
    let unexpected: Vec<_> = requests.log.iter().filter(|r| !matches!(r.status, 200 | 201 | 404)).collect();
    assert!(unexpected.is_empty(), "failed or throttled hub requests: {unexpected:?}");
    assert_eq!((requests.count("get", "secrets"), requests.count("patch", "secrets"), requests.total), (100, 100, 200));
    // Changes submitted while a batch is in flight leave together (route53::batching): each
    // record changed once, in at most one request per record, none retried.
    assert_eq!(double.changes_accepted(), 100);
    assert!(double.count(CHANGE) <= 100, "{} change batches for 100 records", double.count(CHANGE));
    println!("apply -parallelism=50: hub {} requests; Route53 {}", requests.total, route53_counts(&double));
    assert_eq!(fleet::values(&fleet::state_ids(&ws, CLUSTER)), fleet::hub_ids(&hub));
    assert_eq!(fleet::values(&fleet::state_ids(&ws, ROUTE)), fleet::route53_ids(&moto.endpoint(), &zone));

    // Refresh at 50: no change, one listing of the cluster Secrets and one of the whole zone.
    server.reset_requests();
    double.reset_counts();
    let plan = ws.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color", "-parallelism=50"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
    assert_eq!((server.request_count("list", "secrets"), server.requests().total), (1, 1));
    assert_eq!(double.count("ListResourceRecordSets"), 1);
    println!("plan -parallelism=50: hub {} requests; Route53 {}", server.requests().total, route53_counts(&double));

    // Drift made by hand on one of each is exactly what the refresh finds.
    let owned_label = serde_json::json!({"metadata": {"labels": {"environment": "staging"}}});
    server.merge_patch(kube_test_server::Resource::Secret, "argocd", "spoke-42", "kubectl-edit", owned_label).unwrap();
    fleet::set_weight(&moto.endpoint(), &zone, "svc-7.example.com", "blue-7", 5, "blue-7.elb.example.net");
    match ws.plan() {
        PlanOutcome::Changes(plan) => {
            assert!(plan.contains("0 to add, 2 to change, 0 to destroy"), "{plan}");
            let changed = |attribute: &str, change: &str| {
                plan.lines().map(str::trim).any(|l| l.starts_with(&format!("~ {attribute} ")) && l.ends_with(change))
            };
            assert!(changed("environment", "\"staging\" -> \"prod\""), "{plan}");
            assert!(changed("weight", "5 -> 100"), "{plan}");
        }
        PlanOutcome::NoChanges => panic!("drift not found"),
    }
    let fixed = run_50(&ws, "apply");
    assert!(fixed.contains("0 added, 2 changed, 0 destroyed"), "{fixed}");
    ws.assert_plan_empty();

    server.reset_requests();
    double.reset_counts();
    let destroyed = run_50(&ws, "destroy");
    assert!(destroyed.contains("200 destroyed"), "{destroyed}");
    assert!(hub.cluster_secrets("argocd").is_empty(), "Secrets left behind");
    assert!(fleet::route53_ids(&moto.endpoint(), &zone).is_empty(), "records left behind");
    assert!(server.requests().log.iter().all(|r| matches!(r.status, 200 | 404)));
    assert_eq!((server.request_count("delete", "secrets"), double.changes_accepted()), (100, 100));
    assert!(double.count(CHANGE) <= 100, "{} change batches for 100 records", double.count(CHANGE));
    println!("destroy -parallelism=50: hub {} requests; Route53 {}", server.requests().total, route53_counts(&double));
}

fn member(set_identifier: &str, weight: u32) -> String {
    format!(
        r#"resource "gitopsbridge_weighted_route" "{set_identifier}" {{
  zone_name      = "example.com"
  name           = "burnham.example.com"
  type           = "CNAME"
  set_identifier = "{set_identifier}"
  weight         = {weight}
  ttl            = 60
  records        = ["{set_identifier}-ingress.elb.amazonaws.com"]
}}
"#
    )
}

/// Blue's root and green's root apply the flip at the same moment: both change batches reach
/// Route53 together (the double holds them until both are there), and the later one is answered
/// `PriorRequestNotComplete`, as Route53 answers concurrent changes. The retry lands it; both
/// applies succeed, the weights are the flipped ones, and each root's next plan is empty.
#[test]
fn two_roots_flipping_one_name_at_once_both_succeed_through_prior_request_not_complete() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone = create_zone(&moto.endpoint(), "example.com");
    let blue = route53_workspace(&double.endpoint(), &member("blue", 100));
    let green = route53_workspace(&double.endpoint(), &member("green", 0));
    blue.apply();
    green.apply();

    blue.write("main.tf", &moto::route53_config(&double.endpoint(), &member("blue", 0)));
    green.write("main.tf", &moto::route53_config(&double.endpoint(), &member("green", 100)));
    double.reset_counts();
    double.hold(CHANGE, 2);
    let flips = [&blue, &green].map(|ws| ws.spawn(&["apply", "-auto-approve", "-input=false", "-no-color"]));
    assert!(double.wait_for_held(2, WAIT), "both changes in flight together");
    double.fail(CHANGE, Fault::PriorRequestNotComplete, 1);
    double.release_held();
    for flip in flips {
        let (status, output) = flip.wait(WAIT);
        assert!(status.success(), "{output}");
        assert!(output.contains("0 added, 1 changed, 0 destroyed"), "{output}");
    }
    assert_eq!(double.count(CHANGE), 3, "two changes and one retry");
    assert_eq!(weight_of(&moto.endpoint(), &zone, "burnham.example.com", "blue"), Some(0));
    assert_eq!(weight_of(&moto.endpoint(), &zone, "burnham.example.com", "green"), Some(100));
    blue.assert_plan_empty();
    green.assert_plan_empty();
}
