//! The hub cluster's Kubernetes API: connection settings, the client, and the few operations the
//! resources need (get, server-side apply, list by label, delete), with typed errors and
//! bounded retries that give way to StopProvider and to the operation's deadline.
//!
//! Nothing here knows what an Argo CD cluster Secret means; resources build the objects.
//! Cancellation and deadlines come as the neutral [`crate::halt::Stop`] and [`Deadline`]; the
//! secrets it learns go to [`crate::secrets`], which the protocol boundary cleans every message with.
//!
//! May import: the neutral modules (`halt`, `secrets`, `unanswered`). Never `protocol`,
//! `provider`, `resources`, `data_sources`, `tf` or `argocd`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{
    AuthInfo, Cluster, ExecConfig, ExecInteractiveMode, KubeConfigOptions, Kubeconfig, KubeconfigError, NamedAuthInfo,
    NamedCluster, NamedContext,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::halt::{Deadline, Expired, Halt, Stop};
use crate::secrets;
use crate::unanswered;

mod applications;
pub mod clusters;
pub mod deletion;
pub mod drain;
pub mod gate;
mod listing;
pub mod ready;

/// The field manager of every write: what `managedFields` shows as ours.
pub const FIELD_MANAGER: &str = "terraform-provider-gitopsbridge";

/// How many times a throttled or 5xx request is retried.
const MAX_RETRIES: u32 = 5;
/// How many times a failed connection is retried: a dropped connection recovers at once, while
/// a hub that is down should fail fast.
const MAX_CONNECT_RETRIES: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Longest server-requested wait we honour; a larger Retry-After is clamped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// A hung response fails instead of blocking `terraform apply` forever; `hub.request_timeout`
/// overrides it.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Argo CD's ApplicationSet, for the resources that manage them through [`DynamicObject`].
pub fn application_set_resource() -> ApiResource {
    ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "ApplicationSet".into(),
        plural: "applicationsets".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Connection settings
// ---------------------------------------------------------------------------------------------

/// The provider's `hub` block, with the kubernetes provider's names and meaning. All fields
/// absent means "like kubectl": `KUBECONFIG` or `~/.kube/config`, current context.
#[derive(Clone, Default, PartialEq)]
pub struct HubSettings {
    pub config_path: Option<String>,
    pub config_context: Option<String>,
    pub host: Option<String>,
    pub token: Option<String>,
    /// PEM text.
    pub cluster_ca_certificate: Option<String>,
    /// PEM text.
    pub client_certificate: Option<String>,
    /// PEM text.
    pub client_key: Option<String>,
    pub insecure: Option<bool>,
    /// How long one request may wait for its answer (default [`READ_TIMEOUT`]).
    pub request_timeout: Option<Duration>,
    pub exec: Option<ExecSettings>,
}

/// A client-go credential plugin (`exec` block).
#[derive(Clone, Default, PartialEq)]
pub struct ExecSettings {
    pub api_version: Option<String>,
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
}

/// Default `apiVersion` of an exec plugin when the configuration leaves it out.
const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1beta1";

// Hand-written so that a token or key never reaches a log line through `{:?}`.
impl fmt::Debug for HubSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("HubSettings")
            .field("config_path", &self.config_path)
            .field("config_context", &self.config_context)
            .field("host", &self.host)
            .field("token", &redacted(&self.token))
            .field("cluster_ca_certificate", &self.cluster_ca_certificate.as_ref().map(|_| "<pem>"))
            .field("client_certificate", &self.client_certificate.as_ref().map(|_| "<pem>"))
            .field("client_key", &redacted(&self.client_key))
            .field("insecure", &self.insecure)
            .field("request_timeout", &self.request_timeout)
            .field("exec", &self.exec)
            .finish()
    }
}

// Environment values often are credentials (AWS keys): only their names are shown.
impl fmt::Debug for ExecSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecSettings")
            .field("api_version", &self.api_version)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Expands a leading `~` to the home directory, as shells and the kubernetes provider do.
