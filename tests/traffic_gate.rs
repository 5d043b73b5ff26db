//! The readiness gate (`require_ready`) end to end: real terraform, moto behind the Route53
//! double that counts writes, and the hub test server playing Argo CD, whose scripted
//! Applications decide whether the green cluster is ready.

mod support;

use kube_test_server::AppScript;
use support::green::GreenHub;
use support::moto::{self, Moto, weight_of};
use support::outcome::flat;
use support::route53_double::Route53Double;
use support::{PlanOutcome, Workspace, required_providers};

const SERVICE: &str = "burnham.example.com";

/// The green root: green's weighted record gated on green's readiness, with both the hub and
/// Route53 configured.
fn green_root(kubeconfig: &str, route53: &str, weight: u32) -> String {
    format!(
        r#"{}
provider "gitopsbridge" {{
  hub {{
    config_path = "{kubeconfig}"
  }}
  route53 {{
    endpoint = "{route53}"
  }}
}}

resource "gitopsbridge_weighted_route" "green" {{
  zone_name      = "example.com"
  name           = "{SERVICE}"
  type           = "CNAME"
  ttl            = 60
  set_identifier = "green"
  weight         = {weight}
  records        = ["green-ingress.elb.amazonaws.com"]

  require_ready {{
    cluster_name = "eks-green"
  }}
}}
"#,
        required_providers()
    )
}

/// The hub with eks-green (its Applications following a script) and Route53 with the zone.
type Setup = GreenHub;

fn setup(script: AppScript) -> Setup {
    GreenHub::start(script)
}

trait Green {
    fn green(&self, weight: u32) -> Workspace;
    fn green_weight(&self) -> Option<i64>;
}

impl Green for GreenHub {
    fn green(&self, weight: u32) -> Workspace {
        let kubeconfig = self.hub.kubeconfig().display().to_string();
        moto::aws_workspace(&green_root(&kubeconfig, &self.double.endpoint(), weight))
    }

    fn green_weight(&self) -> Option<i64> {
        self.weight(SERVICE, "green")
    }
}

#[test]
fn a_raise_is_refused_while_the_cluster_is_degraded_and_accepted_once_healthy() {
    let s = setup(AppScript::degraded("0 of 2 replicas ready"));
    // Weight 0 moves no traffic: never gated.
    let ws = s.green(0);
    ws.apply();
    assert_eq!(s.green_weight(), Some(0));

    ws.write("main.tf", &green_root(&s.hub.kubeconfig().display().to_string(), &s.double.endpoint(), 100));
    // The plan warns (and does not fail): the cluster may be ready by the apply.
    match ws.plan() {
        PlanOutcome::Changes(plan) => {
            assert!(plan.contains("The readiness gate would refuse this change now"), "{plan}");
            assert!(plan.contains("argocd/workloads-eks-green: Degraded: 0 of 2 replicas ready"), "{plan}");
        }
        PlanOutcome::NoChanges => panic!("the raise must plan a change"),
    }

    s.double.reset_counts();
    let out = flat(&ws.apply_err());
    assert!(out.contains("Traffic not moved: the readiness gate is closed"), "{out}");
    assert!(out.contains("cluster eks-green is not ready:"), "{out}");
    assert!(out.contains("argocd/workloads-eks-green: Degraded: 0 of 2 replicas ready"), "{out}");
    assert!(out.contains("The weight 0 -> 100 of weighted record burnham.example.com CNAME green"), "{out}");
    assert_eq!(s.double.writes(), 0, "a refused raise writes nothing");
    assert_eq!(s.green_weight(), Some(0));
    assert_eq!(ws.resource("gitopsbridge_weighted_route.green")["weight"], 0, "state keeps the live weight");

    // Once Argo CD reports green Healthy, the same apply goes through, with no warning.
    s.make_green(AppScript::healthy());
    match ws.plan() {
        PlanOutcome::Changes(plan) => assert!(!plan.contains("readiness gate"), "{plan}"),
        PlanOutcome::NoChanges => panic!("the raise is still to do"),
    }
    ws.apply();
    assert_eq!(s.green_weight(), Some(100));
    ws.assert_plan_empty();
}

#[test]
fn a_create_with_weight_is_gated_and_names_a_missing_cluster() {
    let s = setup(AppScript::healthy());
    let kubeconfig = s.hub.kubeconfig().display().to_string();
    let root = green_root(&kubeconfig, &s.double.endpoint(), 10).replace("\"eks-green\"", "\"eks-teal\"");
    let ws = moto::aws_workspace(&root);
    s.double.reset_counts();
    let out = flat(&ws.apply_err());
    assert!(out.contains("cluster eks-teal: no Argo CD cluster Secret in namespace argocd has this name"), "{out}");
    assert_eq!(s.double.writes(), 0);
    assert_eq!(s.green_weight(), None);
}

