//! What went wrong talking to Route53, typed so that callers branch on the kind, not the text.

use std::time::Duration;

use aws_sdk_route53::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::halt::Halt;

/// What went wrong talking to Route53. Cloned when one listing answers for several writes.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Route53Error {
    /// No hosted zone has this id or name.
    #[error("no hosted zone {0} is visible with these credentials")]
    ZoneNotFound(String),
    /// A public and a private zone (or several private ones) share the name.
    #[error("several hosted zones are named {name} ({}); set zone_id to pick one", ids.join(", "))]
    AmbiguousZone { name: String, ids: Vec<String> },
    /// Route53 rejected the change batch; its message is kept verbatim.
    #[error("{0}")]
    InvalidChangeBatch(String),
    /// Route53 kept throttling after every attempt.
    #[error(
        "Route53 kept answering {code} to {operation} after {attempts} attempts; raise route53.max_attempts or retry later"
    )]
    Throttled { operation: &'static str, code: String, attempts: u32 },
    /// Route53 (or the way to it) kept failing after every attempt: 5xx answers, lost
    /// connections, timeouts. Nothing says the request itself is wrong.
    #[error(
        "Route53 did not answer {operation} after {attempts} attempts ({detail}); check that Route53 is reachable \
         and healthy, then run Terraform again"
    )]
    Unavailable { operation: &'static str, attempts: u32, detail: String },
    /// The change was accepted but did not reach INSYNC before the deadline.
    #[error("change {change_id} was not INSYNC after {}s", waited.as_secs())]
    SyncTimeout { change_id: String, waited: Duration },
    /// Terraform asked the provider to stop.
    #[error("stopped while {0}")]
    Cancelled(&'static str),
    /// No attempt of the change batch was sent, or no further one after `attempts` failed ones,
    /// because Terraform asked the provider to stop or the operation's deadline passed. `last`
    /// is the last attempt's answer; `uncertain`: an attempt got no answer or a 5xx, so Route53
    /// may have applied the batch.
    #[error("{}", halted(*.halt, *.attempts, .last.as_deref()))]
    Halted { halt: Halt, attempts: u32, last: Option<String>, uncertain: bool },
    /// The batch failed after an attempt that got no answer or a 5xx: Route53 may have applied it.
    #[error("{0}")]
    MaybeApplied(Box<Route53Error>),
    /// A record we could not express as a Route53 request.
    #[error("cannot build the Route53 request: {0}")]
    Request(String),
    /// The provider's `route53` settings depend on values not known until apply.
    #[error("the provider's route53 settings are not known yet (they depend on resources not applied)")]
    UnknownConfig,
    /// Any other failure, with the SDK's full explanation.
    #[error("Route53 {operation} failed: {detail}")]
    Other { operation: &'static str, code: Option<String>, detail: String },
}

pub(super) fn halted(halt: Halt, attempts: u32, last: Option<&str>) -> String {
    let why = match halt {
        Halt::Stop => "Terraform asked the provider to stop".to_string(),
        Halt::Deadline(expired) => expired.to_string(),
    };
    match (attempts, last) {
        (0, _) => format!("the change was not sent: {why}"),
        (n, Some(last)) => format!("the change was not retried after {n} attempts ({why}); last answer: {last}"),
        (n, None) => format!("the change was not retried after {n} attempts ({why})"),
    }
}

impl Route53Error {
    /// The error itself, or the one [`Route53Error::MaybeApplied`] wraps.
    pub fn cause(&self) -> &Route53Error {
        match self {
            Route53Error::MaybeApplied(inner) => inner,
            other => other,
        }
    }

    /// True when a change batch failed without knowing whether Route53 applied it.
    pub fn uncertain(&self) -> bool {
        matches!(self, Route53Error::MaybeApplied(_) | Route53Error::Halted { uncertain: true, .. })
    }

    /// Maps an SDK error by its error code, never by its message.
    pub(super) fn from_sdk<E>(operation: &'static str, attempts: u32, err: SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_string);
        match code.as_deref() {
            Some("NoSuchHostedZone") => Route53Error::ZoneNotFound(err.message().unwrap_or("(no message)").to_string()),
            Some("InvalidChangeBatch") => {
                Route53Error::InvalidChangeBatch(err.message().unwrap_or("InvalidChangeBatch").to_string())
            }
            Some(c @ ("Throttling" | "ThrottlingException" | "PriorRequestNotComplete")) => {
                Route53Error::Throttled { operation, code: c.to_string(), attempts }
            }
            _ if is_unavailable(&err) => {
                let detail = match (err.raw_response().map(|r| r.status().as_u16()), err.code()) {
                    (Some(status), Some(code)) => format!("last answer: {status} {code}"),
                    (Some(status), None) => format!("last answer: HTTP {status}"),
                    _ => DisplayErrorContext(&err).to_string(),
                };
                Route53Error::Unavailable { operation, attempts, detail }
            }
            _ => Route53Error::Other { operation, code, detail: DisplayErrorContext(&err).to_string() },
        }
    }
}

/// True for failures of Route53 or of the way to it rather than of the request: no answer (lost
/// connection, timeout, unreadable response) or a 5xx answer.
pub(super) fn is_unavailable<E>(err: &SdkError<E>) -> bool {
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => service.raw().status().is_server_error(),
        _ => false,
    }
}
