//! Aggregates end to end on real AWS APIs (moto_server): the processor writes partials,
//! the aggregator merges them (twice, and concurrently, changing nothing more), and the
//! query Lambda's handler serves them.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use aggregator::Aggregator;
use common::*;
use pipeline::workload::{Workload, WorkloadConfig};
use pipeline_aws::DynamoAggregateTable;
use pipeline_testing::moto::sdk_config;
use pipeline_testing::records::timed_records;
use pipeline_testing::stack::{create_stack, scan};
use processor::Processor;
use tokio::time::Instant;

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// Every aggregate row (`AGG#...`) of the table, for before/after comparisons.
async fn rows(aws: &aws_config::SdkConfig, table: &str) -> Vec<String> {
    scan(aws, table)
        .await
        .iter()
        .filter(|i| i["pk"].as_s().unwrap().starts_with("AGG#"))
        .map(|i| format!("{} {} count={} users={} version={}", i["pk"].as_s().unwrap(), i["sk"].as_s().unwrap(), i["count"].as_n().unwrap(), i["unique_users"].as_n().unwrap(), i["version"].as_n().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server: scripts/test.sh starts it and runs the ignored tests"]
async fn processor_then_aggregator_then_query() {
    let aws = sdk_config().await;
    let config = create_stack(&aws, "aggregates").await;
    let processor = Processor::new(&config, &aws).unwrap();
    let aggregator = Aggregator::new(DynamoAggregateTable::new(aws_sdk_dynamodb::Client::new(&aws), &config.aggregates_table));
    let api = query_api(&aws, &config);

    // Two batches of two shards: 600 events from 12:00 on 27 November 2026, 1 ms apart.
    let mut workload = Workload::new(WorkloadConfig { users: 200, oversize_ratio: 0.0, ..WorkloadConfig::default() });
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    let mut batches = Vec::new();
    for shard in ["shardId-000000000000", "shardId-000000000001"] {
        let records = workload.records(300, shard);
        batches.push(records);
    }
    for records in &batches {
        let (response, report, _) = processor.answer(&kinesis_event(records), deadline()).await;
        assert!(response.batch_item_failures.is_empty(), "{report:#?}");
        assert_eq!(report.aggregates.failed.len(), 0);
    }
    // The expected counts: the core's own verdicts on the same events.
    let core = pipeline::CoreConfig::embedded().unwrap();
    for records in &batches {
        for outcome in pipeline::process_batch(&core, records, chrono::Utc::now()) {
            if let pipeline::Outcome::Event(e) = outcome {
                *expected.entry(e.event_type.to_string()).or_default() += 1;
            }
        }
    }

    let first = aggregator.run(deadline()).await.unwrap();
    assert!(first.windows > 0 && first.partials > 0, "{first:?}");
    let months = rows(&aws, &config.aggregates_table).await;
    let totals = months.iter().filter(|r| r.starts_with("AGG#month#") && !r.split(' ').next().unwrap().contains('/')).count();
    assert_eq!(totals, expected.len(), "one month row per event type: {months:?}");
    // The rest are the groups of the enrichment fields (the workload's referrers).
    assert!(first.rows[3] >= expected.len(), "{first:?}");

    for granularity in ["minute", "hour", "day", "month"] {
        let (status, body) = call(&api, "/v1/aggregates", &[("granularity", granularity), ("from", "2026-11-27T00:00:00Z"), ("to", "2026-11-27T23:59:59Z")]).await;
        assert_eq!(status, 200, "{body}");
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for row in body["aggregates"].as_array().unwrap() {
            *counts.entry(row["event_type"].as_str().unwrap().to_owned()).or_default() += row["count"].as_u64().unwrap();
        }
        if granularity == "month" {
            // The month row starts on 1 November, before `from`: ask for it by its start.
            let (_, body) = call(&api, "/v1/aggregates", &[("granularity", "month"), ("from", "2026-11-01T00:00:00Z"), ("to", "2026-11-30T00:00:00Z")]).await;
            counts.clear();
            for row in body["aggregates"].as_array().unwrap() {
                *counts.entry(row["event_type"].as_str().unwrap().to_owned()).or_default() += row["count"].as_u64().unwrap();
                assert!(row["unique_users"].as_u64().unwrap() <= 200);
            }
        }
        assert_eq!(counts, expected, "{granularity}");
    }
    let (_, body) = call(&api, "/v1/aggregates", &[("granularity", "day"), ("event_type", "purchase"), ("from", "2026-11-27T00:00:00Z"), ("to", "2026-11-27T00:00:00Z")]).await;
    let revenue = &body["aggregates"][0]["revenue"];
    assert!(revenue.as_object().is_some_and(|m| !m.is_empty()), "{body}");

    // Run again: nothing is touched, nothing changes.
    let before = rows(&aws, &config.aggregates_table).await;
    let again = aggregator.run(deadline()).await.unwrap();
    assert_eq!(again.windows, 0, "{again:?}");
    assert_eq!(rows(&aws, &config.aggregates_table).await, before);

    // A replayed batch overwrites its own partials: after two concurrent runs, same rows.
    let (response, _, _) = processor.answer(&kinesis_event(&batches[0]), deadline()).await;
    assert!(response.batch_item_failures.is_empty());
    let (a, b) = tokio::join!(aggregator.run(deadline()), aggregator.run(deadline()));
    a.unwrap();
    b.unwrap();
    assert_eq!(rows(&aws, &config.aggregates_table).await, before);

    // The users' events route and the API's refusals.
    let (status, body) = call(&api, "/v1/users/u-42/events", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["events"].is_array());
    let (status, body) = call(&api, "/v1/aggregates", &[("granularity", "week")]).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("minute, hour, day, month"));
    let (status, _) = call(&api, "/v1/aggregates", &[("from", "2026-11-28T00:00:00Z"), ("to", "2026-11-27T00:00:00Z")]).await;
    assert_eq!(status, 400);
    let (status, _) = call(&api, "/v1/nothing", &[]).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server: scripts/test.sh starts it and runs the ignored tests"]
async fn users_events_page_newest_first_through_the_query_handler() {
    let aws = sdk_config().await;
    let config = create_stack(&aws, "userpages").await;
    let processor = Processor::new(&config, &aws).unwrap();
    let (response, _, _) = processor.answer(&fixture_event(), deadline()).await;
    assert!(response.batch_item_failures.is_empty());
    let api = query_api(&aws, &config);
    // u-42 has 3 valid events in the fixture: pages of 2 then 1, newest first.
    let (status, first) = call(&api, "/v1/users/u-42/events", &[("limit", "2")]).await;
    assert_eq!(status, 200, "{first}");
    let cursor = first["next_cursor"].as_str().expect("a second page").to_owned();
    let (_, second) = call(&api, "/v1/users/u-42/events", &[("limit", "2"), ("cursor", &cursor)]).await;
    let times: Vec<String> = first["events"].as_array().unwrap().iter().chain(second["events"].as_array().unwrap()).map(|e| e["timestamp"].as_str().unwrap().to_owned()).collect();
    assert_eq!(times.len(), 3, "{first} {second}");
    let mut sorted = times.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(times, sorted, "newest first");
    let (status, _) = call(&api, "/v1/users/u-42/events", &[("cursor", "garbage")]).await;
    assert_eq!(status, 400);
}

/// `n` records of `shard` with campaign URLs and referrers, over several minutes.
fn attributed_records(shard: &str, n: usize, seed: u64) -> Vec<pipeline::Record> {
    timed_records(shard, n, WorkloadConfig { seed, users: 50, oversize_ratio: 0.0, attribution: true, ..WorkloadConfig::default() })
}

/// (window start, event type, group) → count, from a `GET /v1/aggregates` body.
fn grouped_counts(body: &serde_json::Value) -> BTreeMap<(String, String, String), u64> {
    let mut counts = BTreeMap::new();
    for row in body["aggregates"].as_array().unwrap() {
        let group = row["group"].as_str().unwrap_or_else(|| panic!("a grouped row carries its group: {row}")).to_owned();
        let key = (row["window_start"].as_str().unwrap().to_owned(), row["event_type"].as_str().unwrap().to_owned(), group);
        assert!(counts.insert(key, row["count"].as_u64().unwrap()).is_none(), "one row per window, type and group: {body}");
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server: scripts/test.sh starts it and runs the ignored tests"]
async fn grouped_aggregates_are_exact_through_the_query_handler_after_retries() {
    use pipeline::aggregate::{Granularity, group_partials};
    use pipeline::group::GroupField;
    let aws = sdk_config().await;
    let config = create_stack(&aws, "grouped").await;
    let processor = Processor::new(&config, &aws).unwrap();
    let aggregator = Aggregator::new(DynamoAggregateTable::new(aws_sdk_dynamodb::Client::new(&aws), &config.aggregates_table));
    let api = query_api(&aws, &config);
    let (a, b) = (attributed_records("shardId-000000000000", 300, 1), attributed_records("shardId-000000000001", 300, 2));

    // Shard 0: the whole batch, its answer lost, then Lambda bisects it. Shard 1: the
    // whole batch twice (the first answer lost).
    for batch in [&a[..], &a[..150], &a[150..], &b[..], &b[..]] {
        let (response, report, _) = processor.answer(&kinesis_event(batch), deadline()).await;
        assert!(response.batch_item_failures.is_empty(), "{report:#?}");
    }
    let report = aggregator.run(deadline()).await.unwrap();
    assert_eq!(report.skipped, 0, "{report:?}");

    // The expected counts: the core's own events, each counted once.
    let core = pipeline::CoreConfig::embedded().unwrap();
    let events: Vec<pipeline::EnrichedEvent> = [&a, &b]
        .into_iter()
        .flat_map(|records| pipeline::process_batch(&core, records, chrono::Utc::now()))
        .filter_map(|o| if let pipeline::Outcome::Event(e) = o { Some(e) } else { None })
        .collect();
    let cells = group_partials(events.iter());
    for by in GroupField::ALL {
        let want_in = |granularity: Granularity| {
            let mut want: BTreeMap<(String, String, String), u64> = BTreeMap::new();
            for ((window, value), aggregate) in &cells {
                let Some(event_type) = window.event_type.strip_suffix(&format!("/{by}")) else { continue };
                let start = pipeline::time_format::format_seconds(granularity.window_start(window.minute));
                *want.entry((start, event_type.to_owned(), value.clone())).or_default() += aggregate.count;
            }
            want
        };
        for granularity in [Granularity::Minute, Granularity::Hour, Granularity::Day] {
            let params = [("granularity", granularity.as_str()), ("by", by.as_str()), ("from", "2026-11-27T00:00:00Z"), ("to", "2026-11-27T23:59:59Z")];
            let (status, body) = call(&api, "/v1/aggregates", &params).await;
            assert_eq!(status, 200, "{body}");
            let want = want_in(granularity);
            assert!(want.len() >= 3, "{by}: several groups in the workload: {want:?}");
            assert_eq!(grouped_counts(&body), want, "{by} by {granularity}");
        }
    }
    // One event type's groups, and a group's users and revenue are those of its events.
    let (_, body) = call(&api, "/v1/aggregates", &[("granularity", "day"), ("event_type", "pageview"), ("by", "referer.medium"), ("from", "2026-11-27T00:00:00Z")]).await;
    let rows = body["aggregates"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|r| r["event_type"] == "pageview"), "{body}");
    let mediums: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["group"].as_str().unwrap()).collect();
    assert!(mediums.contains("search") && mediums.contains("social"), "{mediums:?}");

    // The totals are unchanged by grouping, and carry no group.
    let (_, totals) = call(&api, "/v1/aggregates", &[("granularity", "day"), ("from", "2026-11-27T00:00:00Z")]).await;
    let total: u64 = totals["aggregates"].as_array().unwrap().iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(total as usize, events.len(), "{totals}");
    assert!(totals["aggregates"].as_array().unwrap().iter().all(|r| r.get("group").is_none()), "{totals}");

    // A field that is not grouped is refused with the list of those that are.
    for by in ["campaign.term", "lookup.plans.tier", "", "campaign"] {
        let (status, body) = call(&api, "/v1/aggregates", &[("by", by)]).await;
        assert_eq!(status, 400, "by={by}: {body}");
        assert!(body["message"].as_str().unwrap().contains("campaign.source, campaign.medium, campaign.name, referer.medium, referer.source"), "{body}");
    }
}
