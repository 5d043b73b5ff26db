//! Coalesced Route53 writes: the changes that concurrent applies submit for one zone leave as one
//! `ChangeResourceRecordSets` batch, and everyone waiting for that batch shares one INSYNC wait.
//!
//! Terraform applies up to ten resources at once, each in its own call. Route53 allows five
//! requests a second per account and refuses a change to a zone whose previous change it is
//! still processing (`PriorRequestNotComplete`), and the SDK's retries only stretch that out.
//! So one provider process sends one batch per zone at a time (group commit): the first change
//! goes out at once, the changes submitted meanwhile queue up and form the next batch. Nobody
//! waits for a timer, and a lone apply costs what it did before.
//!
//! Route53 applies a batch atomically: one invalid change fails them all. When a batch of
//! several groups is rejected for its content, each group is sent again on its own, so only the
//! group at fault fails. A group (what one resource submits: a DELETE + CREATE pair, every member
//! of a traffic split) is never split up, and two groups touching the same record never share a
//! batch, so each group sees the same outcome as if it had been sent alone.
//!
//! A queued group must not miss its operation's deadline because the batch ahead of it is slow
//! (Route53 answering late, retries): shortly before its deadline a group still queued leaves
//! the queue and is sent on its own, beside the batch in flight. Once in a batch, a group is
//! bounded like any change: no attempt starts after any of the batch's resources is stopped or
//! past its deadline, and a batch not applied for that is sent again group by group, each under
//! its own stop and deadline.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::Shared;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Change, Changed, Route53, Route53Error};
use crate::dns_names;
use crate::protocol::Context;
use crate::timeouts::{Deadline, Halt};

/// Route53's limits on one request: records (an UPSERT counts twice) and characters of values.
const MAX_RECORDS_PER_BATCH: usize = 1000;
const MAX_VALUE_CHARS_PER_BATCH: usize = 32_000;
/// Keeps batches small enough that one rejected batch costs few resubmissions.
const MAX_CHANGES_PER_BATCH: usize = 100;
/// How long before its deadline a group still queued is sent on its own (at most half of its
/// timeout): the time its own request needs to be sent.
const LEAVE_QUEUE_BEFORE_DEADLINE: Duration = Duration::from_secs(1);

/// Where batches go: Route53 itself, or a double in tests.
#[async_trait::async_trait]
pub trait ChangeSink: Clone + Send + Sync + 'static {
    /// Sends one batch as [`Route53::change_within`] does: no attempt starts after the stop or
    /// past `deadline`, an attempt on its way is finished.
    async fn send_batch(
        &self,
        zone_id: &str,
        comment: &str,
        changes: &[Change],
        ctx: &Context,
        deadline: Option<&Deadline>,
    ) -> Result<Changed, Route53Error>;
    /// Polls until the change is INSYNC; the waiters bound the wait.
    async fn wait_change(&self, change_id: &str) -> Result<(), Route53Error>;
}

#[async_trait::async_trait]
impl ChangeSink for Route53 {
    async fn send_batch(
        &self,
        zone_id: &str,
        comment: &str,
        changes: &[Change],
        ctx: &Context,
        deadline: Option<&Deadline>,
    ) -> Result<Changed, Route53Error> {
        self.change_within(zone_id, comment, changes, ctx, deadline).await
    }

    async fn wait_change(&self, change_id: &str) -> Result<(), Route53Error> {
        self.wait_insync(change_id, &Context::default(), None).await
    }
}

type Reply = oneshot::Sender<Result<Changed, Route53Error>>;

/// What one resource submitted, with its request's context and its operation's deadline.
struct Group {
    /// Tells the group apart in its queue, so that it can leave it.
    id: u64,
    comment: String,
    changes: Vec<Change>,
    ctx: Context,
    deadline: Option<Deadline>,
    reply: Reply,
}

impl Group {
    fn halt(&self) -> Option<Halt> {
        Halt::now(&self.ctx, self.deadline.as_ref())
    }
}

#[derive(Default)]
struct ZoneQueue {
    waiting: Vec<Group>,
    /// A sender task is working on this zone.
    sending: bool,
}

type SyncWait = Shared<Pin<Box<dyn Future<Output = Result<(), Route53Error>> + Send>>>;

/// The queues of one provider process, one per zone, and the INSYNC waits in progress.
#[derive(Default)]
pub struct ChangeQueues {
    zones: Mutex<HashMap<String, ZoneQueue>>,
    waits: Mutex<HashMap<String, SyncWait>>,
    next_id: AtomicU64,
}

