//! Plan-time hints for an addon set: what Argo CD would make of its selection, given the
//! cluster Secrets the selector matches today. Warnings only; the hub may change before apply.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

use crate::argocd::application_set::{self, AddonSet, Selector};
use crate::protocol::AttributePath;

/// What the plan-time hints need to know about one cluster Secret.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterFacts {
    pub secret_name: String,
    pub annotations: BTreeMap<String, String>,
}

impl ClusterFacts {
    /// The facts of one listed cluster Secret.
    pub fn of(secret: &Secret) -> ClusterFacts {
        ClusterFacts {
            secret_name: secret.metadata.name.clone().unwrap_or_default(),
            annotations: secret.metadata.annotations.clone().unwrap_or_default(),
        }
    }
}

/// A warning for the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Hint {
    pub attribute: AttributePath,
    pub summary: String,
    pub detail: String,
}

/// A dotted attribute name from [`AddonSet::template_strings`] as a path: every step but the
/// last is a single block.
fn dotted_path(dotted: &str) -> AttributePath {
    let mut steps = dotted.split('.').peekable();
    let mut path = AttributePath::default();
    while let Some(step) = steps.next() {
        path = path.attr(step);
        if steps.peek().is_some() {
            path = path.index(0);
        }
    }
    path
}

/// What Argo CD would make of `set` given the cluster Secrets its selector matches.
pub fn hints(set: &AddonSet, matched: &[ClusterFacts]) -> Vec<Hint> {
    let mut out = Vec::new();
    if matched.is_empty() {
        let selector = set.selector.as_ref().map(Selector::to_query).unwrap_or_default();
        out.push(Hint {
            attribute: AttributePath::root("cluster_selector"),
            summary: "The cluster selector matches no cluster".into(),
            detail: format!(
                "No cluster Secret in namespace {} matches {}, so this ApplicationSet generates no Application yet.",
                set.namespace,
                if selector.is_empty() { "(any labels)".to_string() } else { format!("the selector {selector:?}") }
            ),
        });
        return out;
    }
    // One warning per attribute, naming every annotation it reads that some cluster lacks.
    let used = set.annotations_used();
    let mut attributes: Vec<&'static str> = Vec::new();
    for (_, attr) in &used {
        if !attributes.contains(attr) {
            attributes.push(attr);
        }
    }
    for attribute in attributes {
        let keys: Vec<&str> = used.iter().filter(|(_, a)| *a == attribute).map(|(k, _)| k.as_str()).collect();
        let mut missing: Vec<&str> = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        for cluster in matched {
            let lacks: Vec<&str> = keys.iter().copied().filter(|k| !cluster.annotations.contains_key(*k)).collect();
            if !lacks.is_empty() {
                lines.push(format!("{} lacks {}", cluster.secret_name, lacks.join(", ")));
                for key in lacks {
                    if !missing.contains(&key) {
                        missing.push(key);
                    }
                }
            }
        }
        if !missing.is_empty() {
            out.push(Hint {
                attribute: dotted_path(attribute),
                summary: format!(
                    "Clusters lack the annotation{} {}",
                    if missing.len() > 1 { "s" } else { "" },
                    missing.join(", ")
                ),
                detail: format!(
                    "The templates read these metadata.annotations, and selected cluster Secrets do not have them: {}. \
                     Argo CD would render them empty (or fail with Go templates).",
                    lines.join("; ")
                ),
            });
        }
    }
    if matched.len() > 1 && !application_set::is_templated(&set.application_name) {
        out.push(Hint {
            attribute: AttributePath::root("application_name"),
            summary: "Application name does not depend on the cluster".into(),
            detail: format!(
                "{} clusters match the selector, and each would get an Application named {:?}; Argo CD rejects the \
                 duplicates. Use a template such as \"{}\".",
                matched.len(),
                set.application_name,
                application_set::default_application_name(&set.name, set.syntax())
            ),
        });
    }
    out
}
