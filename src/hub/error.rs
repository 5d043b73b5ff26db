//! What can go wrong talking to the hub, as [`HubError`]: the API server's answers classified
//! (not found, conflict, invalid, forbidden, throttled, a missing CRD), which of them are worth
//! a retry and after how long, and which may have happened without an answer.

use std::time::Duration;

use super::settings::{HubConfigError, describe_auth_error};
use crate::halt::{Expired, Halt};
use crate::unanswered;

/// How many times a failed connection is retried: a dropped connection recovers at once, while
/// a hub that is down should fail fast.
const MAX_CONNECT_RETRIES: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Longest server-requested wait we honour; a larger Retry-After is clamped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// One field another field manager holds, from a server-side apply conflict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldConflict {
    /// The field path as the API server names it, e.g. `.metadata.labels.environment`.
    pub field: String,
    /// The server's words about who holds it, e.g. `conflict with "kubectl" using v1`.
    pub message: String,
}

impl FieldConflict {
    /// The field manager holding the field: the API server names it only inside the cause's
    /// message (`conflict with "kubectl-edit" using v1`), as the first quoted word.
    pub fn manager(&self) -> Option<&str> {
        let (_, rest) = self.message.split_once('"')?;
        rest.split_once('"').map(|(manager, _)| manager)
    }
}

/// One rejected field of a 422 Invalid answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidField {
    pub field: String,
    pub message: String,
}

/// What can go wrong talking to the hub. Messages name the object and never carry credentials
/// or Secret data.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The object (or its namespace) does not exist.
    #[error("{object} not found: {message}")]
    NotFound {
        object: String,
        message: String,
        #[source]
        source: kube::Error,
    },
    /// Server-side apply field conflict (`FieldManagerConflict` causes): other field managers own
    /// fields we tried to set. Permanent until someone gives the fields up or we force.
    #[error("{object}: {}", describe_conflicts(.conflicts))]
    Conflict {
        object: String,
        conflicts: Vec<FieldConflict>,
        #[source]
        source: kube::Error,
    },
    /// 401: the hub did not accept the credentials.
    #[error("the hub rejected the credentials (401 Unauthorized) while accessing {object}")]
    Unauthorized {
        object: String,
        #[source]
        source: kube::Error,
    },
    /// 403: the credentials lack RBAC permission.
    #[error("permission denied on {object}: {message}")]
    Forbidden {
        object: String,
        message: String,
        #[source]
        source: kube::Error,
    },
    /// 422 (or 400 under strict field validation): the object was rejected.
    #[error("{object} was rejected as invalid: {message}")]
    Invalid {
        object: String,
        message: String,
        causes: Vec<InvalidField>,
        #[source]
        source: kube::Error,
    },
    /// The resource type is not served, e.g. Argo CD's CRDs are not installed.
    #[error("the hub does not serve {resource}: is its CustomResourceDefinition installed?")]
    CrdMissing {
        resource: String,
        #[source]
        source: kube::Error,
    },
    /// Any other error status from the API server.
    #[error("the hub answered {code} {reason} for {object}: {message}")]
    Api {
        object: String,
        code: u16,
        reason: String,
        message: String,
        #[source]
        source: kube::Error,
    },
    /// The hub could not be reached (connection refused, TLS failure, timeout), after retries.
    #[error("cannot reach the hub for {object}")]
    Unreachable {
        object: String,
        #[source]
        source: kube::Error,
    },
    /// The hub's TLS certificate was refused: not signed by a CA we trust, or not for its name.
    #[error(
        "the hub's certificate was refused while accessing {object} ({reason}); set cluster_ca_certificate (or \
         the kubeconfig's certificate-authority-data) to the CA that signed it, or insecure = true for a test cluster"
    )]
    UntrustedCertificate { object: String, reason: String },
    /// Credentials could not be obtained (exec plugin failed, token file unreadable, …). No
    /// source: kube's error quotes the plugin's environment and output.
    #[error("cannot obtain hub credentials for {object}: {reason}")]
    Credentials { object: String, reason: String },
    /// The connection settings are wrong.
    #[error(transparent)]
    Config(#[from] HubConfigError),
    /// The provider's `hub` settings are not known yet (they depend on resources not yet applied).
    #[error("the provider's hub settings are not known yet; they depend on values that are only known after apply")]
    UnknownConfig,
    /// StopProvider (Ctrl-C) arrived before the request was sent, or while a read waited.
    #[error("interrupted: Terraform asked the provider to stop")]
    Cancelled,
    /// Anything else kube reports (response decoding, request building).
    #[error("unexpected error while accessing {object}")]
    Other {
        object: String,
        #[source]
        source: kube::Error,
    },
    /// A transient failure (429, 5xx, an optimistic-concurrency 409, a lost connection) that
    /// retries did not overcome; `last` is the final answer. With `halt`, retrying stopped because
    /// Terraform asked the provider to stop or one more attempt would pass the deadline.
    /// `uncertain`: an attempt of a write got no answer or a 5xx, so the hub may have carried it
    /// out.
    #[error("{last} ({})", gave_up(*.attempts, .halt.as_ref()))]
    GaveUp {
        object: String,
        attempts: u32,
        halt: Option<Halt>,
        uncertain: bool,
        #[source]
        last: Box<HubError>,
    },
    /// The operation's deadline passed before the request was sent, or while a read waited.
    #[error("no answer for {object}: {expired}")]
    TimedOut { object: String, expired: Expired },
}

