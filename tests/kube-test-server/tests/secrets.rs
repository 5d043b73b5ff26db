//! Secrets, discovery, auth, selectors and server-side apply, driven through
//! kube-rs as the provider drives them.

mod common;

use std::collections::BTreeMap;

use common::{raw, start_plain, status_of};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube_test_server::Resource;
use serde_json::json;

const TF: &str = "terraform-provider-gitopsbridge";

fn secret(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        },
        data: Some(data.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect()),
        ..Default::default()
    }
}

/// An apply configuration as the provider sends it (JSON body); empty data
/// is left out, as serializing an empty map would claim the map itself.
fn apply_config(name: &str, labels: serde_json::Value, data: serde_json::Value) -> serde_json::Value {
    let mut config = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "labels": labels}});
    if data.as_object().is_some_and(|d| !d.is_empty()) {
        config["data"] = data;
    }
    config
}

#[tokio::test]
async fn discovery_lists_core_resources_and_hides_argo_without_crd() {
    let h = start_plain().await;
    let version = h.client.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
    let core = h.client.list_core_api_resources("v1").await.unwrap();
    let names: Vec<&str> = core.resources.iter().map(|r| r.name.as_str()).collect();
    assert!(names.contains(&"secrets") && names.contains(&"namespaces"), "{names:?}");
    let groups = h.client.list_api_groups().await.unwrap();
    assert!(groups.groups.iter().all(|g| g.name != "argoproj.io"));
    let openapi = raw(&h.client, "GET", "/openapi/v2", None, "").await;
    assert_eq!(openapi.status, 404);
    assert_eq!(openapi.body["kind"], "Status");
}

#[tokio::test]
async fn requests_without_the_token_get_a_401_status() {
    let h = start_plain().await;
    let mut config = kube::Config::new(h.server.url().parse().unwrap());
    config.root_cert = Some(vec![pem_to_der(h.server.ca_pem())]);
    config.auth_info.token = Some("wrong".to_string().into());
    let client = kube::Client::try_from(config).unwrap();
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let status = status_of(secrets.list(&ListParams::default()).await);
    assert_eq!((status.code, status.reason.as_str(), status.message.as_str()), (401, "Unauthorized", "Unauthorized"));
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

#[tokio::test]
async fn create_get_replace_delete_with_real_status_bodies() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");

    let created = secrets.create(&PostParams::default(), &secret("a", &[("x", "1")], &[("k", "v")])).await.unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    let rv1: u64 = meta.resource_version.as_ref().unwrap().parse().unwrap();

    let again = status_of(secrets.create(&PostParams::default(), &secret("a", &[], &[])).await);
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(again.message, "secrets \"a\" already exists");

    let missing = raw(&h.client, "GET", "/api/v1/namespaces/argocd/secrets/nope", None, "").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
               "message":"secrets \"nope\" not found","reason":"NotFound",
               "details":{"name":"nope","kind":"secrets"},"code":404})
    );

    // PUT with the current resourceVersion succeeds and bumps it.
    let mut changed = created.clone();
    changed.data.as_mut().unwrap().insert("k2".into(), ByteString(b"w".to_vec()));
    let replaced = secrets.replace("a", &PostParams::default(), &changed).await.unwrap();
    let rv2: u64 = replaced.metadata.resource_version.as_ref().unwrap().parse().unwrap();
    assert!(rv2 > rv1);
    assert_eq!(replaced.metadata.uid, created.metadata.uid);

    // PUT with the stale one is a Conflict.
    let stale = status_of(secrets.replace("a", &PostParams::default(), &changed).await);
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        stale.message,
        "Operation cannot be fulfilled on secrets \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );

    secrets.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(h.server.get(Resource::Secret, "argocd", "a").is_none());
    let gone = status_of(secrets.delete("a", &DeleteParams::default()).await);
    assert_eq!(gone.code, 404);

    // Writing into a namespace that does not exist.
    let nowhere: Api<Secret> = Api::namespaced(h.client.clone(), "nowhere");
    let status = status_of(nowhere.create(&PostParams::default(), &secret("a", &[], &[])).await);
    assert_eq!((status.code, status.message.as_str()), (404, "namespaces \"nowhere\" not found"));
}

