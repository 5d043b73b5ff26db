//! End to end: `gitopsbridge_weighted_route` and data source `gitopsbridge_weighted_routes` on the
//! real terraform, against moto (and the Route53 error double in front of it).

mod support;

use support::PlanOutcome;
use support::moto::{self, Moto, delete_record, record_set, route53_workspace, seed, weight_of};
use support::route53_double::{Fault, Route53Double};

fn route(label: &str, set_identifier: &str, weight: i64, extra: &str) -> String {
    format!(
        r#"resource "gitopsbridge_weighted_route" "{label}" {{
  zone_name      = "example.com"
  name           = "Burnham.example.com"
  type           = "CNAME"
  set_identifier = "{set_identifier}"
  weight         = {weight}
  ttl            = 60
  records        = ["{set_identifier}-ingress.elb.amazonaws.com"]
{extra}}}
"#
    )
}

/// The `values` of a resource in state without the attributes import cannot know.
fn comparable(mut values: serde_json::Value) -> serde_json::Value {
    if let Some(map) = values.as_object_mut() {
        map.remove("allow_overwrite");
        map.remove("wait_for_sync");
    }
    values
}

#[test]
fn acceptance_rhythm_create_import_update_disappear_destroy() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let zone = moto.create_zone("example.com");
    let ws = route53_workspace(&endpoint, &route("green", "green", 0, ""));

    ws.apply();
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "green"), Some(0));
    let applied = ws.resource("gitopsbridge_weighted_route.green");
    assert_eq!(applied["id"], format!("{zone}_Burnham.example.com_CNAME_green"));
    assert_eq!(applied["zone_id"], zone.as_str());
    assert_eq!(applied["name"], "Burnham.example.com", "the user's spelling stays");
    ws.assert_plan_empty();

    // Import into a fresh state gives the same attributes, and then an empty plan.
    let imported = route53_workspace(&endpoint, &route("green", "green", 0, ""));
    imported.import("gitopsbridge_weighted_route.green", &format!("{zone}_Burnham.example.com_CNAME_green"));
    assert_eq!(comparable(imported.resource("gitopsbridge_weighted_route.green")), comparable(applied));
    imported.assert_plan_empty();

    // A weight change is an in-place update.
    ws.write("main.tf", &moto::route53_config(&endpoint, &route("green", "green", 100, "")));
    match ws.plan() {
        PlanOutcome::Changes(plan) => {
            assert!(plan.contains("~ weight         = 0 -> 100"), "{plan}");
            assert!(plan.contains("0 to add, 1 to change, 0 to destroy"), "{plan}");
        }
        PlanOutcome::NoChanges => panic!("weight change not planned"),
    }
    ws.apply();
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "green"), Some(100));
    ws.assert_plan_empty();

    // Deleted behind Terraform's back: the next plan re-creates it, no error.
    delete_record(&endpoint, &zone, "burnham.example.com", "green");
    match ws.plan() {
        PlanOutcome::Changes(plan) => assert!(plan.contains("1 to add, 0 to change, 0 to destroy"), "{plan}"),
        PlanOutcome::NoChanges => panic!("disappeared record not re-created"),
    }
    ws.apply();
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "green"), Some(100));

    ws.destroy();
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "green"), None);
}

#[test]
fn alias_records_and_a_set_identifier_change_in_one_batch() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone = moto.create_zone("example.com");
    let alias = |set_identifier: &str| {
        format!(
            r#"resource "gitopsbridge_weighted_route" "lb" {{
  zone_id        = "{zone}"
  name           = "app.example.com"
  type           = "A"
  set_identifier = "{set_identifier}"
  weight         = 10
  alias {{
    name                   = "green-lb-123.ap-northeast-2.elb.amazonaws.com"
    zone_id                = "ZWKZPGTI48KDX"
    evaluate_target_health = true
  }}
}}
"#
        )
    };
    let ws = route53_workspace(&double.endpoint(), &alias("green"));
    ws.apply();
    ws.assert_plan_empty();
    let state = ws.resource("gitopsbridge_weighted_route.lb");
    assert_eq!(state["alias"][0]["evaluate_target_health"], true);
    assert_eq!(state["zone_name"], "example.com");

    ws.write("main.tf", &moto::route53_config(&double.endpoint(), &alias("green-v2")));
    double.reset_counts();
    let out = ws.apply();
    assert!(out.contains("0 added, 1 changed, 0 destroyed"), "{out}");
    assert_eq!(double.count("ChangeResourceRecordSets"), 1, "DELETE + CREATE in one batch");
    let sets: Vec<_> = moto::records(&moto.endpoint(), &zone).into_iter().filter_map(|r| r.set_identifier).collect();
    assert_eq!(sets, vec!["green-v2".to_string()]);
    ws.assert_plan_empty();
    ws.destroy();
}

