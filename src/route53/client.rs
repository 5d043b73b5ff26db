//! The Route53 client: zone lookup, record listing with a per-process cache, change batches and
//! the wait for INSYNC.
//!
//! Built on `aws-sdk-route53` with `aws-config`, so credentials come from the usual AWS chain
//! (environment, shared profile, SSO, process, IMDS). Route53 allows five requests a second per
//! account and answers `Throttling` or `PriorRequestNotComplete` beyond that; the SDK classifies
//! both as throttling, and we give it more attempts than its default three.
//!
//! Refresh coalescing: Terraform reads every resource of a plan in one provider process, ten at a
//! time. Reads of one zone share a single paginated listing of that zone ([`Route53::records_named`]),
//! so refreshing 200 records of a zone costs one `ListResourceRecordSets` page per 300 records
//! instead of one call per record. Our own writes drop the zone's listing; writes themselves
//! always look at the live records ([`Route53::live_records_named`]), listed for the writes that
//! wait at the same time together (`live`).
//!
//! Change batches give way to StopProvider and to the operation's deadline without ever
//! abandoning an attempt on its way ([`Route53::change_within`]); an attempt whose answer was lost
//! makes the outcome uncertain unless a retry finds the batch in place.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_route53::config::interceptors::{BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef};
use aws_sdk_route53::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_route53::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsError;
use aws_sdk_route53::types::{ChangeBatch, ChangeStatus, RrType};
use tokio::sync::{OnceCell, watch};
use tokio::time::Instant;

use super::dns_names;
use super::error::Route53Error;
use super::health::Observation;
use super::records::{Change, LiveRecord, Zone, bare_zone_id};
use super::weighted_set;
use crate::halt::{Deadline, Halt, Stop};
use crate::unanswered;

mod live;

/// Attempts per call when the provider block does not say (the SDK's default is 3).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// Zones with more records than this are not listed whole: a lone read there would cost more
/// pages than it saves, so reads fall back to one listing per record name.
const FULL_LISTING_MAX_RECORDS: i64 = 3000;
/// Page size when listing one name: a name rarely has more records, and pages of the default
/// 300 would carry hundreds of other names' records on every write.
const NAME_PAGE_ITEMS: i32 = 100;
/// Spacing of `GetChange` polls across the whole process: at most four a second, leaving room
/// under Route53's five for the writes themselves.
const POLL_SPACING: Duration = Duration::from_millis(250);

/// The provider's `route53` block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Route53Settings {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// For emulators such as moto: `http://127.0.0.1:5055`.
    pub endpoint: Option<String>,
    pub max_attempts: Option<u32>,
}

/// Where resources get the process's Route53 client: the provider builds it on first use.
#[async_trait::async_trait]
pub trait Route53Source: Send + Sync + 'static {
    /// The shared client.
    ///
    /// # Errors
    /// [`Route53Error::UnknownConfig`] while the provider's settings are unknown.
    async fn route53(&self) -> Result<Route53, Route53Error>;
}

#[async_trait::async_trait]
impl Route53Source for Route53 {
    async fn route53(&self) -> Result<Route53, Route53Error> {
        Ok(self.clone())
    }
}

/// How many API operations this client has started, per kind (retries inside one operation
/// count once). Tests read them to prove that refreshes are coalesced.
#[derive(Debug, Default)]
pub struct CallCounts {
    pub list_record_sets: AtomicU64,
    pub change_record_sets: AtomicU64,
    pub get_change: AtomicU64,
    pub zone_lookups: AtomicU64,
}

impl CallCounts {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn list_record_sets(&self) -> u64 {
        self.list_record_sets.load(Ordering::Relaxed)
    }
}

type Listing = Arc<OnceCell<Arc<Vec<LiveRecord>>>>;

/// The records of one zone as far as this process has listed them.
#[derive(Default)]
struct ZoneListings {
    whole: Listing,
    by_name: Mutex<HashMap<String, Listing>>,
}