pub fn expand_home(path: &str) -> PathBuf {
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    if path == "~" {
        return home().unwrap_or_else(|| PathBuf::from(path));
    }
    match (path.strip_prefix("~/"), home()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// Why the hub connection settings could not be turned into a client.
#[derive(Debug, thiserror::Error)]
pub enum HubConfigError {
    /// `config_path` could not be read or parsed.
    #[error("cannot read the kubeconfig {path}: {source}")]
    ReadKubeconfig {
        path: String,
        #[source]
        source: KubeconfigProblem,
    },
    /// No `hub` settings and no kubeconfig in `KUBECONFIG` or `~/.kube/config`.
    #[error("no hub connection configured and no usable kubeconfig found (KUBECONFIG or ~/.kube/config): {source}")]
    NoDefaultKubeconfig {
        #[source]
        source: KubeconfigProblem,
    },
    /// The requested context (or the current context) does not exist.
    #[error("kubeconfig context {context:?} not found (available: {available})")]
    ContextNotFound { context: String, available: String },
    /// The kubeconfig names no context and `config_context` is not set.
    #[error("the kubeconfig has no current-context; set hub.config_context")]
    NoCurrentContext,
    /// The kubeconfig (after our overrides) is not usable, e.g. no server URL.
    #[error("the hub kubeconfig is not usable: {source}")]
    Kubeconfig {
        #[source]
        source: KubeconfigProblem,
    },
    /// The token holds a character an HTTP header cannot carry, such as a line break inside it.
    #[error("the hub token contains a control character (a line break?) that cannot be sent in an HTTP header")]
    UnsendableToken,
    /// The HTTP client could not be built (TLS material rejected, …).
    #[error("cannot build the hub client: {source}")]
    Client {
        #[source]
        source: kube::Error,
    },
}

/// kube's kubeconfig error, told without quoting the file: its YAML errors show the lines around
/// the fault, tokens and keys included, and serde's words quote wrongly typed values.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KubeconfigProblem(String);

impl From<KubeconfigError> for KubeconfigProblem {
    fn from(error: KubeconfigError) -> Self {
        KubeconfigProblem(match error {
            KubeconfigError::Parse(yaml) => match yaml.location() {
                Some(at) => format!("not valid kubeconfig YAML (line {}, column {})", at.line(), at.column()),
                None => "not valid kubeconfig YAML".to_string(),
            },
            other => other.to_string(),
        })
    }
}

/// The connection settings as an in-memory kubeconfig, so that kube's own loader handles
/// TLS material, tokens and exec plugins exactly as it does for files.
fn kubeconfig_for(settings: &HubSettings) -> Result<(Kubeconfig, KubeConfigOptions), HubConfigError> {
    let kubeconfig = if let Some(path) = &settings.config_path {
        let path_buf = expand_home(path);
        Kubeconfig::read_from(&path_buf)
            .map_err(|e| HubConfigError::ReadKubeconfig { path: path_buf.display().to_string(), source: e.into() })?
    } else if settings.host.is_some() {
        Kubeconfig::default()
    } else {
        Kubeconfig::read().map_err(|e| HubConfigError::NoDefaultKubeconfig { source: e.into() })?
    };
    select_context(kubeconfig, settings)
}

/// Picks the context the settings ask for (or the current one) in a loaded kubeconfig and writes
/// the explicit settings over its cluster and user. Reads no file and runs nothing.
///
/// # Errors
/// [`HubConfigError::NoCurrentContext`] or [`HubConfigError::ContextNotFound`].
pub fn select_context(
    mut kubeconfig: Kubeconfig,
    settings: &HubSettings,
) -> Result<(Kubeconfig, KubeConfigOptions), HubConfigError> {
    let context_name = if kubeconfig.contexts.is_empty() && settings.config_path.is_none() {
        // Host-only settings: one synthetic context carries the overrides below.
        const SYNTHETIC: &str = "gitopsbridge-hub";
        kubeconfig.clusters.push(NamedCluster {
            name: SYNTHETIC.into(),
            cluster: Some(Cluster::default()),
            ..Default::default()
        });
        kubeconfig.auth_infos.push(NamedAuthInfo {
            name: SYNTHETIC.into(),
            auth_info: Some(AuthInfo::default()),
            ..Default::default()
        });
        kubeconfig.contexts.push(NamedContext {
            name: SYNTHETIC.into(),
            context: Some(kube::config::Context {
                cluster: SYNTHETIC.into(),
                user: Some(SYNTHETIC.into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        SYNTHETIC.to_string()
    } else {
        settings
            .config_context
            .clone()
            .or_else(|| kubeconfig.current_context.clone())
            .ok_or(HubConfigError::NoCurrentContext)?
    };

    let context =
        kubeconfig.contexts.iter().find(|c| c.name == context_name).and_then(|c| c.context.clone()).ok_or_else(
            || HubConfigError::ContextNotFound {
                context: context_name.clone(),
                available: kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
            },
        )?;
    apply_overrides(&mut kubeconfig, &context, settings);
    never_interactive(&mut kubeconfig, &context);

    let options = KubeConfigOptions { context: Some(context_name), ..Default::default() };
    Ok((kubeconfig, options))
}

/// Writes the explicit `hub` settings over the selected context's cluster and user, the way the
/// kubernetes provider lets `host`, `token`, … override what `config_path` says.
fn apply_overrides(kubeconfig: &mut Kubeconfig, context: &kube::config::Context, settings: &HubSettings) {
    let b64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem.as_bytes());

    if let Some(named) = kubeconfig.clusters.iter_mut().find(|c| c.name == context.cluster) {
        let cluster = named.cluster.get_or_insert_with(Cluster::default);
        if let Some(host) = &settings.host {
            cluster.server = Some(host.trim_end_matches('/').to_string());
        }
        if let Some(ca) = &settings.cluster_ca_certificate {
            cluster.certificate_authority = None;
            cluster.certificate_authority_data = Some(b64(ca));
        }
        if let Some(insecure) = settings.insecure {
            cluster.insecure_skip_tls_verify = Some(insecure);
        }
    }

    let user_name = context.user.clone().unwrap_or_default();
    if !kubeconfig.auth_infos.iter().any(|u| u.name == user_name) {
        kubeconfig.auth_infos.push(NamedAuthInfo { name: user_name.clone(), ..Default::default() });
    }
    let Some(named) = kubeconfig.auth_infos.iter_mut().find(|u| u.name == user_name) else { return };
    let user = named.auth_info.get_or_insert_with(AuthInfo::default);
    if let Some(token) = &settings.token {
        // `token = file("…")` brings the file's final line break; kubectl trims token files too.
        user.token = Some(token.trim().to_string().into());
        user.token_file = None;
    }
    if let Some(cert) = &settings.client_certificate {
        user.client_certificate = None;
        user.client_certificate_data = Some(b64(cert));
    }
    if let Some(key) = &settings.client_key {
        user.client_key = None;
        user.client_key_data = Some(b64(key).into());
    }
    if let Some(exec) = &settings.exec {
        user.exec = Some(ExecConfig {
            api_version: Some(exec.api_version.clone().unwrap_or_else(|| EXEC_API_VERSION.to_string())),
            command: Some(exec.command.clone()),
            args: Some(exec.args.clone()),
            env: Some(
                exec.env
                    .iter()
                    .map(|(name, value)| {
                        HashMap::from([("name".to_string(), name.clone()), ("value".to_string(), value.clone())])
                    })
                    .collect(),
            ),
            ..Default::default()
        });
    }
}

/// A provider has no terminal: an exec plugin that inherited our stdin and stderr would write its
/// output (which may quote its environment) into Terraform's log instead of into its error.
fn never_interactive(kubeconfig: &mut Kubeconfig, context: &kube::config::Context) {
    let user = context.user.as_deref().unwrap_or_default();
    for named in kubeconfig.auth_infos.iter_mut().filter(|u| u.name == user) {
        if let Some(exec) = named.auth_info.as_mut().and_then(|a| a.exec.as_mut()) {
            exec.interactive_mode = Some(ExecInteractiveMode::Never);
        }
    }
}

/// The selected context's user, with its secret fields exposed (kube keeps them as
/// `SecretString`s; serde is how it exposes them).
fn selected_user(kubeconfig: &Kubeconfig, options: &KubeConfigOptions) -> Option<(AuthInfo, serde_json::Value)> {
    let context = options.context.as_deref().or(kubeconfig.current_context.as_deref());
    let user = kubeconfig
        .contexts
        .iter()
        .find(|c| Some(c.name.as_str()) == context)
        .and_then(|c| c.context.as_ref()?.user.clone())?;
    let auth = kubeconfig.auth_infos.iter().find(|u| u.name == user)?.auth_info.clone()?;
    let exposed = serde_json::to_value(&auth).unwrap_or_default();
    Some((auth, exposed))
}

/// Remembers the secret values of the selected user for redaction (a credential plugin may
/// print them), and refuses a token that cannot be sent: kube panics on one.
fn check_user_secrets(kubeconfig: &Kubeconfig, options: &KubeConfigOptions) -> Result<(), HubConfigError> {
    let Some((auth, exposed)) = selected_user(kubeconfig, options) else { return Ok(()) };
    for field in ["token", "password", "client-key-data"] {
        if let Some(secret) = exposed.get(field).and_then(|v| v.as_str()) {
            secrets::remember(secret);
        }
    }
    for pair in auth.exec.iter().flat_map(|e| e.env.iter().flatten()) {
        if let Some(value) = pair.get("value") {
            secrets::remember(value);
        }
    }
    // What an HTTP header value may hold: visible characters, spaces and tabs.
    let sendable = |text: &str| text.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));
    match exposed.get("token").and_then(|v| v.as_str()) {
        Some(token) if !sendable(token) => Err(HubConfigError::UnsendableToken),
        _ => Ok(()),
    }
}

/// Longest excerpt of a credential plugin's error output an error carries.
const MAX_PLUGIN_OUTPUT: usize = 2000;

/// Why credentials could not be obtained, in words that carry no secret. kube's own messages
/// for a failed plugin quote the command with its environment and everything it printed.
fn describe_auth_error(error: &kube::client::AuthError) -> String {
    use kube::client::AuthError as E;
    match error {
        E::AuthExecRun { out, .. } => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stderr = stderr.trim();
            let mut start = stderr.len().saturating_sub(MAX_PLUGIN_OUTPUT);
            while !stderr.is_char_boundary(start) {
                start += 1;
            }
            let excerpt = secrets::redact(&stderr[start..]);
            if excerpt.is_empty() {
                format!("the exec credential plugin failed ({}) and printed no error", out.status)
            } else {
                format!("the exec credential plugin failed ({}): {excerpt}", out.status)
            }
        }
        E::AuthExecParse(_) => "the exec credential plugin's output is not an ExecCredential".into(),
        E::ExecPluginFailed => "the exec credential plugin's ExecCredential has no status".into(),
        E::AuthExecStart(source) => format!("cannot start the exec credential plugin: {source}"),
        E::ReadTokenFile(source, path) => {
            format!("cannot read the token file {}: {source}", path.display())
        }
        E::MissingCommand => "the exec block names no command".into(),
        E::InvalidBearerToken(_) => "the token is not valid in an HTTP header".into(),
        E::InvalidBasicAuth(_) => "the username or password is not valid in an HTTP header".into(),
        E::MalformedTokenExpirationDate(_) => {
            "the exec credential plugin's expirationTimestamp is not an RFC 3339 time".into()
        }
        // The rest carry no command output; redacted all the same.
        other => secrets::redact(&other.to_string()).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// One field another field manager holds, from a server-side apply conflict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldConflict {
    /// The field path as the API server names it, e.g. `.metadata.labels.environment`.
    pub field: String,
    /// The server's words about who holds it, e.g. `conflict with "kubectl" using v1`.
    pub message: String,
}

impl FieldConflict {
    /// The field manager holding the field: the API server names it only inside the cause's
    /// message (`conflict with "kubectl-edit" using v1`), as the first quoted word.
    pub fn manager(&self) -> Option<&str> {
        let (_, rest) = self.message.split_once('"')?;
        rest.split_once('"').map(|(manager, _)| manager)
    }
}

/// One rejected field of a 422 Invalid answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidField {
    pub field: String,
    pub message: String,
}

/// What can go wrong talking to the hub. Messages name the object and never carry credentials
/// or Secret data.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The object (or its namespace) does not exist.
    #[error("{object} not found: {message}")]
    NotFound {
        object: String,
        message: String,
        #[source]
        source: kube::Error,
    },
    /// Server-side apply field conflict (`FieldManagerConflict` causes): other field managers own
    /// fields we tried to set. Permanent until someone gives the fields up or we force.
    #[error("{object}: {}", describe_conflicts(.conflicts))]
    Conflict {
        object: String,
        conflicts: Vec<FieldConflict>,
        #[source]
        source: kube::Error,
    },
    /// 401: the hub did not accept the credentials.
    #[error("the hub rejected the credentials (401 Unauthorized) while accessing {object}")]
    Unauthorized {
        object: String,
        #[source]
        source: kube::Error,
    },
    /// 403: the credentials lack RBAC permission.
    #[error("permission denied on {object}: {message}")]
    Forbidden {
        object: String,
        message: String,
        #[source]
        source: kube::Error,
    },
    /// 422 (or 400 under strict field validation): the object was rejected.
    #[error("{object} was rejected as invalid: {message}")]
    Invalid {
        object: String,
        message: String,
        causes: Vec<InvalidField>,
        #[source]
        source: kube::Error,
    },
    /// The resource type is not served, e.g. Argo CD's CRDs are not installed.
    #[error("the hub does not serve {resource}: is its CustomResourceDefinition installed?")]
    CrdMissing {
        resource: String,
        #[source]
        source: kube::Error,
    },
    /// Any other error status from the API server.
    #[error("the hub answered {code} {reason} for {object}: {message}")]
    Api {
        object: String,
        code: u16,
        reason: String,
        message: String,
        #[source]
        source: kube::Error,
    },
    /// The hub could not be reached (connection refused, TLS failure, timeout), after retries.
    #[error("cannot reach the hub for {object}")]
    Unreachable {
        object: String,
        #[source]
        source: kube::Error,
    },
    /// The hub's TLS certificate was refused: not signed by a CA we trust, or not for its name.
    #[error(
        "the hub's certificate was refused while accessing {object} ({reason}); set cluster_ca_certificate (or \
         the kubeconfig's certificate-authority-data) to the CA that signed it, or insecure = true for a test cluster"
    )]
    UntrustedCertificate { object: String, reason: String },
    /// Credentials could not be obtained (exec plugin failed, token file unreadable, …). No
    /// source: kube's error quotes the plugin's environment and output.
    #[error("cannot obtain hub credentials for {object}: {reason}")]
    Credentials { object: String, reason: String },
    /// The connection settings are wrong.
    #[error(transparent)]
    Config(#[from] HubConfigError),
    /// The provider's `hub` settings are not known yet (they depend on resources not yet applied).
    #[error("the provider's hub settings are not known yet; they depend on values that are only known after apply")]
    UnknownConfig,
    /// StopProvider (Ctrl-C) arrived before the request was sent, or while a read waited.
    #[error("interrupted: Terraform asked the provider to stop")]
    Cancelled,
    /// Anything else kube reports (response decoding, request building).
    #[error("unexpected error while accessing {object}")]
    Other {
        object: String,
        #[source]
        source: kube::Error,
    },
    /// A transient failure (429, 5xx, an optimistic-concurrency 409, a lost connection) that
    /// retries did not overcome; `last` is the final answer. With `halt`, retrying stopped because
    /// Terraform asked the provider to stop or one more attempt would pass the deadline.
    /// `uncertain`: an attempt of a write got no answer or a 5xx, so the hub may have carried it
    /// out.
    #[error("{last} ({})", gave_up(*.attempts, .halt.as_ref()))]
    GaveUp {
        object: String,
        attempts: u32,
        halt: Option<Halt>,
        uncertain: bool,
        #[source]
        last: Box<HubError>,
    },
    /// The operation's deadline passed before the request was sent, or while a read waited.
    #[error("no answer for {object}: {expired}")]
    TimedOut { object: String, expired: Expired },
}

fn gave_up(attempts: u32, halt: Option<&Halt>) -> String {
    match halt {
        None => format!("gave up after {attempts} attempts"),
        Some(Halt::Deadline(_)) => format!("gave up after {attempts} attempts: one more would pass the deadline"),
        Some(Halt::Stop) => {
            format!("not retried after {attempts} attempts: Terraform asked the provider to stop")
        }
    }
}

fn describe_conflicts(conflicts: &[FieldConflict]) -> String {
    if conflicts.is_empty() {
        return "fields are owned by another field manager (no details given)".into();
    }
    let fields = conflicts
        .iter()
        .map(|c| match c.manager() {
            Some(manager) => format!("{} (held by {manager:?})", c.field),
            None => format!("{} ({})", c.field, c.message),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let plural = if conflicts.len() == 1 { "field" } else { "fields" };
    format!("{plural} owned by another field manager: {fields}")
}

impl HubError {
    /// True when the error means the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, HubError::NotFound { .. })
    }

    /// True when a write that failed may still have been carried out: it got no answer (a lost
    /// connection, the read timeout) or a 5xx, and retries did not settle it. The caller records
    /// the planned state; the next refresh finds out what exists.
    pub fn uncertain(&self) -> bool {
        matches!(self, HubError::GaveUp { uncertain: true, .. })
    }

    /// True when the request ended because of StopProvider or the operation's deadline rather
    /// than an answer from the hub.
    pub fn halted(&self) -> bool {
        matches!(self, HubError::Cancelled | HubError::TimedOut { .. } | HubError::GaveUp { halt: Some(_), .. })
    }

    /// The error behind retries: the last answer of a [`HubError::GaveUp`], else itself.
    pub fn last_answer(&self) -> &HubError {
        match self {
            HubError::GaveUp { last, .. } => last,
            other => other,
        }
    }

    /// Sorts a kube error into our variants by status code and reason, never by message text.
    fn classify(error: kube::Error, object: &str, custom_resource: Option<&str>) -> HubError {
        let object = object.to_string();
        let kube::Error::Api(status) = &error else {
            return match error {
                kube::Error::HyperError(_) | kube::Error::Service(_) => match certificate_problem(&error) {
                    Some(problem) => HubError::UntrustedCertificate { object, reason: problem.to_string() },
                    None => HubError::Unreachable { object, source: error },
                },
                kube::Error::Auth(e) => HubError::Credentials { object, reason: describe_auth_error(&e) },
                _ => HubError::Other { object, source: error },
            };
        };
        let message = status.message.clone();
        let causes: Vec<(String, String)> = status
            .details
            .as_ref()
            .map(|d| d.causes.iter().map(|c| (c.field.clone(), c.message.clone())).collect())
            .unwrap_or_default();
        // The HTTP code decides; the reason only stands in when a body carries no code.
        let code = match status.code {
            0 if status.is_not_found() => 404,
            0 if status.is_conflict() => 409,
            0 if status.is_forbidden() => 403,
            0 if status.is_invalid() => 422,
            0 if status.reason == "Unauthorized" => 401,
            code => code,
        };
        let missing_type = code == 404 && status.details.as_ref().is_none_or(|d| d.name.is_empty());
        match (code, custom_resource) {
            (404, Some(resource)) if missing_type => {
                HubError::CrdMissing { resource: resource.to_string(), source: error }
            }
            (404, _) => HubError::NotFound { object, message, source: error },
            (409, _) if is_field_conflict(status) => HubError::Conflict {
                object,
                conflicts: causes.into_iter().map(|(field, message)| FieldConflict { field, message }).collect(),
                source: error,
            },
            (401, _) => HubError::Unauthorized { object, source: error },
            (403, _) => HubError::Forbidden { object, message, source: error },
            (400 | 422, _) => HubError::Invalid {
                object,
                message,
                causes: causes.into_iter().map(|(field, message)| InvalidField { field, message }).collect(),
                source: error,
            },
            (code, _) => HubError::Api { object, code, reason: status.reason.clone(), message, source: error },
        }
    }
}

/// A 409 is server-side apply's field-manager conflict when its causes say so: permanent until
/// someone gives the fields up. Any other 409 Conflict is optimistic concurrency ("the object has
/// been modified"), which the next attempt resolves. Decided by reason, never by message.
fn is_field_conflict(status: &kube::core::Status) -> bool {
    status.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "FieldManagerConflict"))
}

