//! A cluster Secret from Terraform values and back: the Secret a plan asks for, and a live
//! Secret as state, which the `cluster_metadata` resource and data source both read back.

use std::collections::{BTreeMap, BTreeSet};

use crate::argocd::cluster_secret::{
    ADDON_LABEL_PREFIX, ArgoClusterConfig, AwsAuthConfig, CLUSTER_NAME_KEY, ClusterSecret, ENVIRONMENT_KEY,
    ExecProviderConfig, FromKubeconfigError, IN_CLUSTER_SERVER, LAST_APPLIED_ANNOTATION, LiveSecret,
    SECRET_TYPE_CLUSTER, SECRET_TYPE_LABEL, addon_label_key, connection_from_kubeconfig, derived_label,
    normalize_server, reserved_annotation,
};
use crate::hub::HubError;
use crate::protocol::{AttributePath, Diagnostics, Value};
use crate::tf::adoption;
use crate::tf::hub_errors::hub_diagnostics;
use crate::tf::values as tf_values;

/// The type name of `cluster_metadata`, which an error about an existing Secret points the
/// import at.
pub const CLUSTER_METADATA_TYPE_NAME: &str = "gitopsbridge_cluster_metadata";

/// Errors of this resource, turned into diagnostics at the trait boundary.
#[derive(Debug, thiserror::Error)]
pub enum ClusterMetadataError {
    /// Boxed: kube's error is large and this enum travels through every `?`.
    #[error(transparent)]
    Hub(Box<HubError>),
    /// Create found a Secret of that name and the user did not opt in to adopting it.
    #[error("the Secret {namespace}/{name} already exists")]
    AlreadyExists { namespace: String, name: String },
    /// The import id is not `<namespace>/<secret name>`.
    #[error("invalid import id {id:?}: {reason}")]
    BadImportId { id: String, reason: String },
    /// The imported Secret is not an Argo CD cluster Secret.
    #[error("the Secret {namespace}/{name} is not an Argo CD cluster Secret: {reason}")]
    NotAClusterSecret { namespace: String, name: String, reason: String },
    /// `from_kubeconfig` could not be used.
    #[error("from_kubeconfig: {0}")]
    Kubeconfig(#[from] FromKubeconfigError),
    /// A value needed to write the Secret is missing or unknown at apply.
    #[error("{attribute} must be known and set to write the Secret")]
    Missing { attribute: &'static str },
}

impl From<HubError> for ClusterMetadataError {
    fn from(error: HubError) -> Self {
        ClusterMetadataError::Hub(Box::new(error))
    }
}

impl ClusterMetadataError {
    /// True when a write failed without knowing whether the hub carried it out.
    pub fn uncertain(&self) -> bool {
        matches!(self, ClusterMetadataError::Hub(hub) if hub.uncertain())
    }

    pub fn into_diagnostics(self) -> Diagnostics {
        match &self {
            ClusterMetadataError::AlreadyExists { namespace, name } => Diagnostics::error(
                "Cluster Secret already exists",
                format!(
                    "The Secret {namespace}/{name} already exists on the hub and is not in this state. {}\n\
                     Or set allow_overwrite = true to take it over as it is.",
                    adoption::how_to_import(CLUSTER_METADATA_TYPE_NAME, &format!("{namespace}/{name}"))
                ),
            ),
            ClusterMetadataError::BadImportId { .. } => Diagnostics::error("Invalid import id", self.to_string()),
            ClusterMetadataError::Kubeconfig(_) => Diagnostics::error_at(
                AttributePath::root("from_kubeconfig").index(0).attr("content"),
                "Unusable kubeconfig",
                self.to_string(),
            ),
            ClusterMetadataError::Hub(hub) => hub_diagnostics(hub),
            _ => Diagnostics::error("Cluster metadata error", self.to_string()),
        }
    }
}

// =============================================================================================
// Building the Secret from a plan
// =============================================================================================

/// The Argo CD connection from the (known) plan or state, and `bearer_token_wo` from the config.
/// Explicit attributes win over what `from_kubeconfig` says. Returns the kubeconfig's server too.
pub fn connection(
    plan: &Value,
    write_only_token: Option<&str>,
) -> Result<(Option<String>, ArgoClusterConfig), ClusterMetadataError> {
    let (kubeconfig_server, mut config) = match tf_values::block(plan.get("from_kubeconfig")) {
        Some(k) => {
            let content = k
                .get("content")
                .as_str()
                .ok_or(ClusterMetadataError::Missing { attribute: "from_kubeconfig.content" })?;
            let (server, config) = connection_from_kubeconfig(content, k.get("context").as_str())?;
            (Some(server), config)
        }
        None => (None, ArgoClusterConfig::default()),
    };
    let s = |name: &str| tf_values::non_empty_string(plan.get(name));
    let tls = &mut config.tls_client_config;
    if let Some(insecure) = plan.get("insecure").as_bool() {
        tls.insecure = insecure;
    }
    tls.server_name = s("server_name").or(tls.server_name.take());
    tls.ca_data = s("ca_data").or(tls.ca_data.take());
    tls.cert_data = s("cert_data").or(tls.cert_data.take());
    tls.key_data = s("key_data").or(tls.key_data.take());
    config.proxy_url = s("proxy_url").or(config.proxy_url.take());
    config.bearer_token = s("bearer_token")
        .or(write_only_token.filter(|t| !t.is_empty()).map(str::to_string))
        .or(config.bearer_token.take());
    if let Some(aws) = tf_values::block(plan.get("aws_auth")) {
        config.aws_auth_config = Some(AwsAuthConfig {
            cluster_name: tf_values::non_empty_string(aws.get("cluster_name")),
            role_arn: tf_values::non_empty_string(aws.get("role_arn")),
            profile: tf_values::non_empty_string(aws.get("profile")),
        });
    }
    if let Some(exec) = tf_values::block(plan.get("exec_provider")) {
        config.exec_provider_config = Some(ExecProviderConfig {
            command: tf_values::string(exec.get("command")).unwrap_or_default(),
            args: tf_values::string_list(exec.get("args")),
            env: tf_values::string_map(exec.get("env")),
            api_version: tf_values::non_empty_string(exec.get("api_version")),
            install_hint: tf_values::non_empty_string(exec.get("install_hint")),
        });
    }
    Ok((kubeconfig_server, config))
}

/// The server the Secret should carry, from `in_cluster`, `server` or the kubeconfig.
pub fn desired_server(plan: &Value, kubeconfig_server: Option<&str>) -> Option<String> {
    if plan.get("in_cluster").as_bool() == Some(true) {
        return Some(IN_CLUSTER_SERVER.to_string());
    }
    tf_values::non_empty_string(plan.get("server"))
        .map(|s| normalize_server(&s))
        .or(kubeconfig_server.map(str::to_string))
}

/// Labels and annotations the plan asks for (all owned by us).
pub fn desired_metadata(plan: &Value) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let cluster_name = tf_values::string(plan.get("cluster_name")).unwrap_or_default();
    let environment = tf_values::string(plan.get("environment"));
    let mut labels = BTreeMap::from([
        (SECRET_TYPE_LABEL.to_string(), SECRET_TYPE_CLUSTER.to_string()),
        (CLUSTER_NAME_KEY.to_string(), cluster_name.clone()),
    ]);
    let mut annotations = tf_values::string_map(plan.get("metadata"));
    annotations.insert(CLUSTER_NAME_KEY.to_string(), cluster_name);
    if let Some(env) = environment {
        labels.insert(ENVIRONMENT_KEY.to_string(), env.clone());
        annotations.insert(ENVIRONMENT_KEY.to_string(), env);
    }
    for (key, value) in tf_values::string_map(plan.get("addons")) {
        labels.insert(addon_label_key(&key, &value), value);
    }
    for (key, value) in tf_values::string_map(plan.get("labels")) {
        labels.entry(key).or_insert(value);
    }
    (labels, annotations)
}

/// The Secret a fully known plan describes.
pub fn cluster_secret(plan: &Value, write_only_token: Option<&str>) -> Result<ClusterSecret, ClusterMetadataError> {
    let known =
        |name: &'static str| tf_values::string(plan.get(name)).ok_or(ClusterMetadataError::Missing { attribute: name });
    let (kubeconfig_server, config) = connection(plan, write_only_token)?;
    let (labels, annotations) = desired_metadata(plan);
    Ok(ClusterSecret {
        namespace: known("namespace")?,
        name: known("secret_name")?,
        cluster_name: known("cluster_name")?,
        server: desired_server(plan, kubeconfig_server.as_deref())
            .ok_or(ClusterMetadataError::Missing { attribute: "server" })?,
        labels,
        annotations,
        config,
        project: tf_values::string(plan.get("project")),
        namespaces: tf_values::string_list(plan.get("namespaces")),
        cluster_resources: plan.get("cluster_resources").as_bool(),
    })
}

// =============================================================================================
// Mapping a live Secret back to state
// =============================================================================================

/// Keeps null when the live value is what null means (`false`, empty), so an attribute the user
/// left out does not show a diff.
fn keep_null_for_default(prior: &Value, live: Value, default: &Value) -> Value {
    if prior.is_null() && (&live == default || live.is_null()) { Value::Null } else { live }
}

/// A string map of the keys we own, or null when nothing is owned and the prior value was null.
fn owned_map(prior: &Value, entries: BTreeMap<String, Value>) -> Value {
    if entries.is_empty() && prior.is_null() { Value::Null } else { Value::Map(entries) }
}

/// The state after refreshing from the live Secret.
///
/// `import` maps everything back (labels other than the derived ones become `addons`, verbatim;
/// annotations `metadata`), so the gitops-bridge module's own maps plan empty;
/// otherwise only the keys we own (the prior state's, and our field manager's in
/// `managedFields`) are read back, so foreign keys are never drift and our own changed keys are.
pub fn state_from_live(prior: &Value, live: &LiveSecret, import: bool) -> Value {
    let mut state = prior.clone();
    let data = |key: &str| live.data.get(key).cloned();
    let owns_data = |key: &str, attr: &str| import || !prior.get(attr).is_null() || live.owned.data.contains(key);

    state.set("cluster_name", tf_values::opt_string(data("name").as_deref()));

    // environment: the label, or the annotation when only that one drifted.
    if import || !prior.get("environment").is_null() || live.owned.labels.contains(ENVIRONMENT_KEY) {
        let label = live.labels.get(ENVIRONMENT_KEY);
        let annotation = live.annotations.get(ENVIRONMENT_KEY);
        let expected = prior.get("environment").as_str();
        let value = match (label, annotation) {
            (Some(l), Some(a)) if Some(l.as_str()) == expected && Some(a.as_str()) != expected => Some(a),
            (Some(l), _) => Some(l),
            (None, a) if import => a,
            (None, _) => None,
        };
        state.set("environment", tf_values::opt_string(value.map(String::as_str)));
    }

    // Where the cluster is.
    let prior_in_cluster = prior.get("in_cluster").as_bool();
    let kubeconfig_connection = tf_values::block(prior.get("from_kubeconfig"))
        .and_then(|k| connection_from_kubeconfig(k.get("content").as_str()?, k.get("context").as_str()).ok());
    let live_server = live.server();
    if import {
        if live_server.as_deref() == Some(IN_CLUSTER_SERVER) {
            state.set("in_cluster", Value::Bool(true));
            state.set("server", Value::Null);
        } else {
            state.set("server", tf_values::opt_string(live_server.as_deref()));
        }
    } else if live_server != desired_server(prior, kubeconfig_connection.as_ref().map(|(s, _)| s.as_str())) {
        state.set("server", tf_values::opt_string(live_server.as_deref()));
        if prior_in_cluster == Some(true) {
            state.set("in_cluster", Value::Bool(false));
        }
    }

    // Addons: each prior key reads back the label it writes. Import cannot see the configuration,
    // so it takes every label but the derived ones verbatim, as the gitops-bridge module's
    // `addons` map writes them; a refresh does so for owned flag labels no prior key covers.
    let prior_addons = prior.get("addons");
    let prior_labels = prior.get("labels");
    let mut addons = BTreeMap::new();
    let mut covered = BTreeSet::new();
    for (key, value) in prior_addons.as_map().into_iter().flatten() {
        let label = addon_label_key(key, value.as_str().unwrap_or_default());
        if let Some(live_value) = live.labels.get(&label) {
            addons.insert(key.clone(), Value::string(live_value));
        }
        covered.insert(label);
    }
    for (label, value) in &live.labels {
        if derived_label(label) || covered.contains(label) || !prior_labels.get(label).is_null() {
            continue;
        }
        let flag = label.starts_with(ADDON_LABEL_PREFIX) || label.contains("_enable_");
        if import || (flag && live.owned.labels.contains(label)) {
            addons.insert(label.clone(), Value::string(value));
            covered.insert(label.clone());
        }
    }
    state.set("addons", owned_map(prior_addons, addons));

    // Extra labels: the owned ones no addon writes.
    let owned_label = |key: &str| {
        !derived_label(key)
            && !covered.contains(key)
            && (import || !prior_labels.get(key).is_null() || live.owned.labels.contains(key))
    };
    let labels =
        live.labels.iter().filter(|(k, _)| owned_label(k)).map(|(k, v)| (k.clone(), Value::string(v))).collect();
    state.set("labels", owned_map(prior_labels, labels));

    // Annotations.
    let prior_metadata = prior.get("metadata");
    let owned_annotation = |key: &str| {
        !reserved_annotation(key)
            && key != LAST_APPLIED_ANNOTATION
            && (import || !prior_metadata.get(key).is_null() || live.owned.annotations.contains(key))
    };
    let metadata = live
        .annotations
        .iter()
        .filter(|(k, _)| owned_annotation(k))
        .map(|(k, v)| (k.clone(), Value::string(v)))
        .collect();
    state.set("metadata", owned_map(prior_metadata, metadata));

    // Optional data keys.
    if owns_data("project", "project") {
        state.set("project", tf_values::opt_string(data("project").as_deref()));
    }
    if owns_data("namespaces", "namespaces") {
        let list: Vec<String> = data("namespaces")
            .map(|n| n.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        state.set(
            "namespaces",
            keep_null_for_default(prior.get("namespaces"), Value::strings(list), &Value::List(vec![])),
        );
    }
    if owns_data("clusterResources", "cluster_resources") {
        state.set(
            "cluster_resources",
            data("clusterResources").and_then(|v| v.parse::<bool>().ok()).map_or(Value::Null, Value::Bool),
        );
    }

    // Connection.
    let live_config = live.config();
    if let Some((_, _)) = &kubeconfig_connection {
        // The kubeconfig cannot be rebuilt from the Secret: compare, and on a difference drop the
        // block from state so the plan shows it being written again. The write-only token is not
        // comparable.
        let uses_write_only = !prior.get("bearer_token_wo_version").is_null();
        let expected = connection(prior, None).ok().map(|(_, c)| c);
        let mut live_cmp = live_config.clone();
        if uses_write_only {
            live_cmp.bearer_token = expected.as_ref().and_then(|e| e.bearer_token.clone());
        }
        if expected.as_ref() != Some(&live_cmp) {
            state.set("from_kubeconfig", Value::List(vec![]));
        }
    } else {
        let tls = &live_config.tls_client_config;
        let uses_write_only = !prior.get("bearer_token_wo_version").is_null();
        let back = |name: &str, live: &Option<String>| string_back(prior.get(name), live.as_deref());
        // Import cannot tell whether the configuration keeps the token write-only, so secret
        // material is never copied into state there: the first plan writes it again instead.
        if !uses_write_only && !import {
            state.set("bearer_token", back("bearer_token", &live_config.bearer_token));
        }
        state.set("ca_data", back("ca_data", &tls.ca_data));
        state.set("cert_data", back("cert_data", &tls.cert_data));
        if !import {
            state.set("key_data", back("key_data", &tls.key_data));
        }
        state.set("server_name", back("server_name", &tls.server_name));
        state.set("proxy_url", back("proxy_url", &live_config.proxy_url));
        state.set(
            "insecure",
            keep_null_for_default(prior.get("insecure"), Value::Bool(tls.insecure), &Value::Bool(false)),
        );
        state.set(
            "aws_auth",
            aws_auth_state(tf_values::block(prior.get("aws_auth")), live_config.aws_auth_config.as_ref()),
        );
        state.set(
            "exec_provider",
            exec_provider_state(
                tf_values::block(prior.get("exec_provider")),
                live_config.exec_provider_config.as_ref(),
            ),
        );
    }
    state
}

/// A string read back from the Secret. Argo CD omits empty strings, so an absent value where
/// the prior state had `""` stays `""` rather than showing a diff forever.
fn string_back(prior: &Value, live: Option<&str>) -> Value {
    match live {
        None if prior.as_str() == Some("") => Value::string(""),
        live => tf_values::opt_string(live),
    }
}

fn aws_auth_state(prior: Option<&Value>, aws: Option<&AwsAuthConfig>) -> Value {
    let Some(aws) = aws else { return Value::List(vec![]) };
    let prior = prior.cloned().unwrap_or_default();
    Value::List(vec![Value::object([
        ("cluster_name", string_back(prior.get("cluster_name"), aws.cluster_name.as_deref())),
        ("role_arn", string_back(prior.get("role_arn"), aws.role_arn.as_deref())),
        ("profile", string_back(prior.get("profile"), aws.profile.as_deref())),
    ])])
}

fn exec_provider_state(prior: Option<&Value>, exec: Option<&ExecProviderConfig>) -> Value {
    let Some(exec) = exec else { return Value::List(vec![]) };
    let prior = prior.cloned().unwrap_or_default();
    Value::List(vec![Value::object([
        ("command", Value::string(&exec.command)),
        ("args", keep_null_for_default(prior.get("args"), Value::strings(exec.args.clone()), &Value::List(vec![]))),
        ("env", keep_null_for_default(prior.get("env"), tf_values::map_value(&exec.env), &Value::Map(BTreeMap::new()))),
        ("api_version", string_back(prior.get("api_version"), exec.api_version.as_deref())),
        ("install_hint", string_back(prior.get("install_hint"), exec.install_hint.as_deref())),
    ])])
}
