//! The Argo CD stand-in: Applications served and validated, the ApplicationSet controller
//! (clusters generator, templates, ownership, pruning, garbage collection), scripted status and
//! the resources finalizer held while Argo CD "deletes" on a cluster it still knows.

mod common;

use common::{Harness, raw, start, status_of};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use kube_test_server::{
    ARGOCD_FINALIZER, AbandonedResources, AppPhase, AppScript, Options, REFRESH_ANNOTATION, Resource, argocd_crds,
};
use serde_json::{Value, json};

const NS: &str = "argocd";
const TF: &str = "terraform-provider-gitopsbridge";

fn api(client: &kube::Client, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", kind);
    Api::namespaced_with(client.clone(), NS, &ApiResource::from_gvk(&gvk))
}

async fn argocd() -> Harness {
    start(Options::default().with_argocd()).await
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A cluster Secret as the provider writes it.
fn cluster_secret(name: &str, labels: Value) -> Value {
    let mut all = json!({"argocd.argoproj.io/secret-type": "cluster", "cluster_name": name, "environment": "prod"});
    for (k, v) in labels.as_object().into_iter().flatten() {
        all[k] = v.clone();
    }
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "labels": all, "annotations": {
            "addons_repo_url": "https://github.com/example/addons",
            "addons_repo_revision": "main",
            "addons_repo_basepath": "bootstrap/",
        }},
        "data": {"name": b64(name), "server": b64(&format!("https://{name}.example.com")), "config": b64("{}")}
    })
}

/// A merge patch on a cluster Secret, as a user or the provider changes its metadata.
fn patch_cluster(h: &Harness, name: &str, patch: Value) {
    h.server.merge_patch(Resource::Secret, NS, name, TF, patch).unwrap();
}

fn add_cluster(h: &Harness, name: &str, labels: Value) {
    h.server.create(Resource::Secret, NS, "test", cluster_secret(name, labels)).unwrap();
}

/// The GitOps Bridge bootstrap shape, fasttemplate, targeting each selected cluster by name.
fn bootstrap_appset(name: &str, selector: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": name},
        "spec": {
            "generators": [{"clusters": {"selector": selector}}],
            "template": {
                "metadata": {"name": format!("{name}-{{{{name}}}}"), "labels": {"addon": name, "cluster": "{{nameNormalized}}"}},
                "spec": {
                    "project": "default",
                    "source": {
                        "repoURL": "{{metadata.annotations.addons_repo_url}}",
                        "targetRevision": "{{metadata.annotations.addons_repo_revision}}",
                        "path": "{{metadata.annotations.addons_repo_basepath}}",
                        "directory": {"recurse": true}
                    },
                    "destination": {"name": "{{name}}", "namespace": "kube-system"},
                    "syncPolicy": {"automated": {}}
                }
            }
        }
    })
}

async fn apply_appset(h: &Harness, body: &Value) {
    let name = body["metadata"]["name"].as_str().unwrap();
    api(&h.client, "ApplicationSet").patch(name, &PatchParams::apply(TF), &Patch::Apply(body)).await.unwrap();
}

async fn app_names(h: &Harness) -> Vec<String> {
    let list = api(&h.client, "Application").list(&ListParams::default()).await.unwrap();
    list.items.into_iter().map(|a| a.metadata.name.unwrap()).collect()
}

fn stored_app(h: &Harness, name: &str) -> Option<Value> {
    h.server.get(Resource::Application, NS, name)
}

#[tokio::test]
async fn applications_are_discovered_and_validated_when_the_crd_is_found() {
    let h = argocd().await;
    let discovery = kube::discovery::Discovery::new(h.client.clone()).run().await.unwrap();
    let (ar, caps) = discovery.get("argoproj.io").unwrap().recommended_kind("Application").unwrap();
    assert_eq!(ar.plural, "applications");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);

    let no_project = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "x"}, "spec": {"destination": {"name": "in-cluster"}}});
    let result =
        api(&h.client, "Application").create(&Default::default(), &serde_json::from_value(no_project).unwrap()).await;
    if argocd_crds().application.is_some() {
        let status = status_of(result);
        assert_eq!(status.code, 422);
        assert!(status.message.contains("spec.project: Required value"), "{}", status.message);
    } else {
        // Validation off: any object is accepted.
        result.unwrap();
    }
}