/// Whether the hub may have carried out a request that failed with `error`: there was no answer
/// (a lost connection, the read timeout) or a 5xx. A refused connection, a 429 and other 4xx
/// answers mean it did not.
fn may_have_happened(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code >= 500,
        // A rejected certificate, like a refused connection, stops the request before it is sent.
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            !unanswered::connection_refused(error) && certificate_problem(error).is_none()
        }
        _ => false,
    }
}

/// Whether a retry may fix `error`.
fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => match status.code {
            429 | 500 | 502 | 503 | 504 => true,
            409 => status.reason == "Conflict" && !is_field_conflict(status),
            _ => false,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => certificate_problem(error).is_none(),
        _ => false,
    }
}

/// How long to wait before retrying `error` after `attempt` retries, or `None` when it is not
/// transient or its retries are used up.
fn retry_delay(error: &kube::Error, attempt: u32) -> Option<Duration> {
    if !is_transient(error) {
        return None;
    }
    let backoff = FIRST_BACKOFF.saturating_mul(2u32.saturating_pow(attempt)).min(MAX_BACKOFF);
    match error {
        kube::Error::Api(status) => {
            let asked = status.details.as_ref().map_or(0, |d| d.retry_after_seconds);
            if asked > 0 { Some(Duration::from_secs(u64::from(asked)).min(MAX_RETRY_AFTER)) } else { Some(backoff) }
        }
        // A dropped connection recovers at once; a hub that is down should fail fast.
        _ if attempt < MAX_CONNECT_RETRIES => Some(backoff),
        _ => None,
    }
}