impl ChangeQueues {
    /// Submits one group of changes for `zone_id` and returns once the batch carrying it was
    /// accepted (or rejected). A group halted (StopProvider, its deadline) before its batch
    /// leaves is not sent.
    ///
    /// # Errors
    /// The error of the batch that carried the group, or of the group sent alone after its
    /// batch was rejected for its content; [`Route53Error::Halted`] for a group not sent.
    pub async fn submit<S: ChangeSink>(
        self: &Arc<Self>,
        sink: &S,
        zone_id: &str,
        comment: &str,
        changes: Vec<Change>,
        ctx: &Context,
        deadline: Option<&Deadline>,
    ) -> Result<Changed, Route53Error> {
        let (reply, answer) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let start_sender = {
            let mut zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
            let queue = zones.entry(zone_id.to_string()).or_default();
            let (comment, ctx, deadline) = (comment.to_string(), ctx.clone(), deadline.copied());
            queue.waiting.push(Group { id, comment, changes, ctx, deadline, reply });
            !std::mem::replace(&mut queue.sending, true)
        };
        if start_sender {
            // Its own task: a caller that stops waiting must not stall the others' changes.
            tokio::spawn(self.clone().send_all(sink.clone(), zone_id.to_string()));
        }
        let abandoned = || Err(Route53Error::Request("the change batch was abandoned".into()));
        let Some(leave_at) = deadline.map(leave_queue_at) else {
            return answer.await.unwrap_or_else(|_| abandoned());
        };
        tokio::pin!(answer);
        tokio::select! {
            biased;
            answered = &mut answer => return answered.unwrap_or_else(|_| abandoned()),
            () = tokio::time::sleep_until(leave_at) => {}
        }
        match self.leave_queue(zone_id, id) {
            Some(group) => {
                crate::tf_debug!("route53: a change near its deadline leaves the queue and is sent alone");
                let Group { comment, changes, ctx, deadline, .. } = group;
                sink.send_batch(zone_id, &comment, &changes, &ctx, deadline.as_ref()).await
            }
            // Its batch has left: it is answered with the batch.
            None => answer.await.unwrap_or_else(|_| abandoned()),
        }
    }

    /// Takes the group `id` out of `zone_id`'s queue, unless a batch has taken it already.
    fn leave_queue(&self, zone_id: &str, id: u64) -> Option<Group> {
        let mut zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        let waiting = &mut zones.get_mut(zone_id)?.waiting;
        let at = waiting.iter().position(|g| g.id == id)?;
        Some(waiting.remove(at))
    }

    /// Groups still waiting for a batch in `zone_id` (tests watch it to know who has queued).
    #[cfg(test)]
    fn waiting(&self, zone_id: &str) -> usize {
        self.zones.lock().unwrap_or_else(|e| e.into_inner()).get(zone_id).map_or(0, |q| q.waiting.len())
    }

    async fn send_all<S: ChangeSink>(self: Arc<Self>, sink: S, zone_id: String) {
        loop {
            let batch = {
                let mut zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
                let Some(queue) = zones.get_mut(&zone_id) else {
                    return;
                };
                if queue.waiting.is_empty() {
                    zones.remove(&zone_id);
                    return;
                }
                next_batch(&mut queue.waiting)
            };
            send_batch(&sink, &zone_id, batch).await;
        }
    }

    /// Waits until `change_id` is INSYNC, as [`Route53::wait_insync`] does. Everyone waiting for
    /// the same change shares one series of `GetChange` polls; each waiter leaves at its own stop
    /// or deadline.
    ///
    /// # Errors
    /// [`Route53Error::SyncTimeout`], [`Route53Error::Cancelled`] and call failures.
    pub async fn wait_insync<S: ChangeSink>(
        &self,
        sink: &S,
        change_id: &str,
        ctx: &Context,
        deadline: Option<&Deadline>,
    ) -> Result<(), Route53Error> {
        let started = Instant::now();
        let wait = {
            let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
            waits
                .entry(change_id.to_string())
                .or_insert_with(|| {
                    let (sink, id) = (sink.clone(), change_id.to_string());
                    let poll: Pin<Box<dyn Future<Output = _> + Send>> =
                        Box::pin(async move { sink.wait_change(&id).await });
                    poll.shared()
                })
                .clone()
        };
        let result = tokio::select! {
            biased;
            result = wait => result,
            halt = Halt::next(ctx, deadline) => return Err(match halt {
                Halt::Stop => Route53Error::Cancelled("waiting for the change to be INSYNC"),
                Halt::Deadline(_) => {
                    Route53Error::SyncTimeout { change_id: change_id.to_string(), waited: started.elapsed() }
                }
            }),
        };
        self.waits.lock().unwrap_or_else(|e| e.into_inner()).remove(change_id);
        result
    }
}

