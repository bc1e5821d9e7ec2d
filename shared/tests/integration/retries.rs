//! Aggregates stay exact under every retry shape of a Kinesis event source mapping: the
//! batch flow runs over one shard as Lambda drives it (batches of any size from the
//! checkpoint; partial batch responses resume from the lowest failed record; a function
//! error retries the batch whole or bisected; a batch given up on is replayed later), with
//! faults injected into the sinks and invocations that crash after some or all of their
//! writes. At the end the merged counts and revenue of every window, and of every group of
//! an enrichment field in it (`campaign.source`, `referer.medium`, ...), equal those of the
//! events stored, and every valid event is stored once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use pipeline::aggregate::{Aggregate, Granularity, PartialAggregate, group_partials, partials};
use pipeline::group::GroupField;
use pipeline::bad_row::BadRow;
use pipeline::flow::{BatchFlow, Sinks, compare_sequence_numbers};
use pipeline::rollup::{AggregateTable, MemoryAggregateTable, roll_up};
use pipeline::sink::{AggregateStore, Archive, BadRowStore, BatchKey, EventStore, Indexed, SinkReport};
use pipeline::workload::WorkloadConfig;
use pipeline::{CoreConfig, EnrichedEvent, Outcome, Record, process_batch};
use pipeline_testing::records::timed_records;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

const SHARD: &str = "shardId-000000000007";

/// What goes wrong in one invocation.
#[derive(Clone, Debug, Default)]
struct Fault {
    /// The events sink fails every record from this index of the batch on.
    events_fail_from: Option<usize>,
    /// The `n`th partial of the `call`th write of partials (0: the first) fails.
    partial_fails: Option<(usize, usize)>,
    /// The aggregates sink writes only the partials this seed picks, and says it wrote
    /// them all; the invocation then crashes.
    torn_writes: Option<u64>,
    /// The invocation crashes after its writes: its answer never reaches Lambda.
    answer_lost: bool,
}

#[derive(Default)]
struct Stores {
    events: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    table: MemoryAggregateTable,
    fault: Mutex<Fault>,
    partial_calls: Mutex<usize>,
}

impl Stores {
    fn fault(&self) -> Fault {
        self.fault.lock().unwrap().clone()
    }
}

struct Events(Arc<Stores>);
struct Aggregates(Arc<Stores>);
struct Nothing;

