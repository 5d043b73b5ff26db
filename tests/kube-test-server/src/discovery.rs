//! Discovery documents: `/version`, `/api`, `/apis` and the per-version
//! resource lists, plus aggregated discovery (apidiscovery.k8s.io/v2) for
//! clients that ask for it.

use serde_json::{Value, json};

use crate::resources::Resource;

pub const AGGREGATED_CONTENT_TYPE: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// The Kubernetes version this server imitates (k8s-openapi's `latest`).
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "35",
        "emulationMajor": "1",
        "emulationMinor": "35",
        "gitVersion": "v1.35.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

fn verbs(resource: Resource) -> Vec<&'static str> {
    match resource {
        Resource::Namespace => vec!["create", "get", "list", "patch", "update"],
        _ => vec!["create", "delete", "get", "list", "patch", "update"],
    }
}

fn short_names(resource: Resource) -> Vec<&'static str> {
    match resource {
        Resource::Namespace => vec!["ns"],
        Resource::Secret => vec![],
        Resource::ApplicationSet => vec!["appset", "appsets"],
        Resource::Application => vec!["app", "apps"],
    }
}

fn api_resource(resource: Resource) -> Value {
    let mut entry = json!({
        "name": resource.plural(),
        "singularName": resource.singular(),
        "namespaced": resource.namespaced(),
        "kind": resource.kind(),
        "verbs": verbs(resource),
    });
    add_short_names(&mut entry, resource);
    entry
}

fn add_short_names(entry: &mut Value, resource: Resource) {
    let short = short_names(resource);
    if !short.is_empty() {
        entry["shortNames"] = json!(short);
    }
}

fn argocd_served(served: &[Resource]) -> bool {
    served.iter().any(|r| r.is_argocd())
}

/// `/api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

/// `/api/v1` or `/apis/<group>/<version>`; `None` if not served.
pub fn resource_list(group: &str, version: &str, served: &[Resource]) -> Option<Value> {
    let resources: Vec<Value> =
        served.iter().copied().filter(|r| r.group() == group && r.version() == version).map(api_resource).collect();
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

fn api_group(group: &str) -> Value {
    let version = json!({"groupVersion": format!("{group}/v1alpha1"), "version": "v1alpha1"});
    json!({"name": group, "versions": [version.clone()], "preferredVersion": version})
}

/// `/apis`.
pub fn group_list(served: &[Resource]) -> Value {
    let groups: Vec<Value> =
        if argocd_served(served) { vec![api_group(Resource::ApplicationSet.group())] } else { vec![] };
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`.
pub fn group(name: &str, served: &[Resource]) -> Option<Value> {
    if !argocd_served(served) || name != Resource::ApplicationSet.group() {
        return None;
    }
    let mut group = api_group(name);
    group["kind"] = json!("APIGroup");
    group["apiVersion"] = json!("v1");
    Some(group)
}

/// Aggregated discovery for `/api` (core) or `/apis` (named groups).
pub fn aggregated(core: bool, served: &[Resource]) -> Value {
    let resources = |group: &str| -> Vec<Value> {
        served
            .iter()
            .copied()
            .filter(|r| r.group() == group)
            .map(|r| {
                let mut entry = json!({
                    "resource": r.plural(),
                    "responseKind": {"group": r.group(), "version": r.version(), "kind": r.kind()},
                    "scope": if r.namespaced() { "Namespaced" } else { "Cluster" },
                    "singularResource": r.singular(),
                    "verbs": verbs(r),
                });
                add_short_names(&mut entry, r);
                entry
            })
            .collect()
    };
    let items: Vec<Value> = if core {
        vec![
            json!({"metadata": {}, "versions": [{"version": "v1", "resources": resources(""), "freshness": "Current"}]}),
        ]
    } else if argocd_served(served) {
        let group = Resource::ApplicationSet.group();
        vec![json!({
            "metadata": {"name": group},
            "versions": [{"version": "v1alpha1", "resources": resources(group), "freshness": "Current"}]
        })]
    } else {
        vec![]
    };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}
