//! A Route53 double in front of moto: it forwards every request, counts them per operation, and
//! answers chosen operations with Route53's error responses (or none at all, or late) a given
//! number of times first, or until cleared. Holds decide when a request goes on (the test
//! releases it), fault rules what it then gets, so one request can be held and then throttled.
//!
//! moto never throttles, never fails and never rejects a batch the way Route53 does, so the
//! double proves the retries (`Throttling`, `PriorRequestNotComplete`, 5xx, lost connections),
//! the deadlines (slow answers) and that `InvalidChangeBatch` messages reach the user verbatim;
//! its counters prove how many listings a refresh costs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kube_test_server::Holds;

use super::moto_changes;

/// What a faulted request gets instead of (or around) moto's answer.
#[derive(Clone, Debug)]
pub enum Fault {
    Throttling,
    PriorRequestNotComplete,
    /// `InvalidChangeBatch` with this message.
    InvalidChangeBatch(String),
    /// 503 `ServiceUnavailable`.
    ServiceUnavailable,
    /// 500 `InternalFailure`.
    InternalFailure,
    /// The connection closes without an answer; moto never sees the request.
    Drop,
    /// The request waits this long, then goes to moto.
    Delay(Duration),
    /// The request goes to moto at once (a change takes effect); its answer waits this long.
    DelayAnswer(Duration),
    /// The request goes to moto (a change takes effect), then the connection closes without the
    /// answer: the client cannot know that its write happened.
    DropAnswer,
}

impl Fault {
    /// Route53's error answer for this fault, or `None` when moto answers.
    fn error_response(&self) -> Option<Response<Full<Bytes>>> {
        let (status, kind, code, message) = match self {
            Fault::Throttling => (StatusCode::BAD_REQUEST, "Sender", "Throttling", "Rate exceeded".to_string()),
            Fault::PriorRequestNotComplete => (
                StatusCode::BAD_REQUEST,
                "Sender",
                "PriorRequestNotComplete",
                "The request was rejected because Route 53 was still processing a prior request.".to_string(),
            ),
            Fault::InvalidChangeBatch(message) => {
                (StatusCode::BAD_REQUEST, "Sender", "InvalidChangeBatch", message.clone())
            }
            Fault::ServiceUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Receiver",
                "ServiceUnavailable",
                "The service is unavailable. Please try again later.".to_string(),
            ),
            Fault::InternalFailure => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Receiver",
                "InternalFailure",
                "The request processing has failed because of an unknown error.".to_string(),
            ),
            Fault::Drop | Fault::Delay(_) | Fault::DelayAnswer(_) | Fault::DropAnswer => return None,
        };
        let body = format!(
            "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">\
             <Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
        );
        let response = Response::builder()
            .status(status)
            .header("content-type", "text/xml")
            .header("x-amzn-requestid", "00000000-0000-0000-0000-000000000000")
            .body(Full::new(Bytes::from(body)))
            .expect("static response");
        Some(response)
    }
}

/// Which requests get a fault: those of `operation` whose query string or body contains
/// `containing` (a record name, say), `times` times or until cleared. Rules apply in order; the
/// first matching one acts and loses one use.
#[derive(Clone, Debug)]
pub struct FaultRule {
    operation: &'static str,
    containing: Option<String>,
    fault: Fault,
    /// `None`: until cleared.
    times: Option<usize>,
}

impl FaultRule {
    /// `fault` for the next call of `operation` (e.g. `ChangeResourceRecordSets`).
    pub fn new(operation: &'static str, fault: Fault) -> FaultRule {
        FaultRule { operation, containing: None, fault, times: Some(1) }
    }

    /// Only requests whose query string or body contains `text`.
    pub fn containing(mut self, text: &str) -> FaultRule {
        self.containing = Some(text.to_string());
        self
    }

    /// Affect this many matching requests.
    pub fn times(mut self, times: usize) -> FaultRule {
        self.times = Some(times);
        self
    }

    /// Affect every matching request until the faults are cleared.
    pub fn always(mut self) -> FaultRule {
        self.times = None;
        self
    }

    fn matches(&self, operation: &str, query: &str, body: &[u8]) -> bool {
        self.operation == operation
            && self
                .containing
                .as_deref()
                .is_none_or(|text| query.contains(text) || String::from_utf8_lossy(body).contains(text))
    }
}

