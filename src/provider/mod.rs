//! The `gitopsbridge` provider: its configuration block, `configure`, and the list of its
//! resources and data sources. The state every resource shares is in [`state`].
//!
//! `configure` only stores the configuration. Clients are built on first use, so planning a
//! create never touches the network and a provider block whose values are unknown during plan
//! (the hub is created in the same apply) plans fine.
//!
//! Only this file imports `resources` and `data_sources` (to list them); they import
//! [`state`], never this file. `state.rs` imports neither.

pub mod state;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::argocd::k8s_names::check_dns_label;
use crate::data_sources::cluster_metadata::ClusterMetadataDataSource;
use crate::data_sources::cluster_status::ClusterStatusDataSource;
use crate::data_sources::weighted_routes::WeightedRoutesDataSource;
use crate::http_url::check_http_url;
use crate::hub::{ExecSettings, HubSettings};
use crate::protocol::{
    Attribute, AttributePath, Block, Context, DataSource, Diagnostics, NestedBlock, Provider, Resource, Schema, Type,
    Value,
};
use crate::resources::addon_set::AddonSetResource;
use crate::resources::cluster_metadata::ClusterMetadataResource;
use crate::resources::traffic_split::TrafficSplitResource;
use crate::resources::weighted_route::WeightedRouteResource;
use crate::tf::credential_plugin::exec_env_attribute;
use crate::tf::timeouts;
use crate::tf::values as tf_values;
pub use state::{Configured, DEFAULT_ARGOCD_NAMESPACE, ProviderConfig, ProviderState, Route53Settings};

/// The provider: cheap to construct (Terraform starts the plugin several times per plan).
pub struct GitOpsBridge {
    state: Arc<ProviderState>,
}

impl GitOpsBridge {
    pub fn new() -> Self {
        GitOpsBridge { state: Arc::new(ProviderState::default()) }
    }

    /// The shared state, for tests that drive resources directly.
    pub fn state(&self) -> Arc<ProviderState> {
        self.state.clone()
    }
}

impl Default for GitOpsBridge {
    fn default() -> Self {
        Self::new()
    }
}

fn provider_schema() -> Schema {
    let exec = Block::new("A client-go credential plugin that prints an ExecCredential, e.g. `aws eks get-token`.")
        .attribute(Attribute::required("command", Type::String, "The command to run."))
        .attribute(Attribute::optional(
            "api_version",
            Type::String,
            "The ExecCredential API version the plugin speaks (default `client.authentication.k8s.io/v1beta1`).",
        ))
        .attribute(Attribute::optional("args", Type::list(Type::String), "Arguments of the command."))
        .attribute(exec_env_attribute());
    let hub = Block::new(
        "How to reach the hub cluster that runs Argo CD. Same names and meaning as the kubernetes provider. \
         Without this block, `KUBECONFIG` or `~/.kube/config` is used like kubectl does.",
    )
    .attribute(Attribute::optional("config_path", Type::String, "Path to a kubeconfig file; `~` is expanded."))
    .attribute(Attribute::optional(
        "config_context",
        Type::String,
        "The kubeconfig context to use (default: the kubeconfig's current context).",
    ))
    .attribute(Attribute::optional(
        "host",
        Type::String,
        "The API server URL, e.g. `https://1.2.3.4:6443`. Overrides the kubeconfig's server.",
    ))
    .attribute(Attribute::optional("token", Type::String, "A bearer token for the API server.").sensitive())
    .attribute(Attribute::optional(
        "cluster_ca_certificate",
        Type::String,
        "PEM-encoded certificate authority of the API server.",
    ))
    .attribute(Attribute::optional(
        "client_certificate",
        Type::String,
        "PEM-encoded client certificate for TLS authentication.",
    ))
    .attribute(
        Attribute::optional("client_key", Type::String, "PEM-encoded private key of `client_certificate`.").sensitive(),
    )
    .attribute(Attribute::optional(
        "insecure",
        Type::Bool,
        "Skip verification of the API server's certificate. Only for test clusters.",
    ))
    .attribute(Attribute::optional(
        "request_timeout",
        Type::String,
        "How long one request to the hub may wait for its answer, e.g. `30s` or `2m` (default `60s`). A write is \
         never abandoned while it waits, also not when Terraform asks the provider to stop or a `timeouts` deadline \
         passes; once this runs out it counts as failed without an answer: it is retried while time is left, and \
         otherwise the state records the object as planned so that the next refresh finds out what exists.",
    ))
    .block(NestedBlock::at_most_one("exec", exec));
    let route53 = Block::new("How to reach Route53 for weighted routing.")
        .attribute(Attribute::optional("region", Type::String, "AWS region (default: from the AWS environment)."))
        .attribute(Attribute::optional("profile", Type::String, "AWS shared-config profile."))
        .attribute(Attribute::optional(
            "endpoint",
            Type::String,
            "A custom Route53 endpoint URL, e.g. an emulator at `http://127.0.0.1:5055`.",
        ))
        .attribute(Attribute::optional(
            "max_attempts",
            Type::Number,
            "How many times a throttled Route53 call is attempted in total.",
        ));
    Schema::new(
        0,
        Block::new("Registers clusters with Argo CD the GitOps Bridge way, manages ApplicationSets and Route53 weighted routing.")
            .attribute(Attribute::optional(
                "argocd_namespace",
                Type::String,
                "The hub namespace where Argo CD runs and reads cluster Secrets (default `argocd`).",
            ))
            .attribute(Attribute::optional(
                "application_namespaces",
                Type::list(Type::String),
                "More namespaces holding Argo CD Applications, when Argo CD runs with Applications in any \
                 namespace. `gitopsbridge_cluster_status` and `wait_for_ready` read Applications in \
                 `argocd_namespace` and in these.",
            ))
            .block(NestedBlock::at_most_one("hub", hub))
            .block(NestedBlock::at_most_one("route53", route53)),
    )
}

