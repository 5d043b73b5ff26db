//! What the real per-kind "strategies" do on every write: identity checks,
//! normalization (Secret `stringData`, defaults), server-owned metadata,
//! `generation`, and validation.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::resources::Resource;
use crate::schema::Schemas;
use crate::status::{ApiError, Cause};
use crate::store::Store;
use crate::validate;

/// Metadata only the server writes; client values are replaced.
const SERVER_METADATA: &[&str] =
    &["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "managedFields"];

pub fn meta(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

pub fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = json!({});
    }
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    match object.get_mut("metadata") {
        Some(Value::Object(map)) => map,
        // Both levels were made objects just above.
        _ => unreachable!("metadata is an object"),
    }
}

pub fn meta_str<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    meta(object)?.get(key)?.as_str()
}

pub fn finalizers(object: &Value) -> Vec<String> {
    meta(object)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

pub fn is_deleting(object: &Value) -> bool {
    meta(object).is_some_and(|m| m.contains_key("deletionTimestamp"))
}

/// The 400 of a body the real server could not decode into its type.
fn decode_error(resource: Resource, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version \"{}\" cannot be handled as a {kind}: {why}",
        resource.version(),
        kind = resource.kind()
    ))
}

/// Checks a request body against the URL: it must be an object of this
/// resource, in this namespace, with this name; fills what is missing.
pub fn check_identity(
    resource: Resource,
    namespace: &str,
    url_name: Option<&str>,
    body: &mut Value,
) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(decode_error(resource, "the body must be a JSON object"));
    }
    if body.get("metadata").is_some_and(|m| !m.is_object() && !m.is_null()) {
        return Err(decode_error(resource, "metadata must be an object"));
    }
    match body.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != resource.api_version() => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({})",
                resource.api_version()
            )));
        }
        _ => {}
    }
    match body.get("kind").and_then(Value::as_str) {
        Some(k) if k != resource.kind() => {
            return Err(decode_error(resource, &format!("the kind in the data ({k}) does not match")));
        }
        _ => {}
    }
    body["apiVersion"] = json!(resource.api_version());
    body["kind"] = json!(resource.kind());
    let meta = meta_mut(body);
    if resource.namespaced() {
        match meta.get("namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() && ns != namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                meta.insert("namespace".into(), json!(namespace));
            }
        }
    } else {
        meta.remove("namespace");
    }
    if let Some(url_name) = url_name {
        match meta.get("name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() && name != url_name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({name}) does not match the name on the URL ({url_name})"
                )));
            }
            _ => {
                meta.insert("name".into(), json!(url_name));
            }
        }
    }
    Ok(())
}

/// Per-kind normalization before ownership and validation.
pub fn normalize(resource: Resource, old: Option<&Value>, new: &mut Value) -> Result<(), ApiError> {
    match resource {
        Resource::Secret => normalize_secret(new)?,
        Resource::Namespace => normalize_namespace(new),
        // The status subresource is the only way to write status.
        Resource::ApplicationSet => match old.and_then(|o| o.get("status")) {
            Some(status) => new["status"] = status.clone(),
            None => {
                if let Some(map) = new.as_object_mut() {
                    map.remove("status");
                }
            }
        },
        Resource::Application => {}
    }
    // Typed encoding omits empty maps and lists in metadata.
    let meta = meta_mut(new);
    for key in ["labels", "annotations", "finalizers", "ownerReferences"] {
        let empty = match meta.get(key) {
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Null) => true,
            _ => false,
        };
        if empty {
            meta.remove(key);
        }
    }
    Ok(())
}

fn normalize_secret(secret: &mut Value) -> Result<(), ApiError> {
    let Some(map) = secret.as_object_mut() else { return Ok(()) };
    let decode_error = |why: String| decode_error(Resource::Secret, &why);
    if let Some(data) = map.get("data").and_then(Value::as_object) {
        for value in data.values() {
            match value {
                Value::String(text) => {
                    base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| {
                        decode_error(match e {
                            base64::DecodeError::InvalidByte(at, _) => {
                                format!("illegal base64 data at input byte {at}")
                            }
                            _ => format!("illegal base64 data at input byte {}", text.len()),
                        })
                    })?;
                }
                Value::Null => {}
                other => {
                    return Err(decode_error(format!(
                        "json: cannot unmarshal {} into Go struct field Secret.data of type []uint8",
                        json_kind(other)
                    )));
                }
            }
        }
    }
    // `stringData` is write-only: merged into `data`, never stored.
    if let Some(Value::Object(string_data)) = map.remove("stringData") {
        let data = map.entry("data").or_insert_with(|| json!({}));
        if !data.is_object() {
            *data = json!({});
        }
        for (key, value) in string_data {
            let text = value.as_str().unwrap_or_default();
            data[key.as_str()] = json!(base64::engine::general_purpose::STANDARD.encode(text));
        }
    }
    if map.get("data").is_some_and(|d| d.as_object().is_some_and(Map::is_empty) || d.is_null()) {
        map.remove("data");
    }
    if map.get("type").and_then(Value::as_str).is_none_or(str::is_empty) {
        map.insert("type".into(), json!("Opaque"));
    }
    Ok(())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        _ => "string",
    }
}

