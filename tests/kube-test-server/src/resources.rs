//! The resource types this server serves, with the names the API uses for them.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    Namespace,
    Secret,
    ApplicationSet,
}

impl Resource {
    pub const ALL: [Resource; 3] = [Resource::Namespace, Resource::Secret, Resource::ApplicationSet];

    pub fn plural(self) -> &'static str {
        match self {
            Resource::Namespace => "namespaces",
            Resource::Secret => "secrets",
            Resource::ApplicationSet => "applicationsets",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Resource::Namespace => "namespace",
            Resource::Secret => "secret",
            Resource::ApplicationSet => "applicationset",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Resource::Namespace => "Namespace",
            Resource::Secret => "Secret",
            Resource::ApplicationSet => "ApplicationSet",
        }
    }

    pub fn list_kind(self) -> String {
        format!("{}List", self.kind())
    }

    /// API group; empty for the core group.
    pub fn group(self) -> &'static str {
        match self {
            Resource::ApplicationSet => "argoproj.io",
            _ => "",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Resource::ApplicationSet => "v1alpha1",
            _ => "v1",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Resource::ApplicationSet => "argoproj.io/v1alpha1",
            _ => "v1",
        }
    }

    pub fn namespaced(self) -> bool {
        !matches!(self, Resource::Namespace)
    }

    /// Custom resources carry `generation` and keep `apiVersion`/`kind` in list items.
    pub fn is_custom(self) -> bool {
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
