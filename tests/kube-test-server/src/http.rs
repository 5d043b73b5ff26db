//! The HTTPS front: TLS accept loop, HTTP/1.1 and HTTP/2 via hyper, bearer
//! authentication, fault injection and request accounting around the routes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming as IncomingBody;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::api::Api;
use crate::faults::{FaultAction, Faults};
use crate::holds::Holds;
use crate::rbac::{self, RestrictedToken};
use crate::requests::{RecordedRequest, RequestStats};
use crate::status::ApiError;
use crate::{control, routes};

pub type Body = Full<Bytes>;

/// The real API server's request size limit.
const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// State shared by every connection.
pub struct Shared {
    pub api: Mutex<Api>,
    pub faults: Mutex<Faults>,
    pub requests: Mutex<RequestStats>,
    pub holds: Holds,
    pub token: String,
    pub restricted_tokens: Vec<RestrictedToken>,
    /// `127.0.0.1:<port>`, for `/api`'s serverAddressByClientCIDRs.
    pub address: String,
}

/// Locks a mutex, recovering the data if a previous holder panicked: the
/// server keeps serving rather than failing every later request.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub fn api(&self) -> MutexGuard<'_, Api> {
        lock(&self.api)
    }
}

/// A request with its body read, as the routes see it.
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub raw_query: String,
    pub query: BTreeMap<String, String>,
    pub content_type: String,
    pub accept: String,
    pub user_agent: String,
    pub body: Bytes,
}

impl Incoming {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

/// Returned by the service to make hyper close the connection unanswered.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((tcp, _)) = accepted else {
            // Out of file descriptors and the like: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let service = service_fn(move |req| handle(shared.clone(), req));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                _ = connection => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

async fn handle(shared: Arc<Shared>, req: Request<IncomingBody>) -> Result<Response<Body>, DropConnection> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let bearer = header(AUTHORIZATION.as_str());
    let restricted = shared.restricted_tokens.iter().find(|r| bearer == format!("Bearer {}", r.token));
    let authorized = bearer == format!("Bearer {}", shared.token) || restricted.is_some();
    let (content_type, accept, user_agent) = (header("content-type"), header("accept"), header("user-agent"));
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or_default().to_string();
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(error_response(&ApiError::new(
                413,
                "RequestEntityTooLarge",
                "the request body is too large or could not be read",
            )));
        }
    };
    let incoming =
        Incoming { query: parse_query(&raw_query), method, path, raw_query, content_type, accept, user_agent, body };

    if incoming.path == "/_test" || incoming.path.starts_with("/_test/") {
        return Ok(control::handle(&shared, &incoming));
    }
    if matches!(incoming.path.as_str(), "/healthz" | "/livez" | "/readyz") {
        return Ok(text_response(200, "ok"));
    }

    let denied = restricted.and_then(|r| rbac::authorize(r, &shared, &incoming).err());
    let response = if !authorized {
        error_response(&ApiError::unauthorized())
    } else if let Some(denied) = denied {
        error_response(&denied)
    } else {
        let fault = lock(&shared.faults).take(&incoming.method, &incoming.path);
        match fault {
            Some(FaultAction::Drop) => {
                record(&shared, &incoming, 0);
                return Err(DropConnection);
            }
            Some(FaultAction::Status { code, retry_after_seconds, message }) => {
                let mut err = ApiError::for_code(code, message);
                if code == 429 {
                    err = ApiError::too_many_requests(retry_after_seconds.unwrap_or(1));
                }
                error_response(&err)
            }
            Some(FaultAction::Delay { ms }) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                routes::dispatch(&shared, &incoming)
            }
            Some(FaultAction::Hold) => {
                shared.holds.hold().await;
                routes::dispatch(&shared, &incoming)
            }
            Some(late @ (FaultAction::DelayAnswer { .. } | FaultAction::HoldAnswer)) => {
                let response = routes::dispatch(&shared, &incoming);
                // Counted now: the request took effect even if the client stops listening.
                record(&shared, &incoming, response.status().as_u16());
                match late {
                    FaultAction::DelayAnswer { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
                    _ => shared.holds.hold().await,
                }
                return Ok(response);
            }
            Some(FaultAction::Pass) | None => routes::dispatch(&shared, &incoming),
        }
    };
    record(&shared, &incoming, response.status().as_u16());
    Ok(response)
}

fn record(shared: &Shared, incoming: &Incoming, status: u16) {
    let target = routes::classify(&incoming.method, &incoming.path, incoming.param("watch") == Some("true"));
    lock(&shared.requests).record(RecordedRequest {
        method: incoming.method.clone(),
        path: incoming.path.clone(),
        query: incoming.raw_query.clone(),
        verb: target.verb,
        resource: target.resource,
        namespace: target.namespace,
        name: target.name,
        content_type: (!incoming.content_type.is_empty()).then(|| incoming.content_type.clone()),
        field_manager: incoming.param("fieldManager").map(str::to_string),
        status,
    });
}

pub fn json_response(code: u16, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub fn value_response(code: u16, value: &serde_json::Value) -> Response<Body> {
    json_response(code, serde_json::to_vec(value).unwrap_or_default())
}

pub fn text_response(code: u16, text: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())));
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

pub fn error_response(err: &ApiError) -> Response<Body> {
    let mut response = json_response(err.code, err.body());
    if let Some(seconds) = err.retry_after()
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// Adds one `Warning: 299 - "<text>"` header per warning, as the real server.
pub fn add_warnings(response: &mut Response<Body>, warnings: &[String]) {
    for warning in warnings {
        let quoted = serde_json::Value::String(warning.clone()).to_string();
        if let Ok(value) = HeaderValue::from_str(&format!("299 - {quoted}")) {
            response.headers_mut().append("warning", value);
        }
    }
}

/// `a=1&b=x%3Dy` → map; later duplicates win.
pub fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_decoded() {
        let q = parse_query("labelSelector=a%3Db%2Cc+in+%28x%29&limit=5&bad=%zz&end=%4");
        assert_eq!(q["labelSelector"], "a=b,c in (x)");
        assert_eq!(q["limit"], "5");
        assert_eq!(q["bad"], "%zz");
        assert_eq!(q["end"], "%4");
    }
}
