//! ApplicationSets: CRD schema validation and pruning, generation, the
//! "Argo CD not installed" case and deletion with finalizers.

mod common;

use common::{appset_crd_found, raw, start, start_plain, start_with_crd, status_of};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::discovery::Discovery;
use kube_test_server::{ARGOCD_FINALIZER, Options, Resource};
use serde_json::{Value, json};

const TF: &str = "terraform-provider-gitopsbridge";
const PATH: &str = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applicationsets";

fn appset_api(client: &kube::Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "ApplicationSet");
    Api::namespaced_with(client.clone(), "argocd", &ApiResource::from_gvk(&gvk))
}

fn appset(name: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": name},
        "spec": {
            "goTemplate": true,
            "syncPolicy": {"preserveResourcesOnDeletion": true},
            "generators": [{"clusters": {"selector": {"matchExpressions": [
                {"key": "akuity.io/argo-cd-cluster-name", "operator": "NotIn", "values": ["in-cluster"]}
            ]}}}],
            "template": {
                "metadata": {"name": "addons-{{.name}}"},
                "spec": {
                    "project": "default",
                    "source": {
                        "repoURL": "{{.metadata.annotations.addons_repo_url}}",
                        "targetRevision": "{{.metadata.annotations.addons_repo_revision}}",
                        "path": "{{.metadata.annotations.addons_repo_basepath}}",
                        "directory": {"recurse": true, "exclude": "exclude/*"}
                    },
                    "destination": {"server": "{{.server}}", "namespace": "default"}
                }
            }
        }
    })
}

async fn apply(client: &kube::Client, name: &str, body: &Value) -> Result<DynamicObject, kube::Error> {
    appset_api(client).patch(name, &PatchParams::apply(TF), &Patch::Apply(body)).await
}

#[tokio::test]
async fn discovery_shows_argoproj_when_the_crd_is_loaded() {
    let h = start_with_crd().await;
    let discovery = Discovery::new(h.client.clone()).run().await.unwrap();
    let group = discovery.get("argoproj.io").expect("argoproj.io is discovered");
    let (ar, caps) = group.recommended_kind("ApplicationSet").unwrap();
    assert_eq!(ar.plural, "applicationsets");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    let aggregated = Discovery::new(h.client.clone()).run_aggregated().await.unwrap();
    assert!(aggregated.get("argoproj.io").is_some());
}

#[tokio::test]
async fn without_the_crd_applicationsets_are_404() {
    let h = start_plain().await;
    let status = status_of(apply(&h.client, "a", &appset("a")).await);
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(raw(&h.client, "GET", "/apis/argoproj.io/v1alpha1", None, "").await.status, 404);
}

#[tokio::test]
async fn a_valid_applicationset_is_created_with_generation_one() {
    let h = start_with_crd().await;
    let created = apply(&h.client, "addons", &appset("addons")).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(
        created.data["spec"]["generators"][0]["clusters"]["selector"]["matchExpressions"][0]["operator"],
        "NotIn"
    );

    // A metadata-only change keeps generation; a spec change bumps it.
    let mut labelled = appset("addons");
    labelled["metadata"]["labels"] = json!({"team": "platform"});
    let relabelled = apply(&h.client, "addons", &labelled).await.unwrap();
    assert_eq!(relabelled.metadata.generation, Some(1));
    labelled["spec"]["goTemplate"] = json!(false);
    let respecced = apply(&h.client, "addons", &labelled).await.unwrap();
    assert_eq!(respecced.metadata.generation, Some(2));

    // Status is the controller's: ignored on writes to the main resource.
    let controllers = h.server.get(Resource::ApplicationSet, "argocd", "addons").unwrap()["status"].clone();
    assert!(controllers["conditions"].as_array().is_some_and(|c| !c.is_empty()), "{controllers}");
    let mut with_status = labelled.clone();
    with_status["status"] = json!({"conditions": []});
    let ignored = apply(&h.client, "addons", &with_status).await.unwrap();
    assert_eq!(ignored.data["status"], controllers);
}

#[tokio::test]
async fn schema_violations_are_422_with_a_cause_per_field() {
    if !appset_crd_found("schema_violations_are_422_with_a_cause_per_field") {
        return;
    }
    let h = start_with_crd().await;
    let mut bad = appset("bad");
    bad["spec"]["generators"][0]["clusters"]["selector"]["matchExpressions"][0]["values"] = json!("string");
    bad["spec"]["goTemplate"] = json!("yes");
    bad["spec"]["template"]["spec"].as_object_mut().unwrap().remove("destination");
    let status = status_of(apply(&h.client, "bad", &bad).await);
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    let details = status.details.as_ref().unwrap();
    assert_eq!((details.kind.as_str(), details.group.as_str()), ("ApplicationSet", "argoproj.io"));
    let causes: Vec<(String, String)> = details.causes.iter().map(|c| (c.field.clone(), c.message.clone())).collect();
    let values = "spec.generators[0].clusters.selector.matchExpressions[0].values";
    assert!(
        causes.contains(&(
            values.to_string(),
            format!("Invalid value: \"string\": {values} in body must be of type array: \"string\"")
        )),
        "{causes:?}"
    );
    assert!(causes.contains(&(
        "spec.goTemplate".to_string(),
        "Invalid value: \"string\": spec.goTemplate in body must be of type boolean: \"string\"".to_string()
    )));
    assert!(causes.contains(&("spec.template.spec.destination".to_string(), "Required value".to_string())));
    assert!(status.message.starts_with("ApplicationSet.argoproj.io \"bad\" is invalid: ["), "{}", status.message);
}

