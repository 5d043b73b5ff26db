//! Fresh listings for Route53 writes against moto (through the counting double): writes waiting
//! together share one listing, made after all of them asked.
//!
//! The calls are made from one task on a single-threaded runtime, so all of them are queued
//! before the listing is sent: the grouping is deterministic.

mod support;

use support::moto::{Moto, block_on, create_zone, sdk_client};
use support::route53_double::Route53Double;
use terraform_provider_gitopsbridge::route53::{Change, LiveRecord, RecordSet, Route53};

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
