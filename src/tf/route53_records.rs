//! The Terraform side the Route53 record resources (`weighted_route`, `traffic_split`) and the
//! `weighted_routes` data source share: the member attributes and their checks, the zone a
//! configuration names, the plan of the zone attributes, the import id, Route53 errors as
//! diagnostics, and the apply step that sends one change batch and waits for INSYNC.

use std::future::Future;

use crate::protocol::{ApplyError, Attribute, AttributePath, Block, Context, Diagnostics, NestedBlock, Type, Value};
use crate::route53::dns_names;
use crate::route53::weighted_set;
use crate::route53::{Alias, Change, Changed, RecordSet, Route53, Route53Error, Zone, bare_zone_id};
use crate::tf::adoption;
use crate::tf::timeouts::{self, Deadline, Defaults, Expired, Halt, Operation, Timeout, Unfinished};

/// The type name of `weighted_route`, which an error about an existing record points the import at.
pub const WEIGHTED_ROUTE_TYPE_NAME: &str = "gitopsbridge_weighted_route";

/// The type name of `traffic_split`, which errors about a whole set point the import at.
pub const TRAFFIC_SPLIT_TYPE_NAME: &str = "gitopsbridge_traffic_split";

/// Record types a weighted route may have.
pub const RECORD_TYPES: [&str; 4] = ["A", "AAAA", "CNAME", "TXT"];
pub const WEIGHT_MAX: i64 = 255;
pub const SET_IDENTIFIER_MAX: usize = 128;
pub const TTL_MAX: i64 = 2_147_483_647;

/// Each operation's timeout when the `timeouts` block does not set it, for `weighted_route` and
/// `traffic_split`: writes include the wait until Route53 reports the change INSYNC.
pub const TIMEOUTS: Defaults = &[
    Timeout::new(Operation::Create, TEN_MINUTES).noting(INSYNC),
    Timeout::new(Operation::Read, std::time::Duration::from_secs(5 * 60)).noting(timeouts::READ_NOTE),
    Timeout::new(Operation::Update, TEN_MINUTES).noting(INSYNC),
    Timeout::new(Operation::Delete, TEN_MINUTES).noting(INSYNC),
];
pub const TEN_MINUTES: std::time::Duration = std::time::Duration::from_secs(10 * 60);
pub const INSYNC: &str = "It includes the wait until Route53 reports the change INSYNC.";

/// The computed id and import id: `<zone id>_<name>_<type>_<set identifier>`.
pub fn route_id(zone_id: &str, name: &str, record_type: &str, set_identifier: &str) -> String {
    format!("{}_{name}_{record_type}_{set_identifier}", bare_zone_id(zone_id))
}

/// The record of one weighted member from a value holding `weight`, `records`, `alias` and
/// `health_check_id` (a `weighted_route` or a `traffic_split` route block). Name, type and TTL
/// are the caller's to fill in.
pub fn member_record(v: &Value, set_identifier: &str) -> Result<RecordSet, RouteError> {
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
pub fn merge_live_member(state: &mut Value, live: &RecordSet) {
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

pub fn string(v: &Value) -> Option<String> {
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
    /// A readiness gate refused a change that raises weights: nothing was written.
    #[error(
        "{change} was not written:\n{}\nNothing was changed in Route53. Apply again once it is ready; lowering a \
         weight is never gated",
        closed.join("\n")
    )]
    GateClosed { at: AttributePath, change: String, closed: Vec<String> },
    /// The operation's deadline passed with `unfinished` still to do.
    #[error("{expired}")]
    TimedOut { expired: Expired, unfinished: Unfinished },
    /// A readiness gate closed during a rollout (`at` names the gate, `step` the step reached);
    /// `restored` says how the rollback to the starting weights went.
    #[error("The readiness gate closed after {step}:\n{}\n{restored}", closed.join("\n"))]
    RolledBack { at: AttributePath, step: String, closed: Vec<String>, restored: String },
    /// A rollout ended before its last step: the stop or the deadline (`halt`), or a failure
    /// (`cause`). `live` names the weights Route53 holds, which the state records.
    #[error(
        "{}{live} is live and the state records it; no further step was started. Run terraform apply again to \
         continue from there: the next plan shows the steps left.{}",
        rollout_halt(halt, cause.as_deref()),
        if matches!(halt, Some(Halt::Deadline(_))) { " Raise timeouts.update if the rollout needs more time." } else { "" }
    )]
    RolloutHalted { live: String, halt: Option<Halt>, cause: Option<String> },
}

