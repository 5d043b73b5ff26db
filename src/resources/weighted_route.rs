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

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use crate::dns_names;
use crate::protocol::{
    ApplyError, Attribute, AttributePath, Block, Context, Diagnostics, NestedBlock, Plan, PlanRequest, Resource,
    Schema, Type, Value,
};
use crate::resources::adoption;
use crate::route53::{
    Alias, Change, Changed, LiveRecord, RecordSet, Route53, Route53Error, Route53Source, Zone, bare_zone_id,
};
use crate::timeouts::{self, Deadline, Defaults, Expired, Halt, Operation, Timeout, Unfinished};
use crate::weighted_set;

pub const TYPE_NAME: &str = "gitopsbridge_weighted_route";

/// Record types a weighted route may have.
pub const RECORD_TYPES: [&str; 4] = ["A", "AAAA", "CNAME", "TXT"];
const WEIGHT_MAX: i64 = 255;
const SET_IDENTIFIER_MAX: usize = 128;
const TTL_MAX: i64 = 2_147_483_647;

/// Each operation's timeout when the `timeouts` block does not set it, for `weighted_route` and
/// `traffic_split`: writes include the wait until Route53 reports the change INSYNC.
pub(crate) const TIMEOUTS: Defaults = &[
    Timeout::new(Operation::Create, TEN_MINUTES).noting(INSYNC),
    Timeout::new(Operation::Read, std::time::Duration::from_secs(5 * 60)).noting(timeouts::READ_NOTE),
    Timeout::new(Operation::Update, TEN_MINUTES).noting(INSYNC),
    Timeout::new(Operation::Delete, TEN_MINUTES).noting(INSYNC),
];
const TEN_MINUTES: std::time::Duration = std::time::Duration::from_secs(10 * 60);
const INSYNC: &str = "It includes the wait until Route53 reports the change INSYNC.";

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

/// The computed id and import id: `<zone id>_<name>_<type>_<set identifier>`.
pub fn route_id(zone_id: &str, name: &str, record_type: &str, set_identifier: &str) -> String {
    format!("{}_{name}_{record_type}_{set_identifier}", bare_zone_id(zone_id))
}

/// The record of one weighted member from a value holding `weight`, `records`, `alias` and
/// `health_check_id` (a `weighted_route` or a `traffic_split` route block). Name, type and TTL
/// are the caller's to fill in.
pub(crate) fn member_record(v: &Value, set_identifier: &str) -> Result<RecordSet, RouteError> {
    let alias = v.get("alias").single_block().map(|a| Alias {
        name: string(a.get("name")).unwrap_or_default(),
        zone_id: string(a.get("zone_id")).unwrap_or_default(),
        evaluate_target_health: a.get("evaluate_target_health").as_bool().unwrap_or(false),
    });
    Ok(RecordSet {
        name: String::new(),
        record_type: String::new(),
        set_identifier: Some(set_identifier.to_string()),
        weight: Some(v.get("weight").as_i64().ok_or(RouteError::MissingAttribute("weight"))?),
        ttl: None,
        values: v.get("records").as_list().unwrap_or_default().iter().filter_map(string).collect(),
        alias,
        health_check_id: string(v.get("health_check_id")),
    })
}

/// Writes what Route53 has for one member into `state`, keeping the user's spelling of values
/// Route53 writes differently (case, trailing dots, IPv6 forms).
pub(crate) fn merge_live_member(state: &mut Value, live: &RecordSet) {
    state.set("weight", live.weight.map_or(Value::Null, Value::from));
    let prior_values: Vec<String> =
        state.get("records").as_list().unwrap_or_default().iter().filter_map(string).collect();
    let values = if weighted_set::same_values(&live.record_type, &prior_values, &live.values) {
        prior_values
    } else {
        live.values.clone()
    };
    let records =
        if values.is_empty() && state.get("records").is_null() { Value::Null } else { Value::strings(values) };
    state.set("records", records);
    let prior_alias = state.get("alias").single_block().cloned();
    let alias = live.alias.as_ref().map(|a| {
        let prior = |k: &str| prior_alias.as_ref().and_then(|p| string(p.get(k)));
        let name = prior("name").filter(|n| dns_names::same_name(n, &a.name)).unwrap_or_else(|| a.name.clone());
        let zone_id = prior("zone_id")
            .filter(|z| bare_zone_id(z) == bare_zone_id(&a.zone_id))
            .unwrap_or_else(|| a.zone_id.clone());
        Value::object([
            ("name", Value::from(name)),
            ("zone_id", Value::from(zone_id)),
            ("evaluate_target_health", Value::from(a.evaluate_target_health)),
        ])
    });
    state.set("alias", Value::List(alias.into_iter().collect()));
    state.set("health_check_id", live.health_check_id.clone().map_or(Value::Null, Value::from));
}

