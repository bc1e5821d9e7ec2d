//! A plan as sections of figures, each with one line of reasoning: the sizing of the chosen
//! configuration part by part, the two configurations' monthly costs (each ending with its
//! total), the levers between them, and the quota increases.

use crate::plan::config::{Billing, Config};
use crate::plan::deployment::Deployment;
use crate::plan::figure::{Figure, Section, figure};
use crate::plan::format::*;
use crate::plan::limits::*;
use crate::plan::measured::*;
use crate::plan::need::{HEADROOM, Need};
use crate::plan::optimise::Comparison;
use crate::plan::sizing::{ARCHIVE_LIVE_HOURS, ARCHIVE_STREAM_COUNT_MAX, API_THROTTLE_HEADROOM, API_THROTTLE_RATE_MIN, PROCESSOR_BATCH_SIZE_MAX, PROCESSOR_TARGET_UTILISATION, ShardBound};

fn ingest(d: &Deployment) -> Section {
    let (need, ingest) = (&d.need, &d.ingest);
    if !ingest.through_api {
        return Section {
            title: "Ingest".into(),
            figures: vec![figure(
                "producers",
                "Kinesis (KPL)",
                "--aggregate: producers write KPL-aggregated records straight to the stream; the API's POST routes are not planned for",
            )],
        };
    }
    let fits = if ingest.requests_per_s * HEADROOM > API_ACCOUNT_REQUESTS_PER_S { "quota increase needed" } else { "fits" };
    let capped = if ingest.events_per_request < need.events_per_request {
        format!(" (--batch-size {} lowered: a request carries at most 5 MiB of records)", need.events_per_request)
    } else {
        String::new()
    };
    Section {
        title: "API Gateway (ingest)".into(),
        figures: vec![
            figure(
                "requests/s",
                rate_num(ingest.requests_per_s),
                format!(
                    "{} events/s ÷ {} events per POST /v1/events{capped}; × {HEADROOM} headroom = {} of the account default {} requests/s: {fits}",
                    int(need.rate),
                    ingest.events_per_request,
                    rate_num((ingest.requests_per_s * HEADROOM * 10.0).round() / 10.0),
                    num(API_ACCOUNT_REQUESTS_PER_S, 0)
                ),
            ),
            figure(
                "usage-plan throttle",
                format!("{} rps, burst {}", int(ingest.throttle_rate_limit), int(ingest.throttle_burst_limit)),
                format!(
                    "{API_THROTTLE_HEADROOM} × the requests/s at spikes (at least the stack's {API_THROTTLE_RATE_MIN}) for retries and smaller batches; burst twice that, at most the account's {}",
                    int(API_ACCOUNT_BURST)
                ),
            ),
        ],
    }
}

fn stream(c: &Comparison) -> Section {
    let d = &c.cheapest;
    let mut section = stream_of(d);
    if let Some((shards, total)) = c.without_aggregation {
        section.figures.push(figure(
            "without aggregation",
            format!("{} shards", int(shards)),
            format!(
                "one event per record (POSTed through API Gateway): {} shards instead of {}, and {} a month more ({} instead of {})",
                int(shards),
                int(d.stream.shards),
                usd(total - d.monthly_total_usd()),
                usd(total),
                usd(d.monthly_total_usd())
            ),
        ));
    }
    section
}