struct Inner {
    sdk: aws_sdk_route53::Client,
    max_attempts: u32,
    zones_by_id: Mutex<HashMap<String, Arc<OnceCell<Zone>>>>,
    zones_by_name: Mutex<HashMap<String, Arc<OnceCell<Zone>>>>,
    listings: Mutex<HashMap<String, Arc<ZoneListings>>>,
    next_poll: tokio::sync::Mutex<Instant>,
    calls: CallCounts,
    live: live::LiveListings,
}

/// A Route53 client shared by every resource of one provider process. Cheap to clone.
#[derive(Clone)]
pub struct Route53 {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Route53 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route53").field("max_attempts", &self.inner.max_attempts).finish_non_exhaustive()
    }
}

impl Route53 {
    /// Builds a client from the provider's settings and the AWS environment. Makes no request.
    pub async fn connect(settings: &Route53Settings) -> Route53 {
        let max_attempts = settings.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1);
        // Route53 is global: the region only picks the partition and signing scope, so a
        // machine without a configured region still works. The instance metadata service is not
        // asked: off EC2 that costs a timeout in every provider process.
        let mut profile_region = aws_config::profile::ProfileFileRegionProvider::builder();
        if let Some(profile) = &settings.profile {
            profile_region = profile_region.profile_name(profile);
        }
        let region = RegionProviderChain::first_try(settings.region.clone().map(Region::new))
            .or_else(aws_config::environment::EnvironmentVariableRegionProvider::new())
            .or_else(profile_region.build())
            .or_else(Region::new("us-east-1"));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .retry_config(RetryConfig::standard().with_max_attempts(max_attempts))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        Route53::from_client(aws_sdk_route53::Client::new(&loader.load().await), max_attempts)
    }

    /// Wraps an SDK client configured elsewhere (tests give one with static credentials).
    /// `max_attempts` only words error messages; retries are the client's own configuration.
    pub fn from_client(sdk: aws_sdk_route53::Client, max_attempts: u32) -> Route53 {
        Route53 {
            inner: Arc::new(Inner {
                sdk,
                max_attempts,
                zones_by_id: Mutex::default(),
                zones_by_name: Mutex::default(),
                listings: Mutex::default(),
                next_poll: tokio::sync::Mutex::new(Instant::now()),
                calls: CallCounts::default(),
                live: live::LiveListings::default(),
            }),
        }
    }

    /// Operations started so far.
    pub fn calls(&self) -> &CallCounts {
        &self.inner.calls
    }

    fn sdk_error<E>(&self, operation: &'static str, err: SdkError<E>) -> Route53Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        Route53Error::from_sdk(operation, self.inner.max_attempts, err)
    }

    /// The latest observation of each of a health check's checkers: one `GetHealthCheckStatus`
    /// (an API meant for low rates: call it once per decision, never in a loop).
    ///
    /// # Errors
    /// The call's.
    pub async fn health_check_status(&self, id: &str) -> Result<Vec<Observation>, Route53Error> {
        let out = self
            .inner
            .sdk
            .get_health_check_status()
            .health_check_id(id)
            .send()
            .await
            .map_err(|e| self.sdk_error("GetHealthCheckStatus", e))?;
        Ok(out
            .health_check_observations()
            .iter()
            .map(|o| Observation {
                region: o
                    .region()
                    .map_or_else(|| o.ip_address().unwrap_or("?").to_string(), |r| r.as_str().to_string()),
                status: o.status_report().and_then(|r| r.status()).unwrap_or_default().to_string(),
            })
            .collect())
    }

    /// The zone with this id (cached for the life of the process).
    ///
    /// # Errors
    /// [`Route53Error::ZoneNotFound`] when there is none.
    pub async fn zone_by_id(&self, id: &str) -> Result<Zone, Route53Error> {
        let id = bare_zone_id(id).to_string();
        let cell = cached_cell(&self.inner.zones_by_id, &id);
        cell.get_or_try_init(|| async {
            CallCounts::bump(&self.inner.calls.zone_lookups);
            let out = self.inner.sdk.get_hosted_zone().id(&id).send().await.map_err(|e| match e.code() {
                Some("NoSuchHostedZone") => Route53Error::ZoneNotFound(id.clone()),
                _ => self.sdk_error("GetHostedZone", e),
            })?;
            let zone = out.hosted_zone().ok_or_else(|| Route53Error::ZoneNotFound(id.clone()))?;
            Ok(zone_from_sdk(zone))
        })
        .await
        .cloned()
    }

    /// The one zone with exactly this name (cached for the life of the process).
    ///
    /// # Errors
    /// [`Route53Error::ZoneNotFound`] when none has it; [`Route53Error::AmbiguousZone`] when
    /// several do (typically a public and a private zone).
    pub async fn zone_by_name(&self, name: &str) -> Result<Zone, Route53Error> {
        let wanted = dns_names::normalize(name);
        let cell = cached_cell(&self.inner.zones_by_name, &wanted);
        cell.get_or_try_init(|| async {
            let mut matches = Vec::new();
            let mut start: Option<(String, Option<String>)> = Some((format!("{wanted}."), None));
            while let Some((dns_name, zone_id)) = start.take() {
                CallCounts::bump(&self.inner.calls.zone_lookups);
                let out = self
                    .inner
                    .sdk
                    .list_hosted_zones_by_name()
                    .dns_name(dns_name)
                    .set_hosted_zone_id(zone_id)
                    .send()
                    .await
                    .map_err(|e| self.sdk_error("ListHostedZonesByName", e))?;
                let mut past = false;
                for zone in out.hosted_zones() {
                    if dns_names::normalize(zone.name()) == wanted {
                        matches.push(zone_from_sdk(zone));
                    } else {
                        past = true;
                    }
                }
                if out.is_truncated() && !past {
                    start = out.next_dns_name().map(|n| (n.to_string(), out.next_hosted_zone_id().map(str::to_string)));
                }
            }
            match matches.len() {
                0 => Err(Route53Error::ZoneNotFound(wanted.clone())),
                1 => Ok(matches.remove(0)),
                _ => Err(Route53Error::AmbiguousZone {
                    name: wanted.clone(),
                    ids: matches.into_iter().map(|z| z.id).collect(),
                }),
            }
        })
        .await
        .cloned()
    }

    /// Every record of `name` in `zone`, served from this process's listing of the zone when
    /// there is one. This is the read path of refresh and data sources.
    ///
    /// # Errors
    /// Listing failures.
    pub async fn records_named(&self, zone: &Zone, name: &str) -> Result<Vec<LiveRecord>, Route53Error> {
        let listings = self.listings(&zone.id);
        let whole_zone = zone.record_count.is_none_or(|n| n <= FULL_LISTING_MAX_RECORDS);
        let listing = if whole_zone {
            listings.whole.clone()
        } else {
            cached_cell(&listings.by_name, &dns_names::normalize(name))
        };
        let records = listing
            .get_or_try_init(|| async {
                let from = if whole_zone { None } else { Some(name) };
                self.list(&zone.id, from).await.map(Arc::new)
            })
            .await?;
        Ok(records.iter().filter(|r| dns_names::same_name(&r.set.name, name)).cloned().collect())
    }

    fn listings(&self, zone_id: &str) -> Arc<ZoneListings> {
        let mut listings = self.inner.listings.lock().unwrap_or_else(|e| e.into_inner());
        listings.entry(zone_id.to_string()).or_default().clone()
    }

    /// Forgets what this process listed of a zone. A listing in flight finishes into the
    /// detached cell and is never served again.
    fn invalidate(&self, zone_id: &str) {
        self.inner.listings.lock().unwrap_or_else(|e| e.into_inner()).remove(zone_id);
    }

    /// Lists a zone page by page; from `name` on, stopping after the last record of that name,
    /// or the whole zone.
    async fn list(&self, zone_id: &str, from: Option<&str>) -> Result<Vec<LiveRecord>, Route53Error> {
        let mut records: Vec<LiveRecord> = Vec::new();
        let mut pages = 0u32;
        let mut start: Option<(String, Option<RrType>, Option<String>)> =
            from.map(|n| (format!("{}.", dns_names::normalize(n)), None, None));
        loop {
            CallCounts::bump(&self.inner.calls.list_record_sets);
            pages += 1;
            let mut request = self
                .inner
                .sdk
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .set_max_items(from.map(|_| NAME_PAGE_ITEMS));
            if let Some((name, record_type, identifier)) = start.clone() {
                request = request
                    .start_record_name(name)
                    .set_start_record_type(record_type)
                    .set_start_record_identifier(identifier);
            }
            let out = request.send().await.map_err(|e| self.sdk_error("ListResourceRecordSets", e))?;
            let page: Vec<LiveRecord> = out.resource_record_sets().iter().cloned().map(LiveRecord::new).collect();
            let past_name = from.is_some_and(|n| page.iter().any(|r| !dns_names::same_name(&r.set.name, n)));
            for record in page {
                // Emulators without start identifiers repeat records across pages.
                if !records.iter().any(|seen| seen.raw == record.raw) {
                    records.push(record);
                }
            }
            let next = out.next_record_name().map(|name| {
                (name.to_string(), out.next_record_type().cloned(), out.next_record_identifier().map(str::to_string))
            });
            if !out.is_truncated() || past_name || next.is_none() || next == start {
                let scope = if from.is_some() { "one name" } else { "whole zone" };
                crate::tf_debug!("route53: listed record sets", scope = scope, pages = pages, records = records.len());
                return Ok(records);
            }
            start = next;
        }
    }

    /// Sends one change batch (all changes succeed or none) and drops the zone's cached listing.
    /// Returns the change id to wait on, or `None` when Route53 already reports it INSYNC.
    ///
    /// # Errors
    /// [`Route53Error::InvalidChangeBatch`] with Route53's message verbatim,
    /// [`Route53Error::Throttled`] once every attempt was throttled, and other failures.
    pub async fn change(
        &self,
        zone_id: &str,
        comment: &str,
        changes: &[Change],
    ) -> Result<Option<String>, Route53Error> {
        match self.change_within(zone_id, comment, changes, &Stop::default(), None).await? {
            Changed::Pending(id) => Ok(Some(id)),
            Changed::InSync | Changed::AnswerLost => Ok(None),
        }
    }

    /// [`Route53::change`] bounded like a write of one operation: after StopProvider or past
    /// `deadline` no attempt starts (the SDK's own retries included) and no backoff is waited
    /// out, while an attempt already on its way is never abandoned: Route53 may apply it, and the
    /// caller must learn that it did (bounded by the attempt timeout).
    ///
    /// An attempt whose answer was lost (a dropped connection, a timeout) may have been applied;
    /// when a retry is then rejected, the live records decide: a batch found in place is this
    /// call's own write ([`Changed::AnswerLost`]).
    ///
    /// # Errors
    /// As [`Route53::change`]; [`Route53Error::Halted`] when the stop or the deadline kept an
    /// attempt from being sent; [`Route53Error::MaybeApplied`] around a failure after an attempt
    /// that may have been applied.
    pub async fn change_within(
        &self,
        zone_id: &str,
        comment: &str,
        changes: &[Change],
        ctx: &Stop,
        deadline: Option<&Deadline>,
    ) -> Result<Changed, Route53Error> {
        let zone_id = bare_zone_id(zone_id);
        let batch = ChangeBatch::builder()
            .comment(comment)
            .set_changes(Some(changes.iter().map(Change::to_sdk).collect::<Result<Vec<_>, _>>()?))
            .build()
            .map_err(|e| Route53Error::Request(e.to_string()))?;
        if let Some(halt) = Halt::now(ctx, deadline) {
            return Err(Route53Error::Halted { halt, attempts: 0, last: None, uncertain: false });
        }
        let attempts = Attempts::new(ctx.clone(), deadline.copied());
        let mut phase = attempts.phase.subscribe();
        CallCounts::bump(&self.inner.calls.change_record_sets);
        let send = self
            .inner
            .sdk
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch)
            .customize()
            .interceptor(attempts.clone())
            .send();
        // Between a failed attempt and the next no request is in flight: the stop or the
        // deadline ends the SDK's backoff there instead of after it.
        let result = tokio::select! {
            biased;
            result = send => Ok(result),
            halt = between_attempts(&mut phase, ctx, deadline) => Err(halt),
        };
        // Even a failed call may have been applied (a timeout after Route53 took it).
        self.invalidate(zone_id);
        let log = attempts.log();
        let halted =
            |halt| Route53Error::Halted { halt, attempts: log.sent, last: log.last.clone(), uncertain: log.uncertain };
        let result = match (result, log.refused) {
            (Err(halt), _) | (Ok(Err(_)), Some(halt)) => return Err(halted(halt)),
            (Ok(result), _) => result,
        };
        let error = match result {
            Ok(out) => {
                crate::tf_debug!("route53: change batch accepted", changes = changes.len(), attempts = log.sent);
                return Ok(match out.change_info().filter(|info| *info.status() != ChangeStatus::Insync) {
                    Some(info) => Changed::Pending(info.id().to_string()),
                    None => Changed::InSync,
                });
            }
            Err(e) => Route53Error::from_sdk("ChangeResourceRecordSets", log.sent, e),
        };
        if !log.uncertain {
            return Err(error);
        }
        // A retry of a batch that an earlier attempt applied is rejected: CREATE finds its record,
        // DELETE misses its own (moto says InvalidInput there, Route53 InvalidChangeBatch).
        let rejected = matches!(&error, Route53Error::InvalidChangeBatch(_))
            || matches!(&error, Route53Error::Other { code: Some(code), .. } if code == "InvalidInput");
        if rejected && self.batch_in_place(zone_id, changes, ctx, deadline).await {
            crate::tf_debug!("route53: a lost answer's batch is in place", changes = changes.len());
            return Ok(Changed::AnswerLost);
        }
        Err(Route53Error::MaybeApplied(Box::new(error)))
    }

    /// True when the live records are what `changes` make them: every record created or upserted
    /// is there exactly, every record deleted is gone. False also when they cannot be read (the
    /// stop or the deadline came first, or the listing failed).
    async fn batch_in_place(&self, zone_id: &str, changes: &[Change], ctx: &Stop, deadline: Option<&Deadline>) -> bool {
        let record = |change: &Change| match change {
            Change::Create(r) | Change::Upsert(r) => r.clone(),
            Change::Delete(live) => live.set.clone(),
        };
        let mut names: Vec<String> = changes.iter().map(|c| dns_names::normalize(&record(c).name)).collect();
        names.dedup();
        let read = async {
            let mut live = Vec::new();
            for name in &names {
                live.extend(self.live_records_named(zone_id, name).await?);
            }
            Ok::<_, Route53Error>(live)
        };
        let live = tokio::select! {
            biased;
            live = read => match live {
                Ok(live) => live,
                Err(_) => return false,
            },
            _ = Halt::next(ctx, deadline) => return false,
        };
        changes.iter().all(|change| match change {
            Change::Create(r) | Change::Upsert(r) => live.iter().any(|l| weighted_set::same_record(r, &l.set)),
            Change::Delete(gone) => {
                let g = &gone.set;
                !live.iter().any(|l| l.set.is(&g.name, &g.record_type, g.set_identifier.as_deref()))
            }
        })
    }

    /// Polls `GetChange` until the change is INSYNC. Polls start after a second and back off to
    /// every five seconds; across the process they are spaced so that polling alone never
    /// exceeds four requests a second. The stop and `deadline` end the wait at once, a poll in
    /// flight included.
    ///
    /// # Errors
    /// [`Route53Error::SyncTimeout`] at the deadline, [`Route53Error::Cancelled`] on the stop, and
    /// call failures.
    pub async fn wait_insync(
        &self,
        change_id: &str,
        ctx: &Stop,
        deadline: Option<&Deadline>,
    ) -> Result<(), Route53Error> {
        let started = Instant::now();
        let polls = async {
            let mut interval = Duration::from_secs(1);
            loop {
                tokio::time::sleep(interval).await;
                self.poll_slot().await;
                CallCounts::bump(&self.inner.calls.get_change);
                let out = self
                    .inner
                    .sdk
                    .get_change()
                    .id(change_id)
                    .send()
                    .await
                    .map_err(|e| self.sdk_error("GetChange", e))?;
                if out.change_info().is_some_and(|info| *info.status() == ChangeStatus::Insync) {
                    crate::tf_debug!("route53: change in sync", waited_ms = started.elapsed().as_millis() as u64);
                    return Ok(());
                }
                interval = (interval * 2).min(Duration::from_secs(5));
            }
        };
        tokio::select! {
            biased;
            result = polls => result,
            halt = Halt::next(ctx, deadline) => Err(match halt {
                Halt::Stop => Route53Error::Cancelled("waiting for the change to be INSYNC"),
                Halt::Deadline(_) => {
                    Route53Error::SyncTimeout { change_id: change_id.to_string(), waited: started.elapsed() }
                }
            }),
        }
    }

    async fn poll_slot(&self) {
        let mut next = self.inner.next_poll.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = Instant::now().max(*next) + POLL_SPACING;
    }
}

