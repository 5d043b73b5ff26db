//! Coalesced refresh reads from the hub: one LIST per namespace and kind serves every refresh of
//! one provider process, while drift, out-of-band deletes and our own writes are still seen; and
//! waits polling Applications at the same time share fresh listings.

mod support;

use std::time::Duration;

use kube_test_server::{FaultRule, Options, Resource};
use serde_json::json;
use support::hub::Hub;
use support::moto::block_on;
use support::{Workspace, required_providers};
use terraform_provider_gitopsbridge::argocd::application::ClusterRef;
use terraform_provider_gitopsbridge::halt::{Deadline, Operation};
use terraform_provider_gitopsbridge::hub::{HubClient, HubSettings};
use terraform_provider_gitopsbridge::protocol::Context;

const CLUSTERS: &str = "argocd.argoproj.io/secret-type=cluster";

fn cluster_secret(hub: &Hub, name: &str) {
    hub.apply_as(
        "gitops-bridge",
        "argocd",
        name,
        json!({
            "metadata": { "labels": { "argocd.argoproj.io/secret-type": "cluster", "environment": "prod" } },
            "stringData": { "name": name, "server": format!("https://{name}.example.com") }
        }),
    );
}

/// A client as the provider builds it; made inside the runtime that uses it.
async fn client(hub: &Hub) -> HubClient {
    let settings = HubSettings {
        config_path: Some(hub.kubeconfig().display().to_string()),
        config_context: Some("hub".into()),
        ..Default::default()
    };
    HubClient::connect(&settings).await.expect("hub client")
}

fn count(hub: &Hub, verb: &str) -> u64 {
    hub.server().request_count(verb, "secrets")
}

#[test]
fn refresh_reads_share_one_listing_and_our_own_write_drops_it() {
    let hub = Hub::start();
    for name in ["c1", "c2", "c3", "c4", "c5"] {
        cluster_secret(&hub, name);
    }
    hub.apply_as("someone", "argocd", "plain", json!({ "stringData": { "x": "y" } }));
    hub.server().reset_requests();
    block_on(async {
        let hub_client = client(&hub).await;
        let secrets = hub_client.secrets("argocd");
        let ctx = Context::default();
        let reads = ["c1", "c2", "c3", "c4", "c5"].map(|name| secrets.get_listed(&ctx, name, CLUSTERS));
        let found = futures::future::join_all(reads).await;
        assert!(found.iter().all(|r| matches!(r, Ok(Some(_)))), "{found:?}");
        assert_eq!((count(&hub, "list"), count(&hub, "get")), (1, 0), "five reads, one LIST");

        // Not a cluster Secret (no label): the listing cannot tell, a GET can.
        assert!(secrets.get_listed(&ctx, "plain", CLUSTERS).await.expect("read").is_some());
        assert!(secrets.get_listed(&ctx, "gone", CLUSTERS).await.expect("read").is_none());
        assert_eq!((count(&hub, "list"), count(&hub, "get")), (1, 2));

        // Our own write: the next read lists again and sees it.
        let object = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": { "name": "c1", "namespace": "argocd",
                          "labels": { "argocd.argoproj.io/secret-type": "cluster", "environment": "staging" } }
        });
        secrets.apply(&ctx, "c1", &object, true).await.expect("write");
        let c1 = secrets.get_listed(&ctx, "c1", CLUSTERS).await.expect("read").expect("c1");
        assert_eq!(c1.metadata.labels.expect("labels")["environment"], "staging");
        assert_eq!(count(&hub, "list"), 2);

        // So does our own delete.
        secrets.delete(&ctx, "c2").await.expect("delete");
        assert!(secrets.get_listed(&ctx, "c2", CLUSTERS).await.expect("read").is_none());
        assert_eq!(count(&hub, "list"), 3);
    });
}

#[test]
fn a_list_the_hub_refuses_falls_back_to_one_get_per_read() {
    let hub = Hub::with_options(Options::default());
    for name in ["c1", "c2", "c3"] {
        cluster_secret(&hub, name);
    }
    hub.server().reset_requests();
    // RBAC that grants get but not list: the first request, the LIST, is refused.
    hub.server().add_fault(FaultRule::status(403).method("GET").path_contains("/secrets").times(1));
    block_on(async {
        let hub_client = client(&hub).await;
        let secrets = hub_client.secrets("argocd");
        let ctx = Context::default();
        for name in ["c1", "c2", "c3"] {
            assert!(secrets.get_listed(&ctx, name, CLUSTERS).await.expect("read").is_some(), "{name}");
        }
    });
    assert_eq!((count(&hub, "list"), count(&hub, "get")), (1, 3), "listed once, then read one by one");
}