fn stream_of(d: &Deployment) -> Section {
    let (need, s) = (&d.need, &d.stream);
    let (bytes_note, records_note) = match s.bound {
        ShardBound::Bytes => (" (binds)", ""),
        ShardBound::Records => ("", " (binds)"),
    };
    let peak = if need.burst > 1.0 { format!(" (spikes: {} × {} events/s)", num(need.burst, 2), int(need.rate)) } else { String::new() };
    let records = if need.kpl_aggregation {
        format!(
            "KPL aggregation: {} events per {} B record; a shard takes 1,000 records/s → {} shards' worth{records_note}",
            rate_num(s.events_per_record),
            int(s.record_bytes),
            count(s.shards_for_records)
        )
    } else {
        format!("one event is one record; a shard takes 1,000 records/s → {} shards' worth{records_note}", count(s.shards_for_records))
    };
    let on_demand = if s.on_demand_fits {
        format!(
            "could serve it within one on-demand stream's default {} and {} records/s; but a new on-demand stream starts at {} and only doubles its previous peak, so PROVISIONED is planned",
            mb_per_s(KINESIS_ON_DEMAND_WRITE_BYTES_PER_S),
            num(KINESIS_ON_DEMAND_WRITE_RECORDS_PER_S, 0),
            mb_per_s(KINESIS_ON_DEMAND_INITIAL_BYTES_PER_S)
        )
    } else {
        format!("could not serve it: past one on-demand stream's default {}", mb_per_s(KINESIS_ON_DEMAND_WRITE_BYTES_PER_S))
    };
    let concurrency = if s.shards == s.shards_for_concurrency && s.shards > 1 { "; raised for the processor's concurrency" } else { "" };
    Section {
        title: "Kinesis Data Stream".into(),
        figures: vec![
            figure(
                "write bytes",
                mb_per_s(s.write_bytes_per_s),
                format!("{} records/s{peak} × {} B; a shard takes 1 MB/s of writes → {} shards' worth{bytes_note}", rate_num(s.write_records_per_s), int(s.record_bytes), count(s.shards_for_bytes)),
            ),
            figure("write records", format!("{}/s", rate_num(s.write_records_per_s)), records),
            figure(
                "shards",
                int(s.shards),
                format!(
                    "ceil(max({}, {}) × {HEADROOM} headroom){concurrency}: {} and {} records/s per shard",
                    count(s.shards_for_bytes),
                    count(s.shards_for_records),
                    mb_per_s(s.bytes_per_shard),
                    rate_num(s.records_per_shard)
                ),
            ),
            figure("stream mode", "PROVISIONED", format!("ON_DEMAND {on_demand}")),
            figure(
                "shard quota",
                format!("{} of {}", int(s.shards), int(s.shard_quota)),
                format!("default shards per account: {KINESIS_SHARD_QUOTA_LARGE_REGIONS} in {}, {KINESIS_SHARD_QUOTA_OTHER_REGIONS} elsewhere", LARGE_QUOTA_REGIONS.join(", ")),
            ),
        ],
    }
}

fn processor(d: &Deployment) -> Section {
    let (s, p) = (&d.stream, &d.processor);
    let payload_kb = p.batch_size * p.invocation_bytes_per_record / 1000;
    Section {
        title: "Processor (Lambda)".into(),
        figures: vec![
            figure(
                "batch size",
                int(p.batch_size),
                format!(
                    "Kinesis records per invocation, at most {}; a record is ~{} B of invocation payload (base64 + metadata), so a full batch is ~{} kB of Lambda's 6 MB",
                    int(PROCESSOR_BATCH_SIZE_MAX),
                    int(p.invocation_bytes_per_record),
                    int(payload_kb)
                ),
            ),
            figure(
                "batching window",
                format!("{} s", p.batching_window_s),
                format!("a shard invokes when its batch fills or the window ends: ~{} events per invocation", rate_num(p.events_per_invocation.round())),
            ),
            figure(
                "time per invocation",
                format!("{} ms", num(p.invocation_seconds * 1e3, 1)),
                format!(
                    "{} µs of CPU per event (measured: the handler with the SDK against moto_server, handler_timing) + waiting on the writes ({} ms per round of {} BatchWriteItem requests, at least one {} ms Firehose round; assumed)",
                    num(PROCESSOR_CPU_SECONDS_PER_EVENT * 1e6, 1),
                    num(DYNAMODB_WRITE_ROUND_SECONDS * 1e3, 0),
                    DYNAMODB_REQUESTS_IN_FLIGHT,
                    num(FIREHOSE_PUT_SECONDS * 1e3, 0)
                ),
            ),
            figure(
                "concurrency needed",
                fraction(p.concurrency_needed),
                format!("{} invocations/s × {} ms ÷ {PROCESSOR_TARGET_UTILISATION} target utilisation", rate_num(p.invocations_per_s), num(p.invocation_seconds * 1e3, 1)),
            ),
            figure(
                "parallelization factor",
                int(p.parallelization_factor),
                format!("ceil({} ÷ {} shards), 1 to 10", fraction(p.concurrency_needed), int(s.shards)),
            ),
            figure(
                "reserved concurrency",
                int(p.reserved_concurrency),
                format!("{} shards × {}: what the event source mapping can run at once (the stack checks it is at least that)", int(s.shards), p.parallelization_factor),
            ),
            figure("memory", format!("{} MB", int(p.memory_mb)), "1,769 MB is one vCPU"),
            figure(
                "CPU",
                format!("{} vCPU", fraction(p.cpu_vcpus)),
                format!("{} events/s at spikes × {} µs", rate_num(d.need.rate as f64 * d.need.burst), num(PROCESSOR_CPU_SECONDS_PER_EVENT * 1e6, 1)),
            ),
            figure("invocations/s", rate_num(p.invocations_per_s), format!("{} shards × {} a second", int(s.shards), num(p.invocations_per_s / s.shards as f64, 2))),
        ],
    }
}

