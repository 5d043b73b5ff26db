//! `gitopsbridge_cluster_metadata`: one Argo CD cluster Secret on the hub, carrying the GitOps
//! Bridge metadata (labels `cluster_name`, `environment`, `enable_<addon>`; annotations from
//! `metadata`) and the connection Argo CD uses to reach the cluster.
//!
//! The Secret is exactly what the gitops-bridge Terraform module writes, so either can read what
//! the other made. Writes are server-side apply; refresh compares only the keys we own, so labels
//! and annotations others add (Argo CD, Akuity, people) never show up as drift.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;

use crate::argocd::application_set::DRAIN_LABEL;
use crate::argocd::cluster_secret::{
    ClusterSecret, FromKubeconfigError, LiveSecret, SECRET_TYPE_CLUSTER, SECRET_TYPE_LABEL, addon_label_key,
    cluster_secrets_selector, connection_from_kubeconfig, derived_label, is_flag_key, is_flag_value,
    reserved_annotation, reserved_label,
};
use crate::argocd::k8s_names::{
    check_annotation_key, check_dns_label, check_dns_subdomain, check_label_key, check_label_value, derive_object_name,
    parse_namespaced_id,
};
use crate::http_url::check_http_url;
use crate::hub::clusters::cluster_ref;
use crate::hub::drain::{DrainError, DrainPlan};
use crate::hub::{HubClient, HubError};
use crate::protocol::plan::null_write_only;
use crate::protocol::{
    ApplyError, Attribute, AttributePath, Block, Context, Diagnostics, NestedBlock, Plan, PlanRequest, Resource,
    Schema, Type, Value,
};
use crate::provider::state::{Configured, ProviderState};
use crate::tf::cluster_state::{
    CLUSTER_METADATA_TYPE_NAME, ClusterMetadataError, cluster_secret, desired_metadata, state_from_live,
};
use crate::tf::credential_plugin::exec_env_attribute;
use crate::tf::hub_errors::hub_diagnostics;
use crate::tf::timeouts::{self, Deadline, Defaults, Operation, Timeout};
use crate::tf::values as tf_values;
use crate::tf::wait_for_ready;

pub const TYPE_NAME: &str = CLUSTER_METADATA_TYPE_NAME;

/// The opt-in block that drains the cluster's Applications before its Secret is deleted.
const DRAIN_BLOCK: &str = "drain_on_destroy";

/// kubectl's client-side-apply record: bookkeeping, not user metadata.
/// Each operation's timeout when the `timeouts` block does not set it.
const TIMEOUTS: Defaults = &[
    Timeout::new(Operation::Create, FIVE_MINUTES),
    Timeout::new(Operation::Read, FIVE_MINUTES).noting(timeouts::READ_NOTE),
    Timeout::new(Operation::Update, FIVE_MINUTES),
    Timeout::new(Operation::Delete, FIVE_MINUTES),
];
const FIVE_MINUTES: std::time::Duration = std::time::Duration::from_secs(5 * 60);

// =============================================================================================
// Schema
// =============================================================================================

/// 1: `addons` became a map of strings (version 0 stored bools).
const SCHEMA_VERSION: i64 = 1;

/// Stored state of an older schema version in today's shape.
fn upgrade_state(version: i64, mut state: serde_json::Value) -> Result<serde_json::Value, Diagnostics> {
    if version > SCHEMA_VERSION {
        return Err(Diagnostics::error(
            "State from a newer provider",
            format!(
                "The stored state has schema version {version}; this provider knows up to {SCHEMA_VERSION}. \
                 Use the provider version that wrote it."
            ),
        ));
    }
    if version < 1
        && let Some(addons) = state.get_mut("addons").and_then(serde_json::Value::as_object_mut)
    {
        for value in addons.values_mut() {
            if let Some(flag) = value.as_bool() {
                *value = serde_json::Value::String(flag.to_string());
            }
        }
    }
    Ok(state)
}

fn schema() -> Schema {
    let aws_auth = Block::new("Argo CD authenticates to an EKS cluster with AWS IAM (`awsAuthConfig`).")
        .attribute(Attribute::required("cluster_name", Type::String, "The EKS cluster name to get a token for."))
        .attribute(Attribute::optional("role_arn", Type::String, "An IAM role Argo CD assumes to get the token."))
        .attribute(Attribute::optional("profile", Type::String, "An AWS profile Argo CD uses."));
    let exec_provider = Block::new("Argo CD runs a client-go credential plugin (`execProviderConfig`).")
        .attribute(Attribute::required("command", Type::String, "The command to run."))
        .attribute(Attribute::optional("args", Type::list(Type::String), "Arguments of the command."))
        .attribute(exec_env_attribute())
        .attribute(Attribute::optional(
            "api_version",
            Type::String,
            "The ExecCredential API version the plugin speaks.",
        ))
        .attribute(Attribute::optional("install_hint", Type::String, "Text shown when the command is missing."));
    let from_kubeconfig = Block::new(
        "Derive server, CA and credentials (token, client certificate, exec plugin) from a kubeconfig, as \
         `argocd cluster add` does. Explicit attributes (server, ca_data, insecure, server_name, proxy_url) win.",
    )
    .attribute(
        Attribute::required(
            "content",
            Type::String,
            "The kubeconfig YAML. File references (certificate-authority: <path>) are not supported.",
        )
        .sensitive(),
    )
    .attribute(Attribute::optional(
        "context",
        Type::String,
        "The context to use (default: the kubeconfig's current context).",
    ));

    let s = |name, description| Attribute::optional(name, Type::String, description);
    Schema::new(
        SCHEMA_VERSION,
        Block::new(
            "An Argo CD cluster Secret on the hub: registers a cluster with Argo CD and carries its GitOps Bridge \
             metadata (labels `cluster_name`, `environment`, `enable_<addon>`; annotations from `metadata`).",
        )
        .attribute(Attribute::computed("id", Type::String, "`<namespace>/<secret name>`."))
        .attribute(Attribute::required(
            "cluster_name",
            Type::String,
            "The cluster's name in Argo CD (`data.name`, label and annotation `cluster_name`). Changing it replaces the Secret.",
        ))
        .attribute(s("environment", "Label and annotation `environment`, e.g. `prod`."))
        .attribute(Attribute::optional(
            "in_cluster",
            Type::Bool,
            "The cluster is the hub itself: the server is `https://kubernetes.default.svc`. Do not set `server` then.",
        ))
        .attribute(s("server", "The cluster's API server URL (`https://…`). Required unless `in_cluster` or `from_kubeconfig`."))
        .attribute(Attribute::optional(
            "addons",
            Type::map(Type::String),
            "Labels of the Secret, as the gitops-bridge module's `addons` map gives them: a shorthand flag \
             (`metrics_server = true`) becomes the label `enable_metrics_server` = \"true\"; a key that already \
             starts with `enable_` or contains `_enable_` (`aws_enable_x`), or whose value is not true/false \
             (`kubernetes_version = \"1.31\"`), is the label key as given. `enable_`/`aws_enable_` keys must be \
             true or false.",
        ))
        .attribute(Attribute::optional("labels", Type::map(Type::String), "Extra labels of the Secret."))
        .attribute(Attribute::optional(
            "metadata",
            Type::map(Type::String),
            "Annotations of the Secret: the GitOps Bridge metadata such as `addons_repo_url` or `aws_region`.",
        ))
        .attribute(s("project", "The Argo CD project the cluster belongs to (`data.project`)."))
        .attribute(Attribute::optional(
            "namespaces",
            Type::list(Type::String),
            "Restrict Argo CD to these namespaces of the cluster (`data.namespaces`).",
        ))
        .attribute(Attribute::optional(
            "cluster_resources",
            Type::Bool,
            "With `namespaces`: whether Argo CD may also manage cluster-scoped resources (`data.clusterResources`).",
        ))
        .attribute(Attribute::optional_computed(
            "namespace",
            Type::String,
            "The hub namespace of the Secret (default: the provider's `argocd_namespace`). Changing it replaces the Secret.",
        ))
        .attribute(Attribute::optional_computed(
            "secret_name",
            Type::String,
            "The Secret's name (default: derived from `cluster_name`: lowercase, other characters become `-`). \
             Changing it replaces the Secret.",
        ))
        .attribute(s("ca_data", "Base64-encoded PEM certificate authority of the cluster's API server (`tlsClientConfig.caData`)."))
        .attribute(s("cert_data", "Base64-encoded PEM client certificate (`tlsClientConfig.certData`); needs `key_data`."))
        .attribute(
            Attribute::optional("key_data", Type::String, "Base64-encoded PEM client key (`tlsClientConfig.keyData`); needs `cert_data`.")
                .sensitive(),
        )
        .attribute(Attribute::optional("insecure", Type::Bool, "Argo CD skips verifying the cluster's certificate."))
        .attribute(s("server_name", "The TLS server name Argo CD expects in the cluster's certificate."))
        .attribute(s("proxy_url", "A proxy Argo CD uses to reach the cluster (`proxyUrl`)."))
        .attribute(Attribute::optional("bearer_token", Type::String, "A bearer token Argo CD uses (`bearerToken`); stored in state.").sensitive())
        .attribute(
            Attribute::optional(
                "bearer_token_wo",
                Type::String,
                "Write-only bearer token (Terraform ≥ 1.11): sent to the hub, never stored in state. Set \
                 `bearer_token_wo_version` and change it to rotate the token.",
            )
            .sensitive()
            .write_only(),
        )
        .attribute(Attribute::optional(
            "bearer_token_wo_version",
            Type::String,
            "Any value (number or string); changing it writes `bearer_token_wo` again.",
        ))
        .attribute(Attribute::optional(
            "allow_overwrite",
            Type::Bool,
            "Take over a Secret of the same name that already exists, instead of failing. Default false.",
        ))
        .block(NestedBlock::at_most_one("aws_auth", aws_auth))
        .block(NestedBlock::at_most_one("exec_provider", exec_provider))
        .block(NestedBlock::at_most_one("from_kubeconfig", from_kubeconfig))
        .attribute(Attribute::computed(
            "draining",
            Type::Bool,
            "True while the cluster Secret carries the drain label of an interrupted or timed-out destroy; the next \
             apply removes the label, so the cluster rejoins every ApplicationSet.",
        ))
        .block(wait_for_ready::block())
        .block(NestedBlock::at_most_one(
            DRAIN_BLOCK,
            Block::new(
                "Drain the cluster before its Secret is deleted on destroy: the label `gitops-bridge/drain` takes it \
                 out of the workload ApplicationSets (`workloads`), then the addon ones (`addons`), then all others \
                 (`all`), each phase waiting until Argo CD has deleted the Applications those sets generated for \
                 it, so their resources on the cluster (load balancers, DNS records) are cleaned up while Argo CD \
                 can still reach it. Bounded by `timeouts.delete`; when a phase does not finish, destroy fails \
                 naming each Application left and why, the Secret stays, and the next destroy continues. Not \
                 allowed with `in_cluster = true`.",
            )
            .attribute(Attribute::optional(
                "keep_applications",
                Type::list(Type::String),
                "Globs (`*`, `?`) of Application names that may still target the cluster when the Secret is \
                 deleted, e.g. Applications not generated by an ApplicationSet.",
            )),
        ))
        .block(timeouts::block(TIMEOUTS)),
    )
}

