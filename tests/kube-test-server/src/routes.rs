//! URL routing for the Kubernetes API paths and translation of each request
//! into an `Api` call.

use hyper::Response;
use serde_json::Value;

use crate::api::{DeleteOptions, Deleted, ListQuery, PatchBody, WriteOptions};
use crate::discovery;
use crate::http::{Body, Incoming, Shared, add_warnings, error_response, json_response, value_response};
use crate::resources::Resource;
use crate::schema::FieldValidation;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{self, ApiError};

/// What a resource URL addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Collection { resource: Resource, namespace: Option<String> },
    Object { resource: Resource, namespace: String, name: String },
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// `(group, version, rest)` of `/api/v1/...` and `/apis/<g>/<v>/...`.
fn split_api_path<'a>(segments: &'a [&'a str]) -> Option<(&'a str, &'a str, &'a [&'a str])> {
    match segments {
        ["api", version, rest @ ..] => Some(("", version, rest)),
        ["apis", group, version, rest @ ..] => Some((group, version, rest)),
        _ => None,
    }
}

fn parse_target(group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let resource = |plural: &str| Resource::from_url(group, version, plural);
    match rest {
        [plural] => Some(Target::Collection { resource: resource(plural)?, namespace: None }),
        [plural, name] => {
            let resource = resource(plural)?;
            (!resource.namespaced()).then(|| Target::Object {
                resource,
                namespace: String::new(),
                name: name.to_string(),
            })
        }
        ["namespaces", namespace, plural] => {
            let resource = resource(plural)?;
            resource.namespaced().then(|| Target::Collection { resource, namespace: Some(namespace.to_string()) })
        }
        ["namespaces", namespace, plural, name] => {
            let resource = resource(plural)?;
            resource.namespaced().then(|| Target::Object {
                resource,
                namespace: namespace.to_string(),
                name: name.to_string(),
            })
        }
        _ => None,
    }
}

/// How a request is counted: verb, resource, namespace and name.
pub struct Classified {
    pub verb: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

pub fn classify(method: &str, path: &str, watch: bool) -> Classified {
    let segs = segments(path);
    let target = split_api_path(&segs).and_then(|(g, v, rest)| parse_target(g, v, rest));
    let (resource, namespace, name, collection) = match target {
        Some(Target::Collection { resource, namespace }) => (resource, namespace, None, true),
        Some(Target::Object { resource, namespace, name }) => {
            (resource, (!namespace.is_empty()).then_some(namespace), Some(name), false)
        }
        None => {
            return Classified {
                verb: method.to_ascii_lowercase(),
                resource: path.to_string(),
                namespace: None,
                name: None,
            };
        }
    };
    let verb = match (method, collection) {
        ("GET", true) if watch => "watch",
        ("GET", true) => "list",
        ("GET", false) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "deletecollection",
        ("DELETE", false) => "delete",
        (other, _) => {
            return Classified {
                verb: other.to_ascii_lowercase(),
                resource: resource.plural().into(),
                namespace,
                name,
            };
        }
    };
    Classified { verb: verb.into(), resource: resource.plural().into(), namespace, name }
}

pub fn dispatch(shared: &Shared, req: &Incoming) -> Response<Body> {
    match route(shared, req) {
        Ok(response) => response,
        Err(err) => error_response(&err),
    }
}

fn route(shared: &Shared, req: &Incoming) -> Result<Response<Body>, ApiError> {
    let segs = segments(&req.path);
    let served: Vec<Resource> = {
        let api = shared.api();
        Resource::ALL.into_iter().filter(|r| api.serves(*r)).collect()
    };
    let discovery_doc = match segs.as_slice() {
        ["version"] => Some(Some(discovery::version())),
        ["api"] | ["apis"] if req.accept.contains("as=APIGroupDiscoveryList") => {
            let mut response = value_response(200, &discovery::aggregated(segs == ["api"], &served));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(discovery::AGGREGATED_CONTENT_TYPE),
            );
            return only_get(req).map(|_| response);
        }
        ["api"] => Some(Some(discovery::core_versions(&shared.address))),
        ["apis"] => Some(Some(discovery::group_list(&served))),
        ["api", version] => Some(discovery::resource_list("", version, &served)),
        ["apis", group] => Some(discovery::group(group, &served)),
        ["apis", group, version] => Some(discovery::resource_list(group, version, &served)),
        _ => None,
    };
    if let Some(doc) = discovery_doc {
        only_get(req)?;
        return doc.map(|d| value_response(200, &d)).ok_or_else(ApiError::unknown_path);
    }
    let target =
        split_api_path(&segs).and_then(|(g, v, rest)| parse_target(g, v, rest)).ok_or_else(ApiError::unknown_path)?;
    match target {
        Target::Collection { resource, namespace } => collection(shared, req, resource, namespace),
        Target::Object { resource, namespace, name } => object(shared, req, resource, &namespace, &name),
    }
}

fn only_get(req: &Incoming) -> Result<(), ApiError> {
    if req.method == "GET" { Ok(()) } else { Err(ApiError::method_not_allowed()) }
}

fn collection(
    shared: &Shared,
    req: &Incoming,
    resource: Resource,
    namespace: Option<String>,
) -> Result<Response<Body>, ApiError> {
    match req.method.as_str() {
        "GET" => {
            if req.param("watch").is_some_and(|w| w == "true" || w == "1") {
                return Err(ApiError::bad_request("watch is not supported by kube-test-server"));
            }
            let extra_fields: &[&str] = if resource == Resource::Secret { &["type"] } else { &[] };
            let query = ListQuery {
                labels: LabelSelector::parse(req.param("labelSelector").unwrap_or_default())?,
                fields: FieldSelector::parse(req.param("fieldSelector").unwrap_or_default(), extra_fields)?,
                limit: match req.param("limit") {
                    Some(l) if !l.is_empty() => {
                        Some(l.parse().map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?)
                    }
                    _ => None,
                },
                continue_token: req.param("continue").filter(|c| !c.is_empty()).map(str::to_string),
            };
            let list = shared.api().list(resource, namespace.as_deref(), &query)?;
            Ok(value_response(200, &list))
        }
        "POST" => {
            let namespace = match (resource.namespaced(), namespace) {
                (true, Some(ns)) => ns,
                (true, None) => return Err(ApiError::method_not_allowed()),
                (false, _) => String::new(),
            };
            let opts = write_options(req, false)?;
            let body = parse_body(req)?;
            let written = shared.api().create(resource, &namespace, body, &opts)?;
            let mut response = value_response(201, &written.object);
            add_warnings(&mut response, &written.warnings);
            Ok(response)
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn object(
    shared: &Shared,
    req: &Incoming,
    resource: Resource,
    namespace: &str,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    let written = match req.method.as_str() {
        "GET" => return Ok(value_response(200, &shared.api().get(resource, namespace, name)?)),
        "DELETE" => return delete(shared, req, resource, namespace, name),
        "PUT" => {
            let opts = write_options(req, false)?;
            let body = parse_body(req)?;
            shared.api().replace(resource, namespace, name, body, &opts)?
        }
        "PATCH" => {
            let media = req.content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            let is_apply = media == "application/apply-patch+yaml";
            let opts = write_options(req, is_apply)?;
            let force = match req.param("force") {
                None => false,
                Some(_) if !is_apply => {
                    return Err(ApiError::invalid_params("force", "may not be specified for non-apply patch"));
                }
                Some(f) => f == "true",
            };
            let body = match media.as_str() {
                "application/merge-patch+json" => PatchBody::Merge(parse_json(&req.body)?),
                "application/strategic-merge-patch+json" => PatchBody::Strategic(parse_json(&req.body)?),
                "application/json-patch+json" => PatchBody::Json(parse_json(&req.body)?),
                "application/apply-patch+yaml" => PatchBody::Apply { config: parse_yaml(&req.body)?, force },
                other => return Err(ApiError::unsupported_media_type(other)),
            };
            shared.api().patch(resource, namespace, name, body, &opts)?
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    let code = if written.created { 201 } else { 200 };
    let mut response = value_response(code, &written.object);
    add_warnings(&mut response, &written.warnings);
    Ok(response)
}

fn delete(
    shared: &Shared,
    req: &Incoming,
    resource: Resource,
    namespace: &str,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    let body = if req.body.iter().all(u8::is_ascii_whitespace) { Value::Null } else { parse_json(&req.body)? };
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    let dry_run_body = body.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == "All"));
    let opts = DeleteOptions {
        uid: text("/preconditions/uid"),
        resource_version: text("/preconditions/resourceVersion"),
        dry_run: dry_run_body || parse_dry_run(req)?,
        orphan: text("/propagationPolicy").as_deref().or(req.param("propagationPolicy")) == Some("Orphan")
            || req.param("orphanDependents") == Some("true"),
    };
    match shared.api().delete(resource, namespace, name, &opts)? {
        Deleted::Gone { uid } => Ok(json_response(200, status::deleted(resource, name, &uid))),
        // The real server answers 202 while finalizers hold the object.
        Deleted::Pending(object) => Ok(value_response(202, &object)),
    }
}

fn parse_dry_run(req: &Incoming) -> Result<bool, ApiError> {
    match req.param("dryRun") {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::invalid_params(
            "dryRun",
            &format!("Unsupported value: \"{other}\": supported values: \"All\""),
        )),
    }
}

fn write_options(req: &Incoming, is_apply: bool) -> Result<WriteOptions, ApiError> {
    let manager = match req.param("fieldManager") {
        Some(m) if !m.is_empty() => m.to_string(),
        // Apply has no default manager; other writes use the client's name.
        _ if is_apply => String::new(),
        _ => req.user_agent.split('/').next().unwrap_or_default().to_string(),
    };
    if manager.chars().count() > 128 {
        return Err(ApiError::invalid_params("fieldManager", "Too long: may not be more than 128 bytes"));
    }
    Ok(WriteOptions {
        manager,
        dry_run: parse_dry_run(req)?,
        validation: FieldValidation::parse(req.param("fieldValidation"))?,
    })
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))
}

fn parse_body(req: &Incoming) -> Result<Value, ApiError> {
    if req.content_type.contains("yaml") { parse_yaml(&req.body) } else { parse_json(&req.body) }
}

/// Apply bodies are YAML; JSON (what kube-rs sends) is valid YAML but parses
/// faster as JSON, so try that first.
fn parse_yaml(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::bad_request("error decoding YAML: body is not UTF-8"))?;
    serde_saphyr::from_str(text).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_follow_the_real_url_layout() {
        let t = |p: &str| {
            let s = segments(p);
            split_api_path(&s).and_then(|(g, v, r)| parse_target(g, v, r))
        };
        assert_eq!(
            t("/api/v1/namespaces/argocd/secrets/x"),
            Some(Target::Object { resource: Resource::Secret, namespace: "argocd".into(), name: "x".into() })
        );
        assert_eq!(
            t("/api/v1/namespaces/argocd"),
            Some(Target::Object { resource: Resource::Namespace, namespace: String::new(), name: "argocd".into() })
        );
        assert_eq!(t("/api/v1/secrets"), Some(Target::Collection { resource: Resource::Secret, namespace: None }));
        assert_eq!(
            t("/apis/argoproj.io/v1alpha1/namespaces/a/applicationsets"),
            Some(Target::Collection { resource: Resource::ApplicationSet, namespace: Some("a".into()) })
        );
        assert_eq!(t("/api/v1/secrets/x"), None);
        assert_eq!(t("/api/v1/namespaces/a/secrets/x/status"), None);
    }
}
