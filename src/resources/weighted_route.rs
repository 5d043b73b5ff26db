//! `gitopsbridge_weighted_route`: one member of a Route53 weighted set, identified by zone, name,
//! type and set identifier.
//!
//! Built for blue/green clusters kept in separate roots: each root owns its own member and the
//! user moves traffic by editing weights. Where one root owns every member, use
//! `gitopsbridge_traffic_split`, which moves all weights in one change batch.
//!
//! Reads go through the Route53 client's per-process zone listing, so refreshing many records of
//! one zone costs one listing; writes look at the live records of the name first (TTL of the
//! set, an existing record, external-dns ownership) and send one change batch.

use std::sync::Arc;

use async_trait::async_trait;

use crate::hub::gate::ReadinessSource;
use crate::protocol::{
    ApplyError, Attribute, AttributePath, Block, Context, Diagnostics, Plan, PlanRequest, Resource, Schema, Type, Value,
};
use crate::route53::weighted_set;
use crate::route53::{Change, LiveRecord, RecordSet, Route53, Route53Error, Route53Source};
use crate::tf::route53_records::{
    Apply, Failure, RouteError, TIMEOUTS, WEIGHTED_ROUTE_TYPE_NAME, check_cname_at_apex, check_in_zone, check_member,
    check_ttl, check_type, check_zone_and_name, describe, member_attributes, member_has_records, member_record,
    merge_live_member, name_forces_replacement, parse_import_id, plan_zone, resolve_zone, route_id, set_zone, string,
    warn_all_zero,
};
use crate::tf::timeouts::{self, Deadline, Operation};
use crate::tf::traffic_gate;

pub const TYPE_NAME: &str = WEIGHTED_ROUTE_TYPE_NAME;

// ---------------------------------------------------------------------------------------------
// Model

/// A weighted route as planned: every attribute known, zone resolved or to be resolved.
#[derive(Clone, Debug, PartialEq)]
struct Route {
    zone_id: Option<String>,
    zone_name: Option<String>,
    record: RecordSet,
    allow_overwrite: bool,
    wait_for_sync: bool,
}

impl Route {
    fn from_value(v: &Value) -> Result<Route, RouteError> {
        let set_identifier = string(v.get("set_identifier")).ok_or(RouteError::MissingAttribute("set_identifier"))?;
        let mut record = member_record(v, &set_identifier)?;
        record.name = string(v.get("name")).ok_or(RouteError::MissingAttribute("name"))?;
        record.record_type = string(v.get("type")).ok_or(RouteError::MissingAttribute("type"))?;
        record.ttl = v.get("ttl").as_i64();
        Ok(Route {
            zone_id: string(v.get("zone_id")),
            zone_name: string(v.get("zone_name")),
            record,
            allow_overwrite: v.get("allow_overwrite").as_bool().unwrap_or(false),
            wait_for_sync: v.get("wait_for_sync").as_bool().unwrap_or(true),
        })
    }