fn string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// What can go wrong between Terraform and Route53 for weighted records.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Route53(Route53Error),
    /// The zone named by `attribute` could not be used.
    #[error("{source}")]
    Zone { attribute: &'static str, source: Route53Error },
    #[error("{name} is not inside the hosted zone {zone}")]
    OutsideZone { name: String, zone: String },
    #[error(
        "a record {name} {record_type} with set identifier {set_identifier} already exists and is not in this state"
    )]
    AlreadyExists { name: String, record_type: String, set_identifier: String, id: String },
    #[error(
        "external-dns manages {name} ({owner}); taking it over would start a tug of war with external-dns. \
         Remove the external-dns annotation first, or set allow_overwrite = true"
    )]
    ExternalDns { name: String, owner: String },
    #[error(
        "Route53 requires one TTL across a weighted set, and the other members of {name} {record_type} use {}; \
         set ttl to match",
        others.iter().map(|(id, ttl)| format!("{ttl} ({id})")).collect::<Vec<_>>().join(", ")
    )]
    TtlMismatch { name: String, record_type: String, others: Vec<(String, i64)> },
    #[error(
        "{name} {record_type} has weighted records this resource does not own: {}; add them as routes, \
         or set allow_overwrite = true to delete them in the same change",
        set_identifiers.join(", ")
    )]
    ForeignMembers { name: String, record_type: String, set_identifiers: Vec<String>, split_id: String },
    /// State or plan lacks an attribute the operation needs (a provider bug, or hand-edited state).
    #[error("the {0} attribute is missing")]
    MissingAttribute(&'static str),
    /// The operation's deadline passed with `unfinished` still to do.
    #[error("{expired}")]
    TimedOut { expired: Expired, unfinished: Unfinished },
}

/// A read cut short by the deadline.
impl From<Expired> for RouteError {
    fn from(expired: Expired) -> Self {
        RouteError::TimedOut { expired, unfinished: Unfinished::NoAnswer }
    }
}

/// A change batch that failed: past the deadline it is the operation's timeout.
impl From<Route53Error> for RouteError {
    fn from(error: Route53Error) -> Self {
        match error {
            Route53Error::Halted { halt: Halt::Deadline(expired), attempts, last, uncertain } => {
                let unfinished = match last {
                    Some(last) if attempts > 0 => Unfinished::Retries { last, maybe_written: uncertain },
                    _ => Unfinished::NotSent,
                };
                RouteError::TimedOut { expired, unfinished }
            }
            other => RouteError::Route53(other),
        }
    }
}

