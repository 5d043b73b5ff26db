//! The protocol server end to end over real sockets: a small fake provider served in-process
//! (with AutoMTLS, as Terraform runs it), driven by the generated tonic clients.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tonic::transport::{Channel, Endpoint, Uri};

use terraform_provider_gitopsbridge::protocol::handshake::{Address, Settings, Transport};
use terraform_provider_gitopsbridge::protocol::serve::{Running, start};
use terraform_provider_gitopsbridge::protocol::tls::{self, Identity};
use terraform_provider_gitopsbridge::protocol::wire::plugin::grpc_controller_client::GrpcControllerClient;
use terraform_provider_gitopsbridge::protocol::wire::tfplugin6 as pb;
use terraform_provider_gitopsbridge::protocol::wire::tfplugin6::provider_client::ProviderClient;
use terraform_provider_gitopsbridge::protocol::{
    ApplyError, Attribute, AttributePath, Block, Context, DataSource, Diagnostics, NestedBlock, Plan, PlanRequest,
    Provider, Resource, Schema, Type, Value, msgpack, plan,
};

// ---------------------------------------------------------------------------------------------
// The fake provider

/// Operations of `test_echo` that panic or hang, chosen by the `mode` attribute.
const PANIC: &str = "panic";
const SLOW: &str = "slow";
const FAIL: &str = "fail";
/// Create writes, then waits for StopProvider and reports the written object with an error.
const WRITE_THEN_WAIT: &str = "write-then-wait";

struct Echo {
    slow_started: Arc<AtomicUsize>,
}

fn echo_block() -> Block {
    Block::new("Echoes its configuration.")
        .attribute(Attribute::computed("id", Type::String, "Set on create."))
        .attribute(Attribute::required("name", Type::String, ""))
        .attribute(Attribute::optional("mode", Type::String, ""))
        .attribute(Attribute::optional("token_wo", Type::String, "").sensitive().write_only())
        .attribute(Attribute::optional("tags", Type::map(Type::String), ""))
        .block(NestedBlock::at_most_one(
            "settings",
            Block::new("").attribute(Attribute::optional_computed("x", Type::String, "")),
        ))
}

fn mode(value: &Value) -> &str {
    value.get("mode").as_str().unwrap_or("")
}

