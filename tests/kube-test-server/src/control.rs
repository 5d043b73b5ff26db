//! `/_test/...`: the control API for shell-driven demos (no authentication;
//! the server only listens on 127.0.0.1). See README.md for the reference.

use hyper::Response;
use serde_json::{Value, json};

use crate::application_controller::NamedScript;
use crate::faults::FaultRule;
use crate::http::{Body, Incoming, Shared, error_response, lock, value_response};
use crate::requests::RequestStats;
use crate::resources::Resource;
use crate::status::ApiError;
use crate::store::ObjectKey;

pub fn handle(shared: &Shared, req: &Incoming) -> Response<Body> {
    match route(shared, req) {
        Ok(value) => value_response(200, &value),
        Err(err) => error_response(&err),
    }
}

fn route(shared: &Shared, req: &Incoming) -> Result<Value, ApiError> {
    match (req.method.as_str(), req.path.trim_end_matches('/')) {
        ("GET", "/_test/requests") => Ok(json!(*lock(&shared.requests))),
        ("POST", "/_test/requests/reset") => {
            *lock(&shared.requests) = RequestStats::default();
            Ok(json!({}))
        }
        ("GET", "/_test/faults") => Ok(json!(lock(&shared.faults).rules())),
        ("POST", "/_test/faults") => {
            let body = json_body(req)?;
            // One rule or a list of rules.
            let rules: Vec<FaultRule> = match body {
                Value::Array(_) => serde_json::from_value(body),
                other => serde_json::from_value(other).map(|r| vec![r]),
            }
            .map_err(|e| ApiError::bad_request(format!("invalid fault rule: {e}")))?;
            let mut faults = lock(&shared.faults);
            for rule in rules {
                faults.add(rule);
            }
            Ok(json!(faults.rules()))
        }
        ("DELETE", "/_test/faults") => {
            lock(&shared.faults).clear();
            Ok(json!([]))
        }
        ("GET", "/_test/held") => Ok(json!({"held": shared.holds.held()})),
        ("POST", "/_test/held/release") => {
            shared.holds.release();
            Ok(json!({}))
        }
        ("GET", "/_test/objects") => {
            let resource = optional_resource(req)?;
            let namespace = req.param("namespace");
            let api = shared.api();
            let items: Vec<Value> = Resource::ALL
                .into_iter()
                .filter(|r| resource.is_none_or(|wanted| wanted == *r))
                .flat_map(|r| api.store.list(r, namespace).map(|(_, o)| o.clone()).collect::<Vec<_>>())
                .collect();
            Ok(json!({"items": items}))
        }
        ("POST", "/_test/objects") => {
            let resource = optional_resource(req)?.ok_or_else(|| ApiError::bad_request("resource is required"))?;
            let body = json_body(req)?;
            let items = body.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            let seeded = shared.api().seed(resource, items)?;
            Ok(json!({"seeded": seeded}))
        }
        ("GET", "/_test/argocd") => {
            let api = shared.api();
            Ok(json!({"options": api.argocd.options, "abandoned": api.argocd.abandoned}))
        }
        ("POST" | "PATCH", "/_test/argocd/options") => {
            let mut api = shared.api();
            let mut options = json!(api.argocd.options);
            crate::patch::merge_patch(&mut options, &json_body(req)?);
            api.argocd.options = serde_json::from_value(options)
                .map_err(|e| ApiError::bad_request(format!("invalid Argo CD options: {e}")))?;
            Ok(json!(api.argocd.options))
        }
        ("POST", "/_test/argocd/scripts") => {
            let body = json_body(req)?;
            let scripts: Vec<NamedScript> = match body {
                Value::Array(_) => serde_json::from_value(body),
                other => serde_json::from_value(other).map(|s| vec![s]),
            }
            .map_err(|e| ApiError::bad_request(format!("invalid script: {e}")))?;
            let mut api = shared.api();
            for script in scripts.into_iter().rev() {
                api.argocd.options.scripts.retain(|s| s.name != script.name);
                api.argocd.options.scripts.insert(0, script);
            }
            Ok(json!(api.argocd.options.scripts))
        }
        ("DELETE", "/_test/argocd/scripts") => {
            shared.api().argocd.options.scripts.clear();
            Ok(json!([]))
        }
        ("POST", "/_test/argocd/refresh") => {
            shared.api().refresh_application(
                req.param("namespace").unwrap_or("argocd"),
                req.param("name").unwrap_or_default(),
            )?;
            Ok(json!({}))
        }
        ("POST", "/_test/finalizers/release") => {
            let resource = optional_resource(req)?.ok_or_else(|| ApiError::bad_request("resource is required"))?;
            let key = ObjectKey::new(
                resource,
                req.param("namespace").unwrap_or_default(),
                req.param("name").unwrap_or_default(),
            );
            shared.api().remove_finalizers(&key, req.param("finalizer"))?;
            Ok(json!({}))
        }
        _ => Err(ApiError::unknown_path()),
    }
}

fn json_body(req: &Incoming) -> Result<Value, ApiError> {
    serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

fn optional_resource(req: &Incoming) -> Result<Option<Resource>, ApiError> {
    match req.param("resource") {
        None | Some("") => Ok(None),
        Some(name) => Resource::from_name(name)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("unknown resource {name:?}"))),
    }
}