/// How Route53 took a change batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Changed {
    /// Applied and already INSYNC.
    InSync,
    /// Applied; `GetChange` on this id tells when it is INSYNC.
    Pending(String),
    /// An attempt's answer was lost and a retry found the batch in place: this call's own write,
    /// whose change id is unknown.
    AnswerLost,
}

/// Where one change call is between its attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Sending,
    /// An attempt failed; no request is in flight until the next one.
    Between,
    Done,
}

/// What the attempts of one change call did.
#[derive(Clone, Debug, Default)]
struct AttemptLog {
    sent: u32,
    /// An attempt got no answer or a 5xx: Route53 may have applied it.
    uncertain: bool,
    /// The last failed attempt's answer, e.g. `503 ServiceUnavailable`.
    last: Option<String>,
    /// An attempt was refused because of this halt.
    refused: Option<Halt>,
}

/// Watches the attempts of one change call inside the SDK: refuses every attempt that would
/// start after the stop or the deadline (an interceptor error is not retryable, so the call ends
/// there), and notes what each attempt got, so that the caller knows whether a failed call may
/// have been applied.
#[derive(Clone, Debug)]
struct Attempts {
    ctx: Stop,
    deadline: Option<Deadline>,
    log: Arc<Mutex<AttemptLog>>,
    phase: Arc<watch::Sender<Phase>>,
}

