//! `gitopsbridge_traffic_split`: every member of one Route53 weighted set, owned by one resource
//! and changed in one change batch.
//!
//! Route53 applies a change batch atomically, so moving blue 100 / green 0 to blue 0 / green 100
//! here never passes through a split the user did not write. Two `gitopsbridge_weighted_route`
//! resources flipped in one apply are two batches, and between them the set is briefly 0/0
//! (equal split) or 100/100 (equal split too). Use this resource when one root owns all members;
//! use `weighted_route` when each cluster's root owns its own member.
//!
//! The set's TTL is one attribute, so Route53's one-TTL-per-set rule holds by construction.
//! Members present in Route53 but absent from the configuration belong to this resource too:
//! they show up in the plan to be deleted.

use std::sync::Arc;

use async_trait::async_trait;

use crate::hub::gate::ReadinessSource;
use crate::protocol::{
    ApplyError, Attribute, AttributePath, Block, Context, Diagnostics, NestedBlock, Number, Plan, PlanRequest,
    Resource, Schema, Type, Value,
};
use crate::route53::dns_names;
use crate::route53::weighted_set;
use crate::route53::{Change, LiveRecord, RecordSet, Route53, Route53Error, Route53Source, bare_zone_id};
use crate::tf::rollout::{self, Ended, Live, Run, Stepped};
use crate::tf::route53_records::{
    Apply, Failure, RouteError, TIMEOUTS, TRAFFIC_SPLIT_TYPE_NAME, check_cname_at_apex, check_in_zone, check_member,
    check_ttl, check_type, check_zone_and_name, member_attributes, member_has_records, member_record,
    merge_live_member, name_forces_replacement, parse_import_id, plan_zone, resolve_zone, set_zone, warn_all_zero,
};
use crate::tf::timeouts::{self, Deadline, Operation};
use crate::tf::traffic_gate;

pub const TYPE_NAME: &str = TRAFFIC_SPLIT_TYPE_NAME;

// ---------------------------------------------------------------------------------------------
// Model

/// A split as planned: the set's identity and its members.
#[derive(Clone, Debug)]
struct Split {
    zone_id: Option<String>,
    name: String,
    record_type: String,
    members: Vec<RecordSet>,
    allow_overwrite: bool,
    wait_for_sync: bool,
}

impl Split {
    fn from_value(v: &Value) -> Result<Split, RouteError> {
        let name = v.get("name").as_str().ok_or(RouteError::MissingAttribute("name"))?.to_string();
        let record_type = v.get("type").as_str().ok_or(RouteError::MissingAttribute("type"))?.to_string();
        let ttl = v.get("ttl").as_i64();
        let members = routes(v)
            .iter()
            .map(|route| {
                let id = route.get("set_identifier").as_str().ok_or(RouteError::MissingAttribute("route"))?;
                let mut record = member_record(route, id)?;
                record.name = name.clone();
                record.record_type = record_type.clone();
                // Alias members take their target's TTL.
                record.ttl = if record.alias.is_some() { None } else { ttl };
                Ok(record)
            })
            .collect::<Result<Vec<_>, RouteError>>()?;
        Ok(Split {
            zone_id: v.get("zone_id").as_str().map(str::to_string),
            name,
            record_type,
            members,
            allow_overwrite: v.get("allow_overwrite").as_bool().unwrap_or(false),
            wait_for_sync: v.get("wait_for_sync").as_bool().unwrap_or(true),
        })
    }

    fn set_identifiers(&self) -> Vec<&str> {
        self.members.iter().filter_map(|m| m.set_identifier.as_deref()).collect()
    }

    fn live_members<'a>(&'a self, live: &'a [LiveRecord]) -> impl Iterator<Item = &'a LiveRecord> + 'a {
        live.iter().filter(move |l| {
            dns_names::same_name(&l.set.name, &self.name)
                && l.set.record_type == self.record_type
                && l.set.set_identifier.is_some()
        })
    }
}

fn routes(v: &Value) -> &[Value] {
    v.get("route").as_list().unwrap_or_default()
}

/// How errors name a split: `weighted set burnham.example.com CNAME`.
fn describe(v: &Value) -> String {
    let part = |name: &str| v.get(name).as_str().unwrap_or("?").to_string();
    format!("weighted set {} {}", part("name"), part("type"))
}

