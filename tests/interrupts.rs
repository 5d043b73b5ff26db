//! Interrupted applies: what the clients do when Terraform asks the provider to stop, then Ctrl-C
//! and `kill -9` of the provider in the middle of 100 creates on the real terraform. Afterwards
//! state, the hub and Route53 agree, nothing is written twice, and plan + apply converge.
//!
//! "The middle" is made exact with held requests: the test servers let the first creates through
//! and then hold writes (or their answers) until every one of terraform's ten slots is waiting,
//! so the interrupt always finds the same picture.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use kube_test_server::FaultRule;
use serde_json::json;
use terraform_provider_gitopsbridge::halt::{Deadline, Halt, Operation};
use terraform_provider_gitopsbridge::hub::{HubClient, HubError, HubSettings};
use terraform_provider_gitopsbridge::protocol::{Context, tls};
use terraform_provider_gitopsbridge::route53::{Change, RecordSet, Route53, Route53Error};
use tokio_util::sync::CancellationToken;

use support::fleet::{self, CLUSTER, ROUTE};
use support::hub::Hub;
use support::interrupt::{STOP_LOGGED, kill_hard, wait_for_text, wait_until};
use support::moto::{Moto, create_zone, records, sdk_client};
use support::outcome::warnings;
use support::route53_double::{Fault, Route53Double};

const CHANGE: &str = "ChangeResourceRecordSets";
/// Terraform's default parallelism: this many creates are in flight at once.
const SLOTS: usize = 10;
/// Creates let through before the hub starts holding writes.
const FIRST: u32 = 30;
const WAIT: Duration = Duration::from_secs(120);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn secret(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "argocd"}})
}

fn cname(name: &str) -> RecordSet {
    RecordSet {
        name: name.to_string(),
        record_type: "CNAME".into(),
        set_identifier: Some("blue".into()),
        weight: Some(1),
        ttl: Some(60),
        values: vec!["blue.elb.example.net".into()],
        alias: None,
        health_check_id: None,
    }
}

// ---------------------------------------------------------------------------------------------
// The clients on StopProvider

/// A hub that holds the PATCH of Secret `written` and the GET of Secret `read` until released,
/// and the settings to reach it.
fn hub_holding_a_write_and_a_read() -> (Hub, HubSettings) {
    let hub = Hub::start();
    hub.server().add_fault(FaultRule::hold().method("PATCH").path_contains("/secrets/written"));
    hub.server().add_fault(FaultRule::hold().method("GET").path_contains("/secrets/read"));
    let settings = HubSettings { config_path: Some(hub.kubeconfig().display().to_string()), ..Default::default() };
    (hub, settings)
}

#[test]
fn a_hub_write_in_flight_at_the_stop_is_finished_and_nothing_is_sent_after_it() {
    let (hub, settings) = hub_holding_a_write_and_a_read();
    let server = hub.server();
    runtime().block_on(async {
        tls::install_crypto_provider();
        let client = HubClient::connect(&settings).await.expect("hub client");
        let stop = CancellationToken::new();
        let ctx = Context::new(stop.clone(), Default::default());
        let write = tokio::spawn({
            let (client, ctx) = (client.clone(), ctx.clone());
            async move { client.secrets("argocd").apply(&ctx, "written", &secret("written"), false).await }
        });
        let read = tokio::spawn({
            let (client, ctx) = (client.clone(), ctx.clone());
            async move { client.secrets("argocd").get(&ctx, "read").await }
        });
        assert!(tokio::task::block_in_place(|| server.wait_for_held(2, WAIT)));
        stop.cancel();

        // The read is dropped at once, its request still held; the write is waited for.
        let read = tokio::time::timeout(WAIT, read).await.expect("the read gives up on the stop").unwrap();
        assert!(matches!(read, Err(HubError::Cancelled)), "{read:?}");
        assert!(!write.is_finished());
        server.release_held();
        let written = write.await.unwrap().expect("the write in flight is finished, not abandoned");
        assert_eq!(written.metadata.name.as_deref(), Some("written"));

        // After the stop nothing is sent: neither a write nor a read.
        let secrets = client.secrets("argocd");
        assert!(matches!(secrets.apply(&ctx, "late", &secret("late"), false).await, Err(HubError::Cancelled)));
        assert!(matches!(secrets.get(&ctx, "late").await, Err(HubError::Cancelled)));
    });
    assert!(hub.secret("argocd", "written").is_some());
    assert!(hub.secret("argocd", "late").is_none());
    let late = server.requests().log.into_iter().filter(|r| r.name.as_deref() == Some("late")).count();
    assert_eq!(late, 0, "no request about `late` reached the hub");
}

