//! RBAC for restricted tokens: a token bound to namespaced `Role` rules, authorized the way the
//! real API server authorizes a request (verb, API group, resource, namespace) before any handler
//! runs, with the real 403 `Status` when no rule allows it. Discovery stays open to every
//! authenticated user, as `system:discovery` grants in real clusters.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::{Incoming, Shared};
use crate::resources::Resource;
use crate::status::{ApiError, Details};
use crate::store::ObjectKey;

/// The user a restricted token authenticates as, as 403 messages name it.
pub const RESTRICTED_USER: &str = "system:serviceaccount:argocd:terraform";

/// One rule of a namespaced `Role`: these verbs on these resources of these API groups, in one
/// namespace. `*` matches anything, as in RBAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRule {
    pub verbs: Vec<String>,
    /// `""` is the core group.
    pub api_groups: Vec<String>,
    /// Plural resource names, e.g. `secrets`, `applicationsets`.
    pub resources: Vec<String>,
    pub namespace: String,
}

impl AccessRule {
    pub fn new(verbs: &[&str], api_group: &str, resource: &str, namespace: &str) -> AccessRule {
        AccessRule {
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            api_groups: vec![api_group.to_string()],
            resources: vec![resource.to_string()],
            namespace: namespace.to_string(),
        }
    }

    /// The rules of every `Role` in a YAML manifest (other kinds, such as the `RoleBinding`, are
    /// skipped), each in its Role's namespace.
    ///
    /// # Errors
    /// [`Error::Rbac`] when the YAML does not parse, a Role has no namespace, or a rule uses what
    /// this server does not model (`resourceNames`, `nonResourceURLs`).
    pub fn from_role_manifest(yaml: &str) -> Result<Vec<AccessRule>> {
        let documents: Vec<Value> =
            serde_saphyr::from_multiple(yaml).map_err(|e| Error::Rbac(format!("not valid YAML: {e}")))?;
        let strings = |value: &Value, key: &str| -> Result<Vec<String>> {
            let list =
                value.get(key).and_then(Value::as_array).ok_or_else(|| Error::Rbac(format!("a rule has no {key}")))?;
            Ok(list.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect())
        };
        let mut rules = Vec::new();
        for role in documents.iter().filter(|d| d["kind"] == "Role") {
            let namespace = role["metadata"]["namespace"]
                .as_str()
                .ok_or_else(|| Error::Rbac("a Role has no metadata.namespace".into()))?;
            for rule in role["rules"].as_array().into_iter().flatten() {
                for unmodelled in ["resourceNames", "nonResourceURLs"] {
                    if rule.get(unmodelled).is_some() {
                        return Err(Error::Rbac(format!("{unmodelled} in a Role rule is not supported")));
                    }
                }
                rules.push(AccessRule {
                    verbs: strings(rule, "verbs")?,
                    api_groups: strings(rule, "apiGroups")?,
                    resources: strings(rule, "resources")?,
                    namespace: namespace.to_string(),
                });
            }
        }
        Ok(rules)
    }

    fn allows(&self, request: &Attributes<'_>) -> bool {
        let matches = |list: &[String], value: &str| list.iter().any(|item| item == "*" || item == value);
        request.namespace == Some(self.namespace.as_str())
            && matches(&self.verbs, &request.verb)
            && matches(&self.api_groups, request.group)
            && matches(&self.resources, &request.resource)
    }
}

/// A token that authenticates as [`RESTRICTED_USER`] and may do only what its rules allow.
#[derive(Clone, Debug)]
pub struct RestrictedToken {
    pub token: String,
    pub rules: Vec<AccessRule>,
}

/// What the API server authorizes a resource request by.
struct Attributes<'a> {
    verb: String,
    group: &'a str,
    /// With its subresource, as RBAC names it: `secrets`, `applications/status`.
    resource: String,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
}

