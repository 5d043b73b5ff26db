//! The `require_ready` block of `gitopsbridge_weighted_route` and of each member of
//! `gitopsbridge_traffic_split`: traffic moves to a record only while its cluster is ready
//! and/or its Route53 health check is healthy.
//!
//! The gate is checked right before a change batch that raises the record's weight (or creates
//! it with a weight above 0). Lowering, deleting and rollbacks are never gated: moving traffic
//! away from a cluster must work even while the hub is unreachable.

use crate::argocd::application::Requirements;
use std::time::Duration;

use crate::halt::{Deadline, Operation, Stop};
use crate::hub::gate::{ClusterReadiness, ReadinessSource};
use crate::protocol::{Attribute, AttributePath, Block, Context, Diagnostics, NestedBlock, Type, Value};
use crate::route53::health;
use crate::route53::{Route53, Route53Error};
use crate::tf::route53_records::{Apply, RouteError};
use crate::tf::values as tf_values;
use crate::tf::wait_for_ready::{check_requirements, requirements};

pub const BLOCK: &str = "require_ready";

/// How long a plan may spend reading the gate for its warning.
const PLAN_READ: Duration = Duration::from_secs(10);
/// How a reason that is a failed read begins (after the cluster or health check).
const CANNOT_READ: &str = "cannot read its status";

pub fn block() -> NestedBlock {
    NestedBlock::at_most_one(
        BLOCK,
        Block::new(
            "Traffic moves to this record only while it is ready: checked right before a change that raises the \
             weight (or creates the record with a weight above 0). When the check fails nothing is written and the \
             apply fails naming what is not ready. Lowering the weight, deleting the record and rollbacks are never \
             checked. At plan time, when the hub can be read, a warning says that the check would fail now.",
        )
        .attribute(Attribute::optional(
            "cluster_name",
            Type::String,
            "The cluster (as Argo CD names it) whose Applications must be ready, as `gitopsbridge_cluster_status` \
             defines `ready`: at least one Application targets it and every one is Synced and Healthy.",
        ))
        .attribute(Attribute::optional(
            "required_applications",
            Type::list(Type::String),
            "Names (with `*` and `?` wildcards) of Applications that must exist on `cluster_name` for it to be ready.",
        ))
        .attribute(Attribute::optional(
            "min_applications",
            Type::Number,
            "At least this many Applications must target `cluster_name` (default 1).",
        ))
        .attribute(Attribute::optional(
            "health_check",
            Type::Bool,
            "The record's `health_check_id` must be healthy by Route53's rule (more than 18 % of its checkers report \
             success), read once per check with `GetHealthCheckStatus`.",
        )),
    )
}

/// What a gate asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gate {
    pub cluster_name: Option<String>,
    pub requirements: Requirements,
    /// The health check to judge, when `health_check = true`.
    pub health_check_id: Option<String>,
}

/// The gate of a record (the resource or a member), if it has one.
pub fn gate(record: &Value) -> Option<Gate> {
    let block = tf_values::block(record.get(BLOCK))?;
    let health_check_id = if block.get("health_check").as_bool() == Some(true) {
        tf_values::string(record.get("health_check_id"))
    } else {
        None
    };
    Some(Gate {
        cluster_name: tf_values::string(block.get("cluster_name")),
        requirements: requirements(block),
        health_check_id,
    })
}

/// Whether a change from `prior` (None: the record does not exist) to `planned` moves traffic to
/// the record: a higher weight, or a new record with a weight above 0.
pub fn raises(prior: Option<i64>, planned: Option<i64>) -> bool {
    planned.unwrap_or(0) > prior.unwrap_or(0)
}

