//! What the planner knows of this pipeline's own code, measured rather than assumed: the
//! bytes enrichment adds, the DynamoDB item an event becomes, how well one enriched event
//! compresses, the partial aggregates an invocation writes, and the processor's CPU time per
//! event. Each figure says the command that reproduces it (docs/PERFORMANCE.md lists them).
//! The figures that are not ours to measure here (AWS's latencies) are marked as assumptions.

/// Bytes enrichment adds to an event's JSON (`event_id`, `timestamp`, `_pipeline`): the
/// mean on the reference workload (414 B events, 756 B enriched).
/// `cargo run --release -p processor --example item_sizes` (2026-12-01).
pub const ENRICHMENT_BYTES: u64 = 342;
/// Bytes an item adds around its payload: `pk`, `sk`, `event_type`, `ttl` and the attribute
/// names (the item as text, index off, less the enriched JSON: 868 − 756). Same command.
pub const ITEM_KEY_BYTES: u64 = 112;
/// What the per-type index keys (`gsi1pk`, `gsi1sk`) add to an item (956 − 868). Same command.
pub const INDEX_KEY_BYTES: u64 = 88;
/// Stored bytes of one `KEYS_ONLY` index entry: the table's and the index's keys with their
/// names (~190 B) and DynamoDB's per-item overhead.
pub const INDEX_ENTRY_STORED_BYTES: u64 = 290;
/// Write units of one `KEYS_ONLY` index entry (its keys are far under 1 KB).
pub const INDEX_WRITE_UNITS_PER_ITEM: u64 = 1;
/// gzip (the store's fast level) of one enriched event, as a share of its JSON: 578 B of
/// 756 B on the reference workload (single small documents compress poorly). Same command.
pub const SINGLE_EVENT_GZIP_RATIO: f64 = 0.764;
/// `payload_gz` is 3 bytes longer an attribute name than `payload`.
pub const COMPRESSED_NAME_EXTRA_BYTES: u64 = 3;
/// Events bigger than this are always stored compressed (aws/src/event_item.rs).
pub const COMPRESS_PAYLOAD_OVER: u64 = 350 * 1024;

/// Partial aggregates one invocation writes (4 event types of the reference mix, one
/// minute, with the groups of the enrichment fields its events carry: the pageviews'
/// referrers give `referer.medium` and `referer.source` one value each): records in the
/// batch → (write units, bytes) of its partials and touched-minute markers, measured with
/// `cargo run --release -p processor --example item_sizes -- --batch N` (2026-12-02; without
/// the groups: 8.0 units at 100 records, 14.1 at 800, 30.5 at 10,000). A sketch is exact
/// (small) up to 128 users and a HyperLogLog above.
pub const PARTIALS_PER_INVOCATION: [(f64, f64, f64); 8] = [
    (100.0, 12.0, 3_137.0),
    (250.0, 15.0, 7_077.0),
    (500.0, 22.2, 14_820.0),
    (800.0, 24.1, 17_533.0),
    (1_000.0, 25.0, 18_256.0),
    (2_000.0, 31.3, 24_123.0),
    (5_000.0, 42.8, 34_270.0),
    (10_000.0, 50.5, 43_125.0),
];
/// Days a partial is kept after its minute (aws/src/aggregates.rs `PARTIAL_RETENTION_DAYS`).
pub const PARTIAL_RETENTION_DAYS: f64 = 35.0;

/// Write units and bytes of the partials of an invocation of `records` records: linear
/// between the measured points, flat beyond them.
pub fn partials_per_invocation(records: f64) -> (f64, f64) {
    let points = PARTIALS_PER_INVOCATION;
    if records <= points[0].0 {
        return (points[0].1, points[0].2);
    }
    for pair in points.windows(2) {
        let ((x0, u0, b0), (x1, u1, b1)) = (pair[0], pair[1]);
        if records <= x1 {
            let t = (records - x0) / (x1 - x0);
            return (u0 + t * (u1 - u0), b0 + t * (b1 - b0));
        }
    }
    let last = points[points.len() - 1];
    (last.1, last.2)
}

/// CPU time of the whole processor per event (user + system, every thread): the core, item
/// building, compression, packing and the AWS SDK's request building, signing and
/// serialisation against moto_server (everything but TLS), on the development machine
/// (x86_64; Lambda runs the stack on arm64). 28.6 µs: the median of three runs (29.8, 28.6,
/// 28.1 µs), each the median of 5 handler runs of 10,000 reference events; the same handler
/// with null sinks takes 2.7 µs, so the SDK's share is about nine tenths.
/// `AWS_ENDPOINT_URL=http://127.0.0.1:PORT cargo run --release -p processor --example handler_timing`
/// ("CPU per event in this process"), 2026-12-01.
pub const PROCESSOR_CPU_SECONDS_PER_EVENT: f64 = 28.6e-6;
/// Waiting per invocation for DynamoDB (an assumption: ~10 ms per round of `BatchWriteItem`
/// requests, 8 in flight, 25 items each; "single-digit millisecond" latency by AWS's account).
pub const DYNAMODB_WRITE_ROUND_SECONDS: f64 = 0.010;
/// Waiting per invocation for Firehose (an assumption: one `PutRecordBatch` round, ~30 ms),
/// concurrent with DynamoDB's.
pub const FIREHOSE_PUT_SECONDS: f64 = 0.030;
/// `BatchWriteItem` requests in flight per invocation (aws/src/dynamodb.rs).
pub const DYNAMODB_REQUESTS_IN_FLIGHT: f64 = 8.0;
/// Items per `BatchWriteItem` (DynamoDB's limit).
pub const DYNAMODB_ITEMS_PER_REQUEST: f64 = 25.0;

/// Shares of the event types in the reference workload (shared/src/workload.rs `mix`).
pub const REFERENCE_MIX: [(&str, f64); 4] = [("pageview", 0.60), ("click", 0.25), ("purchase", 0.10), ("identify", 0.05)];

/// Assumed gzip ratio of the archive (newline-delimited enriched JSON, 64-128 MiB objects).
pub const ARCHIVE_GZIP_RATIO: f64 = 8.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partials_interpolate_between_measurements_and_hold_beyond() {
        assert_eq!(partials_per_invocation(50.0), (12.0, 3_137.0));
        assert_eq!(partials_per_invocation(800.0), (24.1, 17_533.0));
        let (units, _) = partials_per_invocation(900.0);
        assert!((units - 24.55).abs() < 1e-9, "{units}");
        assert_eq!(partials_per_invocation(50_000.0), (50.5, 43_125.0));
        let mut last = 0.0;
        for r in (1..5_000).step_by(37) {
            let (u, _) = partials_per_invocation(r as f64);
            assert!(u >= last, "non-decreasing in records");
            last = u;
        }
    }
}