/// The request's attributes, or `None` for a non-resource request (discovery, `/version`).
fn attributes<'a>(method: &str, path: &'a str, watch: bool) -> Option<Attributes<'a>> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] if !rest.is_empty() => ("", rest),
        ["apis", group, _version, rest @ ..] if !rest.is_empty() => (*group, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", namespace, rest @ ..] if !rest.is_empty() => (Some(*namespace), rest),
        _ => (None, rest),
    };
    let (resource, name, subresource) = match rest {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(*name), None),
        [resource, name, subresource, ..] => (*resource, Some(*name), Some(*subresource)),
        [] => return None,
    };
    let verb = match (method, name.is_some()) {
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "deletecollection",
        ("DELETE", true) => "delete",
        (other, _) => return Some(Attributes::new(other.to_ascii_lowercase(), group, resource, namespace, name)),
    };
    let resource = match subresource {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource.to_string(),
    };
    Some(Attributes { verb: verb.into(), group, resource, namespace, name })
}

impl<'a> Attributes<'a> {
    fn new(verb: String, group: &'a str, resource: &str, namespace: Option<&'a str>, name: Option<&'a str>) -> Self {
        Attributes { verb, group, resource: resource.to_string(), namespace, name }
    }

    /// The real API server's 403 for this request.
    fn forbidden(&self) -> ApiError {
        let qualified =
            if self.group.is_empty() { self.resource.clone() } else { format!("{}.{}", self.resource, self.group) };
        let scope = match self.namespace {
            Some(namespace) => format!("in the namespace \"{namespace}\""),
            None => "at the cluster scope".into(),
        };
        let why = format!(
            "User \"{RESTRICTED_USER}\" cannot {} resource \"{}\" in API group \"{}\" {scope}",
            self.verb, self.resource, self.group
        );
        let message = match self.name {
            Some(name) => format!("{qualified} \"{name}\" is forbidden: {why}"),
            None => format!("{qualified} is forbidden: {why}"),
        };
        ApiError {
            details: Some(Box::new(Details {
                name: self.name.map(str::to_string),
                group: (!self.group.is_empty()).then(|| self.group.to_string()),
                kind: Some(self.resource.clone()),
                ..Details::default()
            })),
            ..ApiError::new(403, "Forbidden", message)
        }
    }
}

/// Paths every authenticated user may read (`system:discovery`, `system:public-info-viewer`).
fn open_path(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    matches!(segments.as_slice(), ["api"] | ["api", _] | ["apis"] | ["apis", _] | ["apis", _, _] | ["version"])
        || segments.first() == Some(&"openapi")
}

/// Authorizes one request of a restricted token; `Err` is the 403 to answer with.
pub fn authorize(restricted: &RestrictedToken, shared: &Shared, request: &Incoming) -> Result<(), ApiError> {
    let watch = request.param("watch") == Some("true");
    let Some(mut attributes) = attributes(&request.method, &request.path, watch) else {
        if open_path(&request.path) {
            return Ok(());
        }
        let why =
            format!("User \"{RESTRICTED_USER}\" cannot {} path \"{}\"", request.method.to_lowercase(), request.path);
        return Err(ApiError::new(403, "Forbidden", format!("forbidden: {why}")));
    };
    let allowed = |attributes: &Attributes<'_>| restricted.rules.iter().any(|rule| rule.allows(attributes));
    if !allowed(&attributes) {
        return Err(attributes.forbidden());
    }
    // Server-side apply of an object that does not exist creates it, and the API server
    // authorizes that as `create` as well.
    if attributes.verb == "patch"
        && request.content_type.starts_with("application/apply-patch")
        && !exists(shared, &attributes)
    {
        attributes.verb = "create".into();
        if !allowed(&attributes) {
            return Err(attributes.forbidden());
        }
    }
    Ok(())
}

