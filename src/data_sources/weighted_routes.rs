//! Data source `gitopsbridge_weighted_routes`: every weighted record of one name, with each
//! member's share of the traffic: the live split at a glance, whichever root or tool wrote it.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::data_sources::provider_setting_unknown;
use crate::protocol::{Attribute, AttributePath, Block, Context, DataSource, Diagnostics, Number, Schema, Type, Value};
use crate::route53::weighted_set;
use crate::route53::{RecordSet, Route53Error, Route53Source};
use crate::tf::route53_records::{RouteError, check_type, check_zone_and_name, resolve_zone, set_zone};
use crate::tf::timeouts::{self, Deadline, Defaults, Operation, Timeout};

/// The read's timeout when the `timeouts` block does not set it.
const TIMEOUTS: Defaults = &[Timeout::new(Operation::Read, std::time::Duration::from_secs(5 * 60))];

// Model

/// One weighted member as the data source shows it.
fn route_value(record: &RecordSet, share: f64) -> Value {
    let alias = record.alias.as_ref().map(|a| {
        Value::object([
            ("name", Value::from(a.name.as_str())),
            ("zone_id", Value::from(a.zone_id.as_str())),
            ("evaluate_target_health", Value::from(a.evaluate_target_health)),
        ])
    });
    Value::object([
        ("set_identifier", Value::from(record.set_identifier.clone())),
        ("type", Value::from(record.record_type.as_str())),
        ("weight", record.weight.map_or(Value::Null, Value::from)),
        ("ttl", record.ttl.map_or(Value::Null, Value::from)),
        ("records", Value::strings(record.values.clone())),
        ("alias", Value::List(alias.into_iter().collect())),
        ("health_check_id", Value::from(record.health_check_id.clone())),
        ("traffic_share", Value::Number(Number::Float(share))),
    ])
}

/// The members of each type with their traffic shares, ordered by type and set identifier.
fn routes_with_shares(members: Vec<RecordSet>) -> Vec<Value> {
    let mut by_type: BTreeMap<String, Vec<RecordSet>> = BTreeMap::new();
    for member in members {
        by_type.entry(member.record_type.clone()).or_default().push(member);
    }
    let mut routes = Vec::new();
    for mut members in by_type.into_values() {
        members.sort_by(|a, b| a.set_identifier.cmp(&b.set_identifier));
        let weights: Vec<i64> = members.iter().map(|m| m.weight.unwrap_or(0)).collect();
        let shares = weighted_set::traffic_shares(&weights);
        routes.extend(members.iter().zip(shares).map(|(m, share)| route_value(m, share)));
    }
    routes
}

// Schema

fn schema() -> Schema {
    let alias = Type::Object(
        [
            ("name".to_string(), Type::String),
            ("zone_id".to_string(), Type::String),
            ("evaluate_target_health".to_string(), Type::Bool),
        ]
        .into(),
    );
    let route = Type::Object(
        [
            ("set_identifier".to_string(), Type::String),
            ("type".to_string(), Type::String),
            ("weight".to_string(), Type::Number),
            ("ttl".to_string(), Type::Number),
            ("records".to_string(), Type::list(Type::String)),
            ("alias".to_string(), Type::list(alias)),
            ("health_check_id".to_string(), Type::String),
            ("traffic_share".to_string(), Type::Number),
        ]
        .into(),
    );
    Schema::new(
        0,
        Block::new("Every weighted record of one name in a hosted zone, with each one's share of the traffic: the live blue/green split.")
            .attribute(Attribute::computed("id", Type::String, "`<zone id>_<name>`, or `<zone id>_<name>_<type>` with `type`."))
            .attribute(Attribute::optional_computed("zone_id", Type::String, "Id of the hosted zone. Exactly one of `zone_id` and `zone_name` must be set."))
            .attribute(Attribute::optional_computed("zone_name", Type::String, "Name of the hosted zone, looked up."))
            .attribute(Attribute::required("name", Type::String, "The record name, e.g. `burnham.example.com`."))
            .attribute(Attribute::optional("type", Type::String, "Only records of this type (`A`, `AAAA`, `CNAME`, `TXT`)."))
            .attribute(Attribute::computed(
                "routes",
                Type::list(route),
                "The weighted records, ordered by type and set identifier: `set_identifier`, `type`, `weight`, `ttl`, \
                 `records`, `alias` (`name`, `zone_id`, `evaluate_target_health`), `health_check_id`, and `traffic_share`, \
                 the percentage of answers it gets among the records of its type (equal shares when every weight is 0).",
            ))
            .block(timeouts::block(TIMEOUTS)),
    )
}

// Validate

fn validate_config(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    check_zone_and_name(config, &mut diags);
    check_type(config.get("type"), AttributePath::root("type"), &mut diags);
    timeouts::validate(config, TIMEOUTS, &mut diags);
    diags
}

