//! ValidateDataResourceConfig and ReadDataSource.

use crate::protocol::service::{ProviderService, cancellable, decode, encode, finish};
use crate::protocol::wire::tfplugin6 as pb;

impl ProviderService {
    pub(crate) async fn validate_data_resource_config(
        &self,
        request: pb::validate_data_resource_config::Request,
    ) -> pb::validate_data_resource_config::Response {
        let ctx = self.context(None);
        let result = async {
            let entry = self.data_source(&request.type_name)?;
            let config = decode(request.config.as_ref(), &entry.schema, &entry.ty, "configuration")?;
            cancellable(&ctx, entry.data_source.validate(&ctx, &config)).await
        }
        .await;
        pb::validate_data_resource_config::Response { diagnostics: finish(&ctx, result.err()) }
    }

    pub(crate) async fn read_data_source(
        &self,
        request: pb::read_data_source::Request,
    ) -> pb::read_data_source::Response {
        let ctx = self.context(request.client_capabilities.as_ref());
        let result = async {
            let entry = self.data_source(&request.type_name)?;
            let config = decode(request.config.as_ref(), &entry.schema, &entry.ty, "configuration")?;
            let state = cancellable(&ctx, entry.data_source.read(&ctx, &config)).await?;
            encode(&state, &entry.ty, "data source state")
        }
        .await;
        match result {
            Ok(state) => {
                pb::read_data_source::Response { state: Some(state), diagnostics: finish(&ctx, None), deferred: None }
            }
            Err(errors) => {
                pb::read_data_source::Response { state: None, diagnostics: finish(&ctx, Some(errors)), deferred: None }
            }
        }
    }
}
