//! The resource types this server serves, with the names the API uses for them.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    Namespace,
    Secret,
    ApplicationSet,
    Application,
}

impl Resource {
    pub const ALL: [Resource; 4] =
        [Resource::Namespace, Resource::Secret, Resource::ApplicationSet, Resource::Application];

    pub fn plural(self) -> &'static str {
        match self {
            Resource::Namespace => "namespaces",
            Resource::Secret => "secrets",
            Resource::ApplicationSet => "applicationsets",
            Resource::Application => "applications",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Resource::Namespace => "namespace",
            Resource::Secret => "secret",
            Resource::ApplicationSet => "applicationset",
            Resource::Application => "application",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Resource::Namespace => "Namespace",
            Resource::Secret => "Secret",
            Resource::ApplicationSet => "ApplicationSet",
            Resource::Application => "Application",
        }
    }

    pub fn list_kind(self) -> String {
        format!("{}List", self.kind())
    }

    /// API group; empty for the core group.
    pub fn group(self) -> &'static str {
        match self {
            Resource::ApplicationSet | Resource::Application => "argoproj.io",
            _ => "",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Resource::ApplicationSet | Resource::Application => "v1alpha1",
            _ => "v1",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Resource::ApplicationSet | Resource::Application => "argoproj.io/v1alpha1",
            _ => "v1",
        }
    }

    pub fn namespaced(self) -> bool {
        !matches!(self, Resource::Namespace)
    }

    /// Custom resources carry `generation` and keep `apiVersion`/`kind` in list items.
    pub fn is_custom(self) -> bool {
        matches!(self, Resource::ApplicationSet | Resource::Application)
    }

    /// Argo CD's kinds: served only when Argo CD is installed.
    pub fn is_argocd(self) -> bool {
        self.group() == "argoproj.io"
    }

    /// Kinds whose `status` is written only through a status subresource. Argo CD's Application
    /// has none: its controller writes `status` with the object.
    pub fn has_status_subresource(self) -> bool {
        matches!(self, Resource::ApplicationSet)
    }

    /// `secrets`, `applicationsets.argoproj.io`: the name errors use.
    pub fn qualified_plural(self) -> String {
        qualify(self.plural(), self.group())
    }

    /// `Secret`, `ApplicationSet.argoproj.io`: the name validation errors use.
    pub fn qualified_kind(self) -> String {
        qualify(self.kind(), self.group())
    }

    /// The resource named by a URL's group, version and plural.
    pub fn from_url(group: &str, version: &str, plural: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.group() == group && r.version() == version && r.plural() == plural)
    }

    /// The name used in the store API and the control endpoints.
    pub fn from_name(name: &str) -> Option<Resource> {
        let lower = name.to_ascii_lowercase();
        Resource::ALL
            .into_iter()
            .find(|r| lower == r.plural() || lower == r.singular() || lower == r.qualified_plural())
    }
}

fn qualify(name: &str, group: &str) -> String {
    if group.is_empty() { name.to_string() } else { format!("{name}.{group}") }
}
