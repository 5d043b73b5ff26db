//! `gitopsbridge_addon_set`: one Argo CD ApplicationSet with a `clusters` generator, the object
//! that turns cluster metadata (labels and annotations of cluster Secrets) into addons and
//! workloads.
//!
//! Reads top to bottom: model (Terraform values ↔ [`AddonSet`]), schema, validate, plan (with
//! best-effort hints from the hub), create, read, update, delete (waiting out Argo CD's
//! finalizers), import, then unit tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Secret;

use crate::argocd::application_set::{
    self, AddonSet, Automated, DRAIN_LABEL, Destination, Directory, DrainPhase, Helm, MetadataRepo, Requirement,
    Selector, ShapeError, Source, SyncPolicy, Syntax,
};
use crate::argocd::cluster_secret::cluster_secrets_selector;
use crate::argocd::k8s_names::{
    check_dns_label, check_dns_subdomain, check_label_key, check_label_value, parse_namespaced_id,
};
use crate::argocd::owned_fields::FieldSet;
use crate::http_url::check_http_url;
use crate::hub::deletion::{WaitError, wait_until_gone};
use crate::hub::{FIELD_MANAGER, HubError};
use crate::protocol::{
    ApplyError, Attribute, AttributePath, Block, Context, Diagnostics, NestedBlock, Nesting, Plan, PlanRequest,
    Resource, Schema, Type, Value,
};
use crate::provider::state::{Configured, ProviderState};
use crate::tf::adoption;
use crate::tf::hub_errors::hub_diagnostics;
use crate::tf::selection_hints::{ClusterFacts, hints};
use crate::tf::timeouts::{self, Deadline, Defaults, Operation, Timeout, format_duration};
use crate::tf::values as tf_values;

pub const TYPE_NAME: &str = "gitopsbridge_addon_set";

/// The CustomResourceDefinition Argo CD installs for ApplicationSets.
const CRD_NAME: &str = "applicationsets.argoproj.io";

/// Each operation's timeout when the `timeouts` block does not set it; destroy's includes the
/// wait for Argo CD's finalizers.
const TIMEOUTS: Defaults = &[
    Timeout::new(Operation::Create, FIVE_MINUTES),
    Timeout::new(Operation::Read, FIVE_MINUTES).noting(timeouts::READ_NOTE),
    Timeout::new(Operation::Update, FIVE_MINUTES),
    Timeout::new(Operation::Delete, FIVE_MINUTES).noting("It includes the wait for Argo CD to remove its finalizers."),
];
const FIVE_MINUTES: Duration = Duration::from_secs(5 * 60);
/// The budget of the plan-time hints: a plan never waits longer on an unreachable hub, and only
/// once per provider process (see [`AddonSetResource::hints_off`]).
const HINT_BUDGET: Duration = Duration::from_secs(2);

// =============================================================================================
// Model: Terraform values ↔ AddonSet
// =============================================================================================

/// Errors of this resource, turned into diagnostics at the trait boundary.
#[derive(Debug, thiserror::Error)]
pub enum AddonSetError {
    /// Boxed: a hub error is large and every `Result` of this layer would carry its size.
    #[error(transparent)]
    Hub(Box<HubError>),
    /// Create found an ApplicationSet of that name and the user did not opt in to adopting it.
    #[error("the ApplicationSet {namespace}/{name} already exists")]
    AlreadyExists { namespace: String, name: String },
    /// The import id is not `<namespace>/<name>`.
    #[error("invalid import id {id:?}: {reason}")]
    BadImportId { id: String, reason: String },
    /// The object to import is not something an addon set can manage.
    #[error("the ApplicationSet {namespace}/{name} cannot be managed as an addon set: {source}")]
    NotImportable {
        namespace: String,
        name: String,
        #[source]
        source: ShapeError,
    },
    /// Deletion was accepted but finalizers kept the object past the deadline.
    #[error(
        "the ApplicationSet {namespace}/{name} was still being deleted when timeouts.delete ({}) ran out; finalizers \
         still present: {}",
        format_duration(*waited),
        if finalizers.is_empty() { "none (the object is still being removed)".to_string() } else { finalizers.join(", ") }
    )]
    DeleteTimeout { namespace: String, name: String, finalizers: Vec<String>, waited: Duration },
    /// Deletion was accepted, then Terraform asked the provider to stop before the object was
    /// gone (`finalizers`: those last seen).
    #[error(
        "the hub accepted the deletion of the ApplicationSet {namespace}/{name}, but Terraform asked the provider to \
         stop before it was gone (finalizers still present: {})",
        finalizers.join(", ")
    )]
    DeleteNotAwaited { namespace: String, name: String, finalizers: Vec<String> },
    /// A value needed to write the object is missing or unknown at apply.
    #[error("{attribute} must be known to write the ApplicationSet")]
    Missing { attribute: &'static str },
}

impl From<HubError> for AddonSetError {
    fn from(error: HubError) -> Self {
        AddonSetError::Hub(Box::new(error))
    }
}

impl AddonSetError {
    /// True when a write failed without knowing whether the hub carried it out.
    fn uncertain(&self) -> bool {
        matches!(self, AddonSetError::Hub(hub) if hub.uncertain())
    }

    fn into_diagnostics(self) -> Diagnostics {
        match &self {
            AddonSetError::Hub(hub) if matches!(**hub, HubError::CrdMissing { .. }) => Diagnostics::error(
                "Argo CD is not installed on the hub",
                format!(
                    "The hub does not serve ApplicationSets: the CustomResourceDefinition {CRD_NAME} is missing. \
                     Install Argo CD (with its CRDs) on the hub before creating addon sets."
                ),
            ),
            AddonSetError::Hub(hub) => hub_diagnostics(hub),
            AddonSetError::AlreadyExists { namespace, name } => Diagnostics::error(
                "ApplicationSet already exists",
                format!(
                    "The ApplicationSet {namespace}/{name} already exists on the hub and is not in this state. {}\n\
                     Or set allow_overwrite = true to take it over as it is.",
                    adoption::how_to_import(TYPE_NAME, &format!("{namespace}/{name}"))
                ),
            ),
            AddonSetError::BadImportId { .. } => Diagnostics::error("Invalid import id", self.to_string()),
            AddonSetError::NotImportable { .. } => Diagnostics::error("Cannot import ApplicationSet", self.to_string()),
            AddonSetError::DeleteTimeout { .. } => Diagnostics::error(
                "Timed out waiting for the ApplicationSet to be deleted",
                format!(
                    "{self}. Argo CD removes its finalizers once it has cleaned up; check the applicationset \
                     controller, or raise timeouts.delete."
                ),
            ),
            AddonSetError::DeleteNotAwaited { .. } => Diagnostics::error(
                "ApplicationSet deletion not awaited",
                format!(
                    "{self}. It stays in state: the next apply or destroy finds it gone, or deletes it again and \
                     waits."
                ),
            ),
            AddonSetError::Missing { .. } => Diagnostics::error("Addon set error", self.to_string()),
        }
    }
}

fn opt_strings(v: &Value) -> Option<Vec<String>> {
    v.as_list().map(|_| tf_values::string_list(v))
}

fn opt_bool(v: &Value) -> Option<bool> {
    v.as_bool()
}