fn exists(shared: &Shared, attributes: &Attributes<'_>) -> bool {
    let (Some(namespace), Some(name)) = (attributes.namespace, attributes.name) else { return false };
    let Some(resource) =
        Resource::ALL.into_iter().find(|r| r.plural() == attributes.resource && r.group() == attributes.group)
    else {
        return false;
    };
    shared.api().store.get(&ObjectKey::new(resource, namespace, name)).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<AccessRule> {
        vec![
            AccessRule::new(&["get", "list", "patch"], "", "secrets", "argocd"),
            AccessRule::new(&["*"], "argoproj.io", "applicationsets", "argocd"),
        ]
    }

    fn decide(method: &str, path: &str) -> Result<(), String> {
        let attributes = attributes(method, path, false).expect("a resource request");
        if rules().iter().any(|rule| rule.allows(&attributes)) { Ok(()) } else { Err(attributes.forbidden().message) }
    }

    #[test]
    fn requests_are_authorized_by_verb_group_resource_and_namespace() {
        for (method, path, allowed) in [
            ("GET", "/api/v1/namespaces/argocd/secrets/a", true),
            ("GET", "/api/v1/namespaces/argocd/secrets", true),
            ("PATCH", "/api/v1/namespaces/argocd/secrets/a", true),
            ("DELETE", "/api/v1/namespaces/argocd/secrets/a", false),
            ("GET", "/api/v1/namespaces/default/secrets/a", false),
            ("GET", "/api/v1/secrets", false),
            ("GET", "/api/v1/namespaces/argocd/configmaps/a", false),
            ("DELETE", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applicationsets/s", true),
            ("GET", "/apis/other.io/v1/namespaces/argocd/applicationsets/s", false),
            ("GET", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/a", false),
        ] {
            assert_eq!(decide(method, path).is_ok(), allowed, "{method} {path}");
        }
    }

    #[test]
    fn a_denial_says_what_the_real_api_server_says() {
        assert_eq!(
            decide("DELETE", "/api/v1/namespaces/argocd/secrets/x").unwrap_err(),
            "secrets \"x\" is forbidden: User \"system:serviceaccount:argocd:terraform\" cannot delete resource \
             \"secrets\" in API group \"\" in the namespace \"argocd\""
        );
        assert_eq!(
            decide("GET", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications").unwrap_err(),
            "applications.argoproj.io is forbidden: User \"system:serviceaccount:argocd:terraform\" cannot list \
             resource \"applications\" in API group \"argoproj.io\" in the namespace \"argocd\""
        );
        let status = attributes("GET", "/api/v1/namespaces/argocd/secrets/x", false).unwrap().forbidden();
        let details = status.details.unwrap();
        assert_eq!(
            (details.name.as_deref(), details.group, details.kind.as_deref()),
            (Some("x"), None, Some("secrets"))
        );
    }

    #[test]
    fn discovery_is_not_a_resource_request() {
        for path in ["/api", "/api/v1", "/apis", "/apis/argoproj.io", "/apis/argoproj.io/v1alpha1", "/version"] {
            assert!(attributes("GET", path, false).is_none(), "{path}");
            assert!(open_path(path), "{path}");
        }
        assert!(!open_path("/metrics"));
        assert_eq!(attributes("GET", "/api/v1/namespaces/argocd/secrets", true).unwrap().verb, "watch");
        assert_eq!(attributes("GET", "/api/v1/namespaces/argocd", false).unwrap().resource, "namespaces");
    }

    #[test]
    fn roles_are_read_from_a_manifest_and_bindings_skipped() {
        let yaml = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: r\n  namespace: argocd\nrules:\n  - apiGroups: [\"\"]\n    resources: [secrets]\n    verbs: [get, list]\n---\nkind: RoleBinding\nmetadata:\n  name: r\n  namespace: argocd\n";
        assert_eq!(
            AccessRule::from_role_manifest(yaml).unwrap(),
            vec![AccessRule::new(&["get", "list"], "", "secrets", "argocd")]
        );
        let named = yaml.replace("verbs: [get, list]", "verbs: [get]\n    resourceNames: [a]");
        assert!(AccessRule::from_role_manifest(&named).is_err());
    }
}