/// The id and import id: `<zone id>_<name>_<type>`.
fn split_id(zone_id: &str, name: &str, record_type: &str) -> String {
    format!("{}_{name}_{record_type}", bare_zone_id(zone_id))
}

/// Each route's share of the traffic in percent, keyed by set identifier; unknown while a weight is.
fn shares_value(route_values: &[Value]) -> Value {
    let weights: Option<Vec<i64>> = route_values.iter().map(|r| r.get("weight").as_i64()).collect();
    let ids: Option<Vec<&str>> = route_values.iter().map(|r| r.get("set_identifier").as_str()).collect();
    match (weights, ids) {
        (Some(weights), Some(ids)) => Value::Map(
            ids.iter()
                .zip(weighted_set::traffic_shares(&weights))
                .map(|(id, share)| (id.to_string(), Value::Number(Number::Float(share))))
                .collect(),
        ),
        _ => Value::Unknown,
    }
}

// ---------------------------------------------------------------------------------------------
// Schema

fn schema() -> Schema {
    let route = member_attributes(Block::new("One member of the weighted set.")).block(traffic_gate::block());
    let mut routes = NestedBlock::list("route", route);
    routes.min_items = 1;
    Schema::new(
        0,
        Block::new(
            "Every member of one Route53 weighted record set, changed together in one atomic change batch, so a \
             blue/green shift never passes through a split you did not write. Use it when one root owns all the \
             members; use `gitopsbridge_weighted_route` when each cluster's root owns its own.",
        )
        .attribute(Attribute::computed("id", Type::String, "`<zone id>_<name>_<type>`, also the import id."))
        .attribute(Attribute::optional_computed(
            "zone_id",
            Type::String,
            "Id of the hosted zone. Exactly one of `zone_id` and `zone_name` must be set; the other is filled in.",
        ))
        .attribute(Attribute::optional_computed("zone_name", Type::String, "Name of the hosted zone, looked up at apply."))
        .attribute(Attribute::required("name", Type::String, "The record name shared by every member, e.g. `burnham.example.com`."))
        .attribute(Attribute::required("type", Type::String, "The record type of every member: `A`, `AAAA`, `CNAME` or `TXT`."))
        .attribute(Attribute::optional(
            "ttl",
            Type::Number,
            "TTL in seconds of every member with `records` (Route53 wants one TTL per set); not allowed when every member is an alias.",
        ))
        .attribute(Attribute::optional(
            "allow_overwrite",
            Type::Bool,
            "On create, take over existing members and delete members of the set not in the configuration, instead of failing (default false).",
        ))
        .attribute(Attribute::optional("wait_for_sync", Type::Bool, "Wait until Route53 reports the change INSYNC (default true)."))
        .attribute(Attribute::computed(
            "traffic_shares",
            Type::map(Type::Number),
            "Each member's share of the answers in percent, by set identifier (equal shares when every weight is 0).",
        ))
        .attribute(rollout::plan_attribute())
        .block(routes)
        .block(rollout::block())
        .block(timeouts::block(TIMEOUTS)),
    )
}

// ---------------------------------------------------------------------------------------------
// Validate

fn validate_config(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    check_zone_and_name(config, &mut diags);
    let record_type = check_type(config.get("type"), AttributePath::root("type"), &mut diags);
    check_cname_at_apex(config, record_type.as_deref(), &mut diags);
    let mut seen: Vec<&str> = Vec::new();
    let mut any_records = Some(false);
    for (i, route) in routes(config).iter().enumerate() {
        let at = |name: &str| AttributePath::root("route").index(i).attr(name);
        check_member(route, &at, record_type.as_deref(), &mut diags);
        traffic_gate::validate(route, &at, &mut diags);
        if let Some(id) = route.get("set_identifier").as_str() {
            if seen.contains(&id) {
                diags.push_error(
                    Some(at("set_identifier")),
                    "Duplicate set identifier",
                    format!("Two routes use the set identifier {id:?}."),
                );
            }
            seen.push(id);
        }
        any_records = match (any_records, member_has_records(route)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        };
    }
    if !config.get("route").is_unknown() {
        check_ttl(config.get("ttl"), any_records, AttributePath::root("ttl"), &mut diags);
    }
    timeouts::validate(config, TIMEOUTS, &mut diags);
    rollout::validate(config, TIMEOUTS, &mut diags);
    diags
}