/// When a group still queued leaves the queue to be sent on its own.
fn leave_queue_at(deadline: &Deadline) -> Instant {
    let margin = LEAVE_QUEUE_BEFORE_DEADLINE.min(deadline.limit / 2);
    deadline.at.checked_sub(margin).unwrap_or(deadline.at)
}

/// Takes the groups of the next batch from the front of the queue: as many as Route53's limits
/// allow, always at least one, stopping before a group that touches a record already in it.
fn next_batch(waiting: &mut Vec<Group>) -> Vec<Group> {
    let (mut records, mut chars, mut changes) = (0, 0, 0);
    let mut touched: HashSet<RecordKey> = HashSet::new();
    let mut take = 0;
    for group in waiting.iter() {
        let (r, c) = group.changes.iter().map(weight).fold((0, 0), |(r, c), (r2, c2)| (r + r2, c + c2));
        let keys: Vec<RecordKey> = group.changes.iter().map(record_key).collect();
        let fits = records + r <= MAX_RECORDS_PER_BATCH
            && chars + c <= MAX_VALUE_CHARS_PER_BATCH
            && changes + group.changes.len() <= MAX_CHANGES_PER_BATCH
            && keys.iter().all(|k| !touched.contains(k));
        if take > 0 && !fits {
            break;
        }
        records += r;
        chars += c;
        changes += group.changes.len();
        touched.extend(keys);
        take += 1;
    }
    waiting.drain(..take).collect()
}

async fn send_batch<S: ChangeSink>(sink: &S, zone_id: &str, batch: Vec<Group>) {
    // Groups halted while they queued are not sent.
    let (halted, batch): (Vec<Group>, Vec<Group>) = batch.into_iter().partition(|g| g.halt().is_some());
    for group in halted {
        let halt = group.halt().expect("halted");
        let _ = group.reply.send(Err(Route53Error::Halted { halt, attempts: 0, last: None, uncertain: false }));
    }
    if batch.len() <= 1 {
        for group in batch {
            send_alone(sink, zone_id, group).await;
        }
        return;
    }
    let changes: Vec<Change> = batch.iter().flat_map(|g| g.changes.iter().cloned()).collect();
    let comment = format!("gitopsbridge: {} changes of {} resources", changes.len(), batch.len());
    crate::tf_debug!("route53: coalesced changes", resources = batch.len(), changes = changes.len());
    // No attempt starts once any of the resources is told to stop or reaches its deadline: none
    // of them may be sent after that.
    let stop = CancellationToken::new();
    let ctx = Context::new(stop.clone(), Default::default());
    let deadline = batch.iter().filter_map(|g| g.deadline).min_by_key(|d| d.at);
    let any_stopped = async {
        futures::future::select_all(batch.iter().map(|g| Box::pin(g.ctx.cancelled()))).await;
        stop.cancel();
        std::future::pending::<()>().await;
    };
    let result = tokio::select! {
        result = sink.send_batch(zone_id, &comment, &changes, &ctx, deadline.as_ref()) => result,
        () = any_stopped => unreachable!("waits forever once it has cancelled the batch's stop"),
    };
    match result {
        // Nothing of the batch was applied, and another batch may pass: a group halted on its
        // own account gets its own halt, the others go out one by one.
        Err(e) if rejects_content(&e) || matches!(e, Route53Error::Halted { uncertain: false, .. }) => {
            crate::tf_debug!(
                "route53: batch not applied; sending its changes resource by resource",
                resources = batch.len()
            );
            for group in batch {
                send_alone(sink, zone_id, group).await;
            }
        }
        result => {
            for group in batch {
                let _ = group.reply.send(result.clone());
            }
        }
    }
}

async fn send_alone<S: ChangeSink>(sink: &S, zone_id: &str, group: Group) {
    let result = sink.send_batch(zone_id, &group.comment, &group.changes, &group.ctx, group.deadline.as_ref()).await;
    let _ = group.reply.send(result);
}

/// True when Route53 refused the batch for what it contains (rather than throttling or a
/// failure to reach it), so that another batch without the offending change may pass.
fn rejects_content(error: &Route53Error) -> bool {
    match error {
        Route53Error::InvalidChangeBatch(_) => true,
        Route53Error::Other { code: Some(code), .. } => code == "InvalidInput",
        _ => false,
    }
}