impl RouteError {
    /// The diagnostic for Terraform: each error on the attribute it is about.
    pub(crate) fn into_diagnostics(self) -> Diagnostics {
        let (attribute, summary) = match &self {
            RouteError::Route53(e) => match e.cause() {
                Route53Error::InvalidChangeBatch(_) => (None, "Route53 rejected the change"),
                Route53Error::Throttled { .. } => (None, "Route53 throttled every attempt"),
                Route53Error::Unavailable { .. } => (None, "Route53 unavailable"),
                Route53Error::SyncTimeout { .. } => (Some("wait_for_sync"), "Change not in sync"),
                Route53Error::UnknownConfig => (None, "Route53 configuration not known yet"),
                Route53Error::Cancelled(_) | Route53Error::Halted { .. } => (None, "Interrupted"),
                _ => (None, "Route53 request failed"),
            },
            RouteError::Zone { attribute, .. } => (Some(*attribute), "Hosted zone not usable"),
            RouteError::OutsideZone { .. } => (Some("name"), "Name outside the zone"),
            RouteError::AlreadyExists { .. } => (Some("set_identifier"), "Record already exists"),
            RouteError::ExternalDns { .. } => (Some("name"), "Record managed by external-dns"),
            RouteError::TtlMismatch { .. } => (Some("ttl"), "TTL differs from the weighted set"),
            RouteError::ForeignMembers { .. } => (Some("route"), "Weighted set has other members"),
            RouteError::MissingAttribute(name) => (Some(*name), "Incomplete state"),
            RouteError::TimedOut { .. } => return self.diagnostics_for("the weighted records"),
        };
        let detail = match &self {
            RouteError::Route53(e) if e.uncertain() => format!("{self}. {}", ApplyError::UNCERTAIN),
            RouteError::AlreadyExists { id, .. } => format!(
                "{self}. {}\nOr set allow_overwrite = true to take it over as it is.",
                adoption::how_to_import(TYPE_NAME, id)
            ),
            RouteError::ForeignMembers { split_id, .. } => {
                format!("{self}.\n\n{}", adoption::how_to_import(crate::resources::traffic_split::TYPE_NAME, split_id))
            }
            _ => self.to_string(),
        };
        match attribute {
            Some(a) => Diagnostics::error_at(AttributePath::root(a), summary, detail),
            None => Diagnostics::error(summary, detail),
        }
    }
}

