//! A Kubernetes API test server for the provider's end-to-end tests.
//!
//! It serves HTTPS on 127.0.0.1 with a CA generated at start and keeps the
//! real API server's semantics for what the provider uses: Namespaces,
//! Secrets and (with Argo CD) ApplicationSets and Applications; server-side
//! apply with managedFields and conflicts; label and field selectors; `Status`
//! errors; discovery; finalizers. With Argo CD it also plays a small Argo CD:
//! an ApplicationSet controller and scripted Application status (README.md).
//! Tests inspect and change the store directly, count requests and inject faults.
//!
//! ```no_run
//! # async fn demo() -> kube_test_server::Result<()> {
//! use kube_test_server::{Options, TestServer};
//! let server = TestServer::start(Options::default().with_argocd()).await?;
//! server.write_kubeconfig("/tmp/kubeconfig", "hub")?;
//! # Ok(()) }
//! ```

mod api;
mod application_controller;
mod applicationset_controller;
mod apply;
mod control;
mod crds;
mod discovery;
mod error;
mod faults;
mod fields;
mod holds;
mod http;
mod kubeconfig;
mod managed;
mod patch;
mod rbac;
mod requests;
mod resources;
mod routes;
mod rules;
mod schema;
mod selector;
mod status;
mod store;
mod templates;
mod tls;
mod validate;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

pub use crate::api::CONTROLLER as CONTROLLER_MANAGER;
pub use crate::application_controller::{
    APPLICATION_CONTROLLER, AbandonedResources, AppPhase, AppScript, ArgoCdOptions, NamedScript, REFRESH_ANNOTATION,
};
pub use crate::crds::{
    APPLICATION_CRD_FILE, APPLICATIONSET_CRD_FILE, ArgoCdCrds, CrdLookup, CrdOrigin, DOWNLOAD_DIR, argocd_crds,
};
pub use crate::error::{Error, Result};
pub use crate::faults::{FaultAction, FaultRule};
pub use crate::holds::Holds;
pub use crate::rbac::{AccessRule, RESTRICTED_USER, RestrictedToken};
pub use crate::requests::{RecordedRequest, RequestStats};
pub use crate::resources::Resource;
pub use crate::status::{ApiError, Cause};

use crate::api::{Api, DeleteOptions, Deleted, PatchBody, WriteOptions};
use crate::application_controller::ArgoCd;
use crate::faults::Faults;
use crate::http::{Shared, lock};
use crate::schema::{Crd, Schemas};
use crate::store::ObjectKey;

/// The finalizer Argo CD puts on objects whose resources it cleans up.
pub const ARGOCD_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// Where Argo CD's ApplicationSet CRD is, looked up as [`argocd_crds`] does; when it is found nowhere,
/// the path it would have beside the checkout (which does not exist). Prefer
/// [`Options::with_argocd`], which runs without validation instead of failing.
pub fn argocd_crd_path() -> PathBuf {
    argocd_crds().applicationset.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/argocd").join(APPLICATIONSET_CRD_FILE)
    })
}

#[derive(Clone, Debug)]
pub struct Options {
    /// 0 picks a free port.
    pub port: u16,
    /// Requests need `Authorization: Bearer <token>`.
    pub token: String,
    /// Created at start.
    pub namespaces: Vec<String>,
    /// Argo CD's ApplicationSet CRD; `None` (with the two fields below unset) means "Argo CD not
    /// installed".
    pub applicationset_crd: Option<PathBuf>,
    /// Argo CD's Application CRD, for validating Applications.
    pub application_crd: Option<PathBuf>,
    /// Argo CD is installed even where a CRD file is missing: that kind accepts any object.
    pub argocd_without_crds: bool,
    /// The Argo CD stand-in: ApplicationSet controller and Application status.
    pub argocd: ArgoCdOptions,
    /// Finalizers the simulated controller adds to each new ApplicationSet.
    pub applicationset_finalizers: Vec<String>,
    /// Release a deleting object's finalizers once it was read this often.
    pub release_finalizers_after_gets: Option<u32>,
    /// More tokens, each allowed only what its rules grant (`token` is allowed everything).
    pub restricted_tokens: Vec<RestrictedToken>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            port: 0,
            token: "kube-test-server-token".into(),
            namespaces: vec!["default".into(), "kube-system".into(), "argocd".into()],
            applicationset_crd: None,
            application_crd: None,
            argocd_without_crds: false,
            argocd: ArgoCdOptions::default(),
            applicationset_finalizers: Vec::new(),
            release_finalizers_after_gets: None,
            restricted_tokens: Vec::new(),
        }
    }
}