#[tokio::test]
async fn namespaces_are_precreated_and_creatable() {
    let h = start_plain().await;
    let namespaces: Api<Namespace> = Api::all(h.client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(names, vec!["argocd", "default", "kube-system"]);
    let ns =
        Namespace { metadata: ObjectMeta { name: Some("team-a".into()), ..Default::default() }, ..Default::default() };
    namespaces.create(&PostParams::default(), &ns).await.unwrap();
    let got = namespaces.get("team-a").await.unwrap();
    assert_eq!(got.status.unwrap().phase.as_deref(), Some("Active"));
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    for (name, env, kind) in [("blue", "prod", "cluster"), ("green", "prod", "cluster"), ("dev", "dev", "repo")] {
        let s = secret(name, &[("environment", env), ("argocd.argoproj.io/secret-type", kind)], &[]);
        secrets.create(&PostParams::default(), &s).await.unwrap();
    }
    let names = |list: kube::core::ObjectList<Secret>| -> Vec<String> {
        list.items.into_iter().filter_map(|s| s.metadata.name).collect()
    };
    let by = |sel: &str| ListParams::default().labels(sel);
    assert_eq!(names(secrets.list(&by("argocd.argoproj.io/secret-type=cluster")).await.unwrap()), ["blue", "green"]);
    assert_eq!(names(secrets.list(&by("environment notin (prod)")).await.unwrap()), ["dev"]);
    assert_eq!(
        names(secrets.list(&by("environment in (prod,dev),argocd.argoproj.io/secret-type!=cluster")).await.unwrap()),
        ["dev"]
    );
    assert_eq!(names(secrets.list(&by("!environment")).await.unwrap()), Vec::<String>::new());
    let field = ListParams::default().fields("metadata.name=green");
    assert_eq!(names(secrets.list(&field).await.unwrap()), ["green"]);

    let list = secrets.list(&ListParams::default()).await.unwrap();
    assert!(list.metadata.resource_version.is_some());
    let raw_list = raw(&h.client, "GET", "/api/v1/namespaces/argocd/secrets", None, "").await;
    assert_eq!(raw_list.body["kind"], "SecretList");

    let bad = status_of(secrets.list(&by("environment in prod")).await);
    assert_eq!((bad.code, bad.reason.as_str()), (400, "BadRequest"));

    // Pagination with limit/continue.
    let first = secrets.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().unwrap();
    let rest = secrets.list(&ListParams::default().limit(2).continue_token(&token)).await.unwrap();
    assert_eq!(names(rest), ["green"]);
}

#[tokio::test]
async fn invalid_labels_and_base64_are_rejected_like_the_real_server() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    let status = status_of(secrets.create(&PostParams::default(), &secret("a", &[("bad key", "v")], &[])).await);
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    let cause = &status.details.as_ref().unwrap().causes[0];
    assert_eq!((cause.reason.as_str(), cause.field.as_str()), ("FieldValueInvalid", "metadata.labels"));
    assert!(cause.message.starts_with("Invalid value: \"bad key\": name part must consist of"), "{}", cause.message);

    let long = "v".repeat(64);
    let status = status_of(secrets.create(&PostParams::default(), &secret("a", &[("k", &long)], &[])).await);
    assert!(status.message.contains("must be no more than 63 characters"), "{}", status.message);

    // Data that is not base64: typed decoding fails first, a 400 as on a cluster.
    let body = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"b"},"data":{"k":"not base64!"}}"#;
    let resp = raw(&h.client, "POST", "/api/v1/namespaces/argocd/secrets", Some("application/json"), body).await;
    assert_eq!(resp.status, 400);
    assert!(resp.body["message"].as_str().unwrap().contains("illegal base64 data at input byte 3"), "{}", resp.body);

    // Keys of data must be valid config keys: 422 at data[key].
    let body = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"b"},"data":{"bad/key":"dg=="}}"#;
    let resp = raw(&h.client, "POST", "/api/v1/namespaces/argocd/secrets", Some("application/json"), body).await;
    assert_eq!(resp.status, 422);
    assert_eq!(resp.body["details"]["causes"][0]["field"], "data[bad/key]");
}

#[tokio::test]
async fn string_data_is_merged_into_data_and_not_stored() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    let mut s = secret("a", &[], &[("k", "v")]);
    s.string_data = Some(BTreeMap::from([("config".to_string(), "{\"bearerToken\":\"t\"}".to_string())]));
    let created = secrets.create(&PostParams::default(), &s).await.unwrap();
    assert!(created.string_data.is_none());
    assert_eq!(created.data.unwrap()["config"].0, b"{\"bearerToken\":\"t\"}");
    let stored = h.server.get(Resource::Secret, "argocd", "a").unwrap();
    assert!(stored.get("stringData").is_none());
}