#[async_trait]
impl Resource for Echo {
    fn type_name(&self) -> &'static str {
        "test_echo"
    }

    fn schema(&self) -> Schema {
        Schema::new(1, echo_block())
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Result<(), Diagnostics> {
        if config.get("name").as_str() == Some("") {
            return Err(Diagnostics::error_at(AttributePath::root("name"), "Empty name", "Give it a name."));
        }
        Ok(())
    }

    async fn plan(&self, ctx: &Context, request: PlanRequest<'_>) -> Result<Plan, Diagnostics> {
        let mut planned = request.proposed_new_state;
        match mode(&planned) {
            PANIC => panic!("plan exploded"),
            SLOW => {
                self.slow_started.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            _ => {}
        }
        ctx.warn(None, "Echo warning", "planned");
        plan::mark_unset_computed_unknown(&echo_block(), &mut planned);
        let requires_replace = if request.prior_state.is_null() { vec![] } else { vec![AttributePath::root("name")] };
        Ok(Plan { planned_state: planned, requires_replace })
    }

    async fn create(&self, ctx: &Context, planned: Value, config: &Value) -> Result<Value, ApplyError> {
        if mode(&planned) == FAIL {
            return Err(Diagnostics::error("Create failed", "as asked").into());
        }
        let mut state = planned;
        state.set("id", Value::from(format!("id-{}", state.get("name").as_str().unwrap_or_default())));
        if mode(&state) == WRITE_THEN_WAIT {
            self.slow_started.fetch_add(1, Ordering::SeqCst);
            ctx.cancelled().await;
            state.set("token_wo", config.get("token_wo").clone());
            return Err(ApplyError::after_write(state, Diagnostics::error("Not awaited", "stopped after writing")));
        }
        // The write-only value reaches create through the configuration; echo it to prove the
        // server strips it from state.
        state.set("token_wo", config.get("token_wo").clone());
        if let Some(settings) = state.get_mut("settings").and_then(|s| match s {
            Value::List(items) => items.first_mut(),
            _ => None,
        }) && settings.get("x").is_unknown()
        {
            settings.set("x", Value::from("computed-x"));
        }
        Ok(state)
    }

    async fn read(&self, _ctx: &Context, state: Value) -> Result<Option<Value>, Diagnostics> {
        match state.get("name").as_str() {
            Some("gone") => Ok(None),
            _ => Ok(Some(state)),
        }
    }

    async fn update(
        &self,
        _ctx: &Context,
        _prior: Value,
        planned: Value,
        _config: &Value,
    ) -> Result<Value, ApplyError> {
        match mode(&planned) {
            FAIL => Err(Diagnostics::error("Update failed", "as asked").into()),
            PANIC => panic!("update exploded"),
            _ => Ok(planned),
        }
    }

    async fn delete(&self, _ctx: &Context, prior: Value) -> Result<(), ApplyError> {
        if mode(&prior) == FAIL { Err(Diagnostics::error("Delete failed", "as asked").into()) } else { Ok(()) }
    }

    async fn import(&self, _ctx: &Context, id: &str) -> Result<Value, Diagnostics> {
        Ok(Value::object([("id", Value::from(id)), ("name", Value::from(id.trim_start_matches("id-")))]))
    }

    fn upgrade_state(&self, version: i64, mut state: serde_json::Value) -> Result<serde_json::Value, Diagnostics> {
        if version == 0 {
            // Version 0 called the name "title".
            let title = state["title"].take();
            state["name"] = title;
        }
        Ok(state)
    }
}

struct Lookup;

#[async_trait]
impl DataSource for Lookup {
    fn type_name(&self) -> &'static str {
        "test_lookup"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new("").attribute(Attribute::required("key", Type::String, "")).attribute(Attribute::computed(
                "value",
                Type::String,
                "",
            )),
        )
    }

    async fn read(&self, _ctx: &Context, config: &Value) -> Result<Value, Diagnostics> {
        let mut state = config.clone();
        state.set("value", Value::from(format!("value-of-{}", config.get("key").as_str().unwrap_or_default())));
        Ok(state)
    }
}

struct TestProvider {
    slow_started: Arc<AtomicUsize>,
}

#[async_trait]
impl Provider for TestProvider {
    fn type_name(&self) -> &'static str {
        "test"
    }

    fn schema(&self) -> Schema {
        Schema::new(0, Block::new("").attribute(Attribute::optional("endpoint", Type::String, "")))
    }

    async fn configure(&self, _ctx: &Context, config: &Value) -> Result<(), Diagnostics> {
        match config.get("endpoint") {
            Value::Unknown | Value::Null => Ok(()),
            Value::String(s) if s.starts_with("http") => Ok(()),
            _ => Err(Diagnostics::error_at(AttributePath::root("endpoint"), "Bad endpoint", "")),
        }
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(Echo { slow_started: self.slow_started.clone() })]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![Arc::new(Lookup)]
    }
}

// ---------------------------------------------------------------------------------------------
// Harness

struct Plugin {
    running: Option<Running>,
    terraform: Identity,
    _dir: tempfile::TempDir,
    slow_started: Arc<AtomicUsize>,
}

impl Plugin {
    async fn start_with(transport: impl FnOnce(&std::path::Path) -> Transport) -> Plugin {
        tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let terraform = Identity::generate().unwrap();
        let settings = Settings { transport: transport(dir.path()), client_cert_pem: Some(terraform.cert_pem()) };
        let slow_started = Arc::new(AtomicUsize::new(0));
        let provider = Arc::new(TestProvider { slow_started: slow_started.clone() });
        let running = start(provider, &settings).await.unwrap();
        Plugin { running: Some(running), terraform, _dir: dir, slow_started }
    }

    async fn start() -> Plugin {
        Self::start_with(|dir| Transport::Unix { dir: dir.to_path_buf(), tcp_fallback: (10000, 25000) }).await
    }

    fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    async fn channel_as(&self, client: &Identity) -> Result<Channel, tonic::transport::Error> {
        let running = self.running();
        tls_channel(running.address.clone(), client, running.server_cert.clone().unwrap()).await
    }

    async fn client(&self) -> ProviderClient<Channel> {
        ProviderClient::new(self.channel_as(&self.terraform).await.unwrap())
    }
}

