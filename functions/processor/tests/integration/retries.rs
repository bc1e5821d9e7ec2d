//! Exact aggregates under Lambda's retry shapes, on real AWS APIs (moto_server): the
//! processor's batch flow over the DynamoDB, Firehose and S3 sinks, driven as the event
//! source mapping drives it when a batch is resumed from the middle (partial batch
//! response), bisected after a function error, retried whole after a crash that followed
//! every write, and retried whole after a partial aggregate could not be written. After the
//! aggregator's merge, counts and revenue per window, and per group of an enrichment field
//! in it (`campaign.source`, `referer.medium`, ...), equal those of the events stored.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use pipeline::aggregate::{Granularity, PartialAggregate, group_partials, partials};
use pipeline::group::GroupField;
use pipeline::flow::{BatchFlow, Sinks};
use pipeline::rollup::{AggregateTable, roll_up};
use pipeline::sink::{AggregateStore, EventStore, Indexed, SinkReport};
use pipeline::workload::WorkloadConfig;
use pipeline::{CoreConfig, EnrichedEvent, Record};
use pipeline_aws::{DynamoAggregateStore, DynamoAggregateTable, DynamoEventStore, FirehoseArchive, ProcessorConfig, S3BadRowStore};
use pipeline_testing::moto::sdk_config;
use pipeline_testing::records::timed_records;
use pipeline_testing::stack::{create_stack_with_streams, scan};
use tokio::time::Instant;

/// The events table, failing every record from `fail_from` on while it is set.
struct Events {
    inner: DynamoEventStore,
    fail_from: std::sync::Mutex<Option<usize>>,
}