#[tokio::test]
async fn server_side_apply_creates_updates_and_removes_owned_fields() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    let pp = PatchParams::apply(TF);

    let config = apply_config("c", json!({"a": "1", "b": "2"}), json!({"k": "dg=="}));
    let created = secrets.patch("c", &pp, &Patch::Apply(&config)).await.unwrap();
    let managed = created.metadata.managed_fields.clone().unwrap();
    assert_eq!(managed.len(), 1);
    assert_eq!(managed[0].manager.as_deref(), Some(TF));
    assert_eq!(managed[0].operation.as_deref(), Some("Apply"));
    assert_eq!(managed[0].fields_type.as_deref(), Some("FieldsV1"));
    assert_eq!(managed[0].api_version.as_deref(), Some("v1"));
    assert!(managed[0].time.is_some());
    assert_eq!(
        serde_json::to_value(managed[0].fields_v1.as_ref().unwrap()).unwrap(),
        json!({"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:a": {}, "f:b": {}}}})
    );

    // The same apply again is a no-op: resourceVersion stays.
    let same = secrets.patch("c", &pp, &Patch::Apply(&config)).await.unwrap();
    assert_eq!(same.metadata.resource_version, created.metadata.resource_version);

    // Dropping label b removes it from the object.
    let fewer = apply_config("c", json!({"a": "1"}), json!({"k": "dg=="}));
    let updated = secrets.patch("c", &pp, &Patch::Apply(&fewer)).await.unwrap();
    assert_eq!(updated.metadata.labels.unwrap(), BTreeMap::from([("a".to_string(), "1".to_string())]));
}

#[tokio::test]
async fn apply_conflicts_with_another_manager_and_force_takes_over() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    let config = apply_config("c", json!({"foo": "ours"}), json!({}));
    secrets.patch("c", &PatchParams::apply(TF), &Patch::Apply(&config)).await.unwrap();

    // A human edits the label with an Update (merge patch).
    h.server
        .merge_patch(
            Resource::Secret,
            "argocd",
            "c",
            "kubectl-edit",
            json!({"metadata": {"labels": {"foo": "theirs"}}}),
        )
        .unwrap();
    let stored = h.server.get(Resource::Secret, "argocd", "c").unwrap();
    let managers: Vec<(&str, &str)> = stored["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["manager"].as_str().unwrap(), e["operation"].as_str().unwrap()))
        .collect();
    assert_eq!(managers, [("kubectl-edit", "Update")], "the edit took foo away from the applier");

    let status = status_of(secrets.patch("c", &PatchParams::apply(TF), &Patch::Apply(&config)).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .metadata.labels.foo"
    );
    let cause = &status.details.as_ref().unwrap().causes[0];
    assert_eq!(
        (cause.reason.as_str(), cause.message.as_str(), cause.field.as_str()),
        ("FieldManagerConflict", "conflict with \"kubectl-edit\" using v1", ".metadata.labels.foo")
    );

    let forced = secrets.patch("c", &PatchParams::apply(TF).force(), &Patch::Apply(&config)).await.unwrap();
    assert_eq!(forced.metadata.labels.unwrap()["foo"], "ours");
    let entries = forced.metadata.managed_fields.unwrap();
    assert_eq!(entries.len(), 1, "kubectl-edit owned nothing else");
    assert_eq!(entries[0].manager.as_deref(), Some(TF));
}

#[tokio::test]
async fn equal_values_are_shared_and_survive_one_owner_leaving() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    let ours = apply_config("c", json!({"shared": "v", "mine": "m"}), json!({}));
    secrets.patch("c", &PatchParams::apply(TF), &Patch::Apply(&ours)).await.unwrap();
    // Argo CD applies the same value: no conflict, shared ownership.
    let argo = apply_config("c", json!({"shared": "v"}), json!({}));
    h.server.apply(Resource::Secret, "argocd", "argocd-controller", argo, false).unwrap();
    // We stop managing both labels: "mine" goes, "shared" stays (Argo CD owns it).
    let none = apply_config("c", json!({}), json!({}));
    let after = secrets.patch("c", &PatchParams::apply(TF), &Patch::Apply(&none)).await.unwrap();
    assert_eq!(after.metadata.labels.unwrap(), BTreeMap::from([("shared".to_string(), "v".to_string())]));
}

