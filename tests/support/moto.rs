//! `moto_server` as the Route53 stand-in: one per test, on a free port of 127.0.0.1, killed on drop.
//!
//! moto accepts records Route53 would refuse (weight 256, duplicate set identifiers), so tests of
//! those rules prove our own validation, not moto's.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_route53::config::{BehaviorVersion, Credentials, Region};

/// Credentials moto accepts; tests hand them to the provider through the environment.
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";

/// A running `moto_server`.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts moto and returns once it answers HTTP.
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server must be installed: pip install \"moto[server]\"");
        let mut moto = Moto { child, port };
        moto.wait_until_ready();
        moto
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("moto_server status") {
                panic!("moto_server exited before it was ready: {status}");
            }
            if answers_http(self.port) {
                return;
            }
            assert!(Instant::now() < deadline, "moto_server did not answer on port {} within 30 s", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The endpoint URL for the provider's `route53 { endpoint }` and for SDK clients.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a public hosted zone and returns its bare id.
    pub fn create_zone(&self, name: &str) -> String {
        create_zone(&self.endpoint(), name)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SDK client for `endpoint` with moto's static credentials and `max_attempts` attempts.
pub fn sdk_client(endpoint: &str, max_attempts: u32) -> aws_sdk_route53::Client {
    let retry = aws_sdk_route53::config::retry::RetryConfig::standard()
        .with_max_attempts(max_attempts)
        .with_initial_backoff(Duration::from_millis(5));
    let config = aws_sdk_route53::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "tests"))
        .endpoint_url(endpoint)
        .retry_config(retry)
        .build();
    aws_sdk_route53::Client::from_conf(config)
}

/// Runs a future to completion from synchronous test code.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime").block_on(future)
}

/// Creates a public hosted zone through `endpoint` and returns its bare id.
pub fn create_zone(endpoint: &str, name: &str) -> String {
    let client = sdk_client(endpoint, 1);
    block_on(async {
        let out = client
            .create_hosted_zone()
            .name(name)
            .caller_reference(format!("{name}-{}", std::process::id()))
            .send()
            .await
            .expect("create hosted zone in moto");
        let id = out.hosted_zone().expect("zone in answer").id();
        id.trim_start_matches("/hostedzone/").to_string()
    })
}

/// One record set as moto has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub name: String,
    pub record_type: String,
    pub set_identifier: Option<String>,
    pub weight: Option<i64>,
    pub ttl: Option<i64>,
    pub values: Vec<String>,
}

/// Every record set of a zone.
pub fn records(endpoint: &str, zone_id: &str) -> Vec<Record> {
    let client = sdk_client(endpoint, 1);
    block_on(async {
        let out = client.list_resource_record_sets().hosted_zone_id(zone_id).send().await.expect("list records");
        out.resource_record_sets()
            .iter()
            .map(|r| Record {
                name: r.name().to_string(),
                record_type: r.r#type().as_str().to_string(),
                set_identifier: r.set_identifier().map(str::to_string),
                weight: r.weight(),
                ttl: r.ttl(),
                values: r.resource_records().iter().map(|v| v.value().to_string()).collect(),
            })
            .collect()
    })
}

/// The weight of one weighted record, or `None` when it does not exist.
pub fn weight_of(endpoint: &str, zone_id: &str, name: &str, set_identifier: &str) -> Option<i64> {
    let name = format!("{}.", name.trim_end_matches('.'));
    records(endpoint, zone_id)
        .into_iter()
        .find(|r| r.name == name && r.set_identifier.as_deref() == Some(set_identifier))
        .and_then(|r| r.weight)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn answers_http(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let mut answer = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok() && stream.read_exact(&mut answer).is_ok() && answer.starts_with(b"HTTP/1.")
}
