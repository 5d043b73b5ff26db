//! Data source `gitopsbridge_cluster_status`: Argo CD's view of one cluster — the Applications
//! that deploy to it, their sync and health, and whether the cluster is ready — for `check`
//! blocks, preconditions and outputs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::argocd::application::{Application, Readiness, assess};
use crate::data_sources::{check_cluster_lookup, provider_setting_unknown};
use crate::hub::HubError;
use crate::hub::clusters::{ClusterLookup, FoundCluster, cluster_ref};
use crate::protocol::{Attribute, AttributePath, Block, Context, DataSource, Diagnostics, Number, Schema, Type, Value};
use crate::provider::state::{Configured, ProviderState};
use crate::tf::hub_errors::hub_diagnostics;
use crate::tf::timeouts::{self, Deadline, Defaults, Operation, Timeout};
use crate::tf::values as tf_values;
use crate::tf::wait_for_ready::{check_requirements, requirements};

const TIMEOUTS: Defaults = &[Timeout::new(Operation::Read, Duration::from_secs(5 * 60))];

/// The attributes of each entry of `applications`.
const APPLICATION_FIELDS: [&str; 11] = [
    "name",
    "namespace",
    "project",
    "application_set",
    "sync_status",
    "health_status",
    "health_message",
    "operation_phase",
    "operation_message",
    "revision",
    "reconciled_at",
];

fn application_type() -> Type {
    Type::Object(APPLICATION_FIELDS.iter().map(|f| (f.to_string(), Type::String)).collect())
}

fn schema() -> Schema {
    Schema::new(
        0,
        Block::new(
            "Argo CD's view of one cluster: the Applications that deploy to it (by `spec.destination` name or \
             server), their sync and health, and `ready`. Use it in a `check` block or a precondition to stop a \
             rollout while the cluster's addons and workloads are not running.",
        )
        .attribute(Attribute::computed("id", Type::String, "`<namespace>/<secret name>` of the cluster Secret."))
        .attribute(Attribute::optional_computed(
            "cluster_name",
            Type::String,
            "The cluster as Argo CD names it (the Secret's `data.name`). Set this or `secret_name`.",
        ))
        .attribute(Attribute::optional_computed(
            "secret_name",
            Type::String,
            "The cluster Secret's name. Set this or `cluster_name`.",
        ))
        .attribute(Attribute::optional_computed(
            "namespace",
            Type::String,
            "The hub namespace of the cluster Secret (default: the provider's `argocd_namespace`).",
        ))
        .attribute(Attribute::optional(
            "must_exist",
            Type::Bool,
            "Default true: a missing cluster is an error. With false, a missing cluster gives `found = false` and \
             `ready = false`.",
        ))
        .attribute(Attribute::optional(
            "required_applications",
            Type::list(Type::String),
            "Names (with `*` and `?` wildcards) of Applications that must exist for the cluster to be ready, e.g. \
             `[\"*-metrics-server\", \"guestbook\"]`: before Argo CD has generated them, no Application is not ready.",
        ))
        .attribute(Attribute::optional(
            "min_applications",
            Type::Number,
            "At least this many Applications must target the cluster for it to be ready (default 1).",
        ))
        .attribute(Attribute::computed("found", Type::Bool, "Whether the cluster Secret exists."))
        .attribute(Attribute::computed("server", Type::String, "The cluster's API server URL (`data.server`)."))
        .attribute(Attribute::computed(
            "applications",
            Type::list(application_type()),
            "The Applications that deploy to the cluster, by namespace and name: `name`, `namespace`, `project`, \
             `application_set` (the ApplicationSet that generated it), `sync_status` (Synced, OutOfSync, Unknown), \
             `health_status` (Healthy, Progressing, Degraded, Suspended, Missing, Unknown), `health_message`, \
             `operation_phase` (Running, Succeeded, Failed, Error, Terminating) and `operation_message` of the last \
             sync, `revision` and `reconciled_at` (when Argo CD last compared it with Git).",
        ))
        .attribute(Attribute::computed("application_count", Type::Number, "How many Applications target the cluster."))
        .attribute(Attribute::computed("healthy_count", Type::Number, "How many of them are Healthy."))
        .attribute(Attribute::computed("synced_count", Type::Number, "How many of them are Synced."))
        .attribute(Attribute::computed(
            "ready",
            Type::Bool,
            "True when at least one Application (and `min_applications`, and every `required_applications` \
             pattern) targets the cluster and every one is Synced and Healthy with no failed sync.",
        ))
        .attribute(Attribute::computed(
            "not_ready",
            Type::list(Type::String),
            "One line for each reason the cluster is not ready, e.g. `argocd/guestbook-eks-green: Degraded: ...`.",
        ))
        .block(timeouts::block(TIMEOUTS)),
    )
}

fn validate(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    check_cluster_lookup(config, &mut d);
    check_requirements(config, &AttributePath::root, &mut d);
    timeouts::validate(config, TIMEOUTS, &mut d);
    d
}