type RecordKey = (String, String, Option<String>);

fn record_key(change: &Change) -> RecordKey {
    let set = match change {
        Change::Create(set) | Change::Upsert(set) => set,
        Change::Delete(live) => &live.set,
    };
    (dns_names::normalize(&set.name), set.record_type.clone(), set.set_identifier.clone())
}

/// Records and value characters of a change as Route53 counts them (an UPSERT counts twice).
fn weight(change: &Change) -> (usize, usize) {
    let (set, times) = match change {
        Change::Create(set) => (set, 1),
        Change::Upsert(set) => (set, 2),
        Change::Delete(live) => (&live.set, 1),
    };
    let chars: usize =
        set.values.iter().map(String::len).sum::<usize>() + set.alias.as_ref().map_or(0, |a| a.name.len());
    (set.values.len().max(1) * times, chars * times)
}

impl Route53 {
    /// Sends `changes` as one group (all succeed or none), coalesced with the groups other
    /// resources of this process submit for the same zone at the same time, bounded like
    /// [`Route53::change_within`].
    ///
    /// # Errors
    /// As [`Route53::change_within`]; a batch rejected for another group's change is not an error
    /// here.
    pub async fn submit_change(
        &self,
        zone_id: &str,
        comment: &str,
        changes: &[Change],
        ctx: &Context,
        deadline: Option<&Deadline>,
    ) -> Result<Changed, Route53Error> {
        let queues = self.inner.batches.clone();
        queues.submit(self, super::bare_zone_id(zone_id), comment, changes.to_vec(), ctx, deadline).await
    }

    /// [`Route53::wait_insync`], sharing the polls with everyone waiting for the same change.
    ///
    /// # Errors
    /// As [`Route53::wait_insync`].
    pub async fn wait_insync_shared(
        &self,
        change_id: &str,
        ctx: &Context,
        deadline: Option<&Deadline>,
    ) -> Result<(), Route53Error> {
        self.inner.batches.wait_insync(self, change_id, ctx, deadline).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route53::RecordSet;
    use crate::timeouts::Operation;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use tokio::sync::Notify;

    fn record(name: &str) -> RecordSet {
        RecordSet {
            name: format!("{name}.example.com"),
            record_type: "CNAME".into(),
            set_identifier: Some("blue".into()),
            weight: Some(1),
            ttl: Some(60),
            values: vec![format!("{name}.elb.example.net")],
            alias: None,
            health_check_id: None,
        }
    }

    /// Records every batch; rejects any batch holding a record named `bad…`, as Route53 rejects
    /// a whole batch for one invalid change; can hold the first batch until released.
    #[derive(Clone, Default)]
    struct FakeRoute53 {
        batches: Arc<Mutex<Vec<Vec<String>>>>,
        hold_first: Arc<Mutex<Option<Arc<Notify>>>>,
        arrived: Arc<Notify>,
        polls: Arc<AtomicUsize>,
        release_polls: Arc<Notify>,
    }

    impl FakeRoute53 {
        fn names(&self) -> Vec<Vec<String>> {
            self.batches.lock().unwrap().clone()
        }
    }

    #[async_trait::async_trait]
    impl ChangeSink for FakeRoute53 {
        async fn send_batch(
            &self,
            _zone: &str,
            _comment: &str,
            changes: &[Change],
            ctx: &Context,
            deadline: Option<&Deadline>,
        ) -> Result<Changed, Route53Error> {
            // As Route53::change_within: nothing is sent once halted.
            if let Some(halt) = Halt::now(ctx, deadline) {
                return Err(Route53Error::Halted { halt, attempts: 0, last: None, uncertain: false });
            }
            let names: Vec<String> =
                changes.iter().map(|c| record_key(c).0.trim_end_matches(".example.com").to_string()).collect();
            let number = {
                let mut batches = self.batches.lock().unwrap();
                batches.push(names.clone());
                batches.len()
            };
            self.arrived.notify_one();
            let hold = self.hold_first.lock().unwrap().take();
            if let Some(release) = hold {
                release.notified().await;
            }
            if names.iter().any(|n| n.starts_with("bad")) {
                return Err(Route53Error::InvalidChangeBatch(format!("{} is not acceptable", names.join(","))));
            }
            Ok(Changed::Pending(format!("C{number}")))
        }

        async fn wait_change(&self, _change_id: &str) -> Result<(), Route53Error> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            self.release_polls.notified().await;
            Ok(())
        }
    }

