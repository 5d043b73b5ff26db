//! The rules of a Route53 weighted set (the records of one name and type, told apart by their
//! set identifiers), checked on our side before a change is sent.
//!
//! Route53 enforces some of these only at apply with a terse message, and emulators not at all;
//! others (all weights 0, external-dns ownership) are not errors to Route53 but surprise users.

use super::dns_names;
use super::records::{Change, LiveRecord, RecordSet, bare_zone_id};

/// The members of the weighted set `(name, record_type)` among `records` (which may hold other
/// names and types), skipping the set identifiers in `except`.
pub fn members<'a>(
    records: &'a [LiveRecord],
    name: &'a str,
    record_type: &'a str,
    except: &'a [&'a str],
) -> impl Iterator<Item = &'a RecordSet> + 'a {
    records.iter().map(|r| &r.set).filter(move |r| {
        dns_names::same_name(&r.name, name)
            && r.record_type == record_type
            && r.set_identifier.as_deref().is_some_and(|id| !except.contains(&id))
    })
}

/// Other members whose TTL differs from `ttl`, as `(set identifier, ttl)`. Route53 requires one
/// TTL across a weighted set; alias members have none and never conflict.
pub fn ttl_conflicts<'a>(others: impl Iterator<Item = &'a RecordSet>, ttl: Option<i64>) -> Vec<(String, i64)> {
    let Some(ttl) = ttl else { return Vec::new() };
    others
        .filter_map(|r| r.ttl.filter(|t| *t != ttl).map(|t| (r.set_identifier.clone().unwrap_or_default(), t)))
        .collect()
}

/// True when, after the change, every member of the set weighs 0: Route53 then splits traffic
/// equally, which is not the "off" a user who writes 0 usually means.
pub fn all_weights_zero<'a>(others: impl Iterator<Item = &'a RecordSet>, new_weights: &[i64]) -> bool {
    let mut others = others.peekable();
    let any = others.peek().is_some() || !new_weights.is_empty();
    any && new_weights.iter().all(|w| *w == 0) && others.all(|r| r.weight.unwrap_or(0) == 0)
}

/// The names where external-dns keeps its ownership TXT record for `name`: the name itself
/// (its old format) and the name with `<type>-` before the first label (since v0.12).
pub fn ownership_txt_names(name: &str, record_type: &str) -> [String; 2] {
    let bare = dns_names::normalize(name);
    [bare.clone(), format!("{}-{bare}", record_type.to_ascii_lowercase())]
}

/// The external-dns owner of record `(name, record_type, set_identifier)`, if a
/// `heritage=external-dns` TXT record among `records` claims it. A claim with a set identifier
/// covers only that member; one without covers the whole name.
pub fn external_dns_owner(
    records: &[LiveRecord],
    name: &str,
    record_type: &str,
    set_identifier: &str,
) -> Option<String> {
    let names = ownership_txt_names(name, record_type);
    records
        .iter()
        .map(|r| &r.set)
        .filter(|r| r.record_type == "TXT" && names.iter().any(|n| dns_names::same_name(&r.name, n)))
        .filter(|r| r.set_identifier.as_deref().is_none_or(|id| id == set_identifier))
        .find_map(|r| {
            r.values.iter().find(|v| v.contains("heritage=external-dns")).map(|v| {
                let owner = v.split(',').find_map(|kv| kv.strip_prefix("external-dns/owner=")).unwrap_or("unknown");
                format!("TXT record {} (owner {owner})", dns_names::normalize(&r.name))
            })
        })
}

/// True when two lists of values of a record are the same records, spelled perhaps differently.
pub fn same_values(record_type: &str, a: &[String], b: &[String]) -> bool {
    let canonical = |v: &String| match record_type {
        "CNAME" => dns_names::normalize(v),
        "A" | "AAAA" => v.parse::<std::net::IpAddr>().map_or_else(|_| v.clone(), |ip| ip.to_string()),
        _ => v.clone(),
    };
    let mut a: Vec<String> = a.iter().map(canonical).collect();
    let mut b: Vec<String> = b.iter().map(canonical).collect();
    a.sort();
    b.sort();
    a == b
}

/// True when a planned record and a live one are the same record, spelled perhaps differently:
/// nothing to send.
pub fn same_record(planned: &RecordSet, live: &RecordSet) -> bool {
    let same_alias = match (&planned.alias, &live.alias) {
        (Some(a), Some(b)) => {
            dns_names::same_name(&a.name, &b.name)
                && bare_zone_id(&a.zone_id) == bare_zone_id(&b.zone_id)
                && a.evaluate_target_health == b.evaluate_target_health
        }
        (None, None) => true,
        _ => false,
    };
    planned.is(&live.name, &live.record_type, live.set_identifier.as_deref())
        && planned.weight == live.weight
        && planned.ttl == live.ttl
        && planned.health_check_id == live.health_check_id
        && same_values(&planned.record_type, &planned.values, &live.values)
        && same_alias
}