fn gave_up(attempts: u32, halt: Option<&Halt>) -> String {
    match halt {
        None => format!("gave up after {attempts} attempts"),
        Some(Halt::Deadline(_)) => format!("gave up after {attempts} attempts: one more would pass the deadline"),
        Some(Halt::Stop) => {
            format!("not retried after {attempts} attempts: Terraform asked the provider to stop")
        }
    }
}

fn describe_conflicts(conflicts: &[FieldConflict]) -> String {
    if conflicts.is_empty() {
        return "fields are owned by another field manager (no details given)".into();
    }
    let fields = conflicts
        .iter()
        .map(|c| match c.manager() {
            Some(manager) => format!("{} (held by {manager:?})", c.field),
            None => format!("{} ({})", c.field, c.message),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let plural = if conflicts.len() == 1 { "field" } else { "fields" };
    format!("{plural} owned by another field manager: {fields}")
}

impl HubError {
    /// True when the error means the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, HubError::NotFound { .. })
    }

    /// True when a write that failed may still have been carried out: it got no answer (a lost
    /// connection, the read timeout) or a 5xx, and retries did not settle it. The caller records
    /// the planned state; the next refresh finds out what exists.
    pub fn uncertain(&self) -> bool {
        matches!(self, HubError::GaveUp { uncertain: true, .. })
    }

    /// True when the request ended because of StopProvider or the operation's deadline rather
    /// than an answer from the hub.
    pub fn halted(&self) -> bool {
        matches!(self, HubError::Cancelled | HubError::TimedOut { .. } | HubError::GaveUp { halt: Some(_), .. })
    }

    /// The error behind retries: the last answer of a [`HubError::GaveUp`], else itself.
    pub fn last_answer(&self) -> &HubError {
        match self {
            HubError::GaveUp { last, .. } => last,
            other => other,
        }
    }

    /// Sorts a kube error into our variants by status code and reason, never by message text.
    pub(super) fn classify(error: kube::Error, object: &str, custom_resource: Option<&str>) -> HubError {
        let object = object.to_string();
        let kube::Error::Api(status) = &error else {
            return match error {
                kube::Error::HyperError(_) | kube::Error::Service(_) => match certificate_problem(&error) {
                    Some(problem) => HubError::UntrustedCertificate { object, reason: problem.to_string() },
                    None => HubError::Unreachable { object, source: error },
                },
                kube::Error::Auth(e) => HubError::Credentials { object, reason: describe_auth_error(&e) },
                _ => HubError::Other { object, source: error },
            };
        };
        let message = status.message.clone();
        let causes: Vec<(String, String)> = status
            .details
            .as_ref()
            .map(|d| d.causes.iter().map(|c| (c.field.clone(), c.message.clone())).collect())
            .unwrap_or_default();
        // The HTTP code decides; the reason only stands in when a body carries no code.
        let code = match status.code {
            0 if status.is_not_found() => 404,
            0 if status.is_conflict() => 409,
            0 if status.is_forbidden() => 403,
            0 if status.is_invalid() => 422,
            0 if status.reason == "Unauthorized" => 401,
            code => code,
        };
        let missing_type = code == 404 && status.details.as_ref().is_none_or(|d| d.name.is_empty());
        match (code, custom_resource) {
            (404, Some(resource)) if missing_type => {
                HubError::CrdMissing { resource: resource.to_string(), source: error }
            }
            (404, _) => HubError::NotFound { object, message, source: error },
            (409, _) if is_field_conflict(status) => HubError::Conflict {
                object,
                conflicts: causes.into_iter().map(|(field, message)| FieldConflict { field, message }).collect(),
                source: error,
            },
            (401, _) => HubError::Unauthorized { object, source: error },
            (403, _) => HubError::Forbidden { object, message, source: error },
            (400 | 422, _) => HubError::Invalid {
                object,
                message,
                causes: causes.into_iter().map(|(field, message)| InvalidField { field, message }).collect(),
                source: error,
            },
            (code, _) => HubError::Api { object, code, reason: status.reason.clone(), message, source: error },
        }
    }
}

/// A 409 is server-side apply's field-manager conflict when its causes say so: permanent until
/// someone gives the fields up. Any other 409 Conflict is optimistic concurrency ("the object has
/// been modified"), which the next attempt resolves. Decided by reason, never by message.
fn is_field_conflict(status: &kube::core::Status) -> bool {
    status.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "FieldManagerConflict"))
}