    type Answer = Result<Changed, Route53Error>;

    /// Holds the first batch in flight, queues `names` behind it, then lets everything go.
    async fn first_then(names: &[&str]) -> (FakeRoute53, Vec<Answer>) {
        first_then_halting(names, &[], &[]).await
    }

    /// A first batch in flight, held until `release` is notified.
    async fn first_batch_held() -> (FakeRoute53, Arc<Notify>, Arc<ChangeQueues>, tokio::task::JoinHandle<Answer>) {
        let sink = FakeRoute53::default();
        let release = Arc::new(Notify::new());
        *sink.hold_first.lock().unwrap() = Some(release.clone());
        let queues = Arc::new(ChangeQueues::default());
        let first = {
            let (queues, sink) = (queues.clone(), sink.clone());
            tokio::spawn(async move {
                let changes = vec![Change::Create(record("first"))];
                queues.submit(&sink, "Z1", "first", changes, &Context::default(), None).await
            })
        };
        sink.arrived.notified().await;
        (sink, release, queues, first)
    }

    /// [`first_then`], with the requests of `stopped` told to stop while they queue, and those
    /// of `expired` past their deadline by the time the first batch is answered.
    async fn first_then_halting(names: &[&str], stopped: &[&str], expired: &[&str]) -> (FakeRoute53, Vec<Answer>) {
        let (sink, release, queues, first) = first_batch_held().await;
        let mut rest = Vec::new();
        let mut stops = Vec::new();
        for name in names {
            let stop = CancellationToken::new();
            if stopped.contains(name) {
                stops.push(stop.clone());
            }
            let ctx = Context::new(stop, Default::default());
            let limit = if expired.contains(name) { Duration::ZERO } else { Duration::from_secs(600) };
            let deadline = Deadline::after(Operation::Update, limit);
            let (queues, sink, name) = (queues.clone(), sink.clone(), name.to_string());
            rest.push(tokio::spawn(async move {
                queues.submit(&sink, "Z1", &name, vec![Change::Upsert(record(&name))], &ctx, Some(&deadline)).await
            }));
        }
        while queues.waiting("Z1") < names.len() {
            tokio::task::yield_now().await;
        }
        stops.iter().for_each(CancellationToken::cancel);
        release.notify_one();
        let mut results = vec![first.await.unwrap()];
        for handle in rest {
            results.push(handle.await.unwrap());
        }
        (sink, results)
    }

    #[tokio::test]
    async fn changes_queued_behind_a_batch_in_flight_leave_together() {
        let (sink, results) = first_then(&["a", "b", "c"]).await;
        assert_eq!(sink.names(), vec![vec!["first"], vec!["a", "b", "c"]]);
        let ids: Vec<_> = results.into_iter().map(Result::unwrap).collect();
        let pending = |id: &str| Changed::Pending(id.into());
        assert_eq!(ids, vec![pending("C1"), pending("C2"), pending("C2"), pending("C2")]);
    }

