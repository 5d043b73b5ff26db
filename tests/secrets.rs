//! No secret leaves the provider except where it belongs: every token, key and password the
//! configuration can hold is given a distinctive value, whole flows and error paths run with
//! `TF_LOG=trace` / `TF_LOG_PROVIDER=trace`, and then terraform's output, its log, `show -json`
//! and the state file are searched for those values (also inside base64).
//!
//! Sensitive attributes that are not write-only belong in state; there they must be marked
//! sensitive. Write-only values must be nowhere.
//!
//! `cargo test --test secrets -- --nocapture` prints how much was scanned.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use kube_test_server::{FaultAction, FaultRule, Options};
use serde_json::Value as Json;
use support::hub::Hub;
use support::leaks::{LoggedWorkspace, Scanner, Secret};
use support::moto::Moto;
use support::{Workspace, required_providers};

// Distinctive values, one per place a secret can go.
const HUB_TOKEN: &str = "hubtoken-Vq7Rk2Lm9Xc4Tz";
const HUB_EXEC_ENV: &str = "hubexecenv-Pw3Nd8Ks1Yh6";
const WRONG_HUB_TOKEN: &str = "wronghubtoken-Gf5Jb2Qe7Ua";
const BEARER_TOKEN: &str = "argobearer-Hx4Wm9Cr2Ln8";
const BEARER_TOKEN_ROTATED: &str = "argobearer2-Zt6Kp1Vs8Qd3";
const BEARER_TOKEN_WO: &str = "argowriteonly-Bn7Fy3Mg5Re1";
const BEARER_TOKEN_WO_ROTATED: &str = "argowriteonly2-Ju2Xc6Ht9Wa4";
const KUBECONFIG_TOKEN: &str = "kubeconfigtoken-Lr8Se3Dv6Pk1";
const ARGO_EXEC_ENV: &str = "argoexecenv-Qm5Tb9Wz2Nf7";
const KEY_PEM_BODY: &str = "argokeydata-Ew4Hs7Yc1Mx5Gj8Ud3";
const AWS_SECRET_KEY: &str = "awssecretkey-Ck9Fv2Rn6Lb3Tw";
const AWS_SESSION_TOKEN: &str = "awssessiontoken-Dp1Yk8Sm4Zh7";
const AWS_PROFILE_SECRET: &str = "awsprofilesecret-Na6Gq3Xw9Be2";

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// `key_data`: base64 of a PEM whose body is distinctive.
fn key_data() -> String {
    b64(&format!("-----BEGIN PRIVATE KEY-----\n{KEY_PEM_BODY}\n-----END PRIVATE KEY-----\n"))
}

fn hub_with_token() -> Hub {
    Hub::with_options(Options::default().with_argocd().with_token(HUB_TOKEN))
}

/// An executable shell script in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod script");
    path
}

/// A client-go credential plugin that hands out `$HUB_TOKEN`.
fn credential_plugin(dir: &Path) -> PathBuf {
    script(
        dir,
        "hub-credentials.sh",
        r#"printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s"}}' "$HUB_TOKEN""#,
    )
}

/// The provider block: the hub by host and CA, with `credentials` lines in its `hub` block.
fn provider_block(hub: &Hub, credentials: &str) -> String {
    let ca = hub.dir().join("ca.pem");
    std::fs::write(&ca, hub.server().ca_pem()).expect("write CA");
    format!(
        "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    host = \"{}\"\n    cluster_ca_certificate = file(\"{}\")\n{credentials}  }}\n}}\n",
        required_providers(),
        hub.server().url(),
        ca.display(),
    )
}

/// The hub through an exec plugin whose environment carries secrets.
fn exec_provider_block(hub: &Hub, command: &Path) -> String {
    provider_block(
        hub,
        &format!(
            r#"    exec {{
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "{}"
      env         = {{ HUB_TOKEN = "{HUB_TOKEN}", PLUGIN_SECRET = "{HUB_EXEC_ENV}" }}
    }}
"#,
            command.display()
        ),
    )
}

fn token_provider_block(hub: &Hub, token: &str) -> String {
    provider_block(hub, &format!("    token = \"{token}\"\n"))
}