/// Whether the hub may have carried out a request that failed with `error`: there was no answer
/// (a lost connection, the read timeout) or a 5xx. A refused connection, a 429 and other 4xx
/// answers mean it did not.
pub(super) fn may_have_happened(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code >= 500,
        // A rejected certificate, like a refused connection, stops the request before it is sent.
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            !unanswered::connection_refused(error) && certificate_problem(error).is_none()
        }
        _ => false,
    }
}

/// Whether a retry may fix `error`.
pub(super) fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => match status.code {
            429 | 500 | 502 | 503 | 504 => true,
            409 => status.reason == "Conflict" && !is_field_conflict(status),
            _ => false,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => certificate_problem(error).is_none(),
        _ => false,
    }
}

/// How long to wait before retrying `error` after `attempt` retries, or `None` when it is not
/// transient or its retries are used up.
pub(super) fn retry_delay(error: &kube::Error, attempt: u32) -> Option<Duration> {
    if !is_transient(error) {
        return None;
    }
    let backoff = FIRST_BACKOFF.saturating_mul(2u32.saturating_pow(attempt)).min(MAX_BACKOFF);
    match error {
        kube::Error::Api(status) => {
            let asked = status.details.as_ref().map_or(0, |d| d.retry_after_seconds);
            if asked > 0 { Some(Duration::from_secs(u64::from(asked)).min(MAX_RETRY_AFTER)) } else { Some(backoff) }
        }
        // A dropped connection recovers at once; a hub that is down should fail fast.
        _ if attempt < MAX_CONNECT_RETRIES => Some(backoff),
        _ => None,
    }
}

