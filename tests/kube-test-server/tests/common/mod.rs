//! Shared helpers: start a server and talk to it through kube-rs exactly as
//! the provider does (written kubeconfig → `Config::from_custom_kubeconfig`).
#![allow(dead_code)]

use http_body_util::BodyExt;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use kube_test_server::{Options, TestServer, argocd_crds};
use serde_json::Value;

pub const CONTEXT: &str = "hub";

pub struct Harness {
    pub server: TestServer,
    /// kube-rs with its defaults (it retries 429, 503 and 504 by itself).
    pub client: Client,
    /// The same without kube-rs's retries, to see single responses.
    pub no_retry: Client,
    pub dir: tempfile::TempDir,
}

pub async fn client_from_kubeconfig(path: &std::path::Path, retry: bool) -> Client {
    let kubeconfig = Kubeconfig::read_from(path).unwrap();
    let options = KubeConfigOptions::default();
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &options).await.unwrap();
    config.default_retry = retry;
    Client::try_from(config).unwrap()
}

pub async fn start(options: Options) -> Harness {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let server = TestServer::start(options).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path, CONTEXT).unwrap();
    let client = client_from_kubeconfig(&path, true).await;
    let no_retry = client_from_kubeconfig(&path, false).await;
    Harness { server, client, no_retry, dir }
}

/// A server without the CRD (Secrets only).
pub async fn start_plain() -> Harness {
    start(Options::default()).await
}

/// Argo CD installed with the CRDs the lookup finds (without them: no validation).
pub async fn start_with_crd() -> Harness {
    start(Options::default().with_argocd()).await
}

/// Whether the ApplicationSet CRD was found; a test of schema validation says it is skipped
/// when not (a clone with nothing beside it and no network).
pub fn appset_crd_found(test: &str) -> bool {
    let found = argocd_crds().applicationset.is_some();
    if !found {
        eprintln!("{test}: skipped, no ApplicationSet CRD to validate against");
    }
    found
}

pub struct RawResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
}

/// A raw request through the kube client (auth and TLS from the kubeconfig).
pub async fn raw(client: &Client, method: &str, uri: &str, content_type: Option<&str>, body: &str) -> RawResponse {
    let mut builder = http::Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    let request = builder.body(kube::client::Body::from(body.as_bytes().to_vec())).unwrap();
    let response = client.send(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    RawResponse { status, headers, body }
}

/// The Status carried by a kube-rs API error.
pub fn status_of<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}
