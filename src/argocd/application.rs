//! Argo CD Applications as the provider reads them: the cluster each one deploys to, its sync
//! and health as Argo CD last recorded them, and the rule that says when a cluster is ready.
//!
//! Only the fields used here are decoded. An Application's status also holds the tree of every
//! resource it manages (often tens of kilobytes); a listing of thousands keeps none of it.
//! Nothing here talks to the hub or to Terraform.

use std::borrow::Cow;
use std::fmt;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

pub const GROUP: &str = "argoproj.io";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "Application";
pub const PLURAL: &str = "applications";

/// Set to `normal` to ask Argo CD to compare an Application with Git now; Argo CD removes it
/// when done. Without it, a change that leaves the Application's spec as it was is compared
/// only after the reconciliation period (three minutes by default).
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";

/// The hub itself, as Argo CD names it when no Secret describes it.
pub const IN_CLUSTER_NAME: &str = "in-cluster";
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";

/// One Argo CD Application, reduced to what the provider reads.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Application {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Spec,
    #[serde(default)]
    pub status: Status,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Spec {
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub destination: Destination,
}

/// Where an Application deploys: a cluster by `name` (a cluster Secret's `data.name`) or by
/// `server` (its `data.server`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Destination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    #[serde(default)]
    pub sync: SyncStatus,
    #[serde(default)]
    pub health: HealthStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_state: Option<OperationState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct SyncStatus {
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct HealthStatus {
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationState {
    #[serde(default)]
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl kube::Resource for Application {
    type DynamicType = ();
    type Scope = kube::core::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        KIND.into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        GROUP.into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        VERSION.into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        PLURAL.into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A cluster as Applications name it in `spec.destination`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterRef {
    pub name: String,
    pub server: String,
}

impl ClusterRef {
    pub fn in_cluster() -> ClusterRef {
        ClusterRef { name: IN_CLUSTER_NAME.into(), server: IN_CLUSTER_SERVER.into() }
    }
}

impl fmt::Display for ClusterRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.server)
    }
}

impl Application {
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    pub fn namespace(&self) -> &str {
        self.metadata.namespace.as_deref().unwrap_or_default()
    }

    /// Whether this Application deploys to `cluster`. Argo CD takes the destination's name when
    /// it has one, else its server; servers compare without a trailing slash.
    pub fn targets(&self, cluster: &ClusterRef) -> bool {
        let destination = &self.spec.destination;
        match destination.name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => name == cluster.name,
            None => destination
                .server
                .as_deref()
                .is_some_and(|server| server.trim_end_matches('/') == cluster.server.trim_end_matches('/')),
        }
    }

    /// The ApplicationSet that generated this Application, from its owner references.
    pub fn application_set(&self) -> Option<&str> {
        self.metadata
            .owner_references
            .iter()
            .flatten()
            .find(|owner| owner.kind == "ApplicationSet" && owner.api_version.starts_with(GROUP))
            .map(|owner| owner.name.as_str())
    }

    pub fn reconciled_at(&self) -> Option<Timestamp> {
        self.status.reconciled_at.as_deref().and_then(|t| t.parse().ok())
    }

    /// The revision Argo CD last compared: the single source's, else the first of several.
    pub fn revision(&self) -> Option<&str> {
        self.status.sync.revision.as_deref().or_else(|| self.status.sync.revisions.first().map(String::as_str))
    }

    pub fn operation_phase(&self) -> Option<&str> {
        self.status.operation_state.as_ref().map(|op| op.phase.as_str()).filter(|p| !p.is_empty())
    }

    pub fn operation_message(&self) -> Option<&str> {
        self.status.operation_state.as_ref().and_then(|op| op.message.as_deref()).filter(|m| !m.is_empty())
    }

    pub fn is_deleting(&self) -> bool {
        self.metadata.deletion_timestamp.is_some()
    }

    /// Drops what a listing need not keep (managed fields can outweigh the rest of the
    /// metadata); of the annotations only a pending refresh request stays.
    pub fn slimmed(mut self) -> Application {
        self.metadata.managed_fields = None;
        self.metadata.labels = None;
        if let Some(annotations) = &mut self.metadata.annotations {
            annotations.retain(|key, _| key == REFRESH_ANNOTATION);
        }
        self
    }

    /// Whether a refresh was asked for and Argo CD has not done it yet.
    pub fn refresh_pending(&self) -> bool {
        self.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(REFRESH_ANNOTATION))
    }

    /// Where this Application stands on the way to ready. With `written_at`, a status Argo CD
    /// recorded at or before that instant (the API server's time of our write) says nothing yet:
    /// both times have whole seconds, so only a later second is surely after the write.
    pub fn condition(&self, written_at: Option<Timestamp>) -> Condition {
        if let Some(written) = written_at {
            match self.reconciled_at() {
                Some(reconciled) if reconciled > written => {}
                Some(reconciled) => {
                    return Condition::Waiting(format!("not compared since the change (last {reconciled})"));
                }
                None => return Condition::Waiting("not compared yet".into()),
            }
        }
        let health = self.status.health.status.as_str();
        let sync = self.status.sync.status.as_str();
        let health_message = self.status.health.message.as_deref().filter(|m| !m.is_empty());
        match self.operation_phase() {
            Some(phase @ ("Failed" | "Error")) => {
                return Condition::Failing(with_message(format!("sync {phase}"), self.operation_message()));
            }
            _ if health == "Degraded" => return Condition::Failing(with_message("Degraded".into(), health_message)),
            _ => {}
        }
        let mut waiting = Vec::new();
        if self.is_deleting() {
            waiting.push("being deleted".to_string());
        }
        if health != "Healthy" {
            waiting.push(with_message(or_unknown(health).to_string(), health_message));
        }
        if sync != "Synced" {
            waiting.push(or_unknown(sync).to_string());
        }
        if let Some(phase @ ("Running" | "Terminating")) = self.operation_phase() {
            waiting.push(with_message(format!("sync {phase}"), self.operation_message()));
        }
        if waiting.is_empty() { Condition::Ready } else { Condition::Waiting(waiting.join(", ")) }
    }
}

