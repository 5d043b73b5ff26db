//! Fault injection, request accounting and the binary's control API.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{raw, start_plain, status_of};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube_test_server::{FaultRule, Resource};
use serde_json::json;

fn config(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "labels": {"a": "1"}}})
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let h = start_plain().await;
    h.server.add_fault(FaultRule::too_many_requests(7).method("GET").path_contains("/secrets"));
    let resp = raw(&h.no_retry, "GET", "/api/v1/namespaces/argocd/secrets", None, "").await;
    assert_eq!(resp.status, 429);
    assert_eq!(resp.headers["retry-after"], "7");
    assert_eq!(resp.body["reason"], "TooManyRequests");
    assert_eq!(resp.body["details"]["retryAfterSeconds"], 7);
    // The rule was for one request only.
    let again = raw(&h.no_retry, "GET", "/api/v1/namespaces/argocd/secrets", None, "").await;
    assert_eq!(again.status, 200);
}

#[tokio::test]
async fn kube_rs_waits_out_retry_after_by_itself() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    h.server.add_fault(FaultRule::too_many_requests(1).method("GET"));
    let started = Instant::now();
    secrets.list(&ListParams::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
    assert_eq!(h.server.request_count("list", "secrets"), 2);
}

#[tokio::test]
async fn injected_statuses_have_real_bodies_and_only_hit_matching_requests() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    h.server.add_fault(FaultRule::status(500).method("PATCH").times(2));
    h.server.add_fault(FaultRule::status(503).path_contains("/namespaces/default/"));
    h.server.add_fault(FaultRule::status(409).method("PATCH"));

    // GETs in argocd are untouched by all three rules.
    secrets.list(&ListParams::default()).await.unwrap();
    let pp = PatchParams::apply("tf");
    for _ in 0..2 {
        let status = status_of(secrets.patch("x", &pp, &Patch::Apply(config("x"))).await);
        assert_eq!((status.code, status.reason.as_str()), (500, "InternalError"));
    }
    let conflict = status_of(secrets.patch("x", &pp, &Patch::Apply(config("x"))).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    secrets.patch("x", &pp, &Patch::Apply(config("x"))).await.unwrap();

    let default: Api<Secret> = Api::namespaced(h.no_retry.clone(), "default");
    let unavailable = status_of(default.list(&ListParams::default()).await);
    assert_eq!((unavailable.code, unavailable.reason.as_str()), (503, "ServiceUnavailable"));
}

#[tokio::test]
async fn delays_and_dropped_connections() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    h.server.add_fault(FaultRule::delay_ms(300));
    let started = Instant::now();
    secrets.list(&ListParams::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));

    h.server.add_fault(FaultRule::drop_connection().method("GET"));
    match secrets.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => {
            panic!("a dropped connection is not an API error: {status:?}")
        }
        Err(_) => {}
        Ok(_) => panic!("the connection should have been dropped"),
    }
    // The next request (on a fresh connection) works.
    secrets.list(&ListParams::default()).await.unwrap();
    let log = h.server.requests().log;
    assert!(log.iter().any(|r| r.status == 0), "the dropped request is logged with status 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_requests_and_held_answers_wait_for_the_release() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    h.server.add_fault(FaultRule::pass().method("PATCH").times(1));
    h.server.add_fault(FaultRule::hold_answer().method("PATCH").path_contains("/secrets/b"));
    h.server.add_fault(FaultRule::hold().method("PATCH").path_contains("/secrets/c"));
    let pp = PatchParams::apply("tf");
    // The pass rule lets the first PATCH through before the holds, whatever its path.
    secrets.patch("b", &pp, &Patch::Apply(config("b"))).await.unwrap();
    h.server.reset_requests();

    let patch = |name: &'static str| {
        let (secrets, pp) = (secrets.clone(), pp.clone());
        let mut changed = config(name);
        changed["metadata"]["labels"]["a"] = json!("2");
        tokio::spawn(async move { secrets.patch(name, &pp, &Patch::Apply(changed)).await })
    };
    let (b, c) = (patch("b"), patch("c"));
    assert!(tokio::task::block_in_place(|| h.server.wait_for_held(2, Duration::from_secs(30))));
    // holdAnswer: the write took effect and is counted, only its answer waits; hold: nothing yet.
    let stored_b = h.server.get(Resource::Secret, "argocd", "b").unwrap();
    assert_eq!(stored_b["metadata"]["labels"]["a"], "2");
    assert!(h.server.get(Resource::Secret, "argocd", "c").is_none());
    assert_eq!(h.server.request_count("patch", "secrets"), 1);
    assert!(!b.is_finished() && !c.is_finished());

    h.server.release_held();
    b.await.unwrap().unwrap();
    c.await.unwrap().unwrap();
    assert!(h.server.get(Resource::Secret, "argocd", "c").is_some());
    assert_eq!((h.server.request_count("patch", "secrets"), h.server.held()), (2, 0));
}