impl EventStore for Events {
    async fn put_events(&self, events: &[Indexed<'_, EnrichedEvent>], _: Instant) -> SinkReport {
        let from = self.0.fault().events_fail_from.unwrap_or(usize::MAX);
        let mut report = SinkReport::default();
        let mut stored = self.0.events.lock().unwrap();
        for e in events {
            if e.record >= from {
                report.failed.push(e.record);
            } else {
                stored.insert((e.item.partition_key(), e.item.sort_key.clone()), e.item.json.clone());
                report.written += 1;
            }
        }
        report
    }
}

impl Archive for Nothing {
    async fn archive(&self, _: &BatchKey, events: &[Indexed<'_, EnrichedEvent>], _: Instant) -> SinkReport {
        SinkReport { written: events.len(), ..SinkReport::default() }
    }
}

impl BadRowStore for Nothing {
    async fn put_bad_rows(&self, _: &BatchKey, rows: &[Indexed<'_, BadRow>], _: Instant) -> SinkReport {
        SinkReport { written: rows.len(), ..SinkReport::default() }
    }
}

impl AggregateStore for Aggregates {
    async fn put_partials(&self, partials: &[PartialAggregate], _: Instant) -> SinkReport {
        let fault = self.0.fault();
        let call = {
            let mut calls = self.0.partial_calls.lock().unwrap();
            *calls += 1;
            *calls - 1
        };
        let mut torn = fault.torn_writes.map(SmallRng::seed_from_u64);
        let mut report = SinkReport::default();
        for (n, p) in partials.iter().enumerate() {
            if fault.partial_fails == Some((call, n)) {
                report.failed.extend(&p.records);
                continue;
            }
            if torn.as_mut().is_none_or(|rng| rng.random_bool(0.5)) {
                self.0.table.put_partial(&p.window.event_type, p.window.minute, &p.key, &p.aggregate);
            }
            report.written += 1;
        }
        report
    }
}

type Flow = BatchFlow<Events, Nothing, Nothing, Aggregates>;

/// `n` records of one shard, 700 ms of event time apart (so several minutes), with bad rows.
fn shard_records(n: usize, seed: u64) -> Vec<Record> {
    // Campaign URLs and referrers, so the groups of the enrichment fields are counted too.
    timed_records(SHARD, n, WorkloadConfig { seed, users: 40, oversize_ratio: 0.0, invalid_ratio: 0.1, attribution: true, ..WorkloadConfig::default() })
}

/// What Lambda learns from one invocation.
enum Answer {
    Done,
    RetryFrom(usize),
    /// The function failed or its answer was lost.
    Failed,
}

/// One invocation over `records[from..to]` with `fault`.
async fn invoke(flow: &Flow, stores: &Stores, records: &[Record], from: usize, to: usize, fault: Fault) -> Answer {
    let crashes = fault.torn_writes.is_some() || fault.answer_lost;
    *stores.fault.lock().unwrap() = fault;
    *stores.partial_calls.lock().unwrap() = 0;
    let report = flow.run(&records[from..to], Instant::now() + Duration::from_secs(30)).await;
    if crashes {
        return Answer::Failed;
    }
    match report.retry_from {
        None => Answer::Done,
        Some(seq) => {
            let at = records.iter().position(|r| r.sequence_number == seq).expect("retry_from is a record of the batch");
            assert!(at >= from && at < to, "retry_from {seq} lies outside the batch");
            Answer::RetryFrom(at)
        }
    }
}

fn random_fault(rng: &mut SmallRng, len: usize) -> Fault {
    match rng.random_range(0..10) {
        0..=3 => Fault::default(),
        4 | 5 => Fault { events_fail_from: Some(rng.random_range(0..len)), ..Fault::default() },
        6 => Fault { partial_fails: Some((0, rng.random_range(0..4))), ..Fault::default() },
        7 => Fault {
            events_fail_from: Some(rng.random_range(0..len)),
            partial_fails: Some((1, rng.random_range(0..4))),
            ..Fault::default()
        },
        8 => Fault { events_fail_from: rng.random_bool(0.5).then(|| rng.random_range(0..len)), answer_lost: true, ..Fault::default() },
        _ => Fault {
            events_fail_from: rng.random_bool(0.5).then(|| rng.random_range(0..len)),
            torn_writes: Some(rng.random()),
            ..Fault::default()
        },
    }
}

/// Drives `records[start..end]` to its end as Lambda would, from checkpoint `start`;
/// returns the ranges given up on (retries exhausted) when `give_up` allows it.
async fn drive(flow: &Flow, stores: &Stores, records: &[Record], (start, end): (usize, usize), rng: &mut SmallRng, give_up: bool) -> Vec<(usize, usize)> {
    let mut checkpoint = start;
    let mut skipped = Vec::new();
    // After a function error Lambda retries the same batch, or bisects it.
    let mut next_end: Option<usize> = None;
    let mut attempts = 0;
    while checkpoint < end {
        let to = next_end.take().unwrap_or_else(|| (checkpoint + rng.random_range(1..=60)).min(end));
        let fault = if attempts > 6 { Fault::default() } else { random_fault(rng, to - checkpoint) };
        attempts += 1;
        let answer = invoke(flow, stores, records, checkpoint, to, fault).await;
        if give_up && !matches!(answer, Answer::Done) && rng.random_bool(0.1) {
            // Retries exhausted: the batch's metadata goes to the on-failure queue.
            let from = match answer {
                Answer::RetryFrom(at) => at,
                _ => checkpoint,
            };
            skipped.push((from, to));
            checkpoint = to;
            attempts = 0;
            continue;
        }
        match answer {
            Answer::Done => {
                checkpoint = to;
                attempts = 0;
            }
            Answer::RetryFrom(at) => checkpoint = at,
            Answer::Failed => {
                let len = to - checkpoint;
                next_end = Some(if len > 1 && rng.random_bool(0.5) { checkpoint + len / 2 } else { to });
            }
        }
    }
    skipped
}

/// Count and revenue per series (event type, or `<event_type>/<field>`), minute and group.
type Cells = BTreeMap<(String, DateTime<Utc>, Option<String>), (u64, BTreeMap<String, u128>)>;

/// Each window's and group's count and revenue, from the merged minute rows.
async fn merged_minutes(table: &MemoryAggregateTable) -> Cells {
    roll_up(table, usize::MAX).await.unwrap();
    let mut out = BTreeMap::new();
    let from = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
    for t in pipeline::workload::EVENT_TYPES {
        for series in std::iter::once(t.to_owned()).chain(GroupField::ALL.map(|f| f.series(t))) {
            for row in table.rows(Granularity::Minute, &series, from, from + chrono::Duration::days(1)).await.unwrap() {
                out.insert((series.clone(), row.window_start, row.group.clone()), (row.aggregate.count, row.aggregate.revenue.clone()));
            }
        }
    }
    out
}

fn expected_minutes(events: &[EnrichedEvent]) -> Cells {
    let totals = partials(events.iter()).into_iter().map(|(w, a): (_, Aggregate)| ((w.event_type.to_string(), w.minute, None), (a.count, a.revenue)));
    let groups = group_partials(events.iter()).into_iter().map(|((w, g), a)| ((w.event_type.to_string(), w.minute, Some(g)), (a.count, a.revenue)));
    totals.chain(groups).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_retry_shape_counts_each_event_once() {
    let registry = Arc::new(CoreConfig::embedded().unwrap());
    let mut shapes = [0usize; 4];
    for seed in 0..120u64 {
        let records = shard_records(300, seed);
        let valid: Vec<EnrichedEvent> =
            process_batch(&registry, &records, Utc::now()).into_iter().filter_map(|o| if let Outcome::Event(e) = o { Some(e) } else { None }).collect();
        let stores = Arc::new(Stores::default());
        let flow = BatchFlow::new(
            Arc::clone(&registry),
            Sinks { events: Events(Arc::clone(&stores)), archive: Nothing, bad_rows: Nothing, aggregates: Aggregates(Arc::clone(&stores)) },
        );
        let mut rng = SmallRng::seed_from_u64(seed);
        let skipped = drive(&flow, &stores, &records, (0, records.len()), &mut rng, true).await;
        shapes[0] += skipped.len();
        // Later, the skipped batches are replayed from their first record.
        for range in skipped {
            let again = drive(&flow, &stores, &records, range, &mut rng, false).await;
            assert!(again.is_empty());
        }
        let stored = stores.events.lock().unwrap().len();
        assert_eq!(stored, valid.len(), "seed {seed}: every valid event is stored once");
        let merged = merged_minutes(&stores.table).await;
        assert_eq!(merged, expected_minutes(&valid), "seed {seed}: counts and revenue per window and group are exact");
        shapes[1] += usize::from(merged.len() > 4);
        shapes[3] += merged.keys().filter(|(_, _, group)| group.is_some()).count();
        shapes[2] += stores.table.dirty_count();
    }
    // The runs did exercise given-up batches, spanned several windows and many groups.
    assert!(shapes[0] > 20 && shapes[1] > 100 && shapes[3] > 120 * 20, "{shapes:?}");
    assert_eq!(shapes[2], 0, "every touched window was merged");
}

/// The three shapes the issue names, by hand: resumed from the middle (partial batch
/// response), bisected after a function error, and retried whole after a crash that
/// followed the writes; each leaves the counts of the batch processed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumed_bisected_and_whole_retries_count_once() {
    let registry = Arc::new(CoreConfig::embedded().unwrap());
    let records = shard_records(240, 7);
    let valid: Vec<EnrichedEvent> =
        process_batch(&registry, &records, Utc::now()).into_iter().filter_map(|o| if let Outcome::Event(e) = o { Some(e) } else { None }).collect();
    let expected = expected_minutes(&valid);
    for shape in ["resumed", "bisected", "whole"] {
        let stores = Arc::new(Stores::default());
        let flow = BatchFlow::new(
            Arc::clone(&registry),
            Sinks { events: Events(Arc::clone(&stores)), archive: Nothing, bad_rows: Nothing, aggregates: Aggregates(Arc::clone(&stores)) },
        );
        let n = records.len();
        match shape {
            "resumed" => {
                let answer = invoke(&flow, &stores, &records, 0, n, Fault { events_fail_from: Some(150), ..Fault::default() }).await;
                let Answer::RetryFrom(at) = answer else { panic!("{shape}: expected a partial batch response") };
                assert!((150..160).contains(&at), "{at}");
                // Lambda resumes from record 150, in a batch that ends elsewhere.
                assert!(matches!(invoke(&flow, &stores, &records, at, 200, Fault::default()).await, Answer::Done));
                assert!(matches!(invoke(&flow, &stores, &records, 200, n, Fault::default()).await, Answer::Done));
            }
            "bisected" => {
                let crash = Fault { torn_writes: Some(1), ..Fault::default() };
                assert!(matches!(invoke(&flow, &stores, &records, 0, n, crash).await, Answer::Failed));
                assert!(matches!(invoke(&flow, &stores, &records, 0, n / 2, Fault::default()).await, Answer::Done));
                assert!(matches!(invoke(&flow, &stores, &records, n / 2, n, Fault::default()).await, Answer::Done));
            }
            _ => {
                // Every write done, then the answer lost: the whole batch again.
                let crash = Fault { answer_lost: true, ..Fault::default() };
                assert!(matches!(invoke(&flow, &stores, &records, 0, n, crash).await, Answer::Failed));
                assert!(matches!(invoke(&flow, &stores, &records, 0, n, Fault::default()).await, Answer::Done));
            }
        }
        assert_eq!(stores.events.lock().unwrap().len(), valid.len(), "{shape}");
        assert_eq!(merged_minutes(&stores.table).await, expected, "{shape}");
    }
    let groups: Vec<_> = expected.keys().filter(|(series, _, group)| series.ends_with("/campaign.source") && group.is_some()).collect();
    assert!(groups.len() >= 6, "several campaign sources counted: {groups:?}");
}

#[test]
fn retry_from_is_the_first_record_when_a_partial_cannot_be_written() {
    let registry = Arc::new(CoreConfig::embedded().unwrap());
    let records = shard_records(50, 3);
    let stores = Arc::new(Stores::default());
    let flow = BatchFlow::new(
        Arc::clone(&registry),
        Sinks { events: Events(Arc::clone(&stores)), archive: Nothing, bad_rows: Nothing, aggregates: Aggregates(Arc::clone(&stores)) },
    );
    *stores.fault.lock().unwrap() = Fault { events_fail_from: Some(30), partial_fails: Some((0, 0)), ..Fault::default() };
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(flow.run(&records, Instant::now() + Duration::from_secs(30)));
    assert_eq!(report.retry_from.as_deref(), Some(records[0].sequence_number.as_str()), "{report:#?}");
    assert!(!report.aggregates.failed.is_empty());
    assert!(compare_sequence_numbers(&records[0].sequence_number, &records[1].sequence_number).is_lt());
}