fn or_unknown(status: &str) -> &str {
    if status.is_empty() { "Unknown" } else { status }
}

fn with_message(state: String, message: Option<&str>) -> String {
    match message {
        Some(message) => format!("{state}: {message}"),
        None => state,
    }
}

/// One Application's standing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    Ready,
    /// May still become ready: progressing, out of sync, not compared since our write.
    Waiting(String),
    /// Degraded, or its last sync failed: will not become ready without a change.
    Failing(String),
}

/// What a cluster must show to count as ready, beyond "every Application Synced and Healthy".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Each pattern (`*` and `?` wildcards, matched against the Application's name) must match
    /// at least one Application of the cluster.
    pub applications: Vec<String>,
    /// At least this many Applications (at least one in any case).
    pub min_applications: usize,
}

/// The Applications of one cluster judged together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    /// One line for each reason the cluster is not ready, each Application by name.
    pub not_ready: Vec<String>,
    /// The Applications that are failing, as `(namespace/name, state)`.
    pub failing: Vec<(String, String)>,
}

/// Judges a cluster's Applications. `written_at` counts only statuses Argo CD recorded after
/// that instant (see [`Application::condition`]).
pub fn assess(apps: &[&Application], requirements: &Requirements, written_at: Option<Timestamp>) -> Readiness {
    let mut not_ready = Vec::new();
    let mut failing = Vec::new();
    let wanted = requirements.min_applications.max(1);
    if apps.len() < wanted {
        not_ready.push(match apps.len() {
            0 => "no Application targets the cluster yet".to_string(),
            n => format!("{n} Application(s) target the cluster, at least {wanted} required"),
        });
    }
    for pattern in &requirements.applications {
        if !apps.iter().any(|app| glob_matches(pattern, app.name())) {
            not_ready.push(format!("no Application matches {pattern:?} yet"));
        }
    }
    for app in apps {
        let id = format!("{}/{}", app.namespace(), app.name());
        match app.condition(written_at) {
            Condition::Ready => {}
            Condition::Waiting(why) => not_ready.push(format!("{id}: {why}")),
            Condition::Failing(why) => {
                not_ready.push(format!("{id}: {why}"));
                failing.push((id, why));
            }
        }
    }
    Readiness { ready: not_ready.is_empty(), not_ready, failing }
}

