//! Server-side apply: merging an applied configuration into the live object
//! while tracking, per manager, which fields it owns.

use serde_json::Value;

use crate::fields::{self, FieldSet};
use crate::managed::{ManagedFields, Operation};
use crate::resources::Resource;
use crate::status::ApiError;

pub struct ApplyRequest<'a> {
    pub resource: Resource,
    /// The current object, or `None` when apply creates it.
    pub live: Option<&'a Value>,
    /// The applied configuration, already pruned and without nulls.
    pub config: &'a Value,
    pub manager: &'a str,
    pub force: bool,
    pub now: &'a str,
}

/// Merges `config` into the live object and updates `managedFields`.
///
/// Fails with a 409 listing every contested field unless `force` is set, in
/// which case the applier takes those fields from their previous owners.
pub fn apply(req: ApplyRequest<'_>) -> Result<Value, ApiError> {
    let resource = req.resource;
    let live = req.live.cloned().unwrap_or_else(|| Value::Object(Default::default()));
    let mut managed = ManagedFields::read(&live);
    let applied = FieldSet::leaves_of(resource, req.config);

    let mut merged = live.clone();
    merge_into(&mut merged, req.config);

    let is_applier = |manager: &str, operation: Operation| manager == req.manager && operation == Operation::Apply;

    // A field conflicts when the applier sets it, someone else owns it, and
    // the value actually changes; equal values become shared ownership.
    let mut conflicts = Vec::new();
    for entry in &managed.entries {
        if is_applier(&entry.manager, entry.operation) {
            continue;
        }
        for path in entry.fields.iter().filter(|p| applied.contains(p)) {
            if fields::get(&live, path) != fields::get(&merged, path) {
                conflicts.push((entry.manager.clone(), entry.api_version.clone(), path.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        if !req.force {
            let listed: Vec<(String, String, String)> =
                conflicts.iter().map(|(m, v, p)| (m.clone(), v.clone(), fields::display(p))).collect();
            return Err(ApiError::apply_conflicts(&listed));
        }
        for entry in &mut managed.entries {
            if is_applier(&entry.manager, entry.operation) {
                continue;
            }
            for (manager, _, path) in &conflicts {
                if *manager == entry.manager {
                    entry.fields.remove_subtree(path);
                }
            }
        }
    }

    // Fields the applier owned before and no longer applies are removed,
    // unless another manager still owns them (or something below them).
    let previous = managed.find(req.manager, Operation::Apply).map(|e| e.fields.clone()).unwrap_or_default();
    let others = managed
        .entries
        .iter()
        .filter(|e| !is_applier(&e.manager, e.operation))
        .fold(FieldSet::default(), |acc, e| acc.union(&e.fields));
    for path in previous.iter() {
        let still_wanted = applied.contains(path) || applied.has_below(path);
        let kept_by_others = others.contains(path) || others.has_below(path);
        if !still_wanted && !kept_by_others {
            fields::remove(&mut merged, path);
        }
    }

    let entry = managed.entry(req.manager, Operation::Apply, resource.api_version(), req.now);
    entry.fields = applied;
    entry.time = req.now.to_string();
    entry.api_version = resource.api_version().to_string();
    managed.write(&mut merged);
    Ok(merged)
}

/// Deep merge for apply: maps merge per key, everything else (scalars,
/// lists) is replaced whole.
fn merge_into(target: &mut Value, source: &Value) {
    match (target, source) {
        (Value::Object(t), Value::Object(s)) => {
            for (key, value) in s {
                match t.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => merge_into(existing, value),
                    _ => {
                        t.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (t, s) => *t = s.clone(),
    }
}

/// Nulls in an applied configuration mean "not set by me": drop them.
pub fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(live: Option<&Value>, config: Value, manager: &str, force: bool) -> Result<Value, ApiError> {
        apply(ApplyRequest { resource: Resource::Secret, live, config: &config, manager, force, now: "t" })
    }

    #[test]
    fn apply_creates_and_records_ownership() {
        let out =
            run(None, json!({"metadata": {"name": "s", "labels": {"a": "1"}}, "data": {"k": "dg=="}}), "tf", false)
                .unwrap();
        assert_eq!(
            out["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:a": {}}}})
        );
    }

    #[test]
    fn conflicting_value_from_other_manager_is_a_409_and_force_takes_it() {
        let first = run(None, json!({"metadata": {"labels": {"a": "1"}}}), "human", false).unwrap();
        let err = run(Some(&first), json!({"metadata": {"labels": {"a": "2"}}}), "tf", false).unwrap_err();
        assert_eq!(err.code, 409);
        assert!(err.message.contains(".metadata.labels.a"), "{}", err.message);
        let forced = run(Some(&first), json!({"metadata": {"labels": {"a": "2"}}}), "tf", true).unwrap();
        let owners = ManagedFields::read(&forced);
        assert_eq!(owners.entries.len(), 1);
        assert_eq!(owners.entries[0].manager, "tf");
    }

    #[test]
    fn omitted_fields_are_removed_unless_shared() {
        let a = run(None, json!({"data": {"x": "MQ==", "y": "Mg=="}}), "tf", false).unwrap();
        let b = run(Some(&a), json!({"data": {"y": "Mg=="}}), "other", false).unwrap();
        let c = run(Some(&b), json!({"data": {}}), "tf", false).unwrap();
        assert_eq!(c["data"], json!({"y": "Mg=="}));
    }
}