    #[tokio::test]
    async fn a_rejected_batch_is_resent_resource_by_resource_so_only_the_bad_change_fails() {
        let (sink, results) = first_then(&["a", "bad", "c"]).await;
        assert_eq!(sink.names(), vec![vec!["first"], vec!["a", "bad", "c"], vec!["a"], vec!["bad"], vec!["c"]]);
        assert_eq!(results[1].as_ref().unwrap(), &Changed::Pending("C3".into()));
        match &results[2] {
            Err(Route53Error::InvalidChangeBatch(message)) => {
                assert_eq!(message, "bad is not acceptable")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(results[3].as_ref().unwrap(), &Changed::Pending("C5".into()));
    }

    #[tokio::test]
    async fn a_lone_rejected_change_gets_route53s_answer_unchanged() {
        let sink = FakeRoute53::default();
        let queues = Arc::new(ChangeQueues::default());
        let changes = vec![Change::Create(record("bad"))];
        let result = queues.submit(&sink, "Z1", "bad", changes, &Context::default(), None).await;
        assert!(matches!(result, Err(Route53Error::InvalidChangeBatch(m)) if m == "bad is not acceptable"));
        assert_eq!(sink.names(), vec![vec!["bad"]], "sent once, not again");
    }

    #[tokio::test]
    async fn a_change_stopped_while_it_queued_is_not_sent() {
        let (sink, results) = first_then_halting(&["a", "b", "c"], &["b"], &[]).await;
        assert_eq!(sink.names(), vec![vec!["first"], vec!["a", "c"]]);
        let not_sent = Route53Error::Halted { halt: Halt::Stop, attempts: 0, last: None, uncertain: false };
        assert_eq!(results[2].as_ref().unwrap_err().to_string(), not_sent.to_string());
        assert!(results[1].is_ok() && results[3].is_ok());
    }

    #[tokio::test]
    async fn a_change_past_its_deadline_is_not_sent_and_keeps_nobody_else_back() {
        let (sink, results) = first_then_halting(&["a", "b", "c"], &[], &["b"]).await;
        assert_eq!(sink.names(), vec![vec!["first"], vec!["a", "c"]]);
        assert!(
            matches!(&results[2], Err(Route53Error::Halted { halt: Halt::Deadline(_), attempts: 0, .. })),
            "{:?}",
            results[2]
        );
        assert!(results[1].is_ok() && results[3].is_ok());
    }

    #[tokio::test]
    async fn a_change_near_its_deadline_leaves_the_queue_behind_a_slow_batch_and_is_sent_alone() {
        let (sink, release, queues, first) = first_batch_held().await;
        // The first batch is held until the end: only leaving the queue can answer this one.
        let deadline = Deadline::after(Operation::Create, Duration::from_millis(400));
        let changes = vec![Change::Upsert(record("a"))];
        let alone = queues.submit(&sink, "Z1", "a", changes, &Context::default(), Some(&deadline)).await;
        assert_eq!(alone.unwrap(), Changed::Pending("C2".into()));
        assert!(!deadline.passed(), "sent before its deadline");
        assert_eq!(queues.waiting("Z1"), 0);
        release.notify_one();
        assert_eq!(first.await.unwrap().unwrap(), Changed::Pending("C1".into()));
        assert_eq!(sink.names(), vec![vec!["first"], vec!["a"]]);
    }

    #[tokio::test]
    async fn two_changes_of_one_record_never_share_a_batch() {
        let (sink, results) = first_then(&["a", "a", "b"]).await;
        assert_eq!(sink.names(), vec![vec!["first"], vec!["a"], vec!["a", "b"]]);
        assert!(results.iter().all(Result::is_ok));
    }

    #[test]
    fn batches_respect_route53s_limits() {
        let group = |name: &str, values: usize| {
            let (reply, _) = oneshot::channel();
            let mut set = record(name);
            set.values = (0..values).map(|i| format!("{i:0>100}")).collect();
            let changes = vec![Change::Upsert(set)];
            Group { id: 0, comment: String::new(), changes, ctx: Context::default(), deadline: None, reply }
        };
        // Each UPSERT of 200 values counts 400 records and 40,000 characters: over the
        // character limit alone, so every group goes on its own.
        let mut waiting = vec![group("a", 200), group("b", 200)];
        assert_eq!(next_batch(&mut waiting).len(), 1);
        assert_eq!(next_batch(&mut waiting).len(), 1);
        assert!(waiting.is_empty());
        // 100 values: 200 records and 20,000 characters each; the second would pass 32,000.
        let mut waiting = vec![group("a", 100), group("b", 100)];
        assert_eq!(next_batch(&mut waiting).len(), 1);
        let mut waiting: Vec<Group> = (0..150).map(|i| group(&format!("r{i}"), 1)).collect();
        assert_eq!(next_batch(&mut waiting).len(), MAX_CHANGES_PER_BATCH);
        assert_eq!(next_batch(&mut waiting).len(), 50);
    }

    #[tokio::test]
    async fn everyone_waiting_for_one_change_shares_its_polls() {
        let sink = FakeRoute53::default();
        let queues = Arc::new(ChangeQueues::default());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let (queues, sink) = (queues.clone(), sink.clone());
                tokio::spawn(async move { queues.wait_insync(&sink, "C9", &Context::default(), None).await })
            })
            .collect();
        while sink.polls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        sink.release_polls.notify_one();
        for waiter in waiters {
            waiter.await.unwrap().unwrap();
        }
        assert_eq!(sink.polls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_stops_waiting_alone() {
        let sink = FakeRoute53::default();
        let queues = Arc::new(ChangeQueues::default());
        let stop = CancellationToken::new();
        stop.cancel();
        let result = queues.wait_insync(&sink, "C1", &Context::new(stop, Default::default()), None).await;
        assert!(matches!(result, Err(Route53Error::Cancelled(_))));
    }
}
