//! Data sources, one file each: Terraform <-> domain only, like the resources.
//!
//! May import: `provider/state.rs`, `tf`, `protocol`, the domain and the neutral modules. Never a
//! resource or `provider/mod.rs`.

pub mod cluster_metadata;
pub mod cluster_status;
pub mod weighted_routes;

use crate::protocol::Diagnostics;

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
