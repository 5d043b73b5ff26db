//! The tfplugin6 `Provider` gRPC service: each RPC runs under the panic guard, is logged with its
//! duration, and is answered with diagnostics rather than gRPC errors (Terraform treats those as
//! a crashed plugin). The per-RPC logic lives in `rpc/`.

use std::future::Future;
use std::time::Instant;

use tonic::{Request, Response, Status};

use super::convert;
use super::guard;
use super::redact;
use super::wire::tfplugin6 as pb;
use super::wire::tfplugin6::provider_server;

pub use super::service::{MAX_MESSAGE_BYTES, ProviderService};

/// A response that can carry diagnostics, so that a panic can be reported in any of them.
pub(crate) trait Reply: Send + 'static {
    fn add_diagnostics(&mut self, diagnostics: Vec<pb::Diagnostic>);
    fn error_count(&self) -> usize;
    /// Removes every remembered secret from the texts for the user.
    fn redact(&mut self);
}

/// Replaces `text` by its redacted form when that differs.
fn redact_in_place(text: &mut String) {
    if let std::borrow::Cow::Owned(clean) = redact::redact(text) {
        *text = clean;
    }
}

macro_rules! replies {
    ($($module:ident),* $(,)?) => {$(
        impl Reply for pb::$module::Response {
            fn add_diagnostics(&mut self, diagnostics: Vec<pb::Diagnostic>) {
                self.diagnostics.extend(diagnostics);
            }
            fn error_count(&self) -> usize {
                let error = pb::diagnostic::Severity::Error as i32;
                self.diagnostics.iter().filter(|d| d.severity == error).count()
            }
            fn redact(&mut self) {
                for d in &mut self.diagnostics {
                    redact_in_place(&mut d.summary);
                    redact_in_place(&mut d.detail);
                }
            }
        }
    )*};
}

replies!(
    get_metadata,
    get_provider_schema,
    validate_provider_config,
    validate_resource_config,
    validate_data_resource_config,
    upgrade_resource_state,
    get_resource_identity_schemas,
    upgrade_resource_identity,
    configure_provider,
    read_resource,
    plan_resource_change,
    apply_resource_change,
    import_resource_state,
    move_resource_state,
    read_data_source,
    validate_ephemeral_resource_config,
    open_ephemeral_resource,
    renew_ephemeral_resource,
    close_ephemeral_resource,
    get_functions,
);

impl Reply for pb::call_function::Response {
    fn add_diagnostics(&mut self, diagnostics: Vec<pb::Diagnostic>) {
        let text = diagnostics.iter().map(|d| format!("{}: {}", d.summary, d.detail)).collect::<Vec<_>>().join("\n");
        self.error = Some(pb::FunctionError { text, function_argument: None });
    }
    fn error_count(&self) -> usize {
        usize::from(self.error.is_some())
    }
    fn redact(&mut self) {
        if let Some(error) = &mut self.error {
            redact_in_place(&mut error.text);
        }
    }
}

impl Reply for pb::stop_provider::Response {
    fn add_diagnostics(&mut self, diagnostics: Vec<pb::Diagnostic>) {
        self.error = diagnostics.into_iter().map(|d| d.summary).collect::<Vec<_>>().join("; ");
    }
    fn error_count(&self) -> usize {
        usize::from(!self.error.is_empty())
    }
    fn redact(&mut self) {
        redact_in_place(&mut self.error);
    }
}

/// Runs one RPC body: a panic becomes an error diagnostic on `fallback()`, and the call is
/// logged with its duration (never with values).
async fn run<R: Reply>(
    rpc: &'static str,
    fallback: impl FnOnce() -> R,
    body: impl Future<Output = R>,
) -> Result<Response<R>, Status> {
    run_for(rpc, "", fallback, body).await
}

/// [`run`] for an RPC about one resource or data source type, which the log lines name.
async fn run_for<R: Reply>(
    rpc: &'static str,
    type_name: &str,
    fallback: impl FnOnce() -> R,
    body: impl Future<Output = R>,
) -> Result<Response<R>, Status> {
    let started = Instant::now();
    // Untyped RPCs log no type name rather than an empty one.
    let type_name = (!type_name.is_empty()).then_some(type_name);
    crate::tf_trace!("rpc started", rpc = rpc, type_name = type_name);
    let mut reply = match guard::catch_panic(body).await {
        Ok(reply) => reply,
        Err(panic) => {
            let mut reply = fallback();
            reply.add_diagnostics(convert::diagnostics(&panic));
            reply
        }
    };
    reply.redact();
    crate::tf_debug!(
        "rpc finished",
        rpc = rpc,
        type_name = type_name,
        duration_us = started.elapsed().as_micros() as u64,
        errors = reply.error_count(),
    );
    Ok(Response::new(reply))
}

#[tonic::async_trait]
impl provider_server::Provider for ProviderService {
    async fn get_metadata(
        &self,
        request: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        let _ = request;
        run("GetMetadata", Default::default, async { self.get_metadata() }).await
    }

    async fn get_provider_schema(
        &self,
        request: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        let _ = request;
        run("GetProviderSchema", Default::default, async { self.get_provider_schema() }).await
    }

    async fn validate_provider_config(
        &self,
        request: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        run("ValidateProviderConfig", Default::default, self.validate_provider_config(request.into_inner())).await
    }

