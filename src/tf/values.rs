//! Reading Terraform values (configuration, plan, state) into plain Rust types and back.
//!
//! Readers treat unknown like null: callers decide first whether a value must be known (apply)
//! or may be skipped (validation of a plan with unknowns).

use std::collections::BTreeMap;

use crate::protocol::Value;

/// A string attribute; `None` when null, unknown or not a string.
pub fn string(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// A string attribute that counts as absent when empty, as Argo CD's `omitempty` fields do.
pub fn non_empty_string(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// A list of strings; unknown or null elements are skipped.
pub fn string_list(value: &Value) -> Vec<String> {
    value.as_list().unwrap_or_default().iter().filter_map(Value::as_str).map(str::to_string).collect()
}

/// A map of strings; unknown or null elements are skipped.
pub fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_map()
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

/// A map of bools; unknown or null elements are skipped.
pub fn bool_map(value: &Value) -> BTreeMap<String, bool> {
    value
        .as_map()
        .map(|m| m.iter().filter_map(|(k, v)| v.as_bool().map(|b| (k.clone(), b))).collect())
        .unwrap_or_default()
}

/// The element of a `max_items = 1` block, or `None` when the block is absent.
pub fn block(value: &Value) -> Option<&Value> {
    value.single_block()
}

/// A map of strings as a Terraform map value.
pub fn map_value(map: &BTreeMap<String, String>) -> Value {
    Value::Map(map.iter().map(|(k, v)| (k.clone(), Value::string(v))).collect())
}

/// A map of bools as a Terraform map value.
pub fn bool_map_value(map: &BTreeMap<String, bool>) -> Value {
    Value::Map(map.iter().map(|(k, v)| (k.clone(), Value::Bool(*v))).collect())
}

/// A string option as a Terraform value (null for `None`).
pub fn opt_string(value: Option<&str>) -> Value {
    value.map_or(Value::Null, Value::string)
}