/// Reads a fully known configuration, plan or state into the model.
///
/// # Errors
/// [`AddonSetError::Missing`] when a value the object needs is not known.
pub fn model_from_value(v: &Value) -> Result<AddonSet, AddonSetError> {
    let required =
        |attribute: &'static str| tf_values::string(v.get(attribute)).ok_or(AddonSetError::Missing { attribute });
    let source = tf_values::block(v.get("source")).ok_or(AddonSetError::Missing { attribute: "source" })?;
    let s = |name: &str| tf_values::string(source.get(name));
    Ok(AddonSet {
        name: required("name")?,
        namespace: required("namespace")?,
        project: required("project")?,
        application_name: required("application_name")?,
        selector: tf_values::block(v.get("cluster_selector")).map(|sel| Selector {
            match_labels: sel.get("match_labels").as_map().map(|_| tf_values::string_map(sel.get("match_labels"))),
            match_expressions: sel
                .get("match_expressions")
                .as_list()
                .unwrap_or_default()
                .iter()
                .map(|e| Requirement {
                    key: tf_values::string(e.get("key")).unwrap_or_default(),
                    operator: tf_values::string(e.get("operator")).unwrap_or_default(),
                    values: opt_strings(e.get("values")),
                })
                .collect(),
        }),
        source: Source {
            from_metadata: source.get("from_metadata").as_str().and_then(MetadataRepo::parse),
            repo_url: s("repo_url"),
            path: s("path"),
            target_revision: s("target_revision"),
            chart: s("chart"),
            directory: tf_values::block(source.get("directory")).map(|d| Directory {
                recurse: opt_bool(d.get("recurse")),
                include: tf_values::string(d.get("include")),
                exclude: tf_values::string(d.get("exclude")),
            }),
            helm: tf_values::block(source.get("helm")).map(|h| Helm {
                release_name: tf_values::string(h.get("release_name")),
                value_files: opt_strings(h.get("value_files")),
                values: tf_values::string(h.get("values")),
            }),
        },
        destination: tf_values::block(v.get("destination")).map(|d| Destination {
            name: tf_values::string(d.get("name")),
            server: tf_values::string(d.get("server")),
            namespace: tf_values::string(d.get("namespace")),
        }),
        sync_policy: tf_values::block(v.get("sync_policy")).map(|p| SyncPolicy {
            automated: tf_values::block(p.get("automated")).map(|a| Automated {
                prune: opt_bool(a.get("prune")),
                self_heal: opt_bool(a.get("self_heal")),
                allow_empty: opt_bool(a.get("allow_empty")),
            }),
            sync_options: opt_strings(p.get("sync_options")),
        }),
        preserve_resources_on_deletion: opt_bool(v.get("preserve_resources_on_deletion")),
        go_template: opt_bool(v.get("go_template")),
        // A state written before `drain_phase` existed holds null: such sets were written without it.
        drain_phase: match v.get("drain_phase") {
            Value::Null => DrainPhase::Never,
            phase => {
                phase.as_str().and_then(DrainPhase::parse).ok_or(AddonSetError::Missing { attribute: "drain_phase" })?
            }
        },
    })
}

/// The `drain_phase` of a configuration that names none, or `None` while what it depends on is
/// unknown. A set without `cluster_selector` keeps Argo CD's empty selector, which also selects
/// the hub's implicit `in-cluster`; any requirement would drop it, so such a set ignores drains.
fn default_drain_phase(config: &Value) -> Option<DrainPhase> {
    let selector = config.get("cluster_selector");
    let source = config.get("source");
    if selector.is_unknown() || source.is_unknown() {
        return None;
    }
    if tf_values::block(selector).is_none() {
        return Some(DrainPhase::Never);
    }
    let from = tf_values::block(source).map(|s| s.get("from_metadata").clone()).unwrap_or(Value::Null);
    if from.is_unknown() {
        return None;
    }
    Some(DrainPhase::default_for(from.as_str().and_then(MetadataRepo::parse)))
}

fn block_value(item: Option<Value>) -> Value {
    Value::List(item.into_iter().collect())
}

fn opt_list(items: &Option<Vec<String>>) -> Value {
    items.as_ref().map_or(Value::Null, |v| Value::strings(v.iter().cloned()))
}

fn opt_str(s: &Option<String>) -> Value {
    tf_values::opt_string(s.as_deref())
}