#[test]
fn lowering_is_never_gated_even_with_the_hub_unreachable() {
    let s = setup(AppScript::healthy());
    let ws = s.green(100);
    ws.apply();
    assert_eq!(s.green_weight(), Some(100));

    // The hub goes away: a kubeconfig whose server listens nowhere.
    let kubeconfig = std::fs::read_to_string(s.hub.kubeconfig()).unwrap();
    let port = s.hub.server().port();
    let dead = s.hub.dir().join("dead-kubeconfig");
    std::fs::write(&dead, kubeconfig.replace(&format!(":{port}"), ":9")).unwrap();
    let dead = dead.display().to_string();

    ws.write("main.tf", &green_root(&dead, &s.double.endpoint(), 0));
    ws.apply();
    assert_eq!(s.green_weight(), Some(0), "traffic leaves green without the hub");
    ws.assert_plan_empty();

    // Raising it again needs the hub: refused, nothing written.
    ws.write("main.tf", &green_root(&dead, &s.double.endpoint(), 50));
    s.double.reset_counts();
    let out = flat(&ws.apply_err());
    assert!(out.contains("cluster eks-green: cannot read its status from the hub"), "{out}");
    assert_eq!(s.double.writes(), 0);
    assert_eq!(s.green_weight(), Some(0));

    // Deleting is never gated either.
    ws.destroy();
    assert_eq!(s.green_weight(), None);
}

#[test]
fn a_health_check_gate_names_the_failing_regions() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone = moto.create_zone("example.com");
    let check = "3e0e0ef1-7c61-4d6b-a7fe-1f6e1b3a9c2d";
    let route = |weight: u32| {
        format!(
            r#"resource "gitopsbridge_weighted_route" "green" {{
  zone_name       = "example.com"
  name            = "{SERVICE}"
  type            = "CNAME"
  ttl             = 60
  set_identifier  = "green"
  weight          = {weight}
  records         = ["green-ingress.elb.amazonaws.com"]
  health_check_id = "{check}"

  require_ready {{
    health_check = true
  }}
}}
"#
        )
    };
    let ws = moto::route53_workspace(&double.endpoint(), &route(0));
    ws.apply();
    assert_eq!(double.count("GetHealthCheckStatus"), 0, "weight 0 is not gated");

    // One checker of six reports success: 17 %, not more than 18 %.
    let failure = "Failure: Connection timed out. The endpoint did not respond.";
    let ok = "Success: HTTP Status Code 200, OK";
    let mut observations = vec![("us-east-1", ok)];
    observations
        .extend(["eu-west-1", "ap-southeast-1", "sa-east-1", "us-west-1", "ap-northeast-1"].map(|r| (r, failure)));
    double.script_health_check(check, &observations);
    ws.write("main.tf", &moto::route53_config(&double.endpoint(), &route(100)));
    double.reset_counts();
    let out = flat(&ws.apply_err());
    assert!(out.contains(&format!("health check {check} is unhealthy (1 of 6 checkers report success")), "{out}");
    for region in ["eu-west-1", "ap-southeast-1", "sa-east-1", "us-west-1", "ap-northeast-1"] {
        assert!(out.contains(&flat(&format!("- {region}: {failure}"))), "{region}: {out}");
    }
    assert!(!out.contains("- us-east-1"), "a succeeding region is not named: {out}");
    assert_eq!(double.writes(), 0);
    assert_eq!(weight_of(&moto.endpoint(), &zone, SERVICE, "green"), Some(0));

    // Two of six (33 %): healthy by Route53's rule. Read once per check, never in a loop: for the
    // plan's warning, for the plan Terraform makes again during the apply, and right before the write.
    observations[1].1 = ok;
    double.script_health_check(check, &observations);
    double.reset_counts();
    ws.apply();
    assert_eq!(double.count("GetHealthCheckStatus"), 3, "the two plans of the apply, then the gate of the write");
    assert_eq!(weight_of(&moto.endpoint(), &zone, SERVICE, "green"), Some(100));
}

#[test]
fn a_split_refuses_the_whole_flip_while_a_gaining_member_is_not_ready() {
    let s = setup(AppScript::degraded("CrashLoopBackOff"));
    let ws = moto::aws_workspace(&s.split(100, 0, ""));
    ws.apply();

    ws.write("main.tf", &s.split(0, 100, ""));
    s.double.reset_counts();
    let out = flat(&ws.apply_err());
    assert!(out.contains("The weight 0 -> 100 of route green of weighted set"), "{out}");
    assert!(out.contains("argocd/workloads-eks-green: Degraded: CrashLoopBackOff"), "{out}");
    assert!(out.contains("Error: Traffic not moved: the readiness gate is closed with gitopsbridge_traffic_split.burnham, on main.tf line 34"), "the error is at green's block (line 34): {out}");
    assert_eq!(s.double.writes(), 0, "blue keeps its traffic: no batch at all");
    assert_eq!(weight_of(&s.moto.endpoint(), &s.zone, SERVICE, "blue"), Some(100));

    // Moving traffic back to blue (green loses) is never gated.
    ws.write("main.tf", &s.split(100, 0, ""));
    ws.assert_plan_empty();

    s.make_green(AppScript::healthy());
    ws.write("main.tf", &s.split(0, 100, ""));
    ws.apply();
    assert_eq!(weight_of(&s.moto.endpoint(), &s.zone, SERVICE, "green"), Some(100));
    assert_eq!(weight_of(&s.moto.endpoint(), &s.zone, SERVICE, "blue"), Some(0));
}