impl EventStore for Events {
    async fn put_events(&self, events: &[Indexed<'_, EnrichedEvent>], deadline: Instant) -> SinkReport {
        let from = self.fail_from.lock().unwrap().unwrap_or(usize::MAX);
        let (kept, failed): (Vec<_>, Vec<_>) = events.iter().map(|e| Indexed { record: e.record, item: e.item }).partition(|e| e.record < from);
        let mut report = self.inner.put_events(&kept, deadline).await;
        report.failed.extend(failed.iter().map(|e| e.record));
        report
    }
}

/// The aggregates table, refusing the first partial of a write while `fail_one` is set.
struct Aggregates {
    inner: DynamoAggregateStore,
    fail_one: AtomicBool,
}

impl AggregateStore for Aggregates {
    async fn put_partials(&self, partials: &[PartialAggregate], deadline: Instant) -> SinkReport {
        if self.fail_one.load(Ordering::SeqCst) && !partials.is_empty() {
            let mut report = self.inner.put_partials(&partials[1..], deadline).await;
            report.failed.extend(&partials[0].records);
            return report;
        }
        self.inner.put_partials(partials, deadline).await
    }
}

type Flow = BatchFlow<Events, FirehoseArchive, S3BadRowStore, Aggregates>;

fn flow_over(aws: &aws_config::SdkConfig, config: &ProcessorConfig) -> Flow {
    let sinks = pipeline_aws::sinks(config, aws);
    let events = Events { inner: sinks.events, fail_from: std::sync::Mutex::new(None) };
    let aggregates = Aggregates { inner: sinks.aggregates, fail_one: AtomicBool::new(false) };
    BatchFlow::new(
        Arc::new(CoreConfig::embedded().unwrap()),
        Sinks { events, archive: sinks.archive, bad_rows: sinks.bad_rows, aggregates },
    )
}

/// 240 records of one shard, 700 ms of event time apart (three minutes), with bad rows.
fn shard_records() -> Vec<Record> {
    let workload = WorkloadConfig { users: 40, oversize_ratio: 0.0, invalid_ratio: 0.1, attribution: true, ..WorkloadConfig::default() };
    timed_records("shardId-000000000001", 240, workload)
}

/// Count and revenue per series (event type, or `<event_type>/<field>`), minute and group.
type Minutes = BTreeMap<(String, DateTime<Utc>, Option<String>), (u64, BTreeMap<String, u128>)>;

fn expected(records: &[Record]) -> Minutes {
    let outcomes = pipeline::process_batch(&CoreConfig::embedded().unwrap(), records, Utc::now());
    let events: Vec<&EnrichedEvent> = outcomes.iter().filter_map(pipeline::Outcome::as_event).collect();
    let totals = partials(events.iter().copied()).into_iter().map(|(w, a)| ((w.event_type.to_string(), w.minute, None), (a.count, a.revenue)));
    let groups = group_partials(events.iter().copied()).into_iter().map(|((w, g), a)| ((w.event_type.to_string(), w.minute, Some(g)), (a.count, a.revenue)));
    totals.chain(groups).collect()
}

/// The aggregator's merge, then every minute row of 27 November 2026.
async fn merged(aws: &aws_config::SdkConfig, config: &ProcessorConfig) -> Minutes {
    let table = DynamoAggregateTable::new(aws_sdk_dynamodb::Client::new(aws), &config.aggregates_table);
    roll_up(&table, usize::MAX).await.unwrap();
    let day = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
    let mut out = Minutes::new();
    for t in pipeline::workload::EVENT_TYPES {
        for series in std::iter::once(t.to_owned()).chain(GroupField::ALL.map(|f| f.series(t))) {
            for row in table.rows(Granularity::Minute, &series, day, day + chrono::Duration::days(1)).await.unwrap() {
                out.insert((series.clone(), row.window_start, row.group.clone()), (row.aggregate.count, row.aggregate.revenue.clone()));
            }
        }
    }
    out
}

/// One invocation over `records[from..to]`: the record Lambda resumes from, if any.
async fn invoke(flow: &Flow, records: &[Record], from: usize, to: usize) -> Option<usize> {
    let report = flow.run(&records[from..to], Instant::now() + Duration::from_secs(60)).await;
    report.retry_from.map(|seq| records.iter().position(|r| r.sequence_number == seq).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server: scripts/test.sh starts it and runs the ignored tests"]
async fn resumed_bisected_and_whole_retries_keep_counts_and_revenue_exact() {
    let aws = sdk_config().await;
    let records = shard_records();
    let n = records.len();
    let want = expected(&records);
    assert!(want.len() >= 8, "several windows: {want:?}");
    assert!(want.keys().filter(|(_, _, group)| group.is_some()).count() >= 20, "many groups: {want:?}");
    let shapes = ["resumed from the middle", "bisected after a crash", "retried whole after a crash", "a partial that could not be written"];
    for (i, shape) in shapes.into_iter().enumerate() {
        let config = create_stack_with_streams(&aws, &format!("retries-{i}"), 1).await;
        let flow = flow_over(&aws, &config);
        match shape {
            "resumed from the middle" => {
                *flow.sinks().events.fail_from.lock().unwrap() = Some(150);
                let at = invoke(&flow, &records, 0, n).await.expect("a partial batch response");
                assert!((150..160).contains(&at), "{at}");
                *flow.sinks().events.fail_from.lock().unwrap() = None;
                // Lambda resumes there, in batches that end elsewhere.
                assert_eq!(invoke(&flow, &records, at, 200).await, None);
                assert_eq!(invoke(&flow, &records, 200, n).await, None);
            }
            "bisected after a crash" => {
                // Every write done, then the function fails: Lambda splits the batch.
                let _lost = invoke(&flow, &records, 0, n).await;
                assert_eq!(invoke(&flow, &records, 0, n / 2).await, None);
                assert_eq!(invoke(&flow, &records, n / 2, n).await, None);
            }
            "retried whole after a crash" => {
                let _lost = invoke(&flow, &records, 0, n).await;
                assert_eq!(invoke(&flow, &records, 0, n).await, None);
            }
            _ => {
                flow.sinks().aggregates.fail_one.store(true, Ordering::SeqCst);
                *flow.sinks().events.fail_from.lock().unwrap() = Some(100);
                assert_eq!(invoke(&flow, &records, 0, n).await, Some(0), "the whole batch again");
                flow.sinks().aggregates.fail_one.store(false, Ordering::SeqCst);
                *flow.sinks().events.fail_from.lock().unwrap() = None;
                assert_eq!(invoke(&flow, &records, 0, 120).await, None);
                assert_eq!(invoke(&flow, &records, 120, n).await, None);
            }
        }
        assert_eq!(merged(&aws, &config).await, want, "{shape}");
        let stored = scan(&aws, &config.events_table).await.len();
        let valid = want.iter().filter(|((_, _, group), _)| group.is_none()).map(|(_, (count, _))| *count as usize).sum::<usize>();
        assert_eq!(stored, valid, "{shape}: every valid event stored once");
    }
}
