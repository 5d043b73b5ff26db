//! Argo CD's cluster Secret, with no Terraform in it: the connection Argo CD reads
//! (`data.config`), the Secret the provider writes, the Secret as it lives on the hub, and the
//! connection a kubeconfig gives (as `argocd cluster add` derives it).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::hub::FIELD_MANAGER;

/// The label Argo CD selects cluster Secrets by.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
pub const SECRET_TYPE_CLUSTER: &str = "cluster";

/// The label selector of every cluster Secret: the listing refresh reads share.
pub fn cluster_secrets_selector() -> String {
    format!("{SECRET_TYPE_LABEL}={SECRET_TYPE_CLUSTER}")
}

/// The API server address of the cluster Argo CD runs in.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
/// Label and annotation carrying the cluster's name and environment.
pub const CLUSTER_NAME_KEY: &str = "cluster_name";
pub const ENVIRONMENT_KEY: &str = "environment";
/// A shorthand addon `x = true` becomes the label `enable_x`.
pub const ADDON_LABEL_PREFIX: &str = "enable_";
/// AWS addon flags of the gitops-bridge EKS examples (`aws_enable_<addon>`) are label keys already.
pub const AWS_ADDON_LABEL_PREFIX: &str = "aws_enable_";
/// kubectl's client-side-apply record: bookkeeping, not user metadata.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Labels derived from `cluster_name`, `environment` and the Secret's kind; neither `addons` nor
/// `labels` may set them.
pub fn derived_label(key: &str) -> bool {
    key == SECRET_TYPE_LABEL || key == CLUSTER_NAME_KEY || key == ENVIRONMENT_KEY
}

/// Labels we derive; `labels` must not set them (addon flags belong in `addons`).
pub fn reserved_label(key: &str) -> bool {
    derived_label(key) || key.starts_with(ADDON_LABEL_PREFIX)
}

/// Annotations we derive; `metadata` must not set them.
pub fn reserved_annotation(key: &str) -> bool {
    key == CLUSTER_NAME_KEY || key == ENVIRONMENT_KEY
}

// =============================================================================================
// Model
// =============================================================================================

/// Argo CD's cluster connection (`data.config`), with Argo CD's JSON names. Empty fields are
/// omitted, except `tlsClientConfig.insecure`, which Argo CD itself always writes.
/// No `Debug`: it holds credentials.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgoClusterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    #[serde(default)]
    pub tls_client_config: TlsClientConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_auth_config: Option<AwsAuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_provider_config: Option<ExecProviderConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
}

/// `tlsClientConfig`: CA, client certificate and key are base64-encoded PEM, as in kubeconfigs.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsClientConfig {
    #[serde(default)]
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_data: Option<String>,
}

/// `awsAuthConfig`: Argo CD gets an EKS token for `cluster_name`, optionally assuming a role.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AwsAuthConfig {
    #[serde(rename = "clusterName", default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    #[serde(rename = "roleARN", default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// `execProviderConfig`: a client-go credential plugin Argo CD runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecProviderConfig {
    #[serde(default)]
    pub command: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_hint: Option<String>,
}

/// Everything this resource writes into the Secret. No `Debug`: it holds credentials.
#[derive(Clone, PartialEq)]
pub struct ClusterSecret {
    pub namespace: String,
    pub name: String,
    pub cluster_name: String,
    pub server: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub config: ArgoClusterConfig,
    pub project: Option<String>,
    /// Written comma-separated, only when not empty.
    pub namespaces: Vec<String>,
    pub cluster_resources: Option<bool>,
}

impl ClusterSecret {
    /// The object to server-side apply: only the fields we own. `data` is base64 (not
    /// `stringData`, which the API server never returns and so cannot be compared).
    pub fn to_secret(&self) -> Secret {
        let mut data = BTreeMap::new();
        let mut put = |key: &str, value: String| {
            data.insert(key.to_string(), ByteString(value.into_bytes()));
        };
        put("name", self.cluster_name.clone());
        put("server", self.server.clone());
        // Serialising plain structs of strings and maps cannot fail.
        put("config", serde_json::to_string(&self.config).unwrap_or_default());
        if let Some(project) = &self.project {
            put("project", project.clone());
        }
        if !self.namespaces.is_empty() {
            put("namespaces", self.namespaces.join(","));
        }
        if let Some(cluster_resources) = self.cluster_resources {
            put("clusterResources", cluster_resources.to_string());
        }
        Secret {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(self.labels.clone()),
                annotations: Some(self.annotations.clone()),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..Secret::default()
        }
    }
}