#[derive(Default)]
struct State {
    counts: HashMap<&'static str, u64>,
    faults: Vec<FaultRule>,
    /// GetChange answers still to report PENDING; while above 0, changes are PENDING too.
    pending_polls: usize,
    /// Requests per operation still to hold (before their faults and forwarding).
    holds: HashMap<&'static str, usize>,
    /// Record changes in the change batches moto accepted.
    changes_accepted: u64,
    /// Each accepted change batch, as [`batch_summary`] writes it.
    batches: Vec<Vec<String>>,
    /// Scripted `GetHealthCheckStatus` answers by health check id: each checker's region and
    /// status report (moto always reports success).
    health: HashMap<String, Vec<(String, String)>>,
}

impl State {
    /// The fault of the first rule matching this request, using it up once.
    fn take_fault(&mut self, operation: &str, query: &str, body: &[u8]) -> Option<Fault> {
        let index = self.faults.iter().position(|r| r.times != Some(0) && r.matches(operation, query, body))?;
        let rule = &mut self.faults[index];
        let fault = rule.fault.clone();
        if let Some(times) = &mut rule.times {
            *times -= 1;
        }
        Some(fault)
    }
}

/// The running double; stops with the test process.
pub struct Route53Double {
    port: u16,
    state: Arc<Mutex<State>>,
    held: Arc<Holds>,
}

impl Route53Double {
    /// Starts the double in front of the Route53 endpoint `upstream` (moto).
    pub fn start(upstream: &str) -> Route53Double {
        let state = Arc::new(Mutex::new(State::default()));
        let held = Arc::new(Holds::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind double");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let port = listener.local_addr().expect("double address").port();
        let (upstream, shared, holds) = (upstream.trim_end_matches('/').to_string(), state.clone(), held.clone());
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            runtime.block_on(serve(listener, upstream, shared, holds));
        });
        Route53Double { port, state, held }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answers the next `times` calls of `operation` (e.g. `ChangeResourceRecordSets`) with `fault`.
    pub fn fail(&self, operation: &'static str, fault: Fault, times: usize) {
        self.add_fault(FaultRule::new(operation, fault).times(times));
    }

    /// Adds a rule after the ones already there.
    pub fn add_fault(&self, rule: FaultRule) {
        self.state.lock().expect("double state").faults.push(rule);
    }

    /// Uses of limited rules for `operation` not taken yet.
    pub fn pending_faults(&self, operation: &str) -> usize {
        let state = self.state.lock().expect("double state");
        state.faults.iter().filter(|r| r.operation == operation).filter_map(|r| r.times).sum()
    }

    /// Forgets every fault rule.
    pub fn clear_faults(&self) {
        self.state.lock().expect("double state").faults.clear();
    }

    /// Reports changes as PENDING and the next `polls` GetChange answers too, as Route53 does
    /// while it propagates a change (moto is always INSYNC at once).
    pub fn propagate_slowly(&self, polls: usize) {
        self.state.lock().expect("double state").pending_polls = polls;
    }

    /// How many requests of `operation` arrived (faulted ones included).
    pub fn count(&self, operation: &str) -> u64 {
        self.state.lock().expect("double state").counts.get(operation).copied().unwrap_or(0)
    }

    /// Requests that change something in Route53 (changes, creates, deletes, any other non-GET).
    pub fn writes(&self) -> u64 {
        ["ChangeResourceRecordSets", "CreateHostedZone", "DeleteHostedZone", "OtherWrite"]
            .iter()
            .map(|op| self.count(op))
            .sum()
    }

    /// Holds the next `times` requests of `operation` on arrival, before faults and forwarding,
    /// until [`Route53Double::release_held`]: to have requests in flight at a chosen moment.
    pub fn hold(&self, operation: &'static str, times: usize) {
        *self.state.lock().expect("double state").holds.entry(operation).or_default() += times;
    }

    /// Blocks until at least `count` requests are held; false on timeout.
    pub fn wait_for_held(&self, count: usize, timeout: Duration) -> bool {
        self.held.wait_for_held(count, timeout)
    }

    /// How many requests are held now.
    pub fn held(&self) -> usize {
        self.held.held()
    }

    /// Lets every held request go on.
    pub fn release_held(&self) {
        self.held.release();
    }

