//! End to end: `gitopsbridge_traffic_split` on the real terraform against moto, behind the
//! Route53 double that counts change batches.

mod support;

use support::PlanOutcome;
use support::moto::{self, Moto, record_set, route53_workspace, seed, weight_of};
use support::route53_double::Route53Double;

fn split(blue: i64, green: i64, extra_route: &str) -> String {
    format!(
        r#"resource "gitopsbridge_traffic_split" "burnham" {{
  zone_name = "example.com"
  name      = "burnham.example.com"
  type      = "CNAME"
  ttl       = 60

  route {{
    set_identifier = "blue"
    weight         = {blue}
    records        = ["blue-ingress.elb.amazonaws.com"]
  }}
  route {{
    set_identifier = "green"
    weight         = {green}
    records        = ["green-ingress.elb.amazonaws.com"]
  }}
{extra_route}}}
"#
    )
}

#[test]
fn acceptance_rhythm_with_an_atomic_flip() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let double = Route53Double::start(&endpoint);
    let zone = moto.create_zone("example.com");
    let ws = route53_workspace(&double.endpoint(), &split(100, 0, ""));

    ws.apply();
    assert_eq!(double.count("ChangeResourceRecordSets"), 1, "both members in one batch");
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "blue"), Some(100));
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "green"), Some(0));
    let applied = ws.resource("gitopsbridge_traffic_split.burnham");
    assert_eq!(applied["traffic_shares"], serde_json::json!({"blue": 100, "green": 0}));
    ws.assert_plan_empty();

    let imported = route53_workspace(&double.endpoint(), &split(100, 0, ""));
    imported.import("gitopsbridge_traffic_split.burnham", &format!("{zone}_burnham.example.com_CNAME"));
    assert_eq!(imported.resource("gitopsbridge_traffic_split.burnham")["route"], applied["route"]);
    imported.assert_plan_empty();

    // The flip: both weights in one plan, one batch.
    ws.write("main.tf", &moto::route53_config(&double.endpoint(), &split(0, 100, "")));
    match ws.plan() {
        PlanOutcome::Changes(plan) => {
            assert!(plan.contains("~ weight         = 100 -> 0"), "{plan}");
            assert!(plan.contains("~ weight         = 0 -> 100"), "{plan}");
            assert!(plan.contains("0 to add, 1 to change, 0 to destroy"), "{plan}");
        }
        PlanOutcome::NoChanges => panic!("flip not planned"),
    }
    double.reset_counts();
    ws.apply();
    assert_eq!(double.count("ChangeResourceRecordSets"), 1, "the flip is one atomic batch");
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "blue"), Some(0));
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "green"), Some(100));
    ws.assert_plan_empty();

    // A member added out of band belongs to the split: the plan removes it.
    seed(
        &endpoint,
        &zone,
        vec![record_set("burnham.example.com", "CNAME", Some("stray"), Some(5), 60, &["stray.example.net"])],
    );
    match ws.plan() {
        PlanOutcome::Changes(plan) => assert!(plan.contains("stray"), "{plan}"),
        PlanOutcome::NoChanges => panic!("stray member not noticed"),
    }
    ws.apply();
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "stray"), None);

    // Every member deleted behind Terraform's back: the next plan re-creates the split.
    for member in ["blue", "green"] {
        moto::delete_record(&endpoint, &zone, "burnham.example.com", member);
    }
    match ws.plan() {
        PlanOutcome::Changes(plan) => assert!(plan.contains("1 to add, 0 to change, 0 to destroy"), "{plan}"),
        PlanOutcome::NoChanges => panic!("disappeared split not re-created"),
    }
    ws.apply();
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "green"), Some(100));

    // A third member, then destroy removes every member.
    let teal = "  route {\n    set_identifier = \"teal\"\n    weight         = 10\n    records        = [\"teal.example.net\"]\n  }\n";
    ws.write("main.tf", &moto::route53_config(&double.endpoint(), &split(0, 100, teal)));
    ws.apply();
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "teal"), Some(10));
    ws.assert_plan_empty();
    ws.destroy();
    let left: Vec<_> = moto::records(&endpoint, &zone).into_iter().filter(|r| r.set_identifier.is_some()).collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn existing_members_are_refused_and_all_zero_warns_at_plan() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let zone = moto.create_zone("example.com");
    seed(
        &endpoint,
        &zone,
        vec![record_set("burnham.example.com", "CNAME", Some("blue"), Some(100), 60, &["blue.example.net"])],
    );
    let ws = route53_workspace(&endpoint, &split(0, 0, ""));
    let plan = ws.run_ok(&["plan", "-input=false", "-no-color"]);
    assert!(plan.contains("Every weight is 0"), "{plan}");
    let out = ws.apply_err();
    assert!(out.contains("Weighted set has other members"), "{out}");
    assert!(out.contains("blue"), "{out}");

    let dup = split(1, 1, "").replacen("\"green\"", "\"blue\"", 1);
    let ws = route53_workspace(&endpoint, &dup);
    let out = ws.plan_err();
    assert!(out.contains("Duplicate set identifier"), "{out}");
}