/// Whether an addon value is a flag: the strings Terraform makes of `true` and `false`.
pub fn is_flag_value(value: &str) -> bool {
    value == "true" || value == "false"
}

/// Whether an addon key names a flag by itself (`enable_x`, `aws_enable_x`): its value must be one.
pub fn is_flag_key(key: &str) -> bool {
    key.starts_with(ADDON_LABEL_PREFIX) || key.starts_with(AWS_ADDON_LABEL_PREFIX)
}

/// The label key of an `addons` entry. The gitops-bridge module writes its `addons` map verbatim,
/// so a key that already carries the flag prefix (`enable_x`, `aws_enable_x`) and a key with a
/// value other than a flag (`kubernetes_version = "1.31"`) stay as they are; only the shorthand
/// `metrics_server = true` becomes `enable_metrics_server`.
pub fn addon_label_key(key: &str, value: &str) -> String {
    let verbatim = key.starts_with(ADDON_LABEL_PREFIX) || key.contains("_enable_") || !is_flag_value(value);
    if verbatim { key.to_string() } else { format!("{ADDON_LABEL_PREFIX}{key}") }
}

/// The server Argo CD stores: without the trailing slash.
pub fn normalize_server(server: &str) -> String {
    server.trim_end_matches('/').to_string()
}

/// What the live Secret holds, decoded, plus the keys our field manager owns in it.
#[derive(Clone, Default)]
pub struct LiveSecret {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub data: BTreeMap<String, String>,
    pub owned: OwnedKeys,
}

/// Label, annotation and data keys listed under our field manager in `managedFields`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OwnedKeys {
    pub labels: BTreeSet<String>,
    pub annotations: BTreeSet<String>,
    pub data: BTreeSet<String>,
}

impl LiveSecret {
    pub fn from_secret(secret: &Secret) -> LiveSecret {
        let data = secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
            .collect();
        let mut owned = OwnedKeys::default();
        for entry in secret.metadata.managed_fields.iter().flatten() {
            if entry.manager.as_deref() != Some(FIELD_MANAGER) || entry.operation.as_deref() != Some("Apply") {
                continue;
            }
            let Some(fields) = &entry.fields_v1 else { continue };
            let keys = |path: &[&str]| -> BTreeSet<String> {
                let mut node = &fields.0;
                for step in path {
                    node = &node[*step];
                }
                node.as_object()
                    .map(|m| m.keys().filter_map(|k| k.strip_prefix("f:")).map(str::to_string).collect())
                    .unwrap_or_default()
            };
            owned.labels.extend(keys(&["f:metadata", "f:labels"]));
            owned.annotations.extend(keys(&["f:metadata", "f:annotations"]));
            owned.data.extend(keys(&["f:data"]));
        }
        LiveSecret {
            labels: secret.metadata.labels.clone().unwrap_or_default(),
            annotations: secret.metadata.annotations.clone().unwrap_or_default(),
            data,
            owned,
        }
    }

    /// The parsed `config`; an absent or unreadable one reads as empty (and so shows as drift).
    pub fn config(&self) -> ArgoClusterConfig {
        self.data.get("config").and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default()
    }

    pub fn server(&self) -> Option<String> {
        self.data.get("server").map(|s| normalize_server(s))
    }
}

// =============================================================================================
// From a kubeconfig
// =============================================================================================