    /// Record changes in the ChangeResourceRecordSets batches moto accepted: a batch of three
    /// changes counts three (the provider coalesces concurrent changes into batches).
    pub fn changes_accepted(&self) -> u64 {
        self.state.lock().expect("double state").changes_accepted
    }

    /// Answers `GetHealthCheckStatus` of `id` with these checkers' observations, `(region,
    /// status report)`, e.g. `("us-east-1", "Failure: Connection timed out.")`.
    pub fn script_health_check(&self, id: &str, observations: &[(&str, &str)]) {
        let observations = observations.iter().map(|(r, s)| (r.to_string(), s.to_string())).collect();
        self.state.lock().expect("double state").health.insert(id.to_string(), observations);
    }

    /// Every change batch moto accepted since the counts were last reset, in order: each change
    /// as `UPSERT blue=90`, `CREATE green=10` or `DELETE old=5` (set identifier and weight).
    pub fn batches(&self) -> Vec<Vec<String>> {
        self.state.lock().expect("double state").batches.clone()
    }

    /// Blocks until at least `count` change batches were accepted; false on timeout.
    pub fn wait_for_batches(&self, count: usize, timeout: Duration) -> bool {
        super::interrupt::wait_until(timeout, || self.batches().len() >= count)
    }

    /// Forgets the counts and the batches.
    pub fn reset_counts(&self) {
        let mut state = self.state.lock().expect("double state");
        state.counts.clear();
        state.changes_accepted = 0;
        state.batches.clear();
    }
}

/// The Route53 operation of a REST-XML request, from its method and path.
pub fn operation(method: &str, path: &str) -> &'static str {
    let parts: Vec<&str> = path.trim_start_matches("/2013-04-01/").trim_end_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["hostedzone", _, "rrset"]) => "ListResourceRecordSets",
        ("POST", ["hostedzone", _, "rrset"]) => "ChangeResourceRecordSets",
        ("GET", ["change", _]) => "GetChange",
        ("GET", ["healthcheck", _, "status"]) => "GetHealthCheckStatus",
        ("GET", ["hostedzonesbyname"]) => "ListHostedZonesByName",
        ("GET", ["hostedzone", _]) => "GetHostedZone",
        ("POST", ["hostedzone"]) => "CreateHostedZone",
        ("DELETE", ["hostedzone", _]) => "DeleteHostedZone",
        ("GET", _) => "Other",
        _ => "OtherWrite",
    }
}