// ---------------------------------------------------------------------------------------------
// Plan (offline)

fn plan_split(ctx: &Context, request: PlanRequest<'_>) -> Plan {
    let PlanRequest { prior_state: prior, proposed_new_state: mut planned, config } = request;
    let mut requires_replace = Vec::new();
    if plan_zone(prior, &mut planned, config) {
        let attribute = if config.get("zone_id").is_null() { "zone_name" } else { "zone_id" };
        requires_replace.push(AttributePath::root(attribute));
    }
    if name_forces_replacement(prior, config) {
        requires_replace.push(AttributePath::root("name"));
    }
    let shares = shares_value(routes(&planned));
    // This resource owns every weight of the set, so the all-zero case is known offline.
    if let Value::Map(m) = &shares
        && !m.is_empty()
        && routes(&planned).iter().all(|r| r.get("weight").as_i64() == Some(0))
    {
        let name = planned.get("name").as_str().unwrap_or_default();
        let record_type = planned.get("type").as_str().unwrap_or_default();
        warn_all_zero(ctx, name, record_type, Some(AttributePath::root("route")));
    }
    planned.set("traffic_shares", shares);
    let id = match [planned.get("zone_id"), planned.get("name"), planned.get("type")].map(Value::as_str) {
        [Some(zone), Some(name), Some(ty)] => Value::from(split_id(zone, name, ty)),
        _ => Value::Unknown,
    };
    planned.set("id", id);
    Plan { planned_state: planned, requires_replace }
}

// ---------------------------------------------------------------------------------------------
// The resource

/// The `gitopsbridge_traffic_split` resource.
pub struct TrafficSplitResource {
    source: Arc<dyn Route53Source>,
    readiness: Arc<dyn ReadinessSource>,
}

/// The weight of the member `set_identifier` in `prior` (None: no such member, or no prior).
fn prior_weight(prior: Option<&Value>, set_identifier: &Value) -> Option<i64> {
    let routes = prior.map(routes).unwrap_or_default();
    routes.iter().find(|r| r.get("set_identifier") == set_identifier).and_then(|r| r.get("weight").as_i64())
}

/// The gate of each gated route of `planned`: its set identifier, where it is, the gate.
fn gates(planned: &Value) -> Vec<(String, AttributePath, traffic_gate::Gate)> {
    routes(planned)
        .iter()
        .enumerate()
        .filter_map(|(i, route)| {
            let id = route.get("set_identifier").as_str()?.to_string();
            Some((id, AttributePath::root("route").index(i).attr(traffic_gate::BLOCK), traffic_gate::gate(route)?))
        })
        .collect()
}

/// The failure of a rollout that ended early, with the state of what is live: the prior state
/// at the start, the step's weights between steps, the plan at the end.
fn ended_state(run: &Run<'_>, prior: &Value, planned: Value, ended: Ended) -> Failure {
    let state = match ended.live {
        Live::Start => prior.clone(),
        Live::Step(i) => {
            let route_values = rollout::routes_at(prior, &planned, &run.stepped.steps[i].weights);
            let mut state = planned;
            state.set("traffic_shares", shares_value(&route_values));
            state.set("route", Value::List(route_values));
            state
        }
        Live::Target => planned,
    };
    Failure::with_state(ended.error, state)
}