impl Attempts {
    fn new(ctx: Stop, deadline: Option<Deadline>) -> Self {
        Attempts { ctx, deadline, log: Arc::default(), phase: Arc::new(watch::Sender::new(Phase::Sending)) }
    }

    fn log(&self) -> AttemptLog {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Intercept for Attempts {
    fn name(&self) -> &'static str {
        "Attempts"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(halt) = Halt::now(&self.ctx, self.deadline.as_ref()) {
            log.refused = Some(halt);
            return Err("the provider is stopping or past its deadline".into());
        }
        log.sent += 1;
        self.phase.send_replace(Phase::Sending);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Err(error)) = context.output_or_error() else {
            self.phase.send_replace(Phase::Done);
            return Ok(());
        };
        if error.is_interceptor_error() {
            return Ok(());
        }
        let status = context.response().map(|r| r.status());
        let (uncertain, last) = if let Some(connector) = error.as_connector_error() {
            (!unanswered::connection_refused(connector), format!("no answer ({connector})"))
        } else if let Some(operation) = error.as_operation_error() {
            let code = operation.downcast_ref::<ChangeResourceRecordSetsError>().and_then(|e| e.code());
            let status = status.map(|s| s.as_u16().to_string()).unwrap_or_default();
            (status.starts_with('5'), format!("{status} {}", code.unwrap_or("(no error code)")))
        } else if error.is_timeout_error() {
            (true, "no answer within the attempt timeout".to_string())
        } else {
            (true, format!("an unreadable answer ({error})"))
        };
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.uncertain |= uncertain;
        log.last = Some(last);
        self.phase.send_replace(Phase::Between);
        Ok(())
    }
}

