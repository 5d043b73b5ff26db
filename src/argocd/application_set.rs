//! Argo CD ApplicationSets with a `clusters` generator: the object model behind
//! `gitopsbridge_addon_set`, the JSON we server-side apply, and the way back from a live object.
//!
//! Nothing here talks to the hub or to Terraform. Templates (`{{…}}`) are opaque text that Argo CD
//! expands per selected cluster; we only check that their braces balance and find which cluster
//! annotations they read.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

pub const API_VERSION: &str = "argoproj.io/v1alpha1";
pub const KIND: &str = "ApplicationSet";

/// An ApplicationSet that turns selected cluster Secrets into one Application each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddonSet {
    pub name: String,
    pub namespace: String,
    pub project: String,
    /// Template of each generated Application's `metadata.name`.
    pub application_name: String,
    /// `None` selects every cluster Argo CD knows (an empty `clusters` generator).
    pub selector: Option<Selector>,
    pub source: Source,
    /// `None` sends each Application to the cluster that generated it, in no namespace.
    pub destination: Option<Destination>,
    pub sync_policy: Option<SyncPolicy>,
    pub preserve_resources_on_deletion: Option<bool>,
    pub go_template: Option<bool>,
    /// When a draining cluster leaves this set; anything but [`DrainPhase::Never`] adds the drain
    /// requirement to the written selector (and is read back from it).
    pub drain_phase: DrainPhase,
}

/// The label a cluster Secret carries while its destroy drains it; its value is the phase
/// being drained.
pub const DRAIN_LABEL: &str = "gitops-bridge/drain";

/// The drain label's values, in the order a drain sets them.
pub const DRAIN_LABEL_VALUES: [&str; 3] = ["workloads", "addons", "all"];

/// When a draining cluster drops out of an ApplicationSet, so that its Applications are deleted
/// while the cluster Secret still exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DrainPhase {
    /// First: the drain label `workloads` already takes the cluster out.
    #[default]
    Workloads,
    /// Second, once the workloads are gone: label `addons`.
    Addons,
    /// Last, for the controllers that clean up cloud resources: label `all`.
    Last,
    /// The set ignores the drain label.
    Never,
}

impl DrainPhase {
    pub const ALL: [DrainPhase; 4] = [DrainPhase::Workloads, DrainPhase::Addons, DrainPhase::Last, DrainPhase::Never];

    pub fn as_str(self) -> &'static str {
        match self {
            DrainPhase::Workloads => "workloads",
            DrainPhase::Addons => "addons",
            DrainPhase::Last => "last",
            DrainPhase::Never => "never",
        }
    }

    pub fn parse(s: &str) -> Option<DrainPhase> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The phase an addon set takes when the configuration names none.
    pub fn default_for(from_metadata: Option<MetadataRepo>) -> DrainPhase {
        match from_metadata {
            Some(MetadataRepo::Addons) => DrainPhase::Addons,
            Some(MetadataRepo::Workload) | None => DrainPhase::Workloads,
        }
    }

    /// The drain label values that take a cluster out of a set of this phase.
    fn excluded_values(self) -> &'static [&'static str] {
        match self {
            DrainPhase::Workloads => &DRAIN_LABEL_VALUES,
            DrainPhase::Addons => &DRAIN_LABEL_VALUES[1..],
            DrainPhase::Last => &DRAIN_LABEL_VALUES[2..],
            DrainPhase::Never => &[],
        }
    }

    /// The selector requirement a set of this phase carries; `None` for [`DrainPhase::Never`].
    pub fn requirement(self) -> Option<Requirement> {
        (self != DrainPhase::Never).then(|| Requirement {
            key: DRAIN_LABEL.into(),
            operator: "NotIn".into(),
            values: Some(self.excluded_values().iter().map(|v| v.to_string()).collect()),
        })
    }

    /// The phase a requirement stands for, if it is exactly a drain requirement.
    pub fn of_requirement(r: &Requirement) -> Option<DrainPhase> {
        Self::ALL.into_iter().filter(|p| *p != DrainPhase::Never).find(|p| p.requirement().as_ref() == Some(r))
    }

    /// The phase of a live ApplicationSet (any, not only ours): the drain requirement in the
    /// selector of its first `clusters` generator, or [`DrainPhase::Never`].
    pub fn of_application_set(object: &Json) -> DrainPhase {
        object
            .pointer("/spec/generators")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| g.pointer("/clusters/selector"))
            .flat_map(|s| Selector::from_json(s).match_expressions)
            .find_map(|r| DrainPhase::of_requirement(&r))
            .unwrap_or(DrainPhase::Never)
    }

    /// The selector line, in YAML, a hand-written ApplicationSet adds to honour this phase.
    pub fn selector_line(self) -> String {
        let values = self.excluded_values().join(", ");
        format!("- {{key: {DRAIN_LABEL}, operator: NotIn, values: [{values}]}}")
    }
}