impl Options {
    /// Argo CD installed, ApplicationSets validated against this CRD.
    pub fn with_crd(mut self, path: impl Into<PathBuf>) -> Options {
        self.applicationset_crd = Some(path.into());
        self
    }

    /// Argo CD installed, Applications validated against this CRD.
    pub fn with_application_crd(mut self, path: impl Into<PathBuf>) -> Options {
        self.application_crd = Some(path.into());
        self
    }

    /// Argo CD installed with the CRDs [`argocd_crds`] finds; a kind whose CRD is found nowhere is
    /// served without schema validation, which is said once per process on stderr.
    pub fn with_argocd(self) -> Options {
        self.with_argocd_crds(&argocd_crds())
    }

    /// Argo CD installed with these CRDs (see [`Options::with_argocd`]).
    pub fn with_argocd_crds(mut self, crds: &ArgoCdCrds) -> Options {
        self.applicationset_crd = crds.applicationset.clone();
        self.application_crd = crds.application.clone();
        self.argocd_without_crds = true;
        if let Some(notice) = crds.notice() {
            static SAID: OnceLock<()> = OnceLock::new();
            SAID.get_or_init(|| eprintln!("{notice}"));
        }
        self
    }

    pub fn with_token(mut self, token: impl Into<String>) -> Options {
        self.token = token.into();
        self
    }

    /// Accepts `token` too, as [`RESTRICTED_USER`] with only what `rules` allow: any other
    /// request gets the real API server's 403. Discovery stays open.
    pub fn with_restricted_token(mut self, token: impl Into<String>, rules: Vec<AccessRule>) -> Options {
        self.restricted_tokens.push(RestrictedToken { token: token.into(), rules });
        self
    }

    pub fn with_port(mut self, port: u16) -> Options {
        self.port = port;
        self
    }

    /// New ApplicationSets get Argo CD's resources finalizer.
    pub fn with_argocd_finalizer(mut self) -> Options {
        self.applicationset_finalizers = vec![ARGOCD_FINALIZER.to_string()];
        self
    }

    pub fn release_finalizers_after_gets(mut self, gets: u32) -> Options {
        self.release_finalizers_after_gets = Some(gets);
        self
    }

    fn argocd_installed(&self) -> bool {
        self.applicationset_crd.is_some() || self.application_crd.is_some() || self.argocd_without_crds
    }
}

/// Parsing the 1.4 MB CRD takes a while; tests start many servers.
fn load_crd(path: &Path, expected: Resource) -> Result<Arc<Crd>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Crd>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(crd) = lock(cache).get(path) {
        return Ok(crd.clone());
    }
    let crd = Arc::new(Crd::load(path)?);
    if crd.group != expected.group()
        || crd.plural != expected.plural()
        || crd.kind != expected.kind()
        || crd.version != expected.version()
    {
        return Err(Error::Crd(format!(
            "{} defines {}.{}/{} ({}), not {}s",
            path.display(),
            crd.plural,
            crd.group,
            crd.version,
            crd.kind,
            expected.kind()
        )));
    }
    lock(cache).insert(path.to_path_buf(), crd.clone());
    Ok(crd)
}