#[test]
fn blue_green_flip_in_two_roots_shows_only_the_weights() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let zone = moto.create_zone("example.com");
    let blue = route53_workspace(&endpoint, &route("this", "blue", 100, ""));
    let green = route53_workspace(&endpoint, &route("this", "green", 0, ""));
    blue.apply();
    green.apply();

    // The data source shows the live split.
    let reader = route53_workspace(
        &endpoint,
        r#"data "gitopsbridge_weighted_routes" "burnham" {
  zone_name = "example.com"
  name      = "burnham.example.com"
}
output "shares" {
  value = { for r in data.gitopsbridge_weighted_routes.burnham.routes : r.set_identifier => r.traffic_share }
}
"#,
    );
    reader.apply();
    let shares = reader.run_ok(&["output", "-json", "shares"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&shares).unwrap(),
        serde_json::json!({"blue": 100, "green": 0})
    );

    for (ws, set, from, to) in [(&green, "green", 0, 100), (&blue, "blue", 100, 0)] {
        ws.write("main.tf", &moto::route53_config(&endpoint, &route("this", set, to, "")));
        match ws.plan() {
            PlanOutcome::Changes(plan) => {
                let changed: Vec<&str> = plan
                    .lines()
                    .filter(|l| l.trim_start().starts_with('~') && !l.contains("update in-place"))
                    .collect();
                assert_eq!(changed.len(), 2, "only the resource and its weight: {plan}");
                assert!(plan.contains(&format!("~ weight         = {from} -> {to}")), "{plan}");
                assert!(plan.contains("0 to add, 1 to change, 0 to destroy"), "{plan}");
            }
            PlanOutcome::NoChanges => panic!("flip not planned"),
        }
        ws.apply();
    }
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "green"), Some(100));
    assert_eq!(weight_of(&endpoint, &zone, "burnham.example.com", "blue"), Some(0));
    reader.apply();
    let shares = reader.run_ok(&["output", "-json", "shares"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&shares).unwrap(),
        serde_json::json!({"blue": 0, "green": 100})
    );
}

#[test]
fn refresh_of_200_records_in_one_zone_lists_the_zone_once() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    moto.create_zone("example.com");
    let body = r#"resource "gitopsbridge_weighted_route" "app" {
  count           = 200
  zone_name       = "example.com"
  name            = "app${count.index}.example.com"
  type            = "CNAME"
  set_identifier  = "blue"
  weight          = 100
  ttl             = 60
  records         = ["blue-ingress.elb.amazonaws.com"]
  allow_overwrite = true
}
"#;
    let ws = route53_workspace(&double.endpoint(), body);
    ws.apply();
    double.reset_counts();
    ws.assert_plan_empty();
    let lists = double.count("ListResourceRecordSets");
    eprintln!(
        "refresh of 200 records: {lists} ListResourceRecordSets, {} GetHostedZone, {} ListHostedZonesByName",
        double.count("GetHostedZone"),
        double.count("ListHostedZonesByName")
    );
    assert_eq!(lists, 1);
    assert_eq!(double.count("ChangeResourceRecordSets"), 0);
}