/// The refused certificate somewhere among `error`'s causes, when TLS verification is what failed.
fn certificate_problem<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(cause) = next {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return matches!(tls, rustls::Error::InvalidCertificate(_)).then_some(tls);
        }
        // An io::Error's `source()` skips the error it wraps, which is where TLS puts its own.
        next = match cause.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// A connected (lazily: no request is made until an operation runs) client for the hub.
#[derive(Clone)]
pub struct HubClient {
    client: kube::Client,
    secret_listings: Arc<listing::Listings<Secret>>,
    set_listings: Arc<listing::Listings<DynamicObject>>,
    application_listings: Arc<listing::Listings<crate::argocd::application::Application>>,
    fresh_applications: Arc<applications::FreshListings>,
}

impl HubClient {
    /// Builds the client from the `hub` settings. Reads kubeconfig files but makes no request.
    ///
    /// # Errors
    /// [`HubError::Config`] when the kubeconfig cannot be read or the context is missing.
    pub async fn connect(settings: &HubSettings) -> Result<HubClient, HubError> {
        let (kubeconfig, options) = kubeconfig_for(settings)?;
        HubClient::build(kubeconfig, &options, settings.request_timeout.unwrap_or(READ_TIMEOUT)).await
    }

    /// Builds the client from a loaded kubeconfig (as [`select_context`] leaves it). Makes no
    /// request, but runs the user's exec credential plugin, if any.
    ///
    /// # Errors
    /// [`HubError::Config`] when the kubeconfig is not usable; [`HubError::Credentials`] when the
    /// exec plugin fails.
    pub async fn from_kubeconfig(kubeconfig: Kubeconfig, options: &KubeConfigOptions) -> Result<HubClient, HubError> {
        HubClient::build(kubeconfig, options, READ_TIMEOUT).await
    }