/// Writes the model into `base` (a state or plan), keeping the attributes the model does not
/// carry (`id`, `allow_overwrite`, `timeouts`).
pub fn model_into_value(m: &AddonSet, base: &Value) -> Value {
    let mut v = base.clone();
    v.set("name", Value::string(&m.name));
    v.set("namespace", Value::string(&m.namespace));
    v.set("project", Value::string(&m.project));
    v.set("application_name", Value::string(&m.application_name));
    v.set("preserve_resources_on_deletion", m.preserve_resources_on_deletion.into());
    v.set("go_template", m.go_template.into());
    v.set("drain_phase", Value::string(m.drain_phase.as_str()));
    v.set(
        "cluster_selector",
        block_value(m.selector.as_ref().map(|sel| {
            Value::object([
                ("match_labels", sel.match_labels.as_ref().map_or(Value::Null, tf_values::map_value)),
                (
                    "match_expressions",
                    Value::List(
                        sel.match_expressions
                            .iter()
                            .map(|r| {
                                Value::object([
                                    ("key", Value::string(&r.key)),
                                    ("operator", Value::string(&r.operator)),
                                    ("values", opt_list(&r.values)),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ])
        })),
    );
    let s = &m.source;
    v.set(
        "source",
        block_value(Some(Value::object([
            ("from_metadata", tf_values::opt_string(s.from_metadata.map(MetadataRepo::as_str))),
            ("repo_url", opt_str(&s.repo_url)),
            ("path", opt_str(&s.path)),
            ("target_revision", opt_str(&s.target_revision)),
            ("chart", opt_str(&s.chart)),
            (
                "directory",
                block_value(s.directory.as_ref().map(|d| {
                    Value::object([
                        ("recurse", d.recurse.into()),
                        ("include", opt_str(&d.include)),
                        ("exclude", opt_str(&d.exclude)),
                    ])
                })),
            ),
            (
                "helm",
                block_value(s.helm.as_ref().map(|h| {
                    Value::object([
                        ("release_name", opt_str(&h.release_name)),
                        ("value_files", opt_list(&h.value_files)),
                        ("values", opt_str(&h.values)),
                    ])
                })),
            ),
        ]))),
    );
    v.set(
        "destination",
        block_value(m.destination.as_ref().map(|d| {
            Value::object([
                ("name", opt_str(&d.name)),
                ("server", opt_str(&d.server)),
                ("namespace", opt_str(&d.namespace)),
            ])
        })),
    );
    v.set(
        "sync_policy",
        block_value(m.sync_policy.as_ref().map(|p| {
            Value::object([
                (
                    "automated",
                    block_value(p.automated.as_ref().map(|a| {
                        Value::object([
                            ("prune", a.prune.into()),
                            ("self_heal", a.self_heal.into()),
                            ("allow_empty", a.allow_empty.into()),
                        ])
                    })),
                ),
                ("sync_options", opt_list(&p.sync_options)),
            ])
        })),
    );
    v.set("id", Value::string(m.id()));
    v
}

/// A state with every attribute null and every block empty: the base of an import.
fn empty_state() -> Value {
    let block = schema().block;
    let mut state = Value::object(block.attributes.iter().map(|a| (a.name.clone(), Value::Null)));
    for b in &block.blocks {
        state.set(&b.type_name, Value::List(vec![]));
    }
    state
}

// =============================================================================================
// Schema
// =============================================================================================

fn schema() -> Schema {
    let s = |name: &str, description: &str| Attribute::optional(name, Type::String, description);
    let b = |name: &str, description: &str| Attribute::optional(name, Type::Bool, description);
    let requirement = Block::new("One label requirement on the cluster Secret.")
        .attribute(Attribute::required("key", Type::String, "The label key, e.g. `environment`."))
        .attribute(Attribute::required("operator", Type::String, "`In`, `NotIn`, `Exists` or `DoesNotExist`."))
        .attribute(Attribute::optional(
            "values",
            Type::list(Type::String),
            "The label values; required for `In` and `NotIn`, not allowed for `Exists` and `DoesNotExist`.",
        ));
    let selector = Block::new(
        "Which cluster Secrets the `clusters` generator selects, by their labels. Without this block every \
         cluster Argo CD knows is selected.",
    )
    .attribute(Attribute::optional(
        "match_labels",
        Type::map(Type::String),
        "Labels a cluster Secret must carry with exactly these values, e.g. `{ enable_metrics_server = \"true\" }`.",
    ))
    .block(NestedBlock::list("match_expressions", requirement));
    let directory = Block::new("Options for a plain directory of manifests (`directory`).")
        .attribute(b("recurse", "Include subdirectories."))
        .attribute(s("include", "A glob of the files to include, e.g. `*.yaml`."))
        .attribute(s("exclude", "A glob of the files to leave out, e.g. `exclude/*`."));
    let helm = Block::new("Options for a Helm chart (`helm`).")
        .attribute(s("release_name", "The Helm release name (default: the Application name)."))
        .attribute(Attribute::optional("value_files", Type::list(Type::String), "Values files, relative to the chart."))
        .attribute(s("values", "Values as one YAML string."));
    let source = Block::new(
        "Where each generated Application takes its manifests from. Set `from_metadata`, or `repo_url` with \
         `path`/`chart` and `target_revision`. Every string may use Argo CD templates such as `{{name}}`.",
    )
    .attribute(s(
        "from_metadata",
        "`addons` or `workload`: take the repository from the cluster Secret's GitOps Bridge annotations — \
         `repoURL` = `{{metadata.annotations.<p>_repo_url}}`, `path` = `<p>_repo_basepath` followed by \
         `<p>_repo_path`, `targetRevision` = `<p>_repo_revision`. An explicit `path` or `target_revision` overrides \
         the annotation. Conflicts with `repo_url`.",
    ))
    .attribute(s("repo_url", "The Git or Helm repository URL (`repoURL`)."))
    .attribute(s("path", "The directory in the repository (`path`)."))
    .attribute(s("target_revision", "The branch, tag, commit or chart version (`targetRevision`)."))
    .attribute(s("chart", "The chart name in a Helm repository (`chart`)."))
    .block(NestedBlock::at_most_one("directory", directory))
    .block(NestedBlock::at_most_one("helm", helm));
    let destination = Block::new(
        "Where each generated Application deploys. Without this block: the selected cluster itself \
         (`name = \"{{name}}\"`), in no particular namespace.",
    )
    .attribute(s("name", "The destination cluster name, usually `{{name}}`. Conflicts with `server`."))
    .attribute(s("server", "The destination API server URL, e.g. `{{server}}`. Conflicts with `name`."))
    .attribute(s("namespace", "The namespace the Application deploys into."));
    let automated = Block::new("Sync automatically. An empty block is Argo CD's `automated: {}`.")
        .attribute(b("prune", "Delete resources that are no longer in Git."))
        .attribute(b("self_heal", "Revert changes made in the cluster."))
        .attribute(b("allow_empty", "Allow a sync that would leave the Application with no resources."));
    let sync_policy = Block::new("The generated Applications' sync policy.")
        .attribute(Attribute::optional(
            "sync_options",
            Type::list(Type::String),
            "Argo CD sync options, e.g. `[\"CreateNamespace=true\"]`.",
        ))
        .block(NestedBlock::at_most_one("automated", automated));
    let block = Block::new(
        "An Argo CD ApplicationSet with a `clusters` generator: one Application per selected cluster Secret, \
         templated from the Secret's GitOps Bridge labels and annotations.",
    )
    .attribute(Attribute::computed("id", Type::String, "`<namespace>/<name>`, also the import id."))
    .attribute(Attribute::required("name", Type::String, "The ApplicationSet's name. Changing it replaces the ApplicationSet."))
    .attribute(Attribute::optional_computed(
        "namespace",
        Type::String,
        "The hub namespace of the ApplicationSet (default: the provider's `argocd_namespace`). Changing it replaces the ApplicationSet.",
    ))
    .attribute(Attribute::optional_computed("project", Type::String, "The Argo CD project of the Applications (default `default`)."))
    .attribute(Attribute::optional_computed(
        "application_name",
        Type::String,
        "Template of each Application's name (default `<name>-{{name}}`). It should depend on the cluster, or \
         several clusters produce the same Application name.",
    ))
    .attribute(b(
        "preserve_resources_on_deletion",
        "Keep the Applications' resources when the ApplicationSet is deleted (`syncPolicy.preserveResourcesOnDeletion`).",
    ))
    .attribute(b("go_template", "Use Go templates (`{{.name}}`) instead of fasttemplate (`{{name}}`)."))
    .attribute(Attribute::optional_computed(
        "drain_phase",
        Type::String,
        "When a cluster whose `gitopsbridge_cluster_metadata` drains on destroy leaves this set, so that the \
         Applications it generated for that cluster are deleted while Argo CD can still reach the cluster: \
         `workloads` (first), `addons` (once the workloads are gone), `last` (for the controllers that clean up \
         cloud resources, such as the load balancer controller and external-dns) or `never`. Any phase but `never` \
         adds `{key: gitops-bridge/drain, operator: NotIn, values: [...]}` to the written selector. Default: \
         `addons` for `from_metadata = \"addons\"`, else `workloads`; `never` without a `cluster_selector`, since \
         any requirement would stop the empty selector from also selecting the hub's implicit `in-cluster`.",
    ))
    .attribute(Attribute::optional_computed(
        "allow_overwrite",
        Type::Bool,
        "Take over an existing ApplicationSet of the same name on create instead of failing (default `false`).",
    ))
    .block(NestedBlock::at_most_one("cluster_selector", selector))
    .block(NestedBlock { type_name: "source".into(), block: source, nesting: Nesting::List, min_items: 1, max_items: 1 })
    .block(NestedBlock::at_most_one("destination", destination))
    .block(NestedBlock::at_most_one("sync_policy", sync_policy))
    .block(timeouts::block(TIMEOUTS));
    Schema::new(0, block)
}

// =============================================================================================
// Validate
// =============================================================================================

const OPERATORS: [&str; 4] = ["In", "NotIn", "Exists", "DoesNotExist"];

/// Calls `check` on every known string under `value`, with its path.
fn each_string(value: &Value, path: AttributePath, check: &mut impl FnMut(&AttributePath, &str)) {
    match value {
        Value::String(s) => check(&path, s),
        Value::List(items) => items.iter().enumerate().for_each(|(i, v)| each_string(v, path.clone().index(i), check)),
        Value::Map(attrs) => attrs.iter().for_each(|(k, v)| each_string(v, path.clone().attr(k), check)),
        _ => {}
    }
}

/// Offline checks of a configuration that may hold unknown values; each error on its attribute.
pub fn validate_config(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let mut error = |path: AttributePath, summary: &str, detail: String| diags.push_error(Some(path), summary, detail);

    if let Some(name) = config.get("name").as_str()
        && let Err(e) = check_dns_subdomain(name)
    {
        error(AttributePath::root("name"), "Invalid ApplicationSet name", format!("The name {name:?} {e}."));
    }
    if let Some(ns) = config.get("namespace").as_str()
        && let Err(e) = check_dns_label(ns)
    {
        error(AttributePath::root("namespace"), "Invalid namespace", format!("The namespace {ns:?} {e}."));
    }
    if let Some(name) = config.get("application_name").as_str()
        && let Err(e) = application_set::check_application_name(name)
    {
        error(
            AttributePath::root("application_name"),
            "Invalid Application name",
            format!("The Application name {name:?} {e}."),
        );
    }

    // Every string Argo CD templates: braces must balance. Selector values are labels, checked below.
    for attr in ["application_name", "project", "source", "destination"] {
        each_string(config.get(attr), AttributePath::root(attr), &mut |path, text| {
            if let Err(e) = application_set::check_braces(text) {
                error(
                    path.clone(),
                    "Unbalanced template braces",
                    format!("The value {text:?} is not a valid Argo CD template: {e}."),
                );
            }
        });
    }

    if let Some(selector) = tf_values::block(config.get("cluster_selector")) {
        let at = AttributePath::root("cluster_selector").index(0);
        for (key, value) in selector.get("match_labels").as_map().into_iter().flatten() {
            let path = at.clone().attr("match_labels").key(key);
            if let Err(e) = check_label_key(key) {
                error(path.clone(), "Invalid label key", format!("The label key {key:?} {e}."));
            }
            if let Some(value) = value.as_str()
                && let Err(e) = check_label_value(value)
            {
                error(path, "Invalid label value", format!("The value {value:?} of label {key:?} {e}."));
            }
        }
        for (i, expr) in selector.get("match_expressions").as_list().unwrap_or_default().iter().enumerate() {
            let path = at.clone().attr("match_expressions").index(i);
            if let Some(key) = expr.get("key").as_str()
                && let Err(e) = check_label_key(key)
            {
                error(path.clone().attr("key"), "Invalid label key", format!("The label key {key:?} {e}."));
            }
            if expr.get("key").as_str() == Some(DRAIN_LABEL) {
                error(
                    path.clone().attr("key"),
                    "Drain label in the selector",
                    format!("The requirement on {DRAIN_LABEL:?} is written from `drain_phase`; set that instead."),
                );
            }
            let values = expr.get("values");
            for (j, value) in values.as_list().unwrap_or_default().iter().enumerate() {
                if let Some(value) = value.as_str()
                    && let Err(e) = check_label_value(value)
                {
                    error(
                        path.clone().attr("values").index(j),
                        "Invalid label value",
                        format!("The value {value:?} {e}."),
                    );
                }
            }
            let Some(operator) = expr.get("operator").as_str() else { continue };
            let has_values = values.as_list().is_some_and(|v| !v.is_empty());
            match operator {
                "In" | "NotIn" if values.is_null() || (values.is_fully_known() && !has_values) => error(
                    path.attr("values"),
                    "Missing selector values",
                    format!("The operator {operator} needs at least one value in `values`."),
                ),
                "Exists" | "DoesNotExist" if has_values => error(
                    path.attr("values"),
                    "Selector values not allowed",
                    format!("The operator {operator} tests only whether the label is present; remove `values`."),
                ),
                op if !OPERATORS.contains(&op) => error(
                    path.attr("operator"),
                    "Invalid selector operator",
                    format!("The operator {op:?} is not one of {}.", OPERATORS.join(", ")),
                ),
                _ => {}
            }
        }
    }

    if let Some(phase) = config.get("drain_phase").as_str()
        && DrainPhase::parse(phase).is_none()
    {
        error(
            AttributePath::root("drain_phase"),
            "Invalid drain_phase",
            format!("drain_phase must be \"workloads\", \"addons\", \"last\" or \"never\", not {phase:?}."),
        );
    }

    if let Some(source) = tf_values::block(config.get("source")) {
        let at = AttributePath::root("source").index(0);
        let from = source.get("from_metadata");
        if let Some(repo) = from.as_str()
            && MetadataRepo::parse(repo).is_none()
        {
            error(
                at.clone().attr("from_metadata"),
                "Invalid from_metadata",
                format!("from_metadata must be \"addons\" or \"workload\", not {repo:?}."),
            );
        }
        let repo_url = source.get("repo_url");
        if !from.is_null() && !repo_url.is_null() {
            error(
                at.clone().attr("repo_url"),
                "Conflicting source settings",
                "`repo_url` and `from_metadata` both say where the repository is; set one of them.".into(),
            );
        }
        if from.is_null() && repo_url.is_null() {
            // On the attribute to add, so that Terraform underlines the `source` block.
            error(
                at.attr("from_metadata"),
                "Missing repository",
                "Set `from_metadata = \"addons\"` (or \"workload\") to take the repository from the cluster metadata, or `repo_url`.".into(),
            );
        }
    }

    if let Some(destination) = tf_values::block(config.get("destination")) {
        let at = |name: &str| AttributePath::root("destination").index(0).attr(name);
        if !destination.get("name").is_null() && !destination.get("server").is_null() {
            error(
                at("server"),
                "Conflicting destination settings",
                "Argo CD takes a destination `name` or `server`, not both.".into(),
            );
        }
        // Templates are filled in per cluster; only literal values can be checked here.
        let literal = |name: &str| destination.get(name).as_str().filter(|s| !application_set::is_templated(s));
        if let Some(server) = literal("server")
            && let Err(e) = check_http_url(server)
        {
            error(at("server"), "Invalid destination server", format!("The server {server:?} {e}."));
        }
        if let Some(ns) = literal("namespace")
            && let Err(e) = check_dns_label(ns)
        {
            error(at("namespace"), "Invalid destination namespace", format!("The namespace {ns:?} {e}."));
        }
    }

    timeouts::validate(config, TIMEOUTS, &mut diags);
    diags
}

// =============================================================================================
// Read: the live object back into state
// =============================================================================================

/// The state after refreshing from `live`, plus (on import) the `spec` fields left unmanaged.
///
/// A state that does not hold a whole configuration comes from an import: everything is mapped
/// back. Otherwise only what we own is compared (what the state applies, plus what our field
/// manager holds), so fields others add are never drift and our own fields changed by hand are.
///
/// # Errors
/// On import, a [`ShapeError`] when the object is not something an addon set can manage.
pub fn state_from_live(state: &Value, live: &serde_json::Value) -> Result<(Value, Vec<String>), ShapeError> {
    let Ok(prior) = model_from_value(state) else {
        let ignored = application_set::check_importable(live)?;
        let mut imported = model_into_value(&AddonSet::from_json(live), state);
        imported.set("allow_overwrite", Value::Bool(false));
        return Ok((imported, ignored));
    };
    let desired = prior.to_json();
    let view = FieldSet::of_object(&desired).union(FieldSet::managed_by(live, FIELD_MANAGER)).project(live);
    let current = AddonSet::from_json(&view);
    if current.to_json() == desired {
        // The same object: keep the state's spelling (e.g. a destination block equal to the default).
        let mut kept = state.clone();
        kept.set("drain_phase", Value::string(current.drain_phase.as_str()));
        return Ok((kept, Vec::new()));
    }
    Ok((model_into_value(&current, state), Vec::new()))
}

// =============================================================================================
// The resource
// =============================================================================================

pub struct AddonSetResource {
    provider: Arc<ProviderState>,
    /// Set once the hub failed to answer a hint: the other resources of the same plan then
    /// skip theirs instead of each waiting out [`HINT_BUDGET`].
    hints_off: AtomicBool,
}

/// Parses an import id `<namespace>/<name>`.
///
/// # Errors
/// [`AddonSetError::BadImportId`] naming what is wrong.
pub fn parse_import_id(id: &str) -> Result<(String, String), AddonSetError> {
    parse_namespaced_id(id, "name", "argocd/cluster-addons")
        .map_err(|reason| AddonSetError::BadImportId { id: id.to_string(), reason })
}

impl AddonSetResource {
    pub fn new(provider: Arc<ProviderState>) -> Self {
        AddonSetResource { provider, hints_off: AtomicBool::new(false) }
    }

    fn plan_impl(&self, request: PlanRequest<'_>) -> Result<Plan, Diagnostics> {
        validate_config(request.config).into_result()?;
        let config = request.config;
        let mut planned = request.proposed_new_state;
        // Defaults follow the configuration every time: a computed value kept from the prior
        // state would go stale (e.g. `{{name}}` after switching to Go templates).
        if config.get("namespace").is_null() {
            let namespace = match self.provider.argocd_namespace() {
                Configured::Known(ns) => Value::String(ns),
                Configured::Unknown => Value::Unknown,
            };
            planned.set("namespace", namespace);
        }
        if config.get("project").is_null() {
            planned.set("project", Value::string("default"));
        }
        if config.get("application_name").is_null() {
            let default = match (planned.get("name"), planned.get("go_template")) {
                (Value::String(name), go) if !go.is_unknown() => {
                    Value::string(application_set::default_application_name(name, Syntax::of(go.as_bool())))
                }
                _ => Value::Unknown,
            };
            planned.set("application_name", default);
        }
        if config.get("allow_overwrite").is_null() {
            planned.set("allow_overwrite", Value::Bool(false));
        }
        if config.get("drain_phase").is_null() {
            let phase = default_drain_phase(config).map_or(Value::Unknown, |p| Value::string(p.as_str()));
            planned.set("drain_phase", phase);
        }
        let id = match (planned.get("namespace"), planned.get("name")) {
            (Value::String(ns), Value::String(name)) => Value::string(format!("{ns}/{name}")),
            _ => Value::Unknown,
        };
        planned.set("id", id);

        let mut requires_replace = Vec::new();
        if !request.prior_state.is_null() {
            for attribute in ["name", "namespace"] {
                if request.prior_state.get(attribute) != planned.get(attribute) {
                    requires_replace.push(AttributePath::root(attribute));
                }
            }
        }
        Ok(Plan { planned_state: planned, requires_replace })
    }

    /// Lists the cluster Secrets the selector matches, or `None` when the hub cannot tell us
    /// (settings unknown, unreachable, no permission): hints are help, never a reason to fail.
    async fn matched_clusters(&self, ctx: &Context, set: &AddonSet) -> Option<Vec<ClusterFacts>> {
        if self.hints_off.load(Ordering::Relaxed) {
            return None;
        }
        // Every addon set of the plan shares one listing of the cluster Secrets and applies its
        // own selector to it.
        let listed = tokio::time::timeout(HINT_BUDGET, async {
            let Ok(hub) = self.provider.hub().await else { return Ok(None) };
            hub.secrets(&set.namespace).listed(ctx, &cluster_secrets_selector()).await
        })
        .await;
        let Ok(Ok(Some(secrets))) = listed else {
            self.hints_off.store(true, Ordering::Relaxed);
            return None;
        };
        let selects = |secret: &&Secret| {
            let labels = secret.metadata.labels.clone().unwrap_or_default();
            set.selector.as_ref().is_none_or(|selector| selector.matches(&labels))
        };
        Some(secrets.values().filter(selects).map(ClusterFacts::of).collect())
    }

    async fn warn_from_hub(&self, ctx: &Context, planned: &Value) {
        if !planned.is_fully_known() {
            return;
        }
        let Ok(set) = model_from_value(planned) else { return };
        if let Some(matched) = self.matched_clusters(ctx, &set).await {
            for hint in hints(&set, &matched) {
                ctx.warn(Some(hint.attribute), hint.summary, hint.detail);
            }
        }
    }

    async fn apply(&self, ctx: &Context, set: &AddonSet, force: bool, deadline: Deadline) -> Result<(), AddonSetError> {
        let hub = self.provider.hub().await?;
        let sets = hub.application_sets(&set.namespace).until(deadline);
        sets.apply(ctx, &set.name, &set.to_json(), force).await?;
        deadline.warn_if_passed(ctx, &sets.describe(&set.name));
        Ok(())
    }

    /// Refuses to adopt an ApplicationSet that exists before this create, unless allowed: it may
    /// be another root's, which destroying this one would then delete.
    async fn create_impl(&self, ctx: &Context, planned: &Value) -> Result<(), AddonSetError> {
        let deadline = Deadline::start(planned, TIMEOUTS, Operation::Create);
        let set = model_from_value(planned)?;
        let allow_overwrite = planned.get("allow_overwrite").as_bool() == Some(true);
        let hub = self.provider.hub().await?;
        let existing = hub.application_sets(&set.namespace).until(deadline).get(ctx, &set.name).await?;
        if existing.is_some() && !allow_overwrite {
            return Err(AddonSetError::AlreadyExists { namespace: set.namespace, name: set.name });
        }
        self.apply(ctx, &set, allow_overwrite, deadline).await
    }

    async fn read_impl(&self, ctx: &Context, state: &Value) -> Result<Option<Value>, AddonSetError> {
        let namespace =
            tf_values::string(state.get("namespace")).ok_or(AddonSetError::Missing { attribute: "namespace" })?;
        let name = tf_values::string(state.get("name")).ok_or(AddonSetError::Missing { attribute: "name" })?;
        let deadline = Deadline::start(state, TIMEOUTS, Operation::Read);
        let hub = match self.provider.hub().await {
            // The hub depends on resources not applied yet: keep the state rather than fail the
            // whole plan; apply reads it again with known settings.
            Err(HubError::UnknownConfig) if model_from_value(state).is_ok() => {
                ctx.warn(
                    None,
                    "ApplicationSet not refreshed",
                    format!("The provider's hub settings are not known yet, so {namespace}/{name} was not read."),
                );
                return Ok(Some(state.clone()));
            }
            other => other?,
        };
        let sets = hub.application_sets(&namespace).until(deadline);
        let Some(object) = sets.get_listed(ctx, &name, "").await? else { return Ok(None) };
        let live = serde_json::to_value(&object).unwrap_or_default();
        let (new_state, ignored) =
            state_from_live(state, &live).map_err(|source| AddonSetError::NotImportable { namespace, name, source })?;
        if !ignored.is_empty() {
            ctx.warn(
                None,
                "Fields left unmanaged",
                format!(
                    "gitopsbridge_addon_set does not manage {}; they stay as they are on the hub.",
                    ignored.join(", ")
                ),
            );
        }
        Ok(Some(new_state))
    }

    async fn delete_impl(&self, ctx: &Context, prior: &Value) -> Result<(), AddonSetError> {
        let (Some(namespace), Some(name)) =
            (tf_values::string(prior.get("namespace")), tf_values::string(prior.get("name")))
        else {
            return Ok(());
        };
        let deadline = Deadline::start(prior, TIMEOUTS, Operation::Delete);
        let hub = self.provider.hub().await?;
        let sets = hub.application_sets(&namespace).until(deadline);
        let deleting = match sets.delete(ctx, &name).await {
            // Without the CRD there can be no ApplicationSet left to delete.
            Err(HubError::CrdMissing { .. }) => return Ok(()),
            other => other?,
        };
        let Some(deleting) = deleting else {
            deadline.warn_if_passed(ctx, &sets.describe(&name));
            return Ok(());
        };
        let probe = || async {
            let object = sets.get(ctx, &name).await?;
            Ok(object.map(|o| o.metadata.finalizers.unwrap_or_default()))
        };
        let finalizers = deleting.metadata.finalizers.unwrap_or_default();
        wait_until_gone(ctx, deadline.at, finalizers, probe).await.map_err(|e| match e {
            WaitError::TimedOut(finalizers) => AddonSetError::DeleteTimeout {
                namespace: namespace.clone(),
                name: name.clone(),
                finalizers,
                waited: deadline.limit,
            },
            WaitError::Stopped(finalizers) => {
                AddonSetError::DeleteNotAwaited { namespace: namespace.clone(), name: name.clone(), finalizers }
            }
            WaitError::Hub(hub) => hub.into(),
        })
    }
}

#[async_trait]
impl Resource for AddonSetResource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Result<(), Diagnostics> {
        validate_config(config).into_result()
    }

    async fn plan(&self, ctx: &Context, request: PlanRequest<'_>) -> Result<Plan, Diagnostics> {
        let plan = self.plan_impl(request)?;
        self.warn_from_hub(ctx, &plan.planned_state).await;
        Ok(plan)
    }

    async fn create(&self, ctx: &Context, planned: Value, _config: &Value) -> Result<Value, ApplyError> {
        match self.create_impl(ctx, &planned).await {
            Ok(()) => Ok(planned),
            Err(e) => Err(ApplyError::planned_if(e.uncertain(), planned, e.into_diagnostics())),
        }
    }

    async fn read(&self, ctx: &Context, state: Value) -> Result<Option<Value>, Diagnostics> {
        self.read_impl(ctx, &state).await.map_err(AddonSetError::into_diagnostics)
    }

    async fn update(&self, ctx: &Context, prior: Value, planned: Value, _config: &Value) -> Result<Value, ApplyError> {
        if timeouts::only_timeouts_changed(&prior, &planned) {
            return Ok(planned);
        }
        let deadline = Deadline::start(&planned, TIMEOUTS, Operation::Update);
        let set = model_from_value(&planned).map_err(AddonSetError::into_diagnostics)?;
        // The plan showed the user these fields: the configuration wins over hand edits.
        match self.apply(ctx, &set, true, deadline).await {
            Ok(()) => Ok(planned),
            Err(e) => Err(ApplyError::planned_if(e.uncertain(), planned, e.into_diagnostics())),
        }
    }

    /// A failed deletion, including one accepted but interrupted while finalizers held the
    /// object, leaves the object in state: it exists until Argo CD lets it go.
    async fn delete(&self, ctx: &Context, prior: Value) -> Result<(), ApplyError> {
        self.delete_impl(ctx, &prior).await.map_err(|e| ApplyError::after_write(prior, e.into_diagnostics()))
    }

    async fn import(&self, _ctx: &Context, id: &str) -> Result<Value, Diagnostics> {
        let (namespace, name) = parse_import_id(id).map_err(AddonSetError::into_diagnostics)?;
        let mut state = empty_state();
        state.set("id", Value::string(id));
        state.set("namespace", Value::String(namespace));
        state.set("name", Value::String(name));
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Severity;
    use crate::provider::state::ProviderConfig;
    use serde_json::json;

    fn one(v: Value) -> Value {
        Value::List(vec![v])
    }

    /// Gives a hand-written value every attribute and block of the schema, as Terraform sends them.
    fn full(block: &Block, v: Value) -> Value {
        let Value::Map(mut attrs) = v else { return v };
        for a in &block.attributes {
            attrs.entry(a.name.clone()).or_insert(Value::Null);
        }
        for b in &block.blocks {
            let items = match attrs.remove(&b.type_name) {
                Some(Value::List(items)) => items.into_iter().map(|i| full(&b.block, i)).collect(),
                _ => vec![],
            };
            attrs.insert(b.type_name.clone(), Value::List(items));
        }
        Value::Map(attrs)
    }

    /// The configuration of `examples/resources/gitopsbridge_addon_set/resource.tf`'s addons set.
    fn addons_config() -> Value {
        full(
            &schema().block,
            Value::object([
                ("name", Value::from("cluster-addons")),
                ("namespace", Value::from("argocd")),
                ("application_name", Value::from("bootstrap-addons")),
                ("preserve_resources_on_deletion", Value::from(true)),
                (
                    "cluster_selector",
                    one(Value::object([(
                        "match_expressions",
                        Value::List(vec![Value::object([
                            ("key", Value::from("akuity.io/argo-cd-cluster-name")),
                            ("operator", Value::from("NotIn")),
                            ("values", Value::strings(["in-cluster"])),
                        ])]),
                    )])),
                ),
                (
                    "source",
                    one(Value::object([
                        ("from_metadata", Value::from("addons")),
                        (
                            "directory",
                            one(Value::object([("recurse", Value::from(true)), ("exclude", Value::from("exclude/*"))])),
                        ),
                    ])),
                ),
                (
                    "destination",
                    one(Value::object([("namespace", Value::from("argocd")), ("name", Value::from("{{name}}"))])),
                ),
                ("sync_policy", one(Value::object([("automated", one(Value::object::<&str>([])))]))),
            ]),
        )
    }

    /// The workloads set of the same example.
    fn workloads_config() -> Value {
        let not_in = |key: &str, value: &str| {
            Value::object([
                ("key", Value::from(key)),
                ("operator", Value::from("NotIn")),
                ("values", Value::strings([value])),
            ])
        };
        full(
            &schema().block,
            Value::object([
                ("name", Value::from("workloads")),
                ("namespace", Value::from("argocd")),
                ("application_name", Value::from("workload-{{metadata.labels.environment}}")),
                ("preserve_resources_on_deletion", Value::from(false)),
                (
                    "cluster_selector",
                    one(Value::object([(
                        "match_expressions",
                        Value::List(vec![
                            not_in("akuity.io/argo-cd-cluster-name", "in-cluster"),
                            not_in("environment", "control-plane"),
                        ]),
                    )])),
                ),
                (
                    "source",
                    one(Value::object([
                        ("from_metadata", Value::from("workload")),
                        (
                            "directory",
                            one(Value::object([("recurse", Value::from(true)), ("exclude", Value::from("exclude/*"))])),
                        ),
                    ])),
                ),
                (
                    "destination",
                    one(Value::object([("namespace", Value::from("workload")), ("name", Value::from("{{name}}"))])),
                ),
                (
                    "sync_policy",
                    one(Value::object([
                        ("automated", one(Value::object::<&str>([]))),
                        ("sync_options", Value::strings(["CreateNamespace=true"])),
                    ])),
                ),
            ]),
        )
    }

    fn resource() -> AddonSetResource {
        AddonSetResource::new(Arc::new(ProviderState::with_config(ProviderConfig::default())))
    }

    fn plan(config: &Value, prior: &Value) -> Plan {
        let request = PlanRequest { prior_state: prior, proposed_new_state: config.clone(), config };
        resource().plan_impl(request).expect("plan")
    }

    fn planned(config: &Value) -> Value {
        plan(config, &Value::Null).planned_state
    }

    fn applied_json(config: &Value) -> serde_json::Value {
        model_from_value(&planned(config)).expect("model").to_json()
    }

    #[test]
    fn every_attribute_has_a_description() {
        fn check(block: &Block, path: &str) {
            assert!(!block.description.is_empty(), "{path} has no description");
            for a in &block.attributes {
                assert!(!a.description.is_empty(), "{path}.{} has no description", a.name);
            }
            for b in &block.blocks {
                check(&b.block, &format!("{path}.{}", b.type_name));
            }
        }
        check(&schema().block, TYPE_NAME);
    }

    /// The bootstrap ApplicationSets as users `kubectl apply` them today (YAML of the GitOps
    /// Bridge's `bootstrap/` directory, as JSON); the end-to-end tests pin them on the hub too.
    fn bootstrap_fixture(file: &str) -> serde_json::Value {
        let text = match file {
            "addons" => include_str!("../../tests/fixtures/bootstrap/addons.json"),
            _ => include_str!("../../tests/fixtures/bootstrap/workloads.json"),
        };
        serde_json::from_str(text).expect("fixture JSON")
    }

    #[test]
    fn bootstrap_addons_come_out_as_the_yaml_users_apply_today() {
        assert_eq!(applied_json(&addons_config()), bootstrap_fixture("addons"));
    }

    #[test]
    fn bootstrap_workloads_come_out_as_the_yaml_users_apply_today() {
        assert_eq!(applied_json(&workloads_config()), bootstrap_fixture("workloads"));
    }

    #[test]
    fn importing_what_was_applied_gives_back_the_applied_state() {
        for config in [addons_config(), workloads_config()] {
            let applied = planned(&config);
            let import = resource_import_state(applied.get("id").as_str().unwrap());
            let (imported, ignored) = state_from_live(&import, &applied_json(&config)).unwrap();
            assert!(ignored.is_empty());
            assert_eq!(imported, applied);
        }
    }

    fn resource_import_state(id: &str) -> Value {
        let (namespace, name) = parse_import_id(id).unwrap();
        let mut state = empty_state();
        state.set("id", Value::string(id));
        state.set("namespace", Value::String(namespace));
        state.set("name", Value::String(name));
        state
    }

    #[test]
    fn plan_fills_defaults_from_the_configuration() {
        let mut config = addons_config();
        for attr in ["namespace", "application_name"] {
            config.set(attr, Value::Null);
        }
        let p = planned(&config);
        assert_eq!(p.get("namespace").as_str(), Some("argocd"));
        assert_eq!(p.get("project").as_str(), Some("default"));
        assert_eq!(p.get("application_name").as_str(), Some("cluster-addons-{{name}}"));
        assert_eq!(p.get("allow_overwrite").as_bool(), Some(false));
        assert_eq!(p.get("id").as_str(), Some("argocd/cluster-addons"));

        // A default kept from the prior state would go stale with Go templates.
        let mut go = config.clone();
        go.set("go_template", Value::from(true));
        go.set("application_name", Value::from("cluster-addons-{{name}}"));
        let request = PlanRequest {
            prior_state: &p,
            proposed_new_state: go.clone(),
            config: &config_with(&go, "application_name", Value::Null),
        };
        let p2 = resource().plan_impl(request).unwrap().planned_state;
        assert_eq!(p2.get("application_name").as_str(), Some("cluster-addons-{{.name}}"));

        let mut unknown = config;
        unknown.set("name", Value::Unknown);
        let p3 = planned(&unknown);
        assert!(p3.get("application_name").is_unknown() && p3.get("id").is_unknown());
    }

    #[test]
    fn a_state_from_before_drain_phase_refreshes_without_the_import_path() {
        let mut old = planned(&addons_config());
        old.set("drain_phase", Value::Null);
        let mut live = applied_json(&config_with(&addons_config(), "drain_phase", Value::from("never")));
        live["metadata"]["managedFields"] = json!([]);
        let (state, ignored) = state_from_live(&old, &live).unwrap();
        assert!(ignored.is_empty());
        assert_eq!(state.get("drain_phase").as_str(), Some("never"));
        assert_eq!(state.get("allow_overwrite"), old.get("allow_overwrite"));
    }

    #[test]
    fn drain_phase_defaults_from_the_source_and_the_selector() {
        let phase = |config: &Value| planned(config).get("drain_phase").as_str().map(str::to_string);
        assert_eq!(phase(&addons_config()).as_deref(), Some("addons"));
        assert_eq!(phase(&workloads_config()).as_deref(), Some("workloads"));
        let explicit = edited(|c| {
            in_block(c, "source").set("from_metadata", Value::Null);
            in_block(c, "source").set("repo_url", Value::from("https://charts.example.com"));
        });
        assert_eq!(phase(&explicit).as_deref(), Some("workloads"));
        // No selector: Argo CD's empty selector, which also picks the hub's implicit in-cluster, stays.
        assert_eq!(
            phase(&config_with(&addons_config(), "cluster_selector", Value::List(vec![]))).as_deref(),
            Some("never")
        );
        assert_eq!(phase(&config_with(&addons_config(), "drain_phase", Value::from("last"))).as_deref(), Some("last"));
        let unknown = edited(|c| in_block(c, "source").set("from_metadata", Value::Unknown));
        assert!(planned(&unknown).get("drain_phase").is_unknown());
    }

    fn config_with(config: &Value, attr: &str, value: Value) -> Value {
        let mut c = config.clone();
        c.set(attr, value);
        c
    }

    #[test]
    fn unknown_provider_namespace_plans_as_unknown() {
        let config = config_with(&addons_config(), "namespace", Value::Null);
        let state = ProviderState::with_config(ProviderConfig {
            argocd_namespace: Configured::Unknown,
            hub: Configured::Unknown,
            ..ProviderConfig::default()
        });
        let request = PlanRequest { prior_state: &Value::Null, proposed_new_state: config.clone(), config: &config };
        let p = AddonSetResource::new(Arc::new(state)).plan_impl(request).unwrap().planned_state;
        assert!(p.get("namespace").is_unknown());
        assert!(p.get("id").is_unknown());
    }

    #[test]
    fn only_name_and_namespace_force_replacement() {
        let prior = planned(&addons_config());
        let mut changed = addons_config();
        changed.set("application_name", Value::from("addons-{{name}}"));
        changed.set("project", Value::from("platform"));
        assert!(plan(&changed, &prior).requires_replace.is_empty());
        changed.set("name", Value::from("addons"));
        changed.set("namespace", Value::from("gitops"));
        let replace: Vec<String> = plan(&changed, &prior).requires_replace.iter().map(ToString::to_string).collect();
        assert_eq!(replace, ["name", "namespace"]);
    }

    /// Applies `edit` to a copy of the addons configuration.
    fn edited(edit: impl FnOnce(&mut Value)) -> Value {
        let mut config = addons_config();
        edit(&mut config);
        config
    }

    fn in_block<'a>(config: &'a mut Value, block: &str) -> &'a mut Value {
        match config.get_mut(block) {
            Some(Value::List(items)) if !items.is_empty() => &mut items[0],
            _ => panic!("no {block} block"),
        }
    }

    fn first_expression(config: &mut Value) -> &mut Value {
        match in_block(config, "cluster_selector").get_mut("match_expressions") {
            Some(Value::List(items)) => &mut items[0],
            _ => panic!("no match_expressions"),
        }
    }

    #[test]
    fn each_bad_input_names_its_attribute() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("object name", edited(|c| c.set("name", Value::from("Cluster_Addons"))), "name"),
            ("namespace", edited(|c| c.set("namespace", Value::from("argo.cd"))), "namespace"),
            (
                "application name",
                edited(|c| c.set("application_name", Value::from("Addons-{{name}}"))),
                "application_name",
            ),
            (
                "unbalanced braces",
                edited(|c| c.set("application_name", Value::from("addons-{{name"))),
                "application_name",
            ),
            (
                "operator",
                edited(|c| first_expression(c).set("operator", Value::from("NotEquals"))),
                "cluster_selector[0].match_expressions[0].operator",
            ),
            (
                "In without values",
                edited(|c| {
                    let e = first_expression(c);
                    e.set("operator", Value::from("In"));
                    e.set("values", Value::Null);
                }),
                "cluster_selector[0].match_expressions[0].values",
            ),
            (
                "NotIn with no values",
                edited(|c| first_expression(c).set("values", Value::List(vec![]))),
                "cluster_selector[0].match_expressions[0].values",
            ),
            (
                "Exists with values",
                edited(|c| first_expression(c).set("operator", Value::from("Exists"))),
                "cluster_selector[0].match_expressions[0].values",
            ),
            (
                "label key",
                edited(|c| first_expression(c).set("key", Value::from("bad key"))),
                "cluster_selector[0].match_expressions[0].key",
            ),
            (
                "label value",
                edited(|c| first_expression(c).set("values", Value::strings(["in cluster"]))),
                "cluster_selector[0].match_expressions[0].values[0]",
            ),
            (
                "match_labels key",
                edited(|c| {
                    in_block(c, "cluster_selector").set("match_labels", Value::object([("-env", Value::from("prod"))]))
                }),
                "cluster_selector[0].match_labels[\"-env\"]",
            ),
            ("drain_phase value", edited(|c| c.set("drain_phase", Value::from("first"))), "drain_phase"),
            (
                "drain label in the selector",
                edited(|c| first_expression(c).set("key", Value::from("gitops-bridge/drain"))),
                "cluster_selector[0].match_expressions[0].key",
            ),
            (
                "from_metadata value",
                edited(|c| in_block(c, "source").set("from_metadata", Value::from("addon"))),
                "source[0].from_metadata",
            ),
            (
                "from_metadata with repo_url",
                edited(|c| in_block(c, "source").set("repo_url", Value::from("https://github.com/x/y"))),
                "source[0].repo_url",
            ),
            (
                "no repository",
                edited(|c| in_block(c, "source").set("from_metadata", Value::Null)),
                "source[0].from_metadata",
            ),
            (
                "braces in path",
                edited(|c| in_block(c, "source").set("path", Value::from("{{metadata.labels.x}"))),
                "source[0].path",
            ),
            (
                "braces in a block",
                edited(|c| {
                    in_block(c, "source").set("directory", one(Value::object([("include", Value::from("}}*.yaml"))])))
                }),
                "source[0].directory[0].include",
            ),
            (
                "name and server",
                edited(|c| in_block(c, "destination").set("server", Value::from("{{server}}"))),
                "destination[0].server",
            ),
            (
                "destination server not a URL",
                edited(|c| {
                    in_block(c, "destination").set("name", Value::Null);
                    in_block(c, "destination").set("server", Value::from("kubernetes.default.svc"));
                }),
                "destination[0].server",
            ),
            (
                "destination namespace",
                edited(|c| in_block(c, "destination").set("namespace", Value::from("Kube_System"))),
                "destination[0].namespace",
            ),
            (
                "delete timeout",
                edited(|c| c.set("timeouts", one(Value::object([("delete", Value::from("5 minutes"))])))),
                "timeouts[0].delete",
            ),
        ];
        for (what, config, path) in cases {
            let diags = validate_config(&config);
            let paths: Vec<String> = diags
                .0
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
                .collect();
            assert!(paths.iter().any(|p| p == path), "{what}: expected an error at {path}, got {diags}");
        }
    }

    #[test]
    fn good_and_partly_unknown_configurations_pass() {
        let unknowns = edited(|c| {
            c.set("name", Value::Unknown);
            c.set("application_name", Value::Unknown);
            first_expression(c).set("values", Value::Unknown);
            in_block(c, "source").set("from_metadata", Value::Unknown);
        });
        let go = edited(|c| {
            c.set("go_template", Value::from(true));
            c.set("application_name", Value::from("addons-{{ .name | lower }}"));
            c.set("timeouts", one(Value::object([("delete", Value::from("1h30m"))])));
        });
        for config in [addons_config(), workloads_config(), unknowns, go] {
            let diags = validate_config(&config);
            assert!(!diags.has_errors(), "{diags}");
        }
    }

    #[test]
    fn import_ids_are_namespace_slash_name() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("argocd/cluster-addons", Some(("argocd", "cluster-addons"))),
            ("gitops/workloads.v2", Some(("gitops", "workloads.v2"))),
            ("cluster-addons", None),
            ("/cluster-addons", None),
            ("argocd/", None),
            ("argo.cd/x", None),
            ("argocd/Cluster_Addons", None),
            ("argocd/a/b", None),
        ];
        for (id, want) in cases {
            let got = parse_import_id(id).ok();
            assert_eq!(got.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), *want, "{id}");
        }
    }

    fn cluster(name: &str, annotations: &[&str]) -> ClusterFacts {
        ClusterFacts {
            secret_name: name.into(),
            annotations: annotations.iter().map(|k| (k.to_string(), "x".to_string())).collect(),
        }
    }

    const ADDON_ANNOTATIONS: [&str; 4] =
        ["addons_repo_url", "addons_repo_basepath", "addons_repo_path", "addons_repo_revision"];

    #[test]
    fn hints_say_what_argo_cd_would_make_of_the_selection() {
        let set = model_from_value(&planned(&addons_config())).unwrap();
        let summaries = |matched: &[ClusterFacts]| -> Vec<(String, String)> {
            hints(&set, matched).into_iter().map(|h| (h.attribute.to_string(), h.summary)).collect()
        };
        assert_eq!(
            summaries(&[]),
            [("cluster_selector".to_string(), "The cluster selector matches no cluster".to_string())]
        );
        assert!(summaries(&[cluster("eks-blue", &ADDON_ANNOTATIONS)]).is_empty());
        let lacking =
            hints(&set, &[cluster("eks-blue", &ADDON_ANNOTATIONS), cluster("eks-green", &["addons_repo_url"])]);
        let paths: Vec<String> = lacking.iter().map(|h| h.attribute.to_string()).collect();
        assert_eq!(paths, ["source[0].from_metadata", "application_name"]);
        assert_eq!(
            lacking[0].summary,
            "Clusters lack the annotations addons_repo_basepath, addons_repo_path, addons_repo_revision"
        );
        assert!(
            lacking[0].detail.contains("eks-green lacks addons_repo_basepath")
                && !lacking[0].detail.contains("eks-blue")
        );
        assert!(lacking[1].detail.contains("cluster-addons-{{name}}"));

        let mut templated = set.clone();
        templated.application_name = "addons-{{name}}".into();
        templated.destination =
            Some(Destination { namespace: Some("{{metadata.annotations.team}}".into()), ..Destination::default() });
        let two = [cluster("a", &ADDON_ANNOTATIONS), cluster("b", &ADDON_ANNOTATIONS)];
        let found: Vec<(String, String)> =
            hints(&templated, &two).into_iter().map(|h| (h.attribute.to_string(), h.summary)).collect();
        assert_eq!(found, [("destination[0].namespace".to_string(), "Clusters lack the annotation team".to_string())]);
    }

    const FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

    #[test]
    fn a_deletion_that_outlasts_its_timeout_names_the_finalizers_and_the_timeout() {
        let error = AddonSetError::DeleteTimeout {
            namespace: "argocd".into(),
            name: "cluster-addons".into(),
            finalizers: vec![FINALIZER.to_string()],
            waited: Duration::from_secs(300),
        };
        let diags = error.into_diagnostics();
        assert!(diags.0[0].detail.contains(FINALIZER), "{diags}");
        assert!(diags.0[0].detail.contains("argocd/cluster-addons"), "{diags}");
        assert!(diags.0[0].detail.contains("timeouts.delete (5m)"), "{diags}");
    }

    #[test]
    fn a_deletion_not_awaited_after_a_stop_says_so() {
        let stopped = AddonSetError::DeleteNotAwaited {
            namespace: "argocd".into(),
            name: "cluster-addons".into(),
            finalizers: vec![FINALIZER.to_string()],
        };
        let diags = stopped.into_diagnostics();
        assert_eq!(diags.0[0].summary, "ApplicationSet deletion not awaited");
        assert!(diags.0[0].detail.contains("argocd/cluster-addons") && diags.0[0].detail.contains(FINALIZER));
    }

    #[test]
    fn a_missing_crd_is_named() {
        let status =
            kube::core::Status::failure("the server could not find the requested resource", "NotFound").with_code(404);
        let error = AddonSetError::from(HubError::CrdMissing {
            resource: CRD_NAME.into(),
            source: kube::Error::Api(Box::new(status)),
        });
        let diags = error.into_diagnostics();
        assert!(diags.to_string().contains("applicationsets.argoproj.io"), "{diags}");
    }

    /// The live object as the hub returns it after we applied `config`: our managedFields entry,
    /// and whatever `extra` others added.
    fn live_after_apply(config: &Value, extra: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
        let mut live = applied_json(config);
        let owned = fields_v1(&live["spec"]);
        live["metadata"]["resourceVersion"] = json!("12");
        live["metadata"]["managedFields"] = json!([{
            "manager": FIELD_MANAGER, "operation": "Apply", "apiVersion": "argoproj.io/v1alpha1",
            "fieldsType": "FieldsV1", "fieldsV1": { "f:spec": owned }
        }]);
        extra(&mut live);
        live
    }

    /// What the API server records as owned for an applied object (lists are atomic in the CRD).
    fn fields_v1(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) if !m.is_empty() => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (format!("f:{k}"), fields_v1(v))).collect())
            }
            _ => json!({}),
        }
    }

    #[test]
    fn fields_others_add_are_not_drift() {
        let state = planned(&addons_config());
        let live = live_after_apply(&addons_config(), |live| {
            live["metadata"]["finalizers"] = json!(["resources-finalizer.argocd.argoproj.io"]);
            live["spec"]["template"]["spec"]["syncPolicy"]["syncOptions"] = json!(["ServerSideApply=true"]);
            live["spec"]["strategy"] = json!({ "type": "RollingSync" });
            live["status"] = json!({ "conditions": [] });
        });
        assert_eq!(state_from_live(&state, &live).unwrap().0, state);
    }

    #[test]
    fn our_fields_changed_by_hand_are_drift() {
        let state = planned(&addons_config());
        let live = live_after_apply(&addons_config(), |live| {
            live["spec"]["template"]["spec"]["destination"]["namespace"] = json!("kube-system");
            live["spec"]["generators"][0]["clusters"]["selector"]["matchExpressions"][0]["values"] = json!(["hub"]);
        });
        let (refreshed, _) = state_from_live(&state, &live).unwrap();
        let set = model_from_value(&refreshed).unwrap();
        assert_eq!(set.destination.unwrap().namespace.as_deref(), Some("kube-system"));
        assert_eq!(set.selector.unwrap().match_expressions[0].values, Some(vec!["hub".to_string()]));
    }

    #[test]
    fn importing_something_else_is_refused() {
        let mut live = applied_json(&addons_config());
        live["spec"]["generators"] = json!([{ "list": { "elements": [] } }]);
        let err = state_from_live(&resource_import_state("argocd/cluster-addons"), &live).unwrap_err();
        assert!(matches!(err, ShapeError::NotAClustersGenerator(_)), "{err:?}");
    }
}
