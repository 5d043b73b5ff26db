//! Fresh listings for writes, shared by the writes that wait at the same time.
//!
//! A write decides on the records Route53 has now (does the record exist, who owns it, which TTL
//! the set uses), so it cannot use the refresh listing. When Terraform applies many records of a
//! zone at once, each write used to list its own names. Now one listing per zone runs at a time
//! (group commit): the names asked for while it runs are collected and served by the next one,
//! which starts after every one of them was asked for, so no write sees records older than its
//! own request. The next listing reads the whole zone when that takes fewer requests than listing
//! each name, else it lists the names one by one.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use tokio::sync::oneshot;

use super::{FULL_LISTING_MAX_RECORDS, LiveRecord, Route53, Route53Error, bare_zone_id};
use crate::route53::dns_names;

/// Records per page of a whole-zone listing (Route53's maximum and default).
const ZONE_PAGE_ITEMS: u64 = 300;

type Reply = oneshot::Sender<Result<Vec<LiveRecord>, Route53Error>>;

#[derive(Default)]
struct ZoneWaiters {
    /// Names asked for since the running listing started, each with who asked.
    waiting: Vec<(String, Reply)>,
    listing: bool,
}

/// The zones with writers waiting for a fresh listing.
#[derive(Default)]
pub struct LiveListings {
    zones: Mutex<HashMap<String, ZoneWaiters>>,
}

impl Route53 {
    /// Every record of `name` as Route53 has it now, bypassing the refresh cache: what writes
    /// decide on. Listed after this call began, possibly together with other writes' names.
    ///
    /// # Errors
    /// Listing failures.
    pub async fn live_records_named(&self, zone_id: &str, name: &str) -> Result<Vec<LiveRecord>, Route53Error> {
        let zone_id = bare_zone_id(zone_id).to_string();
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut zones = self.inner.live.zones.lock().unwrap_or_else(|e| e.into_inner());
            let zone = zones.entry(zone_id.clone()).or_default();
            zone.waiting.push((dns_names::normalize(name), reply));
            !std::mem::replace(&mut zone.listing, true)
        };
        if start {
            // Its own task: a write that stops waiting must not strand the others.
            tokio::spawn(self.clone().serve_live_listings(zone_id));
        }
        answer.await.unwrap_or_else(|_| Err(Route53Error::Request("the listing was abandoned".into())))
    }

    async fn serve_live_listings(self, zone_id: String) {
        loop {
            let waiting = {
                let mut zones = self.inner.live.zones.lock().unwrap_or_else(|e| e.into_inner());
                let Some(zone) = zones.get_mut(&zone_id) else { return };
                if zone.waiting.is_empty() {
                    zones.remove(&zone_id);
                    return;
                }
                std::mem::take(&mut zone.waiting)
            };
            let names: BTreeSet<&str> = waiting.iter().map(|(name, _)| name.as_str()).collect();
            let listed = self.list_names(&zone_id, &names).await;
            for (name, reply) in waiting {
                let records = listed.as_ref().map_err(Clone::clone).map(|records| {
                    records.iter().filter(|r| dns_names::same_name(&r.set.name, &name)).cloned().collect()
                });
                let _ = reply.send(records);
            }
        }
    }

    /// The records of `names`: one whole-zone listing when that takes fewer pages than one
    /// listing per name, else a listing per name.
    async fn list_names(&self, zone_id: &str, names: &BTreeSet<&str>) -> Result<Vec<LiveRecord>, Route53Error> {
        if names.len() > 1 {
            let record_count = self.zone_by_id(zone_id).await.ok().and_then(|zone| zone.record_count);
            if let Some(count) = record_count.filter(|n| *n <= FULL_LISTING_MAX_RECORDS) {
                let pages =
                    usize::try_from(count.max(1).unsigned_abs().div_ceil(ZONE_PAGE_ITEMS)).unwrap_or(usize::MAX);
                if pages < names.len() {
                    crate::tf_debug!("route53: listing the zone for writes", names = names.len(), pages = pages);
                    return self.list(zone_id, None).await;
                }
            }
        }
        let mut records = Vec::new();
        for name in names {
            records.extend(self.list(zone_id, Some(name)).await?);
        }
        Ok(records)
    }
}