#[tokio::test]
async fn keys_added_by_others_are_kept_and_owned_by_them() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    let ours = apply_config("c", json!({"a": "1"}), json!({"k": "dg=="}));
    secrets.patch("c", &PatchParams::apply(TF), &Patch::Apply(&ours)).await.unwrap();
    h.server
        .merge_patch(Resource::Secret, "argocd", "c", "argocd-server", json!({"metadata": {"annotations": {"x": "y"}}}))
        .unwrap();
    let again = secrets.patch("c", &PatchParams::apply(TF), &Patch::Apply(&ours)).await.unwrap();
    assert_eq!(again.metadata.annotations.unwrap()["x"], "y");
    let stored = h.server.get(Resource::Secret, "argocd", "c").unwrap();
    let entry = stored["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "argocd-server")
        .unwrap()
        .clone();
    assert_eq!(entry["operation"], "Update");
    assert_eq!(entry["fieldsV1"], json!({"f:metadata": {"f:annotations": {".": {}, "f:x": {}}}}));
}

#[tokio::test]
async fn apply_needs_a_field_manager_and_rejects_managed_fields() {
    let h = start_plain().await;
    let body = apply_config("c", json!({}), json!({})).to_string();
    let path = "/api/v1/namespaces/argocd/secrets/c";
    let no_manager = raw(&h.client, "PATCH", path, Some("application/apply-patch+yaml"), &body).await;
    assert_eq!(no_manager.status, 400);
    let mut with_managed = apply_config("c", json!({}), json!({}));
    with_managed["metadata"]["managedFields"] = json!([{"manager": "x"}]);
    let resp = raw(
        &h.client,
        "PATCH",
        &format!("{path}?fieldManager=tf"),
        Some("application/apply-patch+yaml"),
        &with_managed.to_string(),
    )
    .await;
    assert_eq!((resp.status, resp.body["message"].as_str()), (400, Some("metadata.managedFields must be nil")));
    // YAML bodies work too.
    let yaml = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: c\n  labels:\n    a: \"1\"\n";
    let resp =
        raw(&h.client, "PATCH", &format!("{path}?fieldManager=tf"), Some("application/apply-patch+yaml"), yaml).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(resp.body["metadata"]["labels"]["a"], "1");
}

#[tokio::test]
async fn merge_json_and_strategic_patches_update_secrets() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    secrets.create(&PostParams::default(), &secret("p", &[("a", "1")], &[])).await.unwrap();
    let pp = PatchParams { field_manager: Some("editor".into()), ..Default::default() };
    let merged =
        secrets.patch("p", &pp, &Patch::Merge(json!({"metadata": {"labels": {"a": null, "b": "2"}}}))).await.unwrap();
    assert_eq!(merged.metadata.labels.unwrap(), BTreeMap::from([("b".to_string(), "2".to_string())]));
    let strategic =
        secrets.patch("p", &pp, &Patch::Strategic(json!({"metadata": {"labels": {"c": "3"}}}))).await.unwrap();
    assert_eq!(strategic.metadata.labels.unwrap().len(), 2);
    let resp = raw(
        &h.client,
        "PATCH",
        "/api/v1/namespaces/argocd/secrets/p",
        Some("application/json-patch+json"),
        r#"[{"op":"replace","path":"/metadata/labels/b","value":"22"}]"#,
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body["metadata"]["labels"]["b"], "22");
    // A patch carrying a stale resourceVersion is a conflict.
    let stale = status_of(
        secrets
            .patch("p", &pp, &Patch::Merge(json!({"metadata": {"resourceVersion": "1", "labels": {"d": "4"}}})))
            .await,
    );
    assert_eq!(stale.code, 409);
    let missing = status_of(secrets.patch("nope", &pp, &Patch::Merge(json!({}))).await);
    assert_eq!(missing.code, 404);
}

#[tokio::test]
async fn strict_field_validation_rejects_and_warn_prunes_unknown_fields() {
    let h = start_plain().await;
    let mut body = apply_config("u", json!({}), json!({}));
    body["bogus"] = json!(1);
    let path = "/api/v1/namespaces/argocd/secrets/u?fieldManager=tf";
    let strict = raw(
        &h.client,
        "PATCH",
        &format!("{path}&fieldValidation=Strict"),
        Some("application/apply-patch+yaml"),
        &body.to_string(),
    )
    .await;
    assert_eq!(strict.status, 400);
    assert_eq!(strict.body["message"], ".bogus: field not declared in schema");
    let warned = raw(&h.client, "PATCH", path, Some("application/apply-patch+yaml"), &body.to_string()).await;
    assert_eq!(warned.status, 201);
    assert_eq!(warned.headers["warning"], "299 - \"unknown field \\\"bogus\\\"\"");
    assert!(warned.body.get("bogus").is_none());
}

