//! The Route53 client against moto (through the error double): refresh coalescing, retries of
//! throttling, verbatim InvalidChangeBatch messages, zone lookup rules, and change batches at
//! their deadline or with their answer lost.

mod support;

use std::time::Duration;

use futures::StreamExt;
use support::moto::{Moto, block_on, create_zone, records, sdk_client, sdk_client_with_backoff};
use support::route53_double::{Fault, Route53Double};
use terraform_provider_gitopsbridge::halt::{Deadline, Halt, Operation};
use terraform_provider_gitopsbridge::protocol::Context;
use terraform_provider_gitopsbridge::route53::{Change, Changed, RecordSet, Route53, Route53Error};
use tokio_util::sync::CancellationToken;

fn cname(name: &str, set_identifier: &str, weight: i64) -> RecordSet {
    RecordSet {
        name: name.to_string(),
        record_type: "CNAME".into(),
        set_identifier: Some(set_identifier.into()),
        weight: Some(weight),
        ttl: Some(60),
        values: vec![format!("{set_identifier}.elb.example.net")],
        alias: None,
        health_check_id: None,
    }
}

#[test]
fn refreshing_200_records_of_one_zone_lists_the_zone_once() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone_id = create_zone(&moto.endpoint(), "example.com");
    let names: Vec<String> = (0..200).map(|i| format!("app{i}.example.com")).collect();
    let writer = Route53::from_client(sdk_client(&moto.endpoint(), 1), 1);
    let batch: Vec<Change> = names.iter().map(|n| Change::Create(cname(n, "blue", 100))).collect();
    block_on(writer.change(&zone_id, "seed", &batch)).expect("seed records");

    let r53 = Route53::from_client(sdk_client(&double.endpoint(), 10), 10);
    block_on(async {
        let zone = r53.zone_by_id(&zone_id).await.expect("zone");
        // Terraform refreshes ten resources at a time.
        let found: Vec<usize> = futures::stream::iter(&names)
            .map(|name| {
                let (r53, zone) = (r53.clone(), zone.clone());
                async move { r53.records_named(&zone, name).await.expect("read").len() }
            })
            .buffer_unordered(10)
            .collect()
            .await;
        assert!(found.iter().all(|n| *n == 1), "every record found once");
    });
    assert_eq!(r53.calls().list_record_sets(), 1);
    assert_eq!(double.count("ListResourceRecordSets"), 1);
    assert_eq!(double.count("GetHostedZone"), 1);

    // Our own write drops the listing: the next read lists again, once.
    block_on(async {
        let zone = r53.zone_by_id(&zone_id).await.expect("zone");
        r53.change(&zone_id, "flip", &[Change::Upsert(cname("app7.example.com", "blue", 0))]).await.expect("upsert");
        let after = r53.records_named(&zone, "app7.example.com").await.expect("read");
        assert_eq!(after[0].set.weight, Some(0));
        r53.records_named(&zone, "app8.example.com").await.expect("read");
    });
    assert_eq!(double.count("ListResourceRecordSets"), 2);
}

#[test]
fn throttling_and_prior_request_not_complete_are_retried() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone_id = create_zone(&moto.endpoint(), "example.com");
    let r53 = Route53::from_client(sdk_client(&double.endpoint(), 10), 10);
    double.fail("ChangeResourceRecordSets", Fault::Throttling, 2);
    double.fail("ChangeResourceRecordSets", Fault::PriorRequestNotComplete, 3);
    block_on(r53.change(&zone_id, "t", &[Change::Create(cname("a.example.com", "blue", 1))]))
        .expect("retried to success");
    assert_eq!(double.count("ChangeResourceRecordSets"), 6);

    let few = Route53::from_client(sdk_client(&double.endpoint(), 2), 2);
    double.fail("ChangeResourceRecordSets", Fault::PriorRequestNotComplete, 2);
    match block_on(few.change(&zone_id, "t", &[Change::Create(cname("b.example.com", "blue", 1))])) {
        Err(Route53Error::Throttled { code, attempts: 2, .. }) => assert_eq!(code, "PriorRequestNotComplete"),
        other => panic!("expected Throttled, got {other:?}"),
    }
}

