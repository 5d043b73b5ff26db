//! `/_test/...`: the control API for shell-driven demos (no authentication;
//! the server only listens on 127.0.0.1). See README.md for the reference.

use hyper::Response;
use serde_json::{Value, json};

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
            let body: Value =
                serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
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

fn optional_resource(req: &Incoming) -> Result<Option<Resource>, ApiError> {
    match req.param("resource") {
        None | Some("") => Ok(None),
        Some(name) => Resource::from_name(name)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("unknown resource {name:?}"))),
    }
}