fn archive(d: &Deployment) -> Section {
    let (need, a) = (&d.need, &d.archive);
    let quota_where = if need.large_quota_region() { "is one of" } else { "is not one of" };
    let capped = if a.streams_needed > a.stream_count {
        format!(" ({} needed; the stack allows {ARCHIVE_STREAM_COUNT_MAX}: raise the per-stream quota)", a.streams_needed)
    } else {
        String::new()
    };
    Section {
        title: "Firehose and S3 (archive)".into(),
        figures: vec![
            figure("enriched bytes", mb_per_s(a.bytes_per_s), format!("{} events/s × ({} + {ENRICHMENT_BYTES} B of enrichment, measured)", rate_num(need.rate as f64 * need.burst), int(need.event_bytes))),
            figure(
                "Direct PUT quota",
                format!("{} MiB/s per stream", num(a.direct_put_bytes_per_s / MIB, 0)),
                format!("{} {quota_where} {} (5 MiB/s there, 1 MiB/s elsewhere)", need.region, LARGE_QUOTA_REGIONS.join(", ")),
            ),
            figure(
                "delivery streams",
                int(a.stream_count),
                format!("ceil({} × {HEADROOM} ÷ {} MiB/s){capped}: {} per stream", mb_per_s(a.bytes_per_s), num(a.direct_put_bytes_per_s / MIB, 0), mb_per_s(a.bytes_per_stream)),
            ),
            figure(
                "records/s",
                rate_num(a.records_per_s),
                format!(
                    "{} events packed per record (≤ {FIREHOSE_EVENTS_PER_RECORD_MAX} and ≤ 1,000 KiB): {} per stream, far under the {} records/s quota",
                    a.events_per_record,
                    rate_num((a.records_per_s / a.stream_count as f64 * 10.0).round() / 10.0),
                    num(a.direct_put_records_per_s, 0)
                ),
            ),
            figure(
                "active partitions",
                format!("{} of {} per stream", a.live_partitions_per_stream, int(FIREHOSE_ACTIVE_PARTITIONS_PER_STREAM)),
                format!(
                    "live traffic: {} event types × {} hours (events within {ARCHIVE_LIVE_HOURS} h of their arrival go to every stream); other hours (a backfill, skewed clocks) go one stream per partition: room for {} more across the {} stream{} per buffer; past {} on a stream, records go to errors/activePartitionExceeded/ (alarmed)",
                    need.mix.len(),
                    2 * ARCHIVE_LIVE_HOURS + 1,
                    int(a.late_partition_capacity),
                    a.stream_count,
                    if a.stream_count == 1 { "" } else { "s" },
                    int(FIREHOSE_ACTIVE_PARTITIONS_PER_STREAM)
                ),
            ),
            figure(
                "archive",
                format!("{} GB a month", int(a.archived_gb_per_month.round() as u64)),
                format!("{} GB of enriched JSON a month at the mean rate ÷ {ARCHIVE_GZIP_RATIO} (gzip ratio assumed)", int(a.ingested_gb_per_month.round() as u64)),
            ),
        ],
    }
}

/// What a configuration is, in one line.
pub fn describe(config: &Config, need: &Need) -> String {
    let billing = |b: Billing| match b {
        Billing::OnDemand => "on-demand".to_owned(),
        Billing::Provisioned { target } => format!("provisioned (auto scaling at {}%)", num(target * 100.0, 0)),
    };
    format!(
        "index {}, TTL {} days, {} kept, events table {} {}, aggregates table {} {}, point-in-time recovery {}",
        if config.index { "on" } else { "off" },
        config.ttl_days,
        config.kept_types.as_ref().map_or_else(|| "every type".to_owned(), |t| t.join("+")),
        billing(config.events_billing),
        config.events_class.terraform(),
        billing(config.aggregates_billing),
        config.aggregates_class.terraform(),
        if config.pitr { "on" } else { "off" },
    ) + if need.type_queries { " (per-type queries need the index)" } else { "" }
}