/// Ten cluster Secrets and ten ApplicationSets selecting them.
fn many(hub: &Hub) -> String {
    format!(
        "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    config_path    = \"{}\"\n    config_context = \"hub\"\n  }}\n}}\n\n\
         resource \"gitopsbridge_cluster_metadata\" \"c\" {{\n  count        = 10\n  cluster_name = \"cluster-${{count.index}}\"\n  \
         environment  = \"env-${{count.index}}\"\n  server       = \"https://cluster-${{count.index}}.example.com\"\n  \
         metadata     = {{ addons_repo_url = \"https://github.com/example/addons\", addons_repo_basepath = \"\", \
         addons_repo_path = \"bootstrap\", addons_repo_revision = \"main\" }}\n}}\n\n\
         resource \"gitopsbridge_addon_set\" \"a\" {{\n  count = 10\n  name  = \"addons-${{count.index}}\"\n  \
         application_name = \"addons-{{{{name}}}}\"\n  \
         cluster_selector {{\n    match_labels = {{ environment = \"env-${{count.index}}\" }}\n  }}\n  \
         source {{\n    from_metadata = \"addons\"\n  }}\n  depends_on = [gitopsbridge_cluster_metadata.c]\n}}\n",
        required_providers(),
        hub.kubeconfig().display()
    )
}

#[test]
fn a_refresh_of_twenty_resources_costs_one_list_per_kind_and_still_sees_drift() {
    let hub = Hub::start();
    let ws = Workspace::new(&many(&hub));
    ws.apply();
    hub.server().reset_requests();
    ws.assert_plan_empty();
    let server = hub.server();
    let asked = |verb: &str, resource: &str| server.request_count(verb, resource);
    assert_eq!((asked("list", "secrets"), asked("get", "secrets")), (1, 0), "cluster Secrets and hints: one LIST");
    assert_eq!((asked("list", "applicationsets"), asked("get", "applicationsets")), (1, 0));
    assert_eq!(server.requests().total, 2, "nothing else");

    // Drift on a Secret, one Secret and one ApplicationSet deleted by hand: the plan shows each.
    hub.apply_as(
        "kubectl-edit",
        "argocd",
        "cluster-3",
        json!({ "metadata": { "labels": { "environment": "edited" } } }),
    );
    hub.delete_secret("argocd", "cluster-4");
    server.delete(kube_test_server::Resource::ApplicationSet, "argocd", "addons-5").expect("delete appset");
    server.reset_requests();
    let plan = ws.run_ok(&["plan", "-no-color"]);
    assert!(plan.contains("gitopsbridge_cluster_metadata.c[3] will be updated in-place"), "{plan}");
    assert!(plan.contains("gitopsbridge_cluster_metadata.c[4] will be created"), "{plan}");
    assert!(plan.contains("gitopsbridge_addon_set.a[5] will be created"), "{plan}");
    assert!(plan.contains("Plan: 2 to add, 1 to change, 0 to destroy."), "{plan}");
    // The deleted Secret is confirmed with one GET; an ApplicationSet missing from the whole
    // namespace's listing needs none.
    assert_eq!((asked("list", "secrets"), asked("get", "secrets")), (1, 1));
    assert_eq!((asked("list", "applicationsets"), asked("get", "applicationsets")), (1, 0));
}

