//! The application-controller stand-in: the `status` Argo CD writes on each Application (sync,
//! health, last operation, `reconciledAt`), scripted per Application name, and the deletion of an
//! Application's resources behind the `resources-finalizer.argocd.argoproj.io` finalizer.
//!
//! Everything moves on reads, never on the wall clock, so tests need no sleeps:
//! - a reconcile is requested when an Application is created, when its spec changes, or when it
//!   carries `argocd.argoproj.io/refresh`; it happens after `reconcile_after_reads` reads of the
//!   Application (0: at the write itself). Other writes keep the old status and `reconciledAt`.
//! - a reconcile starts the Application's script at its first phase; a phase with `reads: n` lasts
//!   n reads, the next read sees the next phase; the last phase stays.
//! - a deleting Application with the resources finalizer stays `deletion_hold_reads` reads, then
//!   the finalizer goes, but only while its destination cluster is known (cluster Secret, or the
//!   hub itself); otherwise it stays with a `DeletionError` condition, as Argo CD leaves it.
//!
//! A read is a GET of the Application, or a LIST of Applications whose answer holds it.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ARGOCD_FINALIZER;
use crate::api::{Api, WriteOptions};
use crate::applicationset_controller::{IN_CLUSTER_NAME, IN_CLUSTER_SERVER, cluster_secrets};
use crate::resources::Resource;
use crate::rules::{finalizers, is_deleting, meta, meta_mut};
use crate::status::ApiError;
use crate::store::{self, ObjectKey};

/// The annotation that asks Argo CD to compare an Application with Git now.
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/refresh";
/// The field manager of the status writes.
pub const APPLICATION_CONTROLLER: &str = "argocd-application-controller";

/// One status an Application shows, and for how many reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct AppPhase {
    /// `status.health.status`: Healthy, Progressing, Degraded, Suspended, Missing, Unknown.
    pub health: String,
    /// `status.health.message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `status.sync.status`: Synced, OutOfSync, Unknown.
    pub sync: String,
    /// `status.sync.revision`; by default a made-up commit derived from the spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// `status.operationState.phase`: Running, Succeeded, Failed, Error, Terminating; none = no
    /// `operationState`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// `status.operationState.message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_message: Option<String>,
    /// Reads this phase lasts before the next one shows (ignored for the last phase).
    pub reads: u32,
}

impl Default for AppPhase {
    fn default() -> AppPhase {
        AppPhase {
            health: "Healthy".into(),
            message: None,
            sync: "Synced".into(),
            revision: None,
            operation: Some("Succeeded".into()),
            operation_message: None,
            reads: 0,
        }
    }
}

impl AppPhase {
    /// Healthy and Synced after a successful sync.
    pub fn healthy() -> AppPhase {
        AppPhase::default()
    }

    pub fn health(health: &str) -> AppPhase {
        AppPhase { health: health.into(), ..AppPhase::default() }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> AppPhase {
        self.message = Some(message.into());
        self
    }

    pub fn for_reads(mut self, reads: u32) -> AppPhase {
        self.reads = reads;
        self
    }
}

/// The phases an Application goes through after each reconcile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppScript(pub Vec<AppPhase>);

impl AppScript {
    /// Healthy and Synced at once.
    pub fn healthy() -> AppScript {
        AppScript(vec![AppPhase::healthy()])
    }

    /// Progressing (sync Running) for `reads` reads, then Healthy.
    pub fn progressing_then_healthy(reads: u32) -> AppScript {
        let progressing = AppPhase {
            health: "Progressing".into(),
            operation: Some("Running".into()),
            operation_message: Some("waiting for healthy state".into()),
            reads,
            ..AppPhase::default()
        };
        AppScript(vec![progressing, AppPhase::healthy()])
    }

    /// Synced but Degraded with Argo CD's `message`.
    pub fn degraded(message: impl Into<String>) -> AppScript {
        AppScript(vec![AppPhase::health("Degraded").with_message(message)])
    }

    /// A sync that failed: operation Failed with `message`, OutOfSync, health Missing.
    pub fn sync_failed(message: impl Into<String>) -> AppScript {
        AppScript(vec![AppPhase {
            health: "Missing".into(),
            sync: "OutOfSync".into(),
            operation: Some("Failed".into()),
            operation_message: Some(message.into()),
            ..AppPhase::default()
        }])
    }