/// How the message of a rollout that ended early begins.
fn rollout_halt(halt: &Option<Halt>, cause: Option<&str>) -> String {
    let cause = cause.map_or_else(String::new, |c| format!(" ({c})"));
    match halt {
        Some(Halt::Stop) => format!("Terraform asked the provider to stop during the rollout{cause}: "),
        Some(Halt::Deadline(expired)) => format!(
            "The rollout did not finish within {} (timeouts.{}){cause}: ",
            timeouts::format_duration(expired.limit),
            expired.operation.attribute()
        ),
        None => format!("The rollout stopped{cause}: "),
    }
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
    pub fn into_diagnostics(self) -> Diagnostics {
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
            RouteError::GateClosed { at, .. } => {
                let summary = "Traffic not moved: the readiness gate is closed";
                return Diagnostics::error_at(at.clone(), summary, self.to_string());
            }
            RouteError::TimedOut { .. } => return self.diagnostics_for("the weighted records"),
            RouteError::RolledBack { at, .. } => {
                return Diagnostics::error_at(at.clone(), "Rollout rolled back", self.to_string());
            }
            RouteError::RolloutHalted { halt, .. } => {
                let summary = match halt {
                    Some(Halt::Stop) => "Rollout interrupted",
                    Some(Halt::Deadline(_)) => "Rollout timed out",
                    None => "Rollout stopped",
                };
                return Diagnostics::error(summary, self.to_string());
            }
        };
        let detail = match &self {
            RouteError::Route53(e) if e.uncertain() => format!("{self}. {}", ApplyError::UNCERTAIN),
            RouteError::AlreadyExists { id, .. } => format!(
                "{self}. {}\nOr set allow_overwrite = true to take it over as it is.",
                adoption::how_to_import(WEIGHTED_ROUTE_TYPE_NAME, id)
            ),
            RouteError::ForeignMembers { split_id, .. } => {
                format!("{self}.\n\n{}", adoption::how_to_import(TRAFFIC_SPLIT_TYPE_NAME, split_id))
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
    pub fn diagnostics_for(self, object: &str) -> Diagnostics {
        match self {
            RouteError::TimedOut { expired, unfinished } => expired.diagnostics(object, "Route53", &unfinished),
            RouteError::Route53(_) | RouteError::RolledBack { .. } | RouteError::RolloutHalted { .. } => {
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

/// The `alias` block: a weighted alias record instead of `records`.
pub fn alias_block() -> NestedBlock {
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
pub fn member_attributes(block: Block) -> Block {
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

/// Exactly one of `zone_id`/`zone_name`, a valid `name`, inside the zone when the zone is named.
pub fn check_zone_and_name(config: &Value, diags: &mut Diagnostics) {
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
pub fn is_zone_id(id: &str) -> bool {
    let bare = bare_zone_id(id);
    !bare.is_empty() && bare.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Route53 refuses a CNAME at the zone apex, the name of the zone itself.
pub fn check_cname_at_apex(config: &Value, record_type: Option<&str>, diags: &mut Diagnostics) {
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
pub fn check_type(value: &Value, at: AttributePath, diags: &mut Diagnostics) -> Option<String> {
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
pub fn member_has_records(member: &Value) -> Option<bool> {
    match (member.get("records"), member.get("alias")) {
        (Value::Unknown, _) | (_, Value::Unknown) => None,
        (records, _) if !records.is_null() => Some(true),
        (_, alias) if alias.single_block().is_some() => Some(false),
        _ => Some(true),
    }
}

/// `ttl` is required with records and not allowed with an alias.
pub fn check_ttl(ttl: &Value, has_records: Option<bool>, at: AttributePath, diags: &mut Diagnostics) {
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
pub fn check_member(
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

/// Marks the zone attribute the user did not set as unknown (filled in at apply), unless prior
/// state already knows it for the same zone; returns whether the zone changed.
pub fn plan_zone(prior: &Value, planned: &mut Value, config: &Value) -> bool {
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
pub fn name_forces_replacement(prior: &Value, config: &Value) -> bool {
    let Some(before) = prior.get("name").as_str() else { return false };
    match config.get("name") {
        Value::Unknown => true,
        after => after.as_str().is_some_and(|after| !dns_names::same_name(before, after)),
    }
}

/// The zone a configuration or state names, looked up by id or name.
pub async fn resolve_zone(r53: &Route53, v: &Value) -> Result<Zone, RouteError> {
    match (v.get("zone_id").as_str(), v.get("zone_name").as_str()) {
        (Some(id), _) => r53.zone_by_id(id).await.map_err(|source| RouteError::Zone { attribute: "zone_id", source }),
        (None, Some(name)) => {
            r53.zone_by_name(name).await.map_err(|source| RouteError::Zone { attribute: "zone_name", source })
        }
        (None, None) => Err(RouteError::MissingAttribute("zone_id")),
    }
}

/// Fills the zone attributes of `state` from the resolved zone, keeping the user's spelling.
pub fn set_zone(state: &mut Value, zone: &Zone) {
    state.set("zone_id", Value::from(state.get("zone_id").as_str().map_or_else(|| zone.id.clone(), str::to_string)));
    let name = state
        .get("zone_name")
        .as_str()
        .filter(|n| dns_names::same_name(n, &zone.name))
        .map_or_else(|| zone.name.clone(), str::to_string);
    state.set("zone_name", Value::from(name));
}

/// Refuses records outside the zone: Route53 would answer with a less helpful message.
pub fn check_in_zone(name: &str, zone: &Zone) -> Result<(), RouteError> {
    if dns_names::is_within_zone(name, &zone.name) {
        Ok(())
    } else {
        Err(RouteError::OutsideZone { name: name.to_string(), zone: zone.name.clone() })
    }
}

/// A create, update or delete that failed: the error, and the state to record when the write
/// happened or may have happened.
#[derive(Debug)]
pub struct Failure {
    error: RouteError,
    state: Option<Value>,
    /// `state` is the plan, recorded because the write's answer was lost.
    planned: bool,
}

impl Failure {
    /// A failure after writes: `state` is what Route53 holds now.
    pub fn with_state(error: RouteError, state: Value) -> Failure {
        Failure { error, state: Some(state), planned: false }
    }
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
pub enum SendError {
    Unsent(RouteError),
    Unconfirmed(RouteError),
    Uncertain(RouteError),
}

impl SendError {
    /// The failure when the batch writes `state`: unless the batch certainly did not happen the
    /// state is recorded with the error (a create then counts as tainted, and the next refresh
    /// finds out what exists).
    pub fn recording(self, state: Value) -> Failure {
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
pub struct Apply<'a> {
    pub ctx: &'a Context,
    pub deadline: Deadline,
    pub object: String,
}

impl Apply<'_> {
    /// A read before the write, given up at once on the stop or at the deadline: nothing is
    /// written yet, so nothing is lost.
    pub async fn read<T, E>(&self, read: impl Future<Output = Result<T, E>>) -> Result<T, RouteError>
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
    pub async fn send(
        &self,
        r53: &Route53,
        zone_id: &str,
        comment: &str,
        changes: &[Change],
        wait: bool,
    ) -> Result<(), SendError> {
        self.send_batch(r53, zone_id, comment, changes, wait, true).await
    }

    /// [`Apply::send`]; `warn_late: false` for one batch of several, which says nothing when it
    /// finished after the deadline because the caller reports the whole operation's end.
    pub async fn send_batch(
        &self,
        r53: &Route53,
        zone_id: &str,
        comment: &str,
        changes: &[Change],
        wait: bool,
        warn_late: bool,
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
                if warn_late {
                    self.deadline.warn_if_passed(self.ctx, &self.object);
                }
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
    pub fn failed(&self, failure: Failure) -> ApplyError {
        let diagnostics = failure.error.diagnostics_for(&self.object);
        match failure.state {
            Some(planned) if failure.planned => ApplyError::planned_if(true, planned, diagnostics),
            state => ApplyError { diagnostics, state },
        }
    }
}

/// How errors name a weighted record: `weighted record burnham.example.com CNAME green`.
pub fn describe(v: &Value) -> String {
    let part = |name: &str| v.get(name).as_str().unwrap_or("?").to_string();
    format!("weighted record {} {} {}", part("name"), part("type"), part("set_identifier"))
}

/// Warns when every weight of the set is 0 after the change.
pub fn warn_all_zero(ctx: &Context, name: &str, record_type: &str, at: Option<AttributePath>) {
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
