//! Hub errors as Terraform diagnostics, for every resource and data source that talks to the hub.

use std::collections::BTreeSet;

use crate::halt::Halt;
use crate::hub::HubError;
use crate::protocol::{ApplyError, Diagnostics};
use crate::tf::timeouts::Unfinished;

/// A hub error as a diagnostic: the summary says what kind, the detail the whole cause chain
/// (our messages and kube's carry no credentials or Secret data) and what the user can do.
pub fn hub_diagnostics(error: &HubError) -> Diagnostics {
    match error {
        HubError::TimedOut { object, expired } => {
            return expired.diagnostics(object, "the hub", &Unfinished::NoAnswer);
        }
        HubError::GaveUp { object, halt: Some(Halt::Deadline(expired)), last, uncertain, .. } => {
            let unfinished = Unfinished::Retries { last: hub_error_text(last), maybe_written: *uncertain };
            return expired.diagnostics(object, "the hub", &unfinished);
        }
        _ => {}
    }
    let last = error.last_answer();
    let stopped = matches!(error, HubError::GaveUp { halt: Some(Halt::Stop), .. });
    let summary = match last {
        _ if stopped => "Interrupted",
        HubError::NotFound { .. } => "Not found on the hub",
        HubError::Conflict { .. } => "Field ownership conflict on the hub",
        HubError::Unauthorized { .. } => "Hub credentials rejected",
        HubError::Forbidden { .. } => "Permission denied on the hub",
        HubError::Invalid { .. } => "The hub rejected the object",
        HubError::CrdMissing { .. } => "Custom resource not installed on the hub",
        HubError::Unreachable { .. } => "Cannot reach the hub",
        HubError::UntrustedCertificate { .. } => "Hub certificate not trusted",
        HubError::Credentials { .. } => "Cannot obtain hub credentials",
        HubError::Config(_) => "Invalid hub configuration",
        HubError::UnknownConfig => "Hub configuration not known yet",
        HubError::Cancelled => "Interrupted",
        HubError::TimedOut { .. } => "Timed out",
        HubError::Api { .. } | HubError::Other { .. } | HubError::GaveUp { .. } => "Hub API error",
    };
    let mut detail = hub_error_text(last);
    if let HubError::GaveUp { attempts, halt, uncertain, .. } = error {
        detail.push_str(&match halt {
            Some(Halt::Stop) => {
                format!(" (not retried after {attempts} attempts: Terraform asked the provider to stop).")
            }
            _ => format!(
                " (gave up after {attempts} attempts). The hub kept failing: check that it is reachable and healthy, \
                 then run Terraform again."
            ),
        });
        if *uncertain {
            detail.push(' ');
            detail.push_str(ApplyError::UNCERTAIN);
        }
    }
    if let HubError::Conflict { object, conflicts, .. } = last {
        let id = object.rsplit_once(' ').map_or(object.as_str(), |(_, id)| id);
        let managers: Vec<&str> =
            conflicts.iter().filter_map(|c| c.manager()).collect::<BTreeSet<_>>().into_iter().collect();
        let manager = match managers.as_slice() {
            [only] => format!("{only:?}"),
            _ => "the other manager".into(),
        };
        detail.push_str(&format!(
            ". Terraform does not take fields from another manager silently. To resolve: set allow_overwrite = true \
             to take them over; or import the object (terraform import <address> {id}) and plan again to see the \
             differences; or have {manager} give the fields up (apply its configuration without them) and run \
             terraform apply again."
        ));
    }
    Diagnostics::error(summary, detail)
}

/// The error's message with the transport causes behind it, which lower layers report apart.
pub fn hub_error_text(error: &HubError) -> String {
    let mut text = error.to_string();
    // Api statuses already say everything in our message; lower layers add the transport cause.
    if matches!(
        error,
        HubError::Unreachable { .. } | HubError::Credentials { .. } | HubError::Config(_) | HubError::Other { .. }
    ) {
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            // Many layers already quote their cause in their own message.
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
    }
    text
}