    fn id(&self, zone_id: &str) -> String {
        route_id(
            zone_id,
            &self.record.name,
            &self.record.record_type,
            self.record.set_identifier.as_deref().unwrap_or(""),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Schema
fn schema() -> Schema {
    let block = Block::new(
        "One member of a Route53 weighted record set: a record that shares its name and type with others and gets \
         a weighted share of the answers. Made for blue/green clusters kept in separate roots; where one root owns \
         every member, `gitopsbridge_traffic_split` moves all weights in one change.",
    )
    .attribute(Attribute::computed("id", Type::String, "`<zone id>_<name>_<type>_<set identifier>`, also the import id."))
    .attribute(Attribute::optional_computed(
        "zone_id",
        Type::String,
        "Id of the hosted zone (`Z123…`). Exactly one of `zone_id` and `zone_name` must be set; the other is filled in.",
    ))
    .attribute(Attribute::optional_computed(
        "zone_name",
        Type::String,
        "Name of the hosted zone, looked up at apply; fails when a public and a private zone share it (use `zone_id`).",
    ))
    .attribute(Attribute::required("name", Type::String, "The record name, e.g. `burnham.example.com`; compared without case or trailing dot."))
    .attribute(Attribute::required("type", Type::String, "The record type: `A`, `AAAA`, `CNAME` or `TXT`."))
    .attribute(Attribute::optional(
        "ttl",
        Type::Number,
        "TTL in seconds; required with `records`, not allowed with `alias`. Every member of a weighted set must have the same TTL.",
    ))
    .attribute(Attribute::optional(
        "allow_overwrite",
        Type::Bool,
        "Take over an existing record of the same identity, even one external-dns manages, instead of failing (default false).",
    ))
    .attribute(Attribute::optional(
        "wait_for_sync",
        Type::Bool,
        "Wait until Route53 reports the change INSYNC on all its name servers (default true).",
    ));
    Schema::new(0, member_attributes(block).block(traffic_gate::block()).block(timeouts::block(TIMEOUTS)))
}

// ---------------------------------------------------------------------------------------------
// Validate (offline, on configuration that may hold unknowns)

fn validate_config(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let root = |name: &str| AttributePath::root(name);
    check_zone_and_name(config, &mut diags);
    let record_type = check_type(config.get("type"), root("type"), &mut diags);
    check_cname_at_apex(config, record_type.as_deref(), &mut diags);
    check_member(config, &root, record_type.as_deref(), &mut diags);
    check_ttl(config.get("ttl"), member_has_records(config), root("ttl"), &mut diags);
    traffic_gate::validate(config, &root, &mut diags);
    timeouts::validate(config, TIMEOUTS, &mut diags);
    diags
}

// ---------------------------------------------------------------------------------------------
// Plan (offline: never needs the network)

fn plan_route(request: PlanRequest<'_>) -> Plan {
    let PlanRequest { prior_state: prior, proposed_new_state: mut planned, config } = request;
    let mut requires_replace = Vec::new();
    if plan_zone(prior, &mut planned, config) {
        let attribute = if config.get("zone_id").is_null() { "zone_name" } else { "zone_id" };
        requires_replace.push(AttributePath::root(attribute));
    }
    if name_forces_replacement(prior, config) {
        requires_replace.push(AttributePath::root("name"));
    }
    let identity = [planned.get("zone_id"), planned.get("name"), planned.get("type"), planned.get("set_identifier")];
    let id = match identity.map(Value::as_str) {
        [Some(zone), Some(name), Some(ty), Some(set)] => Value::from(route_id(zone, name, ty, set)),
        _ => Value::Unknown,
    };
    planned.set("id", id);
    Plan { planned_state: planned, requires_replace }
}

// ---------------------------------------------------------------------------------------------
// The resource

/// The `gitopsbridge_weighted_route` resource.
pub struct WeightedRouteResource {
    source: Arc<dyn Route53Source>,
    readiness: Arc<dyn ReadinessSource>,
}

impl WeightedRouteResource {
    pub fn new<S: Route53Source + ReadinessSource + 'static>(source: Arc<S>) -> Self {
        WeightedRouteResource { source: source.clone(), readiness: source }
    }

    /// Checks the gate right before a write that raises the weight from `prior` (None: a create).
    async fn gate_raise(
        &self,
        op: &Apply<'_>,
        r53: &Route53,
        prior: Option<&Value>,
        planned: &Value,
    ) -> Result<(), RouteError> {
        let before = prior.and_then(|p| p.get("weight").as_i64());
        let at = AttributePath::root(traffic_gate::BLOCK);
        traffic_gate::check_raise(self.readiness.as_ref(), r53, op, at, &op.object, before, planned).await
    }

    async fn client(&self) -> Result<Route53, RouteError> {
        Ok(self.source.route53().await?)
    }
}

impl WeightedRouteResource {
    /// Checks a write against the live set: the TTL every member must share, and the warning
    /// when all weights end up 0. `replaced` are the set identifiers this write replaces.
    fn check_set(ctx: &Context, live: &[LiveRecord], route: &Route, replaced: &[&str]) -> Result<(), RouteError> {
        let r = &route.record;
        let others = || weighted_set::members(live, &r.name, &r.record_type, replaced);
        let conflicts = weighted_set::ttl_conflicts(others(), r.ttl);
        if !conflicts.is_empty() {
            return Err(RouteError::TtlMismatch {
                name: r.name.clone(),
                record_type: r.record_type.clone(),
                others: conflicts,
            });
        }
        if weighted_set::all_weights_zero(others(), &[r.weight.unwrap_or(0)]) {
            warn_all_zero(ctx, &r.name, &r.record_type, Some(AttributePath::root("weight")));
        }
        Ok(())
    }

    /// Refuses to take over a record that exists before this create, unless allowed: even one
    /// exactly as planned may be another root's (a copy that kept blue's set identifier).
    async fn create_route(&self, op: &Apply<'_>, planned: Value) -> Result<Value, Failure> {
        let r53 = self.client().await?;
        let route = Route::from_value(&planned)?;
        let zone = op.read(resolve_zone(&r53, &planned)).await?;
        let r = &route.record;
        check_in_zone(&r.name, &zone)?;
        let set_identifier = r.set_identifier.as_deref().unwrap_or_default();
        let [_, prefixed] = weighted_set::ownership_txt_names(&r.name, &r.record_type);
        // The record's name and external-dns's ownership name are asked for together: one listing.
        let lookups = async {
            let (live, owners) = futures::join!(r53.live_records_named(&zone.id, &r.name), async {
                if route.allow_overwrite { Ok(Vec::new()) } else { r53.live_records_named(&zone.id, &prefixed).await }
            });
            Ok::<_, Route53Error>((live?, owners?))
        };
        let (live, owners) = op.read(lookups).await?;
        let exists = live.iter().any(|l| l.set.is(&r.name, &r.record_type, Some(set_identifier)));
        if !route.allow_overwrite {
            if exists {
                let id = route.id(&zone.id);
                return Err(RouteError::AlreadyExists {
                    name: r.name.clone(),
                    record_type: r.record_type.clone(),
                    set_identifier: set_identifier.into(),
                    id,
                }
                .into());
            }
            let mut txt = live.clone();
            txt.extend(owners);
            if let Some(owner) = weighted_set::external_dns_owner(&txt, &r.name, &r.record_type, set_identifier) {
                return Err(RouteError::ExternalDns { name: r.name.clone(), owner }.into());
            }
        }
        Self::check_set(op.ctx, &live, &route, &[set_identifier])?;
        let mut state = planned;
        set_zone(&mut state, &zone);
        state.set("id", Value::from(route.id(&zone.id)));
        // UPSERT only when the user allowed taking over a record that may exist.
        let change = if route.allow_overwrite { Change::Upsert(r.clone()) } else { Change::Create(r.clone()) };
        self.gate_raise(op, &r53, None, &state).await?;
        let comment = "gitopsbridge_weighted_route create";
        match op.send(&r53, &zone.id, comment, &[change], route.wait_for_sync).await {
            Ok(()) => Ok(state),
            Err(e) => Err(e.recording(state)),
        }
    }

    async fn read_route(&self, state: Value) -> Result<Option<Value>, RouteError> {
        // A provider block that depends on resources not applied yet: keep what we know.
        let r53 = match self.source.route53().await {
            Err(Route53Error::UnknownConfig) => return Ok(Some(state)),
            other => other?,
        };
        let zone = match resolve_zone(&r53, &state).await {
            Err(RouteError::Zone { source: Route53Error::ZoneNotFound(_), .. }) => return Ok(None),
            other => other?,
        };
        let name = string(state.get("name")).ok_or(RouteError::MissingAttribute("name"))?;
        let record_type = string(state.get("type")).ok_or(RouteError::MissingAttribute("type"))?;
        let set_identifier =
            string(state.get("set_identifier")).ok_or(RouteError::MissingAttribute("set_identifier"))?;
        let records = r53.records_named(&zone, &name).await?;
        let Some(live) = records.iter().find(|l| l.set.is(&name, &record_type, Some(&set_identifier))) else {
            return Ok(None);
        };
        let mut state = state;
        set_zone(&mut state, &zone);
        merge_live_member(&mut state, &live.set);
        state.set("ttl", live.set.ttl.map_or(Value::Null, Value::from));
        state.set("id", Value::from(route_id(&zone.id, &name, &record_type, &set_identifier)));
        Ok(Some(state))
    }

    async fn update_route(&self, op: &Apply<'_>, prior: Value, planned: Value) -> Result<Value, Failure> {
        let r53 = self.client().await?;
        let old = Route::from_value(&prior)?;
        let new = Route::from_value(&planned)?;
        let zone_id = old.zone_id.clone().ok_or(RouteError::MissingAttribute("zone_id"))?;
        let (o, n) = (&old.record, &new.record);
        let old_id = o.set_identifier.as_deref().unwrap_or_default();
        let new_id = n.set_identifier.as_deref().unwrap_or_default();
        let live = op.read(r53.live_records_named(&zone_id, &n.name)).await?;
        let identity_changed = o.record_type != n.record_type || old_id != new_id;
        let changes = if identity_changed {
            // One batch: the old record goes exactly as Route53 has it, the new one arrives.
            let current = live.iter().find(|l| l.set.is(&o.name, &o.record_type, Some(old_id)));
            let taken = live.iter().any(|l| l.set.is(&n.name, &n.record_type, Some(new_id)));
            if taken && !new.allow_overwrite {
                let id = route_id(&zone_id, &n.name, &n.record_type, new_id);
                return Err(RouteError::AlreadyExists {
                    name: n.name.clone(),
                    record_type: n.record_type.clone(),
                    set_identifier: new_id.into(),
                    id,
                }
                .into());
            }
            let arrive = if taken { Change::Upsert(n.clone()) } else { Change::Create(n.clone()) };
            current.map(|c| Change::Delete(Box::new(c.clone()))).into_iter().chain([arrive]).collect()
        } else {
            vec![Change::Upsert(n.clone())]
        };
        let replaced: Vec<&str> = if o.record_type == n.record_type { vec![old_id, new_id] } else { vec![new_id] };
        Self::check_set(op.ctx, &live, &new, &replaced)?;
        let mut state = planned;
        state.set("id", Value::from(route_id(&zone_id, &n.name, &n.record_type, new_id)));
        self.gate_raise(op, &r53, Some(&prior), &state).await?;
        let comment = "gitopsbridge_weighted_route update";
        match op.send(&r53, &zone_id, comment, &changes, new.wait_for_sync).await {
            Ok(()) => Ok(state),
            Err(e) => Err(e.recording(state)),
        }
    }

    async fn delete_route(&self, op: &Apply<'_>, prior: Value) -> Result<(), Failure> {
        let r53 = self.client().await?;
        let route = Route::from_value(&prior)?;
        let zone_id = route.zone_id.clone().ok_or(RouteError::MissingAttribute("zone_id"))?;
        let r = &route.record;
        let live = match op.read(r53.live_records_named(&zone_id, &r.name)).await {
            Err(RouteError::Route53(Route53Error::ZoneNotFound(_))) => return Ok(()),
            other => other?,
        };
        let Some(current) = live.into_iter().find(|l| l.set.is(&r.name, &r.record_type, r.set_identifier.as_deref()))
        else {
            return Ok(());
        };
        let change = Change::Delete(Box::new(current));
        let comment = "gitopsbridge_weighted_route delete";
        Ok(op.send(&r53, &zone_id, comment, &[change], route.wait_for_sync).await?)
    }
}

// ---------------------------------------------------------------------------------------------
// Import

#[async_trait]
impl Resource for WeightedRouteResource {
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
        let before = request.prior_state.get("weight").as_i64();
        let plan = plan_route(request);
        if traffic_gate::gate(&plan.planned_state).is_some() {
            let r53 = self.source.route53().await.ok();
            let at = AttributePath::root(traffic_gate::BLOCK);
            traffic_gate::warn_if_closed(self.readiness.as_ref(), r53.as_ref(), ctx, at, before, &plan.planned_state)
                .await;
        }
        Ok(plan)
    }

    async fn create(&self, ctx: &Context, planned: Value, _config: &Value) -> Result<Value, ApplyError> {
        let deadline = Deadline::start(&planned, TIMEOUTS, Operation::Create);
        let op = Apply { ctx, deadline, object: describe(&planned) };
        self.create_route(&op, planned).await.map_err(|e| op.failed(e))
    }

    async fn read(&self, _ctx: &Context, state: Value) -> Result<Option<Value>, Diagnostics> {
        let (deadline, object) = (Deadline::start(&state, TIMEOUTS, Operation::Read), describe(&state));
        deadline.run(self.read_route(state)).await.map_err(|e| e.diagnostics_for(&object))
    }

    async fn update(&self, ctx: &Context, prior: Value, planned: Value, _config: &Value) -> Result<Value, ApplyError> {
        if timeouts::only_timeouts_changed(&prior, &planned) {
            return Ok(planned);
        }
        let deadline = Deadline::start(&planned, TIMEOUTS, Operation::Update);
        let op = Apply { ctx, deadline, object: describe(&planned) };
        self.update_route(&op, prior, planned).await.map_err(|e| op.failed(e))
    }

    async fn delete(&self, ctx: &Context, prior: Value) -> Result<(), ApplyError> {
        let deadline = Deadline::start(&prior, TIMEOUTS, Operation::Delete);
        let op = Apply { ctx, deadline, object: describe(&prior) };
        self.delete_route(&op, prior).await.map_err(|e| op.failed(e))
    }

    async fn import(&self, _ctx: &Context, id: &str) -> Result<Value, Diagnostics> {
        let parsed = parse_import_id(id, true).map_err(|e| Diagnostics::error("Invalid import id", e.to_string()))?;
        Ok(Value::object([
            ("id", Value::from(id)),
            ("zone_id", Value::from(parsed.zone_id)),
            ("name", Value::from(parsed.name)),
            ("type", Value::from(parsed.record_type)),
            ("set_identifier", Value::from(parsed.set_identifier)),
            ("alias", Value::List(vec![])),
            ("timeouts", Value::List(vec![])),
        ]))
    }
}

// ---------------------------------------------------------------------------------------------
// Unit tests

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tf::route53_records::ImportId;