/// Offline checks of the provider block; unknown values are skipped.
fn validate_provider_config(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if let Some(ns) = config.get("argocd_namespace").as_str()
        && let Err(e) = check_dns_label(ns)
    {
        diags.push_error(
            Some(AttributePath::root("argocd_namespace")),
            "Invalid Argo CD namespace",
            format!("The namespace {ns:?} {e}."),
        );
    }

    for (i, ns) in config.get("application_namespaces").as_list().unwrap_or_default().iter().enumerate() {
        if let Some(ns) = ns.as_str()
            && let Err(e) = check_dns_label(ns)
        {
            diags.push_error(
                Some(AttributePath::root("application_namespaces").index(i)),
                "Invalid Application namespace",
                format!("The namespace {ns:?} {e}."),
            );
        }
    }

    if let Some(hub) = tf_values::block(config.get("hub")) {
        let at = |name: &str| AttributePath::root("hub").index(0).attr(name);
        if let Some(host) = hub.get("host").as_str()
            && let Err(e) = check_http_url(host)
        {
            diags.push_error(Some(at("host")), "Invalid hub host", format!("The host {host:?} {e}."));
        }
        let set = |name: &str| !hub.get(name).is_null();
        if set("client_certificate") && hub.get("client_key").is_null() {
            diags.push_error(
                Some(at("client_certificate")),
                "Missing client_key",
                "`client_certificate` needs `client_key`.",
            );
        }
        if set("client_key") && hub.get("client_certificate").is_null() {
            diags.push_error(
                Some(at("client_key")),
                "Missing client_certificate",
                "`client_key` needs `client_certificate`.",
            );
        }
        let has_exec = tf_values::block(hub.get("exec")).is_some();
        if set("token") && has_exec {
            diags.push_error(
                Some(at("token")),
                "Conflicting hub credentials",
                "Set either `token` or an `exec` block, not both.",
            );
        }
        if set("client_certificate") && (set("token") || has_exec) {
            diags.push_error(
                Some(at("client_certificate")),
                "Conflicting hub credentials",
                "Use one kind of credential: a client certificate, `token` or `exec`.",
            );
        }
        if hub.get("insecure").as_bool() == Some(true) && set("cluster_ca_certificate") {
            diags.push_error(
                Some(at("insecure")),
                "Conflicting TLS settings",
                "`insecure = true` skips certificate verification, so `cluster_ca_certificate` would be ignored; set one of them.",
            );
        }
        if let Some(text) = hub.get("request_timeout").as_str()
            && let Err(problem) = check_request_timeout(text)
        {
            diags.push_error(Some(at("request_timeout")), "Invalid request_timeout", problem);
        }
        if let Some(exec) = tf_values::block(hub.get("exec"))
            && exec.get("command").as_str() == Some("")
        {
            diags.push_error(
                Some(at("exec").index(0).attr("command")),
                "Empty exec command",
                "`command` must name a program.",
            );
        }
    }

    if let Some(route53) = tf_values::block(config.get("route53")) {
        let at = |name: &str| AttributePath::root("route53").index(0).attr(name);
        if let Some(endpoint) = route53.get("endpoint").as_str()
            && let Err(e) = check_http_url(endpoint)
        {
            diags.push_error(
                Some(at("endpoint")),
                "Invalid Route53 endpoint",
                format!("The endpoint {endpoint:?} {e}."),
            );
        }
        if let Value::Number(n) = route53.get("max_attempts")
            && !n.as_i64().is_some_and(|n| (1..=100).contains(&n))
        {
            diags.push_error(
                Some(at("max_attempts")),
                "Invalid max_attempts",
                format!("`max_attempts` must be a whole number from 1 to 100, not {n}."),
            );
        }
    }
    diags
}