/// The changes that turn the live weighted members of `name` `record_type` into `members`:
/// members not wanted go exactly as read, new ones are created, changed ones upserted,
/// unchanged ones left alone.
pub fn changes_to(name: &str, record_type: &str, members: &[RecordSet], live: &[LiveRecord]) -> Vec<Change> {
    let live_members: Vec<&LiveRecord> = live
        .iter()
        .filter(|l| {
            dns_names::same_name(&l.set.name, name)
                && l.set.record_type == record_type
                && l.set.set_identifier.is_some()
        })
        .collect();
    let wanted: Vec<&str> = members.iter().filter_map(|m| m.set_identifier.as_deref()).collect();
    let mut changes: Vec<Change> = live_members
        .iter()
        .filter(|l| l.set.set_identifier.as_deref().is_some_and(|id| !wanted.contains(&id)))
        .map(|l| Change::Delete(Box::new((*l).clone())))
        .collect();
    for member in members {
        let current = live_members.iter().find(|l| l.set.set_identifier == member.set_identifier);
        match current {
            Some(l) if same_record(member, &l.set) => {}
            Some(_) => changes.push(Change::Upsert(member.clone())),
            None => changes.push(Change::Create(member.clone())),
        }
    }
    changes
}

/// Each weight's share of the traffic in percent, rounded to two decimals. All zero means an
/// equal split, as Route53 does it.
pub fn traffic_shares(weights: &[i64]) -> Vec<f64> {
    let total: i64 = weights.iter().sum();
    let round = |x: f64| (x * 100.0).round() / 100.0;
    if total == 0 {
        let equal = if weights.is_empty() { 0.0 } else { 100.0 / weights.len() as f64 };
        return weights.iter().map(|_| round(equal)).collect();
    }
    weights.iter().map(|w| round(*w as f64 * 100.0 / total as f64)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, ty: &str, id: Option<&str>, weight: i64, ttl: Option<i64>, values: &[&str]) -> RecordSet {
        RecordSet {
            name: name.into(),
            record_type: ty.into(),
            set_identifier: id.map(Into::into),
            weight: id.map(|_| weight),
            ttl,
            values: values.iter().map(|v| v.to_string()).collect(),
            alias: None,
            health_check_id: None,
        }
    }

    #[test]
    fn shares() {
        let cases: Vec<(Vec<i64>, Vec<f64>)> = vec![
            (vec![100, 0], vec![100.0, 0.0]),
            (vec![0, 0], vec![50.0, 50.0]),
            (vec![1, 1, 1], vec![33.33, 33.33, 33.33]),
            (vec![0, 0, 0], vec![33.33, 33.33, 33.33]),
            (vec![255, 85], vec![75.0, 25.0]),
            (vec![], vec![]),
        ];
        for (weights, want) in cases {
            assert_eq!(traffic_shares(&weights), want, "{weights:?}");
        }
    }

    #[test]
    fn ttl_conflicts_name_the_members() {
        let others = [
            record("x.example.com.", "CNAME", Some("blue"), 100, Some(300), &["b"]),
            record("x.example.com.", "CNAME", Some("teal"), 100, Some(60), &["t"]),
        ];
        assert_eq!(ttl_conflicts(others.iter(), Some(60)), vec![("blue".to_string(), 300)]);
        assert!(ttl_conflicts(others.iter(), None).is_empty());
    }

    #[test]
    fn all_zero_weights() {
        let blue0 = [record("x", "CNAME", Some("blue"), 0, Some(60), &["b"])];
        let blue100 = [record("x", "CNAME", Some("blue"), 100, Some(60), &["b"])];
        assert!(all_weights_zero(blue0.iter(), &[0]));
        assert!(!all_weights_zero(blue100.iter(), &[0]));
        assert!(!all_weights_zero(blue0.iter(), &[1]));
        assert!(all_weights_zero([].iter(), &[0, 0]));
        assert!(!all_weights_zero([].iter(), &[]));
    }

    #[test]
    fn external_dns_claims() {
        let live = |sets: Vec<RecordSet>| -> Vec<LiveRecord> { sets.into_iter().map(LiveRecord::for_tests).collect() };
        let claim = "heritage=external-dns,external-dns/owner=eks-blue,external-dns/resource=ingress/app/web";
        let cases = vec![
            (vec![record("cname-x.example.com.", "TXT", None, 0, Some(300), &[claim])], "green", true),
            (vec![record("x.example.com.", "TXT", Some("green"), 1, Some(300), &[claim])], "green", true),
            (vec![record("x.example.com.", "TXT", Some("blue"), 1, Some(300), &[claim])], "green", false),
            (vec![record("x.example.com.", "TXT", None, 0, Some(300), &["v=spf1 -all"])], "green", false),
            (vec![record("a-x.example.com.", "TXT", None, 0, Some(300), &[claim])], "green", false),
        ];
        for (records, id, owned) in cases {
            let owner = external_dns_owner(&live(records.clone()), "X.example.com", "CNAME", id);
            assert_eq!(owner.is_some(), owned, "{records:?}");
            if let Some(owner) = owner {
                assert!(owner.contains("eks-blue"), "{owner}");
            }
        }
    }

    #[test]
    fn members_skip_other_names_types_and_the_excepted() {
        let records: Vec<LiveRecord> = [
            record("x.example.com.", "CNAME", Some("blue"), 1, Some(60), &["b"]),
            record("x.example.com.", "CNAME", Some("green"), 1, Some(60), &["g"]),
            record("x.example.com.", "TXT", Some("blue"), 1, Some(60), &["t"]),
            record("y.example.com.", "CNAME", Some("blue"), 1, Some(60), &["y"]),
            record("x.example.com.", "CNAME", None, 0, Some(60), &["plain"]),
        ]
        .into_iter()
        .map(LiveRecord::for_tests)
        .collect();
        let ids: Vec<_> =
            members(&records, "X.example.com", "CNAME", &["green"]).filter_map(|r| r.set_identifier.clone()).collect();
        assert_eq!(ids, vec!["blue".to_string()]);
    }
}