impl TrafficSplitResource {
    pub fn new<S: Route53Source + ReadinessSource + 'static>(source: Arc<S>) -> Self {
        TrafficSplitResource { source: source.clone(), readiness: source }
    }

    /// Right before the batch: the gate of every member whose weight rises from `prior` (None:
    /// a create). The first closed gate refuses the whole batch.
    async fn gate_raises(
        &self,
        op: &Apply<'_>,
        r53: &Route53,
        prior: Option<&Value>,
        planned: &Value,
    ) -> Result<(), RouteError> {
        for (i, route) in routes(planned).iter().enumerate() {
            let before = prior_weight(prior, route.get("set_identifier"));
            let at = AttributePath::root("route").index(i).attr(traffic_gate::BLOCK);
            let label = format!("route {} of {}", route.get("set_identifier").as_str().unwrap_or("?"), op.object);
            traffic_gate::check_raise(self.readiness.as_ref(), r53, op, at, &label, before, route).await?;
        }
        Ok(())
    }

    /// The changes that turn the live set into `split`.
    fn changes(split: &Split, live: &[LiveRecord]) -> Vec<Change> {
        weighted_set::changes_to(&split.name, &split.record_type, &split.members, live)
    }

    async fn create_split(&self, op: &Apply<'_>, planned: Value) -> Result<Value, Failure> {
        let r53 = self.source.route53().await?;
        let split = Split::from_value(&planned)?;
        let zone = op.read(resolve_zone(&r53, &planned)).await?;
        check_in_zone(&split.name, &zone)?;
        let live = op.read(r53.live_records_named(&zone.id, &split.name)).await?;
        let id = split_id(&zone.id, &split.name, &split.record_type);
        let changes = Self::changes(&split, &live);
        if !split.allow_overwrite {
            let present: Vec<String> = split.live_members(&live).filter_map(|l| l.set.set_identifier.clone()).collect();
            if !present.is_empty() {
                return Err(RouteError::ForeignMembers {
                    name: split.name.clone(),
                    record_type: split.record_type.clone(),
                    set_identifiers: present,
                    split_id: id,
                }
                .into());
            }
            let [_, prefixed] = weighted_set::ownership_txt_names(&split.name, &split.record_type);
            let mut txt = live.clone();
            txt.extend(op.read(r53.live_records_named(&zone.id, &prefixed)).await?);
            for set_identifier in split.set_identifiers() {
                if let Some(owner) =
                    weighted_set::external_dns_owner(&txt, &split.name, &split.record_type, set_identifier)
                {
                    return Err(RouteError::ExternalDns { name: split.name.clone(), owner }.into());
                }
            }
        }
        let mut state = planned;
        set_zone(&mut state, &zone);
        state.set("id", Value::from(id));
        if !changes.is_empty() {
            self.gate_raises(op, &r53, None, &state).await?;
            let comment = "gitopsbridge_traffic_split create";
            let sent = op.send(&r53, &zone.id, comment, &changes, split.wait_for_sync).await;
            sent.map_err(|e| e.recording(state.clone()))?;
        }
        Ok(state)
    }

    async fn read_split(&self, state: Value) -> Result<Option<Value>, RouteError> {
        // A provider block that depends on resources not applied yet: keep what we know.
        let r53 = match self.source.route53().await {
            Err(Route53Error::UnknownConfig) => return Ok(Some(state)),
            other => other?,
        };
        let zone = match resolve_zone(&r53, &state).await {
            Err(RouteError::Zone { source: Route53Error::ZoneNotFound(_), .. }) => return Ok(None),
            other => other?,
        };
        let name = state.get("name").as_str().ok_or(RouteError::MissingAttribute("name"))?.to_string();
        let record_type = state.get("type").as_str().ok_or(RouteError::MissingAttribute("type"))?.to_string();
        let records = r53.records_named(&zone, &name).await?;
        let mut live: Vec<&RecordSet> = weighted_set::members(&records, &name, &record_type, &[]).collect();
        if live.is_empty() {
            return Ok(None);
        }
        // Keep the configuration's order; members only Route53 knows come last, by set identifier.
        let order: Vec<&str> = routes(&state).iter().filter_map(|r| r.get("set_identifier").as_str()).collect();
        live.sort_by_key(|m| {
            let id = m.set_identifier.as_deref().unwrap_or_default();
            (order.iter().position(|o| *o == id).unwrap_or(usize::MAX), id.to_string())
        });
        let route_values: Vec<Value> = live
            .iter()
            .map(|member| {
                let id = member.set_identifier.as_deref().unwrap_or_default();
                let mut route = routes(&state)
                    .iter()
                    .find(|r| r.get("set_identifier").as_str() == Some(id))
                    .cloned()
                    .unwrap_or_else(|| Value::object([("set_identifier", Value::from(id)), ("records", Value::Null)]));
                merge_live_member(&mut route, member);
                route
            })
            .collect();
        let mut state = state;
        set_zone(&mut state, &zone);
        state.set("ttl", live.iter().find_map(|m| m.ttl).map_or(Value::Null, Value::from));
        state.set("traffic_shares", shares_value(&route_values));
        state.set("route", Value::List(route_values));
        state.set("id", Value::from(split_id(&zone.id, &name, &record_type)));
        Ok(Some(state))
    }

    async fn update_split(&self, prior: Value, planned: Value, op: &Apply<'_>) -> Result<Value, Failure> {
        let r53 = self.source.route53().await?;
        let old = Split::from_value(&prior)?;
        let new = Split::from_value(&planned)?;
        let zone_id = old.zone_id.clone().ok_or(RouteError::MissingAttribute("zone_id"))?;
        let live = op.read(r53.live_records_named(&zone_id, &new.name)).await?;
        let mut changes = Self::changes(&new, &live);
        if old.record_type != new.record_type {
            // A new type: the old members leave in the same batch, exactly as read.
            let ours = old.set_identifiers();
            let leaving = old
                .live_members(&live)
                .filter(|l| l.set.set_identifier.as_deref().is_some_and(|id| ours.contains(&id)));
            changes.extend(leaving.map(|l| Change::Delete(Box::new(l.clone()))));
        }
        let mut state = planned;
        state.set("id", Value::from(split_id(&zone_id, &new.name, &new.record_type)));
        if !changes.is_empty() {
            self.gate_raises(op, &r53, Some(&prior), &state).await?;
            if old.record_type == new.record_type
                && let Ok(Some(settings)) = rollout::settings(&state)
            {
                let start: Vec<RecordSet> = new.live_members(&live).map(|l| l.set.clone()).collect();
                let stepped = Stepped::new(&rollout::weights(&start), &rollout::weights(&new.members), &settings.steps);
                if !start.is_empty() && !stepped.is_single() {
                    let run = Run {
                        r53: &r53,
                        readiness: self.readiness.as_ref(),
                        zone_id: &zone_id,
                        name: &new.name,
                        record_type: &new.record_type,
                        wait: new.wait_for_sync,
                        pause: settings.pause,
                        start,
                        target: new.members.clone(),
                        gates: gates(&state),
                        stepped,
                    };
                    return match run.run(op).await {
                        Ok(()) => Ok(state),
                        Err(ended) => Err(ended_state(&run, &prior, state, ended)),
                    };
                }
            }
            let comment = "gitopsbridge_traffic_split update";
            let sent = op.send(&r53, &zone_id, comment, &changes, new.wait_for_sync).await;
            sent.map_err(|e| e.recording(state.clone()))?;
        }
        Ok(state)
    }

    async fn delete_split(&self, op: &Apply<'_>, prior: Value) -> Result<(), Failure> {
        let r53 = self.source.route53().await?;
        let split = Split::from_value(&prior)?;
        let zone_id = split.zone_id.clone().ok_or(RouteError::MissingAttribute("zone_id"))?;
        let live = match op.read(r53.live_records_named(&zone_id, &split.name)).await {
            Err(RouteError::Route53(Route53Error::ZoneNotFound(_))) => return Ok(()),
            other => other?,
        };
        let ours = split.set_identifiers();
        let changes: Vec<Change> = split
            .live_members(&live)
            .filter(|l| l.set.set_identifier.as_deref().is_some_and(|id| ours.contains(&id)))
            .map(|l| Change::Delete(Box::new(l.clone())))
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        let comment = "gitopsbridge_traffic_split delete";
        Ok(op.send(&r53, &zone_id, comment, &changes, split.wait_for_sync).await?)
    }
}

