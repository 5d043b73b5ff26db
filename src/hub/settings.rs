//! The `hub` block's connection settings and how they become a kubeconfig: a file and context,
//! or host/token/certificates, or an exec credential plugin (never interactive), with the
//! secrets it learns handed to [`crate::secrets`] and its errors free of them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use kube::config::{
    AuthInfo, Cluster, ExecConfig, ExecInteractiveMode, KubeConfigOptions, Kubeconfig, KubeconfigError, NamedAuthInfo,
    NamedCluster, NamedContext,
};

use crate::secrets;

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
pub(super) fn kubeconfig_for(settings: &HubSettings) -> Result<(Kubeconfig, KubeConfigOptions), HubConfigError> {
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
pub(super) fn check_user_secrets(kubeconfig: &Kubeconfig, options: &KubeConfigOptions) -> Result<(), HubConfigError> {
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
pub(super) fn describe_auth_error(error: &kube::client::AuthError) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
