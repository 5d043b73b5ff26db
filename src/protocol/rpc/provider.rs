//! ValidateProviderConfig and ConfigureProvider.

use crate::protocol::diagnostics::Diagnostics;
use crate::protocol::service::{ProviderService, cancellable, decode, finish};
use crate::protocol::value::Value;
use crate::protocol::wire::tfplugin6 as pb;

impl ProviderService {
    fn decode_provider_config(&self, config: Option<&pb::DynamicValue>) -> Result<Value, Diagnostics> {
        let catalog = self.catalog();
        decode(config, &catalog.provider_schema, &catalog.provider_type, "provider configuration")
    }

    pub(crate) async fn validate_provider_config(
        &self,
        request: pb::validate_provider_config::Request,
    ) -> pb::validate_provider_config::Response {
        let ctx = self.context(None);
        let result = async {
            let config = self.decode_provider_config(request.config.as_ref())?;
            cancellable(&ctx, self.provider.validate(&ctx, &config)).await
        }
        .await;
        pb::validate_provider_config::Response { diagnostics: finish(&ctx, result.err()) }
    }

    /// The configuration may hold unknown values during plan; the provider decides what it can do
    /// with them.
    pub(crate) async fn configure_provider(
        &self,
        request: pb::configure_provider::Request,
    ) -> pb::configure_provider::Response {
        let ctx = self.context(request.client_capabilities.as_ref());
        let result = async {
            let config = self.decode_provider_config(request.config.as_ref())?;
            cancellable(&ctx, self.provider.configure(&ctx, &config)).await
        }
        .await;
        pb::configure_provider::Response { diagnostics: finish(&ctx, result.err()) }
    }
}
