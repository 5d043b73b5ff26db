//! `Status` bodies, shaped exactly like the ones a real API server sends, so
//! client code that inspects `reason`, `code` and `details` behaves the same
//! against this server and against a cluster.

use serde::Serialize;
use serde_json::{Value, json};

use crate::resources::Resource;

/// One entry of `details.causes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

impl Cause {
    /// `field: Invalid value: <value>: <detail>` in the apimachinery wording.
    /// `value` is rendered as Go's `%#v` would: strings quoted, numbers bare.
    pub fn invalid(field: impl Into<String>, value: &Value, detail: impl AsRef<str>) -> Cause {
        Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: {}: {}", render_value(value), detail.as_ref()),
            field: field.into(),
        }
    }

    pub fn required(field: impl Into<String>, detail: &str) -> Cause {
        let message =
            if detail.is_empty() { "Required value".to_string() } else { format!("Required value: {detail}") };
        Cause { reason: "FieldValueRequired".into(), message, field: field.into() }
    }

    pub fn not_supported(field: impl Into<String>, value: &Value, supported: &[Value]) -> Cause {
        let list: Vec<String> = supported.iter().map(render_value).collect();
        Cause {
            reason: "FieldValueNotSupported".into(),
            message: format!("Unsupported value: {}: supported values: {}", render_value(value), list.join(", ")),
            field: field.into(),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Cause {
        Cause {
            reason: "FieldValueForbidden".into(),
            message: format!("Forbidden: {}", detail.into()),
            field: field.into(),
        }
    }

    /// The whole `field: body` sentence used in the top-level message.
    pub fn sentence(&self) -> String {
        if self.field.is_empty() { self.message.clone() } else { format!("{}: {}", self.field, self.message) }
    }
}

/// Renders a JSON value the way Go's `%#v` shows it in field errors.
pub fn render_value(value: &Value) -> String {
    match value {
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// `details` of a Status; field order follows the real encoder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<Cause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u32>,
}

impl Details {
    fn for_resource(resource: Resource, name: &str) -> Details {
        Details {
            name: Some(name.to_string()),
            group: non_empty(resource.group()),
            kind: Some(resource.plural().to_string()),
            ..Details::default()
        }
    }
}

/// The wire form of a `Status`; a struct so the keys keep the real order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: Value,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Details>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
}

impl StatusBody<'_> {
    fn bytes(&self) -> Vec<u8> {
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// A failed API call: becomes a `Status` body with the same HTTP code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    /// Boxed to keep `Result<_, ApiError>` small.
    pub details: Option<Box<Details>>,
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> ApiError {
        ApiError { code, reason: reason.into(), message: message.into(), details: None }
    }

    fn with_details(mut self, details: Details) -> ApiError {
        self.details = Some(Box::new(details));
        self
    }

    pub fn not_found(resource: Resource, name: &str) -> ApiError {
        ApiError::new(404, "NotFound", format!("{} \"{name}\" not found", resource.qualified_plural()))
            .with_details(Details::for_resource(resource, name))
    }

    pub fn namespace_not_found(namespace: &str) -> ApiError {
        ApiError::not_found(Resource::Namespace, namespace)
    }

    /// The 404 for a path no handler knows.
    pub fn unknown_path() -> ApiError {
        ApiError::new(404, "NotFound", "the server could not find the requested resource")
            .with_details(Details::default())
    }

    pub fn already_exists(resource: Resource, name: &str) -> ApiError {
        ApiError::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", resource.qualified_plural()))
            .with_details(Details::for_resource(resource, name))
    }

    pub fn conflict(resource: Resource, name: &str, why: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{name}\": {why}", resource.qualified_plural()),
        )
        .with_details(Details::for_resource(resource, name))
    }

    /// The optimistic-concurrency failure of a stale `resourceVersion`.
    pub fn stale(resource: Resource, name: &str) -> ApiError {
        ApiError::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// A server-side apply conflict: one cause per contested field.
    pub fn apply_conflicts(conflicts: &[(String, String, String)]) -> ApiError {
        // (manager, apiVersion, field path)
        let causes: Vec<Cause> = conflicts
            .iter()
            .map(|(manager, version, field)| Cause {
                reason: "FieldManagerConflict".into(),
                message: format!("conflict with \"{manager}\" using {version}"),
                field: field.clone(),
            })
            .collect();
        let message = if let [only] = causes.as_slice() {
            format!("Apply failed with 1 conflict: {}: {}", only.message, only.field)
        } else {
            let mut text = format!("Apply failed with {} conflicts:", causes.len());
            // Grouped by manager, like the real message.
            let mut managers: Vec<(&str, &str)> = Vec::new();
            for (manager, version, _) in conflicts {
                if !managers.contains(&(manager.as_str(), version.as_str())) {
                    managers.push((manager, version));
                }
            }
            for (manager, version) in managers {
                text.push_str(&format!(" conflicts with \"{manager}\" using {version}:"));
                for (_, _, field) in conflicts.iter().filter(|(m, v, _)| m == manager && v == version) {
                    text.push_str(&format!("\n- {field}"));
                }
            }
            text
        };
        ApiError::new(409, "Conflict", message).with_details(Details { causes, ..Details::default() })
    }

    /// 422 with one cause per field error.
    pub fn invalid(resource: Resource, name: &str, causes: Vec<Cause>) -> ApiError {
        let sentences: Vec<String> = causes.iter().map(Cause::sentence).collect();
        let joined =
            if let [only] = sentences.as_slice() { only.clone() } else { format!("[{}]", sentences.join(", ")) };
        ApiError::new(422, "Invalid", format!("{} \"{name}\" is invalid: {joined}", resource.qualified_kind()))
            .with_details(Details {
                name: Some(name.to_string()),
                group: non_empty(resource.group()),
                kind: Some(resource.kind().to_string()),
                causes,
                ..Details::default()
            })
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// A bad query parameter (`dryRun`, `force`, `fieldManager`).
    pub fn invalid_params(field: &str, detail: &str) -> ApiError {
        ApiError::bad_request(format!("{field}: {detail}"))
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            .with_details(Details::default())
    }

    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type})"
            ),
        )
    }

    pub fn too_many_requests(retry_after_seconds: u32) -> ApiError {
        ApiError::new(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        )
        .with_details(Details { retry_after_seconds: Some(retry_after_seconds), ..Details::default() })
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", format!("Internal error occurred: {}", message.into())).with_details(
            Details {
                causes: vec![Cause { reason: String::new(), message: "injected fault".into(), field: String::new() }],
                ..Details::default()
            },
        )
    }

    pub fn service_unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "ServiceUnavailable", message)
    }

    /// An error for an arbitrary injected status code.
    pub fn for_code(code: u16, message: Option<String>) -> ApiError {
        match code {
            400 => ApiError::bad_request(message.unwrap_or_else(|| "injected bad request".into())),
            401 => ApiError::unauthorized(),
            404 => ApiError::unknown_path(),
            409 => ApiError::new(
                409,
                "Conflict",
                message.unwrap_or_else(|| "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again".into()),
            ),
            429 => ApiError::too_many_requests(1),
            500 => ApiError::internal(message.unwrap_or_else(|| "injected fault".into())),
            503 => ApiError::service_unavailable(message.unwrap_or_else(|| "the server is currently unable to handle the request".into())),
            other => ApiError::new(other, "Unknown", message.unwrap_or_else(|| format!("injected status {other}"))),
        }
    }

    pub fn retry_after(&self) -> Option<u32> {
        self.details.as_ref().and_then(|d| d.retry_after_seconds)
    }

    /// The `Status` body, bytes in the real key order.
    pub fn body(&self) -> Vec<u8> {
        StatusBody {
            kind: "Status",
            api_version: "v1",
            metadata: json!({}),
            status: "Failure",
            message: Some(&self.message),
            reason: Some(&self.reason),
            details: self.details.as_deref(),
            code: Some(self.code),
        }
        .bytes()
    }

    pub fn to_json(&self) -> Value {
        serde_json::from_slice(&self.body()).unwrap_or(Value::Null)
    }
}

/// The `Status` a DELETE returns when the object is gone at once.
pub fn deleted(resource: Resource, name: &str, uid: &str) -> Vec<u8> {
    let mut details = Details::for_resource(resource, name);
    details.uid = Some(uid.to_string());
    StatusBody {
        kind: "Status",
        api_version: "v1",
        metadata: json!({}),
        status: "Success",
        message: None,
        reason: None,
        details: Some(&details),
        code: None,
    }
    .bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_has_the_real_shape() {
        let body = ApiError::not_found(Resource::Secret, "x").body();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"secrets"},"code":404}"#
        );
    }

    #[test]
    fn one_apply_conflict_reads_like_the_real_message() {
        let err = ApiError::apply_conflicts(&[("kubectl-edit".into(), "v1".into(), ".metadata.labels.foo".into())]);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .metadata.labels.foo"
        );
    }
}
