//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

use serde_json::Value;

use crate::status::ApiError;

/// RFC 7386: objects merge per key, `null` deletes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(target_map) = target else { return };
    for (key, value) in patch_map {
        if value.is_null() {
            target_map.remove(key);
        } else {
            let slot = target_map.entry(key.clone()).or_insert(Value::Null);
            merge_patch(slot, value);
        }
    }
}

fn unprocessable(message: String) -> ApiError {
    ApiError::new(422, "Invalid", message)
}

/// Splits a JSON pointer into unescaped reference tokens.
fn tokens(pointer: &str) -> Result<Vec<String>, ApiError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(ApiError::bad_request(format!("invalid JSON pointer {pointer:?}")));
    };
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

fn parent_mut<'a>(doc: &'a mut Value, path: &[String]) -> Result<&'a mut Value, ApiError> {
    let mut node = doc;
    for token in path {
        node = match node {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| unprocessable(format!("doc is missing path: \"/{}\"", path.join("/"))))?;
    }
    Ok(node)
}

fn get(doc: &Value, path: &[String]) -> Result<Value, ApiError> {
    let pointer: String = path.iter().map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1"))).collect();
    doc.pointer(&pointer).cloned().ok_or_else(|| unprocessable(format!("doc is missing path: \"{pointer}\"")))
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), ApiError> {
    let Some((last, parents)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents)? {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let index = if last == "-" { items.len() } else { last.parse().unwrap_or(usize::MAX) };
            if index > items.len() {
                return Err(unprocessable(format!("add operation does not apply: index {last} out of bounds")));
            }
            items.insert(index, value);
            Ok(())
        }
        _ => Err(unprocessable("add operation does not apply: parent is not a container".into())),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, ApiError> {
    let Some((last, parents)) = path.split_last() else {
        return Err(unprocessable("cannot remove the whole document".into()));
    };
    let missing =
        || unprocessable(format!("remove operation does not apply: doc is missing path: \"/{}\"", path.join("/")));
    match parent_mut(doc, parents)? {
        Value::Object(map) => map.remove(last).ok_or_else(missing),
        Value::Array(items) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => Ok(items.remove(i)),
            _ => Err(missing()),
        },
        _ => Err(missing()),
    }
}

/// RFC 6902 on a copy of `doc`; any failing operation fails the whole patch.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, ApiError> {
    let ops = patch.as_array().ok_or_else(|| ApiError::bad_request("json patch must be an array of operations"))?;
    let mut out = doc.clone();
    for op in ops {
        let field = |name: &str| op.get(name).and_then(Value::as_str);
        let path = tokens(field("path").ok_or_else(|| ApiError::bad_request("json patch operation without path"))?)?;
        let value =
            || op.get("value").cloned().ok_or_else(|| ApiError::bad_request("json patch operation without value"));
        let from = || tokens(field("from").unwrap_or_default());
        match field("op").unwrap_or_default() {
            "add" => add(&mut out, &path, value()?)?,
            "remove" => {
                remove(&mut out, &path)?;
            }
            "replace" => {
                remove(&mut out, &path)?;
                add(&mut out, &path, value()?)?;
            }
            "move" => {
                let moved = remove(&mut out, &from()?)?;
                add(&mut out, &path, moved)?;
            }
            "copy" => {
                let copied = get(&out, &from()?)?;
                add(&mut out, &path, copied)?;
            }
            "test" => {
                if get(&out, &path)? != value()? {
                    return Err(unprocessable(format!("testing value /{} failed", path.join("/"))));
                }
            }
            other => return Err(ApiError::bad_request(format!("unexpected json patch operation {other:?}"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_deletes_with_null_and_merges_maps() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge_patch(&mut doc, &json!({"a": {"b": null, "e": 3}, "d": [2]}));
        assert_eq!(doc, json!({"a": {"c": 2, "e": 3}, "d": [2]}));
    }

    #[test]
    fn json_patch_applies_in_order_and_tests() {
        let doc = json!({"metadata": {"labels": {"a": "1"}}, "list": [1, 2]});
        let out = json_patch(
            &doc,
            &json!([
                {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
                {"op": "remove", "path": "/list/0"},
                {"op": "test", "path": "/list", "value": [2]}
            ]),
        )
        .unwrap();
        assert_eq!(out, json!({"metadata": {"labels": {"a": "1", "b/c": "2"}}, "list": [2]}));
        assert_eq!(json_patch(&doc, &json!([{"op": "test", "path": "/list", "value": []}])).unwrap_err().code, 422);
    }
}
