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
    sdk_client_with(
        endpoint,
        aws_sdk_route53::config::retry::RetryConfig::standard()
            .with_max_attempts(max_attempts)
            .with_initial_backoff(Duration::from_millis(5)),
    )
}

/// [`sdk_client`] whose first retry waits exactly `backoff` (no jitter), for tests of what ends
/// a backoff.
pub fn sdk_client_with_backoff(endpoint: &str, max_attempts: u32, backoff: Duration) -> aws_sdk_route53::Client {
    sdk_client_with(
        endpoint,
        aws_sdk_route53::config::retry::RetryConfig::standard()
            .with_max_attempts(max_attempts)
            .with_initial_backoff(backoff)
            .with_max_backoff(backoff)
            .with_use_static_exponential_base(true),
    )
}

fn sdk_client_with(endpoint: &str, retry: aws_sdk_route53::config::retry::RetryConfig) -> aws_sdk_route53::Client {
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
        .find(|r| r.name.eq_ignore_ascii_case(&name) && r.set_identifier.as_deref() == Some(set_identifier))
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
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && answer.starts_with(b"HTTP/1.")
}

/// A Terraform working directory whose provider talks to Route53 at `endpoint` (moto or the
/// double) with moto's credentials and nothing from the machine's AWS configuration.
pub fn route53_workspace(endpoint: &str, body: &str) -> super::Workspace {
    aws_workspace(&route53_config(endpoint, body))
}

/// A Terraform working directory for `main_tf` with moto's credentials in the environment and
/// nothing from the machine's AWS configuration.
pub fn aws_workspace(main_tf: &str) -> super::Workspace {
    let mut ws = super::Workspace::new(main_tf);
    use_moto_credentials(&mut ws);
    ws
}

/// Gives every later terraform run in `ws` moto's credentials and nothing from the machine's
/// AWS configuration.
pub fn use_moto_credentials(ws: &mut super::Workspace) {
    for (key, value) in [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/aws-config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials"),
    ] {
        ws.env(key, value);
    }
}

/// The whole `main.tf`: required providers, a provider block for `endpoint`, then `body`. No
/// region: Route53 is global and the provider must work without one.
pub fn route53_config(endpoint: &str, body: &str) -> String {
    route53_config_with(endpoint, "", body)
}

/// [`route53_config`] with more lines in the provider's `route53` block.
pub fn route53_config_with(endpoint: &str, route53_extra: &str, body: &str) -> String {
    format!(
        "{}\nprovider \"gitopsbridge\" {{\n  route53 {{\n    endpoint = \"{endpoint}\"\n{route53_extra}  }}\n}}\n\n{body}",
        super::required_providers()
    )
}

/// Deletes a record out of band, as someone with the console would.
pub fn delete_record(endpoint: &str, zone_id: &str, name: &str, set_identifier: &str) {
    let client = sdk_client(endpoint, 1);
    block_on(async {
        let name = format!("{}.", name.trim_end_matches('.'));
        let out = client.list_resource_record_sets().hosted_zone_id(zone_id).send().await.expect("list records");
        let record = out
            .resource_record_sets()
            .iter()
            .find(|r| r.name().eq_ignore_ascii_case(&name) && r.set_identifier() == Some(set_identifier))
            .expect("record to delete")
            .clone();
        let change = aws_sdk_route53::types::Change::builder()
            .action(aws_sdk_route53::types::ChangeAction::Delete)
            .resource_record_set(record)
            .build()
            .expect("change");
        let batch = aws_sdk_route53::types::ChangeBatch::builder().changes(change).build().expect("batch");
        client
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch)
            .send()
            .await
            .expect("delete record");
    });
}

/// Creates records directly in moto (for what a test needs to find already there).
pub fn seed(endpoint: &str, zone_id: &str, records: Vec<aws_sdk_route53::types::ResourceRecordSet>) {
    let client = sdk_client(endpoint, 1);
    block_on(async {
        let changes = records
            .into_iter()
            .map(|r| {
                aws_sdk_route53::types::Change::builder()
                    .action(aws_sdk_route53::types::ChangeAction::Create)
                    .resource_record_set(r)
                    .build()
                    .expect("change")
            })
            .collect();
        let batch = aws_sdk_route53::types::ChangeBatch::builder().set_changes(Some(changes)).build().expect("batch");
        client
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch)
            .send()
            .await
            .expect("seed records");
    });
}

/// A record set for [`seed`].
pub fn record_set(
    name: &str,
    record_type: &str,
    set_identifier: Option<&str>,
    weight: Option<i64>,
    ttl: i64,
    values: &[&str],
) -> aws_sdk_route53::types::ResourceRecordSet {
    let mut builder = aws_sdk_route53::types::ResourceRecordSet::builder()
        .name(name)
        .r#type(aws_sdk_route53::types::RrType::from(record_type))
        .set_set_identifier(set_identifier.map(str::to_string))
        .set_weight(weight)
        .ttl(ttl);
    for value in values {
        builder = builder
            .resource_records(aws_sdk_route53::types::ResourceRecord::builder().value(*value).build().expect("value"));
    }
    builder.build().expect("record set")
}