    /// [`HubClient::from_kubeconfig`] whose requests wait `read_timeout` for their answers.
    async fn build(
        kubeconfig: Kubeconfig,
        options: &KubeConfigOptions,
        read_timeout: Duration,
    ) -> Result<HubClient, HubError> {
        check_user_secrets(&kubeconfig, options)?;
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, options)
            .await
            .map_err(|e| HubConfigError::Kubeconfig { source: e.into() })?;
        // Our own retry loop (below) honours StopProvider and the deadline, and retries 500s and
        // dropped connections.
        config.default_retry = false;
        config.read_timeout = Some(read_timeout);
        config.reset_reader_on_write = true;
        let client = kube::Client::try_from(config).map_err(|source| match source {
            // The exec plugin runs here, the first time.
            kube::Error::Auth(e) => {
                HubError::Credentials { object: "the hub client".into(), reason: describe_auth_error(&e) }
            }
            source => HubConfigError::Client { source }.into(),
        })?;
        Ok(HubClient::from_client(client))
    }

    /// Wraps an existing kube client (tests, or callers that build their own).
    pub fn from_client(client: kube::Client) -> HubClient {
        HubClient {
            client,
            secret_listings: Arc::default(),
            set_listings: Arc::default(),
            application_listings: Arc::default(),
            fresh_applications: Arc::default(),
        }
    }

    /// The Secrets of one namespace.
    pub fn secrets(&self, namespace: &str) -> HubObjects<Secret> {
        HubObjects {
            api: Api::namespaced(self.client.clone(), namespace),
            kind: "Secret".into(),
            namespace: namespace.to_string(),
            custom_resource: None,
            listings: self.secret_listings.clone(),
            deadline: None,
        }
    }

    /// The ApplicationSets of one namespace.
    pub fn application_sets(&self, namespace: &str) -> HubObjects<DynamicObject> {
        let resource = application_set_resource();
        HubObjects {
            api: Api::namespaced_with(self.client.clone(), namespace, &resource),
            kind: resource.kind.clone(),
            namespace: namespace.to_string(),
            custom_resource: Some(format!("{}.{}", resource.plural, resource.group)),
            listings: self.set_listings.clone(),
            deadline: None,
        }
    }
}

/// One kind of object in one namespace, with retrying, typed-error operations.
pub struct HubObjects<K> {
    api: Api<K>,
    kind: String,
    namespace: String,
    /// `plural.group` of a custom resource, to recognise a missing CRD.
    custom_resource: Option<String>,
    /// What this process listed of this kind, for refresh reads (see `listing`).
    listings: Arc<listing::Listings<K>>,
    /// When the operation these calls belong to must be over.
    deadline: Option<Deadline>,
}