    pub fn phases(phases: Vec<AppPhase>) -> AppScript {
        AppScript(phases)
    }
}

/// A script for the Applications whose name matches a glob (`*`, `?`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedScript {
    pub name: String,
    pub steps: AppScript,
}

/// How the Argo CD stand-in behaves; `Options::argocd`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ArgoCdOptions {
    /// The Application CRD is installed (default): off, `applications` are 404 and absent from
    /// discovery, while ApplicationSets are still served.
    pub serve_applications: bool,
    /// The ApplicationSet controller generates Applications (default on).
    pub applicationset_controller: bool,
    /// The script of Applications no named script matches (default: Healthy and Synced at once).
    pub default_steps: AppScript,
    /// Reads of an Application between a requested reconcile and the reconcile (default 0).
    pub reconcile_after_reads: u32,
    /// Reads a deleting Application with the resources finalizer stays (default 1).
    pub deletion_hold_reads: u32,
    /// Scripts by Application name glob; the first that matches wins.
    pub scripts: Vec<NamedScript>,
}

impl Default for ArgoCdOptions {
    fn default() -> ArgoCdOptions {
        ArgoCdOptions {
            serve_applications: true,
            applicationset_controller: true,
            default_steps: AppScript::healthy(),
            reconcile_after_reads: 0,
            deletion_hold_reads: 1,
            scripts: Vec::new(),
        }
    }
}

impl ArgoCdOptions {
    fn script_for(&self, name: &str) -> &AppScript {
        self.scripts.iter().find(|s| glob_matches(&s.name, name)).map(|s| &s.steps).unwrap_or(&self.default_steps)
    }
}

/// An Application whose resources finalizer the ApplicationSet controller removed because its
/// destination cluster was gone: Argo CD did not delete its resources on that cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbandonedResources {
    pub namespace: String,
    pub application: String,
    pub destination: String,
}

/// Where each Application is in its script.
#[derive(Default)]
struct Progress {
    reconcile_in: Option<u32>,
    script: Option<AppScript>,
    phase: usize,
    reads_in_phase: u32,
    deletion_reads: u32,
}

/// The stand-in's settings and what it remembers per Application.
#[derive(Default)]
pub struct ArgoCd {
    pub options: ArgoCdOptions,
    pub abandoned: Vec<AbandonedResources>,
    progress: HashMap<ObjectKey, Progress>,
}

impl ArgoCd {
    pub fn new(options: ArgoCdOptions) -> ArgoCd {
        ArgoCd { options, ..ArgoCd::default() }
    }
}

/// `*` any run of characters, `?` one character.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// The destination of an Application as text: its `name`, else its `server`.
pub fn destination_of(app: &Value) -> String {
    let dest = app.pointer("/spec/destination");
    let text = |k: &str| dest.and_then(|d| d.get(k)).and_then(Value::as_str).filter(|s| !s.is_empty());
    text("name").or_else(|| text("server")).unwrap_or_default().to_string()
}

fn has_refresh(app: &Value) -> bool {
    meta(app).and_then(|m| m.get("annotations")).and_then(|a| a.get(REFRESH_ANNOTATION)).is_some()
}

fn made_up_revision(app: &Value) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    app.get("spec").map(Value::to_string).unwrap_or_default().hash(&mut hasher);
    let h = hasher.finish();
    format!("{h:016x}{:016x}{:08x}", h.rotate_left(17), (h >> 7) as u32)
}

