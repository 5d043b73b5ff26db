//! Route53's records as the provider sees them: zones, record sets (alias or values, weighted
//! or not), the records Route53 holds now, and the changes sent to it.

use aws_sdk_route53::types::{
    AliasTarget, Change as SdkChange, ChangeAction, ResourceRecord, ResourceRecordSet, RrType,
};

use super::dns_names;
use super::error::Route53Error;

/// A hosted zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    /// The bare id, without `/hostedzone/`.
    pub id: String,
    /// Normalized: lowercase, no trailing dot.
    pub name: String,
    pub private: bool,
    pub record_count: Option<i64>,
}

/// The alias target of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    pub name: String,
    pub zone_id: String,
    pub evaluate_target_health: bool,
}

/// A record set in our terms. TXT values are plain text here; quoting happens at the edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordSet {
    pub name: String,
    pub record_type: String,
    pub set_identifier: Option<String>,
    pub weight: Option<i64>,
    pub ttl: Option<i64>,
    pub values: Vec<String>,
    pub alias: Option<Alias>,
    pub health_check_id: Option<String>,
}

impl RecordSet {
    /// The Route53 request shape of this record.
    ///
    /// # Errors
    /// [`Route53Error::Request`] for a type Route53 does not know.
    pub fn to_sdk(&self) -> Result<ResourceRecordSet, Route53Error> {
        let request = |e: aws_sdk_route53::error::BuildError| Route53Error::Request(e.to_string());
        let record_type = RrType::try_parse(&self.record_type)
            .map_err(|_| Route53Error::Request(format!("unknown record type {}", self.record_type)))?;
        // Route53 stores names in lowercase; sending them so keeps emulators' ordering right too.
        let mut builder = ResourceRecordSet::builder()
            .name(self.name.to_ascii_lowercase())
            .r#type(record_type)
            .set_set_identifier(self.set_identifier.clone())
            .set_weight(self.weight)
            .set_ttl(self.ttl)
            .set_health_check_id(self.health_check_id.clone());
        for value in &self.values {
            let value = if self.record_type == "TXT" { dns_names::quote_txt(value) } else { value.clone() };
            builder = builder.resource_records(ResourceRecord::builder().value(value).build().map_err(request)?);
        }
        if let Some(alias) = &self.alias {
            builder = builder.alias_target(
                AliasTarget::builder()
                    .dns_name(&alias.name)
                    .hosted_zone_id(&alias.zone_id)
                    .evaluate_target_health(alias.evaluate_target_health)
                    .build()
                    .map_err(request)?,
            );
        }
        builder.build().map_err(request)
    }

    pub(super) fn from_sdk(raw: &ResourceRecordSet) -> RecordSet {
        let record_type = raw.r#type().as_str().to_string();
        let values = raw
            .resource_records()
            .iter()
            .map(|r| if record_type == "TXT" { dns_names::unquote_txt(r.value()) } else { r.value().to_string() })
            .collect();
        RecordSet {
            name: raw.name().to_string(),
            set_identifier: raw.set_identifier().map(str::to_string),
            weight: raw.weight(),
            // Alias records have no TTL of their own; emulators report 0.
            ttl: raw.ttl().filter(|_| raw.alias_target().is_none()),
            values,
            alias: raw.alias_target().map(|a| Alias {
                name: a.dns_name().to_string(),
                zone_id: a.hosted_zone_id().to_string(),
                evaluate_target_health: a.evaluate_target_health(),
            }),
            health_check_id: raw.health_check_id().map(str::to_string),
            record_type,
        }
    }

    /// True when this is the record `(name, type, set identifier)` names.
    pub fn is(&self, name: &str, record_type: &str, set_identifier: Option<&str>) -> bool {
        dns_names::same_name(&self.name, name)
            && self.record_type == record_type
            && self.set_identifier.as_deref() == set_identifier
    }
}

/// A record as Route53 returned it: our view plus the exact shape a DELETE must repeat.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveRecord {
    pub set: RecordSet,
    pub(super) raw: ResourceRecordSet,
}

impl LiveRecord {
    pub(super) fn new(raw: ResourceRecordSet) -> Self {
        LiveRecord { set: RecordSet::from_sdk(&raw), raw }
    }

    /// A live record as if Route53 had returned `set`, for tests of code that reads records.
    #[doc(hidden)]
    pub fn for_tests(set: RecordSet) -> Self {
        let raw = set.to_sdk().expect("a test record must be expressible as a Route53 record set");
        LiveRecord { set, raw }
    }
}

/// One change of a batch.
#[derive(Clone, Debug)]
pub enum Change {
    Create(RecordSet),
    Upsert(RecordSet),
    /// Deletes the record exactly as it was read: Route53 refuses a DELETE whose values differ.
    Delete(Box<LiveRecord>),
}

impl Change {
    pub(super) fn to_sdk(&self) -> Result<SdkChange, Route53Error> {
        let (action, record) = match self {
            Change::Create(r) => (ChangeAction::Create, r.to_sdk()?),
            Change::Upsert(r) => (ChangeAction::Upsert, r.to_sdk()?),
            Change::Delete(live) => (ChangeAction::Delete, live.raw.clone()),
        };
        SdkChange::builder()
            .action(action)
            .resource_record_set(record)
            .build()
            .map_err(|e| Route53Error::Request(e.to_string()))
    }
}

/// The bare zone id: users paste both `Z123` and `/hostedzone/Z123`.
pub fn bare_zone_id(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}