#[async_trait]
impl Resource for TrafficSplitResource {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Result<(), Diagnostics> {
        validate_config(config).into_result()
    }

    async fn plan(&self, ctx: &Context, request: PlanRequest<'_>) -> Result<Plan, Diagnostics> {
        validate_config(request.config).into_result()?;
        let prior = request.prior_state.clone();
        let mut plan = plan_split(ctx, request);
        if !plan.planned_state.is_null() {
            rollout::plan(&prior, &mut plan.planned_state, TIMEOUTS).into_result()?;
        }
        if routes(&plan.planned_state).iter().any(|r| traffic_gate::gate(r).is_some()) {
            let r53 = self.source.route53().await.ok();
            for (i, route) in routes(&plan.planned_state).iter().enumerate() {
                let before = prior_weight(Some(&prior), route.get("set_identifier"));
                let at = AttributePath::root("route").index(i).attr(traffic_gate::BLOCK);
                traffic_gate::warn_if_closed(self.readiness.as_ref(), r53.as_ref(), ctx, at, before, route).await;
            }
        }
        Ok(plan)
    }

    async fn create(&self, ctx: &Context, planned: Value, _config: &Value) -> Result<Value, ApplyError> {
        let deadline = Deadline::start(&planned, TIMEOUTS, Operation::Create);
        let op = Apply { ctx, deadline, object: describe(&planned) };
        self.create_split(&op, planned).await.map_err(|e| op.failed(e))
    }

