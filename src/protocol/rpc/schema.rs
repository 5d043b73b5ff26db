//! GetMetadata and GetProviderSchema.

use crate::protocol::convert;
use crate::protocol::service::ProviderService;
use crate::protocol::wire::tfplugin6 as pb;

/// What we tell Terraform about ourselves: destroys are not planned by the provider, the schema
/// may be cached between runs, and state cannot be moved in from other resource types.
pub fn server_capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities { plan_destroy: false, get_provider_schema_optional: true, move_resource_state: false }
}

impl ProviderService {
    pub(crate) fn get_metadata(&self) -> pb::get_metadata::Response {
        let catalog = self.catalog();
        pb::get_metadata::Response {
            server_capabilities: Some(server_capabilities()),
            diagnostics: Vec::new(),
            data_sources: catalog
                .data_sources
                .keys()
                .map(|name| pb::get_metadata::DataSourceMetadata { type_name: name.clone() })
                .collect(),
            resources: catalog
                .resources
                .keys()
                .map(|name| pb::get_metadata::ResourceMetadata { type_name: name.clone() })
                .collect(),
            functions: Vec::new(),
            ephemeral_resources: Vec::new(),
        }
    }

    /// Built once per process: Terraform asks several times per run.
    pub(crate) fn get_provider_schema(&self) -> pb::get_provider_schema::Response {
        self.schema_response
            .get_or_init(|| {
                let catalog = self.catalog();
                pb::get_provider_schema::Response {
                    provider: Some(convert::schema(&catalog.provider_schema)),
                    resource_schemas: catalog
                        .resources
                        .iter()
                        .map(|(name, entry)| (name.clone(), convert::schema(&entry.schema)))
                        .collect(),
                    data_source_schemas: catalog
                        .data_sources
                        .iter()
                        .map(|(name, entry)| (name.clone(), convert::schema(&entry.schema)))
                        .collect(),
                    server_capabilities: Some(server_capabilities()),
                    ..Default::default()
                }
            })
            .clone()
    }
}
