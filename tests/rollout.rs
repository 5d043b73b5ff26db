//! Stepped shifts (`rollout`) of `gitopsbridge_traffic_split` end to end: real terraform, moto
//! behind the Route53 double that logs each change batch, and the hub test server playing Argo
//! CD, whose scripted Applications decide whether the green cluster is ready.

mod support;

use std::time::Duration;

use kube_test_server::AppScript;
use support::green::{GreenHub, SERVICE};
use support::interrupt::wait_for_text;
use support::moto;
use support::outcome::flat;
use support::route53_double::{Fault, FaultRule};
use support::{PlanOutcome, Workspace};

const WAIT: Duration = Duration::from_secs(60);
/// What the provider logs when a step is live and its pause begins.
const PAUSING: &str = "rollout: step live, pausing";

/// The split with a `rollout` block and `timeouts` (may be empty).
fn split(s: &GreenHub, blue: u32, green: u32, rollout: &str, timeouts: &str) -> String {
    s.split(blue, green, &format!("\n  rollout {{\n    {rollout}\n  }}\n{timeouts}"))
}

const STEPS: &str = "steps = [10, 50]\n    pause = \"1s\"";

/// Blue takes all the traffic, applied (a create is one batch), and the counts reset.
fn blue_live(s: &GreenHub, rollout: &str, timeouts: &str) -> Workspace {
    let ws = moto::aws_workspace(&split(s, 100, 0, rollout, timeouts));
    ws.apply();
    assert_eq!(s.weight(SERVICE, "green"), Some(0));
    assert_eq!(s.double.batches(), vec![vec!["CREATE blue=100", "CREATE green=0"]], "a create is never stepped");
    assert_eq!(ws.resource("gitopsbridge_traffic_split.burnham")["rollout_plan"], serde_json::json!([]));
    s.double.reset_counts();
    ws
}

/// The change batches that UPSERT blue and green to each `(blue, green)` in turn, as the double
/// logs them.
fn upserts(steps: &[(i64, i64)]) -> Vec<Vec<String>> {
    steps.iter().map(|(blue, green)| vec![format!("UPSERT blue={blue}"), format!("UPSERT green={green}")]).collect()
}

/// The weights of each route in state, in order.
fn state_weights(ws: &Workspace) -> Vec<(String, i64)> {
    let state = ws.resource("gitopsbridge_traffic_split.burnham");
    state["route"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| (r["set_identifier"].as_str().unwrap().to_string(), r["weight"].as_i64().unwrap()))
        .collect()
}

fn live_weights(s: &GreenHub) -> Vec<(String, i64)> {
    ["blue", "green"].iter().map(|id| (id.to_string(), s.weight(SERVICE, id).expect("live member"))).collect()
}

fn weights(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(id, w)| (id.to_string(), *w)).collect()
}

fn apply_args() -> [&'static str; 4] {
    ["apply", "-auto-approve", "-input=false", "-no-color"]
}

#[test]
fn a_three_step_rollout_sends_one_batch_per_step() {
    let s = GreenHub::start(AppScript::healthy());
    let ws = blue_live(&s, STEPS, "");

    ws.write("main.tf", &split(&s, 0, 100, STEPS, ""));
    match ws.plan() {
        PlanOutcome::Changes(plan) => {
            for line in [
                "\"step 1 of 3 (10 % to green): blue = 90, green = 10\"",
                "\"step 2 of 3 (50 % to green): blue = 50, green = 50\"",
                "\"step 3 of 3 (100 % to green): blue = 0, green = 100\"",
            ] {
                assert!(plan.contains(line), "the plan shows {line}:\n{plan}");
            }
        }
        PlanOutcome::NoChanges => panic!("the flip must plan a change"),
    }

    ws.apply();
    assert_eq!(s.double.batches(), upserts(&[(90, 10), (50, 50), (0, 100)]));
    assert_eq!(live_weights(&s), weights(&[("blue", 0), ("green", 100)]));
    ws.assert_plan_empty();

    // Back to blue while green is failing: green loses, so its gate is not checked (a rollback
    // would send traffic to it); blue gains and has no gate. The steps run the other way.
    s.make_green(AppScript::degraded("0 of 2 replicas ready"));
    s.double.reset_counts();
    ws.write("main.tf", &split(&s, 100, 0, STEPS, ""));
    ws.apply();
    assert_eq!(s.double.batches(), upserts(&[(10, 90), (50, 50), (100, 0)]));
    ws.assert_plan_empty();
}