// =============================================================================================
// Validate
// =============================================================================================

/// Attributes of which at most one may be set: each is a different way to authenticate.
const CREDENTIAL_KINDS: [&str; 6] =
    ["bearer_token", "bearer_token_wo", "cert_data", "aws_auth", "exec_provider", "from_kubeconfig"];

/// Where a credential kind is underlined. Terraform cannot underline a nested block from a path
/// that ends at it, so a block is shown by its required attribute.
fn credential_path(kind: &str) -> AttributePath {
    let required = match kind {
        "aws_auth" => "cluster_name",
        "exec_provider" => "command",
        "from_kubeconfig" => "content",
        attribute => return AttributePath::root(attribute),
    };
    AttributePath::root(kind).index(0).attr(required)
}

/// Offline checks of a configuration; unknown values are skipped (they are checked again when
/// Terraform plans the apply with them known). Every error points at its attribute.
pub fn validate_config(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    let root = AttributePath::root;
    let is_set = |name: &str| match config.get(name) {
        Value::Null => false,
        Value::List(items) => !items.is_empty(),
        _ => true,
    };

    if let Some(name) = config.get("cluster_name").as_str() {
        if name.is_empty() {
            d.push_error(Some(root("cluster_name")), "Empty cluster_name", "`cluster_name` must not be empty.");
        } else if let Err(e) = check_label_value(name) {
            d.push_error(
                Some(root("cluster_name")),
                "Invalid cluster_name",
                format!(
                    "`cluster_name` is also the label `cluster_name`, so it must be a valid label value: {name:?} {e}."
                ),
            );
        } else if config.get("secret_name").is_null() && derive_object_name(name).is_none() {
            d.push_error(Some(root("cluster_name")), "Cannot derive a Secret name", "Set `secret_name`.");
        }
    }
    if let Some(env) = config.get("environment").as_str()
        && let Err(e) = check_label_value(env)
    {
        d.push_error(
            Some(root("environment")),
            "Invalid environment",
            format!("`environment` is also a label value: {env:?} {e}."),
        );
    }

    // Where the cluster is.
    let in_cluster = config.get("in_cluster").as_bool() == Some(true);
    if in_cluster && is_set(DRAIN_BLOCK) {
        d.push_error(
            Some(root("in_cluster")),
            "Cannot drain the hub",
            "`drain_on_destroy` would take the hub out of every ApplicationSet, and so uninstall Argo CD and its \
             addons from the hub itself; remove the `drain_on_destroy` block from this in-cluster Secret.",
        );
    }
    if in_cluster && is_set("server") {
        d.push_error(
            Some(root("server")),
            "Conflicting server settings",
            "`in_cluster = true` already sets the server to https://kubernetes.default.svc; remove `server` or `in_cluster`.",
        );
    }
    if !in_cluster && !config.get("in_cluster").is_unknown() && !is_set("server") && !is_set("from_kubeconfig") {
        d.push_error(
            Some(root("server")),
            "Missing server",
            "Set `server` to the cluster's API server URL, or `in_cluster = true` for the hub itself, or a `from_kubeconfig` block.",
        );
    }
    if let Some(server) = config.get("server").as_str()
        && let Err(e) = check_http_url(server)
    {
        d.push_error(Some(root("server")), "Invalid server URL", format!("The server {server:?} {e}."));
    }
    if let Some(proxy) = config.get("proxy_url").as_str()
        && let Err(e) = check_http_url(proxy)
    {
        d.push_error(Some(root("proxy_url")), "Invalid proxy URL", format!("The proxy URL {proxy:?} {e}."));
    }

    // Names.
    if let Some(name) = config.get("secret_name").as_str()
        && let Err(e) = check_dns_subdomain(name)
    {
        d.push_error(Some(root("secret_name")), "Invalid secret_name", format!("The Secret name {name:?} {e}."));
    }
    if let Some(ns) = config.get("namespace").as_str()
        && let Err(e) = check_dns_label(ns)
    {
        d.push_error(Some(root("namespace")), "Invalid namespace", format!("The namespace {ns:?} {e}."));
    }
    // An AppProject is a Kubernetes object: Argo CD would never find a project of another name.
    if let Some(project) = config.get("project").as_str()
        && let Err(e) = check_dns_subdomain(project)
    {
        d.push_error(Some(root("project")), "Invalid project", format!("The Argo CD project name {project:?} {e}."));
    }

    // Labels and annotations.
    let mut addon_labels: BTreeMap<String, &str> = BTreeMap::new();
    if let Some(addons) = config.get("addons").as_map() {
        for (key, value) in addons {
            let at = root("addons").key(key);
            let Some(value) = value.as_str() else { continue };
            let label = addon_label_key(key, value);
            if is_flag_key(key) && !is_flag_value(value) {
                d.push_error(
                    Some(at),
                    "Invalid addon flag",
                    format!("The addon {key:?} is a flag: its value must be true or false, not {value:?}."),
                );
            } else if let Err(e) = check_label_key(&label) {
                d.push_error(
                    Some(at),
                    "Invalid addon name",
                    format!("The addon {key:?} would make the label key {label:?}, which {e}."),
                );
            } else if derived_label(&label) {
                d.push_error(
                    Some(at),
                    "Reserved label",
                    format!(
                        "The label {label:?} is set from cluster_name, environment or the Secret's kind; set it there."
                    ),
                );
            } else if let Err(e) = check_label_value(value) {
                d.push_error(
                    Some(at),
                    "Invalid addon value",
                    format!("The value {value:?} of addon {key:?} (label {label:?}) {e}."),
                );
            } else if let Some(first) = addon_labels.insert(label.clone(), key) {
                d.push_error(
                    Some(at),
                    "Duplicate addon",
                    format!("The addons {first:?} and {key:?} both set the label {label:?}; keep one."),
                );
            }
        }
    }
    if let Some(labels) = config.get("labels").as_map() {
        for (key, value) in labels {
            let at = root("labels").key(key);
            if let Err(e) = check_label_key(key) {
                d.push_error(Some(at), "Invalid label key", format!("The label key {key:?} {e}."));
            } else if reserved_label(key) || addon_labels.contains_key(key) {
                d.push_error(
                    Some(at),
                    "Reserved label",
                    format!("The label {key:?} is set from cluster_name, environment or addons; set it there."),
                );
            } else if let Some(value) = value.as_str()
                && let Err(e) = check_label_value(value)
            {
                d.push_error(Some(at), "Invalid label value", format!("The value {value:?} of label {key:?} {e}."));
            }
        }
    }
    if let Some(metadata) = config.get("metadata").as_map() {
        for key in metadata.keys() {
            let at = root("metadata").key(key);
            if let Err(e) = check_annotation_key(key) {
                d.push_error(Some(at), "Invalid annotation key", format!("The annotation key {key:?} {e}."));
            } else if reserved_annotation(key) {
                d.push_error(
                    Some(at),
                    "Reserved annotation",
                    format!("The annotation {key:?} is set from the attribute of that name."),
                );
            }
        }
    }
    if let Some(namespaces) = config.get("namespaces").as_list() {
        for (i, ns) in namespaces.iter().enumerate() {
            if let Some(ns) = ns.as_str()
                && let Err(e) = check_dns_label(ns)
            {
                d.push_error(
                    Some(root("namespaces").index(i)),
                    "Invalid namespace",
                    format!("The namespace {ns:?} {e}."),
                );
            }
        }
    }

    // Credentials: one kind at most.
    let kinds: Vec<&str> = CREDENTIAL_KINDS.iter().copied().filter(|k| is_set(k)).collect();
    if let [first, second, ..] = kinds.as_slice() {
        d.push_error(
            Some(credential_path(second)),
            "Conflicting credentials",
            format!(
                "`{first}` and `{second}` are two ways to authenticate; use one. (ca_data, insecure, server_name and \
                 proxy_url combine with any of them; cert_data goes with key_data.)"
            ),
        );
    }
    if is_set("cert_data") && config.get("key_data").is_null() {
        d.push_error(Some(root("cert_data")), "Missing key_data", "`cert_data` needs `key_data`.");
    }
    if is_set("key_data") && config.get("cert_data").is_null() {
        d.push_error(Some(root("key_data")), "Missing cert_data", "`key_data` needs `cert_data`.");
    }
    if is_set("bearer_token_wo") && config.get("bearer_token_wo_version").is_null() {
        d.push_error(
            Some(root("bearer_token_wo_version")),
            "Missing bearer_token_wo_version",
            "Write-only values are not stored, so Terraform cannot see when `bearer_token_wo` changes: set \
             `bearer_token_wo_version` and change it whenever the token changes.",
        );
    }
    for name in ["ca_data", "cert_data", "key_data"] {
        if let Some(value) = config.get(name).as_str()
            && base64::engine::general_purpose::STANDARD.decode(value.trim()).is_err()
        {
            // Never echo the value: key_data is secret.
            d.push_error(
                Some(root(name)),
                "Not base64",
                format!("`{name}` must be base64-encoded PEM, as in a kubeconfig (use base64encode() on PEM text)."),
            );
        }
    }
    if config.get("insecure").as_bool() == Some(true) && is_set("ca_data") {
        d.push_error(
            Some(root("insecure")),
            "Conflicting TLS settings",
            "`insecure = true` skips certificate verification, so `ca_data` would be ignored; set one of them.",
        );
    }
    if let Some(exec) = tf_values::block(config.get("exec_provider"))
        && exec.get("command").as_str() == Some("")
    {
        d.push_error(
            Some(root("exec_provider").index(0).attr("command")),
            "Empty command",
            "`command` must name a program.",
        );
    }
    if let Some(aws) = tf_values::block(config.get("aws_auth")) {
        if aws.get("cluster_name").as_str() == Some("") {
            d.push_error(
                Some(root("aws_auth").index(0).attr("cluster_name")),
                "Empty cluster_name",
                "`cluster_name` must name the EKS cluster.",
            );
        }
        if let Some(arn) = aws.get("role_arn").as_str()
            && !is_iam_role_arn(arn)
        {
            d.push_error(
                Some(root("aws_auth").index(0).attr("role_arn")),
                "Invalid role_arn",
                format!("{arn:?} is not an IAM role ARN such as arn:aws:iam::123456789012:role/argocd."),
            );
        }
    }
    if let Some(kubeconfig) = tf_values::block(config.get("from_kubeconfig"))
        && let Some(content) = kubeconfig.get("content").as_str()
        && !kubeconfig.get("context").is_unknown()
        && let Err(e) = connection_from_kubeconfig(content, kubeconfig.get("context").as_str())
    {
        let at = match e {
            FromKubeconfigError::ContextNotFound { .. } => root("from_kubeconfig").index(0).attr("context"),
            _ => root("from_kubeconfig").index(0).attr("content"),
        };
        d.push_error(Some(at), "Unusable kubeconfig", e.to_string());
    }
    wait_for_ready::validate(config, &mut d);
    timeouts::validate(config, TIMEOUTS, &mut d);
    d
}

