//! Structural schemas: the CRD's `openAPIV3Schema` for ApplicationSets and
//! hand-written equivalents for Secrets, Namespaces and `ObjectMeta`. They
//! drive unknown-field pruning (`fieldValidation`) and value validation.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::Error;
use crate::resources::Resource;
use crate::status::{ApiError, Cause};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JsonType {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
}

impl JsonType {
    fn parse(name: &str) -> Option<JsonType> {
        Some(match name {
            "object" => JsonType::Object,
            "array" => JsonType::Array,
            "string" => JsonType::String,
            "integer" => JsonType::Integer,
            "number" => JsonType::Number,
            "boolean" => JsonType::Boolean,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            JsonType::Object => "object",
            JsonType::Array => "array",
            JsonType::String => "string",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::Boolean => "boolean",
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            JsonType::Object => value.is_object(),
            JsonType::Array => value.is_array(),
            JsonType::String => value.is_string(),
            JsonType::Boolean => value.is_boolean(),
            JsonType::Number => value.is_number(),
            // Whole floats decode as integers in the real server too.
            JsonType::Integer => value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0),
        }
    }
}

/// The JSON type name of a value, as the real validation messages print it.
fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[derive(Clone, Debug, Default)]
pub struct Schema {
    ty: Option<JsonType>,
    properties: BTreeMap<String, Schema>,
    required: Vec<String>,
    items: Option<Box<Schema>>,
    additional: Option<Box<Schema>>,
    /// `additionalProperties: true` or preserve-unknown-fields: keep any key.
    keep_unknown: bool,
    enum_values: Vec<Value>,
    format: Option<String>,
    nullable: bool,
    int_or_string: bool,
    min_length: Option<u64>,
}

