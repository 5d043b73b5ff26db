//! The `wait_for_ready` block of `gitopsbridge_cluster_metadata`: after a write that changes
//! what ApplicationSets select and template (labels, annotations), the apply returns only once
//! Argo CD reports the cluster ready. The Terraform side only; the wait is the hub's.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;

use crate::argocd::application::{ClusterRef, Requirements};
use crate::halt::{Halt, format_duration};
use crate::hub::FIELD_MANAGER;
use crate::hub::ready::{ReadyWait, WaitError};
use crate::protocol::{Attribute, AttributePath, Block, Diagnostics, NestedBlock, Type, Value};
use crate::tf::timeouts::parse_duration;
use crate::tf::values as tf_values;

pub const BLOCK: &str = "wait_for_ready";

/// How long an Application may stay Degraded or failed before the wait gives up: long enough
/// for a rollout's first failing probes, far shorter than the timeout.
const DEFAULT_FAILURE_GRACE: Duration = Duration::from_secs(60);

pub fn block() -> NestedBlock {
    NestedBlock::at_most_one(
        BLOCK,
        Block::new(
            "After the create, and after every update that changes the Secret's labels or annotations, wait until \
             Argo CD reports the cluster ready: at least one Application targets it and every one is Synced and \
             Healthy, as Argo CD compared it after this write (older statuses do not count; Applications still \
             showing one are asked to refresh). Bounded by the `create` and `update` timeouts. A Degraded \
             Application or a failed sync that lasts `failure_grace` ends the wait with an error naming it.",
        )
        .attribute(Attribute::optional(
            "required_applications",
            Type::list(Type::String),
            "Names (with `*` and `?` wildcards) of Applications that must exist and be ready, e.g. \
             `[\"addons-*\"]`: the wait does not end before Argo CD has generated them.",
        ))
        .attribute(Attribute::optional(
            "min_applications",
            Type::Number,
            "Wait for at least this many Applications (default 1).",
        ))
        .attribute(Attribute::optional(
            "failure_grace",
            Type::String,
            "How long an Application may stay Degraded or keep a failed sync before the wait fails, e.g. `\"30s\"` \
             (default `\"1m\"`; `\"0s\"` fails at once).",
        ))
        .attribute(Attribute::optional(
            "refresh",
            Type::Bool,
            "Default true: annotate Applications whose status predates the write with \
             `argocd.argoproj.io/refresh=normal`, so that Argo CD compares them now instead of after its \
             reconciliation period (three minutes by default). Needs `patch` on `applications`.",
        )),
    )
}

/// What the block asks for, read from a known plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub requirements: Requirements,
    pub failure_grace: Duration,
    pub refresh: bool,
}

pub fn settings(planned: &Value) -> Option<Settings> {
    let block = tf_values::block(planned.get(BLOCK))?;
    Some(Settings {
        requirements: requirements(block),
        failure_grace: block.get("failure_grace").as_str().and_then(parse_duration).unwrap_or(DEFAULT_FAILURE_GRACE),
        refresh: block.get("refresh").as_bool() != Some(false),
    })
}

/// Checks `required_applications` and `min_applications` of a block or a configuration, with
/// paths made by `at`.
pub fn check_requirements(value: &Value, at: &dyn Fn(&str) -> AttributePath, d: &mut Diagnostics) {
    for (i, pattern) in value.get("required_applications").as_list().unwrap_or_default().iter().enumerate() {
        if pattern.as_str() == Some("") {
            d.push_error(
                Some(at("required_applications").index(i)),
                "Empty Application pattern",
                "An empty pattern matches no Application; use \"*\" for any.",
            );
        }
    }
    if let Some(n) = value.get("min_applications").as_i64()
        && !(0..=10_000).contains(&n)
    {
        d.push_error(
            Some(at("min_applications")),
            "Invalid min_applications",
            format!("min_applications must be a whole number from 0 to 10000, not {n}."),
        );
    }
}

/// `required_applications` and `min_applications` of a block or a configuration.
pub fn requirements(value: &Value) -> Requirements {
    Requirements {
        applications: tf_values::string_list(value.get("required_applications")),
        min_applications: value.get("min_applications").as_i64().and_then(|n| usize::try_from(n).ok()).unwrap_or(1),
    }
}

pub fn validate(config: &Value, d: &mut Diagnostics) {
    let Some(block) = tf_values::block(config.get(BLOCK)) else { return };
    let at = |name: &str| AttributePath::root(BLOCK).index(0).attr(name);
    check_requirements(block, &at, d);
    if let Some(grace) = block.get("failure_grace").as_str()
        && parse_duration(grace).is_none()
    {
        d.push_error(
            Some(at("failure_grace")),
            "Invalid failure_grace",
            format!("{grace:?} is not a duration like \"30s\", \"2m\" or \"1m30s\"."),
        );
    }
}