/// A channel as Terraform opens it: TLS with its client certificate, trusting only the
/// certificate from the handshake line, ALPN h2.
async fn tls_channel(
    address: Address,
    client: &Identity,
    server_cert: CertificateDer<'static>,
) -> Result<Channel, tonic::transport::Error> {
    let connector = tokio_rustls::TlsConnector::from(tls::client_config(client, server_cert).unwrap());
    channel_over(address, Some(connector)).await
}

fn echo_type() -> Type {
    echo_block().value_type()
}

fn dv(value: &Value, ty: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue { msgpack: msgpack::encode(value, ty).unwrap(), json: vec![] })
}

fn undv(value: &Option<pb::DynamicValue>, ty: &Type) -> Value {
    msgpack::decode(&value.as_ref().expect("a value").msgpack, ty).unwrap()
}

fn errors(diagnostics: &[pb::Diagnostic]) -> Vec<&pb::Diagnostic> {
    diagnostics.iter().filter(|d| d.severity == pb::diagnostic::Severity::Error as i32).collect()
}

fn config(name: &str, mode: &str) -> Value {
    Value::object([
        ("id", Value::Null),
        ("name", Value::from(name)),
        ("mode", if mode.is_empty() { Value::Null } else { Value::from(mode) }),
        ("token_wo", Value::from("s3cret")),
        ("tags", Value::object([("team", Value::from("platform"))])),
        ("settings", Value::List(vec![Value::object([("x", Value::Null)])])),
    ])
}

fn write_only_ok() -> Option<pb::ClientCapabilities> {
    Some(pb::ClientCapabilities { deferral_allowed: false, write_only_attributes_allowed: true })
}

