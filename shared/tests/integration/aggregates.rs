//! Aggregates: merging is associative and order-free, the merge run is idempotent (run
//! twice, run concurrently, a retried batch's partial), counts and revenue are exact at every
//! granularity, and unique users stay within the sketch's error of the exact figure.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use pipeline::aggregate::{Aggregate, Granularity, SKETCH_STANDARD_ERROR, partials};
use pipeline::money::Money;
use pipeline::rollup::{AggregateRow, AggregateTable, MemoryAggregateTable, roll_up};
use pipeline::workload::{Workload, WorkloadConfig};
use pipeline::{CoreConfig, EnrichedEvent, Outcome, process_batch};
use proptest::prelude::*;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 30, 22, 0, 0).unwrap()
}

fn event(event_type: &str, user: u32, seconds: i64, cents: Option<u32>) -> EnrichedEvent {
    let event_type: Arc<str> = event_type.into();
    EnrichedEvent {
        json: b"{}".to_vec(),
        schema: format!("{event_type}/1-0-0").into(),
        event_type,
        user_id: format!("u-{user}"),
        event_id: format!("e-{user}-{seconds}"),
        event_time: start() + Duration::seconds(seconds),
        arrival: start(),
        sort_key: String::new(),
        revenue: cents.and_then(|c| Money::new(if c % 2 == 0 { "USD" } else { "EUR" }, f64::from(c) / 100.0)),
        groups: Default::default(),
    }
}

fn events_strategy() -> impl Strategy<Value = Vec<EnrichedEvent>> {
    // Up to ~40 days from 30 October: minutes, hours, days and two month boundaries.
    let one = (0..3usize, 0..300u32, 0..3_500_000i64, proptest::option::of(0..100_000u32)).prop_map(|(t, user, s, cents)| {
        let kind = ["pageview", "click", "purchase"][t];
        event(kind, user, s, if kind == "purchase" { cents } else { None })
    });
    proptest::collection::vec(one, 0..200)
}

fn aggregate_of(events: &[EnrichedEvent]) -> Aggregate {
    let mut a = Aggregate::default();
    events.iter().for_each(|e| a.add(e));
    a
}

fn figures(a: &Aggregate) -> (u64, u64, BTreeMap<String, u128>) {
    (a.count, a.unique_users(), a.revenue.clone())
}

/// Stores each batch's partials as the processor would, keyed by batch.
fn load(table: &MemoryAggregateTable, batches: &[&[EnrichedEvent]]) {
    for (i, batch) in batches.iter().enumerate() {
        for (key, partial) in partials(batch.iter()) {
            table.put_partial(&key.event_type, key.minute, &format!("shardId-000000000000#{i:020}"), &partial);
        }
    }
}

