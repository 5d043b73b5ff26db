//! Kubernetes name rules (apimachinery's `validation` package) and the
//! metadata checks every write goes through, with the real error wording.

use serde_json::Value;

use crate::resources::Resource;
use crate::status::Cause;

const QUALIFIED_NAME_FORMAT: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_FORMAT: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const DNS_SUBDOMAIN_FORMAT: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS_LABEL_FORMAT: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const CONFIG_KEY_FORMAT: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
        }
        _ => false,
    }
}

/// Problems of a label or annotation key (`prefix/name`).
pub fn qualified_name_problems(key: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                problems.push("prefix part must be non-empty".to_string());
            } else {
                problems.extend(dns_subdomain_problems(prefix).into_iter().map(|p| format!("prefix part {p}")));
            }
            *name
        }
        _ => {
            problems.push(format!("a qualified name {QUALIFIED_NAME_FORMAT} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"));
            return problems;
        }
    };
    if name.is_empty() {
        problems.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        problems.push("name part must be no more than 63 characters".to_string());
    }
    if !name.is_empty() && !is_qualified_part(name) {
        problems.push(format!("name part {QUALIFIED_NAME_FORMAT}"));
    }
    problems
}

pub fn label_value_problems(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > 63 {
        problems.push("must be no more than 63 characters".to_string());
    }
    if !value.is_empty() && !is_qualified_part(value) {
        problems.push(LABEL_VALUE_FORMAT.to_string());
    }
    problems
}

fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            (first.is_ascii_lowercase() || first.is_ascii_digit())
                && (last.is_ascii_lowercase() || last.is_ascii_digit())
                && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        }
        _ => false,
    }
}

pub fn dns_subdomain_problems(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if s.len() > 253 {
        problems.push("must be no more than 253 characters".to_string());
    }
    if !s.split('.').all(is_dns_label) {
        problems.push(DNS_SUBDOMAIN_FORMAT.to_string());
    }
    problems
}

pub fn dns_label_problems(s: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if s.len() > 63 {
        problems.push("must be no more than 63 characters".to_string());
    }
    if !is_dns_label(s) {
        problems.push(DNS_LABEL_FORMAT.to_string());
    }
    problems
}

/// Keys of a Secret's `data`.
pub fn config_key_problems(key: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if key.len() > 253 {
        problems.push("must be no more than 253 characters".to_string());
    }
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
        problems.push(CONFIG_KEY_FORMAT.to_string());
    }
    if key == "." {
        problems.push("must not be '.'".to_string());
    } else if key == ".." {
        problems.push("must not be '..'".to_string());
    } else if key.starts_with("..") {
        problems.push("must not start with '..'".to_string());
    }
    problems
}

fn causes_for(field: &str, value: &str, problems: Vec<String>) -> impl Iterator<Item = Cause> {
    let field = field.to_string();
    let value = Value::String(value.to_string());
    problems.into_iter().map(move |p| Cause::invalid(field.clone(), &value, p))
}

/// Validates `metadata`: name, labels, annotations, finalizers.
pub fn metadata(resource: Resource, object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let meta = object.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        causes.push(Cause::required("metadata.name", "name or generateName is required"));
    } else {
        let problems = match resource {
            Resource::Namespace => dns_label_problems(name),
            _ => dns_subdomain_problems(name),
        };
        causes.extend(causes_for("metadata.name", name, problems));
    }
    let string_map = |key: &str| {
        meta.and_then(|m| m.get(key))
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    for (key, value) in string_map("labels") {
        causes.extend(causes_for("metadata.labels", &key, qualified_name_problems(&key)));
        causes.extend(causes_for("metadata.labels", &value, label_value_problems(&value)));
    }
    let annotations = string_map("annotations");
    for (key, _) in &annotations {
        causes.extend(causes_for("metadata.annotations", key, qualified_name_problems(&key.to_lowercase())));
    }
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_ANNOTATIONS_BYTES {
        causes.push(Cause {
            reason: "FieldValueTooLong".into(),
            message: format!("Too long: must have at most {MAX_ANNOTATIONS_BYTES} bytes"),
            field: "metadata.annotations".into(),
        });
    }
    let finalizers = meta.and_then(|m| m.get("finalizers")).and_then(Value::as_array);
    for (i, finalizer) in finalizers.into_iter().flatten().enumerate() {
        let text = finalizer.as_str().unwrap_or("");
        causes.extend(causes_for(&format!("metadata.finalizers[{i}]"), text, qualified_name_problems(text)));
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_follow_qualified_name_rules() {
        assert!(qualified_name_problems("argocd.argoproj.io/secret-type").is_empty());
        assert!(qualified_name_problems("enable_metrics_server").is_empty());
        assert!(!qualified_name_problems("-bad").is_empty());
        assert!(!qualified_name_problems("Upper.Case/x").is_empty());
        assert!(!qualified_name_problems("a/b/c").is_empty());
        assert!(!qualified_name_problems(&"x".repeat(64)).is_empty());
        assert!(!qualified_name_problems("/x").is_empty());
    }

    #[test]
    fn label_values_may_be_empty_but_not_malformed() {
        assert!(label_value_problems("").is_empty());
        assert!(label_value_problems("true").is_empty());
        assert!(!label_value_problems("has space").is_empty());
        assert!(!label_value_problems(&"v".repeat(64)).is_empty());
    }
}