async fn plan(
    client: &mut ProviderClient<Channel>,
    prior: &Value,
    config: &Value,
) -> pb::plan_resource_change::Response {
    let ty = echo_type();
    let mut proposed = config.clone();
    if !prior.is_null() {
        proposed.set("id", prior.get("id").clone());
    }
    proposed.set("token_wo", Value::Null);
    client
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "test_echo".into(),
            prior_state: dv(prior, &ty),
            proposed_new_state: dv(&proposed, &ty),
            config: dv(config, &ty),
            prior_private: b"private".to_vec(),
            client_capabilities: write_only_ok(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

async fn apply(
    client: &mut ProviderClient<Channel>,
    prior: &Value,
    planned: &Value,
    config: &Value,
) -> pb::apply_resource_change::Response {
    let ty = echo_type();
    client
        .apply_resource_change(pb::apply_resource_change::Request {
            type_name: "test_echo".into(),
            prior_state: dv(prior, &ty),
            planned_state: dv(planned, &ty),
            config: dv(config, &ty),
            planned_private: b"private".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn schema_and_metadata_describe_the_provider() {
    let plugin = Plugin::start().await;
    let mut client = plugin.client().await;

    let schema = client.get_provider_schema(pb::get_provider_schema::Request {}).await.unwrap().into_inner();
    let caps = schema.server_capabilities.unwrap();
    assert!(caps.get_provider_schema_optional && !caps.plan_destroy && !caps.move_resource_state);
    let echo = &schema.resource_schemas["test_echo"];
    assert_eq!(echo.version, 1);
    let block = echo.block.as_ref().unwrap();
    let token = block.attributes.iter().find(|a| a.name == "token_wo").unwrap();
    assert!(token.write_only && token.sensitive && token.optional);
    assert_eq!(block.block_types[0].type_name, "settings");
    assert_eq!(block.block_types[0].max_items, 1);
    assert!(schema.data_source_schemas.contains_key("test_lookup"));
    assert!(schema.provider.is_some());
    // Asked again: the same (cached) answer.
    let again = client.get_provider_schema(pb::get_provider_schema::Request {}).await.unwrap().into_inner();
    assert_eq!(again, schema);

    let metadata = client.get_metadata(pb::get_metadata::Request {}).await.unwrap().into_inner();
    assert_eq!(metadata.resources[0].type_name, "test_echo");
    assert_eq!(metadata.data_sources[0].type_name, "test_lookup");
}

#[tokio::test]
async fn a_resource_lives_through_plan_apply_read_update_and_destroy() {
    let plugin = Plugin::start().await;
    let mut client = plugin.client().await;
    let ty = echo_type();
    let config = config("web", "");

    // Create.
    let planned = plan(&mut client, &Value::Null, &config).await;
    assert!(errors(&planned.diagnostics).is_empty(), "{:?}", planned.diagnostics);
    assert_eq!(planned.diagnostics[0].summary, "Echo warning");
    assert_eq!(planned.planned_private, b"private");
    let planned_state = undv(&planned.planned_state, &ty);
    assert!(planned_state.get("id").is_unknown());
    assert!(planned_state.get("token_wo").is_null());
    assert!(planned_state.get("settings").single_block().unwrap().get("x").is_unknown());

    let created = apply(&mut client, &Value::Null, &planned_state, &config).await;
    assert!(created.diagnostics.is_empty(), "{:?}", created.diagnostics);
    let state = undv(&created.new_state, &ty);
    assert_eq!(state.get("id").as_str(), Some("id-web"));
    assert!(state.get("token_wo").is_null(), "write-only values never reach state");
    assert_eq!(state.get("settings").single_block().unwrap().get("x").as_str(), Some("computed-x"));
    assert_eq!(created.private, b"private");

    // Read.
    let read = client
        .read_resource(pb::read_resource::Request {
            type_name: "test_echo".into(),
            current_state: dv(&state, &ty),
            private: b"kept".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(undv(&read.new_state, &ty), state);
    assert_eq!(read.private, b"kept");

    // Update: a failed update keeps the prior state.
    let mut failing = config.clone();
    failing.set("mode", Value::from(FAIL));
    let planned = plan(&mut client, &state, &failing).await;
    assert_eq!(planned.requires_replace.len(), 1);
    let planned_state = undv(&planned.planned_state, &ty);
    let failed = apply(&mut client, &state, &planned_state, &failing).await;
    assert_eq!(errors(&failed.diagnostics)[0].summary, "Update failed");
    assert_eq!(undv(&failed.new_state, &ty), state);

    // Destroy: the plan is the null proposal, answered without the resource.
    let destroy_plan = client
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "test_echo".into(),
            prior_state: dv(&state, &ty),
            proposed_new_state: dv(&Value::Null, &ty),
            config: dv(&Value::Null, &ty),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(destroy_plan.diagnostics.is_empty());
    assert!(undv(&destroy_plan.planned_state, &ty).is_null());
    let deleted = apply(&mut client, &state, &Value::Null, &Value::Null).await;
    assert!(deleted.diagnostics.is_empty());
    assert!(undv(&deleted.new_state, &ty).is_null());

    // A failed delete keeps the state.
    let mut undeletable = state.clone();
    undeletable.set("mode", Value::from(FAIL));
    let kept = apply(&mut client, &undeletable, &Value::Null, &Value::Null).await;
    assert_eq!(errors(&kept.diagnostics)[0].summary, "Delete failed");
    assert_eq!(undv(&kept.new_state, &ty), undeletable);

    // A failed create leaves nothing.
    let mut broken = config.clone();
    broken.set("mode", Value::from(FAIL));
    let failed = apply(&mut client, &Value::Null, &broken, &broken).await;
    assert_eq!(errors(&failed.diagnostics)[0].summary, "Create failed");
    assert!(undv(&failed.new_state, &ty).is_null());
}

#[tokio::test]
async fn an_object_gone_remotely_reads_as_null() {
    let plugin = Plugin::start().await;
    let mut client = plugin.client().await;
    let ty = echo_type();
    let state = Value::object([("id", Value::from("id-gone")), ("name", Value::from("gone"))]);
    let read = client
        .read_resource(pb::read_resource::Request {
            type_name: "test_echo".into(),
            current_state: dv(&state, &ty),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(read.diagnostics.is_empty());
    assert!(undv(&read.new_state, &ty).is_null());
}

#[tokio::test]
async fn import_returns_one_resource_of_the_type() {
    let plugin = Plugin::start().await;
    let mut client = plugin.client().await;
    let imported = client
        .import_resource_state(pb::import_resource_state::Request {
            type_name: "test_echo".into(),
            id: "id-db".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(imported.diagnostics.is_empty());
    assert_eq!(imported.imported_resources.len(), 1);
    let resource = &imported.imported_resources[0];
    assert_eq!(resource.type_name, "test_echo");
    let state = undv(&resource.state, &echo_type());
    assert_eq!(state.get("name").as_str(), Some("db"));
    assert!(state.get("tags").is_null());
}

#[tokio::test]
async fn validation_reports_paths_and_refuses_write_only_for_old_clients() {
    let plugin = Plugin::start().await;
    let mut client = plugin.client().await;
    let ty = echo_type();
    let validate = |config: Value, caps: Option<pb::ClientCapabilities>| {
        let mut client = client.clone();
        let ty = ty.clone();
        async move {
            client
                .validate_resource_config(pb::validate_resource_config::Request {
                    type_name: "test_echo".into(),
                    config: dv(&config, &ty),
                    client_capabilities: caps,
                })
                .await
                .unwrap()
                .into_inner()
                .diagnostics
        }
    };

    assert!(validate(config("ok", ""), write_only_ok()).await.is_empty());

    let old_terraform = validate(config("ok", ""), None).await;
    assert_eq!(old_terraform.len(), 1);
    let steps = &old_terraform[0].attribute.as_ref().unwrap().steps;
    assert_eq!(steps[0].selector, Some(pb::attribute_path::step::Selector::AttributeName("token_wo".into())));

    let empty = validate(config("", ""), write_only_ok()).await;
    assert_eq!(empty[0].summary, "Empty name");

    let unknown_type = client
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "test_nope".into(),
            config: dv(&Value::Null, &Type::String),
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unknown_type.diagnostics[0].summary, "Unknown resource type");
}

#[tokio::test]
async fn provider_config_may_be_unknown_and_errors_have_paths() {
    let plugin = Plugin::start().await;
    let mut client = plugin.client().await;
    let ty = Type::Object([("endpoint".to_string(), Type::String)].into());
    let configure = |endpoint: Value| {
        let mut client = client.clone();
        let ty = ty.clone();
        async move {
            client
                .configure_provider(pb::configure_provider::Request {
                    terraform_version: "1.11.4".into(),
                    config: dv(&Value::object([("endpoint", endpoint)]), &ty),
                    client_capabilities: None,
                })
                .await
                .unwrap()
                .into_inner()
                .diagnostics
        }
    };
    assert!(configure(Value::Unknown).await.is_empty());
    assert!(configure(Value::from("http://x")).await.is_empty());
    let bad = configure(Value::from("ftp://x")).await;
    assert_eq!(bad[0].summary, "Bad endpoint");
    assert!(bad[0].attribute.is_some());

    let validated = client
        .validate_provider_config(pb::validate_provider_config::Request {
            config: dv(&Value::object([("endpoint", Value::Null)]), &ty),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(validated.diagnostics.is_empty());
}

#[tokio::test]
async fn data_sources_read() {
    let plugin = Plugin::start().await;
    let mut client = plugin.client().await;
    let ty = Type::Object([("key".to_string(), Type::String), ("value".to_string(), Type::String)].into());
    let read = client
        .read_data_source(pb::read_data_source::Request {
            type_name: "test_lookup".into(),
            config: dv(&Value::object([("key", Value::from("k"))]), &ty),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(read.diagnostics.is_empty());
    assert_eq!(undv(&read.state, &ty).get("value").as_str(), Some("value-of-k"));
}

#[tokio::test]
async fn stored_state_is_upgraded_and_removed_attributes_are_dropped() {
    let plugin = Plugin::start().await;
    let mut client = plugin.client().await;
    let stored = serde_json::json!({"id": "id-old", "title": "old", "removed_long_ago": [1, 2]});
    let upgraded = client
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: "test_echo".into(),
            version: 0,
            raw_state: Some(pb::RawState { json: serde_json::to_vec(&stored).unwrap(), flatmap: Default::default() }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(upgraded.diagnostics.is_empty(), "{:?}", upgraded.diagnostics);
    let state = undv(&upgraded.upgraded_state, &echo_type());
    assert_eq!(state.get("name").as_str(), Some("old"));
    assert_eq!(state.get("id").as_str(), Some("id-old"));
    assert!(state.get("tags").is_null());

    let flatmap = client
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: "test_echo".into(),
            version: 0,
            raw_state: Some(pb::RawState { json: vec![], flatmap: [("id".to_string(), "x".to_string())].into() }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(errors(&flatmap.diagnostics)[0].summary, "Unsupported state format");
}

#[tokio::test]
async fn a_panic_becomes_a_diagnostic_and_the_server_keeps_serving() {
    let plugin = Plugin::start().await;
    let mut client = plugin.client().await;
    let ty = echo_type();

    let exploded = plan(&mut client, &Value::Null, &config("boom", PANIC)).await;
    let errs = errors(&exploded.diagnostics);
    assert_eq!(errs[0].summary, "The provider hit an internal error");
    assert!(errs[0].detail.contains("plan exploded"));
    assert!(!errs[0].detail.contains("stack backtrace"));

    // A panicking update returns the prior state untouched.
    let prior = Value::object([("id", Value::from("id-p")), ("name", Value::from("p"))]);
    let mut planned = prior.clone();
    planned.set("mode", Value::from(PANIC));
    let applied = apply(&mut client, &prior, &planned, &planned).await;
    assert!(errors(&applied.diagnostics)[0].detail.contains("update exploded"));
    assert_eq!(undv(&applied.new_state, &ty), msgpack::decode(&msgpack::encode(&prior, &ty).unwrap(), &ty).unwrap());

    let fine = plan(&mut client, &Value::Null, &config("fine", "")).await;
    assert!(errors(&fine.diagnostics).is_empty());
}

#[tokio::test]
async fn stop_provider_cancels_calls_in_flight_and_the_server_keeps_serving() {
    let plugin = Plugin::start().await;
    let client = plugin.client().await;

    let mut slow_client = client.clone();
    let slow = tokio::spawn(async move { plan(&mut slow_client, &Value::Null, &config("slow", SLOW)).await });
    while plugin.slow_started.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stopped = client.clone().stop_provider(pb::stop_provider::Request {}).await.unwrap().into_inner();
    assert_eq!(stopped.error, "");

    let cancelled = tokio::time::timeout(Duration::from_secs(5), slow).await.expect("cancelled promptly").unwrap();
    assert_eq!(errors(&cancelled.diagnostics)[0].summary, "Operation cancelled");

    // New calls run normally after a stop.
    let fine = plan(&mut client.clone(), &Value::Null, &config("after", "")).await;
    assert!(errors(&fine.diagnostics).is_empty());
}

#[tokio::test]
async fn stop_provider_lets_an_apply_finish_and_its_written_state_is_kept_with_the_error() {
    let plugin = Plugin::start().await;
    let client = plugin.client().await;
    let ty = echo_type();

    let mut planned = config("written", WRITE_THEN_WAIT);
    planned.set("id", Value::Unknown);
    let (mut apply_client, cfg) = (client.clone(), config("written", WRITE_THEN_WAIT));
    let applying = tokio::spawn(async move { apply(&mut apply_client, &Value::Null, &planned, &cfg).await });
    while plugin.slow_started.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    client.clone().stop_provider(pb::stop_provider::Request {}).await.unwrap();

    // The apply was not cut off by the stop: the resource's own answer comes back, the state
    // it wrote included, without the write-only value.
    let applied = tokio::time::timeout(Duration::from_secs(5), applying).await.expect("answered").unwrap();
    let errs = errors(&applied.diagnostics);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].summary, "Not awaited");
    let state = undv(&applied.new_state, &ty);
    assert_eq!(state.get("id").as_str(), Some("id-written"));
    assert!(state.get("token_wo").is_null());

    // A failure before anything was written still answers with the prior (here: null) state.
    let failed = apply(&mut client.clone(), &Value::Null, &config("nothing", FAIL), &config("nothing", FAIL)).await;
    assert_eq!(errors(&failed.diagnostics)[0].summary, "Create failed");
    assert!(undv(&failed.new_state, &ty).is_null());
}

#[tokio::test]
async fn unsupported_rpcs_answer_with_diagnostics() {
    let plugin = Plugin::start().await;
    let mut client = plugin.client().await;
    let functions = client.get_functions(pb::get_functions::Request {}).await.unwrap().into_inner();
    assert!(functions.functions.is_empty() && functions.diagnostics.is_empty());
    let call = client
        .call_function(pb::call_function::Request { name: "f".into(), arguments: vec![] })
        .await
        .unwrap()
        .into_inner();
    assert!(call.error.is_some());
    let open = client
        .open_ephemeral_resource(pb::open_ephemeral_resource::Request { type_name: "e".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(errors(&open.diagnostics).len(), 1);
    let moved = client
        .move_resource_state(pb::move_resource_state::Request {
            target_type_name: "test_echo".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(errors(&moved.diagnostics).len(), 1);
    let identities =
        client.get_resource_identity_schemas(pb::get_resource_identity_schemas::Request {}).await.unwrap().into_inner();
    assert!(identities.identity_schemas.is_empty());
}

#[tokio::test]
async fn a_client_with_another_certificate_is_rejected() {
    let plugin = Plugin::start().await;
    let stranger = Identity::generate().unwrap();
    let rejected = match plugin.channel_as(&stranger).await {
        Err(_) => true,
        Ok(channel) => ProviderClient::new(channel).get_metadata(pb::get_metadata::Request {}).await.is_err(),
    };
    assert!(rejected);
    // Terraform's own certificate still works.
    let mut client = plugin.client().await;
    assert!(client.get_metadata(pb::get_metadata::Request {}).await.is_ok());
}

/// A connection, with or without TLS.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}

/// A channel to `address` over `tls` (plain text without), as a client that is not Terraform
/// might open it.
async fn channel_over(
    address: Address,
    tls: Option<tokio_rustls::TlsConnector>,
) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let (address, tls) = (address.clone(), tls.clone());
            async move {
                let conn = terraform_provider_gitopsbridge::protocol::listener::connect(&address).await?;
                let stream: Box<dyn Stream> = match tls {
                    Some(tls) => {
                        let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
                        Box::new(tls.connect(name, conn).await?)
                    }
                    None => Box::new(conn),
                };
                Ok::<_, io::Error>(TokioIo::new(stream))
            }
        }))
        .await
}

/// True when the plugin refuses the channel: at the handshake or at the first call, and
/// promptly (a refusal that hangs would hang Terraform's neighbours too).
async fn refused(channel: Result<Channel, tonic::transport::Error>) -> bool {
    let attempt = async {
        match channel {
            Err(_) => true,
            Ok(channel) => ProviderClient::new(channel).get_metadata(pb::get_metadata::Request {}).await.is_err(),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), attempt).await.expect("the plugin answers or closes within 10 s")
}

#[tokio::test]
async fn a_client_without_a_certificate_or_without_tls_is_rejected_and_terraform_is_still_served() {
    let plugin = Plugin::start().await;
    let server_cert = plugin.running().server_cert.clone().unwrap();
    // TLS that trusts the plugin's certificate but presents none of its own.
    let verifier = tls::PinnedCertificates::new(vec![server_cert]);
    let mut config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
    config.alpn_protocols = vec![tls::ALPN_H2.to_vec()];
    let anonymous = tokio_rustls::TlsConnector::from(Arc::new(config));
    assert!(refused(channel_over(plugin.running().address.clone(), Some(anonymous)).await).await);
    // gRPC in plain text on the plugin's socket.
    assert!(refused(channel_over(plugin.running().address.clone(), None).await).await);
    // Terraform's own certificate still works, on a new connection too.
    let mut client = plugin.client().await;
    assert!(client.get_metadata(pb::get_metadata::Request {}).await.is_ok());
}

#[tokio::test]
async fn serves_over_tcp_too() {
    let plugin = Plugin::start_with(|_| Transport::Tcp { min_port: 15000, max_port: 15999 }).await;
    let Address::Tcp(addr) = plugin.running().address.clone() else { panic!("expected TCP") };
    assert!(addr.ip().is_loopback());
    assert!(plugin.running().handshake_line().starts_with(&format!("1|6|tcp|{addr}|grpc|")));
    let mut client = plugin.client().await;
    assert!(client.get_metadata(pb::get_metadata::Request {}).await.is_ok());
}

#[tokio::test]
async fn health_reports_the_plugin_serving() {
    use tonic_health_client::*;
    let plugin = Plugin::start().await;
    let channel = plugin.channel_as(&plugin.terraform).await.unwrap();
    let status = check(channel, "plugin").await;
    assert_eq!(status, SERVING);
}

/// A minimal gRPC health client: the messages are two fields, not worth another dependency.
mod tonic_health_client {
    use tonic::transport::Channel;

    pub const SERVING: i32 = 1;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HealthCheckRequest {
        #[prost(string, tag = "1")]
        pub service: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HealthCheckResponse {
        #[prost(int32, tag = "1")]
        pub status: i32,
    }

    pub async fn check(channel: Channel, service: &str) -> i32 {
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.unwrap();
        let path = tonic::codegen::http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
        let request = tonic::Request::new(HealthCheckRequest { service: service.to_string() });
        let response: tonic::Response<HealthCheckResponse> =
            grpc.unary(request, path, tonic_prost::ProstCodec::default()).await.unwrap();
        response.into_inner().status
    }
}

#[tokio::test]
async fn shutdown_stops_the_server_and_removes_the_socket() {
    let mut plugin = Plugin::start().await;
    let Address::Unix(path) = plugin.running().address.clone() else { panic!("expected unix") };
    assert!(path.exists());
    let line = plugin.running().handshake_line();
    assert!(line.starts_with(&format!("1|6|unix|{}|grpc|", path.display())));
    assert!(!line.ends_with('|'), "the certificate field is set under AutoMTLS");

    let channel = plugin.channel_as(&plugin.terraform).await.unwrap();
    // Terraform keeps its stdio stream open; it must not hold up the exit.
    let mut stdio = terraform_provider_gitopsbridge::protocol::wire::plugin::grpc_stdio_client::GrpcStdioClient::new(
        channel.clone(),
    );
    let stream = stdio.stream_stdio(()).await.unwrap().into_inner();
    GrpcControllerClient::new(channel)
        .shutdown(terraform_provider_gitopsbridge::protocol::wire::plugin::Empty {})
        .await
        .unwrap();
    let running = plugin.running.take().unwrap();
    tokio::time::timeout(Duration::from_secs(5), running.wait()).await.expect("stopped");
    drop(stream);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!path.exists(), "socket file removed");
}

// ---------------------------------------------------------------------------------------------
// The built binary, started the way Terraform starts it.

const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-gitopsbridge");

#[test]
fn run_by_hand_it_explains_itself_and_fails() {
    let output = std::process::Command::new(BINARY).env_remove("TF_PLUGIN_MAGIC_COOKIE").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a program to run by hand"), "{stderr}");
}

#[test]
fn an_old_protocol_only_terraform_is_refused() {
    let output = std::process::Command::new(BINARY)
        .env("TF_PLUGIN_MAGIC_COOKIE", terraform_provider_gitopsbridge::protocol::handshake::MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("speaks only version 6"));
}

#[tokio::test]
async fn the_binary_prints_one_handshake_line_and_exits_on_shutdown() {
    use tokio::io::AsyncBufReadExt;
    tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let terraform = Identity::generate().unwrap();
    let mut child = tokio::process::Command::new(BINARY)
        .env("TF_PLUGIN_MAGIC_COOKIE", terraform_provider_gitopsbridge::protocol::handshake::MAGIC_COOKIE_VALUE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .env("PLUGIN_UNIX_SOCKET_DIR", dir.path())
        .env("PLUGIN_CLIENT_CERT", terraform.cert_pem())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), stdout.read_line(&mut line)).await.unwrap().unwrap();
    let parts: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(&parts[..3], &["1", "6", "unix"], "{line}");
    assert_eq!(parts[4], "grpc");
    use base64::Engine;
    let cert = base64::engine::general_purpose::STANDARD_NO_PAD.decode(parts[5]).unwrap();

    let address = Address::Unix(parts[3].into());
    let channel = tls_channel(address, &terraform, CertificateDer::from(cert)).await.unwrap();
    let schema = ProviderClient::new(channel.clone())
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.provider.is_some());
    assert!(errors(&schema.diagnostics).is_empty());
    GrpcControllerClient::new(channel)
        .shutdown(terraform_provider_gitopsbridge::protocol::wire::plugin::Empty {})
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait()).await.expect("exits").unwrap();
    assert!(status.success());
    assert!(!std::path::Path::new(parts[3]).exists(), "socket removed");
}