/// `arn:<partition>:iam::<12-digit account>:role/<path and name>`, what Argo CD assumes.
fn is_iam_role_arn(arn: &str) -> bool {
    match arn.splitn(6, ':').collect::<Vec<_>>().as_slice() {
        ["arn", partition, "iam", "", account, resource] => {
            !partition.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty())
        }
        _ => false,
    }
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

/// Parses an import id `<namespace>/<secret name>`.
pub fn parse_import_id(id: &str) -> Result<(String, String), ClusterMetadataError> {
    parse_namespaced_id(id, "Secret name", "argocd/eks-green")
        .map_err(|reason| ClusterMetadataError::BadImportId { id: id.to_string(), reason })
}

// =============================================================================================
// The resource
// =============================================================================================

pub struct ClusterMetadataResource {
    provider: Arc<ProviderState>,
}

impl ClusterMetadataResource {
    pub fn new(provider: Arc<ProviderState>) -> Self {
        ClusterMetadataResource { provider }
    }

    /// Writes the Secret within `deadline` and returns it as the hub stored it. `force` takes
    /// over fields another manager holds: the plan showed the user exactly these fields, so the
    /// configuration wins (update, or create with `allow_overwrite`).
    async fn write(
        &self,
        ctx: &Context,
        desired: &ClusterSecret,
        force: bool,
        deadline: Deadline,
    ) -> Result<Secret, ClusterMetadataError> {
        let hub = self.provider.hub().await?;
        let secrets = hub.secrets(&desired.namespace).until(deadline);
        let written = secrets.apply(ctx, &desired.name, &desired.to_secret(), force).await?;
        deadline.warn_if_passed(ctx, &secrets.describe(&desired.name));
        Ok(written)
    }

    /// With `wait_for_ready`, waits until Argo CD reports the cluster of the `written` Secret
    /// ready. `Ok` also when Terraform asked the provider to stop: the write stands, and
    /// Terraform reports the interrupt itself.
    async fn wait_for_ready(
        &self,
        ctx: &Context,
        planned: &Value,
        written: &Secret,
        deadline: Deadline,
    ) -> Result<(), Diagnostics> {
        let Some(settings) = wait_for_ready::settings(planned) else { return Ok(()) };
        let hub = self.provider.hub().await.map_err(|e| hub_diagnostics(&e))?;
        let namespaces = self.application_namespaces(&tf_values::string(planned.get("namespace")).unwrap_or_default());
        let wait = wait_for_ready::ready_wait(settings, cluster_ref(written), namespaces, written);
        let Err(e) = hub.wait_until_ready(ctx, &deadline, &wait).await else { return Ok(()) };
        match wait_for_ready::wait_diagnostics(&e, hub_diagnostics) {
            Some(d) => Err(d),
            None => {
                ctx.warn(
                    Some(AttributePath::root(wait_for_ready::BLOCK)),
                    "Stopped waiting for the cluster to be ready",
                    format!("{e}\nThe cluster Secret was written and stays in state."),
                );
                Ok(())
            }
        }
    }

    /// The namespaces where Applications may live.
    fn application_namespaces(&self, secret_namespace: &str) -> Vec<String> {
        match self.provider.application_namespaces() {
            Configured::Known(all) => all,
            Configured::Unknown => vec![secret_namespace.to_string()],
        }
    }

    /// Drains the cluster of the Secret `namespace/name` (if it still exists), then deletes it.
    async fn drain(
        &self,
        ctx: &Context,
        hub: &HubClient,
        namespace: &str,
        name: &str,
        keep: Vec<String>,
        deadline: Deadline,
    ) -> Result<(), Diagnostics> {
        let secrets = hub.secrets(namespace).until(deadline);
        let Some(secret) = secrets.get(ctx, name).await.map_err(|e| hub_diagnostics(&e))? else { return Ok(()) };
        let plan = DrainPlan {
            secret_namespace: namespace.to_string(),
            secret_name: name.to_string(),
            cluster: cluster_ref(&secret),
            namespaces: self.application_namespaces(namespace),
            keep,
        };
        let mut progress = |line: String| crate::tf_info!("drain", progress = line);
        match hub.drain_and_delete(ctx, &deadline, &plan, &mut progress).await {
            Ok(()) => Ok(()),
            Err(DrainError::Hub(e)) => Err(hub_diagnostics(&e)),
            Err(e) => {
                let summary = if e.interrupted() { "Drain interrupted" } else { "Drain did not finish" };
                Err(Diagnostics::error(summary, e.to_string()))
            }
        }
    }

    /// Gives up the drain label an interrupted destroy left, so the cluster rejoins its sets.
    async fn undrain(&self, ctx: &Context, written: &Secret, deadline: Deadline) -> Result<(), HubError> {
        let (Some(namespace), Some(name)) = (written.metadata.namespace.as_deref(), written.metadata.name.as_deref())
        else {
            return Ok(());
        };
        let hub = self.provider.hub().await?;
        hub.secrets(namespace).until(deadline).set_drain_label(ctx, name, None).await?;
        Ok(())
    }

    /// Refuses to adopt a Secret that exists before this create, unless allowed: it may be
    /// another root's (a copy of blue's configuration that kept blue's name), and taking it over
    /// silently would let destroying one root delete what the other manages.
    async fn create_impl(
        &self,
        ctx: &Context,
        planned: &Value,
        config: &Value,
        deadline: Deadline,
    ) -> Result<Secret, ClusterMetadataError> {
        let token = config.get("bearer_token_wo").as_str();
        let desired = cluster_secret(planned, token)?;
        let allow_overwrite = planned.get("allow_overwrite").as_bool() == Some(true);
        let hub = self.provider.hub().await?;
        let existing = hub.secrets(&desired.namespace).until(deadline).get(ctx, &desired.name).await?;
        if existing.is_some() && !allow_overwrite {
            return Err(ClusterMetadataError::AlreadyExists { namespace: desired.namespace, name: desired.name });
        }
        self.write(ctx, &desired, allow_overwrite, deadline).await
    }

