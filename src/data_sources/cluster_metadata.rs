//! Data source `gitopsbridge_cluster_metadata`: reads a cluster Secret's GitOps Bridge metadata
//! (server, environment, addons, labels, annotations, project) — never its credentials — so a
//! green cluster can copy what blue has.

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Secret;

use crate::argocd::cluster_secret::LiveSecret;
use crate::data_sources::{check_cluster_lookup, provider_setting_unknown};
use crate::hub::HubError;
use crate::hub::clusters::{ClusterLookup, FoundCluster};
use crate::protocol::schema::Block;
use crate::protocol::{Attribute, AttributePath, Context, DataSource, Diagnostics, Schema, Type, Value};
use crate::provider::state::{Configured, ProviderState};
use crate::tf::cluster_state::state_from_live;
use crate::tf::hub_errors::hub_diagnostics;
use crate::tf::timeouts::{self, Deadline, Defaults, Operation, Timeout};
use crate::tf::values as tf_values;

/// The read's timeout when the `timeouts` block does not set it.
const TIMEOUTS: Defaults = &[Timeout::new(Operation::Read, std::time::Duration::from_secs(5 * 60))];

/// Attributes the data source copies from the resource's mapping; credentials are not among them.
const METADATA_ATTRIBUTES: [&str; 10] = [
    "cluster_name",
    "environment",
    "in_cluster",
    "server",
    "addons",
    "labels",
    "metadata",
    "project",
    "namespaces",
    "cluster_resources",
];

fn schema() -> Schema {
    Schema::new(
        0,
        Block::new(
            "Reads an Argo CD cluster Secret's GitOps Bridge metadata by `cluster_name` or `secret_name`. \
             Credentials are never returned.",
        )
        .attribute(Attribute::computed("id", Type::String, "`<namespace>/<secret name>`."))
        .attribute(Attribute::optional_computed(
            "cluster_name",
            Type::String,
            "Find the cluster Secret whose `data.name` is this. Set this or `secret_name`.",
        ))
        .attribute(Attribute::optional_computed(
            "secret_name",
            Type::String,
            "Read the Secret of this name. Set this or `cluster_name`.",
        ))
        .attribute(Attribute::optional_computed(
            "namespace",
            Type::String,
            "The hub namespace to look in (default: the provider's `argocd_namespace`).",
        ))
        .attribute(Attribute::optional(
            "must_exist",
            Type::Bool,
            "Default true: a missing cluster is an error. With false, a missing cluster gives `found = false` \
             and empty metadata, so a root can outlive the cluster it copies from (green after blue is gone).",
        ))
        .attribute(Attribute::computed("found", Type::Bool, "Whether the cluster Secret exists."))
        .attribute(Attribute::computed(
            "server",
            Type::String,
            "The cluster's API server URL (null for the hub itself).",
        ))
        .attribute(Attribute::computed("in_cluster", Type::Bool, "True when the cluster is the hub itself."))
        .attribute(Attribute::computed("environment", Type::String, "The `environment` label."))
        .attribute(Attribute::computed(
            "addons",
            Type::map(Type::String),
            "Every label but `argocd.argoproj.io/secret-type`, `cluster_name` and `environment`, keyed as on the \
             Secret (`enable_metrics_server = \"true\"`, `kubernetes_version = \"1.31\"`): what the resource's or \
             the gitops-bridge module's `addons` map writes, so it can be passed on unchanged.",
        ))
        .attribute(Attribute::computed(
            "labels",
            Type::map(Type::String),
            "Empty: every label the Secret carries besides the derived ones is in `addons`. Kept so older \
             configurations still read.",
        ))
        .attribute(Attribute::computed(
            "metadata",
            Type::map(Type::String),
            "The annotations, without `cluster_name` and `environment`.",
        ))
        .attribute(Attribute::computed("project", Type::String, "The Argo CD project (`data.project`)."))
        .attribute(Attribute::computed(
            "namespaces",
            Type::list(Type::String),
            "The namespaces Argo CD is restricted to.",
        ))
        .attribute(Attribute::computed(
            "cluster_resources",
            Type::Bool,
            "Whether cluster-scoped resources are allowed.",
        ))
        .block(timeouts::block(TIMEOUTS)),
    )
}

fn validate(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    check_cluster_lookup(config, &mut d);
    timeouts::validate(config, TIMEOUTS, &mut d);
    d
}