/// Shell-style matching of `*` (any run of characters) and `?` (one character).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was and how much of the text it has taken so far.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_pi, star_ti)) = star {
            pi = star_pi + 1;
            ti = star_ti + 1;
            star = Some((star_pi, star_ti + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(name: &str, destination: serde_json::Value, status: serde_json::Value) -> Application {
        serde_json::from_value(json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"project": "default", "destination": destination, "source": {"repoURL": "https://g/x"}},
            "status": status,
        }))
        .unwrap()
    }

    fn healthy(reconciled: &str) -> serde_json::Value {
        json!({
            "sync": {"status": "Synced", "revision": "abc"},
            "health": {"status": "Healthy"},
            "operationState": {"phase": "Succeeded", "message": "successfully synced"},
            "reconciledAt": reconciled,
            "resources": [{"kind": "Deployment", "name": "x", "status": "Synced"}],
        })
    }

    fn green() -> ClusterRef {
        ClusterRef { name: "eks-green".into(), server: "https://green.example.com".into() }
    }

    #[test]
    fn destination_by_name_or_server() {
        let cases = [
            (json!({"name": "eks-green"}), true),
            (json!({"name": "eks-blue"}), false),
            (json!({"server": "https://green.example.com/"}), true),
            (json!({"server": "https://blue.example.com"}), false),
            // A name wins over a server, as in Argo CD.
            (json!({"name": "eks-blue", "server": "https://green.example.com"}), false),
            (json!({"name": "", "server": "https://green.example.com"}), true),
            (json!({}), false),
        ];
        for (destination, want) in cases {
            let a = app("a", destination.clone(), json!({}));
            assert_eq!(a.targets(&green()), want, "{destination}");
        }
        assert!(app("a", json!({"server": IN_CLUSTER_SERVER}), json!({})).targets(&ClusterRef::in_cluster()));
    }

    #[test]
    fn decodes_only_what_it_uses_and_names_the_owner() {
        let mut a = app("metrics", json!({"name": "eks-green"}), healthy("2026-12-07T10:00:05Z"));
        a.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "argoproj.io/v1alpha1".into(),
            kind: "ApplicationSet".into(),
            name: "cluster-addons".into(),
            uid: "u".into(),
            ..Default::default()
        }]);
        assert_eq!(a.application_set(), Some("cluster-addons"));
        assert_eq!(a.revision(), Some("abc"));
        assert_eq!(a.operation_phase(), Some("Succeeded"));
        let encoded = serde_json::to_value(&a).unwrap();
        assert!(encoded["status"].get("resources").is_none(), "the resource tree is not kept");
    }

    #[test]
    fn conditions() {
        let t = "2026-12-07T10:00:05Z";
        let cases = [
            (healthy(t), Condition::Ready),
            (
                json!({"sync": {"status": "Synced"}, "health": {"status": "Progressing", "message": "rolling out"}, "reconciledAt": t}),
                Condition::Waiting("Progressing: rolling out".into()),
            ),
            (
                json!({"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}, "reconciledAt": t}),
                Condition::Waiting("OutOfSync".into()),
            ),
            (json!({}), Condition::Waiting("Unknown, Unknown".into())),
            (
                json!({"sync": {"status": "Synced"}, "health": {"status": "Degraded", "message": "0/2 ready"}, "reconciledAt": t}),
                Condition::Failing("Degraded: 0/2 ready".into()),
            ),
            (
                json!({"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"},
                       "operationState": {"phase": "Failed", "message": "one or more objects failed to apply"}}),
                Condition::Failing("sync Failed: one or more objects failed to apply".into()),
            ),
            (
                json!({"sync": {"status": "Synced"}, "health": {"status": "Healthy"}, "operationState": {"phase": "Running"}}),
                Condition::Waiting("sync Running".into()),
            ),
        ];
        for (status, want) in cases {
            assert_eq!(app("a", json!({"name": "eks-green"}), status.clone()).condition(None), want, "{status}");
        }
    }

    #[test]
    fn a_status_from_before_the_write_does_not_count() {
        let written: Timestamp = "2026-12-07T10:00:05Z".parse().unwrap();
        let before = app("a", json!({"name": "eks-green"}), healthy("2026-12-07T10:00:04Z"));
        let same_second = app("a", json!({"name": "eks-green"}), healthy("2026-12-07T10:00:05Z"));
        let after = app("a", json!({"name": "eks-green"}), healthy("2026-12-07T10:00:06Z"));
        let never = app("a", json!({"name": "eks-green"}), json!({"health": {"status": "Healthy"}}));
        assert!(matches!(before.condition(Some(written)), Condition::Waiting(w) if w.contains("not compared since")));
        assert!(matches!(same_second.condition(Some(written)), Condition::Waiting(_)));
        assert!(matches!(never.condition(Some(written)), Condition::Waiting(w) if w == "not compared yet"));
        assert_eq!(after.condition(Some(written)), Condition::Ready);
        assert_eq!(before.condition(None), Condition::Ready);
    }

    #[test]
    fn readiness_of_a_cluster() {
        let t = "2026-12-07T10:00:05Z";
        let a = app("addons-metrics", json!({"name": "eks-green"}), healthy(t));
        let b = app("guestbook", json!({"name": "eks-green"}), healthy(t));
        let degraded = app(
            "broken",
            json!({"name": "eks-green"}),
            json!({"sync": {"status": "Synced"}, "health": {"status": "Degraded", "message": "crash loop"}}),
        );
        let none = Requirements::default();

        let r = assess(&[&a, &b], &none, None);
        assert!(r.ready, "{r:?}");

        let r = assess(&[], &none, None);
        assert_eq!(r.not_ready, vec!["no Application targets the cluster yet"]);

        let r = assess(&[&a, &degraded], &none, None);
        assert!(!r.ready);
        assert_eq!(r.not_ready, vec!["argocd/broken: Degraded: crash loop"]);
        assert_eq!(r.failing, vec![("argocd/broken".to_string(), "Degraded: crash loop".to_string())]);

        let wanted = Requirements { applications: vec!["addons-*".into(), "workload-?".into()], min_applications: 3 };
        let r = assess(&[&a, &b], &wanted, None);
        assert_eq!(
            r.not_ready,
            vec![
                "2 Application(s) target the cluster, at least 3 required",
                "no Application matches \"workload-?\" yet"
            ]
        );
    }

    #[test]
    fn globs() {
        let cases = [
            ("*", "anything", true),
            ("*", "", true),
            ("addons-*", "addons-metrics", true),
            ("addons-*", "workload", false),
            ("*-green", "guestbook-green", true),
            ("*-green", "guestbook-blue", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(glob_matches(pattern, text), want, "{pattern} ~ {text}");
        }
    }
}