/// A Kubernetes label selector over cluster Secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    pub match_labels: Option<BTreeMap<String, String>>,
    pub match_expressions: Vec<Requirement>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    pub values: Option<Vec<String>>,
}

/// Where each Application's manifests come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    /// Take repository, path and revision from the cluster Secret's GitOps Bridge annotations;
    /// an explicit `path` or `target_revision` still wins over the annotation.
    pub from_metadata: Option<MetadataRepo>,
    pub repo_url: Option<String>,
    pub path: Option<String>,
    pub target_revision: Option<String>,
    pub chart: Option<String>,
    pub directory: Option<Directory>,
    pub helm: Option<Helm>,
}

/// The two repositories the GitOps Bridge metadata describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataRepo {
    Addons,
    Workload,
}

impl MetadataRepo {
    pub const ALL: [MetadataRepo; 2] = [MetadataRepo::Addons, MetadataRepo::Workload];

    pub fn as_str(self) -> &'static str {
        match self {
            MetadataRepo::Addons => "addons",
            MetadataRepo::Workload => "workload",
        }
    }

    pub fn parse(s: &str) -> Option<MetadataRepo> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    fn annotation(self, suffix: &str) -> String {
        format!("metadata.annotations.{}_repo_{suffix}", self.as_str())
    }

    pub fn repo_url(self, syntax: Syntax) -> String {
        syntax.param(&self.annotation("url"))
    }

    pub fn path(self, syntax: Syntax) -> String {
        syntax.param(&self.annotation("basepath")) + &syntax.param(&self.annotation("path"))
    }

    pub fn target_revision(self, syntax: Syntax) -> String {
        syntax.param(&self.annotation("revision"))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    pub recurse: Option<bool>,
    pub include: Option<String>,
    pub exclude: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Helm {
    pub release_name: Option<String>,
    pub value_files: Option<Vec<String>>,
    pub values: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Destination {
    pub name: Option<String>,
    pub server: Option<String>,
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncPolicy {
    /// `Some` with every field `None` is Argo CD's `automated: {}`.
    pub automated: Option<Automated>,
    pub sync_options: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Automated {
    pub prune: Option<bool>,
    pub self_heal: Option<bool>,
    pub allow_empty: Option<bool>,
}

/// Argo CD's two template languages: fasttemplate (`{{name}}`, the default) and Go templates
/// (`{{.name}}`, with `goTemplate: true`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Fasttemplate,
    Go,
}

impl Syntax {
    pub fn of(go_template: Option<bool>) -> Syntax {
        if go_template == Some(true) { Syntax::Go } else { Syntax::Fasttemplate }
    }

    /// A reference to one generator parameter, e.g. `{{metadata.labels.environment}}`.
    pub fn param(self, path: &str) -> String {
        match self {
            Syntax::Fasttemplate => format!("{{{{{path}}}}}"),
            Syntax::Go => format!("{{{{.{path}}}}}"),
        }
    }
}

/// The Application name used when the configuration gives none: one Application per cluster.
pub fn default_application_name(set_name: &str, syntax: Syntax) -> String {
    format!("{set_name}-{}", syntax.param("name"))
}

/// The destination used when the configuration gives none: the cluster being templated.
fn default_destination(syntax: Syntax) -> Destination {
    Destination { name: Some(syntax.param("name")), ..Destination::default() }
}

// ---------------------------------------------------------------------------------------------
// Model → JSON
// ---------------------------------------------------------------------------------------------

/// Inserts `value` under `key` when it is set; absent optionals stay absent so that what we
/// apply, and therefore own, is exactly what the configuration says.
fn put(map: &mut Map<String, Json>, key: &str, value: Option<impl Into<Json>>) {
    if let Some(value) = value {
        map.insert(key.to_string(), value.into());
    }
}

impl AddonSet {
    pub fn syntax(&self) -> Syntax {
        Syntax::of(self.go_template)
    }

    /// `<namespace>/<name>`: the Terraform id and import id.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The complete object for a server-side apply.
    pub fn to_json(&self) -> Json {
        let mut spec = Map::new();
        put(&mut spec, "goTemplate", self.go_template);
        if let Some(preserve) = self.preserve_resources_on_deletion {
            spec.insert("syncPolicy".into(), json!({ "preserveResourcesOnDeletion": preserve }));
        }
        let mut clusters = Map::new();
        if let Some(selector) = self.written_selector() {
            clusters.insert("selector".into(), selector.to_json());
        }
        spec.insert("generators".into(), json!([{ "clusters": clusters }]));
        spec.insert("template".into(), self.template_json());
        json!({
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": { "name": self.name, "namespace": self.namespace },
            "spec": spec,
        })
    }

    /// The selector as written: the configured one plus the drain requirement.
    pub fn written_selector(&self) -> Option<Selector> {
        let Some(drain) = self.drain_phase.requirement() else { return self.selector.clone() };
        let mut selector = self.selector.clone().unwrap_or_default();
        selector.match_expressions.push(drain);
        Some(selector)
    }

    fn template_json(&self) -> Json {
        let syntax = self.syntax();
        let destination = self.destination.clone().unwrap_or_else(|| default_destination(syntax));
        let mut spec = Map::new();
        spec.insert("project".into(), self.project.clone().into());
        spec.insert("source".into(), self.source.to_json(syntax));
        spec.insert("destination".into(), destination.to_json());
        if let Some(policy) = &self.sync_policy {
            spec.insert("syncPolicy".into(), policy.to_json());
        }
        json!({ "metadata": { "name": self.application_name }, "spec": spec })
    }

    /// Every string Argo CD templates, with the attribute it came from (dotted, for messages).
    pub fn template_strings(&self) -> Vec<(&'static str, &str)> {
        let s = &self.source;
        let (dir, helm, dest) = (s.directory.as_ref(), s.helm.as_ref(), self.destination.as_ref());
        let optional: [(&'static str, Option<&str>); 11] = [
            ("source.repo_url", s.repo_url.as_deref()),
            ("source.path", s.path.as_deref()),
            ("source.target_revision", s.target_revision.as_deref()),
            ("source.chart", s.chart.as_deref()),
            ("source.directory.include", dir.and_then(|d| d.include.as_deref())),
            ("source.directory.exclude", dir.and_then(|d| d.exclude.as_deref())),
            ("source.helm.release_name", helm.and_then(|h| h.release_name.as_deref())),
            ("source.helm.values", helm.and_then(|h| h.values.as_deref())),
            ("destination.name", dest.and_then(|d| d.name.as_deref())),
            ("destination.server", dest.and_then(|d| d.server.as_deref())),
            ("destination.namespace", dest.and_then(|d| d.namespace.as_deref())),
        ];
        let mut out = vec![("application_name", self.application_name.as_str()), ("project", self.project.as_str())];
        out.extend(optional.into_iter().filter_map(|(attr, v)| v.map(|v| (attr, v))));
        out.extend(
            helm.iter().flat_map(|h| h.value_files.iter().flatten()).map(|f| ("source.helm.value_files", f.as_str())),
        );
        out
    }

    /// The cluster annotations the generated Applications read, each with the first attribute
    /// (dotted) that reads it; the `from_metadata` expansions count, as they are templates too.
    pub fn annotations_used(&self) -> Vec<(String, &'static str)> {
        let mut texts: Vec<(&'static str, String)> =
            self.template_strings().into_iter().map(|(attr, s)| (attr, s.to_string())).collect();
        if let Some(repo) = self.source.from_metadata {
            let syntax = self.syntax();
            for text in [repo.repo_url(syntax), repo.path(syntax), repo.target_revision(syntax)] {
                texts.push(("source.from_metadata", text));
            }
        }
        let mut used: Vec<(String, &'static str)> = Vec::new();
        for (attr, text) in &texts {
            for key in annotation_references(text) {
                if !used.iter().any(|(k, _)| *k == key) {
                    used.push((key, attr));
                }
            }
        }
        used
    }
}

impl Selector {
    pub fn is_empty(&self) -> bool {
        self.match_labels.as_ref().is_none_or(BTreeMap::is_empty) && self.match_expressions.is_empty()
    }

    fn to_json(&self) -> Json {
        let mut map = Map::new();
        if let Some(labels) = &self.match_labels {
            map.insert("matchLabels".into(), json!(labels));
        }
        if !self.match_expressions.is_empty() {
            let exprs: Vec<Json> = self
                .match_expressions
                .iter()
                .map(|r| {
                    let mut e = Map::new();
                    e.insert("key".into(), r.key.clone().into());
                    e.insert("operator".into(), r.operator.clone().into());
                    put(&mut e, "values", r.values.clone());
                    Json::Object(e)
                })
                .collect();
            map.insert("matchExpressions".into(), exprs.into());
        }
        Json::Object(map)
    }

    /// True when a Secret with these labels is selected, as the API server evaluates
    /// [`Selector::to_query`].
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let labels_match = self.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
        labels_match
            && self.match_expressions.iter().all(|r| {
                let values = r.values.as_deref().unwrap_or_default();
                match (r.operator.as_str(), labels.get(&r.key)) {
                    ("In", Some(value)) => values.contains(value),
                    ("In", None) => false,
                    ("NotIn", value) => value.is_none_or(|v| !values.contains(v)),
                    ("DoesNotExist", value) => value.is_none(),
                    (_, value) => value.is_some(),
                }
            })
    }

    /// The selector in the API's query syntax (`k=v,k notin (a,b),!k`), to list the cluster
    /// Secrets Argo CD would select.
    pub fn to_query(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for (k, v) in self.match_labels.iter().flatten() {
            parts.push(format!("{k}={v}"));
        }
        for r in &self.match_expressions {
            let values = r.values.as_deref().unwrap_or_default().join(",");
            parts.push(match r.operator.as_str() {
                "In" => format!("{} in ({values})", r.key),
                "NotIn" => format!("{} notin ({values})", r.key),
                "DoesNotExist" => format!("!{}", r.key),
                _ => r.key.clone(),
            });
        }
        parts.join(",")
    }
}

impl Source {
    fn to_json(&self, syntax: Syntax) -> Json {
        let mut map = Map::new();
        let expanded =
            self.from_metadata.map(|repo| (repo.repo_url(syntax), repo.path(syntax), repo.target_revision(syntax)));
        let (repo_url, path, revision) = match expanded {
            Some((url, path, revision)) => (
                Some(url),
                Some(self.path.clone().unwrap_or(path)),
                Some(self.target_revision.clone().unwrap_or(revision)),
            ),
            None => (self.repo_url.clone(), self.path.clone(), self.target_revision.clone()),
        };
        put(&mut map, "repoURL", repo_url);
        put(&mut map, "path", path);
        put(&mut map, "targetRevision", revision);
        put(&mut map, "chart", self.chart.clone());
        if let Some(d) = &self.directory {
            let mut dir = Map::new();
            put(&mut dir, "recurse", d.recurse);
            put(&mut dir, "include", d.include.clone());
            put(&mut dir, "exclude", d.exclude.clone());
            map.insert("directory".into(), dir.into());
        }
        if let Some(h) = &self.helm {
            let mut helm = Map::new();
            put(&mut helm, "releaseName", h.release_name.clone());
            put(&mut helm, "valueFiles", h.value_files.clone());
            put(&mut helm, "values", h.values.clone());
            map.insert("helm".into(), helm.into());
        }
        Json::Object(map)
    }
}

impl Destination {
    fn to_json(&self) -> Json {
        let mut map = Map::new();
        put(&mut map, "name", self.name.clone());
        put(&mut map, "server", self.server.clone());
        put(&mut map, "namespace", self.namespace.clone());
        Json::Object(map)
    }
}

impl SyncPolicy {
    fn to_json(&self) -> Json {
        let mut map = Map::new();
        if let Some(a) = &self.automated {
            let mut auto = Map::new();
            put(&mut auto, "prune", a.prune);
            put(&mut auto, "selfHeal", a.self_heal);
            put(&mut auto, "allowEmpty", a.allow_empty);
            map.insert("automated".into(), auto.into());
        }
        put(&mut map, "syncOptions", self.sync_options.clone());
        Json::Object(map)
    }
}

// ---------------------------------------------------------------------------------------------
// JSON → model
// ---------------------------------------------------------------------------------------------

/// Why a live object cannot be managed as an addon set.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShapeError {
    /// The object is not an ApplicationSet at all.
    #[error("the object is a {0}, not an argoproj.io/v1alpha1 ApplicationSet")]
    NotAnApplicationSet(String),
    /// Its generators are not the single `clusters` generator an addon set writes.
    #[error("its generators are not a single clusters generator (found: {0}); manage it as raw YAML instead")]
    NotAClustersGenerator(String),
    /// It uses a multi-source or hydrated template, which an addon set does not model.
    #[error("its template has no single spec.source (it uses {0})")]
    NoSingleSource(String),
}

fn text(v: &Json, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(Json::as_str).map(str::to_string)
}

fn flag(v: &Json, pointer: &str) -> Option<bool> {
    v.pointer(pointer).and_then(Json::as_bool)
}

fn texts(v: &Json, pointer: &str) -> Option<Vec<String>> {
    v.pointer(pointer)
        .and_then(Json::as_array)
        .map(|items| items.iter().filter_map(Json::as_str).map(str::to_string).collect())
}

/// Top-level `spec` keys an addon set writes; any other is reported when importing.
const MODELLED_SPEC_KEYS: [&str; 4] = ["goTemplate", "syncPolicy", "generators", "template"];

/// Checks that a whole live object is something an addon set can take over, and lists the
/// fields it would leave alone (returned as JSON pointers, for a warning).
///
/// # Errors
/// A [`ShapeError`] when the object is not an ApplicationSet with one `clusters` generator and
/// one `source`.
pub fn check_importable(object: &Json) -> Result<Vec<String>, ShapeError> {
    let kind = text(object, "/kind").unwrap_or_default();
    if kind != KIND || text(object, "/apiVersion").as_deref() != Some(API_VERSION) {
        return Err(ShapeError::NotAnApplicationSet(format!(
            "{} {kind}",
            text(object, "/apiVersion").unwrap_or_default()
        )));
    }
    let generators = object.pointer("/spec/generators").and_then(Json::as_array).cloned().unwrap_or_default();
    let kinds: Vec<String> =
        generators.iter().flat_map(|g| g.as_object().into_iter().flat_map(|m| m.keys().cloned())).collect();
    if generators.len() != 1 || kinds != ["clusters"] {
        return Err(ShapeError::NotAClustersGenerator(if kinds.is_empty() { "none".into() } else { kinds.join(", ") }));
    }
    let template_spec = object.pointer("/spec/template/spec");
    if template_spec.and_then(|s| s.get("source")).is_none() {
        let used = ["sources", "sourceHydrator"]
            .into_iter()
            .filter(|k| template_spec.and_then(|s| s.get(*k)).is_some())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ShapeError::NoSingleSource(if used.is_empty() { "no source".into() } else { used }));
    }
    let mut ignored = Vec::new();
    for key in object.pointer("/spec").and_then(Json::as_object).into_iter().flat_map(|m| m.keys()) {
        if !MODELLED_SPEC_KEYS.contains(&key.as_str()) {
            ignored.push(format!("/spec/{key}"));
        }
    }
    Ok(ignored)
}

impl AddonSet {
    /// Reads the modelled fields back from a live object (whole, or projected onto the fields we
    /// own). Lenient: what is missing stays unset, so that drift shows as a diff, not an error.
    pub fn from_json(object: &Json) -> AddonSet {
        let go_template = flag(object, "/spec/goTemplate");
        let syntax = Syntax::of(go_template);
        let tspec = object.pointer("/spec/template/spec").cloned().unwrap_or(Json::Null);
        let mut selector = object.pointer("/spec/generators/0/clusters/selector").map(Selector::from_json);
        let mut drain_phase = DrainPhase::Never;
        if let Some(sel) = &mut selector
            && let Some(at) = sel.match_expressions.iter().position(|r| DrainPhase::of_requirement(r).is_some())
        {
            drain_phase = DrainPhase::of_requirement(&sel.match_expressions.remove(at)).unwrap_or_default();
        }
        // A selector that only held the drain requirement was written for no configured selector.
        if drain_phase != DrainPhase::Never && selector.as_ref().is_some_and(Selector::is_empty) {
            selector = None;
        }
        AddonSet {
            name: text(object, "/metadata/name").unwrap_or_default(),
            namespace: text(object, "/metadata/namespace").unwrap_or_default(),
            project: text(&tspec, "/project").unwrap_or_default(),
            application_name: text(object, "/spec/template/metadata/name").unwrap_or_default(),
            selector,
            source: Source::from_json(tspec.get("source").unwrap_or(&Json::Null), syntax),
            destination: tspec
                .get("destination")
                .map(Destination::from_json)
                .filter(|d| *d != default_destination(syntax)),
            sync_policy: tspec.get("syncPolicy").map(SyncPolicy::from_json),
            preserve_resources_on_deletion: flag(object, "/spec/syncPolicy/preserveResourcesOnDeletion"),
            go_template,
            drain_phase,
        }
    }
}

impl Selector {
    fn from_json(v: &Json) -> Selector {
        let match_labels = v
            .get("matchLabels")
            .and_then(Json::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect());
        let match_expressions = v
            .get("matchExpressions")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .map(|e| Requirement {
                key: text(e, "/key").unwrap_or_default(),
                operator: text(e, "/operator").unwrap_or_default(),
                values: texts(e, "/values"),
            })
            .collect();
        Selector { match_labels, match_expressions }
    }
}

impl Source {
    fn from_json(v: &Json, syntax: Syntax) -> Source {
        let repo_url = text(v, "/repoURL");
        let path = text(v, "/path");
        let target_revision = text(v, "/targetRevision");
        let from_metadata = MetadataRepo::ALL.into_iter().find(|r| repo_url.as_deref() == Some(&r.repo_url(syntax)));
        let (repo_url, path, target_revision) = match from_metadata {
            // An expansion equal to the annotation reference is the from_metadata default.
            Some(r) => (
                None,
                path.filter(|p| *p != r.path(syntax)),
                target_revision.filter(|t| *t != r.target_revision(syntax)),
            ),
            None => (repo_url, path, target_revision),
        };
        Source {
            from_metadata,
            repo_url,
            path,
            target_revision,
            chart: text(v, "/chart"),
            directory: v.get("directory").map(|d| Directory {
                recurse: flag(d, "/recurse"),
                include: text(d, "/include"),
                exclude: text(d, "/exclude"),
            }),
            helm: v.get("helm").map(|h| Helm {
                release_name: text(h, "/releaseName"),
                value_files: texts(h, "/valueFiles"),
                values: text(h, "/values"),
            }),
        }
    }
}

impl Destination {
    fn from_json(v: &Json) -> Destination {
        Destination { name: text(v, "/name"), server: text(v, "/server"), namespace: text(v, "/namespace") }
    }
}

impl SyncPolicy {
    fn from_json(v: &Json) -> SyncPolicy {
        SyncPolicy {
            automated: v.get("automated").map(|a| Automated {
                prune: flag(a, "/prune"),
                self_heal: flag(a, "/selfHeal"),
                allow_empty: flag(a, "/allowEmpty"),
            }),
            sync_options: texts(v, "/syncOptions"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

/// Why a template's braces do not balance.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("\"{{{{\" at byte {0} is never closed with \"}}}}\"")]
    Unclosed(usize),
    #[error("\"}}}}\" at byte {0} closes nothing")]
    Unopened(usize),
    #[error("\"{{{{\" at byte {0} opens inside another template")]
    Nested(usize),
}

/// Checks that every `{{` is closed by a `}}` before the next `{{`, and that no `}}` stands alone.
///
/// # Errors
/// The first imbalance found, with its byte offset.
pub fn check_braces(text: &str) -> Result<(), TemplateError> {
    let bytes = text.as_bytes();
    let mut open: Option<usize> = None;
    let mut i = 0;
    while i + 1 < bytes.len() {
        match (&bytes[i..i + 2], open) {
            (b"{{", Some(_)) => return Err(TemplateError::Nested(i)),
            (b"{{", None) => {
                open = Some(i);
                i += 2;
            }
            (b"}}", None) => return Err(TemplateError::Unopened(i)),
            (b"}}", Some(_)) => {
                open = None;
                i += 2;
            }
            _ => i += 1,
        }
    }
    open.map_or(Ok(()), |at| Err(TemplateError::Unclosed(at)))
}

/// The contents of each `{{ … }}` in `text`, trimmed (Go's `{{-`/`-}}` markers included).
fn template_bodies(text: &str) -> impl Iterator<Item = &str> {
    text.split("{{").skip(1).filter_map(|rest| rest.split_once("}}").map(|(body, _)| body.trim_matches(['-', ' '])))
}

/// True when `text` contains at least one template, i.e. its value depends on the cluster.
pub fn is_templated(text: &str) -> bool {
    template_bodies(text).next().is_some()
}

/// Checks the literal parts of an Application name template: after templating the name must be
/// a DNS subdomain, and literal text can only break that with characters a template cannot fix.
pub fn check_application_name(name: &str) -> Result<(), String> {
    if !is_templated(name) {
        return super::k8s_names::check_dns_subdomain(name).map_err(|e| e.to_string());
    }
    let literal: String = name
        .split("{{")
        .enumerate()
        .map(|(i, part)| if i == 0 { part } else { part.split_once("}}").map_or("", |(_, rest)| rest) })
        .collect();
    match literal.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))) {
        Some(c) => Err(format!(
            "contains {c:?} outside its templates; Application names may only hold lowercase letters, digits, '-' and '.'"
        )),
        None => Ok(()),
    }
}

/// The annotation keys a template reads: `{{metadata.annotations.k}}`, `{{.metadata.annotations.k}}`
/// and Go's `{{index .metadata.annotations "k"}}`.
pub fn annotation_references(text: &str) -> Vec<String> {
    const PREFIX: &str = "metadata.annotations";
    let mut keys = Vec::new();
    for body in template_bodies(text) {
        let mut rest = body;
        while let Some(at) = rest.find(PREFIX) {
            rest = &rest[at + PREFIX.len()..];
            let key = if let Some(dotted) = rest.strip_prefix('.') {
                dotted.split(|c: char| c.is_whitespace() || c == ')' || c == '|').next().unwrap_or_default()
            } else {
                rest.trim_start().strip_prefix('"').and_then(|q| q.split('"').next()).unwrap_or_default()
            };
            if !key.is_empty() && !keys.iter().any(|k| k == key) {
                keys.push(key.to_string());
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bootstrap/addons.yaml` of the GitOps Bridge (pinned as JSON in the resource's tests).
    fn bootstrap_addons() -> AddonSet {
        AddonSet {
            name: "cluster-addons".into(),
            namespace: "argocd".into(),
            project: "default".into(),
            application_name: "bootstrap-addons".into(),
            selector: Some(Selector {
                match_labels: None,
                match_expressions: vec![Requirement {
                    key: "akuity.io/argo-cd-cluster-name".into(),
                    operator: "NotIn".into(),
                    values: Some(vec!["in-cluster".into()]),
                }],
            }),
            source: Source {
                from_metadata: Some(MetadataRepo::Addons),
                directory: Some(Directory { recurse: Some(true), include: None, exclude: Some("exclude/*".into()) }),
                ..Source::default()
            },
            destination: Some(Destination {
                name: Some("{{name}}".into()),
                server: None,
                namespace: Some("argocd".into()),
            }),
            sync_policy: Some(SyncPolicy { automated: Some(Automated::default()), sync_options: None }),
            preserve_resources_on_deletion: Some(true),
            go_template: None,
            drain_phase: DrainPhase::Addons,
        }
    }

    #[test]
    fn go_templates_reference_parameters_with_a_leading_dot() {
        let mut set = bootstrap_addons();
        set.go_template = Some(true);
        set.destination = None;
        set.application_name = default_application_name(&set.name, set.syntax());
        let json = set.to_json();
        assert_eq!(json["spec"]["goTemplate"], json!(true));
        assert_eq!(json["spec"]["template"]["metadata"]["name"], json!("cluster-addons-{{.name}}"));
        assert_eq!(
            json["spec"]["template"]["spec"]["source"]["repoURL"],
            json!("{{.metadata.annotations.addons_repo_url}}")
        );
        assert_eq!(json["spec"]["template"]["spec"]["destination"], json!({ "name": "{{.name}}" }));
    }

    #[test]
    fn explicit_path_and_revision_override_the_metadata_ones() {
        let mut set = bootstrap_addons();
        set.source.target_revision = Some("v1.2.0".into());
        let source = &set.to_json()["spec"]["template"]["spec"]["source"];
        assert_eq!(source["targetRevision"], json!("v1.2.0"));
        assert_eq!(source["repoURL"], json!("{{metadata.annotations.addons_repo_url}}"));
        assert_eq!(AddonSet::from_json(&set.to_json()), set);
    }

    #[test]
    fn no_selector_selects_every_cluster() {
        let mut set = bootstrap_addons();
        set.selector = None;
        set.drain_phase = DrainPhase::Never;
        assert_eq!(set.to_json()["spec"]["generators"], json!([{ "clusters": {} }]));
    }

    #[test]
    fn each_drain_phase_excludes_the_drain_labels_from_its_phase_on() {
        let cases: [(DrainPhase, Option<Json>); 4] = [
            (DrainPhase::Workloads, Some(json!(["workloads", "addons", "all"]))),
            (DrainPhase::Addons, Some(json!(["addons", "all"]))),
            (DrainPhase::Last, Some(json!(["all"]))),
            (DrainPhase::Never, None),
        ];
        for (phase, values) in cases {
            let mut set = bootstrap_addons();
            set.drain_phase = phase;
            let json = set.to_json();
            let exprs = json.pointer("/spec/generators/0/clusters/selector/matchExpressions").unwrap().clone();
            let drain = exprs.as_array().unwrap().iter().find(|e| e["key"] == json!(DRAIN_LABEL)).cloned();
            assert_eq!(
                drain.map(|e| (e["operator"].clone(), e["values"].clone())),
                values.map(|v| (json!("NotIn"), v))
            );
            assert_eq!(DrainPhase::of_application_set(&json), phase, "{phase:?}");
            // The configured selector comes back without the drain requirement.
            assert_eq!(AddonSet::from_json(&json), set, "{phase:?}");
            for (i, label) in DRAIN_LABEL_VALUES.iter().enumerate() {
                let labels = BTreeMap::from([(DRAIN_LABEL.to_string(), label.to_string())]);
                let excluded_from =
                    [DrainPhase::Workloads, DrainPhase::Addons, DrainPhase::Last][..=i].contains(&phase);
                assert_eq!(set.written_selector().unwrap().matches(&labels), !excluded_from, "{phase:?} {label}");
            }
        }
    }

    #[test]
    fn a_drain_requirement_alone_reads_back_as_no_configured_selector() {
        let mut set = bootstrap_addons();
        set.selector = None;
        let json = set.to_json();
        assert_eq!(
            json["spec"]["generators"][0]["clusters"]["selector"],
            json!({ "matchExpressions": [{ "key": DRAIN_LABEL, "operator": "NotIn", "values": ["addons", "all"] }] })
        );
        assert_eq!(AddonSet::from_json(&json), set);
        assert_eq!(
            DrainPhase::Addons.selector_line(),
            "- {key: gitops-bridge/drain, operator: NotIn, values: [addons, all]}"
        );
    }

    #[test]
    fn reading_back_what_we_wrote_gives_the_same_model() {
        let mut cases = vec![bootstrap_addons()];
        let mut explicit = bootstrap_addons();
        explicit.source = Source {
            repo_url: Some("https://charts.example.com".into()),
            chart: Some("metrics-server".into()),
            target_revision: Some("3.12.1".into()),
            helm: Some(Helm {
                release_name: Some("metrics-server".into()),
                value_files: Some(vec!["values.yaml".into()]),
                values: Some("replicas: 2\n".into()),
            }),
            ..Source::default()
        };
        explicit.selector = Some(Selector {
            match_labels: Some(BTreeMap::from([("enable_metrics_server".into(), "true".into())])),
            match_expressions: vec![Requirement { key: "environment".into(), operator: "Exists".into(), values: None }],
        });
        explicit.sync_policy = Some(SyncPolicy {
            automated: Some(Automated { prune: Some(true), self_heal: Some(false), allow_empty: None }),
            sync_options: Some(vec!["CreateNamespace=true".into(), "ServerSideApply=true".into()]),
        });
        explicit.preserve_resources_on_deletion = Some(false);
        explicit.go_template = Some(false);
        cases.push(explicit);
        let mut defaults = bootstrap_addons();
        defaults.destination = None;
        defaults.selector = None;
        defaults.sync_policy = None;
        defaults.preserve_resources_on_deletion = None;
        defaults.source.directory = None;
        defaults.source.from_metadata = Some(MetadataRepo::Workload);
        cases.push(defaults);
        let mut go = bootstrap_addons();
        go.go_template = Some(true);
        go.destination = Some(Destination { server: Some("{{.server}}".into()), ..Destination::default() });
        cases.push(go);
        for case in cases {
            assert_eq!(AddonSet::from_json(&case.to_json()), case);
        }
    }

    #[test]
    fn selectors_render_as_api_queries() {
        let selector = Selector {
            match_labels: Some(BTreeMap::from([("environment".into(), "prod".into())])),
            match_expressions: vec![
                Requirement {
                    key: "akuity.io/argo-cd-cluster-name".into(),
                    operator: "NotIn".into(),
                    values: Some(vec!["in-cluster".into(), "hub".into()]),
                },
                Requirement { key: "tier".into(), operator: "In".into(), values: Some(vec!["a".into()]) },
                Requirement { key: "enable_x".into(), operator: "Exists".into(), values: None },
                Requirement { key: "legacy".into(), operator: "DoesNotExist".into(), values: None },
            ],
        };
        assert_eq!(
            selector.to_query(),
            "environment=prod,akuity.io/argo-cd-cluster-name notin (in-cluster,hub),tier in (a),enable_x,!legacy"
        );
        assert_eq!(Selector::default().to_query(), "");
    }

    #[test]
    fn braces_must_balance() {
        let cases: &[(&str, Result<(), TemplateError>)] = &[
            ("plain", Ok(())),
            ("{{name}}", Ok(())),
            ("a-{{metadata.labels.env}}-{{name}}", Ok(())),
            ("{{- .name -}}", Ok(())),
            ("{ single } braces", Ok(())),
            ("{{name", Err(TemplateError::Unclosed(0))),
            ("name}}", Err(TemplateError::Unopened(4))),
            ("{{a{{b}}}}", Err(TemplateError::Nested(3))),
            ("x-{{a}}-}}", Err(TemplateError::Unopened(8))),
        ];
        for (text, want) in cases {
            assert_eq!(&check_braces(text), want, "{text:?}");
        }
    }

    #[test]
    fn annotation_references_are_found_in_both_syntaxes() {
        let cases: &[(&str, &[&str])] = &[
            ("{{metadata.annotations.addons_repo_url}}", &["addons_repo_url"]),
            ("{{.metadata.annotations.aws_region}}-{{ .metadata.annotations.aws_region }}", &["aws_region"]),
            (r#"{{index .metadata.annotations "eks.amazonaws.com/role-arn"}}"#, &["eks.amazonaws.com/role-arn"]),
            ("{{metadata.labels.environment}}", &[]),
            ("metadata.annotations.outside_a_template", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(annotation_references(text), *want, "{text:?}");
        }
        let used: Vec<String> = bootstrap_addons().annotations_used().into_iter().map(|(k, _)| k).collect();
        assert_eq!(used, ["addons_repo_url", "addons_repo_basepath", "addons_repo_path", "addons_repo_revision"]);
    }

    #[test]
    fn importable_objects_are_one_clusters_generator_with_one_source() {
        let good = bootstrap_addons().to_json();
        assert_eq!(check_importable(&good), Ok(vec![]));
        let mut extra = good.clone();
        extra["spec"]["strategy"] = json!({ "type": "RollingSync" });
        assert_eq!(check_importable(&extra), Ok(vec!["/spec/strategy".to_string()]));
        let mut git = good.clone();
        git["spec"]["generators"] = json!([{ "git": {} }]);
        assert!(matches!(check_importable(&git), Err(ShapeError::NotAClustersGenerator(k)) if k == "git"));
        let mut multi = good.clone();
        multi["spec"]["template"]["spec"].as_object_mut().unwrap().remove("source");
        multi["spec"]["template"]["spec"]["sources"] = json!([]);
        assert!(matches!(check_importable(&multi), Err(ShapeError::NoSingleSource(k)) if k == "sources"));
        let mut app = good;
        app["kind"] = json!("Application");
        assert!(matches!(check_importable(&app), Err(ShapeError::NotAnApplicationSet(_))));
    }
}