    async fn read(&self, _ctx: &Context, state: Value) -> Result<Option<Value>, Diagnostics> {
        let (deadline, object) = (Deadline::start(&state, TIMEOUTS, Operation::Read), describe(&state));
        deadline.run(self.read_split(state)).await.map_err(|e| e.diagnostics_for(&object))
    }

    async fn update(&self, ctx: &Context, prior: Value, planned: Value, _config: &Value) -> Result<Value, ApplyError> {
        if timeouts::only_timeouts_changed(&prior, &planned) {
            return Ok(planned);
        }
        let deadline = Deadline::start(&planned, TIMEOUTS, Operation::Update);
        let op = Apply { ctx, deadline, object: describe(&planned) };
        self.update_split(prior, planned, &op).await.map_err(|e| op.failed(e))
    }

    async fn delete(&self, ctx: &Context, prior: Value) -> Result<(), ApplyError> {
        let deadline = Deadline::start(&prior, TIMEOUTS, Operation::Delete);
        let op = Apply { ctx, deadline, object: describe(&prior) };
        self.delete_split(&op, prior).await.map_err(|e| op.failed(e))
    }

    async fn import(&self, _ctx: &Context, id: &str) -> Result<Value, Diagnostics> {
        let parsed = parse_import_id(id, false).map_err(|e| Diagnostics::error("Invalid import id", e.to_string()))?;
        Ok(Value::object([
            ("id", Value::from(id)),
            ("zone_id", Value::from(parsed.zone_id)),
            ("name", Value::from(parsed.name)),
            ("type", Value::from(parsed.record_type)),
            ("route", Value::List(vec![])),
            ("timeouts", Value::List(vec![])),
        ]))
    }
}