/// The hub's request timeout: a duration from one second to an hour.
fn check_request_timeout(text: &str) -> Result<Duration, String> {
    match timeouts::parse_duration(text) {
        None => Err(format!("{text:?} is not a duration like \"30s\", \"2m\" or \"1m30s\".")),
        Some(d) if d < Duration::from_secs(1) || d > Duration::from_secs(3600) => {
            Err(format!("`request_timeout` must be from 1s to 1h, not {text:?}."))
        }
        Some(d) => Ok(d),
    }
}

/// Reads the provider block into [`ProviderConfig`], keeping unknown parts as [`Configured::Unknown`].
pub fn parse_provider_config(config: &Value) -> ProviderConfig {
    let argocd_namespace = match config.get("argocd_namespace") {
        Value::Unknown => Configured::Unknown,
        v => Configured::Known(tf_values::string(v).unwrap_or_else(|| DEFAULT_ARGOCD_NAMESPACE.to_string())),
    };
    let hub = match config.get("hub") {
        v if !v.is_fully_known() => Configured::Unknown,
        v => Configured::Known(tf_values::block(v).map(parse_hub).unwrap_or_default()),
    };
    let route53 = match config.get("route53") {
        v if !v.is_fully_known() => Configured::Unknown,
        v => Configured::Known(tf_values::block(v).map(parse_route53).unwrap_or_default()),
    };
    let application_namespaces = match config.get("application_namespaces") {
        v if !v.is_fully_known() => Configured::Unknown,
        v => Configured::Known(tf_values::string_list(v)),
    };
    ProviderConfig { argocd_namespace, application_namespaces, hub, route53 }
}

fn parse_hub(hub: &Value) -> HubSettings {
    let s = |name: &str| tf_values::string(hub.get(name));
    HubSettings {
        config_path: s("config_path"),
        config_context: s("config_context"),
        host: s("host"),
        token: s("token"),
        cluster_ca_certificate: s("cluster_ca_certificate"),
        client_certificate: s("client_certificate"),
        client_key: s("client_key"),
        insecure: hub.get("insecure").as_bool(),
        request_timeout: hub.get("request_timeout").as_str().and_then(|t| check_request_timeout(t).ok()),
        exec: tf_values::block(hub.get("exec")).map(|exec| ExecSettings {
            api_version: tf_values::string(exec.get("api_version")),
            command: tf_values::string(exec.get("command")).unwrap_or_default(),
            args: tf_values::string_list(exec.get("args")),
            env: tf_values::string_map(exec.get("env")),
        }),
    }
}

fn parse_route53(route53: &Value) -> Route53Settings {
    Route53Settings {
        region: tf_values::string(route53.get("region")),
        profile: tf_values::string(route53.get("profile")),
        endpoint: tf_values::string(route53.get("endpoint")),
        max_attempts: route53.get("max_attempts").as_i64().and_then(|n| u32::try_from(n).ok()),
    }
}