impl RouteError {
    /// The diagnostic, naming `object` (e.g. `weighted record a.example.com CNAME green`) when
    /// Route53 failed or the operation timed out.
    pub(crate) fn diagnostics_for(self, object: &str) -> Diagnostics {
        match self {
            RouteError::TimedOut { expired, unfinished } => expired.diagnostics(object, "Route53", &unfinished),
            RouteError::Route53(_) => {
                let mut diags = self.into_diagnostics();
                for d in &mut diags.0 {
                    d.detail = format!("{object}: {}", d.detail);
                }
                diags
            }
            other => other.into_diagnostics(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Schema

/// The `alias` block: a weighted alias record instead of `records`.
pub(crate) fn alias_block() -> NestedBlock {
    NestedBlock::at_most_one(
        "alias",
        Block::new(
            "Point the record at an AWS resource (load balancer, CloudFront, another record) instead of `records`.",
        )
        .attribute(Attribute::required(
            "name",
            Type::String,
            "DNS name of the target, e.g. the load balancer's DNS name.",
        ))
        .attribute(Attribute::required(
            "zone_id",
            Type::String,
            "Hosted zone id of the target (the load balancer's canonical zone id).",
        ))
        .attribute(Attribute::required(
            "evaluate_target_health",
            Type::Bool,
            "Whether Route53 routes away from this record when the target is unhealthy.",
        )),
    )
}

/// The attributes of one weighted member, shared with `gitopsbridge_traffic_split`'s routes.
pub(crate) fn member_attributes(block: Block) -> Block {
    block
        .attribute(Attribute::required(
            "set_identifier",
            Type::String,
            "Tells this member of the weighted set from the others of the same name and type (1–128 characters), e.g. `blue`.",
        ))
        .attribute(Attribute::required(
            "weight",
            Type::Number,
            "Relative weight 0–255: the member gets weight / (sum of weights) of the answers. When every member has 0, Route53 splits equally.",
        ))
        .attribute(Attribute::optional(
            "records",
            Type::set(Type::String),
            "The record values: IP addresses for A/AAAA, one DNS name for CNAME, text for TXT (quoted for you). Conflicts with `alias`.",
        ))
        .attribute(Attribute::optional("health_check_id", Type::String, "A Route53 health check that must pass for this member to get traffic."))
        .block(alias_block())
}

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
    Schema::new(0, member_attributes(block).block(timeouts::block(TIMEOUTS)))
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
    timeouts::validate(config, TIMEOUTS, &mut diags);
    diags
}

/// Exactly one of `zone_id`/`zone_name`, a valid `name`, inside the zone when the zone is named.
pub(crate) fn check_zone_and_name(config: &Value, diags: &mut Diagnostics) {
    let (zone_id, zone_name) = (config.get("zone_id"), config.get("zone_name"));
    match (zone_id.is_null(), zone_name.is_null()) {
        (true, true) => diags.push_error(
            Some(AttributePath::root("zone_id")),
            "Missing zone",
            "Set `zone_id` or `zone_name` to say which hosted zone holds the record.",
        ),
        (false, false) => diags.push_error(
            Some(AttributePath::root("zone_name")),
            "Conflicting zone",
            "Set only one of `zone_id` and `zone_name`.",
        ),
        _ => {}
    }
    if let Some(id) = zone_id.as_str()
        && !is_zone_id(id)
    {
        diags.push_error(
            Some(AttributePath::root("zone_id")),
            "Invalid zone id",
            format!("{id:?} is not a hosted zone id such as Z0123456789ABCDEFGHIJ."),
        );
    }
    if let Some(zone) = zone_name.as_str()
        && let Err(e) = dns_names::check_dns_name(zone)
    {
        diags.push_error(
            Some(AttributePath::root("zone_name")),
            "Invalid zone name",
            format!("The zone name {zone:?} {e}."),
        );
    }
    if let Some(name) = config.get("name").as_str() {
        if let Err(e) = dns_names::check_dns_name(name) {
            diags.push_error(
                Some(AttributePath::root("name")),
                "Invalid record name",
                format!("The name {name:?} {e}."),
            );
        } else if let Some(zone) = zone_name.as_str()
            && dns_names::check_dns_name(zone).is_ok()
            && !dns_names::is_within_zone(name, zone)
        {
            diags.push_error(
                Some(AttributePath::root("name")),
                "Name outside the zone",
                format!("{name} is not inside the zone {zone}."),
            );
        }
    }
}

/// A hosted zone id, bare (`Z0123…`) or as Route53 returns it (`/hostedzone/Z0123…`).
fn is_zone_id(id: &str) -> bool {
    let bare = bare_zone_id(id);
    !bare.is_empty() && bare.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Route53 refuses a CNAME at the zone apex, the name of the zone itself.
pub(crate) fn check_cname_at_apex(config: &Value, record_type: Option<&str>, diags: &mut Diagnostics) {
    if record_type == Some("CNAME")
        && let (Some(name), Some(zone)) = (config.get("name").as_str(), config.get("zone_name").as_str())
        && dns_names::same_name(name, zone)
    {
        diags.push_error(
            Some(AttributePath::root("name")),
            "CNAME at the zone apex",
            format!("{name} is the zone itself, where DNS allows no CNAME; use type A or AAAA with an alias block."),
        );
    }
}

/// The record type when it is known and valid.
pub(crate) fn check_type(value: &Value, at: AttributePath, diags: &mut Diagnostics) -> Option<String> {
    let record_type = value.as_str()?;
    if RECORD_TYPES.contains(&record_type) {
        Some(record_type.to_string())
    } else {
        diags.push_error(
            Some(at),
            "Unsupported record type",
            format!("The type {record_type:?} is not one of {} (uppercase).", RECORD_TYPES.join(", ")),
        );
        None
    }
}

/// Whether a member has `records` (`Some(true)`), an alias (`Some(false)`), or we cannot tell yet.
pub(crate) fn member_has_records(member: &Value) -> Option<bool> {
    match (member.get("records"), member.get("alias")) {
        (Value::Unknown, _) | (_, Value::Unknown) => None,
        (records, _) if !records.is_null() => Some(true),
        (_, alias) if alias.single_block().is_some() => Some(false),
        _ => Some(true),
    }
}

/// `ttl` is required with records and not allowed with an alias.
pub(crate) fn check_ttl(ttl: &Value, has_records: Option<bool>, at: AttributePath, diags: &mut Diagnostics) {
    match (ttl, has_records) {
        (Value::Null, Some(true)) => diags.push_error(Some(at), "Missing ttl", "`ttl` is required with `records`."),
        (Value::Number(_), Some(false)) => {
            diags.push_error(Some(at), "ttl with alias", "Alias records take the TTL of their target: remove `ttl`.")
        }
        (Value::Number(n), _) if !n.as_i64().is_some_and(|t| (0..=TTL_MAX).contains(&t)) => {
            diags.push_error(
                Some(at),
                "Invalid ttl",
                format!("`ttl` must be a whole number of seconds from 0 to {TTL_MAX}, not {n}."),
            );
        }
        _ => {}
    }
}

/// Checks the member attributes (`set_identifier`, `weight`, `records`, `alias`), each error on
/// its own path under `at`.
pub(crate) fn check_member(
    member: &Value,
    at: &dyn Fn(&str) -> AttributePath,
    record_type: Option<&str>,
    diags: &mut Diagnostics,
) {
    if let Some(id) = member.get("set_identifier").as_str() {
        let len = id.chars().count();
        if !(1..=SET_IDENTIFIER_MAX).contains(&len) {
            diags.push_error(
                Some(at("set_identifier")),
                "Invalid set identifier",
                format!("`set_identifier` must be 1 to {SET_IDENTIFIER_MAX} characters long; this one has {len}."),
            );
        }
    }
    if let Value::Number(n) = member.get("weight")
        && !n.as_i64().is_some_and(|w| (0..=WEIGHT_MAX).contains(&w))
    {
        diags.push_error(
            Some(at("weight")),
            "Invalid weight",
            format!("`weight` must be a whole number from 0 to {WEIGHT_MAX}, not {n}."),
        );
    }
    if let Some(id) = member.get("health_check_id").as_str()
        && (id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        diags.push_error(
            Some(at("health_check_id")),
            "Invalid health check id",
            format!("{id:?} is not a Route53 health check id such as 3e0e0ef1-7c61-4d6b-a7fe-1f6e1b3a9c2d."),
        );
    }
    let records = member.get("records");
    let alias = member.get("alias").single_block();
    if !records.is_null() && alias.is_some() {
        diags.push_error(
            Some(at("records")),
            "Conflicting targets",
            "Set either `records` or an `alias` block, not both.",
        );
    }
    if records.is_null() && member.get("alias").as_list().is_some_and(<[Value]>::is_empty) {
        diags.push_error(Some(at("records")), "Missing target", "Set `records` or an `alias` block.");
    }
    if let Some(values) = records.as_list() {
        if values.is_empty() {
            diags.push_error(Some(at("records")), "Empty records", "`records` needs at least one value.");
        }
        if record_type == Some("CNAME") && values.len() > 1 {
            diags.push_error(Some(at("records")), "Several CNAME values", "A CNAME record has exactly one value.");
        }
        for value in values.iter().filter_map(Value::as_str) {
            if let Some(ty) = record_type
                && let Err(why) = dns_names::check_record_value(ty, value)
            {
                diags.push_error(
                    Some(at("records")),
                    "Invalid record value",
                    format!("The {ty} value {value:?} {why}."),
                );
            }
        }
    }
    if let Some(alias) = alias {
        let at_alias = |name: &str| at("alias").index(0).attr(name);
        if let Some(name) = alias.get("name").as_str()
            && let Err(e) = dns_names::check_dns_name(name)
        {
            diags.push_error(Some(at_alias("name")), "Invalid alias target", format!("The alias name {name:?} {e}."));
        }
        if let Some(zone) = alias.get("zone_id").as_str()
            && !is_zone_id(zone)
        {
            diags.push_error(
                Some(at_alias("zone_id")),
                "Invalid alias zone",
                format!("`zone_id` of the alias target, {zone:?}, is not a hosted zone id such as Z35SXDOTRQ7X7K."),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Plan (offline: never needs the network)

/// Marks the zone attribute the user did not set as unknown (filled in at apply), unless prior
/// state already knows it for the same zone; returns whether the zone changed.
pub(crate) fn plan_zone(prior: &Value, planned: &mut Value, config: &Value) -> bool {
    let same_zone = if !prior.is_null() {
        match (config.get("zone_id").as_str(), config.get("zone_name").as_str()) {
            (Some(id), _) => prior.get("zone_id").as_str().is_some_and(|p| bare_zone_id(p) == bare_zone_id(id)),
            (_, Some(name)) => prior.get("zone_name").as_str().is_some_and(|p| dns_names::same_name(p, name)),
            _ => !config.get("zone_id").is_unknown() && !config.get("zone_name").is_unknown(),
        }
    } else {
        false
    };
    for attribute in ["zone_id", "zone_name"] {
        if config.get(attribute).is_null() {
            let value = if same_zone { prior.get(attribute).clone() } else { Value::Unknown };
            planned.set(attribute, value);
        }
    }
    !prior.is_null() && !same_zone
}

/// Whether `name` forces a replacement: it names another record, or it is unknown until apply.
/// An unknown name must be planned as a replacement now, because Terraform refuses a plan whose
/// action turns from update into replace once the name is known.
pub(crate) fn name_forces_replacement(prior: &Value, config: &Value) -> bool {
    let Some(before) = prior.get("name").as_str() else { return false };
    match config.get("name") {
        Value::Unknown => true,
        after => after.as_str().is_some_and(|after| !dns_names::same_name(before, after)),
    }
}

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
}

impl WeightedRouteResource {
    pub fn new(source: Arc<dyn Route53Source>) -> Self {
        WeightedRouteResource { source }
    }

    async fn client(&self) -> Result<Route53, RouteError> {
        Ok(self.source.route53().await?)
    }
}

/// The zone a configuration or state names, looked up by id or name.
pub(crate) async fn resolve_zone(r53: &Route53, v: &Value) -> Result<Zone, RouteError> {
    match (v.get("zone_id").as_str(), v.get("zone_name").as_str()) {
        (Some(id), _) => r53.zone_by_id(id).await.map_err(|source| RouteError::Zone { attribute: "zone_id", source }),
        (None, Some(name)) => {
            r53.zone_by_name(name).await.map_err(|source| RouteError::Zone { attribute: "zone_name", source })
        }
        (None, None) => Err(RouteError::MissingAttribute("zone_id")),
    }
}

/// Fills the zone attributes of `state` from the resolved zone, keeping the user's spelling.
pub(crate) fn set_zone(state: &mut Value, zone: &Zone) {
    state.set("zone_id", Value::from(state.get("zone_id").as_str().map_or_else(|| zone.id.clone(), str::to_string)));
    let name = state
        .get("zone_name")
        .as_str()
        .filter(|n| dns_names::same_name(n, &zone.name))
        .map_or_else(|| zone.name.clone(), str::to_string);
    state.set("zone_name", Value::from(name));
}

/// Refuses records outside the zone: Route53 would answer with a less helpful message.
pub(crate) fn check_in_zone(name: &str, zone: &Zone) -> Result<(), RouteError> {
    if dns_names::is_within_zone(name, &zone.name) {
        Ok(())
    } else {
        Err(RouteError::OutsideZone { name: name.to_string(), zone: zone.name.clone() })
    }
}

/// A create, update or delete that failed: the error, and the state to record when the write
/// happened or may have happened.
#[derive(Debug)]
pub(crate) struct Failure {
    error: RouteError,
    state: Option<Value>,
    /// `state` is the plan, recorded because the write's answer was lost.
    planned: bool,
}

impl From<RouteError> for Failure {
    fn from(error: RouteError) -> Self {
        Failure { error, state: None, planned: false }
    }
}

impl From<Route53Error> for Failure {
    fn from(error: Route53Error) -> Self {
        RouteError::from(error).into()
    }
}

/// Why [`Apply::send`] failed: certainly before Route53 applied the batch (nothing changed), after
/// it (accepted, but not INSYNC in time), or perhaps after it (its answer was lost).
#[derive(Debug)]
pub(crate) enum SendError {
    Unsent(RouteError),
    Unconfirmed(RouteError),
    Uncertain(RouteError),
}

impl SendError {
    /// The failure when the batch writes `state`: unless the batch certainly did not happen the
    /// state is recorded with the error (a create then counts as tainted, and the next refresh
    /// finds out what exists).
    pub(crate) fn recording(self, state: Value) -> Failure {
        match self {
            SendError::Unsent(error) => Failure { error, state: None, planned: false },
            SendError::Unconfirmed(error) => Failure { error, state: Some(state), planned: false },
            SendError::Uncertain(error) => Failure { error, state: Some(state), planned: true },
        }
    }
}

impl From<SendError> for Failure {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Unsent(error) | SendError::Unconfirmed(error) | SendError::Uncertain(error) => error.into(),
        }
    }
}

/// One create, update or delete of a weighted record or set: Terraform's context, the
/// operation's deadline and how errors name the object.
pub(crate) struct Apply<'a> {
    pub ctx: &'a Context,
    pub deadline: Deadline,
    pub object: String,
}

impl Apply<'_> {
    /// A read before the write, given up at once on the stop or at the deadline: nothing is
    /// written yet, so nothing is lost.
    pub(crate) async fn read<T, E>(&self, read: impl Future<Output = Result<T, E>>) -> Result<T, RouteError>
    where
        RouteError: From<E>,
    {
        tokio::select! {
            biased;
            result = read => Ok(result?),
            halt = Halt::next(self.ctx, Some(&self.deadline)) => Err(match halt {
                Halt::Stop => Route53Error::Cancelled("reading the live records before the change").into(),
                Halt::Deadline(expired) => expired.into(),
            }),
        }
    }

    /// Sends a batch and, when asked, waits until it is INSYNC.
    ///
    /// On StopProvider and at the deadline alike, a batch not yet sent is not sent and one on its
    /// way is finished. After the stop the wait for INSYNC ends at once with a warning: Route53
    /// applies an accepted batch whole and propagates it by itself, so the write is complete. At
    /// the deadline an unfinished wait is the operation's timeout (with the state recorded); a
    /// batch that only finished after the deadline, with nothing left to wait for, succeeds with
    /// a warning.
    pub(crate) async fn send(
        &self,
        r53: &Route53,
        zone_id: &str,
        comment: &str,
        changes: &[Change],
        wait: bool,
    ) -> Result<(), SendError> {
        let changed =
            r53.change_within(zone_id, comment, changes, self.ctx, Some(&self.deadline)).await.map_err(|e| {
                let uncertain = e.uncertain();
                let error = RouteError::from(e);
                if uncertain { SendError::Uncertain(error) } else { SendError::Unsent(error) }
            })?;
        let id = match changed {
            Changed::Pending(id) if wait => id,
            Changed::AnswerLost if wait => {
                self.ctx.warn(
                    Some(AttributePath::root("wait_for_sync")),
                    "Change not awaited",
                    format!(
                        "Route53's answer to the change of {} was lost; a retry found the change in place, so it was \
                         this apply's own. Without its change id INSYNC cannot be awaited. Route53 applies an \
                         accepted change whole and propagates it by itself; the state records it.",
                        self.object
                    ),
                );
                return Ok(());
            }
            _ => {
                self.deadline.warn_if_passed(self.ctx, &self.object);
                return Ok(());
            }
        };
        match r53.wait_insync(&id, self.ctx, Some(&self.deadline)).await {
            Ok(()) => Ok(()),
            Err(Route53Error::Cancelled(_)) => {
                self.ctx.warn(
                    Some(AttributePath::root("wait_for_sync")),
                    "Change not awaited",
                    format!(
                        "Route53 accepted change {id}, and Terraform asked the provider to stop before Route53 reported \
                         it INSYNC, so that was not waited for. Route53 applies an accepted change whole and propagates \
                         it by itself; the state records it."
                    ),
                );
                Ok(())
            }
            Err(Route53Error::SyncTimeout { change_id, .. }) => {
                let what = format!(
                    "Route53 accepted the change ({change_id}) but still reports it PENDING; it goes on propagating \
                     by itself, and wait_for_sync = false does not wait for it"
                );
                let expired = self.deadline.expired();
                Err(SendError::Unconfirmed(RouteError::TimedOut { expired, unfinished: Unfinished::Wait(what) }))
            }
            Err(e) => Err(SendError::Unconfirmed(e.into())),
        }
    }

    /// The apply's error, naming the object, with the state to record if any.
    pub(crate) fn failed(&self, failure: Failure) -> ApplyError {
        let diagnostics = failure.error.diagnostics_for(&self.object);
        match failure.state {
            Some(planned) if failure.planned => ApplyError::planned_if(true, planned, diagnostics),
            state => ApplyError { diagnostics, state },
        }
    }
}

/// How errors name a weighted record: `weighted record burnham.example.com CNAME green`.
fn describe(v: &Value) -> String {
    let part = |name: &str| v.get(name).as_str().unwrap_or("?").to_string();
    format!("weighted record {} {} {}", part("name"), part("type"), part("set_identifier"))
}

/// Warns when every weight of the set is 0 after the change.
pub(crate) fn warn_all_zero(ctx: &Context, name: &str, record_type: &str, at: Option<AttributePath>) {
    ctx.warn(
        at,
        "Every weight is 0",
        format!(
            "After this change every weighted record of {name} {record_type} has weight 0. Route53 then answers with \
             all of them in equal shares; it does not stop the traffic. Give the member that should take the \
             traffic a weight above 0."
        ),
    );
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

/// Why an import id cannot be parsed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ImportIdError(String);

/// Parts of an import id `<zone id>_<name>_<type>[_<set identifier>]`.
#[derive(Debug, PartialEq, Eq)]
pub struct ImportId {
    pub zone_id: String,
    pub name: String,
    pub record_type: String,
    pub set_identifier: Option<String>,
}

/// Parses an import id. Names may hold `_` (`_acme-challenge`) and so may set identifiers, so the
/// type is found as the first `_<TYPE>` after which the name part is a valid DNS name.
///
/// # Errors
/// A message that shows the expected form.
pub fn parse_import_id(id: &str, with_set_identifier: bool) -> Result<ImportId, ImportIdError> {
    let form = if with_set_identifier { "<zone id>_<name>_<type>_<set identifier>" } else { "<zone id>_<name>_<type>" };
    let bad = |why: &str| {
        ImportIdError(format!(
            "The import id {id:?} {why}; expected {form}, e.g. Z0123456789_burnham.example.com_CNAME{}.",
            if with_set_identifier { "_green" } else { "" }
        ))
    };
    let (zone_id, rest) = id.split_once('_').ok_or_else(|| bad("has no '_'"))?;
    if zone_id.is_empty() || !zone_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(bad("does not start with a hosted zone id"));
    }
    for (at, _) in rest.match_indices('_') {
        let (name, tail) = (&rest[..at], &rest[at + 1..]);
        if dns_names::check_dns_name(name).is_err() {
            continue;
        }
        let (record_type, set_identifier) = match tail.split_once('_') {
            Some((ty, set)) => (ty, Some(set)),
            None => (tail, None),
        };
        if !RECORD_TYPES.contains(&record_type) {
            continue;
        }
        return match (set_identifier, with_set_identifier) {
            (Some(set), true) if !set.is_empty() => Ok(ImportId {
                zone_id: zone_id.into(),
                name: name.into(),
                record_type: record_type.into(),
                set_identifier: Some(set.into()),
            }),
            (None, false) => Ok(ImportId {
                zone_id: zone_id.into(),
                name: name.into(),
                record_type: record_type.into(),
                set_identifier: None,
            }),
            (_, true) => Err(bad("has no set identifier after the type")),
            (Some(_), false) => Err(bad("has something after the type")),
        };
    }
    Err(bad(&format!("has no record type ({}) after a valid name", RECORD_TYPES.join(", "))))
}

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

    async fn plan(&self, _ctx: &Context, request: PlanRequest<'_>) -> Result<Plan, Diagnostics> {
        validate_config(request.config).into_result()?;
        Ok(plan_route(request))
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
