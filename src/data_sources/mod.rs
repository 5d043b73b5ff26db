//! Data sources, one file each: Terraform <-> domain only, like the resources.
//!
//! May import: `provider/state.rs`, `tf`, `protocol`, the domain and the neutral modules. Never a
//! resource or `provider/mod.rs`.

pub mod cluster_metadata;
pub mod cluster_status;
pub mod weighted_routes;

use crate::argocd::k8s_names::{check_dns_label, check_dns_subdomain};
use crate::protocol::{AttributePath, Diagnostics, Value};

/// The error when a data source needs a provider setting that is only known after apply.
/// Terraform reads a data source while planning unless its own configuration waits for
/// something, so the way out is a `depends_on` that makes it wait.
pub(crate) fn provider_setting_unknown(setting: &str) -> Diagnostics {
    Diagnostics::error(
        "Provider configuration not known yet",
        format!(
            "`{setting}` in the provider block is only known after apply, and Terraform reads data sources while \
             planning. Add depends_on = [<the resource it comes from>] to this data source so that Terraform \
             reads it during apply instead."
        ),
    )
}

/// Checks how a data source names a cluster: `cluster_name` or `secret_name` (exactly one), and
/// the optional `namespace` of its Secret.
pub(crate) fn check_cluster_lookup(config: &Value, d: &mut Diagnostics) {
    let cluster_name = config.get("cluster_name");
    let secret_name = config.get("secret_name");
    if cluster_name.is_null() && secret_name.is_null() {
        d.push_error(
            Some(AttributePath::root("cluster_name")),
            "Missing lookup key",
            "Set `cluster_name` or `secret_name`.",
        );
    }
    if cluster_name.as_str() == Some("") {
        d.push_error(
            Some(AttributePath::root("cluster_name")),
            "Empty cluster_name",
            "`cluster_name` must name a cluster; no cluster Secret has an empty name.",
        );
    }
    if !cluster_name.is_null() && !secret_name.is_null() {
        d.push_error(
            Some(AttributePath::root("secret_name")),
            "Two lookup keys",
            "Set `cluster_name` or `secret_name`, not both.",
        );
    }
    if let Some(name) = secret_name.as_str()
        && let Err(e) = check_dns_subdomain(name)
    {
        d.push_error(
            Some(AttributePath::root("secret_name")),
            "Invalid secret_name",
            format!("The Secret name {name:?} {e}."),
        );
    }
    if let Some(ns) = config.get("namespace").as_str()
        && let Err(e) = check_dns_label(ns)
    {
        d.push_error(Some(AttributePath::root("namespace")), "Invalid namespace", format!("The namespace {ns:?} {e}."));
    }
}