/// Server-side apply of `body` with extra query parameters, raw.
async fn apply_raw(client: &kube::Client, name: &str, query: &str, body: &Value) -> common::RawResponse {
    let uri = format!("{PATH}/{name}?fieldManager={TF}{query}");
    raw(client, "PATCH", &uri, Some("application/apply-patch+yaml"), &body.to_string()).await
}

#[tokio::test]
async fn unknown_fields_are_rejected_when_strict_and_pruned_with_a_warning() {
    if !appset_crd_found("unknown_fields_are_rejected_when_strict_and_pruned_with_a_warning") {
        return;
    }
    let h = start_with_crd().await;
    let mut body = appset("u");
    body["spec"]["foo"] = json!(1);
    // Free-form parts of the schema keep whatever they get.
    body["spec"]["template"]["spec"]["source"]["helm"] = json!({"valuesObject": {"any": {"thing": 1}}});

    let strict = apply_raw(&h.client, "u", "&fieldValidation=Strict", &body).await;
    assert_eq!(strict.status, 400);
    assert_eq!(strict.body["message"], ".spec.foo: field not declared in schema");

    let uri = format!("{PATH}?fieldValidation=Strict");
    let strict_post = raw(&h.client, "POST", &uri, Some("application/json"), &body.to_string()).await;
    assert_eq!(strict_post.status, 400);
    assert_eq!(strict_post.body["message"], "strict decoding error: unknown field \"spec.foo\"");

    let warned = apply_raw(&h.client, "u", "", &body).await;
    assert_eq!(warned.status, 201);
    assert_eq!(warned.headers["warning"], "299 - \"unknown field \\\"spec.foo\\\"\"");
    assert!(warned.body["spec"].get("foo").is_none());
    let stored = h.server.get(Resource::ApplicationSet, "argocd", "u").unwrap();
    assert!(stored["spec"].get("foo").is_none());
    assert_eq!(stored["spec"]["template"]["spec"]["source"]["helm"]["valuesObject"]["any"]["thing"], 1);

    let ignored = apply_raw(&h.client, "u", "&fieldValidation=Ignore", &body).await;
    assert_eq!(ignored.status, 200);
    assert!(ignored.headers.get("warning").is_none());
}

#[tokio::test]
async fn strategic_merge_patch_is_unsupported_for_custom_resources() {
    let h = start_with_crd().await;
    apply(&h.client, "s", &appset("s")).await.unwrap();
    let resp =
        raw(&h.client, "PATCH", &format!("{PATH}/s"), Some("application/strategic-merge-patch+json"), "{}").await;
    assert_eq!(resp.status, 415);
}

#[tokio::test]
async fn deletion_waits_for_finalizers_until_the_controller_releases_them() {
    let h = start(Options::default().with_argocd().with_argocd_finalizer()).await;
    apply(&h.client, "f", &appset("f")).await.unwrap();
    let api = appset_api(&h.client);
    let live = api.get("f").await.unwrap();
    assert_eq!(live.metadata.finalizers, Some(vec![ARGOCD_FINALIZER.to_string()]));

    let pending = api.delete("f", &DeleteParams::default()).await.unwrap();
    let held = pending.left().expect("the object comes back while finalizers hold it");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(held.metadata.generation, Some(2));
    let still = api.get("f").await.unwrap();
    assert!(still.metadata.deletion_timestamp.is_some());

    // New finalizers cannot be added while deleting.
    let mut more = serde_json::to_value(&still).unwrap();
    more["metadata"]["finalizers"] = json!([ARGOCD_FINALIZER, "example.com/another"]);
    let forbidden = status_of(api.replace("f", &PostParams::default(), &serde_json::from_value(more).unwrap()).await);
    assert_eq!(forbidden.code, 422);
    assert!(forbidden.message.contains("no new finalizers can be added"), "{}", forbidden.message);

    h.server.remove_finalizers(Resource::ApplicationSet, "argocd", "f").unwrap();
    assert_eq!(status_of(api.get("f").await).code, 404);
}

#[tokio::test]
async fn finalizers_release_after_a_number_of_reads() {
    let h = start(Options::default().with_argocd().with_argocd_finalizer()).await;
    apply(&h.client, "r", &appset("r")).await.unwrap();
    h.server.release_finalizers_after_gets(Resource::ApplicationSet, "argocd", "r", 3);
    let api = appset_api(&h.client);
    api.delete("r", &DeleteParams::default()).await.unwrap();
    for _ in 0..3 {
        assert!(api.get("r").await.unwrap().metadata.deletion_timestamp.is_some());
    }
    assert_eq!(status_of(api.get("r").await).code, 404);
    assert_eq!(h.server.request_count("get", "applicationsets"), 4);
}

#[tokio::test]
async fn removing_the_last_finalizer_by_a_write_completes_deletion() {
    let h = start_with_crd().await;
    h.server.set_applicationset_finalizers(vec!["example.com/cleanup".into()]);
    apply(&h.client, "w", &appset("w")).await.unwrap();
    assert!(h.server.delete(Resource::ApplicationSet, "argocd", "w").unwrap().is_some());
    let resp = raw(
        &h.client,
        "PATCH",
        &format!("{PATH}/w"),
        Some("application/merge-patch+json"),
        r#"{"metadata":{"finalizers":null}}"#,
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(h.server.get(Resource::ApplicationSet, "argocd", "w").is_none());
}