fn normalize_namespace(namespace: &mut Value) {
    let name = meta_str(namespace, "name").unwrap_or_default().to_string();
    let labels = meta_mut(namespace).entry("labels").or_insert_with(|| json!({}));
    if labels.is_object() {
        labels["kubernetes.io/metadata.name"] = json!(name);
    }
    if namespace.pointer("/spec/finalizers").is_none() {
        namespace["spec"] = json!({"finalizers": ["kubernetes"]});
    }
    namespace["status"] = json!({"phase": "Active"});
}

/// Sets the metadata the server owns: fresh on create, carried over on update.
pub fn carry_server_metadata(resource: Resource, old: Option<&Value>, new: &mut Value, store: &mut Store, now: &str) {
    let target = meta_mut(new);
    for key in SERVER_METADATA {
        if *key != "managedFields" {
            target.remove(*key);
        }
    }
    target.remove("selfLink");
    match old.and_then(meta) {
        Some(old_meta) => {
            for key in SERVER_METADATA {
                if *key == "managedFields" {
                    continue;
                }
                if let Some(value) = old_meta.get(*key) {
                    target.insert(key.to_string(), value.clone());
                }
            }
        }
        None => {
            target.insert("uid".into(), json!(store.new_uid()));
            target.insert("creationTimestamp".into(), json!(now));
            if resource.is_custom() {
                target.insert("generation".into(), json!(1));
            }
        }
    }
}

/// Custom resources bump `generation` when anything but metadata changes, and status too for kinds
/// with a status subresource.
pub fn bump_generation(resource: Resource, old: &Value, new: &mut Value) {
    if !resource.is_custom() {
        return;
    }
    let content = |o: &Value| {
        let mut copy = o.as_object().cloned().unwrap_or_default();
        copy.remove("metadata");
        if resource.has_status_subresource() {
            copy.remove("status");
        }
        copy
    };
    if content(old) != content(new) {
        let generation = meta(old).and_then(|m| m.get("generation")).and_then(Value::as_i64).unwrap_or(1);
        meta_mut(new).insert("generation".into(), json!(generation + 1));
    }
}

/// The checks that end in 422 (or 400 for what typed decoding rejects).
pub fn validate(resource: Resource, schemas: &Schemas, old: Option<&Value>, new: &Value) -> Result<(), ApiError> {
    let name = meta_str(new, "name").unwrap_or_default();
    let mut schema_causes = Vec::new();
    if let Some(schema) = schemas.for_resource(resource) {
        schema.validate(new, "", &mut schema_causes);
    }
    if !resource.is_custom() {
        // Built-in kinds fail typed decoding before validation: a 400.
        if let Some(first) = schema_causes.first() {
            return Err(decode_error(resource, &first.sentence()));
        }
    }
    let mut causes = validate::metadata(resource, new);
    causes.extend(schema_causes);
    if let Some(old) = old {
        causes.extend(deletion_causes(old, new));
    }
    if resource == Resource::Secret {
        causes.extend(secret_causes(old, new));
    }
    if causes.is_empty() { Ok(()) } else { Err(ApiError::invalid(resource, name, causes)) }
}

/// A deleting object may lose finalizers but never gain new ones.
fn deletion_causes(old: &Value, new: &Value) -> Vec<Cause> {
    if !is_deleting(old) {
        return Vec::new();
    }
    let before = finalizers(old);
    let added: Vec<String> = finalizers(new).into_iter().filter(|f| !before.contains(f)).collect();
    if added.is_empty() {
        return Vec::new();
    }
    let listed: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
    vec![Cause::forbidden(
        "metadata.finalizers",
        format!(
            "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
            listed.join(", ")
        ),
    )]
}

fn secret_causes(old: Option<&Value>, new: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let data = new.get("data").and_then(Value::as_object);
    let mut size = 0;
    for (key, value) in data.into_iter().flatten() {
        let field = format!("data[{key}]");
        for problem in validate::config_key_problems(key) {
            causes.push(Cause::invalid(field.clone(), &json!(key), problem));
        }
        size += value.as_str().map_or(0, |s| s.len() * 3 / 4);
    }
    if size > 1024 * 1024 {
        causes.push(Cause {
            reason: "FieldValueTooLong".into(),
            message: "Too long: must have at most 1048576 bytes".into(),
            field: "data".into(),
        });
    }
    if let Some(old) = old {
        let old_type = old.get("type").and_then(Value::as_str).unwrap_or("Opaque");
        let new_type = new.get("type").and_then(Value::as_str).unwrap_or("Opaque");
        if old_type != new_type {
            causes.push(Cause::invalid("type", &json!(new_type), "field is immutable"));
        }
        if old.get("immutable") == Some(&json!(true)) {
            let immutable = "field is immutable when `immutable` is set";
            if old.get("data") != new.get("data") {
                causes.push(Cause::forbidden("data", immutable));
            }
            if new.get("immutable") != Some(&json!(true)) {
                causes.push(Cause::forbidden("immutable", immutable));
            }
        }
    }
    causes
}