#[test]
fn a_route53_change_in_flight_at_the_stop_is_finished_and_no_retry_is_sent_after_it() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone = create_zone(&moto.endpoint(), "example.com");
    let r53 = Route53::from_client(sdk_client(&double.endpoint(), 5), 5);
    let change_held_at_stop = |name: &'static str| {
        let stop = CancellationToken::new();
        let sending = tokio::spawn({
            let (r53, zone, stop) = (r53.clone(), zone.clone(), stop.clone());
            let ctx = Context::new(stop, Default::default());
            async move { r53.change_within(&zone, "t", &[Change::Create(cname(name))], &ctx, None).await }
        });
        assert!(tokio::task::block_in_place(|| double.wait_for_held(1, WAIT)));
        stop.cancel();
        double.release_held();
        sending
    };
    runtime().block_on(async {
        double.hold(CHANGE, 1);
        let finished = change_held_at_stop("a.example.com").await.unwrap();
        assert!(finished.is_ok(), "{finished:?}");

        // Throttled after the stop: the SDK would retry; the retry is not sent.
        double.hold(CHANGE, 1);
        double.fail(CHANGE, Fault::Throttling, 1);
        let throttled = change_held_at_stop("b.example.com").await.unwrap();
        assert!(
            matches!(throttled, Err(Route53Error::Halted { halt: Halt::Stop, attempts: 1, uncertain: false, ref last })
                if last.as_deref() == Some("400 Throttling")),
            "{throttled:?}"
        );

        let stopped = CancellationToken::new();
        stopped.cancel();
        let stopped = Context::new(stopped, Default::default());
        let late = r53.change_within(&zone, "t", &[Change::Create(cname("c.example.com"))], &stopped, None).await;
        assert!(matches!(late, Err(Route53Error::Halted { halt: Halt::Stop, attempts: 0, .. })), "{late:?}");
    });
    assert_eq!(double.count(CHANGE), 2, "one attempt each for a and b, none for c");
    let names: Vec<String> =
        records(&moto.endpoint(), &zone).into_iter().filter(|r| r.set_identifier.is_some()).map(|r| r.name).collect();
    assert_eq!(names, ["a.example.com."]);
}

// ---------------------------------------------------------------------------------------------
// The hub client at a deadline: it ends the call like the stop does

#[test]
fn a_hub_write_in_flight_at_the_deadline_is_finished_and_a_read_is_dropped() {
    let (hub, settings) = hub_holding_a_write_and_a_read();
    let server = hub.server();
    runtime().block_on(async {
        tls::install_crypto_provider();
        let client = HubClient::connect(&settings).await.expect("hub client");
        let ctx = Context::default();
        let deadline = Deadline::after(Operation::Create, Duration::from_millis(300));
        let write = tokio::spawn({
            let (client, ctx) = (client.clone(), ctx.clone());
            async move { client.secrets("argocd").until(deadline).apply(&ctx, "written", &secret("written"), false).await }
        });
        let read = tokio::spawn({
            let (client, ctx) = (client.clone(), ctx.clone());
            async move { client.secrets("argocd").until(deadline).get(&ctx, "read").await }
        });
        assert!(tokio::task::block_in_place(|| server.wait_for_held(2, WAIT)));

        // The read gives up at the deadline by itself, its request still held; the write waits.
        let read = tokio::time::timeout(WAIT, read).await.expect("the read gives up at the deadline").unwrap();
        assert!(matches!(read, Err(HubError::TimedOut { .. })), "{read:?}");
        assert!(deadline.passed() && !write.is_finished());
        server.release_held();
        let written = write.await.unwrap().expect("the write in flight is finished, not abandoned");
        assert_eq!(written.metadata.name.as_deref(), Some("written"));

        // Past the deadline nothing is sent.
        let secrets = client.secrets("argocd").until(deadline);
        assert!(matches!(secrets.apply(&ctx, "late", &secret("late"), false).await, Err(HubError::TimedOut { .. })));
    });
    assert!(hub.secret("argocd", "written").is_some());
    let late = server.requests().log.into_iter().filter(|r| r.name.as_deref() == Some("late")).count();
    assert_eq!(late, 0, "no request about `late` reached the hub");
}