impl Schema {
    /// Compiles a JSON-schema node of a structural CRD schema.
    pub fn compile(node: &Value) -> Schema {
        let get = |key: &str| node.get(key);
        let mut schema = Schema {
            ty: get("type").and_then(Value::as_str).and_then(JsonType::parse),
            required: get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            enum_values: get("enum").and_then(Value::as_array).cloned().unwrap_or_default(),
            format: get("format").and_then(Value::as_str).map(str::to_string),
            nullable: get("nullable").and_then(Value::as_bool).unwrap_or(false),
            int_or_string: get("x-kubernetes-int-or-string").and_then(Value::as_bool).unwrap_or(false),
            keep_unknown: get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool).unwrap_or(false),
            min_length: get("minLength").and_then(Value::as_u64),
            ..Schema::default()
        };
        if let Some(props) = get("properties").and_then(Value::as_object) {
            schema.properties = props.iter().map(|(k, v)| (k.clone(), Schema::compile(v))).collect();
        }
        if let Some(items) = get("items") {
            schema.items = Some(Box::new(Schema::compile(items)));
        }
        match get("additionalProperties") {
            Some(Value::Bool(true)) => schema.keep_unknown = true,
            Some(node @ Value::Object(_)) => schema.additional = Some(Box::new(Schema::compile(node))),
            _ => {}
        }
        schema
    }

    /// Removes fields the schema does not declare; returns their paths.
    pub fn prune(&self, value: &mut Value, path: &str, unknown: &mut Vec<String>) {
        match value {
            Value::Object(map) if self.ty == Some(JsonType::Object) || !self.properties.is_empty() => {
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let child_path = join(path, &key);
                    let child_schema = self.properties.get(&key).or(self.additional.as_deref());
                    match (child_schema, map.get_mut(&key)) {
                        (Some(schema), Some(child)) => schema.prune(child, &child_path, unknown),
                        (None, _) if self.keep_unknown => {}
                        (None, _) => {
                            map.remove(&key);
                            unknown.push(child_path);
                        }
                        _ => {}
                    }
                }
            }
            Value::Array(items) => {
                if let Some(schema) = &self.items {
                    for (i, item) in items.iter_mut().enumerate() {
                        schema.prune(item, &format!("{path}[{i}]"), unknown);
                    }
                }
            }
            _ => {}
        }
    }

    /// Validates `value`; one cause per violation, with its field path.
    pub fn validate(&self, value: &Value, path: &str, causes: &mut Vec<Cause>) {
        if value.is_null() {
            if !self.nullable && (self.ty.is_some() || self.int_or_string) {
                let expected = self.ty.map(JsonType::name).unwrap_or("string");
                causes.push(type_error(path, expected, value));
            }
            return;
        }
        if self.int_or_string {
            if !(JsonType::Integer.accepts(value) || value.is_string()) {
                causes.push(type_error(path, "integer or string", value));
            }
            return;
        }
        if let Some(ty) = self.ty
            && !ty.accepts(value)
        {
            causes.push(type_error(path, ty.name(), value));
            return;
        }
        if !self.enum_values.is_empty() && !self.enum_values.contains(value) {
            causes.push(Cause::not_supported(path, value, &self.enum_values));
        }
        self.validate_format(value, path, causes);
        match value {
            Value::Object(map) => {
                for name in &self.required {
                    if !map.contains_key(name) {
                        causes.push(Cause::required(join(path, name), ""));
                    }
                }
                for (key, child) in map {
                    if let Some(schema) = self.properties.get(key).or(self.additional.as_deref()) {
                        schema.validate(child, &join(path, key), causes);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(schema) = &self.items {
                    for (i, item) in items.iter().enumerate() {
                        schema.validate(item, &format!("{path}[{i}]"), causes);
                    }
                }
            }
            _ => {}
        }
    }

    fn validate_format(&self, value: &Value, path: &str, causes: &mut Vec<Cause>) {
        if let (Some(min), Some(text)) = (self.min_length, value.as_str())
            && (text.chars().count() as u64) < min
        {
            causes.push(Cause::invalid(path, value, format!("{path} in body should be at least {min} chars long")));
        }
        let range = match self.format.as_deref() {
            Some("int32") => Some((i32::MIN as f64, i32::MAX as f64)),
            Some("int64") => Some((i64::MIN as f64, i64::MAX as f64)),
            _ => None,
        };
        if let (Some((low, high)), Some(number)) = (range, value.as_f64())
            && (number < low || number > high || value.is_u64() && value.as_i64().is_none())
        {
            let format = self.format.as_deref().unwrap_or_default();
            causes.push(Cause::invalid(path, value, format!("{path} in body must be of type {format}: {value}")));
        }
    }
}

fn type_error(path: &str, expected: &str, value: &Value) -> Cause {
    let actual = type_of(value);
    Cause::invalid(
        path,
        &Value::String(actual.to_string()),
        format!("{path} in body must be of type {expected}: \"{actual}\""),
    )
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// `ObjectMeta` as far as clients may write it.
fn object_meta() -> Schema {
    Schema::compile(&json!({
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "generateName": {"type": "string"},
            "namespace": {"type": "string"},
            "selfLink": {"type": "string"},
            "uid": {"type": "string"},
            "resourceVersion": {"type": "string"},
            "generation": {"type": "integer", "format": "int64"},
            "creationTimestamp": {"type": "string", "nullable": true},
            "deletionTimestamp": {"type": "string", "nullable": true},
            "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            "finalizers": {"type": "array", "items": {"type": "string"}},
            "ownerReferences": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            "managedFields": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
        }
    }))
}

/// Root schema with `apiVersion`, `kind` and the `ObjectMeta` schema in
/// place of whatever the resource declares for `metadata`.
fn with_type_meta(mut root: Schema) -> Schema {
    root.properties.insert("apiVersion".into(), Schema { ty: Some(JsonType::String), ..Schema::default() });
    root.properties.insert("kind".into(), Schema { ty: Some(JsonType::String), ..Schema::default() });
    root.properties.insert("metadata".into(), object_meta());
    root
}

fn secret_schema() -> Schema {
    with_type_meta(Schema::compile(&json!({
        "type": "object",
        "properties": {
            "data": {"type": "object", "additionalProperties": {"type": "string"}},
            "stringData": {"type": "object", "additionalProperties": {"type": "string"}},
            "type": {"type": "string"},
            "immutable": {"type": "boolean"}
        }
    })))
}

fn namespace_schema() -> Schema {
    with_type_meta(Schema::compile(&json!({
        "type": "object",
        "properties": {
            "spec": {"type": "object", "properties": {"finalizers": {"type": "array", "items": {"type": "string"}}}},
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }
    })))
}

/// The parts of a CustomResourceDefinition this server needs.
#[derive(Debug, Clone)]
pub struct Crd {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub kind: String,
    pub schema: Schema,
}

impl Crd {
    pub fn load(path: &Path) -> Result<Crd, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
        let doc: Value = serde_saphyr::from_str(&text).map_err(|e| Error::Crd(format!("{}: {e}", path.display())))?;
        Crd::from_value(&doc)
    }

    pub fn from_value(doc: &Value) -> Result<Crd, Error> {
        let text = |pointer: &str| {
            doc.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| Error::Crd(format!("missing {pointer}")))
        };
        let versions = doc
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Crd("missing /spec/versions".into()))?;
        let served = versions
            .iter()
            .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
            .or_else(|| versions.first())
            .ok_or_else(|| Error::Crd("no versions".into()))?;
        let schema_node =
            served.pointer("/schema/openAPIV3Schema").ok_or_else(|| Error::Crd("missing openAPIV3Schema".into()))?;
        Ok(Crd {
            group: text("/spec/group")?,
            version: served.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
            plural: text("/spec/names/plural")?,
            kind: text("/spec/names/kind")?,
            schema: with_type_meta(Schema::compile(schema_node)),
        })
    }
}

