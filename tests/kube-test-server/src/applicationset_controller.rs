//! The ApplicationSet controller stand-in, from Argo CD's documented behaviour:
//!
//! - the `clusters` generator selects cluster Secrets (label `argocd.argoproj.io/secret-type:
//!   cluster`, in the ApplicationSet's namespace) with `matchLabels` and `matchExpressions`; with
//!   no selector at all the hub itself (`in-cluster`) is also produced when no Secret stands for it.
//!   Parameters: `name`, `nameNormalized`, `server`, `project`, `metadata.labels.<k>`,
//!   `metadata.annotations.<k>`, `values.<k>` (values are templates themselves); the `list`
//!   generator's elements are parameters as they are. Other generators are an error condition.
//! - `spec.template` (merged with a generator's own `template`) is rendered per parameter set;
//!   the Application lands in the ApplicationSet's namespace with the template's labels,
//!   annotations and finalizers, the resources finalizer when the template has none and
//!   `preserveResourcesOnDeletion` is not set, and a controller ownerReference to the set.
//! - Applications it no longer generates are deleted (not with `applicationsSync: create-only` or
//!   `create-update`); the resources finalizer is dropped first when the destination cluster is
//!   gone (as Argo CD does to avoid a stuck Application), which is recorded as abandoned resources.
//! - When an ApplicationSet is gone its Applications are deleted, as Kubernetes' garbage collector
//!   does for owned objects (`propagationPolicy: Orphan` keeps them and drops the ownerReference).
//!
//! It runs synchronously after every write to a cluster Secret or an ApplicationSet, so a client
//! sees the Applications in the answer to its next request.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::ARGOCD_FINALIZER;
use crate::api::{Api, CONTROLLER, WriteOptions};
use crate::application_controller::{AbandonedResources, REFRESH_ANNOTATION, destination_of};
use crate::patch;
use crate::resources::Resource;
use crate::rules::{is_deleting, meta, meta_str};
use crate::store::{self, ObjectKey, Store};
use crate::templates::{Syntax, render, render_text};

pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
pub const IN_CLUSTER_NAME: &str = "in-cluster";
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";

/// One cluster as the clusters generator sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub server: String,
    pub project: String,
    pub labels: Map<String, Value>,
    pub annotations: Map<String, Value>,
}

pub fn is_cluster_secret(secret: &Value) -> bool {
    secret.pointer("/metadata/labels").and_then(|l| l.get(SECRET_TYPE_LABEL)).and_then(Value::as_str) == Some("cluster")
}

/// Cluster Secrets of a namespace (or all), ordered by namespace and Secret name.
pub fn cluster_secrets(store: &Store, namespace: Option<&str>) -> Vec<Cluster> {
    let data = |secret: &Value, key: &str| {
        secret
            .pointer(&format!("/data/{key}"))
            .and_then(Value::as_str)
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    };
    let map = |secret: &Value, key: &str| {
        meta(secret).and_then(|m| m.get(key)).and_then(Value::as_object).cloned().unwrap_or_default()
    };
    store
        .list(Resource::Secret, namespace)
        .filter(|(_, s)| is_cluster_secret(s) && !is_deleting(s))
        .map(|(_, s)| Cluster {
            name: data(s, "name"),
            server: data(s, "server"),
            project: data(s, "project"),
            labels: map(s, "labels"),
            annotations: map(s, "annotations"),
        })
        .collect()
}