#[test]
fn a_gate_closing_at_step_two_restores_the_starting_weights() {
    let s = GreenHub::start(AppScript::healthy());
    let ws = blue_live(&s, STEPS, "");
    ws.write("main.tf", &split(&s, 0, 100, STEPS, ""));

    // The first two batches wait at the double until the test lets them through.
    s.double.hold("ChangeResourceRecordSets", 2);
    let apply = ws.spawn(&apply_args());
    assert!(s.double.wait_for_held(1, WAIT), "the first step never came");
    s.double.release_held();
    assert!(
        support::interrupt::wait_until(WAIT, || s.double.batches().len() == 1 && s.double.held() == 1),
        "the second step never came"
    );
    // Green degrades while the second step is on its way.
    s.make_green(AppScript::degraded("0 of 2 replicas ready"));
    s.double.release_held();

    let (status, out) = apply.wait(WAIT);
    assert!(!status.success(), "{out}");
    let out = flat(&out);
    assert!(out.contains("Error: Rollout rolled back"), "{out}");
    assert!(out.contains("The readiness gate closed after step 2 of 3 (50 % to green):"), "{out}");
    assert!(out.contains("argocd/workloads-eks-green: Degraded: 0 of 2 replicas ready"), "{out}");
    assert!(out.contains("restored in one change (blue = 100, green = 0)"), "{out}");
    assert_eq!(
        s.double.batches(),
        upserts(&[(90, 10), (50, 50), (100, 0)]),
        "two steps, then the rollback in one batch"
    );
    assert_eq!(live_weights(&s), weights(&[("blue", 100), ("green", 0)]));
    assert_eq!(state_weights(&ws), weights(&[("blue", 100), ("green", 0)]), "state holds the starting weights");

    // The same change is still to do, and the plan warns that the gate is closed.
    match ws.plan() {
        PlanOutcome::Changes(plan) => {
            assert!(plan.contains("step 1 of 3 (10 % to green)"), "{plan}");
            assert!(plan.contains("The readiness gate would refuse this change now"), "{plan}");
        }
        PlanOutcome::NoChanges => panic!("after a rollback the next plan must show the change again"),
    }
}

#[test]
fn ctrl_c_during_a_pause_leaves_the_live_step_in_state_and_the_next_apply_goes_on() {
    let s = GreenHub::start(AppScript::healthy());
    let long_pause = "steps = [10, 50]\n    pause = \"1m\"";
    let ws = blue_live(&s, long_pause, "");
    ws.write("main.tf", &split(&s, 0, 100, long_pause, ""));

    let apply = ws.spawn(&apply_args());
    assert!(wait_for_text(&ws.provider_log(), PAUSING, WAIT), "the first step never went live");
    apply.interrupt();
    let (status, out) = apply.wait(WAIT);
    assert!(!status.success(), "{out}");
    let out = flat(&out);
    assert!(out.contains("Error: Rollout interrupted"), "{out}");
    assert!(out.contains("step 1 of 3 (10 % to green): blue = 90, green = 10 is live"), "{out}");
    assert!(out.contains("Run terraform apply again to continue from there"), "{out}");
    assert_eq!(s.double.batches(), upserts(&[(90, 10)]), "no further step");
    assert_eq!(live_weights(&s), weights(&[("blue", 90), ("green", 10)]));
    assert_eq!(state_weights(&ws), live_weights(&s), "state holds what is live");

    // The next apply goes on from 10 %: the 10 % step is behind it.
    ws.write("main.tf", &split(&s, 0, 100, STEPS, ""));
    match ws.plan() {
        PlanOutcome::Changes(plan) => {
            assert!(plan.contains("\"step 1 of 2 (50 % to green): blue = 50, green = 50\""), "{plan}");
        }
        PlanOutcome::NoChanges => panic!("the rest of the rollout is still to do"),
    }
    s.double.reset_counts();
    ws.apply();
    assert_eq!(s.double.batches(), upserts(&[(50, 50), (0, 100)]));
    ws.assert_plan_empty();
}

#[test]
fn the_update_timeout_ends_the_rollout_after_the_batch_in_flight() {
    let s = GreenHub::start(AppScript::healthy());
    let timeouts = "  timeouts {\n    update = \"3s\"\n  }";
    let ws = blue_live(&s, STEPS, timeouts);
    ws.write("main.tf", &split(&s, 0, 100, STEPS, timeouts));

    // The first step's batch lands at once, and its answer comes after the deadline.
    s.double.add_fault(FaultRule::new("ChangeResourceRecordSets", Fault::DelayAnswer(Duration::from_secs(5))));
    let out = flat(&ws.apply_err());
    assert!(out.contains("Error: Rollout timed out"), "{out}");
    assert!(out.contains("The rollout did not finish within 3s (timeouts.update)"), "{out}");
    assert!(!out.contains("took longer than"), "a late step is no success: {out}");
    assert!(out.contains("step 1 of 3 (10 % to green): blue = 90, green = 10 is live"), "{out}");
    assert_eq!(s.double.batches(), upserts(&[(90, 10)]), "no further step");
    assert_eq!(state_weights(&ws), weights(&[("blue", 90), ("green", 10)]));
    assert_eq!(live_weights(&s), state_weights(&ws));
}