/// The data source's state from a cluster Secret: the resource's import mapping, minus credentials.
pub fn metadata_state(config: &Value, namespace: &str, secret: &Secret) -> Value {
    let live = LiveSecret::from_secret(secret);
    let mapped = state_from_live(&Value::Map(Default::default()), &live, true);
    let name = secret.metadata.name.clone().unwrap_or_default();
    let mut state = config.clone();
    for attribute in METADATA_ATTRIBUTES {
        state.set(attribute, mapped.get(attribute).clone());
    }
    // Empty rather than null, so `merge(data.x.metadata, {...})` and `for` expressions just work.
    if state.get("in_cluster").is_null() {
        state.set("in_cluster", Value::Bool(false));
    }
    for map in ["addons", "labels", "metadata"] {
        if state.get(map).is_null() {
            state.set(map, Value::Map(Default::default()));
        }
    }
    if state.get("namespaces").is_null() {
        state.set("namespaces", Value::List(vec![]));
    }
    state.set("namespace", Value::string(namespace));
    state.set("secret_name", Value::string(&name));
    state.set("id", Value::string(format!("{namespace}/{name}")));
    state.set("found", Value::Bool(true));
    state
}

/// The state when the cluster does not exist and the configuration allows that: the lookup keys
/// as given, `found = false`, empty collections and nulls elsewhere.
pub fn absent_state(config: &Value, namespace: &str) -> Value {
    let mut state = config.clone();
    for attribute in METADATA_ATTRIBUTES.into_iter().filter(|a| *a != "cluster_name") {
        state.set(attribute, Value::Null);
    }
    state.set("in_cluster", Value::Bool(false));
    for map in ["addons", "labels", "metadata"] {
        state.set(map, Value::Map(Default::default()));
    }
    state.set("namespaces", Value::List(vec![]));
    state.set("namespace", Value::string(namespace));
    state.set("found", Value::Bool(false));
    state
}

pub struct ClusterMetadataDataSource {
    provider: Arc<ProviderState>,
}

impl ClusterMetadataDataSource {
    pub fn new(provider: Arc<ProviderState>) -> Self {
        ClusterMetadataDataSource { provider }
    }
}

#[async_trait]
impl DataSource for ClusterMetadataDataSource {
    fn type_name(&self) -> &'static str {
        "gitopsbridge_cluster_metadata"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Result<(), Diagnostics> {
        validate(config).into_result()
    }