/// One cluster Secret per kind of credential Argo CD can be given, and a data source read.
fn clusters(bearer_token: &str, write_only: &str, write_only_version: u32, environment: &str) -> String {
    format!(
        r#"
resource "gitopsbridge_cluster_metadata" "token" {{
  cluster_name = "leak-token"
  environment  = "{environment}"
  server       = "https://token.example.internal"
  bearer_token = "{bearer_token}"
}}

resource "gitopsbridge_cluster_metadata" "write_only" {{
  cluster_name            = "leak-write-only"
  server                  = "https://wo.example.internal"
  bearer_token_wo         = "{write_only}"
  bearer_token_wo_version = "{write_only_version}"
}}

resource "gitopsbridge_cluster_metadata" "tls" {{
  cluster_name = "leak-tls"
  server       = "https://tls.example.internal"
  cert_data    = "{cert}"
  key_data     = "{key}"
}}

resource "gitopsbridge_cluster_metadata" "kubeconfig" {{
  cluster_name = "leak-kubeconfig"
  from_kubeconfig {{
    content = <<-EOT
      apiVersion: v1
      kind: Config
      current-context: spoke
      clusters:
      - name: spoke
        cluster:
          server: https://kubeconfig.example.internal
      contexts:
      - name: spoke
        context:
          cluster: spoke
          user: spoke
      users:
      - name: spoke
        user:
          token: {KUBECONFIG_TOKEN}
    EOT
  }}
}}

resource "gitopsbridge_cluster_metadata" "exec" {{
  cluster_name = "leak-exec"
  server       = "https://exec.example.internal"
  exec_provider {{
    command = "argocd-k8s-auth"
    args    = ["aws", "--cluster-name", "spoke"]
    env     = {{ AWS_SECRET_ACCESS_KEY = "{ARGO_EXEC_ENV}" }}
  }}
}}

data "gitopsbridge_cluster_metadata" "token" {{
  cluster_name = gitopsbridge_cluster_metadata.token.cluster_name
}}
"#,
        cert = b64("-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n"),
        key = key_data(),
    )
}

fn hub_secrets() -> Vec<Secret> {
    vec![
        Secret::new("hub token", HUB_TOKEN),
        Secret::new("hub exec env value", HUB_EXEC_ENV),
        Secret::new("wrong hub token", WRONG_HUB_TOKEN),
        Secret::new("bearer_token", BEARER_TOKEN),
        Secret::new("rotated bearer_token", BEARER_TOKEN_ROTATED),
        Secret::new("bearer_token_wo", BEARER_TOKEN_WO),
        Secret::new("rotated bearer_token_wo", BEARER_TOKEN_WO_ROTATED),
        Secret::new("from_kubeconfig token", KUBECONFIG_TOKEN),
        Secret::new("exec_provider env value", ARGO_EXEC_ENV),
        Secret::new("key_data", key_data()),
        Secret::new("key_data PEM body", KEY_PEM_BODY),
    ]
}

/// The write-only values: absent even from the raw state file.
fn write_only_secrets() -> Vec<Secret> {
    vec![
        Secret::new("bearer_token_wo", BEARER_TOKEN_WO),
        Secret::new("rotated bearer_token_wo", BEARER_TOKEN_WO_ROTATED),
    ]
}

/// Asserts that `show -json` marks each path (`attribute` or `block.0.attribute`) of `address`
/// as sensitive.
fn assert_marked_sensitive(show: &Json, address: &str, paths: &[&str]) {
    let resources = show["values"]["root_module"]["resources"].as_array().expect("resources in state");
    let resource = resources.iter().find(|r| r["address"] == address).unwrap_or_else(|| panic!("{address} in state"));
    for path in paths {
        let mut node = &resource["sensitive_values"];
        for step in path.split('.') {
            node = match step.parse::<usize>() {
                Ok(index) => &node[index],
                Err(_) => &node[step],
            };
        }
        // A whole value is `true`; a map is an object with every key `true`.
        let marked = node == &Json::Bool(true)
            || node.as_object().is_some_and(|m| !m.is_empty() && m.values().all(|v| v == &Json::Bool(true)));
        assert!(marked, "{address}.{path} is not marked sensitive: {}", resource["sensitive_values"]);
    }
}