/// A running server; stops when dropped.
pub struct TestServer {
    shared: Arc<Shared>,
    url: String,
    port: u16,
    ca_pem: String,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(options: Options) -> Result<TestServer> {
        let identity = tls::generate()?;
        let load = |path: &Option<PathBuf>, kind| path.as_deref().map(|p| load_crd(p, kind)).transpose();
        let applicationset = load(&options.applicationset_crd, Resource::ApplicationSet)?;
        let application = load(&options.application_crd, Resource::Application)?;
        let mut api = Api::new(Schemas::new(options.argocd_installed(), applicationset, application));
        api.argocd = ArgoCd::new(options.argocd.clone());
        api.finalizers.on_create = options.applicationset_finalizers.clone();
        api.finalizers.release_after_gets = options.release_finalizers_after_gets;
        for namespace in &options.namespaces {
            let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
            api.create(Resource::Namespace, "", body, &WriteOptions::manager("kube-test-server"))
                .map_err(|e| Error::Crd(format!("cannot create namespace {namespace}: {e}")))?;
        }

        let addr = SocketAddr::from(([127, 0, 0, 1], options.port));
        let listener =
            TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr: addr.to_string(), source })?;
        let port = listener.local_addr().map_err(|source| Error::Bind { addr: addr.to_string(), source })?.port();
        let address = format!("127.0.0.1:{port}");
        let shared = Arc::new(Shared {
            api: Mutex::new(api),
            faults: Mutex::new(Faults::default()),
            requests: Mutex::new(RequestStats::default()),
            holds: Holds::default(),
            token: options.token.clone(),
            restricted_tokens: options.restricted_tokens.clone(),
            address: address.clone(),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let acceptor = TlsAcceptor::from(identity.config);
        let task = tokio::spawn(http::serve(listener, acceptor, shared.clone(), shutdown_rx));
        Ok(TestServer {
            shared,
            url: format!("https://{address}"),
            port,
            ca_pem: identity.ca_pem,
            shutdown,
            task: Some(task),
        })
    }

    /// `https://127.0.0.1:<port>`
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// PEM of the CA that signed the serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Kubeconfig text with one cluster, user and context named `context`.
    pub fn kubeconfig(&self, context: &str) -> String {
        kubeconfig::render(&self.url, &self.ca_pem, &self.shared.token, context)
    }

    /// Like [`TestServer::kubeconfig`], with another token (e.g. a restricted one) as the user's.
    pub fn kubeconfig_with_token(&self, context: &str, token: &str) -> String {
        kubeconfig::render(&self.url, &self.ca_pem, token, context)
    }

    pub fn write_kubeconfig(&self, path: impl AsRef<Path>, context: &str) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.kubeconfig(context)).map_err(|source| Error::Io { path: path.into(), source })
    }

    // --- direct store access -------------------------------------------------

    /// The stored object, without counting as a client read.
    pub fn get(&self, resource: Resource, namespace: &str, name: &str) -> Option<Value> {
        self.shared.api().store.get(&ObjectKey::new(resource, namespace, name)).cloned()
    }

    /// Stored objects of a resource, in one namespace or all.
    pub fn list(&self, resource: Resource, namespace: Option<&str>) -> Vec<Value> {
        self.shared.api().store.list(resource, namespace).map(|(_, o)| o.clone()).collect()
    }

    /// Server-side apply as `manager` (e.g. to play Argo CD or a human).
    pub fn apply(
        &self,
        resource: Resource,
        namespace: &str,
        manager: &str,
        object: Value,
        force: bool,
    ) -> Result<Value, ApiError> {
        let name = rules::meta_str(&object, "name").unwrap_or_default().to_string();
        let body = PatchBody::Apply { config: object, force };
        Ok(self.shared.api().patch(resource, namespace, &name, body, &WriteOptions::manager(manager))?.object)
    }

    /// POST as `manager` (an `Update` managedFields entry).
    pub fn create(&self, resource: Resource, namespace: &str, manager: &str, object: Value) -> Result<Value, ApiError> {
        Ok(self.shared.api().create(resource, namespace, object, &WriteOptions::manager(manager))?.object)
    }

    /// PUT as `manager`: replaces the whole object (resourceVersion optional).
    pub fn update(&self, resource: Resource, namespace: &str, manager: &str, object: Value) -> Result<Value, ApiError> {
        let name = rules::meta_str(&object, "name").unwrap_or_default().to_string();
        Ok(self.shared.api().replace(resource, namespace, &name, object, &WriteOptions::manager(manager))?.object)
    }

    /// JSON merge patch as `manager`, like `kubectl edit` or a controller.
    pub fn merge_patch(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        manager: &str,
        patch: Value,
    ) -> Result<Value, ApiError> {
        let body = PatchBody::Merge(patch);
        Ok(self.shared.api().patch(resource, namespace, name, body, &WriteOptions::manager(manager))?.object)
    }

    /// Deletes out of band with the real semantics: returns the object when
    /// finalizers keep it (now with `deletionTimestamp`), `None` when gone.
    pub fn delete(&self, resource: Resource, namespace: &str, name: &str) -> Result<Option<Value>, ApiError> {
        match self.shared.api().delete(resource, namespace, name, &DeleteOptions::default())? {
            Deleted::Gone { .. } => Ok(None),
            Deleted::Pending(object) => Ok(Some(object)),
        }
    }

    /// The controller finishing its work: removes all finalizers (a deleting
    /// object then disappears).
    pub fn remove_finalizers(&self, resource: Resource, namespace: &str, name: &str) -> Result<(), ApiError> {
        self.shared.api().remove_finalizers(&ObjectKey::new(resource, namespace, name), None)
    }

    /// Finalizers added to ApplicationSets created from now on.
    pub fn set_applicationset_finalizers(&self, finalizers: Vec<String>) {
        self.shared.api().finalizers.on_create = finalizers;
    }

    /// Once this object is deleting, release its finalizers after `gets`
    /// client GETs of it: the `gets`-th GET still sees it, the next gets 404.
    pub fn release_finalizers_after_gets(&self, resource: Resource, namespace: &str, name: &str, gets: u32) {
        self.shared.api().release_after_gets(ObjectKey::new(resource, namespace, name), gets);
    }

    /// Stores objects as they are (server metadata filled in), without validation or controllers:
    /// seeds thousands of Applications for a benchmark in moments. Returns how many.
    pub fn seed(&self, resource: Resource, objects: Vec<Value>) -> Result<usize, ApiError> {
        self.shared.api().seed(resource, objects)
    }

    // --- the Argo CD stand-in ------------------------------------------------

    /// The stand-in's settings now (scripts included).
    pub fn argocd_options(&self) -> ArgoCdOptions {
        self.shared.api().argocd.options.clone()
    }

    pub fn set_argocd_options(&self, options: ArgoCdOptions) {
        self.shared.api().argocd.options = options;
    }

    /// Applications whose name matches `pattern` (`*`, `?`) follow `script` from their next
    /// reconcile (creation, spec change, refresh). The newest matching script wins.
    pub fn script_applications(&self, pattern: &str, script: AppScript) {
        let scripts = &mut self.shared.api().argocd.options.scripts;
        scripts.retain(|s| s.name != pattern);
        scripts.insert(0, NamedScript { name: pattern.to_string(), steps: script });
    }

    pub fn clear_application_scripts(&self) {
        self.shared.api().argocd.options.scripts.clear();
    }

    /// The script of Applications no named script matches.
    pub fn set_default_application_script(&self, script: AppScript) {
        self.shared.api().argocd.options.default_steps = script;
    }

    /// Reads of an Application between a requested reconcile and the reconcile (0: at the write).
    pub fn set_reconcile_after_reads(&self, reads: u32) {
        self.shared.api().argocd.options.reconcile_after_reads = reads;
    }

    /// Reads a deleting Application with the resources finalizer stays before Argo CD is done.
    pub fn set_deletion_hold_reads(&self, reads: u32) {
        self.shared.api().argocd.options.deletion_hold_reads = reads;
    }

    /// Reconciles an Application now, as `argocd app get --refresh` asks for.
    pub fn refresh_application(&self, namespace: &str, name: &str) -> Result<(), ApiError> {
        self.shared.api().refresh_application(namespace, name)
    }

    /// Applications whose resources finalizer the ApplicationSet controller dropped because their
    /// cluster was gone: what a real Argo CD would have left behind on that cluster.
    pub fn abandoned_resources(&self) -> Vec<AbandonedResources> {
        self.shared.api().argocd.abandoned.clone()
    }

    // --- request accounting --------------------------------------------------

    pub fn requests(&self) -> RequestStats {
        lock(&self.shared.requests).clone()
    }

    /// Requests of a Kubernetes verb on a plural resource, e.g. ("patch", "secrets").
    pub fn request_count(&self, verb: &str, resource: &str) -> u64 {
        lock(&self.shared.requests).count(verb, resource)
    }

    /// POST, PUT, PATCH and DELETE requests.
    pub fn write_count(&self) -> u64 {
        lock(&self.shared.requests).writes
    }

    pub fn reset_requests(&self) {
        *lock(&self.shared.requests) = RequestStats::default();
    }

    // --- fault injection -----------------------------------------------------

    pub fn add_fault(&self, rule: FaultRule) {
        lock(&self.shared.faults).add(rule);
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Requests (or answers) held by `hold` / `holdAnswer` rules right now.
    pub fn held(&self) -> usize {
        self.shared.holds.held()
    }

    /// Blocks the calling thread until at least `count` requests are held; false on timeout.
    /// Call it from a thread that does not run the server.
    pub fn wait_for_held(&self, count: usize, timeout: std::time::Duration) -> bool {
        self.shared.holds.wait_for_held(count, timeout)
    }

    /// Lets every held request (or answer) go on.
    pub fn release_held(&self) {
        self.shared.holds.release();
    }

    /// The rules not used up yet, in order.
    pub fn pending_faults(&self) -> Vec<FaultRule> {
        lock(&self.shared.faults).rules()
    }

    /// Stops accepting and closes open connections.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