#[async_trait]
impl Provider for GitOpsBridge {
    fn type_name(&self) -> &'static str {
        "gitopsbridge"
    }

    fn schema(&self) -> Schema {
        provider_schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Result<(), Diagnostics> {
        validate_provider_config(config).into_result()
    }

    async fn configure(&self, _ctx: &Context, config: &Value) -> Result<(), Diagnostics> {
        validate_provider_config(config).into_result()?;
        self.state.set_config(parse_provider_config(config));
        Ok(())
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![
            Arc::new(ClusterMetadataResource::new(self.state.clone())),
            Arc::new(AddonSetResource::new(self.state.clone())),
            Arc::new(WeightedRouteResource::new(self.state.clone())),
            Arc::new(TrafficSplitResource::new(self.state.clone())),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![
            Arc::new(ClusterMetadataDataSource::new(self.state.clone())),
            Arc::new(ClusterStatusDataSource::new(self.state.clone())),
            Arc::new(WeightedRoutesDataSource::new(self.state.clone())),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::HubError;

    fn hub_config(attrs: Vec<(&str, Value)>) -> Value {
        Value::object([
            ("argocd_namespace", Value::Null),
            ("hub", Value::List(vec![Value::object(attrs)])),
            ("route53", Value::List(vec![])),
        ])
    }

    fn errors_at(diags: &Diagnostics) -> Vec<String> {
        diags.0.iter().filter_map(|d| d.attribute.as_ref().map(ToString::to_string)).collect()
    }

    #[test]
    fn every_attribute_has_a_description() {
        fn check(block: &Block, path: &str) {
            for a in &block.attributes {
                assert!(!a.description.is_empty(), "{path}.{} has no description", a.name);
            }
            for b in &block.blocks {
                assert!(!b.block.description.is_empty(), "{path}.{} has no description", b.type_name);
                check(&b.block, &format!("{path}.{}", b.type_name));
            }
        }
        check(&provider_schema().block, "provider");
    }

    #[test]
    fn validation_points_at_the_attribute() {
        let exec = Value::List(vec![Value::object([("command", Value::from("aws"))])]);
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (hub_config(vec![("host", Value::from("https://1.2.3.4:6443"))]), vec![]),
            (hub_config(vec![("host", Value::from("1.2.3.4"))]), vec!["hub[0].host"]),
            (hub_config(vec![("client_certificate", Value::from("pem"))]), vec!["hub[0].client_certificate"]),
            (hub_config(vec![("client_key", Value::from("pem"))]), vec!["hub[0].client_key"]),
            (hub_config(vec![("token", Value::from("t")), ("exec", exec)]), vec!["hub[0].token"]),
            (hub_config(vec![("request_timeout", Value::from("90s"))]), vec![]),
            (hub_config(vec![("request_timeout", Value::from("90"))]), vec!["hub[0].request_timeout"]),
            (hub_config(vec![("request_timeout", Value::from("500ms"))]), vec!["hub[0].request_timeout"]),
            (hub_config(vec![("request_timeout", Value::from("2h"))]), vec!["hub[0].request_timeout"]),
            (
                hub_config(vec![("insecure", Value::from(true)), ("cluster_ca_certificate", Value::from("pem"))]),
                vec!["hub[0].insecure"],
            ),
            (hub_config(vec![("host", Value::Unknown)]), vec![]),
            (Value::object([("argocd_namespace", Value::from("Argo CD"))]), vec!["argocd_namespace"]),
            (
                Value::object([(
                    "route53",
                    Value::List(vec![Value::object([
                        ("endpoint", Value::from("localhost:5055")),
                        ("max_attempts", Value::from(0)),
                    ])]),
                )]),
                vec!["route53[0].endpoint", "route53[0].max_attempts"],
            ),
        ];
        for (config, want) in cases {
            assert_eq!(errors_at(&validate_provider_config(&config)), want, "{config:?}");
        }
    }

    #[test]
    fn unknown_blocks_stay_unknown_and_absent_ones_default() {
        let parsed = parse_provider_config(&hub_config(vec![("host", Value::Unknown)]));
        assert_eq!(parsed.hub, Configured::Unknown);
        assert_eq!(parsed.argocd_namespace, Configured::Known("argocd".into()));

        let parsed = parse_provider_config(&Value::object([("argocd_namespace", Value::Unknown)]));
        assert_eq!(parsed.argocd_namespace, Configured::Unknown);
        assert_eq!(parsed.hub, Configured::Known(HubSettings::default()));
    }

    #[tokio::test]
    async fn unknown_hub_settings_give_a_clear_error_only_when_used() {
        let state = ProviderState::with_config(parse_provider_config(&hub_config(vec![("host", Value::Unknown)])));
        match state.hub().await {
            Err(HubError::UnknownConfig) => {}
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
