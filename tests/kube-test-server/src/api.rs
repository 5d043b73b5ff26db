//! The resource API's verbs with the real server's semantics, independent of
//! HTTP: the HTTP layer and the in-process test API both call these.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use serde_json::{Value, json};

use crate::application_controller::ArgoCd;
use crate::apply::{self, ApplyRequest};
use crate::fields::Changes;
use crate::managed::ManagedFields;
use crate::patch;
use crate::resources::Resource;
use crate::rules::{self, finalizers, is_deleting, meta, meta_mut, meta_str};
use crate::schema::{FieldValidation, Schemas, prune_unknown};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{self, ObjectKey, Store};

/// The manager name the simulated Argo CD controller writes with.
pub const CONTROLLER: &str = "argocd-applicationset-controller";

#[derive(Clone, Debug)]
pub struct WriteOptions {
    pub manager: String,
    pub dry_run: bool,
    pub validation: FieldValidation,
}

impl WriteOptions {
    pub fn manager(manager: &str) -> WriteOptions {
        WriteOptions { manager: manager.to_string(), dry_run: false, validation: FieldValidation::Warn }
    }
}

/// The result of a successful write.
#[derive(Debug)]
pub struct Written {
    pub object: Value,
    /// 201 rather than 200.
    pub created: bool,
    /// `Warning` header texts (pruned unknown fields).
    pub warnings: Vec<String>,
}

pub enum PatchBody {
    Merge(Value),
    Strategic(Value),
    Json(Value),
    Apply { config: Value, force: bool },
}

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
    /// `propagationPolicy: Orphan`: dependents lose their ownerReference instead of being deleted.
    pub orphan: bool,
}

#[derive(Debug)]
pub enum Deleted {
    /// Removed at once; the uid goes into the success Status.
    Gone { uid: String },
    /// Finalizers hold it: `deletionTimestamp` is set and the object returned.
    Pending(Value),
}

#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

/// How the simulated controller treats finalizers.
#[derive(Default)]
pub struct FinalizerPolicy {
    /// Finalizers added to every new ApplicationSet.
    pub on_create: Vec<String>,
    /// Release finalizers once a deleting object was read this many times.
    pub release_after_gets: Option<u32>,
    per_object: HashMap<ObjectKey, u32>,
    gets_since_delete: HashMap<ObjectKey, u32>,
}

/// One stored change, for the simulated controllers (`None`: absent before / gone after).
struct Change {
    key: ObjectKey,
    old: Option<Value>,
    new: Option<Value>,
}

pub struct Api {
    pub store: Store,
    pub schemas: Schemas,
    pub finalizers: FinalizerPolicy,
    pub argocd: ArgoCd,
    changes: Vec<Change>,
    settling: bool,
    /// uids of owners deleted with `propagationPolicy: Orphan`.
    orphaned: HashSet<String>,
}

impl Api {
    pub fn new(schemas: Schemas) -> Api {
        Api {
            store: Store::new(),
            schemas,
            finalizers: FinalizerPolicy::default(),
            argocd: ArgoCd::default(),
            changes: Vec::new(),
            settling: false,
            orphaned: HashSet::new(),
        }
    }

    /// Runs the simulated Argo CD controllers until nothing changes any more. Every verb calls it
    /// before it returns, so a client's next request sees what the controllers did.
    pub fn settle(&mut self) {
        if self.settling {
            return;
        }
        self.settling = true;
        while !self.changes.is_empty() {
            let changes = std::mem::take(&mut self.changes);
            if !self.schemas.argocd {
                continue;
            }
            // Namespaces whose ApplicationSets must be reconciled.
            let mut dirty = std::collections::BTreeSet::new();
            for Change { key, old, new } in changes {
                match key.resource {
                    Resource::Secret => {
                        if old.iter().chain(new.iter()).any(crate::applicationset_controller::is_cluster_secret) {
                            dirty.insert(key.namespace.clone());
                        }
                    }
                    Resource::ApplicationSet => {
                        dirty.insert(key.namespace.clone());
                        if let (Some(old), None) = (&old, &new) {
                            let uid = meta_str(old, "uid").unwrap_or_default().to_string();
                            let orphan = self.orphaned.remove(&uid);
                            // Kubernetes' garbage collector, not Argo CD: always on.
                            self.collect_dependents(&key, &uid, orphan);
                        }
                    }
                    Resource::Application => self.application_written(&key, old.as_ref(), new.as_ref()),
                    Resource::Namespace => {}
                }
            }
            if self.argocd.options.applicationset_controller {
                for namespace in dirty {
                    self.reconcile_applicationsets(&namespace);
                }
            }
        }
        self.settling = false;
    }