#[test]
fn bad_inputs_fail_at_plan_on_their_attribute_without_writes() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let long_id = "x".repeat(129);
    let cases: Vec<(String, &str, &str)> = vec![
        (route("r", "green", 256, ""), "Invalid weight", "weight         = 256"),
        (route("r", &long_id, 1, ""), "Invalid set identifier", "set_identifier = "),
        (
            route(
                "r",
                "green",
                1,
                "  alias {\n    name = \"lb.example.net\"\n    zone_id = \"Z2\"\n    evaluate_target_health = false\n  }\n",
            ),
            "Conflicting targets",
            "records        = ",
        ),
        (route("r", "green", 1, "  zone_id = \"Z123\"\n"), "Conflicting zone", "zone_name      = \"example.com\""),
        (
            route("r", "green", 1, "").replace("Burnham.example.com", "burnham..example.com"),
            "Invalid record name",
            "name           = ",
        ),
        (route("r", "green", 1, "").replace("\"CNAME\"", "\"A\""), "Invalid record value", "records        = "),
        (
            route("r", "green", 1, "").replace("  ttl            = 60\n", ""),
            "Missing ttl",
            "resource \"gitopsbridge_weighted_route\"",
        ),
    ];
    for (body, summary, line) in cases {
        let ws = route53_workspace(&double.endpoint(), &body);
        let out = ws.plan_err();
        assert!(out.contains(summary), "expected {summary:?}:\n{out}");
        assert!(out.contains(line), "expected the error to point at {line:?}:\n{out}");
    }
    assert_eq!(double.count("ChangeResourceRecordSets"), 0);
}

#[test]
fn ttl_mismatch_existing_records_and_external_dns_are_refused_before_any_write() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let double = Route53Double::start(&endpoint);
    let zone = moto.create_zone("example.com");
    seed(
        &endpoint,
        &zone,
        vec![record_set("burnham.example.com", "CNAME", Some("blue"), Some(100), 300, &["blue.elb.amazonaws.com"])],
    );

    let ws = route53_workspace(&double.endpoint(), &route("green", "green", 0, ""));
    let out = ws.apply_err();
    assert!(out.contains("TTL differs from the weighted set"), "{out}");
    assert!(out.contains("300 (blue)"), "{out}");

    let taken = route53_workspace(&double.endpoint(), &route("blue", "blue", 100, "").replace("= 60", "= 300"));
    let out = taken.apply_err();
    assert!(out.contains("Record already exists"), "{out}");
    assert!(out.contains(&format!("{zone}_Burnham.example.com_CNAME_blue")), "the error shows the import id:\n{out}");

    seed(
        &endpoint,
        &zone,
        vec![record_set(
            "cname-owned.example.com",
            "TXT",
            None,
            None,
            300,
            &["\"heritage=external-dns,external-dns/owner=eks-blue,external-dns/resource=ingress/web/web\""],
        )],
    );
    let owned = route("owned", "green", 0, "").replace("Burnham.example.com", "owned.example.com");
    let ws = route53_workspace(&double.endpoint(), &owned);
    let out = ws.apply_err();
    assert!(out.contains("Record managed by external-dns"), "{out}");
    assert!(out.contains("eks-blue"), "{out}");
    assert_eq!(double.count("ChangeResourceRecordSets"), 0, "nothing was written");

    ws.write(
        "main.tf",
        &moto::route53_config(
            &double.endpoint(),
            &owned.replace("{\n  zone_name", "{\n  allow_overwrite = true\n  zone_name"),
        ),
    );
    ws.apply();
    assert_eq!(weight_of(&endpoint, &zone, "owned.example.com", "green"), Some(0));
}

#[test]
fn throttling_is_retried_and_route53_messages_arrive_verbatim() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone = moto.create_zone("example.com");
    let ws = route53_workspace(&double.endpoint(), &route("green", "green", 0, ""));
    double.fail("ChangeResourceRecordSets", Fault::Throttling, 2);
    double.fail("ChangeResourceRecordSets", Fault::PriorRequestNotComplete, 2);
    ws.apply();
    assert_eq!(double.count("ChangeResourceRecordSets"), 5, "four refusals, then success");
    assert_eq!(weight_of(&moto.endpoint(), &zone, "burnham.example.com", "green"), Some(0));

    // The provider's max_attempts reaches the client: two attempts are not enough for three refusals.
    let impatient = moto::aws_workspace(&moto::route53_config_with(
        &double.endpoint(),
        "    max_attempts = 2\n",
        &route("blue", "blue", 100, ""),
    ));
    double.fail("ChangeResourceRecordSets", Fault::Throttling, 3);
    let out = impatient.apply_err();
    assert!(out.contains("Route53 throttled every attempt"), "{out}");
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat(&out).contains("Route53 kept answering Throttling to ChangeResourceRecordSets after 2 attempts"),
        "{out}"
    );
    double.fail("ChangeResourceRecordSets", Fault::Throttling, 0);
    impatient.apply();

    let message = "[Tried to create resource record set [name='burnham.example.com.', type='CNAME', set-identifier='green'] but it already exists]";
    double.fail("ChangeResourceRecordSets", Fault::InvalidChangeBatch(message.into()), 1);
    ws.write("main.tf", &moto::route53_config(&double.endpoint(), &route("green", "green", 5, "")));
    let out = ws.apply_err();
    assert!(out.contains("Route53 rejected the change"), "{out}");
    // Terraform wraps long details; the words must arrive unchanged.
    assert!(flat(&out).contains(&flat(message)), "{out}");
}