    async fn validate_resource_config(
        &self,
        request: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let request = request.into_inner();
        let type_name = request.type_name.clone();
        run_for("ValidateResourceConfig", &type_name, Default::default, self.validate_resource_config(request)).await
    }

    async fn validate_data_resource_config(
        &self,
        request: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let request = request.into_inner();
        let type_name = request.type_name.clone();
        run_for("ValidateDataResourceConfig", &type_name, Default::default, self.validate_data_resource_config(request))
            .await
    }

    async fn upgrade_resource_state(
        &self,
        request: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let request = request.into_inner();
        let type_name = request.type_name.clone();
        run_for("UpgradeResourceState", &type_name, Default::default, async { self.upgrade_resource_state(request) })
            .await
    }

    async fn get_resource_identity_schemas(
        &self,
        request: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        let _ = request;
        run("GetResourceIdentitySchemas", Default::default, async { Default::default() }).await
    }

    async fn upgrade_resource_identity(
        &self,
        request: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        let type_name = request.into_inner().type_name;
        run("UpgradeResourceIdentity", Default::default, async move {
            pb::upgrade_resource_identity::Response {
                upgraded_identity: None,
                diagnostics: super::rpc::unsupported("Resource identity", &type_name),
            }
        })
        .await
    }

    async fn configure_provider(
        &self,
        request: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        run("ConfigureProvider", Default::default, self.configure_provider(request.into_inner())).await
    }

    async fn read_resource(
        &self,
        request: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let request = request.into_inner();
        let fallback = super::rpc::resource::read_fallback(&request);
        let type_name = request.type_name.clone();
        run_for("ReadResource", &type_name, || fallback, self.read_resource(request)).await
    }

    async fn plan_resource_change(
        &self,
        request: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let request = request.into_inner();
        let type_name = request.type_name.clone();
        run_for("PlanResourceChange", &type_name, Default::default, self.plan_resource_change(request)).await
    }

    async fn apply_resource_change(
        &self,
        request: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let request = request.into_inner();
        let fallback = super::rpc::resource::apply_fallback(&request);
        let type_name = request.type_name.clone();
        run_for("ApplyResourceChange", &type_name, || fallback, self.apply_resource_change(request)).await
    }

    async fn import_resource_state(
        &self,
        request: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let request = request.into_inner();
        let type_name = request.type_name.clone();
        run_for("ImportResourceState", &type_name, Default::default, self.import_resource_state(request)).await
    }

    async fn move_resource_state(
        &self,
        request: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        let type_name = request.into_inner().target_type_name;
        run("MoveResourceState", Default::default, async move {
            pb::move_resource_state::Response {
                diagnostics: super::rpc::unsupported("Moving state between resource types", &type_name),
                ..Default::default()
            }
        })
        .await
    }

    async fn read_data_source(
        &self,
        request: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let request = request.into_inner();
        let type_name = request.type_name.clone();
        run_for("ReadDataSource", &type_name, Default::default, self.read_data_source(request)).await
    }

    async fn validate_ephemeral_resource_config(
        &self,
        request: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        let type_name = request.into_inner().type_name;
        run("ValidateEphemeralResourceConfig", Default::default, async move {
            pb::validate_ephemeral_resource_config::Response {
                diagnostics: super::rpc::unsupported("Ephemeral resources", &type_name),
            }
        })
        .await
    }

    async fn open_ephemeral_resource(
        &self,
        request: Request<pb::open_ephemeral_resource::Request>,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        let type_name = request.into_inner().type_name;
        run("OpenEphemeralResource", Default::default, async move {
            pb::open_ephemeral_resource::Response {
                diagnostics: super::rpc::unsupported("Ephemeral resources", &type_name),
                ..Default::default()
            }
        })
        .await
    }

    async fn renew_ephemeral_resource(
        &self,
        request: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        let type_name = request.into_inner().type_name;
        run("RenewEphemeralResource", Default::default, async move {
            pb::renew_ephemeral_resource::Response {
                diagnostics: super::rpc::unsupported("Ephemeral resources", &type_name),
                ..Default::default()
            }
        })
        .await
    }

    async fn close_ephemeral_resource(
        &self,
        request: Request<pb::close_ephemeral_resource::Request>,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        let type_name = request.into_inner().type_name;
        run("CloseEphemeralResource", Default::default, async move {
            pb::close_ephemeral_resource::Response {
                diagnostics: super::rpc::unsupported("Ephemeral resources", &type_name),
            }
        })
        .await
    }

    async fn get_functions(
        &self,
        request: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        let _ = request;
        run("GetFunctions", Default::default, async { Default::default() }).await
    }

    async fn call_function(
        &self,
        request: Request<pb::call_function::Request>,
    ) -> Result<Response<pb::call_function::Response>, Status> {
        let name = request.into_inner().name;
        run("CallFunction", Default::default, async move {
            let mut reply = pb::call_function::Response::default();
            reply.add_diagnostics(super::rpc::unsupported("Provider functions", &name));
            reply
        })
        .await
    }

    async fn stop_provider(
        &self,
        request: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        let _ = request;
        run("StopProvider", Default::default, async {
            self.stops.stop();
            crate::tf_info!("stop requested: cancelling operations in flight");
            pb::stop_provider::Response::default()
        })
        .await
    }
}