// Read

/// The `gitopsbridge_weighted_routes` data source.
pub struct WeightedRoutesDataSource {
    source: Arc<dyn Route53Source>,
}

impl WeightedRoutesDataSource {
    pub fn new(source: Arc<dyn Route53Source>) -> Self {
        WeightedRoutesDataSource { source }
    }

    async fn read_routes(&self, config: &Value) -> Result<Value, RouteError> {
        let r53 = self.source.route53().await?;
        let zone = resolve_zone(&r53, config).await?;
        let name = config.get("name").as_str().ok_or(RouteError::MissingAttribute("name"))?;
        let record_type = config.get("type").as_str();
        let members: Vec<RecordSet> = r53
            .records_named(&zone, name)
            .await?
            .into_iter()
            .map(|r| r.set)
            .filter(|r| r.set_identifier.is_some() && r.weight.is_some())
            .filter(|r| record_type.is_none_or(|t| t == r.record_type))
            .collect();
        let mut state = config.clone();
        set_zone(&mut state, &zone);
        let id = match record_type {
            Some(t) => format!("{}_{name}_{t}", zone.id),
            None => format!("{}_{name}", zone.id),
        };
        state.set("id", Value::from(id));
        state.set("routes", Value::List(routes_with_shares(members)));
        Ok(state)
    }
}

#[async_trait]
impl DataSource for WeightedRoutesDataSource {
    fn type_name(&self) -> &'static str {
        "gitopsbridge_weighted_routes"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    async fn validate(&self, _ctx: &Context, config: &Value) -> Result<(), Diagnostics> {
        validate_config(config).into_result()
    }

    async fn read(&self, _ctx: &Context, config: &Value) -> Result<Value, Diagnostics> {
        validate_config(config).into_result()?;
        let deadline = Deadline::start(config, TIMEOUTS, Operation::Read);
        let object = format!("weighted records of {}", config.get("name").as_str().unwrap_or("?"));
        deadline.run(self.read_routes(config)).await.map_err(|e| match e {
            RouteError::Route53(Route53Error::UnknownConfig) => provider_setting_unknown("route53"),
            e => e.diagnostics_for(&object),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(ty: &str, id: &str, weight: i64) -> RecordSet {
        RecordSet {
            name: "burnham.example.com.".into(),
            record_type: ty.into(),
            set_identifier: Some(id.into()),
            weight: Some(weight),
            ttl: Some(60),
            values: vec![format!("{id}.example.net")],
            alias: None,
            health_check_id: None,
        }
    }

    #[test]
    fn shares_are_computed_per_type_in_set_identifier_order() {
        let routes = routes_with_shares(vec![
            member("CNAME", "green", 0),
            member("CNAME", "blue", 100),
            member("TXT", "a", 0),
            member("TXT", "b", 0),
        ]);
        let summary: Vec<(String, String, f64)> = routes
            .iter()
            .map(|r| {
                let share = match r.get("traffic_share") {
                    Value::Number(Number::Float(f)) => *f,
                    other => panic!("share {other:?}"),
                };
                (
                    r.get("type").as_str().unwrap().to_string(),
                    r.get("set_identifier").as_str().unwrap().to_string(),
                    share,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("CNAME".into(), "blue".into(), 100.0),
                ("CNAME".into(), "green".into(), 0.0),
                ("TXT".into(), "a".into(), 50.0),
                ("TXT".into(), "b".into(), 50.0),
            ]
        );
    }

    struct UnknownSettings;

    #[async_trait]
    impl Route53Source for UnknownSettings {
        async fn route53(&self) -> Result<crate::route53::Route53, Route53Error> {
            Err(Route53Error::UnknownConfig)
        }
    }

    #[tokio::test]
    async fn unknown_route53_settings_say_how_to_read_during_apply() {
        let source = WeightedRoutesDataSource::new(Arc::new(UnknownSettings));
        let config = Value::object([
            ("zone_id", Value::Null),
            ("zone_name", Value::from("example.com")),
            ("name", Value::from("burnham.example.com")),
            ("type", Value::Null),
        ]);
        let diags = source.read(&Context::default(), &config).await.expect_err("nothing to read with");
        assert_eq!(diags.0[0].summary, "Provider configuration not known yet");
        assert!(diags.0[0].detail.contains("`route53`") && diags.0[0].detail.contains("depends_on"), "{diags}");
    }

    #[test]
    fn configuration_errors_point_at_their_attribute() {
        let config = Value::object([
            ("zone_id", Value::from("Z1")),
            ("name", Value::from("x..example.com")),
            ("type", Value::from("MX")),
        ]);
        let paths: Vec<String> =
            validate_config(&config).0.iter().filter_map(|d| d.attribute.as_ref().map(ToString::to_string)).collect();
        assert_eq!(paths, vec!["name", "type"]);
    }
}