/// `status` for one phase, keeping what it does not set (conditions, resources, …).
fn status_for(app: &Value, phase: &AppPhase, now: &str) -> Value {
    let mut status = app.get("status").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
    let revision = phase.revision.clone().unwrap_or_else(|| made_up_revision(app));
    status["sync"] = json!({"status": phase.sync, "revision": revision});
    let mut health = json!({"status": phase.health, "lastTransitionTime": now});
    if let Some(message) = &phase.message {
        health["message"] = json!(message);
    }
    if app.pointer("/status/health/status") == Some(&json!(phase.health))
        && let Some(since) = app.pointer("/status/health/lastTransitionTime")
    {
        health["lastTransitionTime"] = since.clone();
    }
    status["health"] = health;
    match &phase.operation {
        Some(operation) => {
            let mut state = json!({
                "phase": operation,
                "operation": {"sync": {"revision": revision}, "initiatedBy": {"automated": true}},
                "startedAt": now,
            });
            if operation != "Running" && operation != "Terminating" {
                state["finishedAt"] = json!(now);
            }
            let message = phase.operation_message.clone().unwrap_or_else(|| match operation.as_str() {
                "Succeeded" => "successfully synced (all tasks run)".into(),
                _ => String::new(),
            });
            if !message.is_empty() {
                state["message"] = json!(message);
            }
            status["operationState"] = state;
        }
        None => {
            if let Some(map) = status.as_object_mut() {
                map.remove("operationState");
            }
        }
    }
    status["reconciledAt"] = json!(now);
    status
}

impl Api {
    /// An Application was written (`new` = `None`: it is gone).
    pub(crate) fn application_written(&mut self, key: &ObjectKey, old: Option<&Value>, new: Option<&Value>) {
        let Some(new) = new else {
            self.argocd.progress.remove(key);
            return;
        };
        if is_deleting(new) {
            if old.is_some_and(|o| !is_deleting(o)) {
                self.argocd.progress.entry(key.clone()).or_default().deletion_reads = 0;
                if self.argocd.options.deletion_hold_reads == 0 {
                    self.finish_resource_deletion(key);
                }
            }
            return;
        }
        let requested = match old {
            None => true,
            Some(old) => old.get("spec") != new.get("spec") || has_refresh(new),
        };
        if !requested {
            return;
        }
        let delay = self.argocd.options.reconcile_after_reads;
        if delay == 0 {
            self.reconcile_application(key);
        } else {
            self.argocd.progress.entry(key.clone()).or_default().reconcile_in = Some(delay);
        }
    }

    /// A client read the Application (after it got its answer).
    pub(crate) fn application_read(&mut self, key: &ObjectKey) {
        let Some(app) = self.store.get(key) else { return };
        let deleting = is_deleting(app);
        let held = finalizers(app).iter().any(|f| f == ARGOCD_FINALIZER);
        let hold = self.argocd.options.deletion_hold_reads;
        let progress = self.argocd.progress.entry(key.clone()).or_default();
        if deleting {
            progress.deletion_reads += 1;
            if held && progress.deletion_reads >= hold {
                self.finish_resource_deletion(key);
            }
            return;
        }
        if let Some(left) = progress.reconcile_in {
            progress.reconcile_in = (left > 1).then(|| left - 1);
            if left <= 1 {
                self.reconcile_application(key);
            }
            return;
        }
        let Some(script) = progress.script.clone() else { return };
        let Some(current) = script.0.get(progress.phase) else { return };
        if progress.phase + 1 >= script.0.len() {
            return;
        }
        progress.reads_in_phase += 1;
        if progress.reads_in_phase >= current.reads {
            let next = script.0[progress.phase + 1].clone();
            progress.phase += 1;
            progress.reads_in_phase = 0;
            self.write_application_status(key, &next, false);
        }
    }

    /// Compares with "Git" now: the script starts again at its first phase.
    pub(crate) fn reconcile_application(&mut self, key: &ObjectKey) {
        let script = self.argocd.options.script_for(&key.name).clone();
        let Some(first) = script.0.first().cloned() else { return };
        let progress = self.argocd.progress.entry(key.clone()).or_default();
        *progress = Progress { script: Some(script), ..Progress::default() };
        self.write_application_status(key, &first, true);
    }

    fn write_application_status(&mut self, key: &ObjectKey, phase: &AppPhase, drop_refresh: bool) {
        let Some(old) = self.store.get(key).cloned() else { return };
        let mut new = old.clone();
        new["status"] = status_for(&old, phase, &store::now());
        if drop_refresh
            && let Some(annotations) = meta_mut(&mut new).get_mut("annotations").and_then(Value::as_object_mut)
        {
            annotations.remove(REFRESH_ANNOTATION);
        }
        // A status the CRD refuses is the script's mistake; the Application keeps its old one.
        let _ = self.update_object(key, old, new, &WriteOptions::manager(APPLICATION_CONTROLLER));
    }

