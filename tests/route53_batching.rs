//! Coalesced Route53 writes against moto (through the counting double): changes submitted
//! together leave as one batch, and a batch moto rejects is resent resource by resource so that
//! only the bad change fails.
//!
//! The submissions are made from one task on a single-threaded runtime, so all of them are
//! queued before the batch is sent: the grouping is deterministic.

mod support;

use support::moto::{Moto, block_on, create_zone, records, sdk_client};
use support::route53_double::Route53Double;
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
    let (a, b, c) = block_on(async {
        futures::join!(
            r53.submit_change(&zone_id, "a", &a),
            r53.submit_change(&zone_id, "b", &b),
            r53.submit_change(&zone_id, "c", &c),
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
    let (a, bad, c) = block_on(async {
        futures::join!(
            r53.submit_change(&zone_id, "a", &a),
            r53.submit_change(&zone_id, "ghost", &ghost),
            r53.submit_change(&zone_id, "c", &c),
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