    fn config(pairs: Vec<(&str, Value)>) -> Value {
        let mut v = Value::object([
            ("zone_id", Value::from("Z0123456789")),
            ("name", Value::from("burnham.example.com")),
            ("type", Value::from("CNAME")),
            ("set_identifier", Value::from("green")),
            ("weight", Value::from(0)),
            ("ttl", Value::from(60)),
            ("records", Value::strings(["green.elb.amazonaws.com"])),
            ("alias", Value::List(vec![])),
        ]);
        for (k, val) in pairs {
            v.set(k, val);
        }
        v
    }

    fn alias(name: &str) -> Value {
        Value::List(vec![Value::object([
            ("name", Value::from(name)),
            ("zone_id", Value::from("Z35SXDOTRQ7X7K")),
            ("evaluate_target_health", Value::from(true)),
        ])])
    }

    fn error_paths(diags: &Diagnostics) -> Vec<String> {
        diags.0.iter().map(|d| d.attribute.as_ref().map_or_else(String::new, ToString::to_string)).collect()
    }

    #[test]
    fn validation_puts_each_error_on_its_attribute() {
        let long_id = "x".repeat(129);
        let mut alias_zone_with_space = alias("lb.example.com");
        if let Value::List(items) = &mut alias_zone_with_space {
            items[0].set("zone_id", Value::from("Z2 X"));
        }
        type Case<'a> = (Vec<(&'a str, Value)>, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            (vec![], vec![]),
            (vec![("weight", Value::from(256))], vec!["weight"]),
            (vec![("weight", Value::from(-1))], vec!["weight"]),
            (vec![("weight", Value::Number(crate::protocol::Number::Float(1.5)))], vec!["weight"]),
            (vec![("weight", Value::Unknown)], vec![]),
            (vec![("set_identifier", Value::from(""))], vec!["set_identifier"]),
            (vec![("set_identifier", Value::from(long_id.as_str()))], vec!["set_identifier"]),
            (vec![("type", Value::from("MX"))], vec!["type"]),
            (vec![("type", Value::from("cname"))], vec!["type"]),
            (vec![("name", Value::from("bad..example.com"))], vec!["name"]),
            (vec![("zone_id", Value::Null)], vec!["zone_id"]),
            (vec![("zone_name", Value::from("example.com"))], vec!["zone_name"]),
            (vec![("zone_id", Value::Null), ("zone_name", Value::from("example.org"))], vec!["name"]),
            (vec![("zone_id", Value::from("/hostedzone/Z1 2"))], vec!["zone_id"]),
            (vec![("ttl", Value::Null)], vec!["ttl"]),
            (vec![("alias", alias("lb.example.com"))], vec!["records"]),
            (vec![("alias", alias("lb.example.com")), ("records", Value::Null), ("ttl", Value::Null)], vec![]),
            (
                vec![("alias", alias("lb..example.com")), ("records", Value::Null), ("ttl", Value::Null)],
                vec!["alias[0].name"],
            ),
            (vec![("records", Value::Null)], vec!["records"]),
            (vec![("records", Value::strings(["a.example.com", "b.example.com"]))], vec!["records"]),
            (
                vec![("type", Value::from("A")), ("records", Value::strings(["192.0.2.1", "lb.example.com"]))],
                vec!["records"],
            ),
            (vec![("type", Value::from("AAAA")), ("records", Value::strings(["2001:db8::1"]))], vec![]),
            (vec![("records", Value::Unknown)], vec![]),
            (vec![("ttl", Value::from(-5))], vec!["ttl"]),
            (
                vec![("zone_id", Value::Null), ("zone_name", "example.com".into()), ("name", "Example.com.".into())],
                vec!["name"],
            ),
            (
                vec![
                    ("zone_id", Value::Null),
                    ("zone_name", "example.com".into()),
                    ("name", "example.com".into()),
                    ("type", "A".into()),
                    ("records", Value::strings(["192.0.2.1"])),
                ],
                vec![],
            ),
            (vec![("health_check_id", Value::from("my check"))], vec!["health_check_id"]),
            (vec![("health_check_id", Value::from("3e0e0ef1-7c61-4d6b-a7fe-1f6e1b3a9c2d"))], vec![]),
            (
                vec![("alias", alias_zone_with_space), ("records", Value::Null), ("ttl", Value::Null)],
                vec!["alias[0].zone_id"],
            ),
        ];
        for (pairs, want) in cases {
            let label = format!("{pairs:?}");
            assert_eq!(error_paths(&validate_config(&config(pairs))), want, "{label}");
        }
    }

    #[test]
    fn import_ids() {
        let ok = |zone: &str, name: &str, ty: &str, set: &str| ImportId {
            zone_id: zone.into(),
            name: name.into(),
            record_type: ty.into(),
            set_identifier: Some(set.into()),
        };
        let cases: Vec<(&str, Option<ImportId>)> = vec![
            ("Z123_burnham.example.com_CNAME_green", Some(ok("Z123", "burnham.example.com", "CNAME", "green"))),
            ("Z123_burnham.example.com._A_blue_v2", Some(ok("Z123", "burnham.example.com.", "A", "blue_v2"))),
            ("Z123__acme-challenge.example.com_TXT_a", Some(ok("Z123", "_acme-challenge.example.com", "TXT", "a"))),
            ("Z123_x_A.example.com_AAAA_one", Some(ok("Z123", "x_A.example.com", "AAAA", "one"))),
            ("Z123_burnham.example.com_CNAME", None),
            ("Z123_burnham.example.com_CNAME_", None),
            ("Z123_burnham.example.com_MX_green", None),
            ("burnham.example.com", None),
            ("/hostedzone/Z1_burnham.example.com_CNAME_green", None),
        ];
        for (id, want) in cases {
            assert_eq!(parse_import_id(id, true).ok(), want, "{id}");
        }
        assert_eq!(
            parse_import_id("Z1_x.example.com_TXT", false).unwrap(),
            ImportId {
                zone_id: "Z1".into(),
                name: "x.example.com".into(),
                record_type: "TXT".into(),
                set_identifier: None
            }
        );
    }

    #[test]
    fn ids_use_the_bare_zone_id() {
        assert_eq!(route_id("/hostedzone/Z1", "b.example.com", "A", "blue"), "Z1_b.example.com_A_blue");
    }

    fn plan_of(prior: &Value, config: &Value) -> Plan {
        plan_route(PlanRequest { prior_state: prior, proposed_new_state: config.clone(), config })
    }

    #[test]
    fn create_plans_offline_with_the_zone_to_be_looked_up() {
        let by_name = config(vec![("zone_id", Value::Null), ("zone_name", Value::from("example.com"))]);
        let plan = plan_of(&Value::Null, &by_name);
        assert!(plan.planned_state.get("zone_id").is_unknown());
        assert!(plan.planned_state.get("id").is_unknown());
        let by_id = plan_of(&Value::Null, &config(vec![]));
        assert_eq!(by_id.planned_state.get("id").as_str(), Some("Z0123456789_burnham.example.com_CNAME_green"));
        assert!(by_id.planned_state.get("zone_name").is_unknown());
        assert!(by_id.requires_replace.is_empty());
    }

    #[test]
    fn updates_replace_only_for_a_new_zone_or_name() {
        let mut prior = config(vec![("zone_name", Value::from("example.com"))]);
        prior.set("id", Value::from("Z0123456789_burnham.example.com_CNAME_green"));

        let weight = plan_of(&prior, &config(vec![("weight", Value::from(100))]));
        assert!(weight.requires_replace.is_empty());
        assert_eq!(weight.planned_state.get("zone_name").as_str(), Some("example.com"));

        let spelling = plan_of(&prior, &config(vec![("name", Value::from("Burnham.Example.com."))]));
        assert!(spelling.requires_replace.is_empty());

        let renamed = plan_of(&prior, &config(vec![("name", Value::from("other.example.com"))]));
        assert_eq!(renamed.requires_replace, vec![AttributePath::root("name")]);

        let unknown_name = plan_of(&prior, &config(vec![("name", Value::Unknown)]));
        assert_eq!(unknown_name.requires_replace, vec![AttributePath::root("name")], "decided now, not at apply");

        let set_id = plan_of(&prior, &config(vec![("set_identifier", Value::from("teal"))]));
        assert!(set_id.requires_replace.is_empty(), "set identifier changes are one DELETE+CREATE batch");
        assert_eq!(set_id.planned_state.get("id").as_str(), Some("Z0123456789_burnham.example.com_CNAME_teal"));

        let zone = plan_of(&prior, &config(vec![("zone_id", Value::from("Z999"))]));
        assert_eq!(zone.requires_replace, vec![AttributePath::root("zone_id")]);
        assert!(zone.planned_state.get("zone_name").is_unknown());

        let by_name =
            plan_of(&prior, &config(vec![("zone_id", Value::Null), ("zone_name", Value::from("Example.com."))]));
        assert!(by_name.requires_replace.is_empty());
        assert_eq!(by_name.planned_state.get("zone_id").as_str(), Some("Z0123456789"));
    }

    #[test]
    fn live_values_keep_the_users_spelling() {
        let mut state = config(vec![("records", Value::strings(["Green.ELB.amazonaws.com"]))]);
        let live = RecordSet {
            name: "burnham.example.com.".into(),
            record_type: "CNAME".into(),
            set_identifier: Some("green".into()),
            weight: Some(100),
            ttl: Some(60),
            values: vec!["green.elb.amazonaws.com.".into()],
            alias: None,
            health_check_id: None,
        };
        merge_live_member(&mut state, &live);
        assert_eq!(state.get("records"), &Value::strings(["Green.ELB.amazonaws.com"]));
        assert_eq!(state.get("weight").as_i64(), Some(100));

        let drifted = RecordSet { values: vec!["other.elb.amazonaws.com".into()], ..live };
        merge_live_member(&mut state, &drifted);
        assert_eq!(state.get("records"), &Value::strings(["other.elb.amazonaws.com"]));
        assert!(weighted_set::same_values("AAAA", &["2001:DB8::1".into()], &["2001:db8:0::1".into()]));
    }

    struct UnknownSettings;

    #[async_trait]
    impl Route53Source for UnknownSettings {
        async fn route53(&self) -> Result<Route53, Route53Error> {
            Err(Route53Error::UnknownConfig)
        }
    }

    #[async_trait]
    impl ReadinessSource for UnknownSettings {
        async fn cluster_readiness(
            &self,
            _ctx: &crate::halt::Stop,
            _deadline: &Deadline,
            _cluster_name: &str,
            _requirements: &crate::argocd::application::Requirements,
        ) -> Result<crate::hub::gate::ClusterReadiness, crate::hub::HubError> {
            Err(crate::hub::HubError::UnknownConfig)
        }
    }

    #[tokio::test]
    async fn refresh_keeps_state_while_the_route53_settings_are_unknown() {
        let resource = WeightedRouteResource::new(Arc::new(UnknownSettings));
        let state = config(vec![("id", Value::from("Z0123456789_burnham.example.com_CNAME_green"))]);
        let read = resource.read(&Context::default(), state.clone()).await.expect("read");
        assert_eq!(read, Some(state));
        let created = resource.create(&Context::default(), config(vec![]), &Value::Null).await;
        assert!(created.is_err_and(|e| e.diagnostics.0[0].detail.contains("not known yet")));
    }

    #[test]
    fn errors_become_diagnostics_on_their_attribute() {
        let cases = [
            (
                RouteError::TtlMismatch {
                    name: "x".into(),
                    record_type: "A".into(),
                    others: vec![("blue".into(), 300)],
                },
                Some("ttl"),
            ),
            (RouteError::ExternalDns { name: "x".into(), owner: "o".into() }, Some("name")),
            (RouteError::Route53(Route53Error::InvalidChangeBatch("[Tried to create ...]".into())), None),
        ];
        for (error, attribute) in cases {
            let diags = error.into_diagnostics();
            assert_eq!(diags.0[0].attribute, attribute.map(AttributePath::root));
        }
        let verbatim =
            RouteError::Route53(Route53Error::InvalidChangeBatch("[Tried to create resource record set]".into()));
        assert_eq!(verbatim.into_diagnostics().0[0].detail, "[Tried to create resource record set]");
    }

    #[test]
    fn an_existing_record_or_set_is_named_with_its_import_block() {
        let record = RouteError::AlreadyExists {
            name: "burnham.example.com".into(),
            record_type: "CNAME".into(),
            set_identifier: "green".into(),
            id: "Z1_burnham.example.com_CNAME_green".into(),
        };
        let detail = &record.into_diagnostics().0[0].detail;
        assert!(
            detail.contains("to = gitopsbridge_weighted_route.<name>\n    id = \"Z1_burnham.example.com_CNAME_green\""),
            "{detail}"
        );
        assert!(detail.contains("allow_overwrite"), "{detail}");
        let set = RouteError::ForeignMembers {
            name: "burnham.example.com".into(),
            record_type: "CNAME".into(),
            set_identifiers: vec!["blue".into()],
            split_id: "Z1_burnham.example.com_CNAME".into(),
        };
        let detail = &set.into_diagnostics().0[0].detail;
        assert!(
            detail.contains("to = gitopsbridge_traffic_split.<name>\n    id = \"Z1_burnham.example.com_CNAME\""),
            "{detail}"
        );
    }
}
