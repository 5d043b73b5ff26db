//! Coalesced Route53 writes against moto (through the counting double): changes submitted
//! together leave as one batch, a batch moto rejects is resent resource by resource so that only
//! the bad change fails, and writes waiting together share one fresh listing.
//!
//! The calls are made from one task on a single-threaded runtime, so all of them are queued
//! before the batch or listing is sent: the grouping is deterministic.

mod support;

use support::moto::{Moto, block_on, create_zone, records, sdk_client};
use support::route53_double::Route53Double;
use terraform_provider_gitopsbridge::protocol::Context;
use terraform_provider_gitopsbridge::route53::{Change, LiveRecord, RecordSet, Route53, Route53Error};

fn cname(name: &str) -> RecordSet {
    RecordSet {
        name: name.to_string(),
        record_type: "CNAME".into(),
        set_identifier: Some(format!("{name}-blue")),
        weight: Some(100),
        ttl: Some(60),
        values: vec!["blue.elb.example.net".into()],
        alias: None,
        health_check_id: None,
    }
}

fn names_in(endpoint: &str, zone_id: &str) -> Vec<String> {
    let mut names: Vec<String> =
        records(endpoint, zone_id).into_iter().filter(|r| r.record_type == "CNAME").map(|r| r.name).collect();
    names.sort();
    names
}

#[test]
fn changes_submitted_together_leave_as_one_batch_with_one_change_id() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone_id = create_zone(&moto.endpoint(), "example.com");
    let r53 = Route53::from_client(sdk_client(&double.endpoint(), 1), 1);
    let [a, b, c] = ["a", "b", "c"].map(|n| [Change::Create(cname(&format!("{n}.example.com")))]);
    let ctx = Context::default();
    let (a, b, c) = block_on(async {
        futures::join!(
            r53.submit_change(&zone_id, "a", &a, &ctx, None),
            r53.submit_change(&zone_id, "b", &b, &ctx, None),
            r53.submit_change(&zone_id, "c", &c, &ctx, None),
        )
    });
    assert_eq!(double.count("ChangeResourceRecordSets"), 1);
    let (a, b, c) = (a.expect("a"), b.expect("b"), c.expect("c"));
    assert!(a == b && b == c, "one change id for the batch: {a:?} {b:?} {c:?}");
    assert_eq!(names_in(&moto.endpoint(), &zone_id), ["a.example.com.", "b.example.com.", "c.example.com."]);
}

#[test]
fn one_bad_change_fails_alone_when_its_batch_is_rejected() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone_id = create_zone(&moto.endpoint(), "example.com");
    let r53 = Route53::from_client(sdk_client(&double.endpoint(), 1), 1);
    // Deleting a record that was never there: moto refuses the whole batch.
    let ghost = [Change::Delete(Box::new(LiveRecord::for_tests(cname("ghost.example.com"))))];
    let [a, c] = ["a", "c"].map(|n| [Change::Create(cname(&format!("{n}.example.com")))]);
    let ctx = Context::default();
    let (a, bad, c) = block_on(async {
        futures::join!(
            r53.submit_change(&zone_id, "a", &a, &ctx, None),
            r53.submit_change(&zone_id, "ghost", &ghost, &ctx, None),
            r53.submit_change(&zone_id, "c", &c, &ctx, None),
        )
    });
    assert_eq!(double.count("ChangeResourceRecordSets"), 4, "the batch, then each resource alone");
    a.expect("a is written");
    c.expect("c is written");
    match bad {
        Err(Route53Error::Other { code: Some(code), .. }) => assert_eq!(code, "InvalidInput"),
        other => panic!("the bad change must fail with moto's answer: {other:?}"),
    }
    assert_eq!(names_in(&moto.endpoint(), &zone_id), ["a.example.com.", "c.example.com."]);
}

/// Creates `count` records `app<i>.example.com` directly in moto.
fn seed_zone(moto: &Moto, zone_id: &str, count: usize) {
    let writer = Route53::from_client(sdk_client(&moto.endpoint(), 1), 1);
    let batch: Vec<Change> = (0..count).map(|i| Change::Create(cname(&format!("app{i}.example.com")))).collect();
    block_on(writer.change(zone_id, "seed", &batch)).expect("seed records");
}

#[test]
fn writes_waiting_together_share_one_fresh_listing() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone_id = create_zone(&moto.endpoint(), "example.com");
    seed_zone(&moto, &zone_id, 50);
    let r53 = Route53::from_client(sdk_client(&double.endpoint(), 1), 1);
    let (a, b, none) = block_on(async {
        futures::join!(
            r53.live_records_named(&zone_id, "app1.example.com"),
            r53.live_records_named(&zone_id, "App2.example.com."),
            r53.live_records_named(&zone_id, "nothing.example.com"),
        )
    });
    let names = |records: Vec<LiveRecord>| records.into_iter().map(|r| r.set.name).collect::<Vec<_>>();
    assert_eq!(names(a.expect("a")), ["app1.example.com."]);
    assert_eq!(names(b.expect("b")), ["app2.example.com."]);
    assert!(none.expect("none").is_empty());
    // 52 records fit one page: one listing of the zone instead of three of names.
    assert_eq!(double.count("ListResourceRecordSets"), 1);

    // The next write lists again (after its own request), and a lone one lists only its name.
    let writer = Route53::from_client(sdk_client(&moto.endpoint(), 1), 1);
    block_on(writer.change(&zone_id, "new", &[Change::Create(cname("nothing.example.com"))])).expect("write");
    let fresh = block_on(r53.live_records_named(&zone_id, "nothing.example.com")).expect("fresh");
    assert_eq!(names(fresh), ["nothing.example.com."]);
    assert_eq!(double.count("ListResourceRecordSets"), 2);
}

#[test]
fn names_are_listed_one_by_one_when_the_zone_takes_more_pages() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone_id = create_zone(&moto.endpoint(), "example.com");
    seed_zone(&moto, &zone_id, 700);
    let r53 = Route53::from_client(sdk_client(&double.endpoint(), 1), 1);
    let (a, b) = block_on(async {
        futures::join!(
            r53.live_records_named(&zone_id, "app1.example.com"),
            r53.live_records_named(&zone_id, "app600.example.com"),
        )
    });
    assert_eq!(a.expect("a").len(), 1);
    assert_eq!(b.expect("b").len(), 1);
    // 702 records take three pages; two names take two listings.
    assert_eq!(double.count("ListResourceRecordSets"), 2);
}