#[test]
fn invalid_change_batch_messages_are_kept_verbatim() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone_id = create_zone(&moto.endpoint(), "example.com");
    let r53 = Route53::from_client(sdk_client(&double.endpoint(), 10), 10);
    let message = "[RRSet with DNS name a.example.com., type CNAME, SetIdentifier blue cannot be created as other RRSets exist with the same name and type but a different TTL.]";
    double.fail("ChangeResourceRecordSets", Fault::InvalidChangeBatch(message.into()), 1);
    match block_on(r53.change(&zone_id, "t", &[Change::Create(cname("a.example.com", "blue", 1))])) {
        Err(Route53Error::InvalidChangeBatch(m)) => assert_eq!(m, message),
        other => panic!("expected InvalidChangeBatch, got {other:?}"),
    }
    assert_eq!(double.count("ChangeResourceRecordSets"), 1, "not retried");
}

#[test]
fn zones_are_found_by_exact_name_and_ambiguity_is_an_error() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let public = create_zone(&endpoint, "example.com");
    create_zone(&endpoint, "sub.example.com");
    let r53 = Route53::from_client(sdk_client(&endpoint, 1), 1);
    let zone = block_on(r53.zone_by_name("Example.COM.")).expect("zone");
    assert_eq!((zone.id.as_str(), zone.name.as_str()), (public.as_str(), "example.com"));
    assert!(matches!(block_on(r53.zone_by_name("example.org")), Err(Route53Error::ZoneNotFound(_))));
    assert!(matches!(block_on(r53.zone_by_id("ZNOSUCHZONE")), Err(Route53Error::ZoneNotFound(_))));

    block_on(async {
        sdk_client(&endpoint, 1)
            .create_hosted_zone()
            .name("example.com")
            .caller_reference("private-example")
            .hosted_zone_config(aws_sdk_route53::types::HostedZoneConfig::builder().private_zone(true).build())
            .vpc(
                aws_sdk_route53::types::Vpc::builder()
                    .vpc_id("vpc-12345678")
                    .vpc_region(aws_sdk_route53::types::VpcRegion::UsEast1)
                    .build(),
            )
            .send()
            .await
            .expect("private zone");
    });
    let fresh = Route53::from_client(sdk_client(&endpoint, 1), 1);
    match block_on(fresh.zone_by_name("example.com")) {
        Err(Route53Error::AmbiguousZone { ids, .. }) => assert_eq!(ids.len(), 2),
        other => panic!("expected AmbiguousZone, got {other:?}"),
    }
}

#[test]
fn changes_are_polled_until_insync_and_the_wait_has_a_deadline() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone_id = create_zone(&moto.endpoint(), "example.com");
    let r53 = Route53::from_client(sdk_client(&double.endpoint(), 10), 10);
    double.propagate_slowly(2);
    let change =
        block_on(r53.change(&zone_id, "t", &[Change::Create(cname("a.example.com", "blue", 1))])).expect("change");
    let change = change.expect("a PENDING change to wait for");
    let ctx = Context::default();
    let within = |limit| Deadline::after(Operation::Create, limit);
    block_on(async { r53.wait_insync(&change, &ctx, Some(&within(Duration::from_secs(30)))).await }).expect("in sync");
    assert_eq!(double.count("GetChange"), 3, "two PENDING answers, then INSYNC");

    double.propagate_slowly(1000);
    let change =
        block_on(r53.change(&zone_id, "t", &[Change::Create(cname("b.example.com", "blue", 1))])).expect("change");
    let change = change.expect("pending");
    match block_on(async { r53.wait_insync(&change, &ctx, Some(&within(Duration::from_millis(1500)))).await }) {
        Err(Route53Error::SyncTimeout { change_id, .. }) => assert!(!change_id.is_empty()),
        other => panic!("expected SyncTimeout, got {other:?}"),
    }
    let stopped = CancellationToken::new();
    stopped.cancel();
    let ctx = Context::new(stopped, Default::default());
    match block_on(async { r53.wait_insync("C123", &ctx, Some(&within(Duration::from_secs(60)))).await }) {
        Err(Route53Error::Cancelled(_)) => {}
        other => panic!("expected Cancelled, got {other:?}"),
    }
}

const CHANGE: &str = "ChangeResourceRecordSets";

/// The weighted records of `name` in moto, as `(set identifier, weight)`.
fn members(moto: &Moto, zone_id: &str, name: &str) -> Vec<(String, i64)> {
    records(&moto.endpoint(), zone_id)
        .into_iter()
        .filter(|r| r.name.trim_end_matches('.') == name)
        .filter_map(|r| Some((r.set_identifier?, r.weight?)))
        .collect()
}