async fn serve(listener: std::net::TcpListener, upstream: String, state: Arc<Mutex<State>>, holds: Arc<Holds>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    // Route53 applies the change batches of a zone one after another; moto handles requests on
    // several threads and loses updates when two batches of one zone meet.
    let changes = Arc::new(tokio::sync::Mutex::new(()));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (client, upstream, state, holds, changes) =
            (client.clone(), upstream.clone(), state.clone(), holds.clone(), changes.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (state, holds, changes) = (state.clone(), holds.clone(), changes.clone());
                handle(request, client.clone(), upstream.clone(), state, holds, changes)
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: String,
    state: Arc<Mutex<State>>,
    holds: Arc<Holds>,
    changes: Arc<tokio::sync::Mutex<()>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let op = operation(request.method().as_str(), request.uri().path());
    let query = request.uri().query().unwrap_or_default().to_string();
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let hold = {
        let mut state = state.lock().expect("double state");
        *state.counts.entry(op).or_default() += 1;
        let left = state.holds.entry(op).or_default();
        let hold = *left > 0;
        *left = left.saturating_sub(1);
        hold
    };
    if hold {
        holds.hold().await;
    }
    let fault = {
        let mut state = state.lock().expect("double state");
        state.take_fault(op, &query, &body)
    };
    if op == "GetHealthCheckStatus" && fault.is_none() {
        let id = parts.uri.path().trim_end_matches("/status").rsplit('/').next().unwrap_or_default().to_string();
        let scripted = state.lock().expect("double state").health.get(&id).cloned();
        if let Some(observations) = scripted {
            return Ok(health_check_status(&observations));
        }
    }
    // An error from the service makes hyper close the connection without an answer.
    let dropped = || std::io::Error::other("connection dropped by fault injection");
    let mut late_by = None;
    match &fault {
        None | Some(Fault::DropAnswer) => {}
        Some(Fault::Drop) => return Err(dropped()),
        Some(Fault::Delay(wait)) => tokio::time::sleep(*wait).await,
        Some(Fault::DelayAnswer(wait)) => late_by = Some(*wait),
        Some(error) => return Ok(error.error_response().expect("an error answer")),
    }
    let in_turn = if op == "ChangeResourceRecordSets" { Some(changes.lock().await) } else { None };
    let summary = batch_summary(&String::from_utf8_lossy(&body));
    let body = if op == "ChangeResourceRecordSets" {
        match moto_changes::as_route53(body, &parts, &client, &upstream).await {
            Ok(body) => body,
            Err(refusal) if matches!(fault, Some(Fault::DropAnswer)) => {
                drop(refusal);
                return Err(dropped());
            }
            Err(refusal) => return Ok(refusal),
        }
    } else {
        body
    };
    let changes = String::from_utf8_lossy(&body).matches("<Change>").count() as u64;
    let answer = forward(parts, body, &client, &upstream).await;
    drop(in_turn);
    if let Ok(answer) = &answer
        && op == "ChangeResourceRecordSets"
        && answer.status().is_success()
    {
        let mut state = state.lock().expect("double state");
        state.changes_accepted += changes;
        state.batches.push(summary);
    }
    if matches!(fault, Some(Fault::DropAnswer)) {
        return Err(dropped());
    }
    if let Some(wait) = late_by {
        tokio::time::sleep(wait).await;
    }
    let pending = {
        let mut state = state.lock().expect("double state");
        let pending = state.pending_polls > 0 && matches!(op, "ChangeResourceRecordSets" | "GetChange");
        if pending && op == "GetChange" {
            state.pending_polls -= 1;
        }
        pending
    };
    let answer = match answer {
        Ok(a) if pending => Ok(still_pending(a).await),
        other => other,
    };
    Ok(answer.unwrap_or_else(|e| {
        Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Full::new(Bytes::from(format!("double could not reach moto: {e}"))))
            .expect("static response")
    }))
}

/// The changes of a ChangeResourceRecordSets body: `UPSERT blue=90`, one per change.
fn batch_summary(body: &str) -> Vec<String> {
    moto_changes::elements(body, "Change")
        .into_iter()
        .map(|change| {
            let part = |tag| moto_changes::element(change, tag).unwrap_or("?");
            format!("{} {}={}", part("Action"), part("SetIdentifier"), part("Weight"))
        })
        .collect()
}

/// Route53's `GetHealthCheckStatus` answer with these observations.
fn health_check_status(observations: &[(String, String)]) -> Response<Full<Bytes>> {
    let each: String = observations
        .iter()
        .enumerate()
        .map(|(i, (region, status))| {
            format!(
                "<HealthCheckObservation><Region>{region}</Region><IPAddress>192.0.2.{}</IPAddress>\
                 <StatusReport><Status>{status}</Status><CheckedTime>2026-12-07T03:00:00Z</CheckedTime>\
                 </StatusReport></HealthCheckObservation>",
                i + 1
            )
        })
        .collect();
    let body = format!(
        "<?xml version=\"1.0\"?>\n<GetHealthCheckStatusResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">\
         <HealthCheckObservations>{each}</HealthCheckObservations></GetHealthCheckStatusResponse>"
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/xml")
        .header("x-amzn-requestid", "00000000-0000-0000-0000-000000000000")
        .body(Full::new(Bytes::from(body)))
        .expect("static response")
}

/// The same answer with its change status PENDING.
async fn still_pending(answer: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    let (mut parts, body) = answer.into_parts();
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).replace("<Status>INSYNC</Status>", "<Status>PENDING</Status>");
    parts.headers.remove("content-length");
    Response::from_parts(parts, Full::new(Bytes::from(text)))
}

/// Forwards the request to moto and returns its answer.
async fn forward(
    mut parts: hyper::http::request::Parts,
    body: Bytes,
    client: &Client<HttpConnector, Full<Bytes>>,
    upstream: &str,
) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("{upstream}{path}").parse()?;
    let answer = client.request(Request::from_parts(parts, Full::new(body))).await?;
    let (parts, body) = answer.into_parts();
    Ok(Response::from_parts(parts, Full::new(body.collect().await?.to_bytes())))
}