/// A configuration's monthly cost, ending with its total.
pub fn costs(title: &str, d: &Deployment) -> Section {
    let mut figures: Vec<Figure> = d.costs.iter().map(|c| figure(c.service, usd(c.usd_per_month), c.basis.clone())).collect();
    figures.push(figure(
        "total",
        usd(d.monthly_total_usd()),
        format!(
            "{}; {HOURS_PER_MONTH} hours; not included: CloudWatch, KMS, X-Ray, SQS/SNS, data transfer, S3 requests and older storage classes, per-user query reads, the aggregator and query functions",
            describe(&d.config, &d.need)
        ),
    ));
    Section { title: format!("{title} (us-east-1 list prices as of {PRICES_AS_OF})"), figures }
}

/// The levers between the default and the cheapest configuration, each saving on top of the
/// ones before, and their sum.
pub fn levers(c: &Comparison) -> Section {
    let need = &c.default.need;
    let mut figures: Vec<Figure> = c
        .index_usd
        .map(|extra| {
            figure(
                "per-type index (events_gsi_enabled)",
                "off",
                format!(
                    "the stack's default in both configurations: each event written to it is one more write and {} B more storage; keeping it (--type-queries, for GET /v1/events) would add {} a month",
                    INDEX_ENTRY_STORED_BYTES,
                    usd(extra)
                ),
            )
        })
        .into_iter()
        .collect();
    figures.extend(c
        .steps
        .iter()
        .map(|step| {
            let name = step.lever.describe(need);
            match step.used {
                Some(true) => figure(&name, saving(step.saving_usd), "used: saved on top of the levers above"),
                Some(false) if step.saving_usd < 0.0 => {
                    figure(&name, "not used", format!("it would add {} a month here", usd(-step.saving_usd)))
                }
                Some(false) => figure(&name, "not used", format!("it would save {} here, but the cheapest combination leaves it out", usd(step.saving_usd))),
                None => figure(&name, "n/a", lever_unavailable(step.lever, need)),
            }
        }));
    figures.push(figure(
        "total saving",
        saving(c.total_saving_usd()),
        format!("{} − {}: the default's total less the cheapest's", usd(c.default.monthly_total_usd()), usd(c.cheapest.monthly_total_usd())),
    ));
    Section { title: "Levers, in order: each saving on top of the ones before".into(), figures }
}

fn lever_unavailable(lever: crate::plan::config::Lever, need: &Need) -> String {
    use crate::plan::config::Lever::*;
    match lever {
        QueryDays => format!("--query-days {} is not shorter than the stack's 30", need.query_days),
        KeptTypes => "--query-event-types keeps every type".into(),
        EventsProvisioned | AggregatesProvisioned => format!("spikes of {}× leave auto scaling too little headroom (below 20 %)", num(need.burst, 2)),
        NoPointInTimeRecovery => "--pitr keeps point-in-time recovery".into(),
        EventsInfrequentAccess | AggregatesInfrequentAccess => "already the class".into(),
    }
}

pub fn quotas(d: &Deployment) -> Section {
    let figures = if d.quota_increases.is_empty() {
        vec![figure("none", "", "the plan stays within every default quota listed in docs/DEPLOY.md")]
    } else {
        d.quota_increases.iter().map(|q| figure(q.quota, q.request.clone(), format!("default {}", q.default))).collect()
    };
    Section { title: "Quota increases to request before launch".into(), figures }
}

/// Every section of a comparison: the cheapest configuration's sizing, both costs, the
/// levers and the quotas.
pub fn sections(c: &Comparison) -> Vec<Section> {
    let d = &c.cheapest;
    vec![
        ingest(d),
        stream(c),
        processor(d),
        crate::plan::table_sections::tables(d),
        archive(d),
        costs("Monthly cost, default configuration", &c.default),
        costs("Monthly cost, cheapest configuration that meets the need", d),
        levers(c),
        quotas(d),
    ]
}