/// Checks the block of a record; `at` makes the paths (the record's own attributes).
pub fn validate(record: &Value, at: &dyn Fn(&str) -> AttributePath, d: &mut Diagnostics) {
    let Some(block) = tf_values::block(record.get(BLOCK)) else { return };
    let in_block = |name: &str| at(BLOCK).index(0).attr(name);
    check_requirements(block, &in_block, d);
    let cluster = block.get("cluster_name");
    let health_check = block.get("health_check");
    if cluster.is_null() && (health_check.is_null() || health_check.as_bool() == Some(false)) {
        d.push_error(
            Some(at(BLOCK)),
            "Empty readiness gate",
            "Set `cluster_name`, `health_check = true`, or both: a gate with neither would let every change through.",
        );
    }
    if cluster.as_str() == Some("") {
        d.push_error(Some(in_block("cluster_name")), "Empty cluster_name", "`cluster_name` must name a cluster.");
    }
    if health_check.as_bool() == Some(true) && record.get("health_check_id").is_null() {
        d.push_error(
            Some(in_block("health_check")),
            "No health check to require",
            "`health_check = true` needs the record's `health_check_id`.",
        );
    }
}

/// Reads the gate once: the reasons it is closed, empty when traffic may move. A hub or Route53
/// that cannot be read closes the gate (an apply never raises a weight on an unknown status).
pub async fn check(
    source: &dyn ReadinessSource,
    route53: Option<&Route53>,
    ctx: &Stop,
    deadline: &Deadline,
    gate: &Gate,
) -> Result<Vec<String>, RouteError> {
    let mut closed = Vec::new();
    if let Some(cluster) = &gate.cluster_name {
        match source.cluster_readiness(ctx, deadline, cluster, &gate.requirements).await {
            Ok(ClusterReadiness::Judged(readiness)) if readiness.ready => {}
            Ok(ClusterReadiness::Judged(readiness)) => {
                closed.push(format!("cluster {cluster} is not ready:"));
                closed.extend(readiness.not_ready.iter().map(|line| format!("  - {line}")));
            }
            Ok(ClusterReadiness::Missing { namespace }) => closed
                .push(format!("cluster {cluster}: no Argo CD cluster Secret in namespace {namespace} has this name")),
            Ok(ClusterReadiness::Several(names)) => {
                closed.push(format!("cluster {cluster}: the cluster Secrets {} share this name", names.join(", ")))
            }
            Err(e) if e.halted() => return Err(Route53Error::Cancelled("reading the readiness gate").into()),
            Err(e) => closed.push(format!("cluster {cluster}: {CANNOT_READ} from the hub: {e}")),
        }
    }
    if let (Some(id), Some(r53)) = (&gate.health_check_id, route53) {
        match r53.health_check_status(id).await {
            Ok(observations) if health::healthy(&observations) => {}
            Ok(observations) => {
                let failing = health::failing_regions(&observations);
                closed.push(format!(
                    "health check {id} is unhealthy ({} of {} checkers report success, more than 18 % needed); \
                     failing regions:",
                    observations.len() - failing.len().min(observations.len()),
                    observations.len()
                ));
                closed.extend(failing.iter().map(|line| format!("  - {line}")));
            }
            Err(e @ Route53Error::Cancelled(_)) => return Err(e.into()),
            Err(e) => closed.push(format!("health check {id}: {CANNOT_READ}: {e}")),
        }
    }
    Ok(closed)
}

/// Right before a write: checks the gate of `record` (at `at`) when its weight rises from
/// `before` (None: a create); refuses the write when the gate is closed. `label` names the
/// record in the error.
pub async fn check_raise(
    readiness: &dyn ReadinessSource,
    r53: &Route53,
    op: &Apply<'_>,
    at: AttributePath,
    label: &str,
    before: Option<i64>,
    record: &Value,
) -> Result<(), RouteError> {
    let Some(gate) = gate(record) else { return Ok(()) };
    let after = record.get("weight").as_i64();
    if !raises(before, after) {
        return Ok(());
    }
    let closed = op.read(check(readiness, Some(r53), op.ctx, &op.deadline, &gate)).await?;
    if closed.is_empty() {
        return Ok(());
    }
    let change = format!("The weight {} -> {} of {label}", before.unwrap_or(0), after.unwrap_or(0));
    Err(RouteError::GateClosed { at, change, closed })
}

