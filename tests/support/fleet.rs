//! Many resources at once: counted cluster_metadata and weighted_route blocks on one hub and one
//! zone, and what state, the hub and Route53 hold of them, for tests that compare the three.

use std::collections::{BTreeMap, BTreeSet};

use super::Workspace;
use super::hub::Hub;
use super::moto;

pub const CLUSTER: &str = "gitopsbridge_cluster_metadata";
pub const ROUTE: &str = "gitopsbridge_weighted_route";

/// `main.tf` with a provider reaching `hub` and Route53 at `route53_endpoint`, then `body`.
pub fn config(hub: &Hub, route53_endpoint: &str, body: &str) -> String {
    format!(
        "{}\nprovider \"gitopsbridge\" {{\n  hub {{\n    config_path = \"{}\"\n  }}\n  route53 {{\n    endpoint = \"{route53_endpoint}\"\n  }}\n}}\n\n{body}",
        super::required_providers(),
        hub.kubeconfig().display()
    )
}

/// A working directory for [`config`] with moto's credentials.
pub fn workspace(hub: &Hub, route53_endpoint: &str, body: &str) -> Workspace {
    moto::aws_workspace(&config(hub, route53_endpoint, body))
}

/// `count` cluster Secrets `spoke-<i>`.
pub fn spokes(count: usize) -> String {
    spokes_with(count, "")
}

/// [`spokes`] with more lines in the resource block (`depends_on`, …).
pub fn spokes_with(count: usize, extra: &str) -> String {
    format!(
        r#"resource "{CLUSTER}" "spoke" {{
  count        = {count}
  cluster_name = "spoke-${{count.index}}"
  environment  = "prod"
  server       = "https://spoke-${{count.index}}.example.internal"
{extra}}}
"#
    )
}

/// `count` weighted records `svc-<i>.example.com`, set identifier `blue-<i>`. The identifiers
/// differ because moto deletes every record of a zone with the set identifier a DELETE names.
pub fn routes(count: usize) -> String {
    format!(
        r#"resource "{ROUTE}" "svc" {{
  count          = {count}
  zone_name      = "example.com"
  name           = "svc-${{count.index}}.example.com"
  type           = "CNAME"
  set_identifier = "blue-${{count.index}}"
  weight         = 100
  ttl            = 60
  records        = ["blue-${{count.index}}.elb.example.net"]
}}
"#
    )
}

/// The `id`s of every resource of `type_name` in state, by address.
pub fn state_ids(ws: &Workspace, type_name: &str) -> BTreeMap<String, String> {
    let state = ws.state();
    let resources = state["values"]["root_module"]["resources"].as_array().cloned().unwrap_or_default();
    resources
        .iter()
        .filter(|r| r["type"] == type_name)
        .map(|r| {
            (
                r["address"].as_str().unwrap_or_default().to_string(),
                r["values"]["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Values of a map, as a set (a duplicate shows as a smaller set).
pub fn values(map: &BTreeMap<String, String>) -> BTreeSet<String> {
    map.values().cloned().collect()
}

/// Import ids (`argocd/<name>`) of the cluster Secrets on the hub.
pub fn hub_ids(hub: &Hub) -> BTreeSet<String> {
    hub.cluster_secrets("argocd")
        .iter()
        .map(|s| format!("argocd/{}", s["metadata"]["name"].as_str().unwrap_or_default()))
        .collect()
}

/// Import ids of the weighted records in the zone.
pub fn route53_ids(endpoint: &str, zone_id: &str) -> BTreeSet<String> {
    moto::records(endpoint, zone_id)
        .into_iter()
        .filter_map(|r| {
            let set = r.set_identifier?;
            Some(format!("{zone_id}_{}_{}_{set}", r.name.trim_end_matches('.'), r.record_type))
        })
        .collect()
}

/// How often each Secret was written (PATCH) by anyone, from the hub's request log.
pub fn secret_writes(hub: &Hub) -> BTreeMap<String, u64> {
    let mut writes = BTreeMap::new();
    for request in hub.server().requests().log {
        if request.verb == "patch" && request.resource == "secrets" {
            *writes.entry(request.name.unwrap_or_default()).or_default() += 1;
        }
    }
    writes
}

/// Sets the weight of one CNAME member out of band, as someone with the console would.
pub fn set_weight(endpoint: &str, zone_id: &str, name: &str, set_identifier: &str, weight: i64, value: &str) {
    let record = moto::record_set(name, "CNAME", Some(set_identifier), Some(weight), 60, &[value]);
    let change = aws_sdk_route53::types::Change::builder()
        .action(aws_sdk_route53::types::ChangeAction::Upsert)
        .resource_record_set(record)
        .build()
        .expect("change");
    let batch = aws_sdk_route53::types::ChangeBatch::builder().changes(change).build().expect("batch");
    let client = moto::sdk_client(endpoint, 1);
    moto::block_on(client.change_resource_record_sets().hosted_zone_id(zone_id).change_batch(batch).send())
        .expect("upsert record");
}