#[tokio::test]
async fn the_clusters_generator_creates_one_owned_application_per_selected_cluster() {
    let h = argocd().await;
    add_cluster(&h, "eks-blue", json!({"enable_metrics_server": "true"}));
    add_cluster(&h, "eks-green", json!({"enable_metrics_server": "false"}));
    apply_appset(&h, &bootstrap_appset("metrics-server", json!({"matchLabels": {"enable_metrics_server": "true"}})))
        .await;

    assert_eq!(app_names(&h).await, ["metrics-server-eks-blue"]);
    let app = stored_app(&h, "metrics-server-eks-blue").unwrap();
    let appset = h.server.get(Resource::ApplicationSet, NS, "metrics-server").unwrap();
    assert_eq!(
        app["metadata"]["ownerReferences"],
        json!([{"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "name": "metrics-server",
                "uid": appset["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}])
    );
    assert_eq!(app["metadata"]["labels"], json!({"addon": "metrics-server", "cluster": "eks-blue"}));
    assert_eq!(app["metadata"]["finalizers"], json!([ARGOCD_FINALIZER]));
    assert_eq!(app["spec"]["destination"], json!({"name": "eks-blue", "namespace": "kube-system"}));
    assert_eq!(app["spec"]["source"]["repoURL"], "https://github.com/example/addons");
    assert_eq!(app["spec"]["source"]["path"], "bootstrap/");
    assert_eq!(appset["status"]["conditions"][0]["type"], "ErrorOccurred");
    assert_eq!(appset["status"]["conditions"][0]["status"], "False");

    // Flipping the label on green adds its Application at once, with no sleep.
    patch_cluster(&h, "eks-green", json!({"metadata": {"labels": {"enable_metrics_server": "true"}}}));
    assert_eq!(app_names(&h).await, ["metrics-server-eks-blue", "metrics-server-eks-green"]);

    // An annotation change on the cluster reaches the spec of its Application.
    patch_cluster(&h, "eks-blue", json!({"metadata": {"annotations": {"addons_repo_revision": "v2"}}}));
    assert_eq!(stored_app(&h, "metrics-server-eks-blue").unwrap()["spec"]["source"]["targetRevision"], "v2");
}

#[tokio::test]
async fn go_templates_render_and_missingkey_error_is_a_condition() {
    let h = argocd().await;
    add_cluster(&h, "eks-blue", json!({}));
    let mut appset = json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "workloads"},
        "spec": {
            "goTemplate": true,
            "goTemplateOptions": ["missingkey=error"],
            "syncPolicy": {"preserveResourcesOnDeletion": true},
            "generators": [{"clusters": {"selector": {"matchExpressions": [
                {"key": "akuity.io/argo-cd-cluster-name", "operator": "NotIn", "values": ["in-cluster"]}]},
                "values": {"env": "{{index .metadata.labels \"environment\"}}"}}}],
            "template": {
                "metadata": {"name": "workloads-{{.name}}", "annotations": {"env": "{{.values.env}}"}},
                "spec": {"project": "default",
                         "source": {"repoURL": "{{.metadata.annotations.addons_repo_url}}", "path": "apps", "targetRevision": "HEAD"},
                         "destination": {"server": "{{.server}}", "namespace": "apps"}}
            }
        }
    });
    apply_appset(&h, &appset).await;
    let app = stored_app(&h, "workloads-eks-blue").unwrap();
    assert_eq!(app["metadata"]["annotations"]["env"], "prod");
    assert_eq!(app["spec"]["destination"]["server"], "https://eks-blue.example.com");
    assert!(app["metadata"].get("finalizers").is_none(), "preserveResourcesOnDeletion: no resources finalizer");

    appset["spec"]["template"]["spec"]["source"]["path"] = json!("{{.metadata.annotations.workload_repo_path}}");
    apply_appset(&h, &appset).await;
    let status = &h.server.get(Resource::ApplicationSet, NS, "workloads").unwrap()["status"];
    let error = &status["conditions"][0];
    assert_eq!((&error["type"], &error["status"]), (&json!("ErrorOccurred"), &json!("True")));
    assert!(error["message"].as_str().unwrap().contains("map has no entry for key \"workload_repo_path\""), "{error}");
    // A failed generation changes no Application.
    assert_eq!(stored_app(&h, "workloads-eks-blue").unwrap()["spec"], app["spec"]);
}

#[tokio::test]
async fn an_application_no_longer_generated_is_deleted_after_the_finalizer_hold() {
    let h = argocd().await;
    h.server.set_deletion_hold_reads(2);
    add_cluster(&h, "eks-blue", json!({"enable_x": "true"}));
    apply_appset(&h, &bootstrap_appset("x", json!({"matchLabels": {"enable_x": "true"}}))).await;
    assert!(stored_app(&h, "x-eks-blue").is_some());

    patch_cluster(&h, "eks-blue", json!({"metadata": {"labels": {"enable_x": "false"}}}));
    let apps = api(&h.client, "Application");
    for read in 1..=2 {
        let app = apps.get("x-eks-blue").await.unwrap();
        assert!(app.metadata.deletion_timestamp.is_some(), "read {read} sees it deleting");
        assert_eq!(app.metadata.finalizers, Some(vec![ARGOCD_FINALIZER.to_string()]));
    }
    assert_eq!(status_of(apps.get("x-eks-blue").await).code, 404);
    assert!(h.server.abandoned_resources().is_empty());
}

#[tokio::test]
async fn create_only_and_create_update_policies_keep_applications() {
    for policy in ["create-only", "create-update"] {
        let h = argocd().await;
        add_cluster(&h, "eks-blue", json!({"enable_x": "true"}));
        let mut appset = bootstrap_appset("x", json!({"matchLabels": {"enable_x": "true"}}));
        appset["spec"]["syncPolicy"] = json!({"applicationsSync": policy});
        apply_appset(&h, &appset).await;
        patch_cluster(&h, "eks-blue", json!({"metadata": {"labels": {"enable_x": "false"}}}));
        assert_eq!(app_names(&h).await, ["x-eks-blue"], "{policy}");
        assert!(stored_app(&h, "x-eks-blue").unwrap()["metadata"].get("deletionTimestamp").is_none(), "{policy}");
    }
}

#[tokio::test]
async fn a_deleting_application_whose_cluster_secret_is_gone_stays_stuck() {
    let h = argocd().await;
    h.server.set_deletion_hold_reads(1);
    add_cluster(&h, "eks-blue", json!({"enable_x": "true"}));
    apply_appset(&h, &bootstrap_appset("x", json!({"matchLabels": {"enable_x": "true"}}))).await;
    // Wrong order: the Application starts deleting, then the cluster Secret goes before it is done.
    patch_cluster(&h, "eks-blue", json!({"metadata": {"labels": {"enable_x": "false"}}}));
    h.server.delete(Resource::Secret, NS, "eks-blue").unwrap();

    let apps = api(&h.client, "Application");
    for _ in 0..5 {
        apps.get("x-eks-blue").await.unwrap();
    }
    let stuck = stored_app(&h, "x-eks-blue").expect("stuck while its cluster is unknown");
    assert_eq!(stuck["metadata"]["finalizers"], json!([ARGOCD_FINALIZER]));
    let condition = &stuck["status"]["conditions"][0];
    assert_eq!(condition["type"], "DeletionError");
    assert!(condition["message"].as_str().unwrap().contains("\"eks-blue\" is not known"), "{condition}");

    // The cluster comes back: Argo CD can finish.
    add_cluster(&h, "eks-blue", json!({}));
    apps.get("x-eks-blue").await.unwrap();
    assert!(stored_app(&h, "x-eks-blue").is_none());
}

#[tokio::test]
async fn a_cluster_secret_deleted_first_leaves_its_resources_behind() {
    let h = argocd().await;
    add_cluster(&h, "eks-blue", json!({"enable_x": "true"}));
    apply_appset(&h, &bootstrap_appset("x", json!({"matchLabels": {"enable_x": "true"}}))).await;
    h.server.delete(Resource::Secret, NS, "eks-blue").unwrap();
    // As Argo CD does for an unknown destination: finalizer dropped, Application gone, resources left.
    assert!(stored_app(&h, "x-eks-blue").is_none());
    assert_eq!(
        h.server.abandoned_resources(),
        [AbandonedResources { namespace: NS.into(), application: "x-eks-blue".into(), destination: "eks-blue".into() }]
    );
}

#[tokio::test]
async fn deleting_the_applicationset_deletes_its_applications_unless_orphaned() {
    let h = argocd().await;
    h.server.set_deletion_hold_reads(1);
    add_cluster(&h, "eks-blue", json!({}));
    add_cluster(&h, "eks-green", json!({}));
    apply_appset(&h, &bootstrap_appset("x", json!({"matchLabels": {"environment": "prod"}}))).await;
    apply_appset(&h, &bootstrap_appset("y", json!({"matchLabels": {"environment": "prod"}}))).await;
    assert_eq!(app_names(&h).await.len(), 4);

    let appsets = api(&h.client, "ApplicationSet");
    appsets.delete("x", &DeleteParams::default()).await.unwrap();
    // Deleting, with the resources finalizer held for one read each.
    assert!(stored_app(&h, "x-eks-blue").unwrap()["metadata"]["deletionTimestamp"].is_string());
    app_names(&h).await;
    assert_eq!(app_names(&h).await, ["y-eks-blue", "y-eks-green"]);

    appsets
        .delete(
            "y",
            &DeleteParams { propagation_policy: Some(kube::api::PropagationPolicy::Orphan), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(app_names(&h).await, ["y-eks-blue", "y-eks-green"]);
    assert!(stored_app(&h, "y-eks-blue").unwrap()["metadata"].get("ownerReferences").is_none());
}

#[tokio::test]
async fn scripted_status_progresses_with_reads() {
    let h = argocd().await;
    h.server.script_applications("x-eks-*", AppScript::progressing_then_healthy(2));
    add_cluster(&h, "eks-blue", json!({}));
    apply_appset(&h, &bootstrap_appset("x", json!({}))).await;
    let apps = api(&h.client, "Application");
    let health = |app: &DynamicObject| app.data["status"]["health"]["status"].as_str().unwrap().to_string();
    let first = apps.get("x-eks-blue").await.unwrap();
    assert_eq!(health(&first), "Progressing");
    assert_eq!(first.data["status"]["operationState"]["phase"], "Running");
    assert_eq!(health(&apps.get("x-eks-blue").await.unwrap()), "Progressing");
    let healthy = apps.get("x-eks-blue").await.unwrap();
    assert_eq!(health(&healthy), "Healthy");
    assert_eq!(healthy.data["status"]["sync"]["status"], "Synced");
    assert_eq!(healthy.data["status"]["operationState"]["phase"], "Succeeded");
    let reconciled = healthy.data["status"]["reconciledAt"].as_str().unwrap();
    // RFC 3339 with whole seconds, as metav1.Time writes it.
    assert!(reconciled.parse::<jiff::Timestamp>().is_ok() && reconciled.len() == 20, "{reconciled}");
    // The hub (no selector) is not scripted: the default, Healthy at once.
    assert_eq!(health(&apps.get("x-in-cluster").await.unwrap()), "Healthy");
}

#[tokio::test]
async fn degraded_and_failed_sync_scripts() {
    let h = argocd().await;
    h.server.script_applications("bad-*", AppScript::degraded("Deployment x exceeded its progress deadline"));
    h.server.script_applications("failing-*", AppScript::sync_failed("one or more objects failed to apply"));
    add_cluster(&h, "eks-blue", json!({}));
    apply_appset(&h, &bootstrap_appset("bad", json!({"matchLabels": {"environment": "prod"}}))).await;
    apply_appset(&h, &bootstrap_appset("failing", json!({"matchLabels": {"environment": "prod"}}))).await;
    let bad = stored_app(&h, "bad-eks-blue").unwrap();
    assert_eq!(
        bad["status"]["health"],
        json!({"status": "Degraded", "message": "Deployment x exceeded its progress deadline",
        "lastTransitionTime": bad["status"]["health"]["lastTransitionTime"]})
    );
    let failing = stored_app(&h, "failing-eks-blue").unwrap();
    assert_eq!(failing["status"]["sync"]["status"], "OutOfSync");
    assert_eq!(failing["status"]["operationState"]["phase"], "Failed");
    assert_eq!(failing["status"]["operationState"]["message"], "one or more objects failed to apply");
    assert!(failing["status"]["operationState"]["finishedAt"].is_string());
}

#[tokio::test]
async fn only_spec_changes_and_refreshes_reconcile_and_a_stale_status_shows_first() {
    let h = argocd().await;
    h.server.set_reconcile_after_reads(1);
    add_cluster(&h, "eks-blue", json!({}));
    apply_appset(&h, &bootstrap_appset("x", json!({"matchLabels": {"environment": "prod"}}))).await;
    let apps = api(&h.client, "Application");
    let health = |app: &DynamicObject| app.data["status"]["health"]["status"].as_str().map(str::to_string);
    assert_eq!(health(&apps.get("x-eks-blue").await.unwrap()), None, "not reconciled yet");
    assert_eq!(health(&apps.get("x-eks-blue").await.unwrap()).as_deref(), Some("Healthy"));

    // From now on a reconcile shows Degraded.
    h.server.script_applications("x-*", AppScript::degraded("broken"));
    // A cluster label the template does not use changes no spec: no reconcile.
    patch_cluster(&h, "eks-blue", json!({"metadata": {"labels": {"team": "a"}}}));
    for _ in 0..3 {
        assert_eq!(health(&apps.get("x-eks-blue").await.unwrap()).as_deref(), Some("Healthy"));
    }
    // A spec change: the first read still sees the stale Healthy status, the next the reconciled one.
    patch_cluster(&h, "eks-blue", json!({"metadata": {"annotations": {"addons_repo_revision": "v2"}}}));
    assert_eq!(health(&apps.get("x-eks-blue").await.unwrap()).as_deref(), Some("Healthy"));
    assert_eq!(health(&apps.get("x-eks-blue").await.unwrap()).as_deref(), Some("Degraded"));

    // A refresh request reconciles too, and the annotation goes.
    h.server.script_applications("x-*", AppScript::healthy());
    let refresh = json!({"metadata": {"annotations": {REFRESH_ANNOTATION: "normal"}}});
    apps.patch("x-eks-blue", &PatchParams::default(), &Patch::Merge(&refresh)).await.unwrap();
    assert_eq!(health(&apps.get("x-eks-blue").await.unwrap()).as_deref(), Some("Degraded"));
    let refreshed = apps.get("x-eks-blue").await.unwrap();
    assert_eq!(health(&refreshed).as_deref(), Some("Healthy"));
    assert!(!refreshed.metadata.annotations.unwrap_or_default().contains_key(REFRESH_ANNOTATION));
}

#[tokio::test]
async fn the_control_api_scripts_applications_and_options() {
    let h = argocd().await;
    let script = json!({"name": "green-*", "steps": [{"health": "Degraded", "message": "no"}, {"health": "Healthy"}]});
    assert_eq!(raw(&h.client, "POST", "/_test/argocd/scripts", None, &script.to_string()).await.status, 200);
    let options = raw(&h.client, "POST", "/_test/argocd/options", None, r#"{"reconcileAfterReads": 3}"#).await;
    assert_eq!(options.body["reconcileAfterReads"], 3);
    let state = raw(&h.client, "GET", "/_test/argocd", None, "").await.body;
    assert_eq!(state["options"]["scripts"][0]["name"], "green-*");
    assert_eq!(state["options"]["scripts"][0]["steps"][0]["health"], "Degraded");
    assert_eq!(h.server.argocd_options().reconcile_after_reads, 3);
    assert_eq!(h.server.argocd_options().scripts[0].steps.0[1], AppPhase::healthy());
    let bad = raw(&h.client, "POST", "/_test/argocd/options", None, r#"{"reconcileAfterRead": 3}"#).await;
    assert_eq!(bad.status, 400);
    assert_eq!(raw(&h.client, "DELETE", "/_test/argocd/scripts", None, "").await.status, 200);
    assert!(h.server.argocd_options().scripts.is_empty());
}

/// ~10 KB of status, as Argo CD writes for an Application with a few dozen resources.
fn big_application(i: usize) -> Value {
    let resources: Vec<Value> = (0..60)
        .map(|r| {
            json!({"group": "apps", "kind": "Deployment", "namespace": "kube-system",
                        "name": format!("component-{r}-of-application-{i}"), "status": "Synced",
                        "health": {"status": "Healthy"}, "version": "v1"})
        })
        .collect();
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": format!("app-{i:05}"), "namespace": NS},
        "spec": {"project": "default", "destination": {"name": format!("cluster-{}", i / 10)}},
        "status": {"resources": resources, "sync": {"status": "Synced"}, "health": {"status": "Healthy"}}
    })
}

#[tokio::test]
async fn thousands_of_seeded_applications_list_in_pages() {
    let h = argocd().await;
    let apps: Vec<Value> = (0..5000).map(big_application).collect();
    assert!(serde_json::to_vec(&apps[0]).unwrap().len() > 8_000);
    assert_eq!(h.server.seed(Resource::Application, apps).unwrap(), 5000);
    h.server.reset_requests();

    let api = api(&h.client, "Application");
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(500);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = api.list(&params).await.unwrap();
        assert!(page.items.len() <= 500);
        names.extend(page.items.into_iter().map(|a| a.metadata.name.unwrap()));
        token = page.metadata.continue_.filter(|c| !c.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names.len(), 5000);
    assert_eq!(names.first().map(String::as_str), Some("app-00000"));
    assert_eq!(names.last().map(String::as_str), Some("app-04999"));
    assert_eq!(h.server.request_count("list", "applications"), 10);
}

#[tokio::test]
async fn a_hub_without_the_application_crd_serves_applicationsets_only() {
    let mut options = Options::default().with_argocd();
    options.argocd.serve_applications = false;
    let h = start(options).await;
    let discovery = kube::discovery::Discovery::new(h.client.clone()).run().await.unwrap();
    let group = discovery.get("argoproj.io").expect("ApplicationSets are still served");
    assert!(group.recommended_kind("ApplicationSet").is_some());
    assert!(group.recommended_kind("Application").is_none());
    let listed = api(&h.client, "Application").list(&ListParams::default()).await;
    assert_eq!(status_of(listed).code, 404);

    add_cluster(&h, "eks-blue", json!({}));
    apply_appset(&h, &bootstrap_appset("x", json!({"matchLabels": {"environment": "prod"}}))).await;
    let condition = &h.server.get(Resource::ApplicationSet, NS, "x").unwrap()["status"]["conditions"][0];
    assert_eq!(condition["status"], "True", "{condition}");
}
