//! TLS verification. The hub connection, against the Kubernetes API test server (HTTPS with a
//! CA of its own): the server's certificate is verified unless `insecure = true`, by the CA the
//! settings or the kubeconfig give, and a refusal says it is about the certificate. Route53,
//! against an HTTPS endpoint whose certificate nobody vouches for: refused.

mod support;

use std::time::Duration;

use kube_test_server::{Options, TestServer};
use terraform_provider_gitopsbridge::hub::{HubClient, HubError, HubSettings};
use terraform_provider_gitopsbridge::protocol::{ClientCapabilities, Context};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "hub-tls-test-token";

async fn hub() -> TestServer {
    TestServer::start(Options::default().with_token(TOKEN)).await.expect("hub test server")
}

/// Reads one Secret through a client built from `settings`: `Ok` when the hub answered.
async fn read(settings: &HubSettings) -> Result<(), HubError> {
    terraform_provider_gitopsbridge::protocol::tls::install_crypto_provider();
    let ctx = Context::new(CancellationToken::new(), ClientCapabilities::default());
    let client = HubClient::connect(settings).await?;
    let secrets = client.secrets("argocd");
    let read = secrets.get(&ctx, "absent");
    tokio::time::timeout(Duration::from_secs(30), read).await.expect("an answer within 30 s").map(|_| ())
}

/// Asserts a refusal that names the certificate problem and the way out.
fn assert_certificate_refused(result: Result<(), HubError>) {
    let error = match result {
        Err(error) => error,
        Ok(()) => panic!("the hub's certificate was accepted"),
    };
    assert!(matches!(error, HubError::UntrustedCertificate { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("certificate") && text.contains("cluster_ca_certificate"), "{text}");
}

fn host_settings(server: &TestServer) -> HubSettings {
    HubSettings { host: Some(server.url().to_string()), token: Some(TOKEN.into()), ..HubSettings::default() }
}

#[tokio::test]
async fn without_the_ca_the_hub_is_refused_and_with_insecure_it_is_reached() {
    let server = hub().await;
    assert_certificate_refused(read(&host_settings(&server)).await);
    // A kubeconfig without certificate-authority-data: the system roots, which do not know it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    let kubeconfig = server.kubeconfig("hub");
    let without_ca: String =
        kubeconfig.lines().filter(|l| !l.contains("certificate-authority-data")).map(|l| format!("{l}\n")).collect();
    assert_ne!(without_ca, kubeconfig, "the test server's kubeconfig names its CA");
    std::fs::write(&path, without_ca).unwrap();
    let from_file = HubSettings { config_path: Some(path.display().to_string()), ..HubSettings::default() };
    assert_certificate_refused(read(&from_file).await);

    let insecure = HubSettings { insecure: Some(true), ..host_settings(&server) };
    read(&insecure).await.expect("insecure = true skips verification");
    let insecure_file = HubSettings { insecure: Some(true), ..from_file };
    read(&insecure_file).await.expect("insecure = true over a kubeconfig");
}

#[tokio::test]
async fn the_right_ca_is_trusted_and_another_one_is_refused() {
    let server = hub().await;
    let other = hub().await;
    let right = HubSettings { cluster_ca_certificate: Some(server.ca_pem().to_string()), ..host_settings(&server) };
    read(&right).await.expect("the hub's own CA");
    let wrong = HubSettings { cluster_ca_certificate: Some(other.ca_pem().to_string()), ..host_settings(&server) };
    assert_certificate_refused(read(&wrong).await);
    // The kubeconfig's CA is used as it is.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path, "hub").unwrap();
    read(&HubSettings { config_path: Some(path.display().to_string()), ..HubSettings::default() })
        .await
        .expect("the kubeconfig's CA");
    let other_path = dir.path().join("other-kubeconfig");
    std::fs::write(&other_path, server.kubeconfig("hub").replace(&kube_ca_data(&server), &kube_ca_data(&other)))
        .unwrap();
    assert_certificate_refused(
        read(&HubSettings { config_path: Some(other_path.display().to_string()), ..HubSettings::default() }).await,
    );
}

/// The base64 CA the test server writes into its kubeconfigs.
fn kube_ca_data(server: &TestServer) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(server.ca_pem())
}

/// An HTTPS endpoint with a self-signed certificate that records how each TLS handshake ended.
struct SelfSignedEndpoint {
    port: u16,
    handshakes: std::sync::mpsc::Receiver<Result<(), String>>,
}

impl SelfSignedEndpoint {
    fn start() -> SelfSignedEndpoint {
        use std::sync::Arc;
        terraform_provider_gitopsbridge::protocol::tls::install_crypto_provider();
        let identity = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(identity.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![identity.cert.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sender, handshakes) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                listener.set_nonblocking(true).unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                while let Ok((stream, _)) = listener.accept().await {
                    let outcome = acceptor.accept(stream).await.map(|_| ()).map_err(|e| e.to_string());
                    if sender.send(outcome).is_err() {
                        break;
                    }
                }
            });
        });
        SelfSignedEndpoint { port, handshakes }
    }
}

#[test]
fn route53_refuses_an_endpoint_whose_certificate_is_not_trusted() {
    let endpoint = SelfSignedEndpoint::start();
    let mut ws = support::Workspace::new(&support::moto::route53_config_with(
        &format!("https://127.0.0.1:{}", endpoint.port),
        "    max_attempts = 1\n",
        r#"
resource "gitopsbridge_weighted_route" "green" {
  zone_name      = "example.com"
  name           = "burnham.example.com"
  type           = "CNAME"
  set_identifier = "green"
  weight         = 0
  ttl            = 60
  records        = ["green-ingress.elb.amazonaws.com"]
}
"#,
    ));
    for (key, value) in [
        ("AWS_ACCESS_KEY_ID", "AKIAGITOPSBRIDGETLS1"),
        ("AWS_SECRET_ACCESS_KEY", "tls-test-secret-key"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials"),
    ] {
        ws.env(key, value);
    }
    let output = ws.apply_err();
    let flowing = output.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flowing.contains("certificate"), "{output}");
    // The client broke off every handshake itself: it did not trust what it was shown.
    let first = endpoint.handshakes.recv_timeout(Duration::from_secs(10)).expect("the client connected");
    let refused = first.expect_err("the handshake did not complete");
    assert!(refused.to_lowercase().contains("alert"), "{refused}");
    assert!(endpoint.handshakes.try_iter().all(|h| h.is_err()), "no later handshake completed");
}