/// A write that went without an answer until the client's read timeout may have happened (here
/// it did); a throttled one certainly did not. Retries stop where the next would pass the
/// deadline.
#[test]
fn a_hub_write_without_an_answer_is_uncertain_and_a_throttled_one_is_not() {
    let hub = Hub::start();
    let server = hub.server();
    server.add_fault(FaultRule::delay_answer_ms(5_000).method("PATCH").path_contains("/secrets/unanswered").times(0));
    server.add_fault(FaultRule::too_many_requests(1).method("PATCH").path_contains("/secrets/throttled").times(0));
    let settings = HubSettings {
        config_path: Some(hub.kubeconfig().display().to_string()),
        request_timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    runtime().block_on(async {
        tls::install_crypto_provider();
        let client = HubClient::connect(&settings).await.expect("hub client");
        let ctx = Context::default();
        let apply = |name: &'static str| {
            let deadline = Deadline::after(Operation::Create, Duration::from_millis(2_500));
            let secrets = client.secrets("argocd").until(deadline);
            let ctx = ctx.clone();
            async move { secrets.apply(&ctx, name, &secret(name), false).await }
        };
        match apply("unanswered").await {
            Err(e @ HubError::GaveUp { halt: Some(Halt::Deadline(_)), attempts: 2, .. }) => {
                assert!(e.uncertain(), "{e:?}");
                assert!(matches!(e.last_answer(), HubError::Unreachable { .. }), "{e:?}");
            }
            other => panic!("expected two unanswered attempts, then the deadline: {other:?}"),
        }
        match apply("throttled").await {
            Err(e @ HubError::GaveUp { halt: Some(Halt::Deadline(_)), .. }) => assert!(!e.uncertain(), "{e:?}"),
            other => panic!("expected throttling until the deadline: {other:?}"),
        }
    });
    assert!(hub.secret("argocd", "unanswered").is_some(), "the unanswered write happened");
    assert!(hub.secret("argocd", "throttled").is_none());
}

// ---------------------------------------------------------------------------------------------
// Ctrl-C and kill -9 on the real terraform