    async fn read_impl(&self, ctx: &Context, state: &Value) -> Result<Option<Value>, ClusterMetadataError> {
        let namespace = tf_values::string(state.get("namespace"))
            .ok_or(ClusterMetadataError::Missing { attribute: "namespace" })?;
        let name = tf_values::string(state.get("secret_name"))
            .ok_or(ClusterMetadataError::Missing { attribute: "secret_name" })?;
        // An import leaves only the id parts in state: map everything back.
        let import = state.get("cluster_name").is_null();
        let deadline = Deadline::start(state, TIMEOUTS, Operation::Read);
        let hub = match self.provider.hub().await {
            // The hub's address depends on resources not applied yet: keep the state as it is
            // rather than fail the whole plan; the apply reads it again with known settings.
            Err(HubError::UnknownConfig) if !import => {
                ctx.warn(
                    None,
                    "Cluster Secret not refreshed",
                    format!("The provider's hub settings are not known yet, so {namespace}/{name} was not read."),
                );
                return Ok(Some(state.clone()));
            }
            hub => hub?,
        };
        let secrets = hub.secrets(&namespace).until(deadline);
        let Some(secret) = secrets.get_listed(ctx, &name, &cluster_secrets_selector()).await? else { return Ok(None) };
        let live = LiveSecret::from_secret(&secret);
        if import {
            if live.labels.get(SECRET_TYPE_LABEL).map(String::as_str) != Some(SECRET_TYPE_CLUSTER) {
                return Err(ClusterMetadataError::NotAClusterSecret {
                    namespace,
                    name,
                    reason: format!("it lacks the label {SECRET_TYPE_LABEL}={SECRET_TYPE_CLUSTER}"),
                });
            }
            if !live.data.contains_key("name") || !live.data.contains_key("server") {
                return Err(ClusterMetadataError::NotAClusterSecret {
                    namespace,
                    name,
                    reason: "it lacks data.name or data.server".into(),
                });
            }
        }
        let mut new_state = state_from_live(state, &live, import);
        new_state.set("id", Value::string(format!("{namespace}/{name}")));
        new_state.set("draining", Value::Bool(live.labels.contains_key(DRAIN_LABEL)));
        Ok(Some(new_state))
    }

    fn plan_impl(&self, request: PlanRequest<'_>) -> Result<Plan, Diagnostics> {
        validate_config(request.config).into_result()?;
        let block = schema().block;
        let mut planned = request.proposed_new_state;
        null_write_only(&block, &mut planned);

        if request.config.get("namespace").is_null() {
            let namespace = match self.provider.argocd_namespace() {
                Configured::Known(ns) => Value::String(ns),
                Configured::Unknown => Value::Unknown,
            };
            planned.set("namespace", namespace);
        }
        if request.config.get("secret_name").is_null() {
            let derived = match planned.get("cluster_name") {
                Value::String(name) => derive_object_name(name).map_or(Value::Unknown, Value::String),
                _ => Value::Unknown,
            };
            planned.set("secret_name", derived);
        }
        let id = match (planned.get("namespace"), planned.get("secret_name")) {
            (Value::String(ns), Value::String(name)) => Value::string(format!("{ns}/{name}")),
            _ => Value::Unknown,
        };
        planned.set("id", id);
        // A drain label left by an interrupted destroy goes with the next apply.
        if request.prior_state.is_null() || request.prior_state.get("draining").as_bool() == Some(true) {
            planned.set("draining", Value::Bool(false));
        }

        let mut requires_replace = Vec::new();
        if !request.prior_state.is_null() {
            for attribute in ["cluster_name", "secret_name", "namespace"] {
                if request.prior_state.get(attribute) != planned.get(attribute) {
                    requires_replace.push(AttributePath::root(attribute));
                }
            }
        }
        Ok(Plan { planned_state: planned, requires_replace })
    }
}

