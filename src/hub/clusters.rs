//! Finding a cluster's Argo CD Secret by its cluster name or its Secret name, the way data
//! sources and readiness checks name clusters.

use k8s_openapi::api::core::v1::Secret;

use super::{HubError, HubObjects};
use crate::argocd::application::ClusterRef;
use crate::halt::Stop;

/// Label every Argo CD cluster Secret carries, and its value.
const SECRET_TYPE_SELECTOR: &str = "argocd.argoproj.io/secret-type=cluster";

/// How a configuration names a cluster.
#[derive(Clone, Copy, Debug)]
pub enum ClusterLookup<'a> {
    /// The Secret's `data.name`, as Argo CD and Applications name the cluster.
    ClusterName(&'a str),
    /// The Secret's own name.
    SecretName(&'a str),
}

/// What a lookup found.
#[derive(Debug)]
pub enum FoundCluster {
    One(Box<Secret>),
    Missing,
    /// Several cluster Secrets carry the name: their Secret names.
    Several(Vec<String>),
}

impl HubObjects<Secret> {
    /// Finds a cluster Secret through this process's listing of the namespace's cluster Secrets
    /// (shared with every other reader), so many lookups cost one paged LIST.
    ///
    /// # Errors
    /// Those of the LIST, or of the GETs it falls back to when the hub refuses to list.
    pub async fn find_cluster(&self, ctx: &Stop, lookup: ClusterLookup<'_>) -> Result<FoundCluster, HubError> {
        let found = match lookup {
            ClusterLookup::SecretName(name) => self.get_listed(ctx, name, SECRET_TYPE_SELECTOR).await?,
            ClusterLookup::ClusterName(cluster) => {
                // Only the matches are copied out of the shared listing: a plan reading every
                // cluster of a fleet would otherwise copy the whole fleet once per cluster.
                let named = |secret: &Secret| data_bytes(secret, "name") == Some(cluster.as_bytes());
                let mut matches: Vec<Secret> = match self.listed(ctx, SECRET_TYPE_SELECTOR).await? {
                    Some(listed) => listed.values().filter(|secret| named(secret)).cloned().collect(),
                    None => self.list(ctx, SECRET_TYPE_SELECTOR).await?.into_iter().filter(named).collect(),
                };
                if matches.len() > 1 {
                    let names = matches.iter().filter_map(|s| s.metadata.name.clone()).collect();
                    return Ok(FoundCluster::Several(names));
                }
                matches.pop()
            }
        };
        Ok(found.map_or(FoundCluster::Missing, |secret| FoundCluster::One(Box::new(secret))))
    }
}

/// The cluster a Secret describes, as Applications name it in their destination.
pub fn cluster_ref(secret: &Secret) -> ClusterRef {
    ClusterRef {
        name: data_field(secret, "name").unwrap_or_default(),
        server: data_field(secret, "server").unwrap_or_default(),
    }
}

fn data_field(secret: &Secret, key: &str) -> Option<String> {
    String::from_utf8(data_bytes(secret, key)?.to_vec()).ok()
}

fn data_bytes<'a>(secret: &'a Secret, key: &str) -> Option<&'a [u8]> {
    Some(&secret.data.as_ref()?.get(key)?.0)
}