/// Ctrl-C while 96 cluster Secrets and 4 weighted records are being created, with every slot
/// stuck: four Route53 changes waiting for INSYNC (the double keeps them PENDING), and six hub
/// writes held in flight after the first 30 went through. The Secrets wait for a gate Secret, whose
/// write is held until the four changes are in, so the records always have their slots first.
#[test]
fn ctrl_c_in_the_middle_of_100_creates_records_every_object_written_and_a_rerun_converges() {
    const HELD: usize = 6;
    const ROUTES: usize = SLOTS - HELD;
    let hub = Hub::start();
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone = create_zone(&moto.endpoint(), "example.com");
    let gate = format!(
        "resource \"{CLUSTER}\" \"gate\" {{\n  cluster_name = \"gate\"\n  server = \"https://gate.example.internal\"\n}}\n"
    );
    let spokes = fleet::spokes_with(100 - ROUTES - 1, &format!("  depends_on = [{CLUSTER}.gate]\n"));
    let body = gate + &spokes + &fleet::routes(ROUTES);
    let ws = fleet::workspace(&hub, &double.endpoint(), &body);
    let server = hub.server();
    server.add_fault(FaultRule::hold().method("PATCH").path_contains("/secrets/gate"));
    server.add_fault(FaultRule::pass().method("PATCH").times(FIRST));
    server.add_fault(FaultRule::hold().method("PATCH").times(0));
    double.propagate_slowly(usize::MAX);

    let apply = ws.spawn(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    // Record changes, not requests: concurrent changes to one zone leave in shared batches.
    let busy = || (server.held(), double.changes_accepted() as usize);
    assert!(wait_until(WAIT, || busy() == (1, ROUTES)), "gate and records: {:?}", busy());
    server.release_held();
    assert!(wait_until(WAIT, || busy() == (HELD, ROUTES)), "in flight: {:?}", busy());
    let done_before = fleet::hub_ids(&hub).len();
    assert_eq!(done_before, 1 + FIRST as usize);
    apply.interrupt();
    assert!(wait_for_text(&ws.provider_log(), STOP_LOGGED, WAIT), "StopProvider never reached the provider");
    server.clear_faults();
    server.release_held();
    let (status, output) = apply.wait(WAIT);

    assert!(!status.success(), "an interrupted apply fails:\n{output}");
    assert!(output.contains("Interrupt received"), "{output}");
    assert_eq!(warnings(&output, "Change not awaited"), ROUTES, "{output}");
    let clusters = fleet::state_ids(&ws, CLUSTER);
    let routes = fleet::state_ids(&ws, ROUTE);
    // Every object written is in state (the held writes were finished, the unsynced changes
    // recorded): none orphaned, none twice, and nothing was written after the stop.
    assert_eq!(fleet::values(&clusters), fleet::hub_ids(&hub), "hub and state differ");
    assert_eq!(fleet::values(&routes), fleet::route53_ids(&moto.endpoint(), &zone), "Route53 and state differ");
    assert_eq!((clusters.len(), routes.len()), (done_before + HELD, ROUTES));
    assert_eq!(fleet::secret_writes(&hub).len(), clusters.len());
    assert_eq!(double.changes_accepted() as usize, ROUTES);
    assert!(double.count(CHANGE) as usize <= ROUTES, "no batch sent twice");
    println!(
        "Ctrl-C: {done_before} creates done before, {HELD} hub writes and {ROUTES} Route53 changes in flight; \
         in state {} = on the hub {} + in Route53 {}; orphans 0",
        clusters.len() + routes.len(),
        fleet::hub_ids(&hub).len(),
        fleet::route53_ids(&moto.endpoint(), &zone).len()
    );

    // The rerun creates the rest; then nothing is left to do.
    double.propagate_slowly(0);
    let rerun = ws.apply();
    let rest = 100 - clusters.len() - routes.len();
    assert!(rerun.contains(&format!("{rest} added, 0 changed, 0 destroyed")), "{rerun}");
    ws.assert_plan_empty();
    let clusters = fleet::state_ids(&ws, CLUSTER);
    assert_eq!(fleet::values(&clusters).len(), 100 - ROUTES);
    assert_eq!(fleet::values(&clusters), fleet::hub_ids(&hub));
    assert_eq!(fleet::values(&fleet::state_ids(&ws, ROUTE)), fleet::route53_ids(&moto.endpoint(), &zone));
    let writes = fleet::secret_writes(&hub);
    assert!(writes.len() == 100 - ROUTES && writes.values().all(|n| *n == 1), "each Secret written once: {writes:?}");
    assert_eq!(double.changes_accepted() as usize, ROUTES, "each record written once");
}

/// `kill -9` of the provider while ten creates wait for answers the hub holds: their Secrets
/// exist, Terraform never heard of them. The next apply names each one with its import id;
/// importing them as told converges.
#[test]
fn kill_9_of_the_provider_mid_apply_leaves_orphans_that_import_as_the_error_says() {
    let hub = Hub::start();
    let ws = fleet::workspace(&hub, "http://127.0.0.1:9", &fleet::spokes(100));
    let server = hub.server();
    server.add_fault(FaultRule::pass().method("PATCH").times(FIRST));
    server.add_fault(FaultRule::hold_answer().method("PATCH").times(0));

    let apply = ws.spawn(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(server.wait_for_held(SLOTS, WAIT), "held: {}", server.held());
    let providers = apply.providers();
    assert!(!providers.is_empty(), "no provider process found");
    providers.into_iter().for_each(kill_hard);
    let (status, output) = apply.wait(WAIT);
    server.clear_faults();
    server.release_held();
    assert!(!status.success() && output.contains("Plugin did not respond"), "{output}");

    let in_state = fleet::values(&fleet::state_ids(&ws, CLUSTER));
    let on_hub = fleet::hub_ids(&hub);
    let orphans: BTreeSet<String> = on_hub.difference(&in_state).cloned().collect();
    assert_eq!((in_state.len(), on_hub.len(), orphans.len()), (FIRST as usize, FIRST as usize + SLOTS, SLOTS));
    assert!(in_state.is_subset(&on_hub));

    // The rerun creates what is missing and names every orphan with its import block.
    let rerun = ws.apply_err();
    let told = import_blocks(&rerun);
    let told_ids: BTreeSet<String> = told.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(told_ids, orphans, "{rerun}");
    let blocks: String = told.iter().map(|(block, _)| block.as_str()).collect();
    ws.write("imports.tf", &blocks);
    let adopted = ws.apply();
    assert!(adopted.contains(&format!("{SLOTS} imported, 0 added, 0 changed, 0 destroyed")), "{adopted}");
    ws.assert_plan_empty();

    let in_state = fleet::state_ids(&ws, CLUSTER);
    assert_eq!((in_state.len(), fleet::values(&in_state).len()), (100, 100));
    assert_eq!(fleet::values(&in_state), fleet::hub_ids(&hub));
    let writes = fleet::secret_writes(&hub);
    assert!(writes.len() == 100 && writes.values().all(|n| *n == 1), "each Secret written once: {writes:?}");
    println!(
        "kill -9: {FIRST} in state, {} on the hub, {} orphans adopted by import",
        FIRST as usize + SLOTS,
        orphans.len()
    );
}

/// The `import` blocks that "already exists" errors print, with `to` set to the address
/// Terraform names above each error, and the import ids.
fn import_blocks(output: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut address = None;
    let mut lines = output.lines();
    while let Some(line) = lines.next() {
        // Terraform's own line under the summary; the message's text lines are not indented.
        if let Some(rest) = line.strip_prefix("  with ") {
            address = Some(rest.trim_end_matches(',').to_string());
        }
        if line.trim() == "import {" {
            let mut block: Vec<String> = vec!["import {".into()];
            for inner in lines.by_ref() {
                block.push(inner.trim().to_string());
                if inner.trim() == "}" {
                    break;
                }
            }
            let address = address.take().expect("an address above the error");
            let text = block.join("\n").replace(&format!("{CLUSTER}.<name>"), &address) + "\n";
            let id = block.iter().find_map(|l| l.strip_prefix("id = ")).expect("an id").trim_matches('"').to_string();
            found.push((text, id));
        }
    }
    found
}