/// Kubernetes' rules for a name Argo CD derives from a cluster name: lower case, `[a-z0-9.-]`,
/// alphanumeric at both ends, at most 253 characters.
pub fn normalize_name(name: &str) -> String {
    let lowered: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' })
        .collect();
    let trimmed = lowered.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    trimmed.chars().take(253).collect::<String>().trim_end_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

/// `matchLabels` and `matchExpressions` (In, NotIn, Exists, DoesNotExist) over a label map.
pub fn selector_matches(selector: &Value, labels: &Map<String, Value>) -> Result<bool, String> {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    if let Some(wanted) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in wanted {
            if label(key) != value.as_str() {
                return Ok(false);
            }
        }
    }
    for expression in selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = expression.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> = expression
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let operator = expression.get("operator").and_then(Value::as_str).unwrap_or_default();
        let ok = match operator {
            "In" => label(key).is_some_and(|v| values.contains(&v)),
            "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            other => return Err(format!("{other:?} is not a valid label selector operator")),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn selector_is_empty(selector: &Value) -> bool {
    let empty = |k: &str| match selector.get(k) {
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => true,
    };
    empty("matchLabels") && empty("matchExpressions")
}

fn syntax_of(appset: &Value) -> Syntax {
    if appset.pointer("/spec/goTemplate") == Some(&json!(true)) {
        let options = appset.pointer("/spec/goTemplateOptions").and_then(Value::as_array);
        let missing_key_error = options.into_iter().flatten().any(|o| o == "missingkey=error");
        Syntax::Go { missing_key_error }
    } else {
        Syntax::Fasttemplate
    }
}

/// The parameters of one cluster, flat (fasttemplate) or nested (Go templates).
fn cluster_params(cluster: &Cluster, syntax: Syntax) -> Value {
    let mut params = json!({
        "name": cluster.name,
        "nameNormalized": normalize_name(&cluster.name),
        "server": cluster.server,
        "project": cluster.project,
    });
    match syntax {
        Syntax::Go { .. } => {
            let mut metadata = Map::new();
            if !cluster.annotations.is_empty() {
                metadata.insert("annotations".into(), Value::Object(cluster.annotations.clone()));
            }
            if !cluster.labels.is_empty() {
                metadata.insert("labels".into(), Value::Object(cluster.labels.clone()));
            }
            params["metadata"] = Value::Object(metadata);
        }
        Syntax::Fasttemplate => {
            for (key, value) in &cluster.annotations {
                params[format!("metadata.annotations.{key}")] = value.clone();
            }
            for (key, value) in &cluster.labels {
                params[format!("metadata.labels.{key}")] = value.clone();
            }
        }
    }
    params
}

/// Adds a generator's `values`, each rendered with the parameters it joins.
fn add_values(params: &mut Value, values: Option<&Value>, syntax: Syntax) -> Result<(), String> {
    let Some(values) = values.and_then(Value::as_object) else { return Ok(()) };
    let mut rendered = Map::new();
    for (key, value) in values {
        let text = value.as_str().unwrap_or_default();
        rendered.insert(key.clone(), json!(render_text(text, params, syntax).map_err(|e| e.to_string())?));
    }
    match syntax {
        Syntax::Go { .. } => params["values"] = Value::Object(rendered),
        Syntax::Fasttemplate => {
            for (key, value) in rendered {
                params[format!("values.{key}")] = value;
            }
        }
    }
    Ok(())
}

/// The parameter sets of one generator, each with the template to render it with.
fn generator_params(
    generator: &Value,
    clusters: &[Cluster],
    syntax: Syntax,
    template: &Value,
) -> Result<Vec<(Value, Value)>, String> {
    let mut template = template.clone();
    let (kind, body) = generator
        .as_object()
        .and_then(|g| g.iter().find(|(k, _)| *k != "selector" && *k != "template" && *k != "values"))
        .ok_or_else(|| "empty generator".to_string())?;
    if let Some(own) = body.get("template").filter(|t| t.is_object()) {
        patch::merge_patch(&mut template, own);
    }
    let mut sets = Vec::new();
    match kind.as_str() {
        "clusters" => {
            let selector = body.get("selector").cloned().unwrap_or_else(|| json!({}));
            for cluster in clusters {
                if selector_matches(&selector, &cluster.labels)? {
                    let mut params = cluster_params(cluster, syntax);
                    add_values(&mut params, body.get("values"), syntax)?;
                    sets.push(params);
                }
            }
            if selector_is_empty(&selector) && !clusters.iter().any(|c| c.server == IN_CLUSTER_SERVER) {
                let mut params = json!({"name": IN_CLUSTER_NAME, "nameNormalized": IN_CLUSTER_NAME, "server": IN_CLUSTER_SERVER, "project": ""});
                add_values(&mut params, body.get("values"), syntax)?;
                sets.push(params);
            }
        }
        "list" => {
            for element in body.get("elements").and_then(Value::as_array).into_iter().flatten() {
                let mut params = element.clone();
                if !params.is_object() {
                    return Err("list generator elements must be objects".into());
                }
                let values = params.as_object_mut().and_then(|m| m.remove("values"));
                add_values(&mut params, values.as_ref(), syntax)?;
                sets.push(params);
            }
        }
        other => {
            return Err(format!(
                "generator {other:?} is not supported by kube-test-server's ApplicationSet controller"
            ));
        }
    }
    Ok(sets.into_iter().map(|params| (params, template.clone())).collect())
}

/// The Applications an ApplicationSet generates from these clusters (in its namespace).
pub fn generate(appset: &Value, clusters: &[Cluster]) -> Result<Vec<Value>, String> {
    let syntax = syntax_of(appset);
    let namespace = meta_str(appset, "namespace").unwrap_or_default();
    let template = appset.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
    let preserve = appset.pointer("/spec/syncPolicy/preserveResourcesOnDeletion") == Some(&json!(true));
    let mut apps = Vec::new();
    let mut names = BTreeSet::new();
    let generators = match appset.pointer("/spec/generators") {
        None => &Vec::new(),
        Some(Value::Array(generators)) => generators,
        Some(_) => return Err("spec.generators must be a list".into()),
    };
    for generator in generators {
        for (params, template) in generator_params(generator, clusters, syntax, &template)? {
            let rendered = render(&template, &params, syntax).map_err(|e| e.to_string())?;
            let meta_of = |k: &str| rendered.pointer(&format!("/metadata/{k}")).cloned();
            let name = meta_of("name").and_then(|n| n.as_str().map(str::to_string)).unwrap_or_default();
            if !names.insert(name.clone()) {
                return Err(format!(
                    "ApplicationSet {} contains applications with duplicate name: {name}",
                    meta_str(appset, "name").unwrap_or_default()
                ));
            }
            let mut finalizers = meta_of("finalizers").filter(|f| f.as_array().is_some_and(|a| !a.is_empty()));
            if finalizers.is_none() && !preserve {
                finalizers = Some(json!([ARGOCD_FINALIZER]));
            }
            let mut metadata = json!({"name": name, "namespace": namespace});
            for (key, value) in
                [("labels", meta_of("labels")), ("annotations", meta_of("annotations")), ("finalizers", finalizers)]
            {
                if let Some(value) = value.filter(|v| !v.is_null()) {
                    metadata[key] = value;
                }
            }
            apps.push(json!({
                "apiVersion": Resource::Application.api_version(),
                "kind": Resource::Application.kind(),
                "metadata": metadata,
                "spec": rendered.get("spec").cloned().unwrap_or_else(|| json!({})),
            }));
        }
    }
    Ok(apps)
}

fn owner_reference(appset: &Value) -> Value {
    json!({
        "apiVersion": Resource::ApplicationSet.api_version(),
        "kind": Resource::ApplicationSet.kind(),
        "name": meta_str(appset, "name").unwrap_or_default(),
        "uid": meta_str(appset, "uid").unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

pub fn owned_by(object: &Value, owner_uid: &str) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(|r| r.get("uid").and_then(Value::as_str) == Some(owner_uid)))
}

/// `syncPolicy.applicationsSync`: which changes the controller may make.
struct Policy {
    update: bool,
    delete: bool,
}

fn policy_of(appset: &Value) -> Policy {
    match appset.pointer("/spec/syncPolicy/applicationsSync").and_then(Value::as_str) {
        Some("create-only") => Policy { update: false, delete: false },
        Some("create-update") => Policy { update: true, delete: false },
        Some("create-delete") => Policy { update: false, delete: true },
        _ => Policy { update: true, delete: true },
    }
}

fn condition(kind: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
    })
}

