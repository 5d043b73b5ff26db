//! `metadata.managedFields`: who owns which fields of an object.

use serde_json::{Value, json};

use crate::fields::{Changes, FieldSet};
use crate::rules;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: String,
    pub fields: FieldSet,
}

/// The entries of one object. A manager is identified by name and operation,
/// as in the real server: "tf" applying and "tf" updating are two owners.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManagedFields {
    pub entries: Vec<Entry>,
}

impl ManagedFields {
    /// Reads the entries this server stored in an object.
    pub fn read(object: &Value) -> ManagedFields {
        let entries = object
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(parse_entry).collect())
            .unwrap_or_default();
        ManagedFields { entries }
    }

    /// Stores the entries into `object`, sorted like the real server does
    /// (apply entries first); drops the key when nobody owns anything.
    pub fn write(mut self, object: &mut Value) {
        self.entries.retain(|e| !e.fields.is_empty());
        self.entries.sort_by(|a, b| (a.operation, &a.time, &a.manager).cmp(&(b.operation, &b.time, &b.manager)));
        let meta = rules::meta_mut(object);
        if self.entries.is_empty() {
            meta.remove("managedFields");
        } else {
            let list: Vec<Value> = self.entries.iter().map(entry_json).collect();
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }

    pub fn find(&self, manager: &str, operation: Operation) -> Option<&Entry> {
        self.entries.iter().find(|e| e.manager == manager && e.operation == operation)
    }

    /// The entry of (manager, operation), created empty when missing.
    pub fn entry(&mut self, manager: &str, operation: Operation, api_version: &str, now: &str) -> &mut Entry {
        let index = match self.entries.iter().position(|e| e.manager == manager && e.operation == operation) {
            Some(index) => index,
            None => {
                self.entries.push(Entry {
                    manager: manager.to_string(),
                    operation,
                    api_version: api_version.to_string(),
                    time: now.to_string(),
                    fields: FieldSet::default(),
                });
                self.entries.len() - 1
            }
        };
        &mut self.entries[index]
    }

    /// Ownership after a non-apply write: the writer takes what it added or
    /// changed, everyone else loses what was changed or removed.
    pub fn record_update(&mut self, manager: &str, api_version: &str, now: &str, changes: &Changes) {
        if changes.is_empty() {
            return;
        }
        let taken = changes.modified.union(&changes.removed);
        for entry in &mut self.entries {
            if !(entry.manager == manager && entry.operation == Operation::Update) {
                entry.fields.remove_subtrees(&taken);
            }
        }
        let entry = self.entry(manager, Operation::Update, api_version, now);
        let mut fields = entry.fields.union(&changes.added).union(&changes.modified);
        fields.remove_subtrees(&changes.removed);
        entry.fields = fields;
        entry.time = now.to_string();
        entry.api_version = api_version.to_string();
    }

    /// Equal apart from timestamps: an apply that changes nothing is a no-op.
    pub fn same_owners(&self, other: &ManagedFields) -> bool {
        let key = |m: &ManagedFields| {
            let mut v: Vec<(String, Operation, FieldSet)> = m
                .entries
                .iter()
                .filter(|e| !e.fields.is_empty())
                .map(|e| (e.manager.clone(), e.operation, e.fields.clone()))
                .collect();
            v.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
            v
        };
        key(self) == key(other)
    }
}

fn parse_entry(value: &Value) -> Option<Entry> {
    let operation = match value.get("operation")?.as_str()? {
        "Apply" => Operation::Apply,
        _ => Operation::Update,
    };
    Some(Entry {
        manager: value.get("manager")?.as_str()?.to_string(),
        operation,
        api_version: value.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string(),
        time: value.get("time").and_then(Value::as_str).unwrap_or_default().to_string(),
        fields: value.get("fieldsV1").map(FieldSet::from_fields_v1).unwrap_or_default(),
    })
}

fn entry_json(entry: &Entry) -> Value {
    json!({
        "manager": entry.manager,
        "operation": entry.operation.as_str(),
        "apiVersion": entry.api_version,
        "time": entry.time,
        "fieldsType": "FieldsV1",
        "fieldsV1": entry.fields.to_fields_v1(),
    })
}
