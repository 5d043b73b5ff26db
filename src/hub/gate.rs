//! A readiness gate's look at the hub: is the cluster Argo CD names so ready right now? One
//! reading, no waiting: the gate decides whether traffic may move to the cluster at this moment.

use super::clusters::{ClusterLookup, FoundCluster, cluster_ref};
use super::{HubClient, HubError};
use crate::argocd::application::{Application, Readiness, Requirements, assess};
use crate::halt::{Deadline, Stop};

/// What one reading found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterReadiness {
    /// The cluster's Applications judged by the requirements.
    Judged(Readiness),
    /// No cluster Secret in the namespace carries the name.
    Missing { namespace: String },
    /// Several cluster Secrets carry the name: their Secret names.
    Several(Vec<String>),
}

impl HubClient {
    /// Finds the cluster `cluster_name` among the cluster Secrets of `secret_namespace` and
    /// judges the Applications of `app_namespaces` that target it, as they are now.
    ///
    /// # Errors
    /// The hub's, reading Secrets or Applications.
    pub async fn cluster_readiness(
        &self,
        ctx: &Stop,
        deadline: &Deadline,
        secret_namespace: &str,
        app_namespaces: &[String],
        cluster_name: &str,
        requirements: &Requirements,
    ) -> Result<ClusterReadiness, HubError> {
        let secrets = self.secrets(secret_namespace).until(*deadline);
        let secret = match secrets.find_cluster(ctx, ClusterLookup::ClusterName(cluster_name)).await? {
            FoundCluster::One(secret) => secret,
            FoundCluster::Missing => return Ok(ClusterReadiness::Missing { namespace: secret_namespace.into() }),
            FoundCluster::Several(names) => return Ok(ClusterReadiness::Several(names)),
        };
        let cluster = cluster_ref(&secret);
        let apps = self.cluster_applications_now(ctx, deadline, app_namespaces, &cluster).await?;
        let judged: Vec<&Application> = apps.iter().collect();
        Ok(ClusterReadiness::Judged(assess(&judged, requirements, None)))
    }
}

/// Where a gate reads the cluster's readiness: the provider's hub, with its Argo CD namespaces.
#[async_trait::async_trait]
pub trait ReadinessSource: Send + Sync {
    /// [`HubClient::cluster_readiness`] on the configured hub.
    ///
    /// # Errors
    /// [`HubError::UnknownConfig`] while the hub settings are not known; the hub's otherwise.
    async fn cluster_readiness(
        &self,
        ctx: &Stop,
        deadline: &Deadline,
        cluster_name: &str,
        requirements: &Requirements,
    ) -> Result<ClusterReadiness, HubError>;
}