/// At plan time: warns at `at` when the gate of `record` would refuse its raise from `before`
/// now. Silent when the hub or Route53 cannot be read: plans never fail on the gate.
pub async fn warn_if_closed(
    readiness: &dyn ReadinessSource,
    r53: Option<&Route53>,
    ctx: &Context,
    at: AttributePath,
    before: Option<i64>,
    record: &Value,
) {
    let Some(mut gate) = gate(record) else { return };
    if record.get("weight").is_unknown() || !raises(before, record.get("weight").as_i64()) {
        return;
    }
    if r53.is_none() {
        gate.health_check_id = None;
    }
    let deadline = Deadline::after(Operation::Read, PLAN_READ);
    let Ok(closed) = check(readiness, r53, ctx, &deadline, &gate).await else { return };
    if closed.is_empty() || closed.iter().any(|line| line.contains(CANNOT_READ)) {
        return;
    }
    ctx.warn(
        Some(at),
        "The readiness gate would refuse this change now",
        format!(
            "{}\nThe apply checks again right before writing and fails without a change if it is still closed.",
            closed.join("\n")
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(block: Vec<(&str, Value)>, health_check_id: Option<&str>) -> Value {
        Value::object([
            (BLOCK, Value::List(vec![Value::object(block)])),
            ("health_check_id", health_check_id.map_or(Value::Null, Value::from)),
        ])
    }

    fn paths(record: &Value) -> Vec<String> {
        let mut d = Diagnostics::new();
        validate(record, &AttributePath::root, &mut d);
        d.0.iter().filter_map(|x| x.attribute.as_ref().map(ToString::to_string)).collect()
    }

    #[test]
    fn bad_input_points_at_the_attribute() {
        let hc = "3e0e0ef1-7c61-4d6b-a7fe-1f6e1b3a9c2d";
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (record(vec![("cluster_name", Value::from("eks-green"))], None), vec![]),
            (record(vec![("health_check", Value::Bool(true))], Some(hc)), vec![]),
            (record(vec![], None), vec!["require_ready"]),
            (record(vec![("health_check", Value::Bool(false))], None), vec!["require_ready"]),
            (record(vec![("cluster_name", Value::from(""))], None), vec!["require_ready[0].cluster_name"]),
            (
                record(vec![("cluster_name", Value::from("c")), ("health_check", Value::Bool(true))], None),
                vec!["require_ready[0].health_check"],
            ),
            (
                record(vec![("cluster_name", Value::from("c")), ("min_applications", Value::from(-1))], None),
                vec!["require_ready[0].min_applications"],
            ),
            (
                record(vec![("cluster_name", Value::from("c")), ("required_applications", Value::strings([""]))], None),
                vec!["require_ready[0].required_applications[0]"],
            ),
            (record(vec![("cluster_name", Value::Unknown)], None), vec![]),
        ];
        for (value, want) in cases {
            assert_eq!(paths(&value), want, "{value:?}");
        }
    }

    #[test]
    fn only_more_traffic_is_gated() {
        // (prior weight, planned weight, gated)
        let cases = [
            (None, Some(0), false),
            (None, Some(10), true),
            (Some(0), Some(100), true),
            (Some(50), Some(60), true),
            (Some(100), Some(0), false),
            (Some(50), Some(50), false),
            (Some(50), None, false),
        ];
        for (prior, planned, want) in cases {
            assert_eq!(raises(prior, planned), want, "{prior:?} -> {planned:?}");
        }
    }

    #[test]
    fn the_gate_is_read_from_the_block() {
        assert_eq!(gate(&Value::object([(BLOCK, Value::List(vec![]))])), None);
        let g = gate(&record(
            vec![
                ("cluster_name", Value::from("eks-green")),
                ("health_check", Value::Bool(true)),
                ("min_applications", Value::from(2)),
            ],
            Some("hc-1"),
        ))
        .unwrap();
        assert_eq!(g.cluster_name.as_deref(), Some("eks-green"));
        assert_eq!(g.health_check_id.as_deref(), Some("hc-1"));
        assert_eq!(g.requirements.min_applications, 2);
    }
}