#[test]
fn route53_refusing_a_later_step_leaves_the_live_step_in_state() {
    let s = GreenHub::start(AppScript::healthy());
    let ws = blue_live(&s, STEPS, "");
    ws.write("main.tf", &split(&s, 0, 100, STEPS, ""));
    let refusal = "Tried to create resource record set but it already exists";
    s.double.add_fault(
        FaultRule::new("ChangeResourceRecordSets", Fault::InvalidChangeBatch(refusal.into()))
            .containing("<Weight>50</Weight>"),
    );
    let out = flat(&ws.apply_err());
    assert!(out.contains("Error: Rollout stopped"), "{out}");
    assert!(out.contains(refusal), "Route53's message reaches the user: {out}");
    assert!(out.contains("step 1 of 3 (10 % to green): blue = 90, green = 10 is live"), "{out}");
    assert_eq!(s.double.batches(), upserts(&[(90, 10)]));
    assert_eq!(state_weights(&ws), weights(&[("blue", 90), ("green", 10)]));

    // Route53 takes it now: the next apply goes on from 10 %.
    s.double.clear_faults();
    s.double.reset_counts();
    ws.apply();
    assert_eq!(s.double.batches(), upserts(&[(50, 50), (0, 100)]));
    ws.assert_plan_empty();
}

#[test]
fn bad_rollouts_are_refused_before_any_write() {
    let s = GreenHub::start(AppScript::healthy());
    let ws = blue_live(&s, STEPS, "");
    let cases = [
        ("steps = [50, 10]\n    pause = \"1s\"", "10 does not come after 50", "Invalid rollout step"),
        (
            "steps = [10, 100]\n    pause = \"1s\"",
            "100 is not a share of traffic between 1 and 99",
            "Invalid rollout step",
        ),
        ("steps = [10]\n    pause = \"soon\"", "\"soon\" is not a duration", "Invalid duration"),
        (
            "steps = [10]\n    pause = \"20m\"",
            "must finish within the update timeout (10m",
            "Pause longer than the update timeout",
        ),
        // Two pauses of 6m: each fits in 10m, both do not.
        ("steps = [10, 50]\n    pause = \"6m\"", "This update takes 3 steps", "Rollout longer than the update timeout"),
    ];
    for (rollout, detail, summary) in cases {
        ws.write("main.tf", &split(&s, 0, 100, rollout, ""));
        let out = flat(&ws.apply_err());
        assert!(out.contains(&format!("Error: {summary}")), "{rollout}: {out}");
        assert!(out.contains(detail), "{rollout}: {out}");
        let attribute = if summary == "Invalid rollout step" { "steps =" } else { "pause =" };
        assert!(out.contains("in resource \"gitopsbridge_traffic_split\" \"burnham\":"), "{out}");
        assert!(out.contains(attribute), "{rollout}: the error points at {attribute}: {out}");
    }
    assert_eq!(s.double.writes(), 0, "nothing was written");
    assert_eq!(live_weights(&s), weights(&[("blue", 100), ("green", 0)]));
}

#[test]
fn the_canary_example_moves_green_through_10_and_50_percent() {
    let s = GreenHub::start(AppScript::healthy());
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/canary");
    let mut ws = Workspace::from_dir(&example, "");
    moto::use_moto_credentials(&mut ws);
    let vars = |green: u32| {
        format!(
            "hub_kubeconfig = \"{}\"\nhosted_zone_id = \"{}\"\nroute53_endpoint = \"{}\"\nstep_pause = \"1s\"\n\
             green_weight = {green}\n",
            s.hub.kubeconfig().display(),
            s.zone,
            s.double.endpoint()
        )
    };
    ws.write("terraform.tfvars", &vars(0));
    ws.apply();
    s.double.reset_counts();

    ws.write("terraform.tfvars", &vars(100));
    ws.apply();
    assert_eq!(s.double.batches(), upserts(&[(90, 10), (50, 50), (0, 100)]));
    let outputs: serde_json::Value = serde_json::from_str(&ws.run_ok(&["output", "-json"])).expect("outputs");
    assert_eq!(outputs["rollout_plan"]["value"][1], "step 2 of 3 (50 % to green): blue = 50, green = 50");
    ws.assert_plan_empty();
}