async fn all_rows(table: &MemoryAggregateTable, granularity: Granularity) -> Vec<AggregateRow> {
    let mut rows = Vec::new();
    for t in ["pageview", "click", "purchase", "identify"] {
        let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        rows.extend(table.rows(granularity, t, from, from + Duration::days(800)).await.unwrap());
    }
    rows
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn merging_is_associative_and_commutative(a in events_strategy(), b in events_strategy(), c in events_strategy()) {
        let (a, b, c) = (aggregate_of(&a), aggregate_of(&b), aggregate_of(&c));
        let left = Aggregate::merged([&Aggregate::merged([&a, &b]), &c]);
        let right = Aggregate::merged([&a, &Aggregate::merged([&b, &c])]);
        let swapped = Aggregate::merged([&c, &b, &a]);
        prop_assert_eq!(figures(&left), figures(&right));
        prop_assert_eq!(figures(&left), figures(&swapped));
        // Merging a sketch into itself adds no users.
        let mut twice = a.users.clone();
        twice.merge(&a.users);
        prop_assert_eq!(twice.estimate(), a.users.estimate());
    }

    #[test]
    fn the_merge_run_is_exact_and_idempotent(events in events_strategy(), cut in 1..50usize) {
        let table = MemoryAggregateTable::default();
        let batches: Vec<&[EnrichedEvent]> = events.chunks(cut).collect();
        load(&table, &batches);
        block_on(async {
            roll_up(&table, usize::MAX).await.unwrap();
            prop_assert_eq!(table.dirty_count(), 0);
            let mut first = Vec::new();
            for g in Granularity::ALL {
                let rows = all_rows(&table, g).await;
                // Every granularity adds up to every event, and to the exact revenue.
                prop_assert_eq!(rows.iter().map(|r| r.aggregate.count).sum::<u64>(), events.len() as u64);
                let revenue = Aggregate::merged(rows.iter().map(|r| &r.aggregate)).revenue;
                prop_assert_eq!(&revenue, &aggregate_of(&events).revenue);
                first.push(rows);
            }
            // Run again, and again after a retried batch rewrote its partial: nothing changes.
            roll_up(&table, usize::MAX).await.unwrap();
            load(&table, &batches[..batches.len().min(1)]);
            roll_up(&table, usize::MAX).await.unwrap();
            for (g, before) in Granularity::ALL.into_iter().zip(first) {
                prop_assert_eq!(all_rows(&table, g).await, before);
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn concurrent_runs_agree_with_one_run() {
    let events: Vec<EnrichedEvent> = (0..5_000).map(|i| event(["pageview", "click"][i % 2], (i % 700) as u32, (i as i64) * 97, None)).collect();
    let batches: Vec<&[EnrichedEvent]> = events.chunks(333).collect();
    let (one, two) = (MemoryAggregateTable::default(), MemoryAggregateTable::default());
    load(&one, &batches);
    load(&two, &batches);
    roll_up(&one, usize::MAX).await.unwrap();
    let (a, b) = tokio::join!(roll_up(&two, usize::MAX), roll_up(&two, usize::MAX));
    a.unwrap();
    b.unwrap();
    for g in Granularity::ALL {
        assert_eq!(all_rows(&two, g).await, all_rows(&one, g).await, "{g}");
    }
}

#[tokio::test]
async fn late_events_update_the_windows_they_belong_to() {
    let table = MemoryAggregateTable::default();
    load(&table, &[&[event("click", 1, 0, None), event("click", 2, 60, None)]]);
    roll_up(&table, usize::MAX).await.unwrap();
    // A day later, an event for the first minute arrives in a new batch.
    let late = [event("click", 3, 10, None)];
    for (key, partial) in partials(late.iter()) {
        table.put_partial(&key.event_type, key.minute, "shardId-000000000001#late", &partial);
    }
    let report = roll_up(&table, usize::MAX).await.unwrap();
    assert_eq!(report.windows, 1);
    let minute = table.rows(Granularity::Minute, "click", start(), start() + Duration::minutes(1)).await.unwrap();
    assert_eq!((minute[0].aggregate.count, minute[0].aggregate.unique_users()), (2, 2));
    let day = all_rows(&table, Granularity::Day).await;
    assert_eq!(day.iter().map(|r| r.aggregate.count).sum::<u64>(), 3);
}

#[tokio::test]
async fn a_window_that_cannot_be_merged_does_not_stop_the_others() {
    let table = MemoryAggregateTable::default();
    load(&table, &[&[event("click", 1, 0, None), event("click", 2, 3_600, None), event("pageview", 3, 7_200, None)]]);
    // A partial whose sketch does not read back, in a minute of its own.
    let corrupt = pipeline::aggregate::EncodedAggregate { count: 5, users: vec![0xff; 7], revenue: "{}".into() };
    table.put_encoded_partial("click", start() + Duration::minutes(30), "shardId-000000000009#1", corrupt);
    let report = roll_up(&table, usize::MAX).await.unwrap();
    assert_eq!(report.skipped, 1, "{report:?}");
    assert!(report.skipped_windows[0].contains("click"), "{report:?}");
    // Every other window is merged, up to the month.
    let minutes = all_rows(&table, Granularity::Minute).await;
    assert_eq!(minutes.iter().map(|r| r.aggregate.count).sum::<u64>(), 3);
    let months = all_rows(&table, Granularity::Month).await;
    assert_eq!(months.iter().map(|r| r.aggregate.count).sum::<u64>(), 3);
    // The unmergeable window is not tried again and again: its marker is gone.
    assert_eq!(table.dirty_count(), 0);
    assert_eq!(roll_up(&table, usize::MAX).await.unwrap().windows, 0);
}

#[test]
fn unique_users_are_within_the_sketch_error_and_counts_exact_on_the_workload() {
    // 300,000 events of the reference workload over 40 days, 60,000 users.
    let core = CoreConfig::embedded().unwrap();
    let mut workload = Workload::new(WorkloadConfig { users: 60_000, invalid_ratio: 0.0, oversize_ratio: 0.0, ..WorkloadConfig::default() });
    let mut events = Vec::new();
    for chunk in 0..30 {
        let records = workload.records(10_000, "shardId-000000000000");
        for outcome in process_batch(&core, &records, Utc::now()) {
            if let Outcome::Event(mut e) = outcome {
                // Spread over days so that day and month rows merge many partials.
                e.event_time += Duration::hours(chunk * 32);
                events.push(e);
            }
        }
    }
    let table = MemoryAggregateTable::default();
    let batches: Vec<&[EnrichedEvent]> = events.chunks(2_500).collect();
    load(&table, &batches);
    block_on(roll_up(&table, usize::MAX)).unwrap();
    let months = block_on(all_rows(&table, Granularity::Month));
    for t in ["pageview", "click", "purchase", "identify"] {
        let of_type: Vec<&EnrichedEvent> = events.iter().filter(|e| &*e.event_type == t).collect();
        let mut exact_users: BTreeMap<String, HashSet<&str>> = BTreeMap::new();
        let mut exact_counts: BTreeMap<String, u64> = BTreeMap::new();
        for e in &of_type {
            let month = Granularity::Month.window_start(e.event_time).to_rfc3339();
            exact_users.entry(month.clone()).or_default().insert(&e.user_id);
            *exact_counts.entry(month).or_default() += 1;
        }
        for row in months.iter().filter(|r| r.event_type == t) {
            let month = row.window_start.to_rfc3339();
            assert_eq!(row.aggregate.count, exact_counts[&month], "{t} {month}");
            let exact = exact_users[&month].len() as f64;
            let error = (row.aggregate.unique_users() as f64 - exact).abs() / exact;
            // Four standard errors: a correct sketch fails this about once in 16,000 runs.
            assert!(error <= 4.0 * SKETCH_STANDARD_ERROR, "{t} {month}: {} vs exact {exact} ({error:.4})", row.aggregate.unique_users());
        }
        let purchases = Aggregate::merged(months.iter().filter(|r| r.event_type == t).map(|r| &r.aggregate));
        let mut exact_revenue: BTreeMap<String, u128> = BTreeMap::new();
        for e in &of_type {
            if let Some(m) = &e.revenue {
                *exact_revenue.entry(m.currency.clone()).or_default() += m.micros;
            }
        }
        assert_eq!(purchases.revenue, exact_revenue, "{t}");
        if t == "purchase" {
            assert_eq!(exact_revenue.len(), 4, "every currency of the workload has revenue");
        }
    }
}