#[test]
fn all_zero_weights_warn_and_bad_import_ids_explain_the_form() {
    let moto = Moto::start();
    let zone = moto.create_zone("example.com");
    seed(
        &moto.endpoint(),
        &zone,
        vec![record_set("burnham.example.com", "CNAME", Some("blue"), Some(0), 60, &["blue.elb.amazonaws.com"])],
    );
    let ws = route53_workspace(&moto.endpoint(), &route("green", "green", 0, ""));
    let out = ws.apply();
    assert!(out.contains("Every weight is 0"), "{out}");

    let fresh = route53_workspace(&moto.endpoint(), &route("other", "other", 0, ""));
    let out = fresh.run_err(&[
        "import",
        "-input=false",
        "-no-color",
        "gitopsbridge_weighted_route.other",
        "burnham.example.com",
    ]);
    assert!(out.contains("Invalid import id"), "{out}");
    assert!(out.contains("Z0123456789_burnham.example.com_CNAME_green"), "the error shows an example id:\n{out}");
}

#[test]
fn planning_a_create_needs_no_route53_even_with_unknown_provider_settings() {
    // Nothing listens on port 9: any call to Route53 would fail the plan.
    let ws = route53_workspace("http://127.0.0.1:9", &route("green", "green", 0, ""));
    match ws.plan() {
        PlanOutcome::Changes(plan) => assert!(plan.contains("1 to add"), "{plan}"),
        PlanOutcome::NoChanges => panic!("create not planned"),
    }
    let unknown = format!(
        r#"{}
resource "terraform_data" "emulator" {{
  input = "http://127.0.0.1:9"
}}

provider "gitopsbridge" {{
  route53 {{
    endpoint = terraform_data.emulator.output
  }}
}}

{}"#,
        support::required_providers(),
        route("green", "green", 0, "")
    );
    let ws = support::Workspace::new(&unknown);
    match ws.plan() {
        PlanOutcome::Changes(plan) => assert!(plan.contains("2 to add"), "{plan}"),
        PlanOutcome::NoChanges => panic!("create not planned"),
    }
}

#[test]
fn txt_and_aaaa_values_keep_their_spelling_and_plan_empty() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let zone = moto.create_zone("example.com");
    let body = r#"resource "gitopsbridge_weighted_route" "txt" {
  zone_name      = "Example.com."
  name           = "_verify.example.com"
  type           = "TXT"
  set_identifier = "green"
  weight         = 1
  ttl            = 300
  records        = ["owner=eks-green \"quoted\"", "v=spf1 -all"]
}

resource "gitopsbridge_weighted_route" "v6" {
  zone_name      = "example.com"
  name           = "v6.example.com"
  type           = "AAAA"
  set_identifier = "green"
  weight         = 1
  ttl            = 300
  records        = ["2001:DB8:0::10"]
}
"#;
    let ws = route53_workspace(&endpoint, body);
    ws.apply();
    ws.assert_plan_empty();
    let txt = moto::records(&endpoint, &zone).into_iter().find(|r| r.record_type == "TXT").expect("TXT record");
    assert!(txt.values.contains(&"\"owner=eks-green \\\"quoted\\\"\"".to_string()), "{txt:?}");
    assert_eq!(ws.resource("gitopsbridge_weighted_route.txt")["zone_name"], "Example.com.");
    ws.destroy();
}