    async fn read(&self, ctx: &Context, config: &Value) -> Result<Value, Diagnostics> {
        validate(config).into_result()?;
        let namespace = match (tf_values::string(config.get("namespace")), self.provider.argocd_namespace()) {
            (Some(ns), _) | (None, Configured::Known(ns)) => ns,
            (None, Configured::Unknown) => return Err(provider_setting_unknown("argocd_namespace")),
        };
        let hub = match self.provider.hub().await {
            Err(HubError::UnknownConfig) => return Err(provider_setting_unknown("hub")),
            hub => hub.map_err(|e| hub_diagnostics(&e))?,
        };
        let secrets = hub.secrets(&namespace).until(Deadline::start(config, TIMEOUTS, Operation::Read));
        let may_be_missing = config.get("must_exist").as_bool() == Some(false);

        // By cluster name, every data source of a plan reads through one shared listing of the
        // cluster Secrets; by Secret name, one GET (the Secret need not carry Argo CD's label).
        let (lookup, at) = match config.get("secret_name").as_str() {
            Some(name) => (ClusterLookup::SecretName(name), "secret_name"),
            None => {
                (ClusterLookup::ClusterName(config.get("cluster_name").as_str().unwrap_or_default()), "cluster_name")
            }
        };
        let found = match lookup {
            ClusterLookup::SecretName(name) => secrets
                .get(ctx, name)
                .await
                .map(|secret| secret.map_or(FoundCluster::Missing, |one| FoundCluster::One(Box::new(one)))),
            ClusterLookup::ClusterName(_) => secrets.find_cluster(ctx, lookup).await,
        };
        let secret = match found.map_err(|e| hub_diagnostics(&e))? {
            FoundCluster::One(secret) => secret,
            FoundCluster::Missing if may_be_missing => return Ok(absent_state(config, &namespace)),
            FoundCluster::Missing => {
                let detail = match lookup {
                    ClusterLookup::SecretName(name) => format!("There is no Secret {namespace}/{name} on the hub."),
                    ClusterLookup::ClusterName(cluster_name) => format!(
                        "No Argo CD cluster Secret in namespace {namespace} has the name {cluster_name:?}. \
                         Set must_exist = false if the root should work without it."
                    ),
                };
                let summary = if at == "secret_name" { "Cluster Secret not found" } else { "Cluster not found" };
                return Err(Diagnostics::error_at(AttributePath::root(at), summary, detail));
            }
            FoundCluster::Several(names) => {
                let cluster_name = config.get("cluster_name").as_str().unwrap_or_default();
                return Err(Diagnostics::error_at(
                    AttributePath::root("cluster_name"),
                    "Several clusters match",
                    format!(
                        "The cluster Secrets {} in namespace {namespace} all have the name {cluster_name:?}; use secret_name.",
                        names.join(", ")
                    ),
                ));
            }
        };
        Ok(metadata_state(config, &namespace, &secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(pairs: Vec<(&str, Value)>) -> Value {
        let mut v = Value::object(schema().block.attributes.iter().map(|a| (a.name.clone(), Value::Null)));
        for (k, val) in pairs {
            v.set(k, val);
        }
        v
    }

    fn paths(d: &Diagnostics) -> Vec<String> {
        d.0.iter().map(|d| d.attribute.as_ref().map(ToString::to_string).unwrap_or_default()).collect()
    }

    #[test]
    fn exactly_one_lookup_key() {
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (config(vec![("cluster_name", "eks-blue".into())]), vec![]),
            (config(vec![("secret_name", "eks-blue".into())]), vec![]),
            (config(vec![]), vec!["cluster_name"]),
            (config(vec![("cluster_name", "a".into()), ("secret_name", "a".into())]), vec!["secret_name"]),
            (config(vec![("secret_name", "Not_A_Name".into())]), vec!["secret_name"]),
            (config(vec![("cluster_name", "".into())]), vec!["cluster_name"]),
            (config(vec![("cluster_name", Value::Unknown)]), vec![]),
            (config(vec![("cluster_name", "a".into()), ("namespace", "a.b".into())]), vec!["namespace"]),
        ];
        for (c, want) in cases {
            assert_eq!(paths(&validate(&c)), want, "{c:?}");
        }
    }

    #[tokio::test]
    async fn unknown_provider_settings_say_how_to_read_during_apply() {
        use crate::provider::state::ProviderConfig;
        let unknown_namespace = ProviderConfig { argocd_namespace: Configured::Unknown, ..ProviderConfig::default() };
        let cases = [
            (ProviderConfig { hub: Configured::Unknown, ..ProviderConfig::default() }, "`hub`"),
            (unknown_namespace, "`argocd_namespace`"),
        ];
        for (provider, setting) in cases {
            let source = ClusterMetadataDataSource::new(Arc::new(ProviderState::with_config(provider)));
            let config = config(vec![("cluster_name", "eks-blue".into())]);
            let diags = source.read(&Context::default(), &config).await.expect_err("nothing to read with");
            assert_eq!(diags.0[0].summary, "Provider configuration not known yet");
            assert!(diags.0[0].detail.contains(setting) && diags.0[0].detail.contains("depends_on"), "{diags}");
        }
    }

    #[test]
    fn a_missing_cluster_reads_as_not_found_with_empty_metadata() {
        let state =
            absent_state(&config(vec![("cluster_name", "eks-blue".into()), ("must_exist", false.into())]), "argocd");
        assert_eq!(state.get("found"), &Value::from(false));
        assert_eq!(state.get("cluster_name"), &Value::from("eks-blue"));
        assert_eq!(state.get("addons"), &Value::Map(Default::default()));
        assert_eq!(state.get("metadata"), &Value::Map(Default::default()));
        assert!(state.get("environment").is_null());
        assert!(state.get("server").is_null());
        assert_eq!(state.get("namespace"), &Value::from("argocd"));
    }

    #[test]
    fn metadata_is_returned_and_credentials_never() {
        let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s);
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {
                "name": "eks-blue",
                "labels": {"argocd.argoproj.io/secret-type": "cluster", "cluster_name": "eks-blue", "environment": "prod", "enable_metrics_server": "true"},
                "annotations": {"cluster_name": "eks-blue", "environment": "prod", "aws_region": "eu-west-1"},
            },
            "data": {
                "name": b64("eks-blue"),
                "server": b64("https://blue.example.com"),
                "config": b64(r#"{"bearerToken":"very-secret","tlsClientConfig":{"insecure":false}}"#),
            },
        }))
        .unwrap();
        let state = metadata_state(&config(vec![("cluster_name", "eks-blue".into())]), "argocd", &secret);
        assert_eq!(state.get("id"), &Value::from("argocd/eks-blue"));
        assert_eq!(state.get("found"), &Value::from(true));
        assert_eq!(state.get("secret_name"), &Value::from("eks-blue"));
        assert_eq!(state.get("server"), &Value::from("https://blue.example.com"));
        assert_eq!(state.get("in_cluster"), &Value::from(false));
        assert_eq!(state.get("environment"), &Value::from("prod"));
        assert_eq!(state.get("addons"), &Value::object([("enable_metrics_server", Value::from("true"))]));
        assert_eq!(state.get("labels"), &Value::Map(Default::default()));
        assert_eq!(state.get("metadata"), &Value::object([("aws_region", Value::from("eu-west-1"))]));
        assert!(!format!("{state:?}").contains("very-secret"));
        // Only schema attributes come back.
        let names: Vec<String> = schema().block.attributes.iter().map(|a| a.name.clone()).collect();
        assert!(state.as_map().unwrap().keys().all(|k| names.contains(k)), "{state:?}");
    }
}