#[test]
fn selectors_evaluated_locally_agree_with_the_api_server() {
    use std::collections::BTreeMap;
    use terraform_provider_gitopsbridge::argocd::application_set::{Requirement, Selector};

    let hub = Hub::start();
    let labelled = [
        ("a", vec![("environment", "prod"), ("enable_x", "true")]),
        ("b", vec![("environment", "staging")]),
        ("c", vec![("enable_x", "false")]),
        ("d", vec![]),
    ];
    for (name, labels) in &labelled {
        let mut labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
        labels.insert("argocd.argoproj.io/secret-type", "cluster");
        hub.apply_as("gitops-bridge", "argocd", name, json!({ "metadata": { "labels": labels } }));
    }
    let requirement = |key: &str, operator: &str, values: &[&str]| Requirement {
        key: key.into(),
        operator: operator.into(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
    };
    let selectors = [
        Selector { match_labels: Some(BTreeMap::from([("environment".into(), "prod".into())])), ..Default::default() },
        Selector {
            match_expressions: vec![requirement("environment", "In", &["prod", "staging"])],
            ..Default::default()
        },
        Selector { match_expressions: vec![requirement("environment", "NotIn", &["prod"])], ..Default::default() },
        Selector { match_expressions: vec![requirement("enable_x", "Exists", &[])], ..Default::default() },
        Selector { match_expressions: vec![requirement("enable_x", "DoesNotExist", &[])], ..Default::default() },
        Selector {
            match_labels: Some(BTreeMap::from([("enable_x".into(), "true".into())])),
            match_expressions: vec![requirement("environment", "NotIn", &["staging"])],
        },
        Selector::default(),
    ];
    block_on(async {
        let hub_client = client(&hub).await;
        let secrets = hub_client.secrets("argocd");
        let ctx = Context::default();
        let all = secrets.listed(&ctx, CLUSTERS).await.expect("listing").expect("listed");
        for selector in &selectors {
            let query = [CLUSTERS.to_string(), selector.to_query()].join(",");
            let query = query.trim_end_matches(',');
            let mut by_server: Vec<String> =
                secrets.list(&ctx, query).await.expect("list").into_iter().filter_map(|s| s.metadata.name).collect();
            by_server.sort();
            let by_us: Vec<String> = all
                .iter()
                .filter(|(_, s)| selector.matches(&s.metadata.labels.clone().unwrap_or_default()))
                .map(|(name, _)| name.clone())
                .collect();
            assert_eq!(by_us, by_server, "{query}");
        }
    });
}

#[test]
fn a_listing_longer_than_a_page_is_read_page_by_page() {
    let hub = Hub::start();
    let names: Vec<String> = (0..250).map(|i| format!("c{i}")).collect();
    for name in &names {
        cluster_secret(&hub, name);
    }
    let apps = names.iter().map(|name| application(&format!("app-{name}"), name)).collect();
    hub.server().seed(Resource::Application, apps).expect("seed");
    hub.server().reset_requests();
    block_on(async {
        let hub_client = client(&hub).await;
        let secrets = hub_client.secrets("argocd");
        let ctx = Context::default();
        for name in &names {
            assert!(secrets.get_listed(&ctx, name, CLUSTERS).await.expect("read").is_some(), "{name}");
        }
        let listed = hub_client.applications("argocd").all_listed(&ctx).await.expect("listing");
        assert_eq!(listed.len(), 250);
    });
    assert_eq!((count(&hub, "list"), count(&hub, "get")), (1, 0), "Secrets in pages of 500");
    assert_eq!(hub.server().request_count("list", "applications"), 3, "Applications in pages of 100");
}

fn application(name: &str, cluster: &str) -> serde_json::Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": { "name": name, "namespace": "argocd" },
        "spec": { "project": "default", "destination": { "name": cluster, "namespace": "apps" } },
        "status": { "sync": { "status": "Synced" }, "health": { "status": "Healthy" } }
    })
}

#[test]
fn waits_that_ask_while_a_listing_runs_share_the_next_one_and_none_reuses_an_older_one() {
    let hub = Hub::start();
    let apps = ["green", "blue", "green", "blue"].iter().enumerate().map(|(i, c)| application(&format!("a{i}"), c));
    hub.server().seed(Resource::Application, apps.collect()).expect("seed");
    hub.server().reset_requests();
    // The first listing waits at the hub until released.
    hub.server().add_fault(FaultRule::hold().method("GET").path_ends_with("/applications"));
    let lists = || hub.server().request_count("list", "applications");
    block_on(async {
        let hub_client = std::sync::Arc::new(client(&hub).await);
        let ctx = Context::default();
        let deadline = Deadline::after(Operation::Create, Duration::from_secs(60));
        let first = tokio::spawn({
            let (hub_client, ctx) = (hub_client.clone(), ctx.clone());
            async move { hub_client.applications_now(&ctx, &deadline, "argocd").await.map(|apps| apps.len()) }
        });
        let started = std::time::Instant::now();
        while hub.server().held() < 1 {
            assert!(started.elapsed() < Duration::from_secs(30), "the first listing never reached the hub");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // Three waits ask while it runs: it started before they asked, so they queue for the next.
        let green = ClusterRef { name: "green".into(), server: String::new() };
        let namespaces = ["argocd".to_string()];
        let mut queued = Box::pin(futures::future::join_all(
            (0..3).map(|_| hub_client.cluster_applications_now(&ctx, &deadline, &namespaces, &green)),
        ));
        assert!(futures::poll!(&mut queued).is_pending());
        hub.server().release_held();
        let found = queued.await;
        assert_eq!(first.await.expect("first wait").expect("first listing"), 4);
        for apps in found {
            let names: Vec<String> = apps.expect("listing").iter().map(|a| a.name().to_string()).collect();
            assert_eq!(names, ["a0", "a2"]);
        }
        assert_eq!(lists(), 2, "the held listing, and one shared by the three that asked meanwhile");

        // A wait that asks after a listing finished gets a new one.
        hub_client.applications_now(&ctx, &deadline, "argocd").await.expect("listing");
        assert_eq!(lists(), 3);
    });
}
