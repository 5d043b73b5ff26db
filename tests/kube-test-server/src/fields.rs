//! Field sets as server-side apply tracks them (`fieldsType: FieldsV1`).
//!
//! A path is a list of map keys from the object root. Maps are granular (one
//! path per key) and lists are atomic (the list is one path), so list indices
//! never appear and the only path element is `f:<name>`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::resources::Resource;

pub type Path = Vec<String>;

/// Metadata the server owns: never part of anybody's field set.
const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet(BTreeSet<Path>);

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, path: &[String]) -> bool {
        self.0.contains(path)
    }

    pub fn insert(&mut self, path: Path) {
        self.0.insert(path);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.0.iter()
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }

    /// Removes each path of `other` and everything below it.
    pub fn remove_subtrees(&mut self, other: &FieldSet) {
        for gone in other.iter() {
            self.remove_subtree(gone);
        }
    }

    pub fn remove_subtree(&mut self, gone: &[String]) {
        self.0.retain(|p| !p.starts_with(gone));
    }

    /// True when a path of this set lies strictly below `path`.
    pub fn has_below(&self, path: &[String]) -> bool {
        self.0.iter().any(|p| p.len() > path.len() && p.starts_with(path))
    }

    /// The leaves of an applied configuration: every scalar, list and empty
    /// map, reached through non-empty maps.
    pub fn leaves_of(resource: Resource, value: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        let mut path = Vec::new();
        collect_leaves(value, &mut path, &mut set);
        set.without_ignored(resource)
    }

    /// Drops the paths the server manages itself.
    pub fn without_ignored(mut self, resource: Resource) -> FieldSet {
        self.0.retain(|p| !is_ignored(resource, p));
        self
    }

    pub fn to_fields_v1(&self) -> Value {
        let mut root = Node::default();
        for path in &self.0 {
            let node = path.iter().fold(&mut root, |node, key| node.children.entry(key.clone()).or_default());
            node.member = true;
        }
        root.to_json()
    }

    pub fn from_fields_v1(value: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        let mut path = Vec::new();
        read_fields_v1(value, &mut path, &mut set);
        set
    }
}

/// A fieldsV1 tree node: `.` marks a map that is owned itself as well as
/// through its keys; an owned leaf is just `{}`.
#[derive(Default)]
struct Node {
    member: bool,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn to_json(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for (key, child) in &self.children {
            map.insert(format!("f:{key}"), child.to_json());
        }
        Value::Object(map)
    }
}

fn collect_leaves(value: &Value, path: &mut Path, set: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                path.push(key.clone());
                collect_leaves(child, path, set);
                path.pop();
            }
        }
        _ if !path.is_empty() => set.insert(path.clone()),
        _ => {}
    }
}

fn read_fields_v1(value: &Value, path: &mut Path, set: &mut FieldSet) {
    let Value::Object(map) = value else { return };
    for (key, child) in map {
        if key == "." {
            set.insert(path.clone());
        } else if let Some(name) = key.strip_prefix("f:") {
            path.push(name.to_string());
            match child {
                Value::Object(inner) if inner.is_empty() => set.insert(path.clone()),
                _ => read_fields_v1(child, path, set),
            }
            path.pop();
        }
        // `k:`, `v:` and `i:` elements belong to associative lists, which this
        // server treats as atomic; they never occur in sets it writes.
    }
}

/// Paths the API server strips before tracking ownership.
pub fn is_ignored(resource: Resource, path: &[String]) -> bool {
    match path {
        [] => true,
        [top] => top == "apiVersion" || top == "kind" || top == "metadata",
        [top, field, ..] if top == "metadata" => SYSTEM_METADATA.contains(&field.as_str()),
        // The status subresource is reset on writes to the main resource.
        [top, ..] => top == "status" && resource.is_custom(),
    }
}

/// `.metadata.labels.foo`: how conflicts name a path.
pub fn display(path: &[String]) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

pub fn get<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |node, key| node.as_object()?.get(key))
}

/// Removes the value at `path`; true if something was there.
pub fn remove(value: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut node = value;
    for key in parents {
        match node.as_object_mut().and_then(|m| m.get_mut(key)) {
            Some(next) => node = next,
            None => return false,
        }
    }
    node.as_object_mut().is_some_and(|m| m.remove(last).is_some())
}

/// What a non-apply write changed, as ownership sees it.
#[derive(Debug, Default)]
pub struct Changes {
    /// New paths, including each newly created map itself (`.` in fieldsV1).
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Changes {
    pub fn between(resource: Resource, old: &Value, new: &Value) -> Changes {
        let mut changes = Changes::default();
        let mut path = Vec::new();
        diff(Some(old), Some(new), &mut path, &mut changes);
        changes.added = changes.added.without_ignored(resource);
        changes.modified = changes.modified.without_ignored(resource);
        changes.removed = changes.removed.without_ignored(resource);
        changes
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }
}

fn diff(old: Option<&Value>, new: Option<&Value>, path: &mut Path, changes: &mut Changes) {
    match (old, new) {
        (Some(Value::Object(o)), Some(Value::Object(n))) => {
            let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
            for key in keys {
                path.push(key.clone());
                diff(o.get(key), n.get(key), path, changes);
                path.pop();
            }
        }
        (None, Some(n)) => mark_added(n, path, changes),
        (Some(_), None) => changes.removed.insert(path.clone()),
        (Some(o), Some(n)) if o != n => {
            changes.modified.insert(path.clone());
            if let Value::Object(map) = n {
                for (key, child) in map {
                    path.push(key.clone());
                    mark_added(child, path, changes);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

fn mark_added(value: &Value, path: &mut Path, changes: &mut Changes) {
    changes.added.insert(path.clone());
    if let Value::Object(map) = value {
        for (key, child) in map {
            path.push(key.clone());
            mark_added(child, path, changes);
            path.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn p(parts: &[&str]) -> Path {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn leaves_skip_system_metadata_and_keep_maps_granular() {
        let set = FieldSet::leaves_of(
            Resource::Secret,
            &json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "a", "labels": {"x": "1"}},
                    "data": {"k": "dg=="}, "type": "Opaque"}),
        );
        let paths: Vec<&Path> = set.iter().collect();
        assert_eq!(paths, vec![&p(&["data", "k"]), &p(&["metadata", "labels", "x"]), &p(&["type"])]);
    }

    #[test]
    fn fields_v1_round_trips_with_dot_for_owned_maps() {
        let mut set = FieldSet::default();
        set.insert(p(&["data"]));
        set.insert(p(&["data", "k"]));
        set.insert(p(&["type"]));
        let v1 = set.to_fields_v1();
        assert_eq!(v1, json!({"f:data": {".": {}, "f:k": {}}, "f:type": {}}));
        assert_eq!(FieldSet::from_fields_v1(&v1), set);
    }

    #[test]
    fn changes_mark_new_maps_and_modified_leaves() {
        let old = json!({"data": {"a": "1"}});
        let new = json!({"data": {"a": "2"}, "metadata": {"labels": {"x": "y"}}});
        let ch = Changes::between(Resource::Secret, &old, &new);
        assert!(ch.modified.contains(&p(&["data", "a"])));
        assert!(ch.added.contains(&p(&["metadata", "labels"])));
        assert!(ch.added.contains(&p(&["metadata", "labels", "x"])));
        assert!(!ch.added.contains(&p(&["metadata"])));
    }
}