#[test]
fn a_retry_that_finds_the_batch_its_lost_answer_applied_takes_it_as_its_own() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone_id = create_zone(&moto.endpoint(), "example.com");
    let r53 = Route53::from_client(sdk_client(&double.endpoint(), 3), 3);
    let ctx = Context::default();

    // The CREATE lands, its answer is lost; the retry is told the record exists, and it is exactly
    // the one this call sent.
    double.fail(CHANGE, Fault::DropAnswer, 1);
    let create = [Change::Create(cname("a.example.com", "blue", 1))];
    let changed = block_on(async { r53.change_within(&zone_id, "t", &create, &ctx, None).await });
    assert_eq!(changed.expect("the lost answer's write is recognised"), Changed::AnswerLost);
    assert_eq!(double.count(CHANGE), 2);
    assert_eq!(members(&moto, &zone_id, "a.example.com"), [("blue".to_string(), 1)]);

    // A rejected retry after a lost connection whose batch is not in place is not success: the
    // live records decide, not the error.
    double.fail(CHANGE, Fault::Drop, 1);
    double.fail(
        CHANGE,
        Fault::InvalidChangeBatch("[Tried to create resource record set but it already exists]".into()),
        1,
    );
    let create = [Change::Create(cname("b.example.com", "blue", 1))];
    match block_on(async { r53.change_within(&zone_id, "t", &create, &ctx, None).await }) {
        Err(e @ Route53Error::MaybeApplied(_)) => {
            assert!(e.uncertain());
            assert!(matches!(e.cause(), Route53Error::InvalidChangeBatch(_)), "{e:?}");
        }
        other => panic!("expected an uncertain rejection, got {other:?}"),
    }
    assert!(members(&moto, &zone_id, "b.example.com").is_empty());

    // Without a lost answer a rejection is certain.
    double.fail(CHANGE, Fault::InvalidChangeBatch("[no]".into()), 1);
    let err = block_on(async { r53.change_within(&zone_id, "t", &create, &ctx, None).await }).unwrap_err();
    assert!(matches!(err, Route53Error::InvalidChangeBatch(_)) && !err.uncertain(), "{err:?}");
}

#[test]
fn at_the_deadline_no_retry_starts_and_the_backoff_is_not_waited_out() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone_id = create_zone(&moto.endpoint(), "example.com");
    // Without the deadline the retry would wait a minute first.
    let r53 = Route53::from_client(sdk_client_with_backoff(&double.endpoint(), 5, Duration::from_secs(60)), 5);
    let ctx = Context::default();
    double.fail(CHANGE, Fault::Throttling, 5);
    let deadline = block_on(async { Deadline::after(Operation::Update, Duration::from_millis(500)) });
    let started = std::time::Instant::now();
    let change = [Change::Upsert(cname("a.example.com", "blue", 1))];
    let result = block_on(async { r53.change_within(&zone_id, "t", &change, &ctx, Some(&deadline)).await });
    assert!(started.elapsed() < Duration::from_secs(30), "the backoff ran on: {:?}", started.elapsed());
    match result {
        Err(Route53Error::Halted { halt: Halt::Deadline(expired), attempts: 1, last, uncertain: false }) => {
            assert_eq!(expired, deadline.expired());
            assert_eq!(last.as_deref(), Some("400 Throttling"));
        }
        other => panic!("expected the deadline to stop the retries, got {other:?}"),
    }
    assert_eq!(double.count(CHANGE), 1, "no attempt after the deadline");

    // A deadline already passed sends nothing at all.
    let passed = block_on(async { Deadline::after(Operation::Update, Duration::ZERO) });
    let late = block_on(async { r53.change_within(&zone_id, "t", &change, &ctx, Some(&passed)).await });
    assert!(matches!(late, Err(Route53Error::Halted { attempts: 0, .. })), "{late:?}");
    assert_eq!(double.count(CHANGE), 1);
}

#[test]
fn a_change_in_flight_at_the_deadline_is_finished() {
    let moto = Moto::start();
    let double = Route53Double::start(&moto.endpoint());
    let zone_id = create_zone(&moto.endpoint(), "example.com");
    let r53 = Route53::from_client(sdk_client(&double.endpoint(), 3), 3);
    let ctx = Context::default();
    // Applied at once, answered two seconds later: long after the deadline.
    double.fail(CHANGE, Fault::DelayAnswer(Duration::from_secs(2)), 1);
    let deadline = block_on(async { Deadline::after(Operation::Create, Duration::from_millis(200)) });
    let create = [Change::Create(cname("a.example.com", "blue", 1))];
    let changed = block_on(async { r53.change_within(&zone_id, "t", &create, &ctx, Some(&deadline)).await });
    assert_eq!(changed.expect("finished, not abandoned"), Changed::InSync);
    assert!(deadline.passed());
    assert_eq!(double.count(CHANGE), 1);
    assert_eq!(members(&moto, &zone_id, "a.example.com"), [("blue".to_string(), 1)]);
}