/// Resolves with the halt once the stop or the deadline comes while the call is between
/// attempts; never while an attempt is in flight.
async fn between_attempts(phase: &mut watch::Receiver<Phase>, ctx: &Stop, deadline: Option<&Deadline>) -> Halt {
    loop {
        if phase.wait_for(|p| *p == Phase::Between).await.is_err() {
            return std::future::pending().await;
        }
        let next_attempt = async { phase.wait_for(|p| *p != Phase::Between).await.is_ok() };
        tokio::select! {
            halt = Halt::next(ctx, deadline) => return halt,
            going_on = next_attempt => {
                if !going_on {
                    return std::future::pending().await;
                }
            }
        }
    }
}

fn zone_from_sdk(zone: &aws_sdk_route53::types::HostedZone) -> Zone {
    Zone {
        id: bare_zone_id(zone.id()).to_string(),
        name: dns_names::normalize(zone.name()),
        private: zone.config().is_some_and(|c| c.private_zone()),
        record_count: zone.resource_record_set_count(),
    }
}

fn cached_cell<T>(map: &Mutex<HashMap<String, Arc<OnceCell<T>>>>, key: &str) -> Arc<OnceCell<T>> {
    map.lock().unwrap_or_else(|e| e.into_inner()).entry(key.to_string()).or_default().clone()
}