/// When the API server recorded our write of `secret`: the time of our field manager's entry
/// in `managedFields`. Statuses Argo CD recorded later are about this write; the local clock
/// would not do, as it need not agree with the hub's.
pub fn written_at(secret: &Secret) -> Option<Timestamp> {
    let entries = secret.metadata.managed_fields.as_deref().unwrap_or_default();
    let ours = entries.iter().filter(|entry| entry.manager.as_deref() == Some(FIELD_MANAGER));
    ours.filter_map(|entry| entry.time.as_ref()).map(|time| time.0).max()
}

/// The wait for a cluster whose Secret we just wrote.
pub fn ready_wait(settings: Settings, cluster: ClusterRef, namespaces: Vec<String>, written: &Secret) -> ReadyWait {
    ReadyWait {
        cluster,
        namespaces,
        requirements: settings.requirements,
        written_at: written_at(written),
        failure_grace: settings.failure_grace,
        refresh: settings.refresh,
    }
}

/// How a failed wait reads; `None` for a stop, which is not an error of the resource (the write
/// is kept and Terraform reports the interrupt itself).
pub fn wait_diagnostics(
    error: &WaitError,
    hub_diagnostics: impl Fn(&crate::hub::HubError) -> Diagnostics,
) -> Option<Diagnostics> {
    const KEPT: &str = "The cluster Secret was written and stays in state.";
    let (summary, detail) = match error {
        WaitError::Unfinished { halt: Halt::Stop, .. } => return None,
        WaitError::Hub(e) => {
            let mut d = hub_diagnostics(e);
            for diagnostic in &mut d.0 {
                diagnostic.summary = format!("Cannot wait for the cluster to be ready: {}", diagnostic.summary);
                diagnostic.detail = format!("{} {KEPT}", diagnostic.detail.trim_end());
            }
            return Some(d);
        }
        WaitError::Failing { .. } => ("Cluster not ready: Applications failing", error.to_string()),
        WaitError::Unfinished { halt: Halt::Deadline(expired), .. } => (
            "Timed out waiting for the cluster to be ready",
            format!(
                "{error}\nRaise timeouts.{} (now {}) if Argo CD needs longer.",
                expired.operation.attribute(),
                format_duration(expired.limit)
            ),
        ),
    };
    Some(Diagnostics::error_at(AttributePath::root(BLOCK), summary, format!("{detail}\n{KEPT}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, Time};

    fn block(pairs: Vec<(&str, Value)>) -> Value {
        Value::object([(BLOCK, Value::List(vec![Value::object(pairs)]))])
    }

    #[test]
    fn settings_and_defaults() {
        assert_eq!(settings(&Value::object([(BLOCK, Value::List(vec![]))])), None);
        let s = settings(&block(vec![])).unwrap();
        assert_eq!(s.requirements, Requirements { applications: vec![], min_applications: 1 });
        assert_eq!(s.failure_grace, DEFAULT_FAILURE_GRACE);
        assert!(s.refresh);
        let s = settings(&block(vec![
            ("required_applications", Value::strings(["addons-*"])),
            ("min_applications", Value::from(3)),
            ("failure_grace", Value::string("0s")),
            ("refresh", Value::Bool(false)),
        ]))
        .unwrap();
        assert_eq!(s.requirements, Requirements { applications: vec!["addons-*".into()], min_applications: 3 });
        assert_eq!(s.failure_grace, Duration::ZERO);
        assert!(!s.refresh);
    }

    #[test]
    fn bad_input_points_at_the_attribute() {
        let cases = [
            (vec![("failure_grace", Value::string("soon"))], "wait_for_ready[0].failure_grace"),
            (vec![("min_applications", Value::from(-1))], "wait_for_ready[0].min_applications"),
            (vec![("required_applications", Value::strings(["a", ""]))], "wait_for_ready[0].required_applications[1]"),
        ];
        for (pairs, path) in cases {
            let mut d = Diagnostics::new();
            validate(&block(pairs), &mut d);
            let paths: Vec<String> = d.0.iter().filter_map(|x| x.attribute.as_ref().map(|a| a.to_string())).collect();
            assert_eq!(paths, [path]);
        }
        let mut d = Diagnostics::new();
        validate(&block(vec![("failure_grace", Value::string("30s"))]), &mut d);
        assert!(d.0.is_empty());
    }

    #[test]
    fn the_write_time_is_our_managers() {
        let entry = |manager: &str, time: &str| ManagedFieldsEntry {
            manager: Some(manager.into()),
            time: Some(Time(time.parse().unwrap())),
            ..ManagedFieldsEntry::default()
        };
        let mut secret = Secret::default();
        assert_eq!(written_at(&secret), None);
        secret.metadata.managed_fields =
            Some(vec![entry("kubectl-edit", "2026-12-07T10:00:09Z"), entry(FIELD_MANAGER, "2026-12-07T10:00:05Z")]);
        assert_eq!(written_at(&secret), Some("2026-12-07T10:00:05Z".parse().unwrap()));
    }
}