#[test]
fn a_whole_hub_flow_leaves_secrets_only_in_state_and_marked_sensitive() {
    let hub = hub_with_token();
    let plugin = credential_plugin(hub.dir());
    let provider = exec_provider_block(&hub, &plugin);
    let mut tf =
        LoggedWorkspace::new(Workspace::new(&(provider.clone() + &clusters(BEARER_TOKEN, BEARER_TOKEN_WO, 1, "prod"))));
    let secrets = hub_secrets();
    let mut scanner = Scanner::new();

    tf.run_ok(&["plan", "-input=false", "-no-color"]);
    tf.apply();
    let secret = hub.secret("argocd", "leak-write-only").expect("write-only cluster created");
    let config = base64::engine::general_purpose::STANDARD.decode(secret["data"]["config"].as_str().unwrap()).unwrap();
    let config: Json = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["bearerToken"], BEARER_TOKEN_WO, "the write-only token reached the hub");
    tf.run_ok(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);

    // Update: rotate both tokens and change a label.
    tf.ws
        .write("main.tf", &(provider.clone() + &clusters(BEARER_TOKEN_ROTATED, BEARER_TOKEN_WO_ROTATED, 2, "staging")));
    tf.run_ok(&["plan", "-input=false", "-no-color"]);
    tf.apply();
    let show = tf.show_json();
    let raw_state = tf.ws.raw_state();

    // Import: forget a cluster and take it back from the hub.
    tf.run_ok(&["state", "rm", "-no-color", "gitopsbridge_cluster_metadata.token"]);
    tf.run_ok(&["import", "-input=false", "-no-color", "gitopsbridge_cluster_metadata.token", "argocd/leak-token"]);
    let imported = tf.show_json();
    tf.run_ok(&["plan", "-input=false", "-no-color"]);
    tf.run_ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert!(hub.cluster_secrets("argocd").is_empty(), "destroy removed every cluster");

    tf.scan_outputs_and_log(&mut scanner, &secrets);
    // State holds the stored secrets, marked sensitive; the write-only ones are nowhere.
    for state in [&show, &imported] {
        assert_marked_sensitive(state, "gitopsbridge_cluster_metadata.token", &["bearer_token"]);
        assert_marked_sensitive(state, "gitopsbridge_cluster_metadata.write_only", &["bearer_token_wo"]);
        assert_marked_sensitive(state, "gitopsbridge_cluster_metadata.tls", &["key_data"]);
        assert_marked_sensitive(state, "gitopsbridge_cluster_metadata.kubeconfig", &["from_kubeconfig.0.content"]);
        assert_marked_sensitive(state, "gitopsbridge_cluster_metadata.exec", &["exec_provider.0.env"]);
    }
    assert!(raw_state.contains(BEARER_TOKEN_ROTATED), "the stored bearer_token is in state");
    scanner.scan("raw state file", &raw_state, &write_only_secrets());
    scanner.scan("show -json after update", &show.to_string(), &write_only_secrets());
    scanner.scan("show -json after import", &imported.to_string(), &write_only_secrets());
    scanner.assert_clean("hub flow");
}

/// A cluster whose Secret carries `bearer_token`, and one with a client key.
const TOKEN_AND_KEY_CLUSTERS: &str = r#"
resource "gitopsbridge_cluster_metadata" "token" {
  cluster_name = "leak-token"
  server       = "https://token.example.internal"
  bearer_token = "BEARER"
}
"#;

fn token_cluster() -> String {
    TOKEN_AND_KEY_CLUSTERS.replace("BEARER", BEARER_TOKEN)
}

fn tls_cluster() -> String {
    format!(
        r#"
resource "gitopsbridge_cluster_metadata" "tls" {{
  cluster_name = "leak-tls"
  server       = "https://tls.example.internal"
  cert_data    = "{}"
  key_data     = "{}"
}}
"#,
        b64("-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n"),
        key_data()
    )
}

