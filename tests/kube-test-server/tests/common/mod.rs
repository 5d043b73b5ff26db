//! Shared helpers: start a server and talk to it through kube-rs exactly as
//! the provider does (written kubeconfig → `Config::from_custom_kubeconfig`).
#![allow(dead_code)]

use http_body_util::BodyExt;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use kube_test_server::{Options, TestServer, argocd_crd_path};
use serde_json::Value;

pub const CONTEXT: &str = "hub";

pub struct Harness {
    pub server: TestServer,
    pub client: Client,
    pub dir: tempfile::TempDir,
}

pub async fn client_for(server: &TestServer, dir: &tempfile::TempDir) -> Client {
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path, CONTEXT).unwrap();
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let options = KubeConfigOptions { context: Some(CONTEXT.into()), ..Default::default() };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options).await.unwrap();
    Client::try_from(config).unwrap()
}

pub async fn start(options: Options) -> Harness {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let server = TestServer::start(options).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&server, &dir).await;
    Harness { server, client, dir }
}

/// A server without the CRD (Secrets only).
pub async fn start_plain() -> Harness {
    start(Options::default()).await
}

pub async fn start_with_crd() -> Harness {
    start(Options::default().with_crd(argocd_crd_path())).await
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
