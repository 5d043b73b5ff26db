//! What the provider shares with every resource and data source: the configuration `configure`
//! stored and the clients built from it on first use.
//!
//! Resources and data sources import this file, never `provider/mod.rs`, which lists them.
//! May import: the domain and its clients (`hub`, `route53`), `protocol`'s value types, the
//! neutral modules. Never `resources` or `data_sources`.

use std::sync::RwLock;

use async_trait::async_trait;

use crate::argocd::application::Requirements;
use crate::halt::{Deadline, Stop};
use crate::hub::gate::{ClusterReadiness, ReadinessSource};
use crate::hub::{HubClient, HubError, HubSettings};
use crate::route53::{Route53, Route53Error, Route53Source};

/// Argo CD's namespace when the configuration does not name one.
pub const DEFAULT_ARGOCD_NAMESPACE: &str = "argocd";

/// A configuration value that may not be known until apply.
#[derive(Clone, Debug, PartialEq)]
pub enum Configured<T> {
    Known(T),
    /// Depends on resources not applied yet (only during plan).
    Unknown,
}

pub use crate::route53::Route53Settings;

/// The provider configuration, as received by `configure`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderConfig {
    pub argocd_namespace: Configured<String>,
    /// Namespaces besides `argocd_namespace` that hold Argo CD Applications ("apps in any namespace").
    pub application_namespaces: Configured<Vec<String>>,
    pub hub: Configured<HubSettings>,
    pub route53: Configured<Route53Settings>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            argocd_namespace: Configured::Known(DEFAULT_ARGOCD_NAMESPACE.to_string()),
            application_namespaces: Configured::Known(Vec::new()),
            hub: Configured::Known(HubSettings::default()),
            route53: Configured::Known(Route53Settings::default()),
        }
    }
}

/// What resources and data sources share: the configuration and the lazily built clients.
#[derive(Default)]
pub struct ProviderState {
    config: RwLock<ProviderConfig>,
    hub: tokio::sync::OnceCell<HubClient>,
    route53: tokio::sync::OnceCell<Route53>,
}

impl ProviderState {
    /// A state holding `config`, as `configure` leaves it (also for tests).
    pub fn with_config(config: ProviderConfig) -> Self {
        ProviderState { config: RwLock::new(config), ..ProviderState::default() }
    }

    pub(super) fn set_config(&self, config: ProviderConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// A copy of the current configuration.
    pub fn config(&self) -> ProviderConfig {
        self.config.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Argo CD's namespace on the hub (`argocd_namespace`).
    pub fn argocd_namespace(&self) -> Configured<String> {
        self.config().argocd_namespace
    }

    /// Where Argo CD's Applications live: `argocd_namespace`, then each of
    /// `application_namespaces` not already named.
    pub fn application_namespaces(&self) -> Configured<Vec<String>> {
        let config = self.config();
        match (config.argocd_namespace, config.application_namespaces) {
            (Configured::Known(argocd), Configured::Known(more)) => {
                let mut all = vec![argocd];
                for ns in more {
                    if !all.contains(&ns) {
                        all.push(ns);
                    }
                }
                Configured::Known(all)
            }
            _ => Configured::Unknown,
        }
    }

    /// The `route53` settings, for the Route53 client.
    pub fn route53_settings(&self) -> Configured<Route53Settings> {
        self.config().route53
    }

    /// The hub client, built on first use.
    ///
    /// # Errors
    /// [`HubError::UnknownConfig`] while the `hub` settings are unknown; [`HubError::Config`] when
    /// they cannot be turned into a client.
    pub async fn hub(&self) -> Result<HubClient, HubError> {
        let Configured::Known(settings) = self.config().hub else {
            return Err(HubError::UnknownConfig);
        };
        self.hub.get_or_try_init(|| HubClient::connect(&settings)).await.cloned()
    }
}

#[async_trait]
impl Route53Source for ProviderState {
    /// The Route53 client, built on first use (never while planning a create).
    async fn route53(&self) -> Result<Route53, Route53Error> {
        let Configured::Known(settings) = self.route53_settings() else {
            return Err(Route53Error::UnknownConfig);
        };
        Ok(self.route53.get_or_init(|| Route53::connect(&settings)).await.clone())
    }
}

#[async_trait]
impl ReadinessSource for ProviderState {
    async fn cluster_readiness(
        &self,
        ctx: &Stop,
        deadline: &Deadline,
        cluster_name: &str,
        requirements: &Requirements,
    ) -> Result<ClusterReadiness, HubError> {
        let Configured::Known(namespaces) = self.application_namespaces() else {
            return Err(HubError::UnknownConfig);
        };
        let hub = self.hub().await?;
        // The first is `argocd_namespace`, where Argo CD reads cluster Secrets.
        hub.cluster_readiness(ctx, deadline, &namespaces[0], &namespaces, cluster_name, requirements).await
    }
}