    /// Argo CD's kinds exist only when Argo CD is installed (Applications unless turned off).
    pub fn serves(&self, resource: Resource) -> bool {
        match resource {
            Resource::Application => self.schemas.argocd && self.argocd.options.serve_applications,
            r if r.is_argocd() => self.schemas.argocd,
            _ => true,
        }
    }

    fn require_served(&self, resource: Resource) -> Result<(), ApiError> {
        if self.serves(resource) { Ok(()) } else { Err(ApiError::unknown_path()) }
    }

    fn require_namespace(&self, resource: Resource, namespace: &str) -> Result<(), ApiError> {
        if resource.namespaced() && !self.store.namespace_exists(namespace) {
            return Err(ApiError::namespace_not_found(namespace));
        }
        Ok(())
    }

    fn existing(&self, key: &ObjectKey) -> Result<Value, ApiError> {
        self.store.get(key).cloned().ok_or_else(|| ApiError::not_found(key.resource, &key.name))
    }

    pub fn get(&mut self, resource: Resource, namespace: &str, name: &str) -> Result<Value, ApiError> {
        self.require_served(resource)?;
        let key = ObjectKey::new(resource, namespace, name);
        let object = self.existing(&key)?;
        if is_deleting(&object) {
            self.count_read_while_deleting(&key)?;
        }
        if resource == Resource::Application {
            self.application_read(&key);
        }
        self.settle();
        Ok(object)
    }

    pub fn list(&mut self, resource: Resource, namespace: Option<&str>, query: &ListQuery) -> Result<Value, ApiError> {
        self.require_served(resource)?;
        let after = match &query.continue_token {
            Some(token) => Some(decode_continue(token)?),
            None => None,
        };
        let matching: Vec<(&ObjectKey, &Value)> = self
            .store
            .list(resource, namespace)
            .filter(|(k, _)| after.as_ref().is_none_or(|(ns, name)| (&k.namespace, &k.name) > (ns, name)))
            .filter(|(_, o)| query.labels.matches(o) && query.fields.matches(o))
            .collect();
        let limit = query.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let page = &matching[..matching.len().min(limit)];
        let mut list_meta = json!({"resourceVersion": self.store.current_version()});
        if matching.len() > page.len()
            && let Some((last, _)) = page.last()
        {
            list_meta["continue"] = json!(encode_continue(&last.namespace, &last.name));
            list_meta["remainingItemCount"] = json!(matching.len() - page.len());
        }
        let items: Vec<Value> = page.iter().map(|(_, o)| list_item(resource, o)).collect();
        let read: Vec<ObjectKey> = page.iter().map(|(k, _)| (*k).clone()).collect();
        let list = json!({
            "kind": resource.list_kind(),
            "apiVersion": resource.api_version(),
            "metadata": list_meta,
            "items": items,
        });
        if resource == Resource::Application {
            for key in &read {
                self.application_read(key);
            }
            self.settle();
        }
        Ok(list)
    }

    pub fn create(
        &mut self,
        resource: Resource,
        namespace: &str,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        self.require_served(resource)?;
        rules::check_identity(resource, namespace, None, &mut body)?;
        if meta_str(&body, "name").is_none_or(str::is_empty)
            && let Some(prefix) = meta_str(&body, "generateName").map(str::to_string)
        {
            let name = format!("{prefix}{}", self.store.name_suffix());
            meta_mut(&mut body).insert("name".into(), json!(name));
        }
        let name = meta_str(&body, "name").unwrap_or_default().to_string();
        if name.is_empty() {
            // Let validation report the missing name with the real wording.
            rules::validate(resource, &self.schemas, None, &body)?;
        }
        self.require_namespace(resource, namespace)?;
        let key = ObjectKey::new(resource, namespace, &name);
        if self.store.get(&key).is_some() {
            return Err(ApiError::already_exists(resource, &name));
        }
        let warnings = self.prune(resource, &mut body, opts.validation, false)?;
        let now = store::now();
        rules::normalize(resource, None, &mut body)?;
        rules::carry_server_metadata(resource, None, &mut body, &mut self.store, &now);
        meta_mut(&mut body).remove("resourceVersion");
        let changes = Changes::between(resource, &json!({}), &body);
        let mut managed = ManagedFields::default();
        managed.record_update(&opts.manager, resource.api_version(), &now, &changes);
        managed.write(&mut body);
        let object = self.commit(&key, None, body, opts.dry_run)?;
        if !opts.dry_run {
            self.after_create(&key)?;
        }
        self.settle();
        Ok(Written { object, created: true, warnings })
    }