impl<K> HubObjects<K>
where
    K: Clone + DeserializeOwned + fmt::Debug,
{
    /// Bounds every call, its retries included, by the operation's deadline.
    pub fn until(mut self, deadline: Deadline) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// `Secret argocd/eks-green`: how errors name an object.
    pub fn describe(&self, name: &str) -> String {
        format!("{} {}/{}", self.kind, self.namespace, name)
    }

    /// Reads one object; `Ok(None)` when it does not exist.
    ///
    /// # Errors
    /// Any [`HubError`] but `NotFound`.
    pub async fn get(&self, ctx: &Stop, name: &str) -> Result<Option<K>, HubError> {
        let object = self.describe(name);
        self.call(ctx, &object, Request::Read, || self.api.get_opt(name)).await
    }

    /// Server-side applies `object` (which must carry apiVersion, kind and metadata.name) as
    /// [`FIELD_MANAGER`], with strict field validation. `force` takes over fields other
    /// managers own instead of failing with [`HubError::Conflict`].
    ///
    /// # Errors
    /// `Conflict`, `Invalid`, `Forbidden`, `NotFound` (namespace missing), `CrdMissing`, …
    pub async fn apply<P>(&self, ctx: &Stop, name: &str, object: &P, force: bool) -> Result<K, HubError>
    where
        P: Serialize + fmt::Debug + Sync,
    {
        self.apply_as(ctx, name, object, FIELD_MANAGER, force).await
    }

    /// [`HubObjects::apply`] as another field manager of the provider's.
    ///
    /// # Errors
    /// Those of [`HubObjects::apply`].
    pub async fn apply_as<P>(
        &self,
        ctx: &Stop,
        name: &str,
        object: &P,
        manager: &str,
        force: bool,
    ) -> Result<K, HubError>
    where
        P: Serialize + fmt::Debug + Sync,
    {
        let mut params = PatchParams::apply(manager).validation_strict();
        if force {
            params = params.force();
        }
        let described = self.describe(name);
        let patch = Patch::Apply(object);
        let written = self.call(ctx, &described, Request::Write, || self.api.patch(name, &params, &patch)).await;
        // Even a failed write may have reached the server.
        self.listings.forget(&self.namespace);
        written
    }

    /// Lists the objects matching a label selector (`key=value,other`).
    ///
    /// # Errors
    /// Any [`HubError`].
    pub async fn list(&self, ctx: &Stop, label_selector: &str) -> Result<Vec<K>, HubError> {
        let params = ListParams::default().labels(label_selector);
        let object = format!("{} in namespace {}", self.kind, self.namespace);
        let list = self.call(ctx, &object, Request::Read, || self.api.list(&params)).await?;
        Ok(list.items)
    }

    /// Deletes one object; an object already gone is success. Returns once the API server has
    /// accepted the deletion: `None` when the object is gone, or the object as it still exists
    /// while finalizers hold it.
    ///
    /// # Errors
    /// Any [`HubError`] but `NotFound`.
    pub async fn delete(&self, ctx: &Stop, name: &str) -> Result<Option<K>, HubError> {
        let object = self.describe(name);
        let params = DeleteParams::default();
        let deleted = self.call(ctx, &object, Request::Write, || self.api.delete(name, &params)).await;
        self.listings.forget(&self.namespace);
        match deleted {
            Ok(deleted) => Ok(deleted.left()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Runs one API call, retrying transient failures with backoff. After StopProvider or past
    /// the deadline no attempt starts and no backoff is waited out: a retry that could only start
    /// after the deadline reports the last answer at once. An attempt in flight then is abandoned
    /// only if it is a read; a write runs to its answer, bounded by the client's read timeout.
    async fn call<T, F, Fut>(&self, ctx: &Stop, object: &str, request: Request, mut op: F) -> Result<T, HubError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let classify = |error| HubError::classify(error, object, self.custom_resource.as_deref());
        let deadline = self.deadline.as_ref();
        let (mut attempts, mut uncertain, mut last) = (0, false, None);
        loop {
            if let Some(halt) = Halt::now(ctx, deadline) {
                let object = object.to_string();
                return Err(match (halt, last) {
                    (halt, Some(last)) => HubError::GaveUp { object, attempts, halt: Some(halt), uncertain, last },
                    (Halt::Stop, None) => HubError::Cancelled,
                    (Halt::Deadline(expired), None) => HubError::TimedOut { object, expired },
                });
            }
            let result = match request {
                Request::Read => tokio::select! {
                    result = op() => result,
                    halt = Halt::next(ctx, deadline) => return Err(match halt {
                        Halt::Stop => HubError::Cancelled,
                        Halt::Deadline(expired) => HubError::TimedOut { object: object.to_string(), expired },
                    }),
                },
                Request::Write => op().await,
            };
            let error = match result {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            attempts += 1;
            uncertain |= request == Request::Write && may_have_happened(&error);
            if !is_transient(&error) {
                return Err(classify(error));
            }
            let delay = retry_delay(&error, attempts - 1).filter(|_| attempts <= MAX_RETRIES);
            let gave_up = |halt, error| HubError::GaveUp {
                object: object.to_string(),
                attempts,
                halt,
                uncertain,
                last: Box::new(classify(error)),
            };
            let Some(delay) = delay else { return Err(gave_up(None, error)) };
            if let Some(deadline) = deadline
                && tokio::time::Instant::now() + delay >= deadline.at
            {
                return Err(gave_up(Some(Halt::Deadline(deadline.expired())), error));
            }
            crate::tf_debug!("hub: retrying", object = object, attempt = attempts, delay_ms = delay.as_millis() as u64);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = ctx.cancelled() => return Err(gave_up(Some(Halt::Stop), error)),
            }
            last = Some(Box::new(classify(error)));
        }
    }
}

/// What a request does to the hub, which decides what happens to it in flight when Terraform asks
/// the provider to stop or the deadline passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Request {
    /// A read: dropped at once, nothing is lost.
    Read,
    /// A write: it runs to its answer, because a write abandoned on the way may still land and
    /// leave an object on the hub that Terraform never hears of.
    Write,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;
    use kube::core::response::{StatusCause, StatusDetails};

    fn api_error(code: u16, reason: &str, details: Option<StatusDetails>) -> kube::Error {
        let mut status = Status::failure("server says no", reason).with_code(code);
        status.details = details;
        kube::Error::Api(Box::new(status))
    }

    fn details(name: &str, causes: &[(&str, &str)], retry_after: u32) -> StatusDetails {
        StatusDetails {
            name: name.into(),
            group: String::new(),
            kind: "secrets".into(),
            uid: String::new(),
            causes: causes
                .iter()
                .map(|(field, message)| StatusCause {
                    reason: "FieldManagerConflict".into(),
                    message: (*message).into(),
                    field: (*field).into(),
                })
                .collect(),
            retry_after_seconds: retry_after,
        }
    }

    #[test]
    fn statuses_are_classified_by_code_and_reason() {
        let obj = "Secret argocd/x";
        assert!(matches!(HubError::classify(api_error(404, "NotFound", None), obj, None), HubError::NotFound { .. }));
        assert!(matches!(
            HubError::classify(api_error(401, "Unauthorized", None), obj, None),
            HubError::Unauthorized { .. }
        ));
        assert!(matches!(HubError::classify(api_error(403, "Forbidden", None), obj, None), HubError::Forbidden { .. }));
        assert!(matches!(HubError::classify(api_error(422, "Invalid", None), obj, None), HubError::Invalid { .. }));
        assert!(matches!(HubError::classify(api_error(400, "BadRequest", None), obj, None), HubError::Invalid { .. }));
        assert!(matches!(HubError::classify(api_error(403, "Unknown", None), obj, None), HubError::Forbidden { .. }));
        assert!(matches!(HubError::classify(api_error(0, "NotFound", None), obj, None), HubError::NotFound { .. }));
        // A 409 without field-manager causes is optimistic concurrency, not a field conflict.
        assert!(matches!(
            HubError::classify(api_error(0, "Conflict", None), obj, None),
            HubError::Api { code: 409, .. }
        ));
        assert!(matches!(
            HubError::classify(api_error(500, "InternalError", None), obj, None),
            HubError::Api { code: 500, .. }
        ));
        let conflict = api_error(
            409,
            "Conflict",
            Some(details("x", &[(".metadata.labels.environment", "conflict with \"kubectl\"")], 0)),
        );
        match HubError::classify(conflict, obj, None) {
            HubError::Conflict { conflicts, .. } => {
                assert_eq!(
                    conflicts,
                    vec![FieldConflict {
                        field: ".metadata.labels.environment".into(),
                        message: "conflict with \"kubectl\"".into()
                    }]
                );
            }
            other => panic!("not a conflict: {other:?}"),
        }
    }

    #[test]
    fn a_404_without_an_object_name_on_a_custom_resource_means_the_crd_is_missing() {
        let crd = Some("applicationsets.argoproj.io");
        let e = HubError::classify(api_error(404, "NotFound", None), "ApplicationSet argocd/a", crd);
        assert!(matches!(e, HubError::CrdMissing { .. }), "{e:?}");
        let e =
            HubError::classify(api_error(404, "NotFound", Some(details("a", &[], 0))), "ApplicationSet argocd/a", crd);
        assert!(e.is_not_found());
    }

    #[test]
    fn transient_errors_are_retried_and_retry_after_is_honoured() {
        assert_eq!(
            retry_delay(&api_error(429, "TooManyRequests", Some(details("", &[], 3))), 0),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_delay(&api_error(429, "TooManyRequests", Some(details("", &[], 999))), 0),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_delay(&api_error(503, "ServiceUnavailable", None), 0), Some(FIRST_BACKOFF));
        assert_eq!(retry_delay(&api_error(500, "InternalError", None), 1), Some(FIRST_BACKOFF * 2));
        assert_eq!(retry_delay(&api_error(500, "InternalError", None), 20), Some(MAX_BACKOFF));
        let dropped = || kube::Error::Service(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)));
        assert_eq!(retry_delay(&dropped(), 0), Some(FIRST_BACKOFF));
        assert_eq!(retry_delay(&dropped(), MAX_CONNECT_RETRIES), None);
        for code in [400, 401, 403, 404, 409, 422] {
            assert_eq!(retry_delay(&api_error(code, "", None), 0), None, "{code}");
        }
    }

    #[test]
    fn a_409_is_retried_only_when_it_is_optimistic_concurrency() {
        let modified = api_error(409, "Conflict", Some(details("x", &[], 0)));
        assert_eq!(retry_delay(&modified, 0), Some(FIRST_BACKOFF));
        let field_conflict = api_error(
            409,
            "Conflict",
            Some(details("", &[(".metadata.labels.environment", "conflict with \"kubectl-edit\" using v1")], 0)),
        );
        assert_eq!(retry_delay(&field_conflict, 0), None);
        assert_eq!(retry_delay(&api_error(409, "AlreadyExists", None), 0), None);
    }

    #[test]
    fn a_field_conflict_names_the_fields_and_their_managers() {
        let conflict = api_error(
            409,
            "Conflict",
            Some(details(
                "",
                &[
                    (".metadata.labels.environment", "conflict with \"kubectl-edit\" using v1"),
                    (".data.server", "conflict with \"argocd-server\" with subresource \"status\" using v1"),
                ],
                0,
            )),
        );
        let error = HubError::classify(conflict, "Secret argocd/eks-a", None);
        assert_eq!(
            error.to_string(),
            "Secret argocd/eks-a: fields owned by another field manager: .metadata.labels.environment (held by \
             \"kubectl-edit\"), .data.server (held by \"argocd-server\")"
        );
    }

    #[test]
    fn home_is_expanded() {
        let Some(home) = std::env::var_os("HOME") else { return };
        assert_eq!(expand_home("~/.kube/config"), PathBuf::from(home).join(".kube/config"));
        assert_eq!(expand_home("/etc/kubeconfig"), PathBuf::from("/etc/kubeconfig"));
        assert_eq!(expand_home("rel/~/x"), PathBuf::from("rel/~/x"));
    }

    #[test]
    fn host_settings_make_a_synthetic_context_with_overrides() {
        let settings = HubSettings {
            host: Some("https://10.0.0.1:6443/".into()),
            token: Some("tkn".into()),
            cluster_ca_certificate: Some("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".into()),
            insecure: Some(false),
            exec: Some(ExecSettings {
                command: "aws".into(),
                args: vec!["eks".into()],
                env: BTreeMap::from([("A".into(), "b".into())]),
                api_version: None,
            }),
            ..Default::default()
        };
        let (kubeconfig, options) = kubeconfig_for(&settings).unwrap();
        assert_eq!(options.context.as_deref(), Some("gitopsbridge-hub"));
        let cluster = kubeconfig.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://10.0.0.1:6443"));
        assert!(cluster.certificate_authority_data.is_some());
        let user = kubeconfig.auth_infos[0].auth_info.as_ref().unwrap();
        let exec = user.exec.as_ref().unwrap();
        assert_eq!(exec.api_version.as_deref(), Some(EXEC_API_VERSION));
        assert_eq!(exec.env.as_ref().unwrap()[0]["name"], "A");
        let debug = format!("{settings:?}");
        assert!(!debug.contains("tkn") && !debug.contains("\"b\""), "{debug}");
    }

    #[test]
    fn config_path_context_is_selected_and_overridden() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: ca\n  cluster:\n    server: https://a:6443\n- name: cb\n  cluster:\n    server: https://b:6443\ncontexts:\n- name: a\n  context:\n    cluster: ca\n    user: ua\n- name: b\n  context:\n    cluster: cb\n    user: ub\nusers:\n- name: ua\n  user:\n    token: x\n- name: ub\n  user:\n    token: y\n",
        )
        .unwrap();
        let settings = HubSettings {
            config_path: Some(path.display().to_string()),
            config_context: Some("b".into()),
            insecure: Some(true),
            ..Default::default()
        };
        let (kubeconfig, options) = kubeconfig_for(&settings).unwrap();
        assert_eq!(options.context.as_deref(), Some("b"));
        let cb = kubeconfig.clusters.iter().find(|c| c.name == "cb").unwrap().cluster.as_ref().unwrap();
        assert_eq!(cb.insecure_skip_tls_verify, Some(true));

        let missing = HubSettings { config_context: Some("nope".into()), ..settings };
        match kubeconfig_for(&missing) {
            Err(HubConfigError::ContextNotFound { context, available }) => {
                assert_eq!(context, "nope");
                assert_eq!(available, "a, b");
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn exec_plugins_never_inherit_the_terminal() {
        let kubeconfig = Kubeconfig::from_yaml(
            "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: c\n  cluster:\n    server: https://a:6443\ncontexts:\n- name: a\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n      interactiveMode: IfAvailable\n",
        )
        .unwrap();
        let (kubeconfig, _) = select_context(kubeconfig, &HubSettings::default()).unwrap();
        let exec = kubeconfig.auth_infos[0].auth_info.as_ref().unwrap().exec.as_ref().unwrap();
        assert!(matches!(exec.interactive_mode, Some(ExecInteractiveMode::Never)));

        let settings = HubSettings {
            host: Some("https://10.0.0.1:6443".into()),
            exec: Some(ExecSettings { command: "aws".into(), ..Default::default() }),
            ..Default::default()
        };
        let (kubeconfig, _) = kubeconfig_for(&settings).unwrap();
        let exec = kubeconfig.auth_infos[0].auth_info.as_ref().unwrap().exec.as_ref().unwrap();
        assert!(matches!(exec.interactive_mode, Some(ExecInteractiveMode::Never)));
    }

    #[test]
    fn a_failing_exec_plugin_is_described_without_its_environment_or_output_secrets() {
        use std::os::unix::process::ExitStatusExt;
        secrets::remember("plugin-env-0b7e-secret");
        let failed = kube::client::AuthError::AuthExecRun {
            cmd: r#"PLUGIN_SECRET="plugin-env-0b7e-secret" "aws" "eks" "get-token""#.into(),
            out: Box::new(std::process::Output {
                status: std::process::ExitStatus::from_raw(256),
                stdout: b"{\"status\":{\"token\":\"half-written-0b7e\"".to_vec(),
                stderr: b"error: the key plugin-env-0b7e-secret has expired\n".to_vec(),
            }),
        };
        let reason = describe_auth_error(&failed);
        assert_eq!(
            reason,
            "the exec credential plugin failed (exit status: 1): error: the key (sensitive value) has expired"
        );
        // kube's own words would have carried all of it.
        assert!(failed.to_string().contains("plugin-env-0b7e-secret") && failed.to_string().contains("half-written"));
    }

    #[test]
    fn a_kubeconfig_that_does_not_parse_is_reported_by_position_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "users:\n- name: u\n  user:\n    token: tok-4d1-secret\n    bad: [tok-4d1-secret\n")
            .unwrap();
        let settings = HubSettings { config_path: Some(path.display().to_string()), ..Default::default() };
        let Err(error) = kubeconfig_for(&settings) else { panic!("a broken kubeconfig was read") };
        let text = error.to_string();
        assert!(text.contains("not valid kubeconfig YAML (line"), "{text}");
        assert!(!text.contains("tok-4d1-secret") && !format!("{error:?}").contains("tok-4d1-secret"), "{text}");
        let source = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
        assert!(!source.contains("tok-4d1-secret"), "{source}");
    }

    /// Found by fuzzing (kubeconfig target): a token with a line break made kube panic while
    /// building the client.
    #[tokio::test]
    async fn a_token_with_a_line_break_is_trimmed_or_refused_not_a_panic() {
        // As `protocol::tls::install_crypto_provider` does; the client needs nothing from `protocol`.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let settings = HubSettings {
            host: Some("https://10.0.0.1:6443".into()),
            token: Some("tok-1e5-from-a-file\n".into()),
            ..Default::default()
        };
        let (kubeconfig, options) = kubeconfig_for(&settings).unwrap();
        let token =
            serde_json::to_value(kubeconfig.auth_infos[0].auth_info.as_ref().unwrap()).unwrap()["token"].clone();
        assert_eq!(token, "tok-1e5-from-a-file");
        HubClient::from_kubeconfig(kubeconfig, &options).await.expect("a trimmed token is sent");

        // The fuzzer's input: `host` "\n", `token` ": Co" and so on; here the token keeps an
        // inner line break, as a kubeconfig file can spell it.
        let kubeconfig = Kubeconfig::from_yaml(
            "clusters:\n- name: c\n  cluster:\n    server: https://a:6443\ncontexts:\n- name: a\n  context:\n    cluster: c\n    user: u\ncurrent-context: a\nusers:\n- name: u\n  user:\n    token: \"tok-1e5\\nsecond-line\"\n",
        )
        .unwrap();
        let (kubeconfig, options) = select_context(kubeconfig, &HubSettings::default()).unwrap();
        match HubClient::from_kubeconfig(kubeconfig, &options).await {
            Err(HubError::Config(HubConfigError::UnsendableToken)) => {}
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("a token with a line break was accepted"),
        }
    }
}