/// The schema of every served resource. Argo CD's kinds are served when `argocd` is set, and
/// validated when their CRD was loaded (without it they accept any object).
pub struct Schemas {
    secret: Schema,
    namespace: Schema,
    pub argocd: bool,
    pub applicationset: Option<Arc<Crd>>,
    pub application: Option<Arc<Crd>>,
}

impl Schemas {
    pub fn new(argocd: bool, applicationset: Option<Arc<Crd>>, application: Option<Arc<Crd>>) -> Schemas {
        Schemas { secret: secret_schema(), namespace: namespace_schema(), argocd, applicationset, application }
    }

    pub fn for_resource(&self, resource: Resource) -> Option<&Schema> {
        match resource {
            Resource::Secret => Some(&self.secret),
            Resource::Namespace => Some(&self.namespace),
            Resource::ApplicationSet => self.applicationset.as_ref().map(|c| &c.schema),
            Resource::Application => self.application.as_ref().map(|c| &c.schema),
        }
    }
}

/// The `fieldValidation` query parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(value: Option<&str>) -> Result<FieldValidation, ApiError> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }
}

/// Prunes unknown fields of `object` as `mode` asks. Returns the `Warning`
/// header texts, or the 400 of `Strict`. Apply and the other verbs word the
/// strict error differently, as the real server does.
pub fn prune_unknown(
    schema: &Schema,
    object: &mut Value,
    mode: FieldValidation,
    is_apply: bool,
) -> Result<Vec<String>, ApiError> {
    let mut unknown = Vec::new();
    schema.prune(object, "", &mut unknown);
    match mode {
        FieldValidation::Ignore => Ok(Vec::new()),
        FieldValidation::Warn => Ok(unknown.iter().map(|p| format!("unknown field \"{p}\"")).collect()),
        FieldValidation::Strict if unknown.is_empty() => Ok(Vec::new()),
        FieldValidation::Strict if is_apply => {
            let lines: Vec<String> = unknown.iter().map(|p| format!(".{p}: field not declared in schema")).collect();
            Err(ApiError::bad_request(lines.join(", ")))
        }
        FieldValidation::Strict => {
            let lines: Vec<String> = unknown.iter().map(|p| format!("unknown field \"{p}\"")).collect();
            Err(ApiError::bad_request(format!("strict decoding error: {}", lines.join(", "))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_reports_paths_with_indices() {
        let schema = with_type_meta(Schema::compile(&json!({
            "type": "object",
            "properties": {"spec": {"type": "object", "properties": {
                "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }}}
        })));
        let mut obj = json!({"metadata": {"name": "x", "bogus": 1},
                             "spec": {"list": [{"a": "1", "b": 2}], "free": {"z": 1}, "extra": true}});
        let mut unknown = Vec::new();
        schema.prune(&mut obj, "", &mut unknown);
        unknown.sort();
        assert_eq!(unknown, vec!["metadata.bogus", "spec.extra", "spec.list[0].b"]);
        assert_eq!(obj["spec"]["free"], json!({"z": 1}));
    }

    #[test]
    fn type_errors_read_like_the_real_ones() {
        let schema = Schema::compile(&json!({"type": "object", "required": ["b"],
            "properties": {"a": {"type": "array", "items": {"type": "string"}}, "b": {"type": "string"}}}));
        let mut causes = Vec::new();
        schema.validate(&json!({"a": "string"}), "spec", &mut causes);
        assert_eq!(causes.len(), 2);
        assert_eq!(causes[0].sentence(), "spec.b: Required value");
        assert_eq!(
            causes[1].sentence(),
            "spec.a: Invalid value: \"string\": spec.a in body must be of type array: \"string\""
        );
    }
}