    pub fn replace(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        self.require_served(resource)?;
        rules::check_identity(resource, namespace, Some(name), &mut body)?;
        let key = ObjectKey::new(resource, namespace, name);
        let old = self.existing(&key)?;
        check_preconditions(&key, &old, meta_str(&body, "uid"), meta_str(&body, "resourceVersion"))?;
        let warnings = self.prune(resource, &mut body, opts.validation, false)?;
        let object = self.update_object(&key, old, body, opts)?;
        self.settle();
        Ok(Written { object, created: false, warnings })
    }

    pub fn patch(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        body: PatchBody,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        self.require_served(resource)?;
        let key = ObjectKey::new(resource, namespace, name);
        let (old, mut new) = match body {
            PatchBody::Apply { config, force } => return self.apply(&key, config, force, opts),
            PatchBody::Strategic(_) if resource.is_custom() => {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                ));
            }
            PatchBody::Merge(p) | PatchBody::Strategic(p) => {
                let old = self.existing(&key)?;
                let mut new = old.clone();
                patch::merge_patch(&mut new, &p);
                (old, new)
            }
            PatchBody::Json(p) => {
                let old = self.existing(&key)?;
                let new = patch::json_patch(&old, &p)?;
                (old, new)
            }
        };
        rules::check_identity(resource, namespace, Some(name), &mut new)?;
        check_preconditions(&key, &old, None, meta_str(&new, "resourceVersion"))?;
        let warnings = self.prune(resource, &mut new, opts.validation, false)?;
        let object = self.update_object(&key, old, new, opts)?;
        self.settle();
        Ok(Written { object, created: false, warnings })
    }

    fn apply(
        &mut self,
        key: &ObjectKey,
        mut config: Value,
        force: bool,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let resource = key.resource;
        if opts.manager.is_empty() {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        for field in ["apiVersion", "kind"] {
            if config.get(field).and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(ApiError::bad_request(format!(
                    "error decoding patch: Object '{}' is missing in the applied configuration",
                    if field == "kind" { "Kind" } else { "apiVersion" }
                )));
            }
        }
        rules::check_identity(resource, &key.namespace, Some(&key.name), &mut config)?;
        if meta(&config).and_then(|m| m.get("managedFields")).is_some_and(|v| !v.is_null()) {
            return Err(ApiError::bad_request("metadata.managedFields must be nil"));
        }
        let old = self.store.get(key).cloned();
        if old.is_none() {
            self.require_namespace(resource, &key.namespace)?;
        }
        if let Some(wanted) = meta_str(&config, "resourceVersion")
            && old.as_ref().and_then(|o| meta_str(o, "resourceVersion")) != Some(wanted)
        {
            return Err(ApiError::stale(resource, &key.name));
        }
        let warnings = self.prune(resource, &mut config, opts.validation, true)?;
        apply::strip_nulls(&mut config);
        let now = store::now();
        let mut merged = apply::apply(ApplyRequest {
            resource,
            live: old.as_ref(),
            config: &config,
            manager: &opts.manager,
            force,
            now: &now,
        })?;
        rules::normalize(resource, old.as_ref(), &mut merged)?;
        rules::carry_server_metadata(resource, old.as_ref(), &mut merged, &mut self.store, &now);
        let object = self.commit(key, old.as_ref(), merged, opts.dry_run)?;
        if old.is_none() && !opts.dry_run {
            self.after_create(key)?;
        }
        self.settle();
        Ok(Written { object, created: old.is_none(), warnings })
    }

    pub fn delete(
        &mut self,
        resource: Resource,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        self.require_served(resource)?;
        if resource == Resource::Namespace {
            return Err(ApiError::method_not_allowed());
        }
        let key = ObjectKey::new(resource, namespace, name);
        let old = self.existing(&key)?;
        check_preconditions(&key, &old, opts.uid.as_deref(), opts.resource_version.as_deref())?;
        let uid = meta_str(&old, "uid").unwrap_or_default().to_string();
        if opts.orphan && !opts.dry_run {
            self.orphaned.insert(uid.clone());
        }
        if finalizers(&old).is_empty() {
            if !opts.dry_run {
                self.store.remove(&key);
                self.finalizers.gets_since_delete.remove(&key);
                self.changes.push(Change { key, old: Some(old), new: None });
                self.settle();
            }
            return Ok(Deleted::Gone { uid });
        }
        if is_deleting(&old) || opts.dry_run {
            return Ok(Deleted::Pending(old));
        }
        let mut deleting = old.clone();
        let meta = meta_mut(&mut deleting);
        meta.insert("deletionTimestamp".into(), json!(store::now()));
        meta.insert("deletionGracePeriodSeconds".into(), json!(0));
        if let Some(generation) = meta.get("generation").and_then(Value::as_i64) {
            meta.insert("generation".into(), json!(generation + 1));
        }
        meta.insert("resourceVersion".into(), json!(self.store.next_version()));
        self.store.insert(key.clone(), deleting.clone());
        self.finalizers.gets_since_delete.insert(key.clone(), 0);
        self.changes.push(Change { key, old: Some(old), new: Some(deleting.clone()) });
        self.settle();
        Ok(Deleted::Pending(deleting))
    }

    /// Removes finalizers as the controller would (all, or only `only`);
    /// a deleting object without finalizers left disappears.
    pub fn remove_finalizers(&mut self, key: &ObjectKey, only: Option<&str>) -> Result<(), ApiError> {
        let old = self.existing(key)?;
        let mut new = old.clone();
        let kept: Vec<String> = finalizers(&old).into_iter().filter(|f| only.is_some_and(|o| o != f)).collect();
        meta_mut(&mut new).insert("finalizers".into(), json!(kept));
        self.update_object(key, old, new, &WriteOptions::manager(CONTROLLER))?;
        self.settle();
        Ok(())
    }

    pub fn release_after_gets(&mut self, key: ObjectKey, gets: u32) {
        self.finalizers.per_object.insert(key, gets);
    }

    /// The shared tail of PUT and non-apply PATCH: ownership as an `Update`.
    pub(crate) fn update_object(
        &mut self,
        key: &ObjectKey,
        old: Value,
        mut new: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let resource = key.resource;
        let now = store::now();
        rules::normalize(resource, Some(&old), &mut new)?;
        rules::carry_server_metadata(resource, Some(&old), &mut new, &mut self.store, &now);
        let changes = Changes::between(resource, &old, &new);
        let mut managed = ManagedFields::read(&old);
        managed.record_update(&opts.manager, resource.api_version(), &now, &changes);
        managed.write(&mut new);
        self.commit(key, Some(&old), new, opts.dry_run)
    }

    /// Validates, versions and stores a write; a write that changes nothing
    /// returns the stored object untouched, as the real server does.
    fn commit(
        &mut self,
        key: &ObjectKey,
        old: Option<&Value>,
        mut new: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let resource = key.resource;
        rules::validate(resource, &self.schemas, old, &new)?;
        if let Some(old) = old {
            rules::bump_generation(resource, old, &mut new);
            if unchanged(old, &new) {
                return Ok(old.clone());
            }
        }
        if dry_run {
            match old.and_then(|o| meta_str(o, "resourceVersion")) {
                Some(rv) => meta_mut(&mut new).insert("resourceVersion".into(), json!(rv)),
                None => meta_mut(&mut new).remove("resourceVersion"),
            };
            return Ok(new);
        }
        let version = self.store.next_version();
        meta_mut(&mut new).insert("resourceVersion".into(), json!(version));
        let gone = is_deleting(&new) && finalizers(&new).is_empty();
        if gone {
            self.store.remove(key);
            self.finalizers.gets_since_delete.remove(key);
            self.finalizers.per_object.remove(key);
        } else {
            self.store.insert(key.clone(), new.clone());
        }
        self.changes.push(Change { key: key.clone(), old: old.cloned(), new: (!gone).then(|| new.clone()) });
        Ok(new)
    }

    /// A controller's status write: only `status` changes, validated like any write, with no
    /// managedFields entry (status is never owned here).
    pub(crate) fn write_status(&mut self, key: &ObjectKey, old: Value, status: Value) {
        let mut new = old.clone();
        new["status"] = status;
        let _ = self.commit(key, Some(&old), new, false);
    }

    /// Stores objects as they are, with server metadata filled in, without validation, managedFields
    /// or controllers: for seeding large stores fast (a benchmark's thousands of Applications).
    pub fn seed(&mut self, resource: Resource, objects: Vec<Value>) -> Result<usize, ApiError> {
        self.require_served(resource)?;
        let count = objects.len();
        for mut object in objects {
            let namespace = meta_str(&object, "namespace").unwrap_or("default").to_string();
            rules::check_identity(resource, &namespace, None, &mut object)?;
            let name = meta_str(&object, "name").unwrap_or_default().to_string();
            if name.is_empty() {
                return Err(ApiError::bad_request("every seeded object needs metadata.name"));
            }
            self.require_namespace(resource, &namespace)?;
            let now = store::now();
            rules::carry_server_metadata(resource, None, &mut object, &mut self.store, &now);
            let version = self.store.next_version();
            meta_mut(&mut object).insert("resourceVersion".into(), json!(version));
            self.store.insert(ObjectKey::new(resource, &namespace, &name), object);
        }
        Ok(count)
    }

    fn prune(
        &self,
        resource: Resource,
        object: &mut Value,
        mode: FieldValidation,
        is_apply: bool,
    ) -> Result<Vec<String>, ApiError> {
        match self.schemas.for_resource(resource) {
            Some(schema) => prune_unknown(schema, object, mode, is_apply),
            None => Ok(Vec::new()),
        }
    }

    /// The simulated controller adds its finalizers in a write of its own.
    fn after_create(&mut self, key: &ObjectKey) -> Result<(), ApiError> {
        if key.resource != Resource::ApplicationSet || self.finalizers.on_create.is_empty() {
            return Ok(());
        }
        let old = self.existing(key)?;
        let mut wanted = finalizers(&old);
        for f in &self.finalizers.on_create {
            if !wanted.contains(f) {
                wanted.push(f.clone());
            }
        }
        let mut new = old.clone();
        meta_mut(&mut new).insert("finalizers".into(), json!(wanted));
        self.update_object(key, old, new, &WriteOptions::manager(CONTROLLER))?;
        Ok(())
    }

    fn count_read_while_deleting(&mut self, key: &ObjectKey) -> Result<(), ApiError> {
        let policy = &mut self.finalizers;
        let Some(limit) = policy.per_object.get(key).copied().or(policy.release_after_gets) else {
            return Ok(());
        };
        let seen = policy.gets_since_delete.entry(key.clone()).or_insert(0);
        *seen += 1;
        if *seen >= limit {
            self.remove_finalizers(key, None)?;
        }
        Ok(())
    }
}