// ---------------------------------------------------------------------------------------------
// Unit tests

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route53::Alias;

    fn route(id: &str, weight: Value) -> Value {
        Value::object([
            ("set_identifier", Value::from(id)),
            ("weight", weight),
            ("records", Value::strings([format!("{id}.elb.example.net")])),
            ("alias", Value::List(vec![])),
        ])
    }

    fn config(routes: Vec<Value>) -> Value {
        Value::object([
            ("zone_id", Value::from("Z1")),
            ("name", Value::from("burnham.example.com")),
            ("type", Value::from("CNAME")),
            ("ttl", Value::from(60)),
            ("route", Value::List(routes)),
        ])
    }

    fn paths(diags: &Diagnostics) -> Vec<String> {
        diags.0.iter().filter_map(|d| d.attribute.as_ref().map(ToString::to_string)).collect()
    }

    #[test]
    fn validation_names_the_route() {
        let ok = config(vec![route("blue", Value::from(100)), route("green", Value::from(0))]);
        assert!(paths(&validate_config(&ok)).is_empty());
        let dup = config(vec![route("blue", Value::from(1)), route("blue", Value::from(1))]);
        assert_eq!(paths(&validate_config(&dup)), vec!["route[1].set_identifier"]);
        let heavy = config(vec![route("blue", Value::from(300))]);
        assert_eq!(paths(&validate_config(&heavy)), vec!["route[0].weight"]);
        let mut apex = config(vec![route("blue", Value::from(1))]);
        apex.set("zone_id", Value::Null);
        apex.set("zone_name", Value::from("burnham.example.com"));
        assert_eq!(paths(&validate_config(&apex)), vec!["name"]);
        let mut no_ttl = config(vec![route("blue", Value::from(1))]);
        no_ttl.set("ttl", Value::Null);
        assert_eq!(paths(&validate_config(&no_ttl)), vec!["ttl"]);
    }

    #[test]
    fn an_unknown_name_is_planned_as_a_replacement() {
        let mut prior = config(vec![route("blue", Value::from(100))]);
        prior.set("zone_name", Value::from("example.com"));
        let mut unknown = config(vec![route("blue", Value::from(100))]);
        unknown.set("name", Value::Unknown);
        let ctx = Context::default();
        let request = PlanRequest { prior_state: &prior, proposed_new_state: unknown.clone(), config: &unknown };
        let plan = plan_split(&ctx, request);
        assert_eq!(plan.requires_replace, vec![AttributePath::root("name")]);
    }

    #[test]
    fn shares_are_planned_offline() {
        let plan_of = |routes| {
            let c = config(routes);
            let ctx = Context::default();
            let plan =
                plan_split(&ctx, PlanRequest { prior_state: &Value::Null, proposed_new_state: c.clone(), config: &c });
            (plan.planned_state, ctx.take_warnings())
        };
        let (planned, warnings) = plan_of(vec![route("blue", Value::from(0)), route("green", Value::from(100))]);
        assert_eq!(planned.get("traffic_shares").get("green"), &Value::Number(Number::Float(100.0)));
        assert_eq!(planned.get("id").as_str(), Some("Z1_burnham.example.com_CNAME"));
        assert!(warnings.is_empty());

        let (_, warnings) = plan_of(vec![route("blue", Value::from(0)), route("green", Value::from(0))]);
        assert_eq!(warnings.0.len(), 1, "all-zero weights warn at plan");

        let (planned, _) = plan_of(vec![route("blue", Value::Unknown)]);
        assert!(planned.get("traffic_shares").is_unknown());
    }

    fn member(id: &str, weight: i64) -> RecordSet {
        RecordSet {
            name: "burnham.example.com".into(),
            record_type: "CNAME".into(),
            set_identifier: Some(id.into()),
            weight: Some(weight),
            ttl: Some(60),
            values: vec![format!("{id}.elb.example.net")],
            alias: None,
            health_check_id: None,
        }
    }

    fn kinds(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                Change::Create(r) => {
                    format!("CREATE {}", r.set_identifier.as_deref().unwrap_or_default())
                }
                Change::Upsert(r) => {
                    format!("UPSERT {}={}", r.set_identifier.as_deref().unwrap_or_default(), r.weight.unwrap_or(-1))
                }
                Change::Delete(l) => format!("DELETE {}", l.set.set_identifier.as_deref().unwrap_or_default()),
            })
            .collect()
    }

    #[test]
    fn a_flip_is_one_batch_with_only_what_changed() {
        let live: Vec<LiveRecord> = [member("blue", 100), member("green", 0), member("old", 0)]
            .into_iter()
            .map(|m| LiveRecord::for_tests(RecordSet { name: "burnham.example.com.".into(), ..m }))
            .collect();
        let split = Split {
            zone_id: Some("Z1".into()),
            name: "Burnham.example.com".into(),
            record_type: "CNAME".into(),
            members: vec![member("blue", 0), member("green", 100), member("teal", 5)],
            allow_overwrite: false,
            wait_for_sync: true,
        };
        assert_eq!(
            kinds(&TrafficSplitResource::changes(&split, &live)),
            vec!["DELETE old", "UPSERT blue=0", "UPSERT green=100", "CREATE teal"]
        );
        let unchanged = Split { members: vec![member("blue", 100), member("green", 0), member("old", 0)], ..split };
        assert!(TrafficSplitResource::changes(&unchanged, &live).is_empty());
    }

    #[test]
    fn alias_members_have_no_ttl() {
        let mut c = config(vec![Value::object([
            ("set_identifier", Value::from("blue")),
            ("weight", Value::from(1)),
            ("records", Value::Null),
            (
                "alias",
                Value::List(vec![Value::object([
                    ("name", Value::from("lb.example.net")),
                    ("zone_id", Value::from("Z2")),
                    ("evaluate_target_health", Value::from(false)),
                ])]),
            ),
        ])]);
        c.set("ttl", Value::Null);
        assert!(paths(&validate_config(&c)).is_empty());
        let split = Split::from_value(&c).unwrap();
        assert_eq!(split.members[0].ttl, None);
        assert_eq!(
            split.members[0].alias,
            Some(Alias { name: "lb.example.net".into(), zone_id: "Z2".into(), evaluate_target_health: false })
        );
    }
}
