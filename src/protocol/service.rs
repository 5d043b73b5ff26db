//! What the gRPC service and the per-RPC handlers in `rpc/` share: the provider with its
//! resource and data source catalog ([`ProviderService`]) and the steps every call takes (decode,
//! encode, cancellation, diagnostics). Neither `server.rs` nor `rpc/` is imported from here.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use super::cancel::{self, StopGenerations};
use super::convert;
use super::diagnostics::Diagnostics;
use super::provider_api::{Context, DataSource, Provider, Resource};
use super::redact;
use super::schema::Schema;
use super::value::{Type, Value};
use super::wire::tfplugin6 as pb;
use super::wire::tfplugin6::provider_server::ProviderServer;

/// Largest message either side may send: state of big resources can exceed gRPC's 4 MiB default.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// A resource type with its schema and value type, computed once.
pub(crate) struct ResourceEntry {
    pub resource: Arc<dyn Resource>,
    pub schema: Schema,
    pub ty: Type,
}

pub(crate) struct DataSourceEntry {
    pub data_source: Arc<dyn DataSource>,
    pub schema: Schema,
    pub ty: Type,
}

/// Everything the provider serves, with schemas resolved.
pub(crate) struct Catalog {
    pub provider_schema: Schema,
    pub provider_type: Type,
    pub resources: BTreeMap<String, ResourceEntry>,
    pub data_sources: BTreeMap<String, DataSourceEntry>,
}

impl Catalog {
    fn build(provider: &dyn Provider) -> Catalog {
        let provider_schema = provider.schema();
        let provider_type = provider_schema.block.value_type();
        let resources = provider
            .resources()
            .into_iter()
            .map(|resource| {
                let schema = resource.schema();
                let ty = schema.block.value_type();
                (resource.type_name().to_string(), ResourceEntry { resource, schema, ty })
            })
            .collect();
        let data_sources = provider
            .data_sources()
            .into_iter()
            .map(|data_source| {
                let schema = data_source.schema();
                let ty = schema.block.value_type();
                (data_source.type_name().to_string(), DataSourceEntry { data_source, schema, ty })
            })
            .collect();
        Catalog { provider_schema, provider_type, resources, data_sources }
    }
}

/// The service Terraform talks to.
pub struct ProviderService {
    pub(crate) provider: Arc<dyn Provider>,
    catalog: OnceLock<Catalog>,
    pub(crate) schema_response: OnceLock<pb::get_provider_schema::Response>,
    pub(crate) stops: StopGenerations,
}

impl ProviderService {
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        ProviderService {
            provider,
            catalog: OnceLock::new(),
            schema_response: OnceLock::new(),
            stops: StopGenerations::new(),
        }
    }

    /// The gRPC server for this service, with message limits raised for large states.
    pub fn into_server(self) -> ProviderServer<Self> {
        ProviderServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Built on first use, not at start-up: Terraform starts the plugin several times per run and
    /// some starts only ask for metadata or a cached schema.
    pub(crate) fn catalog(&self) -> &Catalog {
        self.catalog.get_or_init(|| Catalog::build(self.provider.as_ref()))
    }

    pub(crate) fn context(&self, capabilities: Option<&pb::ClientCapabilities>) -> Context {
        Context::new(self.stops.request_token(), convert::client_capabilities(capabilities))
    }

    pub(crate) fn resource(&self, type_name: &str) -> Result<&ResourceEntry, Diagnostics> {
        self.catalog().resources.get(type_name).ok_or_else(|| {
            Diagnostics::error("Unknown resource type", format!("This provider has no resource type {type_name:?}."))
        })
    }

    pub(crate) fn data_source(&self, type_name: &str) -> Result<&DataSourceEntry, Diagnostics> {
        self.catalog().data_sources.get(type_name).ok_or_else(|| {
            Diagnostics::error("Unknown data source", format!("This provider has no data source {type_name:?}."))
        })
    }
}

/// Decodes a value Terraform sent for `schema`, and remembers its sensitive strings so that no
/// answer carries them; `what` names it in the error ("configuration", "prior state").
pub(crate) fn decode(
    value: Option<&pb::DynamicValue>,
    schema: &Schema,
    ty: &Type,
    what: &str,
) -> Result<Value, Diagnostics> {
    let value = convert::decode(value, ty)
        .map_err(|e| convert::codec_error(&format!("Invalid {what} received from Terraform"), &e))?;
    redact::remember_sensitive(&schema.block, &value);
    Ok(value)
}

/// Encodes a value produced by the provider; `what` names it in the error.
pub(crate) fn encode(value: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostics> {
    convert::encode(value, ty)
        .map_err(|e| convert::codec_error(&format!("The provider produced an invalid {what}"), &e))
}

/// Runs a provider call that may be abandoned when Terraform asks us to stop.
pub(crate) async fn cancellable<T>(
    ctx: &Context,
    call: impl Future<Output = Result<T, Diagnostics>>,
) -> Result<T, Diagnostics> {
    tokio::select! {
        biased;
        result = call => result,
        () = ctx.cancelled() => Err(cancel::cancelled()),
    }
}

/// The diagnostics of a call: its errors (if any) and the warnings it collected.
pub(crate) fn finish(ctx: &Context, errors: Option<Diagnostics>) -> Vec<pb::Diagnostic> {
    let mut all = errors.unwrap_or_default();
    all.extend(ctx.take_warnings());
    convert::diagnostics(&all)
}