    /// Argo CD finished deleting the resources: the finalizer goes, if the cluster is known.
    fn finish_resource_deletion(&mut self, key: &ObjectKey) {
        let Some(app) = self.store.get(key).cloned() else { return };
        if self.destination_known(&app) {
            let _ = self.remove_finalizers(key, Some(ARGOCD_FINALIZER));
            return;
        }
        let destination = destination_of(&app);
        let message = format!(
            "cannot delete the resources of application {:?}: destination cluster {destination:?} is not known \
             to Argo CD (no cluster Secret has this name or server)",
            key.name
        );
        let mut new = app.clone();
        let mut conditions: Vec<Value> = app
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .map(|c| c.iter().filter(|c| c["type"] != "DeletionError").cloned().collect())
            .unwrap_or_default();
        conditions.push(json!({"type": "DeletionError", "message": message, "lastTransitionTime": store::now()}));
        if app
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|old| old.iter().any(|c| c["type"] == "DeletionError" && c["message"] == json!(message)))
        {
            return;
        }
        if !new.get("status").is_some_and(Value::is_object) {
            new["status"] = json!({});
        }
        new["status"]["conditions"] = json!(conditions);
        let _ = self.update_object(key, app, new, &WriteOptions::manager(APPLICATION_CONTROLLER));
    }

    /// The hub itself, or a cluster Secret whose `name` or `server` is the destination's.
    pub(crate) fn destination_known(&self, app: &Value) -> bool {
        let dest = app.pointer("/spec/destination");
        let text = |k: &str| dest.and_then(|d| d.get(k)).and_then(Value::as_str).filter(|s| !s.is_empty());
        let (name, server) = (text("name"), text("server"));
        if name == Some(IN_CLUSTER_NAME) || server == Some(IN_CLUSTER_SERVER) {
            return true;
        }
        cluster_secrets(&self.store, None).iter().any(|c| match name {
            Some(name) => c.name == name,
            None => server.is_some_and(|s| c.server == s),
        })
    }

    /// What `argocd.argoproj.io/refresh` asks for, without writing the annotation.
    pub fn refresh_application(&mut self, namespace: &str, name: &str) -> Result<(), ApiError> {
        let key = ObjectKey::new(Resource::Application, namespace, name);
        if self.store.get(&key).is_none() {
            return Err(ApiError::not_found(Resource::Application, name));
        }
        self.reconcile_application(&key);
        self.settle();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        let cases = [
            ("*", "anything", true),
            ("green-*", "green-addons", true),
            ("green-*", "blue-addons", false),
            ("*-addons", "green-addons", true),
            ("g?een", "green", true),
            ("green", "green-addons", false),
            ("", "", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(glob_matches(pattern, name), want, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn scripts_read_from_json_with_defaults() {
        let script: AppScript =
            serde_json::from_value(json!([{"health": "Progressing", "reads": 2}, {"health": "Healthy"}])).unwrap();
        assert_eq!(script.0[0].sync, "Synced");
        assert_eq!(script.0[0].reads, 2);
        assert_eq!(script.0[1], AppPhase::healthy());
        assert!(serde_json::from_value::<AppScript>(json!([{"helth": "x"}])).is_err());
    }

    #[test]
    fn status_carries_sync_health_operation_and_time() {
        let app = json!({"spec": {"destination": {"name": "c"}}, "status": {"conditions": [{"type": "x"}]}});
        let phase = AppScript::sync_failed("one or more objects failed to apply").0.remove(0);
        let status = status_for(&app, &phase, "2026-01-01T00:00:00Z");
        assert_eq!(status["sync"]["status"], "OutOfSync");
        assert_eq!(status["health"]["status"], "Missing");
        assert_eq!(status["operationState"]["phase"], "Failed");
        assert_eq!(status["operationState"]["message"], "one or more objects failed to apply");
        assert_eq!(status["operationState"]["finishedAt"], "2026-01-01T00:00:00Z");
        assert_eq!(status["reconciledAt"], "2026-01-01T00:00:00Z");
        assert_eq!(status["conditions"], json!([{"type": "x"}]));
        assert_eq!(status["sync"]["revision"].as_str().unwrap().len(), 40);
    }
}
