//! The aggregator's merge for one minute at 100,000 events/s: one partial per shard and
//! event type (100 shards x 10 types, 6,000 events and ~6,000 users each, so every sketch
//! is a full HyperLogLog), merged into minute, hour, day and month rows. The table is in
//! memory: this measures the merge's CPU (decode, merge, encode), not DynamoDB's latency.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use pipeline::aggregate::Aggregate;
use pipeline::money::Money;
use pipeline::rollup::{MAX_WINDOWS_PER_RUN, MemoryAggregateTable, roll_up};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SHARDS: usize = 100;
const TYPES: usize = 10;
const EVENTS_PER_PARTIAL: u64 = 100_000 * 60 / (SHARDS * TYPES) as u64;

fn partials() -> Vec<(String, String, Aggregate)> {
    let mut out = Vec::new();
    for shard in 0..SHARDS {
        for t in 0..TYPES {
            let mut a = Aggregate::default();
            for i in 0..EVENTS_PER_PARTIAL {
                a.count += 1;
                // 2 million users; each partial sees its own slice, so the minute's sketch fills up.
                a.users.insert(&format!("u-{}", (shard as u64 * 7_919 + t as u64 * 104_729 + i * 13) % 2_000_000));
            }
            if t == 2 {
                let m = Money::new("USD", 19.99).unwrap();
                a.revenue.insert(m.currency, m.micros * u128::from(EVENTS_PER_PARTIAL));
            }
            out.push((format!("type{t}"), format!("shardId-{shard:012}#49650000000000000000"), a));
        }
    }
    out
}

fn merge_one_minute(c: &mut Criterion) {
    let minute = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    let parts = partials();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut group = c.benchmark_group("aggregator");
    group.sample_size(10);
    group.bench_function("merge_1000_partials_one_minute", |b| {
        b.iter_batched(
            || {
                let table = MemoryAggregateTable::default();
                for (t, batch, a) in &parts {
                    table.put_partial(t, minute, batch, a);
                }
                table
            },
            |table| black_box(runtime.block_on(roll_up(&table, MAX_WINDOWS_PER_RUN)).unwrap()),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, merge_one_minute);
criterion_main!(benches);