#[async_trait]
impl Resource for ClusterMetadataResource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Result<(), Diagnostics> {
        validate_config(config).into_result()
    }

    async fn plan(&self, _ctx: &Context, request: PlanRequest<'_>) -> Result<Plan, Diagnostics> {
        self.plan_impl(request)
    }

    async fn create(&self, ctx: &Context, planned: Value, config: &Value) -> Result<Value, ApplyError> {
        let deadline = Deadline::start(&planned, TIMEOUTS, Operation::Create);
        match self.create_impl(ctx, &planned, config, deadline).await {
            Ok(written) => match self.wait_for_ready(ctx, &planned, &written, deadline).await {
                Ok(()) => Ok(planned),
                Err(d) => Err(ApplyError::after_write(planned, d)),
            },
            Err(e) => Err(ApplyError::planned_if(e.uncertain(), planned, e.into_diagnostics())),
        }
    }

    async fn read(&self, ctx: &Context, state: Value) -> Result<Option<Value>, Diagnostics> {
        self.read_impl(ctx, &state).await.map_err(ClusterMetadataError::into_diagnostics)
    }

    async fn update(&self, ctx: &Context, prior: Value, planned: Value, config: &Value) -> Result<Value, ApplyError> {
        if timeouts::only_timeouts_changed(&prior, &planned) {
            return Ok(planned);
        }
        let deadline = Deadline::start(&planned, TIMEOUTS, Operation::Update);
        let written = match cluster_secret(&planned, config.get("bearer_token_wo").as_str()) {
            Ok(desired) => self.write(ctx, &desired, true, deadline).await,
            Err(e) => Err(e),
        };
        let written = match written {
            Ok(written) => written,
            Err(e) => return Err(ApplyError::planned_if(e.uncertain(), planned, e.into_diagnostics())),
        };
        if prior.get("draining").as_bool() == Some(true)
            && let Err(e) = self.undrain(ctx, &written, deadline).await
        {
            let mut kept = planned;
            kept.set("draining", Value::Bool(true));
            return Err(ApplyError::after_write(kept, hub_diagnostics(&e)));
        }
        // Argo CD's Applications change only when what its ApplicationSets select and template does.
        if desired_metadata(&prior) == desired_metadata(&planned) {
            return Ok(planned);
        }
        match self.wait_for_ready(ctx, &planned, &written, deadline).await {
            Ok(()) => Ok(planned),
            Err(d) => Err(ApplyError::after_write(planned, d)),
        }
    }

    async fn delete(&self, ctx: &Context, prior: Value) -> Result<(), ApplyError> {
        let (Some(namespace), Some(name)) = (prior.get("namespace").as_str(), prior.get("secret_name").as_str()) else {
            return Ok(());
        };
        let deadline = Deadline::start(&prior, TIMEOUTS, Operation::Delete);
        let hub = self.provider.hub().await.map_err(|e| hub_diagnostics(&e))?;
        if let Some(drain) = tf_values::block(prior.get(DRAIN_BLOCK)) {
            let keep = tf_values::string_list(drain.get("keep_applications"));
            return self.drain(ctx, &hub, namespace, name, keep, deadline).await.map_err(ApplyError::from);
        }
        let secrets = hub.secrets(namespace).until(deadline);
        secrets.delete(ctx, name).await.map_err(|e| hub_diagnostics(&e))?;
        deadline.warn_if_passed(ctx, &secrets.describe(name));
        Ok(())
    }

    async fn import(&self, _ctx: &Context, id: &str) -> Result<Value, Diagnostics> {
        let (namespace, name) = parse_import_id(id).map_err(ClusterMetadataError::into_diagnostics)?;
        let mut state = empty_state();
        state.set("id", Value::string(id));
        state.set("namespace", Value::String(namespace));
        state.set("secret_name", Value::String(name));
        Ok(state)
    }

    fn upgrade_state(&self, version: i64, state: serde_json::Value) -> Result<serde_json::Value, Diagnostics> {
        upgrade_state(version, state)
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;

    use super::*;
    use crate::argocd::cluster_secret::IN_CLUSTER_SERVER;
    use crate::hub::FIELD_MANAGER;
    use crate::provider::state::ProviderConfig;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn strings(pairs: &[(&str, &str)]) -> Value {
        Value::object(pairs.iter().map(|(k, v)| (*k, Value::from(*v))))
    }

    /// An `addons` map of flags, as Terraform converts `true`/`false` into `map(string)`.
    fn flags(pairs: &[(&str, bool)]) -> Value {
        Value::object(pairs.iter().map(|(k, v)| (*k, Value::string(v.to_string()))))
    }

    fn block(pairs: Vec<(&str, Value)>) -> Value {
        Value::List(vec![Value::object(pairs)])
    }

    /// A configuration (or plan) with every attribute present, as Terraform sends it.
    fn with(pairs: Vec<(&str, Value)>) -> Value {
        let mut v = empty_state();
        for (k, val) in pairs {
            v.set(k, val);
        }
        v
    }

    fn base(extra: Vec<(&'static str, Value)>) -> Value {
        let mut pairs =
            vec![("cluster_name", Value::from("eks-green")), ("server", Value::from("https://green.example.com"))];
        pairs.extend(extra);
        with(pairs)
    }

    fn error_paths(d: &Diagnostics) -> Vec<String> {
        d.0.iter().map(|d| d.attribute.as_ref().map(ToString::to_string).unwrap_or_default()).collect()
    }

    const KUBECONFIG_TOKEN: &str = "apiVersion: v1
kind: Config
current-context: green
clusters:
- name: green
  cluster:
    server: https://green.example.com:6443/
    certificate-authority-data: Q0E=
    tls-server-name: green.internal
contexts:
- name: green
  context:
    cluster: green
    user: admin
- name: blue
  context:
    cluster: green
    user: exec-user
users:
- name: admin
  user:
    token: s3cr3t
- name: exec-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, green]
      env:
      - name: AWS_PROFILE
        value: prod
";

    const USER_ARN: &str = "arn:aws:iam::123456789012:user/argocd";
    const SHORT_ARN: &str = "arn:aws:iam::1234:role/argocd";
    const CN_ARN: &str = "arn:aws-cn:iam::123456789012:role/platform/argocd";

    #[test]
    fn validation_errors_point_at_their_attribute() {
        let long_addon = "a".repeat(60);
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            ("minimal", base(vec![]), vec![]),
            ("empty cluster_name", base(vec![("cluster_name", "".into())]), vec!["cluster_name"]),
            ("cluster_name not a label value", base(vec![("cluster_name", "eks green".into())]), vec!["cluster_name"]),
            ("no server", with(vec![("cluster_name", "a".into())]), vec!["server"]),
            ("in_cluster alone", with(vec![("cluster_name", "hub".into()), ("in_cluster", true.into())]), vec![]),
            ("in_cluster with server", base(vec![("in_cluster", true.into())]), vec!["server"]),
            ("server scheme", base(vec![("server", "ftp://x".into())]), vec!["server"]),
            ("server junk", base(vec![("server", "https://x.example.com/ junk".into())]), vec!["server"]),
            ("server unknown", base(vec![("server", Value::Unknown)]), vec![]),
            ("http server", base(vec![("server", "http://127.0.0.1:8080".into())]), vec![]),
            (
                "addon in both forms",
                base(vec![("addons", flags(&[("metrics_server", true), ("enable_metrics_server", false)]))]),
                vec!["addons[\"metrics_server\"]"],
            ),
            ("addon bad key", base(vec![("addons", flags(&[("bad key", true)]))]), vec!["addons[\"bad key\"]"]),
            (
                "addon label too long",
                base(vec![("addons", flags(&[(long_addon.as_str(), true)]))]),
                vec![r#"addons["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]"#],
            ),
            ("addons unknown", base(vec![("addons", Value::Unknown)]), vec![]),
            (
                "the module's addons map",
                base(vec![(
                    "addons",
                    strings(&[
                        ("enable_argocd", "true"),
                        ("aws_enable_karpenter", "false"),
                        ("kubernetes_version", "1.31"),
                        ("aws_cluster_name", "getting-started"),
                    ]),
                )]),
                vec![],
            ),
            (
                "addon flag not a flag",
                base(vec![("addons", strings(&[("enable_karpenter", "yes"), ("aws_enable_x", "1")]))]),
                vec!["addons[\"aws_enable_x\"]", "addons[\"enable_karpenter\"]"],
            ),
            (
                "addon value kubernetes rejects",
                base(vec![("addons", strings(&[("kubernetes_version", "1.31 or later")]))]),
                vec!["addons[\"kubernetes_version\"]"],
            ),
            (
                "addon value too long",
                base(vec![("addons", strings(&[("aws_cluster_name", &"c".repeat(64))]))]),
                vec!["addons[\"aws_cluster_name\"]"],
            ),
            (
                "addon sets a derived label",
                base(vec![("addons", strings(&[("cluster_name", "other")]))]),
                vec!["addons[\"cluster_name\"]"],
            ),
            (
                "label also set by an addon",
                base(vec![
                    ("addons", strings(&[("kubernetes_version", "1.31")])),
                    ("labels", strings(&[("kubernetes_version", "1.30")])),
                ]),
                vec!["labels[\"kubernetes_version\"]"],
            ),
            ("reserved label", base(vec![("labels", strings(&[("enable_x", "true")]))]), vec!["labels[\"enable_x\"]"]),
            (
                "reserved label env",
                base(vec![("labels", strings(&[("environment", "x")]))]),
                vec!["labels[\"environment\"]"],
            ),
            ("bad label value", base(vec![("labels", strings(&[("team", "a b")]))]), vec!["labels[\"team\"]"]),
            ("bad label key", base(vec![("labels", strings(&[("-team", "a")]))]), vec!["labels[\"-team\"]"]),
            ("prefixed label", base(vec![("labels", strings(&[("example.com/team", "a")]))]), vec![]),
            (
                "reserved annotation",
                base(vec![("metadata", strings(&[("cluster_name", "x")]))]),
                vec!["metadata[\"cluster_name\"]"],
            ),
            ("bad annotation key", base(vec![("metadata", strings(&[("a b", "x")]))]), vec!["metadata[\"a b\"]"]),
            (
                "free annotation value",
                base(vec![("metadata", strings(&[("addons_repo_url", "https://g/x y")]))]),
                vec![],
            ),
            (
                "two credential kinds",
                base(vec![("bearer_token", "t".into()), ("aws_auth", block(vec![("cluster_name", "c".into())]))]),
                vec!["aws_auth[0].cluster_name"],
            ),
            (
                "token and write-only token",
                base(vec![
                    ("bearer_token", "t".into()),
                    ("bearer_token_wo", "t".into()),
                    ("bearer_token_wo_version", "1".into()),
                ]),
                vec!["bearer_token_wo"],
            ),
            ("cert without key", base(vec![("cert_data", b64("c").into())]), vec!["cert_data"]),
            ("key without cert", base(vec![("key_data", b64("k").into())]), vec!["key_data"]),
            ("cert and key", base(vec![("cert_data", b64("c").into()), ("key_data", b64("k").into())]), vec![]),
            (
                "write-only without version",
                base(vec![("bearer_token_wo", "t".into())]),
                vec!["bearer_token_wo_version"],
            ),
            ("ca not base64", base(vec![("ca_data", "-----BEGIN CERT".into())]), vec!["ca_data"]),
            (
                "insecure with ca",
                base(vec![("insecure", true.into()), ("ca_data", b64("ca").into())]),
                vec!["insecure"],
            ),
            ("bad secret_name", base(vec![("secret_name", "Eks_Green".into())]), vec!["secret_name"]),
            ("bad namespace", base(vec![("namespace", "argo.cd".into())]), vec!["namespace"]),
            ("bad namespaces", base(vec![("namespaces", Value::strings(["ok", "Not-OK"]))]), vec!["namespaces[1]"]),
            ("bad project", base(vec![("project", "Platform Team".into())]), vec!["project"]),
            ("project", base(vec![("project", "platform".into())]), vec![]),
            (
                "role_arn of a user",
                base(vec![("aws_auth", block(vec![("cluster_name", "c".into()), ("role_arn", USER_ARN.into())]))]),
                vec!["aws_auth[0].role_arn"],
            ),
            (
                "role_arn with a short account",
                base(vec![("aws_auth", block(vec![("cluster_name", "c".into()), ("role_arn", SHORT_ARN.into())]))]),
                vec!["aws_auth[0].role_arn"],
            ),
            (
                "role_arn with a path, in China",
                base(vec![("aws_auth", block(vec![("cluster_name", "c".into()), ("role_arn", CN_ARN.into())]))]),
                vec![],
            ),
            ("bad proxy", base(vec![("proxy_url", "socks://p".into())]), vec!["proxy_url"]),
            (
                "kubeconfig gives the server",
                with(vec![
                    ("cluster_name", "g".into()),
                    ("from_kubeconfig", block(vec![("content", KUBECONFIG_TOKEN.into())])),
                ]),
                vec![],
            ),
            (
                "kubeconfig garbage",
                with(vec![("cluster_name", "g".into()), ("from_kubeconfig", block(vec![("content", "{{".into())]))]),
                vec!["from_kubeconfig[0].content"],
            ),
            (
                "kubeconfig missing context",
                with(vec![
                    ("cluster_name", "g".into()),
                    ("from_kubeconfig", block(vec![("content", KUBECONFIG_TOKEN.into()), ("context", "nope".into())])),
                ]),
                vec!["from_kubeconfig[0].context"],
            ),
            (
                "kubeconfig and token",
                base(vec![
                    ("bearer_token", "t".into()),
                    ("from_kubeconfig", block(vec![("content", KUBECONFIG_TOKEN.into())])),
                ]),
                vec!["from_kubeconfig[0].content"],
            ),
        ];
        for (name, config, want) in cases {
            assert_eq!(error_paths(&validate_config(&config)), want, "case {name}");
        }
    }

    #[test]
    fn validation_never_echoes_secrets() {
        let config = base(vec![("key_data", "%%secret%%".into()), ("cert_data", b64("c").into())]);
        let diags = validate_config(&config);
        assert!(!diags.0.is_empty());
        assert!(!diags.to_string().contains("%%secret%%"));
    }

    #[test]
    fn addon_keys_give_the_module_labels_and_the_shorthand() {
        for (key, value, label) in [
            ("metrics_server", "true", "enable_metrics_server"),
            ("metrics_server", "false", "enable_metrics_server"),
            ("enable_metrics_server", "true", "enable_metrics_server"),
            ("aws_load_balancer_controller", "true", "enable_aws_load_balancer_controller"),
            ("enable", "true", "enable_enable"),
            ("aws_enable_karpenter", "true", "aws_enable_karpenter"),
            ("kubernetes_version", "1.31", "kubernetes_version"),
            ("aws_cluster_name", "getting-started", "aws_cluster_name"),
            ("tier", "", "tier"),
        ] {
            assert_eq!(addon_label_key(key, value), label, "{key} = {value:?}");
        }
    }

    #[test]
    fn upgrade_from_version_0_turns_addon_flags_into_strings() {
        let stored = json!({"cluster_name": "a", "addons": {"metrics_server": true, "enable_karpenter": false}});
        let upgraded = upgrade_state(0, stored).unwrap();
        assert_eq!(upgraded["addons"], json!({"metrics_server": "true", "enable_karpenter": "false"}));
        assert_eq!(upgraded["cluster_name"], "a");
        assert_eq!(upgrade_state(0, json!({"addons": null})).unwrap(), json!({"addons": null}));
        let current = json!({"addons": {"kubernetes_version": "1.31"}});
        assert_eq!(upgrade_state(1, current.clone()).unwrap(), current);
        assert!(upgrade_state(2, current).is_err());
    }

    fn full_plan() -> Value {
        base(vec![
            ("environment", "prod".into()),
            ("namespace", "argocd".into()),
            ("secret_name", "eks-green".into()),
            ("addons", flags(&[("metrics_server", true), ("enable_karpenter", false)])),
            ("labels", strings(&[("team", "platform")])),
            (
                "metadata",
                strings(&[("addons_repo_url", "https://github.com/o/addons"), ("aws_region", "ap-northeast-2")]),
            ),
            ("project", "platform".into()),
            ("namespaces", Value::strings(["a", "b"])),
            ("cluster_resources", false.into()),
            ("ca_data", b64("CA").into()),
            (
                "aws_auth",
                block(vec![
                    ("cluster_name", "eks-green".into()),
                    ("role_arn", "arn:aws:iam::1:role/argocd".into()),
                    ("profile", Value::Null),
                ]),
            ),
        ])
    }

    #[test]
    fn the_secret_is_what_argo_cd_and_gitops_bridge_expect() {
        let secret = cluster_secret(&full_plan(), None).unwrap().to_secret();
        let json = serde_json::to_value(&secret).unwrap();
        assert_eq!(json["apiVersion"], "v1");
        assert_eq!(json["kind"], "Secret");
        assert_eq!(json["metadata"]["name"], "eks-green");
        assert_eq!(json["metadata"]["namespace"], "argocd");
        assert_eq!(
            json["metadata"]["labels"],
            json!({
                "argocd.argoproj.io/secret-type": "cluster",
                "cluster_name": "eks-green",
                "environment": "prod",
                "enable_metrics_server": "true",
                "enable_karpenter": "false",
                "team": "platform",
            })
        );
        assert_eq!(
            json["metadata"]["annotations"],
            json!({
                "cluster_name": "eks-green",
                "environment": "prod",
                "addons_repo_url": "https://github.com/o/addons",
                "aws_region": "ap-northeast-2",
            })
        );
        assert!(json.get("stringData").is_none());
        let data = secret.data.unwrap();
        let text = |k: &str| String::from_utf8(data[k].0.clone()).unwrap();
        assert_eq!(text("name"), "eks-green");
        assert_eq!(text("server"), "https://green.example.com");
        assert_eq!(text("project"), "platform");
        assert_eq!(text("namespaces"), "a,b");
        assert_eq!(text("clusterResources"), "false");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text("config")).unwrap(),
            json!({
                "tlsClientConfig": {"insecure": false, "caData": b64("CA")},
                "awsAuthConfig": {"clusterName": "eks-green", "roleARN": "arn:aws:iam::1:role/argocd"},
            })
        );
        // On the wire, data is base64.
        assert_eq!(json["data"]["name"], b64("eks-green"));
    }

    #[test]
    fn connection_config_by_credential_kind() {
        let cases: Vec<(Value, Option<&str>, serde_json::Value)> = vec![
            (
                base(vec![("in_cluster", true.into()), ("server", Value::Null)]),
                None,
                json!({"tlsClientConfig": {"insecure": false}}),
            ),
            (
                base(vec![("bearer_token", "tok".into()), ("insecure", true.into()), ("server_name", "n".into())]),
                None,
                json!({"bearerToken": "tok", "tlsClientConfig": {"insecure": true, "serverName": "n"}}),
            ),
            (
                base(vec![("bearer_token_wo_version", "1".into())]),
                Some("wo-token"),
                json!({"bearerToken": "wo-token", "tlsClientConfig": {"insecure": false}}),
            ),
            (
                base(vec![
                    ("cert_data", "Yw==".into()),
                    ("key_data", "aw==".into()),
                    ("proxy_url", "http://proxy:3128".into()),
                ]),
                None,
                json!({"tlsClientConfig": {"insecure": false, "certData": "Yw==", "keyData": "aw=="}, "proxyUrl": "http://proxy:3128"}),
            ),
            (
                base(vec![(
                    "exec_provider",
                    block(vec![
                        ("command", "argocd-k8s-auth".into()),
                        ("args", Value::strings(["aws", "--cluster-name", "g"])),
                        ("env", strings(&[("AWS_REGION", "eu-west-1")])),
                        ("api_version", "client.authentication.k8s.io/v1beta1".into()),
                        ("install_hint", "".into()),
                    ]),
                )]),
                None,
                json!({"tlsClientConfig": {"insecure": false}, "execProviderConfig": {
                    "command": "argocd-k8s-auth", "args": ["aws", "--cluster-name", "g"],
                    "env": {"AWS_REGION": "eu-west-1"}, "apiVersion": "client.authentication.k8s.io/v1beta1"}}),
            ),
            (
                with(vec![
                    ("cluster_name", "g".into()),
                    ("namespace", "argocd".into()),
                    ("secret_name", "g".into()),
                    ("from_kubeconfig", block(vec![("content", KUBECONFIG_TOKEN.into())])),
                ]),
                None,
                json!({"bearerToken": "s3cr3t", "tlsClientConfig": {"insecure": false, "caData": "Q0E=", "serverName": "green.internal"}}),
            ),
        ];
        for (mut plan, token, want) in cases {
            plan.set("namespace", "argocd".into());
            plan.set("secret_name", "g".into());
            let secret = cluster_secret(&plan, token).unwrap();
            assert_eq!(serde_json::to_value(&secret.config).unwrap(), want);
        }
        let in_cluster = base(vec![
            ("in_cluster", true.into()),
            ("server", Value::Null),
            ("namespace", "argocd".into()),
            ("secret_name", "hub".into()),
        ]);
        assert_eq!(cluster_secret(&in_cluster, None).unwrap().server, IN_CLUSTER_SERVER);
        let slash = base(vec![
            ("server", "https://x.example.com/".into()),
            ("namespace", "n".into()),
            ("secret_name", "s".into()),
        ]);
        assert_eq!(cluster_secret(&slash, None).unwrap().server, "https://x.example.com");
    }

    #[test]
    fn kubeconfig_derivation() {
        let (server, config) = connection_from_kubeconfig(KUBECONFIG_TOKEN, None).unwrap();
        assert_eq!(server, "https://green.example.com:6443");
        assert_eq!(config.bearer_token.as_deref(), Some("s3cr3t"));
        assert_eq!(config.tls_client_config.ca_data.as_deref(), Some("Q0E="));

        let (_, config) = connection_from_kubeconfig(KUBECONFIG_TOKEN, Some("blue")).unwrap();
        assert_eq!(config.bearer_token, None);
        let exec = config.exec_provider_config.unwrap();
        assert_eq!(exec.command, "aws");
        assert_eq!(exec.args, ["eks", "get-token", "--cluster-name", "green"]);
        assert_eq!(exec.env, BTreeMap::from([("AWS_PROFILE".to_string(), "prod".to_string())]));

        let cert_user = KUBECONFIG_TOKEN
            .replace("    token: s3cr3t", "    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ");
        let (_, config) = connection_from_kubeconfig(&cert_user, None).unwrap();
        assert_eq!(config.tls_client_config.cert_data.as_deref(), Some("Q0VSVA=="));
        assert_eq!(config.tls_client_config.key_data.as_deref(), Some("S0VZ"));

        let errors = [
            (
                KUBECONFIG_TOKEN.replace("certificate-authority-data: Q0E=", "certificate-authority: /tmp/ca.crt"),
                FromKubeconfigError::FileReference { field: "certificate-authority" },
            ),
            (KUBECONFIG_TOKEN.replace("current-context: green\n", ""), FromKubeconfigError::NoContext),
            (
                KUBECONFIG_TOKEN.replace("    server: https://green.example.com:6443/\n", ""),
                FromKubeconfigError::NoServer,
            ),
            (
                KUBECONFIG_TOKEN.replace("    user: admin", "    user: ghost"),
                FromKubeconfigError::Dangling { context: "green".into(), what: "user", name: "ghost".into() },
            ),
            ("not: [valid".to_string(), FromKubeconfigError::Parse),
        ];
        for (content, want) in errors {
            assert_eq!(connection_from_kubeconfig(&content, None).map(|_| ()), Err(want));
        }
        assert!(matches!(
            connection_from_kubeconfig(KUBECONFIG_TOKEN, Some("x")),
            Err(FromKubeconfigError::ContextNotFound { .. })
        ));
    }

    #[test]
    fn import_ids() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("argocd/eks-green", Some(("argocd", "eks-green"))),
            ("argo-cd/in-cluster", Some(("argo-cd", "in-cluster"))),
            ("eks-green", None),
            ("/eks-green", None),
            ("argocd/", None),
            ("argocd/Eks_Green", None),
            ("a/b/c", None),
            ("Argo/x", None),
        ];
        for (id, want) in cases {
            let got = parse_import_id(id).ok();
            assert_eq!(got.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), *want, "{id:?}");
        }
        let err = parse_import_id("eks-green").unwrap_err().to_string();
        assert!(err.contains("<namespace>/<secret name>"), "{err}");
    }

    /// A Secret as the gitops-bridge module (kubernetes_secret_v1) leaves it on the hub.
    fn gitops_bridge_secret() -> Secret {
        let config = json!({
            "tlsClientConfig": {"insecure": false, "caData": b64("CA")},
            "awsAuthConfig": {"clusterName": "eks-blue", "roleARN": "arn:aws:iam::1:role/argocd"},
        });
        serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "eks-blue",
                "namespace": "argocd",
                "labels": {
                    "argocd.argoproj.io/secret-type": "cluster",
                    "cluster_name": "eks-blue",
                    "environment": "prod",
                    "enable_metrics_server": "true",
                    "enable_karpenter": "false",
                    "team": "platform",
                },
                "annotations": {
                    "cluster_name": "eks-blue",
                    "environment": "prod",
                    "addons_repo_url": "https://github.com/o/addons",
                    "aws_region": "ap-northeast-2",
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                },
                "managedFields": [{"manager": "HashiCorp", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}],
            },
            "data": {
                "name": b64("eks-blue"),
                "server": b64("https://blue.example.com"),
                "config": b64(&config.to_string()),
            },
            "type": "Opaque",
        }))
        .unwrap()
    }

    #[test]
    fn a_gitops_bridge_secret_imports_into_attributes() {
        let mut prior = empty_state();
        prior.set("namespace", "argocd".into());
        prior.set("secret_name", "eks-blue".into());
        let state = state_from_live(&prior, &LiveSecret::from_secret(&gitops_bridge_secret()), true);
        assert_eq!(state.get("cluster_name"), &Value::from("eks-blue"));
        assert_eq!(state.get("environment"), &Value::from("prod"));
        assert_eq!(state.get("server"), &Value::from("https://blue.example.com"));
        assert!(state.get("in_cluster").is_null());
        // Every label but the derived ones, verbatim: the module's own `addons` map plans empty.
        assert_eq!(
            state.get("addons"),
            &strings(&[("enable_metrics_server", "true"), ("enable_karpenter", "false"), ("team", "platform")])
        );
        assert!(state.get("labels").is_null());
        assert_eq!(
            state.get("metadata"),
            &strings(&[("addons_repo_url", "https://github.com/o/addons"), ("aws_region", "ap-northeast-2")])
        );
        assert_eq!(state.get("ca_data"), &Value::from(b64("CA")));
        assert!(state.get("insecure").is_null());
        assert!(state.get("bearer_token").is_null());
        assert_eq!(
            state.get("aws_auth"),
            &block(vec![
                ("cluster_name", "eks-blue".into()),
                ("role_arn", "arn:aws:iam::1:role/argocd".into()),
                ("profile", Value::Null),
            ])
        );
        assert_eq!(state.get("exec_provider"), &Value::List(vec![]));
        assert!(state.get("project").is_null());
        assert!(state.get("namespaces").is_null());
    }

    #[test]
    fn import_never_copies_secret_material_into_state() {
        let mut secret = gitops_bridge_secret();
        secret.data.get_or_insert_default().insert(
            "config".into(),
            ByteString(
                br#"{"bearerToken":"tok","tlsClientConfig":{"insecure":false,"certData":"Qw==","keyData":"Sw=="}}"#
                    .to_vec(),
            ),
        );
        let mut prior = empty_state();
        prior.set("namespace", "argocd".into());
        prior.set("secret_name", "eks-blue".into());
        let state = state_from_live(&prior, &LiveSecret::from_secret(&secret), true);
        assert!(state.get("bearer_token").is_null());
        assert!(state.get("key_data").is_null());
        assert_eq!(state.get("cert_data"), &Value::from("Qw=="));
    }

    #[test]
    fn an_in_cluster_secret_imports_as_in_cluster() {
        let mut secret = gitops_bridge_secret();
        secret.data.as_mut().unwrap().insert("server".into(), ByteString(IN_CLUSTER_SERVER.as_bytes().to_vec()));
        let state = state_from_live(&empty_state(), &LiveSecret::from_secret(&secret), true);
        assert_eq!(state.get("in_cluster"), &Value::Bool(true));
        assert!(state.get("server").is_null());
    }

    /// The Secret we would write for `plan`, as the API server returns it: with our
    /// managedFields entry listing every key we applied.
    fn applied(plan: &Value) -> Secret {
        let mut secret = cluster_secret(plan, None).unwrap().to_secret();
        let keys = |m: &BTreeMap<String, String>| -> serde_json::Value {
            m.keys().map(|k| (format!("f:{k}"), json!({}))).collect::<serde_json::Map<_, _>>().into()
        };
        let data: BTreeMap<String, String> =
            secret.data.iter().flatten().map(|(k, _)| (k.clone(), String::new())).collect();
        let fields = json!({
            "f:data": keys(&data),
            "f:metadata": {
                "f:labels": keys(secret.metadata.labels.as_ref().unwrap()),
                "f:annotations": keys(secret.metadata.annotations.as_ref().unwrap()),
            },
        });
        secret.metadata.managed_fields = Some(vec![serde_json::from_value(json!({
            "manager": FIELD_MANAGER, "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": fields,
        }))
        .unwrap()]);
        secret
    }

    #[test]
    fn refresh_reads_each_addon_back_from_the_label_it_writes() {
        let plan = base(vec![
            ("namespace", "argocd".into()),
            ("secret_name", "eks-green".into()),
            (
                "addons",
                strings(&[("metrics_server", "true"), ("kubernetes_version", "1.31"), ("aws_enable_x", "false")]),
            ),
        ]);
        let mut secret = applied(&plan);
        let labels = secret.metadata.labels.as_mut().unwrap();
        labels.insert("kubernetes_version".into(), "1.32".into());
        labels.insert("aws_enable_x".into(), "true".into());
        labels.insert("enable_metrics_server".into(), "false".into());
        let state = state_from_live(&plan, &LiveSecret::from_secret(&secret), false);
        assert_eq!(
            state.get("addons"),
            &strings(&[("metrics_server", "false"), ("kubernetes_version", "1.32"), ("aws_enable_x", "true")])
        );
        assert!(state.get("labels").is_null());
    }

    #[test]
    fn refresh_of_an_untouched_secret_changes_nothing() {
        for plan in [
            full_plan(),
            base(vec![("namespace", "argocd".into()), ("secret_name", "eks-green".into())]),
            base(vec![
                ("namespace", "argocd".into()),
                ("secret_name", "eks-green".into()),
                ("insecure", false.into()),
                ("server", "https://green.example.com/".into()),
                ("server_name", "".into()),
                ("namespaces", Value::List(vec![])),
                ("addons", flags(&[])),
            ]),
            with(vec![
                ("cluster_name", "hub".into()),
                ("in_cluster", true.into()),
                ("namespace", "argocd".into()),
                ("secret_name", "hub".into()),
            ]),
            with(vec![
                ("cluster_name", "g".into()),
                ("namespace", "argocd".into()),
                ("secret_name", "g".into()),
                ("from_kubeconfig", block(vec![("content", KUBECONFIG_TOKEN.into()), ("context", Value::Null)])),
            ]),
        ] {
            let live = LiveSecret::from_secret(&applied(&plan));
            assert_eq!(state_from_live(&plan, &live, false), plan);
        }
    }

    #[test]
    fn drift_is_computed_over_owned_keys_only() {
        let plan = full_plan();
        type Edit = fn(&mut Secret);
        type Case<'a> = (&'a str, Edit, Vec<(&'a str, Value)>);
        let cases: Vec<Case> = vec![
            (
                "foreign label and annotation",
                |s| {
                    s.metadata
                        .labels
                        .as_mut()
                        .unwrap()
                        .insert("akuity.io/argo-cd-cluster-name".into(), "eks-green".into());
                    s.metadata.annotations.as_mut().unwrap().insert("managed-by".into(), "argocd.argoproj.io".into());
                    s.metadata.labels.as_mut().unwrap().insert("enable_foreign".into(), "true".into());
                },
                vec![],
            ),
            (
                "addon flipped by hand",
                |s| {
                    s.metadata.labels.as_mut().unwrap().insert("enable_metrics_server".into(), "false".into());
                },
                vec![("addons", flags(&[("metrics_server", false), ("enable_karpenter", false)]))],
            ),
            (
                "our label removed",
                |s| {
                    s.metadata.labels.as_mut().unwrap().remove("team");
                },
                vec![("labels", Value::Map(BTreeMap::new()))],
            ),
            (
                "environment label changed",
                |s| {
                    s.metadata.labels.as_mut().unwrap().insert("environment".into(), "dev".into());
                },
                vec![("environment", "dev".into())],
            ),
            (
                "environment annotation changed",
                |s| {
                    s.metadata.annotations.as_mut().unwrap().insert("environment".into(), "dev".into());
                },
                vec![("environment", "dev".into())],
            ),
            (
                "annotation value changed",
                |s| {
                    s.metadata.annotations.as_mut().unwrap().insert("aws_region".into(), "us-east-1".into());
                },
                vec![(
                    "metadata",
                    strings(&[("addons_repo_url", "https://github.com/o/addons"), ("aws_region", "us-east-1")]),
                )],
            ),
            (
                "server changed",
                |s| {
                    s.data.as_mut().unwrap().insert("server".into(), ByteString(b"https://other.example.com".to_vec()));
                },
                vec![("server", "https://other.example.com".into())],
            ),
            (
                "config replaced",
                |s| {
                    s.data
                        .as_mut()
                        .unwrap()
                        .insert("config".into(), ByteString(br#"{"tlsClientConfig":{"insecure":true}}"#.to_vec()));
                },
                vec![("ca_data", Value::Null), ("insecure", true.into()), ("aws_auth", Value::List(vec![]))],
            ),
            (
                "project removed",
                |s| {
                    s.data.as_mut().unwrap().remove("project");
                },
                vec![("project", Value::Null)],
            ),
        ];
        for (name, edit, changes) in cases {
            let mut secret = applied(&plan);
            edit(&mut secret);
            let mut want = plan.clone();
            for (k, v) in changes {
                want.set(k, v);
            }
            assert_eq!(state_from_live(&plan, &LiveSecret::from_secret(&secret), false), want, "case {name}");
        }
    }

    #[test]
    fn a_changed_kubeconfig_connection_drops_the_block_to_show_drift() {
        let plan = with(vec![
            ("cluster_name", "g".into()),
            ("namespace", "argocd".into()),
            ("secret_name", "g".into()),
            ("from_kubeconfig", block(vec![("content", KUBECONFIG_TOKEN.into()), ("context", Value::Null)])),
        ]);
        let mut secret = applied(&plan);
        secret.data.as_mut().unwrap().insert(
            "config".into(),
            ByteString(br#"{"bearerToken":"other","tlsClientConfig":{"insecure":false}}"#.to_vec()),
        );
        let state = state_from_live(&plan, &LiveSecret::from_secret(&secret), false);
        assert_eq!(state.get("from_kubeconfig"), &Value::List(vec![]));
    }

    #[test]
    fn a_write_only_token_is_neither_read_back_nor_drift() {
        let plan = base(vec![
            ("namespace", "argocd".into()),
            ("secret_name", "eks-green".into()),
            ("bearer_token_wo_version", "1".into()),
        ]);
        let mut secret = applied(&plan);
        let config = cluster_secret(&plan, Some("wo-secret")).unwrap().to_secret().data.unwrap()["config"].clone();
        secret.data.as_mut().unwrap().insert("config".into(), config);
        let state = state_from_live(&plan, &LiveSecret::from_secret(&secret), false);
        assert_eq!(state, plan);
        assert!(state.get("bearer_token").is_null());
    }

    #[test]
    fn what_we_write_imports_back_to_the_same_attributes() {
        let plan = full_plan();
        let mut prior = empty_state();
        prior.set("namespace", "argocd".into());
        prior.set("secret_name", "eks-green".into());
        let imported = state_from_live(&prior, &LiveSecret::from_secret(&applied(&plan)), true);
        for attribute in [
            "cluster_name",
            "environment",
            "server",
            "metadata",
            "project",
            "namespaces",
            "cluster_resources",
            "ca_data",
            "aws_auth",
            "bearer_token",
            "insecure",
        ] {
            assert_eq!(imported.get(attribute), plan.get(attribute), "{attribute}");
        }
        // Labels come back as they are on the Secret, all in `addons`; each makes the label it came from.
        assert_eq!(
            imported.get("addons"),
            &strings(&[("enable_metrics_server", "true"), ("enable_karpenter", "false"), ("team", "platform")])
        );
        assert!(imported.get("labels").is_null());
        assert_eq!(desired_metadata(&imported), desired_metadata(&plan));
    }

    fn resource(namespace: Configured<String>) -> ClusterMetadataResource {
        let config = ProviderConfig { argocd_namespace: namespace, ..ProviderConfig::default() };
        ClusterMetadataResource::new(Arc::new(ProviderState::with_config(config)))
    }

    fn plan(resource: &ClusterMetadataResource, prior: &Value, config: &Value) -> Result<Plan, Diagnostics> {
        resource.plan_impl(PlanRequest { prior_state: prior, proposed_new_state: config.clone(), config })
    }

    #[test]
    fn plan_computes_names_offline() {
        let r = resource(Configured::Known("argocd".into()));
        let config = base(vec![
            ("cluster_name", "EKS_Green".into()),
            ("bearer_token_wo", "tok".into()),
            ("bearer_token_wo_version", "1".into()),
        ]);
        let p = plan(&r, &Value::Null, &config).unwrap();
        assert_eq!(p.planned_state.get("secret_name"), &Value::from("eks-green"));
        assert_eq!(p.planned_state.get("namespace"), &Value::from("argocd"));
        assert_eq!(p.planned_state.get("id"), &Value::from("argocd/eks-green"));
        assert!(p.planned_state.get("bearer_token_wo").is_null());
        assert!(p.requires_replace.is_empty());

        let unknown_name = base(vec![("cluster_name", Value::Unknown)]);
        let p = plan(&r, &Value::Null, &unknown_name).unwrap();
        assert!(p.planned_state.get("secret_name").is_unknown());
        assert!(p.planned_state.get("id").is_unknown());

        let p = plan(&resource(Configured::Unknown), &Value::Null, &base(vec![])).unwrap();
        assert!(p.planned_state.get("namespace").is_unknown());
        assert!(p.planned_state.get("id").is_unknown());

        let explicit = base(vec![("namespace", "gitops".into()), ("secret_name", "custom".into())]);
        let p = plan(&r, &Value::Null, &explicit).unwrap();
        assert_eq!(p.planned_state.get("id"), &Value::from("gitops/custom"));

        assert!(plan(&r, &Value::Null, &base(vec![("server", "nope".into())])).is_err());
    }

    #[test]
    fn renames_replace_and_metadata_changes_update_in_place() {
        let r = resource(Configured::Known("argocd".into()));
        let prior = plan(&r, &Value::Null, &base(vec![])).unwrap().planned_state;

        let mut addons = base(vec![("addons", flags(&[("metrics_server", true)]))]);
        addons.set("secret_name", prior.get("secret_name").clone());
        addons.set("namespace", prior.get("namespace").clone());
        assert!(plan(&r, &prior, &addons).unwrap().requires_replace.is_empty());

        let renamed = base(vec![("cluster_name", "eks-purple".into())]);
        let p = plan(&r, &prior, &renamed).unwrap();
        assert_eq!(p.planned_state.get("secret_name"), &Value::from("eks-purple"));
        let paths: Vec<String> = p.requires_replace.iter().map(ToString::to_string).collect();
        assert_eq!(paths, ["cluster_name", "secret_name"]);
    }

    #[tokio::test]
    async fn refresh_without_known_hub_settings_keeps_state_and_writes_fail_clearly() {
        let config = ProviderConfig { hub: Configured::Unknown, ..ProviderConfig::default() };
        let r = ClusterMetadataResource::new(Arc::new(ProviderState::with_config(config)));
        let ctx = Context::default();
        let state = full_plan();
        assert_eq!(r.read(&ctx, state.clone()).await.unwrap(), Some(state.clone()));
        assert_eq!(ctx.take_warnings().0.len(), 1);

        let imported = r.import(&ctx, "argocd/eks-green").await.unwrap();
        assert!(r.read(&ctx, imported).await.is_err());
        let err = r.create(&ctx, state.clone(), &state).await.unwrap_err();
        assert_eq!(err.diagnostics.0[0].summary, "Hub configuration not known yet");
    }

    #[test]
    fn the_adoption_error_names_the_secret_and_the_ways_out() {
        let d = ClusterMetadataError::AlreadyExists { namespace: "argocd".into(), name: "eks-green".into() }
            .into_diagnostics();
        let text = d.to_string();
        assert!(
            text.contains("argocd/eks-green") && text.contains("import") && text.contains("allow_overwrite"),
            "{text}"
        );
    }

    #[test]
    fn every_attribute_has_a_description() {
        fn check(block: &Block) {
            for a in &block.attributes {
                assert!(!a.description.is_empty(), "{} has no description", a.name);
            }
            for b in &block.blocks {
                assert!(!b.block.description.is_empty(), "{} has no description", b.type_name);
                check(&b.block);
            }
        }
        check(&schema().block);
    }
}