#[cfg(test)]
mod tests {
    use super::super::records::{Alias, RecordSet};
    use super::*;
    use aws_sdk_route53::types::{ChangeAction, ResourceRecord, ResourceRecordSet};

    fn cname(weight: i64) -> RecordSet {
        RecordSet {
            name: "burnham.example.com".into(),
            record_type: "CNAME".into(),
            set_identifier: Some("green".into()),
            weight: Some(weight),
            ttl: Some(60),
            values: vec!["green.elb.amazonaws.com".into()],
            alias: None,
            health_check_id: None,
        }
    }

    #[test]
    fn records_round_trip_through_the_sdk_shape() {
        let record = cname(100);
        let sdk = record.to_sdk().unwrap();
        assert_eq!(sdk.weight(), Some(100));
        assert_eq!(sdk.r#type(), &RrType::Cname);
        assert_eq!(RecordSet::from_sdk(&sdk), record);

        let txt = RecordSet { record_type: "TXT".into(), values: vec!["heritage=external-dns".into()], ..cname(1) };
        let sdk = txt.to_sdk().unwrap();
        assert_eq!(sdk.resource_records()[0].value(), "\"heritage=external-dns\"");
        assert_eq!(RecordSet::from_sdk(&sdk).values, txt.values);
    }

    #[test]
    fn delete_repeats_the_record_exactly_as_read() {
        let raw = ResourceRecordSet::builder()
            .name("Burnham.example.com.")
            .r#type(RrType::Cname)
            .set_identifier("blue")
            .weight(7)
            .ttl(300)
            .resource_records(ResourceRecord::builder().value("blue.elb.amazonaws.com").build().unwrap())
            .build()
            .unwrap();
        let change = Change::Delete(Box::new(LiveRecord::new(raw.clone()))).to_sdk().unwrap();
        assert_eq!(change.action(), &ChangeAction::Delete);
        assert_eq!(change.resource_record_set(), Some(&raw));
    }

    #[test]
    fn alias_records_carry_no_ttl_or_values() {
        let alias = RecordSet {
            record_type: "A".into(),
            ttl: None,
            values: vec![],
            alias: Some(Alias { name: "lb.example.com".into(), zone_id: "Z2".into(), evaluate_target_health: true }),
            ..cname(10)
        };
        let sdk = alias.to_sdk().unwrap();
        assert_eq!(sdk.ttl(), None);
        assert!(sdk.resource_records().is_empty());
        assert_eq!(sdk.alias_target().map(|a| a.evaluate_target_health()), Some(true));
    }

    #[test]
    fn zone_ids_lose_their_prefix() {
        assert_eq!(bare_zone_id("/hostedzone/Z123"), "Z123");
        assert_eq!(bare_zone_id("Z123"), "Z123");
    }

    #[test]
    fn record_identity_ignores_name_spelling() {
        let r = cname(1);
        assert!(r.is("Burnham.Example.com.", "CNAME", Some("green")));
        assert!(!r.is("burnham.example.com", "CNAME", Some("blue")));
        assert!(!r.is("burnham.example.com", "A", Some("green")));
    }
}