#[tokio::test]
async fn a_late_answer_stores_the_write_before_the_client_gets_it() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.no_retry.clone(), "argocd");
    h.server.add_fault(FaultRule::delay_answer_ms(60_000).method("PATCH"));
    let write = tokio::spawn(async move {
        let params = PatchParams::apply("tf");
        secrets.patch("late", &params, &Patch::Apply(config("late"))).await
    });
    let stored = async {
        while h.server.get(kube_test_server::Resource::Secret, "argocd", "late").is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), stored).await.expect("the write is stored");
    assert!(!write.is_finished(), "the answer is still held back");
    let patch = h.server.requests().log.into_iter().find(|r| r.method == "PATCH").expect("logged");
    assert_eq!(patch.status, 201);
    write.abort();
}

#[tokio::test]
async fn unlimited_rules_last_until_cleared() {
    let h = start_plain().await;
    h.server.add_fault(FaultRule::status(500).times(0));
    for _ in 0..3 {
        assert_eq!(raw(&h.client, "GET", "/api/v1/namespaces", None, "").await.status, 500);
    }
    h.server.clear_faults();
    assert_eq!(raw(&h.client, "GET", "/api/v1/namespaces", None, "").await.status, 200);
}

#[tokio::test]
async fn requests_are_counted_per_verb_and_resource() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    h.server.reset_requests();
    secrets.patch("c", &PatchParams::apply("tf"), &Patch::Apply(config("c"))).await.unwrap();
    secrets.get("c").await.unwrap();
    secrets.get("c").await.unwrap();
    secrets.list(&ListParams::default()).await.unwrap();
    assert_eq!(h.server.request_count("patch", "secrets"), 1);
    assert_eq!(h.server.request_count("get", "secrets"), 2);
    assert_eq!(h.server.request_count("list", "secrets"), 1);
    assert_eq!(h.server.write_count(), 1);
    let stats = h.server.requests();
    assert_eq!(stats.total, 4);
    let patch = &stats.log[0];
    assert_eq!(patch.field_manager.as_deref(), Some("tf"));
    assert_eq!(patch.content_type.as_deref(), Some("application/apply-patch+yaml"));
    assert_eq!((patch.namespace.as_deref(), patch.name.as_deref()), (Some("argocd"), Some("c")));
    h.server.reset_requests();
    assert_eq!(h.server.requests().total, 0);
}

/// Sends SIGTERM to a child this test started.
fn terminate(pid: u32) {
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
}

/// Kills the started binary if the test fails half-way.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test]
async fn the_binary_prints_its_url_writes_a_kubeconfig_and_serves_the_control_api() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_kube-test-server"))
            .args(["--token", "t0ken", "--context", "demo", "--kubeconfig"])
            .arg(&kubeconfig)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on https://127.0.0.1:"), "{line}");

    let loaded = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    assert_eq!(loaded.current_context.as_deref(), Some("demo"));
    let client = common::client_from_kubeconfig(&kubeconfig, false).await;

    let rule = r#"{"method":"GET","pathContains":"/secrets","times":1,"action":{"status":{"code":429,"retryAfterSeconds":2}}}"#;
    assert_eq!(raw(&client, "POST", "/_test/faults", Some("application/json"), rule).await.status, 200);
    let limited = raw(&client, "GET", "/api/v1/namespaces/argocd/secrets", None, "").await;
    assert_eq!((limited.status, limited.headers["retry-after"].to_str().unwrap()), (429, "2"));

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "argocd");
    secrets.patch("demo", &PatchParams::apply("tf"), &Patch::Apply(config("demo"))).await.unwrap();
    let stats = raw(&client, "GET", "/_test/requests", None, "").await;
    assert_eq!(stats.body["writes"], 1);
    assert_eq!(stats.body["counts"]["patch secrets"], 1);
    let objects = raw(&client, "GET", "/_test/objects?resource=secrets&namespace=argocd", None, "").await;
    assert_eq!(objects.body["items"][0]["metadata"]["name"], "demo");
    assert_eq!(raw(&client, "POST", "/_test/requests/reset", None, "").await.status, 200);
    assert_eq!(raw(&client, "GET", "/_test/requests", None, "").await.body["total"], 0);
    assert_eq!(raw(&client, "DELETE", "/_test/faults", None, "").await.status, 200);
    assert_eq!(raw(&client, "GET", "/_test/held", None, "").await.body["held"], 0);
    assert_eq!(raw(&client, "POST", "/_test/held/release", None, "").await.status, 200);

    terminate(child.0.id());
    let status = child.0.wait().unwrap();
    assert!(status.success(), "SIGTERM ends the server cleanly: {status:?}");
}