/// Why `from_kubeconfig` cannot give a connection. Messages never quote the content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FromKubeconfigError {
    #[error("the content is not a valid kubeconfig (YAML that kubectl would read)")]
    Parse,
    #[error("no context selected: set `context` or a current-context in the kubeconfig")]
    NoContext,
    #[error("context {context:?} not found (available: {available})")]
    ContextNotFound { context: String, available: String },
    #[error("context {context:?} refers to {what} {name:?}, which the kubeconfig does not define")]
    Dangling { context: String, what: &'static str, name: String },
    #[error("the cluster has no server URL")]
    NoServer,
    #[error("{field} refers to a file; inline it as {field}-data so Argo CD can use it")]
    FileReference { field: &'static str },
    #[error("{0} authentication cannot be expressed in an Argo CD cluster Secret")]
    Unsupported(&'static str),
}

/// Server and Argo CD connection derived from a kubeconfig, as `argocd cluster add` does.
pub fn connection_from_kubeconfig(
    content: &str,
    context: Option<&str>,
) -> Result<(String, ArgoClusterConfig), FromKubeconfigError> {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(content).map_err(|_| FromKubeconfigError::Parse)?;
    let context_name =
        context.map(str::to_string).or(kubeconfig.current_context.clone()).ok_or(FromKubeconfigError::NoContext)?;
    let ctx = kubeconfig.contexts.iter().find(|c| c.name == context_name).and_then(|c| c.context.clone()).ok_or_else(
        || FromKubeconfigError::ContextNotFound {
            context: context_name.clone(),
            available: kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
        },
    )?;
    let cluster =
        kubeconfig.clusters.iter().find(|c| c.name == ctx.cluster).and_then(|c| c.cluster.clone()).ok_or_else(
            || FromKubeconfigError::Dangling {
                context: context_name.clone(),
                what: "cluster",
                name: ctx.cluster.clone(),
            },
        )?;
    let user = match &ctx.user {
        Some(user_name) => Some(
            kubeconfig
                .auth_infos
                .iter()
                .find(|u| &u.name == user_name)
                .map(|u| u.auth_info.clone().unwrap_or_default())
                .ok_or_else(|| FromKubeconfigError::Dangling {
                    context: context_name.clone(),
                    what: "user",
                    name: user_name.clone(),
                })?,
        ),
        None => None,
    };

    let server =
        normalize_server(cluster.server.as_deref().filter(|s| !s.is_empty()).ok_or(FromKubeconfigError::NoServer)?);
    if cluster.certificate_authority.is_some() && cluster.certificate_authority_data.is_none() {
        return Err(FromKubeconfigError::FileReference { field: "certificate-authority" });
    }
    let mut config = ArgoClusterConfig {
        tls_client_config: TlsClientConfig {
            insecure: cluster.insecure_skip_tls_verify.unwrap_or(false),
            server_name: cluster.tls_server_name.clone().filter(|s| !s.is_empty()),
            ca_data: cluster.certificate_authority_data.clone().filter(|s| !s.is_empty()),
            ..TlsClientConfig::default()
        },
        proxy_url: cluster.proxy_url.clone().filter(|s| !s.is_empty()),
        ..ArgoClusterConfig::default()
    };
    let Some(user) = user else { return Ok((server, config)) };

    // The secret fields of AuthInfo are `SecretString`s; serde is the way kube exposes them.
    let user_json = serde_json::to_value(&user).unwrap_or_default();
    let secret_field =
        |name: &str| user_json.get(name).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_string);
    if user.client_certificate.is_some() && user.client_certificate_data.is_none() {
        return Err(FromKubeconfigError::FileReference { field: "client-certificate" });
    }
    if user.client_key.is_some() && secret_field("client-key-data").is_none() {
        return Err(FromKubeconfigError::FileReference { field: "client-key" });
    }
    if user.token_file.is_some() && secret_field("token").is_none() {
        return Err(FromKubeconfigError::FileReference { field: "tokenFile" });
    }
    if user.auth_provider.is_some() {
        return Err(FromKubeconfigError::Unsupported("auth-provider"));
    }
    if user.username.is_some() || secret_field("password").is_some() {
        return Err(FromKubeconfigError::Unsupported("username/password"));
    }
    config.bearer_token = secret_field("token");
    config.tls_client_config.cert_data = user.client_certificate_data.clone().filter(|s| !s.is_empty());
    config.tls_client_config.key_data = secret_field("client-key-data");
    if let Some(exec) = &user.exec {
        config.exec_provider_config = Some(ExecProviderConfig {
            command: exec.command.clone().unwrap_or_default(),
            args: exec.args.clone().unwrap_or_default(),
            env: exec
                .env
                .iter()
                .flatten()
                .filter_map(|pair| Some((pair.get("name")?.clone(), pair.get("value").cloned().unwrap_or_default())))
                .collect(),
            api_version: exec.api_version.clone(),
            install_hint: exec.install_hint.clone(),
        });
    }
    Ok((server, config))
}