fn application_value(app: &Application) -> Value {
    let opt = |s: Option<&str>| tf_values::opt_string(s.filter(|s| !s.is_empty()));
    let status = |s: &str| Value::string(if s.is_empty() { "Unknown" } else { s });
    Value::object([
        ("name", Value::string(app.name())),
        ("namespace", Value::string(app.namespace())),
        ("project", opt(Some(&app.spec.project))),
        ("application_set", opt(app.application_set())),
        ("sync_status", status(&app.status.sync.status)),
        ("health_status", status(&app.status.health.status)),
        ("health_message", opt(app.status.health.message.as_deref())),
        ("operation_phase", opt(app.operation_phase())),
        ("operation_message", opt(app.operation_message())),
        ("revision", opt(app.revision())),
        ("reconciled_at", opt(app.status.reconciled_at.as_deref())),
    ])
}

/// The status attributes of `apps` judged by `readiness`.
fn set_status(state: &mut Value, apps: &[&Application], readiness: &Readiness) {
    let count =
        |f: &dyn Fn(&Application) -> bool| Value::Number(Number::Int(apps.iter().filter(|a| f(a)).count() as i64));
    state.set("applications", Value::List(apps.iter().map(|a| application_value(a)).collect()));
    state.set("application_count", Value::Number(Number::Int(apps.len() as i64)));
    state.set("healthy_count", count(&|a| a.status.health.status == "Healthy"));
    state.set("synced_count", count(&|a| a.status.sync.status == "Synced"));
    state.set("ready", Value::Bool(readiness.ready));
    state.set("not_ready", Value::strings(readiness.not_ready.iter().cloned()));
}

pub struct ClusterStatusDataSource {
    provider: Arc<ProviderState>,
}

impl ClusterStatusDataSource {
    pub fn new(provider: Arc<ProviderState>) -> Self {
        ClusterStatusDataSource { provider }
    }
}

#[async_trait]
impl DataSource for ClusterStatusDataSource {
    fn type_name(&self) -> &'static str {
        "gitopsbridge_cluster_status"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Result<(), Diagnostics> {
        validate(config).into_result()
    }

    async fn read(&self, ctx: &Context, config: &Value) -> Result<Value, Diagnostics> {
        validate(config).into_result()?;
        let app_namespaces = match self.provider.application_namespaces() {
            Configured::Known(all) => all,
            Configured::Unknown => return Err(provider_setting_unknown("argocd_namespace or application_namespaces")),
        };
        // The first of them is `argocd_namespace`, where Argo CD reads cluster Secrets.
        let namespace = tf_values::string(config.get("namespace")).unwrap_or_else(|| app_namespaces[0].clone());
        let hub = match self.provider.hub().await {
            Err(HubError::UnknownConfig) => return Err(provider_setting_unknown("hub")),
            hub => hub.map_err(|e| hub_diagnostics(&e))?,
        };
        let deadline = Deadline::start(config, TIMEOUTS, Operation::Read);
        let (lookup, at) = match config.get("secret_name").as_str() {
            Some(name) => (ClusterLookup::SecretName(name), "secret_name"),
            None => {
                (ClusterLookup::ClusterName(config.get("cluster_name").as_str().unwrap_or_default()), "cluster_name")
            }
        };
        let secrets = hub.secrets(&namespace).until(deadline);
        let mut state = config.clone();
        state.set("namespace", Value::string(&namespace));
        let secret = match secrets.find_cluster(ctx, lookup).await.map_err(|e| hub_diagnostics(&e))? {
            FoundCluster::One(secret) => secret,
            FoundCluster::Missing if config.get("must_exist").as_bool() == Some(false) => {
                state.set("found", Value::Bool(false));
                set_status(&mut state, &[], &Readiness { ready: false, not_ready: vec![], failing: vec![] });
                state.set("not_ready", Value::strings(["the cluster Secret does not exist"]));
                return Ok(state);
            }
            FoundCluster::Missing => {
                return Err(Diagnostics::error_at(
                    AttributePath::root(at),
                    "Cluster not found",
                    format!(
                        "No Argo CD cluster Secret in namespace {namespace} matches {at} = {:?}. Set must_exist = \
                         false if the root should work without it.",
                        config.get(at).as_str().unwrap_or_default()
                    ),
                ));
            }
            FoundCluster::Several(names) => {
                return Err(Diagnostics::error_at(
                    AttributePath::root("cluster_name"),
                    "Several clusters match",
                    format!(
                        "The cluster Secrets {} in namespace {namespace} share this cluster name; use secret_name.",
                        names.join(", ")
                    ),
                ));
            }
        };
        let cluster = cluster_ref(&secret);
        let secret_name = secret.metadata.name.clone().unwrap_or_default();

        let mut listed = Vec::new();
        for ns in &app_namespaces {
            let apps = hub.applications(ns).until(deadline).all_listed(ctx).await;
            listed.push(apps.map_err(|e| hub_diagnostics(&e))?);
        }
        let apps: Vec<&Application> =
            listed.iter().flat_map(|by_name| by_name.values()).filter(|app| app.targets(&cluster)).collect();
        let readiness = assess(&apps, &requirements(config), None);

        state.set("id", Value::string(format!("{namespace}/{secret_name}")));
        state.set("secret_name", Value::string(&secret_name));
        state.set("cluster_name", Value::string(&cluster.name));
        state.set("server", tf_values::opt_string(Some(cluster.server.as_str()).filter(|s| !s.is_empty())));
        state.set("found", Value::Bool(true));
        set_status(&mut state, &apps, &readiness);
        Ok(state)
    }
}
