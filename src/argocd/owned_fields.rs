//! Drift over the fields we own: the part of a live Kubernetes object that our field manager
//! wrote or that our configuration says, and nothing else.
//!
//! Others (Argo CD, kubectl users, admission webhooks) may add fields to an object we apply. Those
//! must not show up as a diff, or every plan would try to remove what server-side apply would never
//! remove anyway. A field of ours that someone changed by hand must show up, even though the change
//! moved its ownership to their field manager. So the view of a live object is its projection onto
//! the union of two field sets: what our manager owns according to `metadata.managedFields`, and
//! what the object we last applied contains.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

/// A set of field paths as a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldSet {
    /// The whole subtree: a scalar, a list, or an object taken as one value.
    Whole,
    /// Some members of an object; empty is the empty set.
    Members(BTreeMap<String, FieldSet>),
}

impl Default for FieldSet {
    fn default() -> Self {
        FieldSet::Members(BTreeMap::new())
    }
}

impl FieldSet {
    /// Every path present in `object`, recursing into objects; lists and scalars are whole, as
    /// are empty objects (`automated: {}` owns whatever is under it).
    pub fn of_object(object: &Json) -> FieldSet {
        match object {
            Json::Object(map) if !map.is_empty() => {
                FieldSet::Members(map.iter().map(|(k, v)| (k.clone(), FieldSet::of_object(v))).collect())
            }
            _ => FieldSet::Whole,
        }
    }

    /// The fields `manager` owns through server-side apply, from the object's
    /// `metadata.managedFields` (`fieldsV1`). Empty when the manager owns nothing.
    pub fn managed_by(object: &Json, manager: &str) -> FieldSet {
        let entries = object.pointer("/metadata/managedFields").and_then(Json::as_array);
        let mut set = FieldSet::default();
        for entry in entries.into_iter().flatten() {
            let ours = entry.get("manager").and_then(Json::as_str) == Some(manager)
                && entry.get("operation").and_then(Json::as_str) == Some("Apply");
            if let (true, Some(fields)) = (ours, entry.get("fieldsV1")) {
                set = set.union(FieldSet::from_fields_v1(fields));
            }
        }
        set
    }

    /// Parses `fieldsV1`: `f:<name>` is a member; `k:`, `v:` and `i:` address list elements, and
    /// we own such a list as a whole (a list we write is one value to us); `.` marks the node
    /// itself, and a node with nothing but `.` (or nothing) is owned whole.
    fn from_fields_v1(fields: &Json) -> FieldSet {
        let Some(map) = fields.as_object() else { return FieldSet::Whole };
        if map.keys().any(|k| k.starts_with("k:") || k.starts_with("v:") || k.starts_with("i:")) {
            return FieldSet::Whole;
        }
        let members: BTreeMap<String, FieldSet> = map
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("f:").map(|name| (name.to_string(), FieldSet::from_fields_v1(v))))
            .collect();
        if members.is_empty() { FieldSet::Whole } else { FieldSet::Members(members) }
    }

    /// Both sets together; a whole subtree absorbs any part of it.
    pub fn union(self, other: FieldSet) -> FieldSet {
        match (self, other) {
            (FieldSet::Whole, _) | (_, FieldSet::Whole) => FieldSet::Whole,
            (FieldSet::Members(mut a), FieldSet::Members(b)) => {
                for (key, theirs) in b {
                    let merged = match a.remove(&key) {
                        Some(ours) => ours.union(theirs),
                        None => theirs,
                    };
                    a.insert(key, merged);
                }
                FieldSet::Members(a)
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, FieldSet::Members(m) if m.is_empty())
    }

    /// The part of `object` inside this set.
    pub fn project(&self, object: &Json) -> Json {
        match (self, object) {
            (FieldSet::Members(members), Json::Object(map)) => Json::Object(
                members
                    .iter()
                    .filter_map(|(key, sub)| map.get(key).map(|v| (key.clone(), sub.project(v))))
                    .collect::<Map<String, Json>>(),
            ),
            // A member set over a non-object: the value changed type under us; show all of it.
            _ => object.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live() -> Json {
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {
                "name": "addons", "namespace": "argocd", "resourceVersion": "7",
                "finalizers": ["resources-finalizer.argocd.argoproj.io"],
                "managedFields": [
                    { "manager": "terraform-provider-gitopsbridge", "operation": "Apply", "fieldsType": "FieldsV1",
                      "fieldsV1": { "f:spec": { "f:generators": {}, "f:template": { "f:metadata": { "f:name": {} },
                        "f:spec": { ".": {}, "f:project": {} } } } } },
                    { "manager": "argocd-applicationset-controller", "operation": "Update", "subresource": "status",
                      "fieldsV1": { "f:status": {} } },
                    { "manager": "kubectl-edit", "operation": "Update",
                      "fieldsV1": { "f:spec": { "f:template": { "f:spec": { "f:destination": { "f:namespace": {} } } } } } }
                ]
            },
            "spec": {
                "generators": [{ "clusters": {} }],
                "template": { "metadata": { "name": "a-{{name}}" },
                    "spec": { "project": "default", "destination": { "name": "{{name}}", "namespace": "edited" } } }
            },
            "status": { "conditions": [] }
        })
    }

    #[test]
    fn only_our_apply_entries_count() {
        let set = FieldSet::managed_by(&live(), "terraform-provider-gitopsbridge");
        let projected = set.project(&live());
        assert_eq!(
            projected,
            json!({ "spec": { "generators": [{ "clusters": {} }],
                "template": { "metadata": { "name": "a-{{name}}" }, "spec": { "project": "default" } } } })
        );
        assert!(FieldSet::managed_by(&live(), "someone-else").is_empty());
    }

    #[test]
    fn a_field_of_ours_edited_by_hand_stays_in_view_through_the_last_applied_object() {
        let applied = json!({ "metadata": { "name": "addons", "namespace": "argocd" },
            "spec": { "template": { "spec": { "destination": { "name": "{{name}}", "namespace": "argocd" } } } } });
        let set = FieldSet::of_object(&applied).union(FieldSet::managed_by(&live(), "terraform-provider-gitopsbridge"));
        let projected = set.project(&live());
        assert_eq!(
            projected["spec"]["template"]["spec"]["destination"],
            json!({ "name": "{{name}}", "namespace": "edited" })
        );
        assert_eq!(projected["metadata"], json!({ "name": "addons", "namespace": "argocd" }));
        assert!(projected.get("status").is_none());
        assert!(projected["metadata"].get("finalizers").is_none());
    }

    #[test]
    fn granular_lists_are_owned_whole() {
        let fields = json!({ "f:spec": { "f:items": { "k:{\"name\":\"a\"}": { ".": {}, "f:name": {} } } } });
        let set = FieldSet::from_fields_v1(&fields);
        let object = json!({ "spec": { "items": [{ "name": "a" }, { "name": "b" }], "other": 1 } });
        assert_eq!(set.project(&object), json!({ "spec": { "items": [{ "name": "a" }, { "name": "b" }] } }));
    }

    #[test]
    fn union_lets_a_whole_subtree_absorb_its_parts() {
        let whole = FieldSet::of_object(&json!({ "a": [1] }));
        let part = FieldSet::of_object(&json!({ "a": { "b": 1 }, "c": 2 }));
        let object = json!({ "a": { "b": 1, "x": 2 }, "c": 2, "d": 3 });
        assert_eq!(whole.union(part).project(&object), json!({ "a": { "b": 1, "x": 2 }, "c": 2 }));
    }
}