/// The refused certificate somewhere among `error`'s causes, when TLS verification is what failed.
fn certificate_problem<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(cause) = next {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return matches!(tls, rustls::Error::InvalidCertificate(_)).then_some(tls);
        }
        // An io::Error's `source()` skips the error it wraps, which is where TLS puts its own.
        next = match cause.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;
    use kube::core::response::{StatusCause, StatusDetails};

    fn api_error(code: u16, reason: &str, details: Option<StatusDetails>) -> kube::Error {
        let mut status = Status::failure("server says no", reason).with_code(code);
        status.details = details;
        kube::Error::Api(Box::new(status))
    }

    fn details(name: &str, causes: &[(&str, &str)], retry_after: u32) -> StatusDetails {
        StatusDetails {
            name: name.into(),
            group: String::new(),
            kind: "secrets".into(),
            uid: String::new(),
            causes: causes
                .iter()
                .map(|(field, message)| StatusCause {
                    reason: "FieldManagerConflict".into(),
                    message: (*message).into(),
                    field: (*field).into(),
                })
                .collect(),
            retry_after_seconds: retry_after,
        }
    }

    #[test]
    fn statuses_are_classified_by_code_and_reason() {
        let obj = "Secret argocd/x";
        assert!(matches!(HubError::classify(api_error(404, "NotFound", None), obj, None), HubError::NotFound { .. }));
        assert!(matches!(
            HubError::classify(api_error(401, "Unauthorized", None), obj, None),
            HubError::Unauthorized { .. }
        ));
        assert!(matches!(HubError::classify(api_error(403, "Forbidden", None), obj, None), HubError::Forbidden { .. }));
        assert!(matches!(HubError::classify(api_error(422, "Invalid", None), obj, None), HubError::Invalid { .. }));
        assert!(matches!(HubError::classify(api_error(400, "BadRequest", None), obj, None), HubError::Invalid { .. }));
        assert!(matches!(HubError::classify(api_error(403, "Unknown", None), obj, None), HubError::Forbidden { .. }));
        assert!(matches!(HubError::classify(api_error(0, "NotFound", None), obj, None), HubError::NotFound { .. }));
        // A 409 without field-manager causes is optimistic concurrency, not a field conflict.
        assert!(matches!(
            HubError::classify(api_error(0, "Conflict", None), obj, None),
            HubError::Api { code: 409, .. }
        ));
        assert!(matches!(
            HubError::classify(api_error(500, "InternalError", None), obj, None),
            HubError::Api { code: 500, .. }
        ));
        let conflict = api_error(
            409,
            "Conflict",
            Some(details("x", &[(".metadata.labels.environment", "conflict with \"kubectl\"")], 0)),
        );
        match HubError::classify(conflict, obj, None) {
            HubError::Conflict { conflicts, .. } => {
                assert_eq!(
                    conflicts,
                    vec![FieldConflict {
                        field: ".metadata.labels.environment".into(),
                        message: "conflict with \"kubectl\"".into()
                    }]
                );
            }
            other => panic!("not a conflict: {other:?}"),
        }
    }

    #[test]
    fn a_404_without_an_object_name_on_a_custom_resource_means_the_crd_is_missing() {
        let crd = Some("applicationsets.argoproj.io");
        let e = HubError::classify(api_error(404, "NotFound", None), "ApplicationSet argocd/a", crd);
        assert!(matches!(e, HubError::CrdMissing { .. }), "{e:?}");
        let e =
            HubError::classify(api_error(404, "NotFound", Some(details("a", &[], 0))), "ApplicationSet argocd/a", crd);
        assert!(e.is_not_found());
    }

    #[test]
    fn transient_errors_are_retried_and_retry_after_is_honoured() {
        assert_eq!(
            retry_delay(&api_error(429, "TooManyRequests", Some(details("", &[], 3))), 0),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_delay(&api_error(429, "TooManyRequests", Some(details("", &[], 999))), 0),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_delay(&api_error(503, "ServiceUnavailable", None), 0), Some(FIRST_BACKOFF));
        assert_eq!(retry_delay(&api_error(500, "InternalError", None), 1), Some(FIRST_BACKOFF * 2));
        assert_eq!(retry_delay(&api_error(500, "InternalError", None), 20), Some(MAX_BACKOFF));
        let dropped = || kube::Error::Service(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)));
        assert_eq!(retry_delay(&dropped(), 0), Some(FIRST_BACKOFF));
        assert_eq!(retry_delay(&dropped(), MAX_CONNECT_RETRIES), None);
        for code in [400, 401, 403, 404, 409, 422] {
            assert_eq!(retry_delay(&api_error(code, "", None), 0), None, "{code}");
        }
    }

    #[test]
    fn a_409_is_retried_only_when_it_is_optimistic_concurrency() {
        let modified = api_error(409, "Conflict", Some(details("x", &[], 0)));
        assert_eq!(retry_delay(&modified, 0), Some(FIRST_BACKOFF));
        let field_conflict = api_error(
            409,
            "Conflict",
            Some(details("", &[(".metadata.labels.environment", "conflict with \"kubectl-edit\" using v1")], 0)),
        );
        assert_eq!(retry_delay(&field_conflict, 0), None);
        assert_eq!(retry_delay(&api_error(409, "AlreadyExists", None), 0), None);
    }

    #[test]
    fn a_field_conflict_names_the_fields_and_their_managers() {
        let conflict = api_error(
            409,
            "Conflict",
            Some(details(
                "",
                &[
                    (".metadata.labels.environment", "conflict with \"kubectl-edit\" using v1"),
                    (".data.server", "conflict with \"argocd-server\" with subresource \"status\" using v1"),
                ],
                0,
            )),
        );
        let error = HubError::classify(conflict, "Secret argocd/eks-a", None);
        assert_eq!(
            error.to_string(),
            "Secret argocd/eks-a: fields owned by another field manager: .metadata.labels.environment (held by \
             \"kubectl-edit\"), .data.server (held by \"argocd-server\")"
        );
    }
}