impl Api {
    /// Brings the Applications of a namespace's ApplicationSets in line with its cluster Secrets.
    pub(crate) fn reconcile_applicationsets(&mut self, namespace: &str) {
        let appsets: Vec<(ObjectKey, Value)> =
            self.store.list(Resource::ApplicationSet, Some(namespace)).map(|(k, v)| (k.clone(), v.clone())).collect();
        for (key, appset) in appsets {
            self.reconcile_applicationset(&key, &appset);
        }
    }

    fn owned_applications(&self, namespace: &str, owner_uid: &str) -> Vec<(ObjectKey, Value)> {
        self.store
            .list(Resource::Application, Some(namespace))
            .filter(|(_, app)| owned_by(app, owner_uid))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn reconcile_applicationset(&mut self, key: &ObjectKey, appset: &Value) {
        let uid = meta_str(appset, "uid").unwrap_or_default().to_string();
        let policy = policy_of(appset);
        if is_deleting(appset) {
            // Applications the policy keeps must survive their owner.
            if !policy.delete {
                self.release_dependents(&key.namespace, &uid);
            }
            return;
        }
        let clusters = cluster_secrets(&self.store, Some(&key.namespace));
        let desired = match generate(appset, &clusters) {
            Ok(apps) => apps,
            Err(message) => {
                self.set_applicationset_conditions(key, Some(("ApplicationGenerationFromParamsError", message)));
                return;
            }
        };
        let mut errors = Vec::new();
        let mut wanted = BTreeSet::new();
        for app in desired {
            let name = meta_str(&app, "name").unwrap_or_default().to_string();
            wanted.insert(name.clone());
            if let Err(message) = self.create_or_update_application(key, appset, app, &policy) {
                errors.push(format!("{name}: {message}"));
            }
        }
        if policy.delete {
            for (app_key, app) in self.owned_applications(&key.namespace, &uid) {
                if wanted.contains(&app_key.name) || is_deleting(&app) {
                    continue;
                }
                if !self.destination_known(&app) {
                    self.drop_resources_finalizer(&app_key, &app);
                }
                if let Err(err) =
                    self.delete(Resource::Application, &app_key.namespace, &app_key.name, &Default::default())
                {
                    errors.push(format!("{}: {}", app_key.name, err.message));
                }
            }
        }
        let error = (!errors.is_empty()).then(|| ("ApplicationSetUpdateError", errors.join("; ")));
        self.set_applicationset_conditions(key, error);
    }

    fn create_or_update_application(
        &mut self,
        owner_key: &ObjectKey,
        appset: &Value,
        mut app: Value,
        policy: &Policy,
    ) -> Result<(), String> {
        let opts = WriteOptions::manager(CONTROLLER);
        let name = meta_str(&app, "name").unwrap_or_default().to_string();
        let key = ObjectKey::new(Resource::Application, &owner_key.namespace, &name);
        app["metadata"]["ownerReferences"] = json!([owner_reference(appset)]);
        let Some(found) = self.store.get(&key).cloned() else {
            return self
                .create(Resource::Application, &owner_key.namespace, app, &opts)
                .map(|_| ())
                .map_err(|e| e.message);
        };
        let uid = meta_str(appset, "uid").unwrap_or_default();
        if !owned_by(&found, uid) {
            return Err(format!("object {name} is already present but not owned by this ApplicationSet"));
        }
        if !policy.update || is_deleting(&found) {
            return Ok(());
        }
        let mut new = found.clone();
        new["spec"] = app["spec"].clone();
        let metadata = new["metadata"].as_object_mut().ok_or("Application without metadata")?;
        for field in ["labels", "annotations", "finalizers"] {
            match app["metadata"].get(field) {
                Some(value) => metadata.insert(field.into(), value.clone()),
                None => metadata.remove(field),
            };
        }
        // Argo CD keeps the refresh request its users made on a generated Application.
        if let Some(refresh) = found.pointer("/metadata/annotations").and_then(|a| a.get(REFRESH_ANNOTATION)) {
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            annotations[REFRESH_ANNOTATION] = refresh.clone();
        }
        let mut refs: Vec<Value> = metadata
            .get("ownerReferences")
            .and_then(Value::as_array)
            .map(|refs| {
                refs.iter().filter(|r| r["uid"] != json!(uid) && r["controller"] != json!(true)).cloned().collect()
            })
            .unwrap_or_default();
        refs.insert(0, owner_reference(appset));
        metadata.insert("ownerReferences".into(), json!(refs));
        if new == found {
            return Ok(());
        }
        self.update_object(&key, found, new, &opts).map(|_| ()).map_err(|e| e.message)
    }

    /// Removes the resources finalizer without deleting anything on the cluster.
    fn drop_resources_finalizer(&mut self, key: &ObjectKey, app: &Value) {
        if crate::rules::finalizers(app).iter().any(|f| f == ARGOCD_FINALIZER)
            && self.remove_finalizers(key, Some(ARGOCD_FINALIZER)).is_ok()
        {
            self.argocd.abandoned.push(AbandonedResources {
                namespace: key.namespace.clone(),
                application: key.name.clone(),
                destination: destination_of(app),
            });
        }
    }

    /// Drops the ownerReference to `owner_uid` from the Applications that carry it.
    pub(crate) fn release_dependents(&mut self, namespace: &str, owner_uid: &str) {
        for (key, app) in self.owned_applications(namespace, owner_uid) {
            let mut new = app.clone();
            if let Some(refs) = new.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner_uid));
            }
            let _ = self.update_object(&key, app, new, &WriteOptions::manager("generic-garbage-collector"));
        }
    }

    /// The garbage collector after an ApplicationSet disappeared.
    pub(crate) fn collect_dependents(&mut self, owner: &ObjectKey, owner_uid: &str, orphan: bool) {
        if orphan {
            self.release_dependents(&owner.namespace, owner_uid);
            return;
        }
        for (key, app) in self.owned_applications(&owner.namespace, owner_uid) {
            if !is_deleting(&app) {
                let _ = self.delete(Resource::Application, &key.namespace, &key.name, &Default::default());
            }
        }
    }

    /// Argo CD's three conditions; an unchanged condition keeps its lastTransitionTime.
    fn set_applicationset_conditions(&mut self, key: &ObjectKey, error: Option<(&str, String)>) {
        let Some(old) = self.store.get(key).cloned() else { return };
        let now = store::now();
        let ok = "All applications have been generated successfully";
        let conditions = match &error {
            None => vec![
                condition("ErrorOccurred", false, "ApplicationSetUpToDate", ok, &now),
                condition(
                    "ParametersGenerated",
                    true,
                    "ParametersGenerated",
                    "Successfully generated parameters for all Applications",
                    &now,
                ),
                condition("ResourcesUpToDate", true, "ApplicationSetUpToDate", ok, &now),
            ],
            Some((reason, message)) => vec![
                condition("ErrorOccurred", true, reason, message, &now),
                condition(
                    "ParametersGenerated",
                    *reason != "ApplicationGenerationFromParamsError",
                    reason,
                    message,
                    &now,
                ),
                condition("ResourcesUpToDate", false, reason, message, &now),
            ],
        };
        let previous: BTreeMap<String, Value> = old
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c.get("type")?.as_str()?.to_string(), c.clone())))
            .collect();
        let conditions: Vec<Value> = conditions
            .into_iter()
            .map(|mut c| {
                if let Some(before) = previous.get(c["type"].as_str().unwrap_or_default())
                    && before["status"] == c["status"]
                    && before["message"] == c["message"]
                {
                    c["lastTransitionTime"] = before["lastTransitionTime"].clone();
                }
                c
            })
            .collect();
        let mut status = old.get("status").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
        status["conditions"] = json!(conditions);
        self.write_status(key, old, status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(name: &str, labels: Value, annotations: Value) -> Cluster {
        Cluster {
            name: name.into(),
            server: format!("https://{name}.example"),
            project: String::new(),
            labels: labels.as_object().cloned().unwrap_or_default(),
            annotations: annotations.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn selectors_follow_label_selector_rules() {
        let labels = json!({"env": "prod", "enable_x": "true"}).as_object().cloned().unwrap();
        let cases = [
            (json!({}), true),
            (json!({"matchLabels": {"env": "prod"}}), true),
            (json!({"matchLabels": {"env": "dev"}}), false),
            (json!({"matchExpressions": [{"key": "env", "operator": "In", "values": ["dev", "prod"]}]}), true),
            (json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}), false),
            (json!({"matchExpressions": [{"key": "missing", "operator": "NotIn", "values": ["x"]}]}), true),
            (json!({"matchExpressions": [{"key": "enable_x", "operator": "Exists"}]}), true),
            (json!({"matchExpressions": [{"key": "enable_x", "operator": "DoesNotExist"}]}), false),
            (json!({"matchLabels": {"env": "prod"}, "matchExpressions": [{"key": "y", "operator": "Exists"}]}), false),
        ];
        for (selector, want) in cases {
            assert_eq!(selector_matches(&selector, &labels).unwrap(), want, "{selector}");
        }
        assert!(selector_matches(&json!({"matchExpressions": [{"key": "a", "operator": "Gt"}]}), &labels).is_err());
    }

    #[test]
    fn names_are_normalized_like_kubernetes_names() {
        assert_eq!(normalize_name("EKS_Blue.cluster"), "eks-blue.cluster");
        assert_eq!(normalize_name("-a b-"), "a-b");
    }

    #[test]
    fn fasttemplate_sets_render_one_application_per_selected_cluster() {
        let appset = json!({
            "metadata": {"name": "addons", "namespace": "argocd"},
            "spec": {
                "generators": [{"clusters": {
                    "selector": {"matchLabels": {"enable_x": "true"}},
                    "values": {"branch": "{{metadata.annotations.rev}}-x"}
                }}],
                "template": {
                    "metadata": {"name": "x-{{name}}", "labels": {"cluster": "{{nameNormalized}}"}},
                    "spec": {"project": "default", "destination": {"name": "{{name}}", "namespace": "x"},
                             "source": {"repoURL": "{{metadata.annotations.repo}}", "targetRevision": "{{values.branch}}"}}
                }
            }
        });
        let clusters = [
            cluster("Blue", json!({"enable_x": "true"}), json!({"repo": "https://r", "rev": "main"})),
            cluster("green", json!({"enable_x": "false"}), json!({})),
        ];
        let apps = generate(&appset, &clusters).unwrap();
        assert_eq!(apps.len(), 1);
        let app = &apps[0];
        assert_eq!(app["metadata"]["name"], "x-Blue");
        assert_eq!(app["metadata"]["namespace"], "argocd");
        assert_eq!(app["metadata"]["labels"], json!({"cluster": "blue"}));
        assert_eq!(app["metadata"]["finalizers"], json!([ARGOCD_FINALIZER]));
        assert_eq!(app["spec"]["destination"]["name"], "Blue");
        assert_eq!(app["spec"]["source"], json!({"repoURL": "https://r", "targetRevision": "main-x"}));
    }

    #[test]
    fn without_a_selector_the_hub_is_generated_too() {
        let appset = json!({
            "metadata": {"name": "a", "namespace": "argocd"},
            "spec": {
                "goTemplate": true,
                "syncPolicy": {"preserveResourcesOnDeletion": true},
                "generators": [{"clusters": {"values": {"repo": "r-{{.name}}"}}}],
                "template": {
                    "metadata": {"name": "{{.name}}-apps"},
                    "spec": {"project": "default", "destination": {"server": "{{.server}}"},
                             "source": {"repoURL": "{{.values.repo}}"}}
                }
            }
        });
        let apps = generate(&appset, &[cluster("blue", json!({}), json!({}))]).unwrap();
        let names: Vec<&str> = apps.iter().map(|a| a["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["blue-apps", "in-cluster-apps"]);
        assert_eq!(apps[0]["spec"]["source"]["repoURL"], "r-blue");
        assert_eq!(apps[1]["spec"]["destination"]["server"], IN_CLUSTER_SERVER);
        assert!(apps[0]["metadata"].get("finalizers").is_none(), "preserveResourcesOnDeletion adds no finalizer");
        // A Secret for the hub's server stands for the hub: no second one.
        let hub = Cluster { server: IN_CLUSTER_SERVER.into(), ..cluster("hub", json!({}), json!({})) };
        assert_eq!(generate(&appset, &[hub]).unwrap().len(), 1);
    }

    #[test]
    fn go_templates_read_metadata_and_missing_keys_fail_when_asked() {
        let mut appset = json!({
            "metadata": {"name": "a", "namespace": "argocd"},
            "spec": {
                "goTemplate": true,
                "generators": [{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}],
                "template": {
                    "metadata": {"name": "{{.name}}", "annotations": {"note": "{{.metadata.annotations.absent}}"}},
                    "spec": {"project": "default", "destination": {"name": "{{.name}}"},
                             "source": {"repoURL": "{{index .metadata.annotations \"repo\"}}"}}
                }
            }
        });
        let clusters = [cluster("blue", json!({"env": "prod"}), json!({"repo": "https://r"}))];
        let apps = generate(&appset, &clusters).unwrap();
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0]["spec"]["source"]["repoURL"], "https://r");
        assert_eq!(apps[0]["metadata"]["annotations"]["note"], "<no value>");

        appset["spec"]["goTemplateOptions"] = json!(["missingkey=error"]);
        let err = generate(&appset, &clusters).unwrap_err();
        assert!(err.contains("map has no entry for key \"absent\""), "{err}");
    }

    #[test]
    fn unsupported_generators_and_duplicate_names_are_errors() {
        let appset = json!({"metadata": {"name": "a"}, "spec": {"generators": [{"git": {}}], "template": {}}});
        assert!(generate(&appset, &[]).unwrap_err().contains("\"git\" is not supported"));
        let dup = json!({"metadata": {"name": "a"}, "spec": {
            "generators": [{"list": {"elements": [{"n": "x"}, {"n": "y"}]}}],
            "template": {"metadata": {"name": "same"}, "spec": {}}}});
        assert!(generate(&dup, &[]).unwrap_err().contains("duplicate name: same"));
    }
}