fn check_preconditions(key: &ObjectKey, old: &Value, uid: Option<&str>, version: Option<&str>) -> Result<(), ApiError> {
    let current_uid = meta_str(old, "uid").unwrap_or_default();
    if let Some(uid) = uid.filter(|u| !u.is_empty() && *u != current_uid) {
        return Err(ApiError::conflict(
            key.resource,
            &key.name,
            &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {current_uid}"),
        ));
    }
    let current_version = meta_str(old, "resourceVersion").unwrap_or_default();
    if version.is_some_and(|v| !v.is_empty() && v != current_version) {
        return Err(ApiError::stale(key.resource, &key.name));
    }
    Ok(())
}

/// Equal except for resourceVersion and managedFields timestamps.
fn unchanged(old: &Value, new: &Value) -> bool {
    let strip = |o: &Value| {
        let mut copy = o.clone();
        let meta = meta_mut(&mut copy);
        meta.remove("resourceVersion");
        meta.remove("managedFields");
        copy
    };
    strip(old) == strip(new) && ManagedFields::read(old).same_owners(&ManagedFields::read(new))
}

/// Built-in list items carry no `apiVersion`/`kind`; custom ones do.
fn list_item(resource: Resource, object: &Value) -> Value {
    let mut item = object.clone();
    if !resource.is_custom()
        && let Some(map) = item.as_object_mut()
    {
        map.remove("apiVersion");
        map.remove("kind");
    }
    item
}

fn encode_continue(namespace: &str, name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{namespace}/{name}"))
}

fn decode_continue(token: &str) -> Result<(String, String), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (ns, name) = text.split_once('/').ok_or_else(bad)?;
    Ok((ns.to_string(), name.to_string()))
}