#[tokio::test]
async fn delete_preconditions_must_match() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    secrets.create(&PostParams::default(), &secret("d", &[], &[])).await.unwrap();
    let dp = DeleteParams {
        preconditions: Some(kube::api::Preconditions { uid: Some("other".into()), resource_version: None }),
        ..Default::default()
    };
    let status = status_of(secrets.delete("d", &dp).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(status.message.contains("Precondition failed: UID in precondition: other"), "{}", status.message);
    let deleted = secrets.delete("d", &DeleteParams::default()).await.unwrap();
    let done = deleted.right().expect("a Status for an immediate delete");
    assert_eq!(done.status, Some(kube::core::response::StatusSummary::Success));
}

#[tokio::test]
async fn update_operations_record_ownership_for_their_manager() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    let pp = PostParams { field_manager: Some("creator".into()), ..Default::default() };
    let created = secrets.create(&pp, &secret("o", &[("a", "1")], &[("k", "dg==")])).await.unwrap();
    let entry = &created.metadata.managed_fields.unwrap()[0];
    assert_eq!((entry.manager.as_deref(), entry.operation.as_deref()), (Some("creator"), Some("Update")));
    assert_eq!(
        serde_json::to_value(entry.fields_v1.as_ref().unwrap()).unwrap(),
        json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:type": {}})
    );
}

#[tokio::test]
async fn malformed_requests_are_400s_and_the_server_keeps_serving() {
    let h = start_plain().await;
    let collection = "/api/v1/namespaces/argocd/secrets";
    let apply = "/api/v1/namespaces/argocd/secrets/m?fieldManager=tf";
    let cases = [
        ("POST", collection, "application/json", "{bad"),
        ("POST", collection, "application/json", "[1,2]"),
        ("PATCH", apply, "application/apply-patch+yaml", r#"{"apiVersion":"v1","kind":"Secret","metadata":"zz"}"#),
        ("PATCH", apply, "application/apply-patch+yaml", r#"{"apiVersion":"v1","kind":"ConfigMap"}"#),
        ("PATCH", apply, "application/apply-patch+yaml", "a: [unclosed"),
        ("PATCH", apply, "application/merge-patch+json", "{}"),
        ("PATCH", "/api/v1/namespaces/argocd/secrets/m?force=true", "application/merge-patch+json", "{}"),
        ("GET", "/api/v1/namespaces/argocd/secrets?limit=-1", "application/json", ""),
        ("GET", "/api/v1/namespaces/argocd/secrets?fieldSelector=spec.x%3D1", "application/json", ""),
    ];
    for (method, path, content_type, body) in cases {
        let resp = raw(&h.client, method, path, Some(content_type), body).await;
        let expected =
            if path.ends_with("fieldManager=tf") && content_type.starts_with("application/merge") { 404 } else { 400 };
        assert_eq!(resp.status, expected, "{method} {path} {body}: {}", resp.body);
        assert_eq!(resp.body["kind"], "Status");
    }
    let unsupported = raw(&h.client, "PATCH", apply, Some("text/plain"), "{}").await;
    assert_eq!((unsupported.status, &unsupported.body["reason"]), (415, &json!("UnsupportedMediaType")));
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    assert!(secrets.list(&ListParams::default()).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn dry_run_writes_answer_without_storing() {
    let h = start_plain().await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), "argocd");
    let dry = PostParams { dry_run: true, ..Default::default() };
    let answered = secrets.create(&dry, &secret("dry", &[("a", "1")], &[])).await.unwrap();
    assert_eq!(answered.metadata.name.as_deref(), Some("dry"));
    assert!(h.server.get(Resource::Secret, "argocd", "dry").is_none());

    secrets.create(&PostParams::default(), &secret("kept", &[], &[])).await.unwrap();
    secrets.delete("kept", &DeleteParams { dry_run: true, ..Default::default() }).await.unwrap();
    assert!(h.server.get(Resource::Secret, "argocd", "kept").is_some());
}