/// Runs one failing case in its own workspace: `command` must fail and its output contain each
/// of `expected`; every artifact is scanned.
fn failing_case(scanner: &mut Scanner, secrets: &[Secret], main_tf: &str, command: &str, expected: &[&str]) {
    let mut tf = LoggedWorkspace::new(Workspace::new(main_tf));
    let output = match command {
        "plan" => tf.run_err(&["plan", "-input=false", "-no-color"]),
        _ => tf.apply_err(),
    };
    // Terraform wraps diagnostics at 80 columns.
    let flowing = output.split_whitespace().collect::<Vec<_>>().join(" ");
    for text in expected {
        assert!(flowing.contains(text), "expected {text:?} in:\n{output}");
    }
    tf.scan_outputs_and_log(scanner, secrets);
    scanner.scan("raw state file", &tf.ws.raw_state(), secrets);
}

#[test]
fn rejected_credentials_and_rejected_writes_quote_no_secret() {
    let hub = hub_with_token();
    let secrets = hub_secrets();
    let mut scanner = Scanner::new();

    // 401: the hub does not take the token.
    let wrong = token_provider_block(&hub, WRONG_HUB_TOKEN) + &token_cluster();
    failing_case(&mut scanner, &secrets, &wrong, "apply", &["Hub credentials rejected"]);

    // 401 for a client certificate the hub does not accept.
    let identity = rcgen::generate_simple_self_signed(vec!["terraform".into()]).expect("client certificate");
    let key_pem = identity.signing_key.serialize_pem();
    let key_line = key_pem.lines().nth(1).expect("PEM body").to_string();
    let dir = hub.dir();
    std::fs::write(dir.join("client.crt"), identity.cert.pem()).unwrap();
    std::fs::write(dir.join("client.key"), &key_pem).unwrap();
    let certificate = provider_block(
        &hub,
        &format!(
            "    client_certificate = file(\"{}\")\n    client_key = file(\"{}\")\n",
            dir.join("client.crt").display(),
            dir.join("client.key").display()
        ),
    ) + &token_cluster();
    let mut with_key = secrets.clone();
    with_key.push(Secret::new("client_key PEM line", key_line));
    failing_case(&mut scanner, &with_key, &certificate, "apply", &["Hub credentials rejected"]);

    // 403, and 422 / 400 whose messages quote what was sent, as an admission webhook or a
    // decoding error may: the token as it is and the config as base64.
    let good = token_provider_block(&hub, HUB_TOKEN);
    let status = |code: u16, message: String| {
        FaultRule::new(FaultAction::Status { code, retry_after_seconds: None, message: Some(message) })
            .method("PATCH")
            .path_contains("/secrets/")
    };
    hub.server().add_fault(status(
        403,
        "secrets \"leak-token\" is forbidden: User \"system:serviceaccount:ci:terraform\" cannot patch".into(),
    ));
    failing_case(
        &mut scanner,
        &secrets,
        &(good.clone() + &token_cluster()),
        "apply",
        &["Permission denied on the hub"],
    );
    let config = b64(&format!(r#"{{"bearerToken":"{BEARER_TOKEN}","tlsClientConfig":{{"insecure":false}}}}"#));
    hub.server().add_fault(status(
        422,
        format!("admission webhook \"policy.example\" denied the request: bearerToken {BEARER_TOKEN} in data[config]={config} is not allowed"),
    ));
    failing_case(
        &mut scanner,
        &secrets,
        &(good.clone() + &token_cluster()),
        "apply",
        &["The hub rejected the object", "(sensitive value)"],
    );
    hub.server().add_fault(status(400, format!("strict decoding error: unknown field \"keyData\": {}", key_data())));
    failing_case(
        &mut scanner,
        &secrets,
        &(good + &tls_cluster()),
        "apply",
        &["The hub rejected the object", "(sensitive value)"],
    );
    assert!(hub.cluster_secrets("argocd").is_empty(), "nothing was written");
    scanner.assert_clean("rejected credentials and writes");
}

#[test]
fn failing_credential_plugins_and_bad_kubeconfigs_quote_no_secret() {
    let hub = hub_with_token();
    let secrets = hub_secrets();
    let mut scanner = Scanner::new();
    let dir = hub.dir();

    // A plugin that fails and prints its environment's secrets on stderr (and half a token on
    // stdout).
    let failing = script(
        dir,
        "failing-plugin.sh",
        r#"printf '{"status":{"token":"%s"' "$HUB_TOKEN"
echo "cannot refresh: token $HUB_TOKEN and key $PLUGIN_SECRET were refused" >&2
exit 3"#,
    );
    failing_case(
        &mut scanner,
        &secrets,
        &(exec_provider_block(&hub, &failing) + &token_cluster()),
        "apply",
        &[
            "Cannot obtain hub credentials",
            "exit status: 3",
            "cannot refresh: token (sensitive value) and key (sensitive value)",
        ],
    );

    // A plugin whose output is not an ExecCredential but holds the token.
    let garbled = script(dir, "garbled-plugin.sh", r#"printf '{"status": {"token": "%s", [' "$HUB_TOKEN""#);
    failing_case(
        &mut scanner,
        &secrets,
        &(exec_provider_block(&hub, &garbled) + &token_cluster()),
        "apply",
        &["not an ExecCredential"],
    );

    // A kubeconfig file that breaks right after its token.
    let broken = dir.join("broken-kubeconfig");
    std::fs::write(
        &broken,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: hub\nusers:\n- name: hub\n  user:\n    token: {HUB_TOKEN}\n    bad: [unclosed {HUB_TOKEN}\n"
        ),
    )
    .unwrap();
    let broken_file = format!(
        "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    config_path = \"{}\"\n  }}\n}}\n",
        required_providers(),
        broken.display()
    );
    failing_case(&mut scanner, &secrets, &(broken_file + &token_cluster()), "apply", &["cannot read the kubeconfig"]);

    // `from_kubeconfig` content that is not YAML, right after its token. From a file, as it
    // would be: Terraform itself shows the configuration line a diagnostic points at.
    let content = dir.join("spoke-kubeconfig");
    std::fs::write(
        &content,
        format!("users:\n- name: x\n  user:\n    token: {KUBECONFIG_TOKEN}\n  : [{KUBECONFIG_TOKEN}\n"),
    )
    .unwrap();
    let kubeconfig_body = format!(
        r#"
resource "gitopsbridge_cluster_metadata" "kubeconfig" {{
  cluster_name = "leak-kubeconfig"
  from_kubeconfig {{
    content = file("{}")
  }}
}}
"#,
        content.display()
    );
    failing_case(
        &mut scanner,
        &secrets,
        &(token_provider_block(&hub, HUB_TOKEN) + &kubeconfig_body),
        "plan",
        &["not a valid kubeconfig"],
    );
    assert!(hub.cluster_secrets("argocd").is_empty(), "nothing was written");
    scanner.assert_clean("credential plugins and kubeconfigs");
}

// ---------------------------------------------------------------------------------------------
// Route53: AWS credentials from the environment and from a shared credentials file.

fn aws_secrets() -> Vec<Secret> {
    vec![
        Secret::new("AWS secret key", AWS_SECRET_KEY),
        Secret::new("AWS session token", AWS_SESSION_TOKEN),
        Secret::new("AWS profile secret key", AWS_PROFILE_SECRET),
    ]
}

fn weighted_route(weight: u32, extra: &str) -> String {
    format!(
        r#"
resource "gitopsbridge_weighted_route" "green" {{
  zone_name      = "example.com"
  name           = "burnham.example.com"
  type           = "CNAME"
  set_identifier = "green"
  weight         = {weight}
  ttl            = 60
  records        = ["green-ingress.elb.amazonaws.com"]
}}

data "gitopsbridge_weighted_routes" "burnham" {{
  zone_name  = "example.com"
  name       = "burnham.example.com"
  depends_on = [gitopsbridge_weighted_route.green]
}}
{extra}"#
    )
}

/// A workspace whose provider reaches Route53 at `endpoint` with the AWS settings of `env` only.
fn aws_logged_workspace(endpoint: &str, route53_extra: &str, body: &str, env: &[(&str, &str)]) -> LoggedWorkspace {
    let mut ws = Workspace::new(&support::moto::route53_config_with(endpoint, route53_extra, body));
    for (key, value) in [
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials"),
    ]
    .iter()
    .chain(env)
    {
        ws.env(key, value);
    }
    LoggedWorkspace::new(ws)
}

#[test]
fn aws_credentials_from_the_environment_and_a_profile_stay_out_of_every_artifact() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    moto.create_zone("example.com");
    let secrets = aws_secrets();
    let mut scanner = Scanner::new();

    // Environment credentials with a session token: create, update, read, destroy.
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIAGITOPSBRIDGETEST"),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET_KEY),
        ("AWS_SESSION_TOKEN", AWS_SESSION_TOKEN),
    ];
    let mut tf = aws_logged_workspace(&endpoint, "", &weighted_route(0, ""), &env);
    tf.apply();
    tf.ws.write("main.tf", &support::moto::route53_config(&endpoint, &weighted_route(100, "")));
    tf.apply();
    tf.run_ok(&["plan", "-input=false", "-no-color"]);
    let show = tf.show_json();
    // Errors: a zone that does not exist, and a record Route53 refuses.
    tf.ws.write(
        "main.tf",
        &support::moto::route53_config(
            &endpoint,
            &(weighted_route(100, "")
                + r#"
resource "gitopsbridge_weighted_route" "missing_zone" {
  zone_id        = "ZNOSUCHZONE42"
  name           = "burnham.example.com"
  type           = "CNAME"
  set_identifier = "blue"
  weight         = 0
  ttl            = 60
  records        = ["blue-ingress.elb.amazonaws.com"]
}
"#),
        ),
    );
    let failed = tf.apply_err();
    assert!(failed.contains("ZNOSUCHZONE42"), "{failed}");
    tf.ws.write("main.tf", &support::moto::route53_config(&endpoint, &weighted_route(100, "")));
    tf.run_ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    tf.scan_outputs_and_log(&mut scanner, &secrets);
    scanner.scan("show -json", &show.to_string(), &secrets);
    scanner.scan("raw state file", &tf.ws.raw_state(), &secrets);

    // A profile in a shared credentials file.
    let files = tempfile::tempdir().unwrap();
    let credentials = files.path().join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[gitopsbridge]\naws_access_key_id = AKIAGITOPSBRIDGEPROF\naws_secret_access_key = {AWS_PROFILE_SECRET}\naws_session_token = {AWS_SESSION_TOKEN}\n\n[helper]\ncredential_process = sh -c 'echo \"the credential helper is out of service\" >&2; exit 2'\n"
        ),
    )
    .unwrap();
    let profile_env = [("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap())];
    let mut tf =
        aws_logged_workspace(&endpoint, "    profile = \"gitopsbridge\"\n", &weighted_route(0, ""), &profile_env);
    tf.apply();
    tf.run_ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    tf.scan_outputs_and_log(&mut scanner, &secrets);
    scanner.scan("raw state file", &tf.ws.raw_state(), &secrets);

    // A credential helper that fails, and a credentials file that does not parse.
    let mut tf = aws_logged_workspace(&endpoint, "    profile = \"helper\"\n", &weighted_route(0, ""), &profile_env);
    let failed = tf.apply_err();
    assert!(failed.contains("out of service"), "{failed}");
    tf.scan_outputs_and_log(&mut scanner, &secrets);
    let broken = files.path().join("broken-credentials");
    std::fs::write(
        &broken,
        format!("[gitopsbridge]\naws_secret_access_key = {AWS_PROFILE_SECRET}\n[unclosed {AWS_PROFILE_SECRET}\n"),
    )
    .unwrap();
    let broken_env = [("AWS_SHARED_CREDENTIALS_FILE", broken.to_str().unwrap())];
    let mut tf =
        aws_logged_workspace(&endpoint, "    profile = \"gitopsbridge\"\n", &weighted_route(0, ""), &broken_env);
    tf.apply_err();
    tf.scan_outputs_and_log(&mut scanner, &secrets);
    scanner.assert_clean("AWS credentials");
}
