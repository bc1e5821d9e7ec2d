//! A plan's monthly cost by service, each with the arithmetic behind it, and the default
//! quotas it exceeds.

use crate::plan::config::{Billing, Config, TableClass};
use crate::plan::format::{int, num, price};
use crate::plan::limits::*;
use crate::plan::measured::ARCHIVE_GZIP_RATIO;
use crate::plan::need::{HEADROOM, ceil_count};
use crate::plan::sizing::{ArchivePlan, IngestPlan, ProcessorPlan, StreamPlan};
use crate::plan::tables::{TableLoad, TablesPlan};

/// One service's monthly cost and how it was computed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ServiceCost {
    pub service: &'static str,
    pub usd_per_month: f64,
    pub basis: String,
}

/// A default quota the plan exceeds, and what to ask for.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct QuotaIncrease {
    pub quota: &'static str,
    pub default: String,
    pub request: String,
}

fn class_prices(class: TableClass) -> TableClassPrices {
    match class {
        TableClass::Standard => DYNAMODB_STANDARD,
        TableClass::InfrequentAccess => DYNAMODB_STANDARD_IA,
    }
}

/// A table's throughput cost a month: on-demand requests, or the provisioned units auto
/// scaling keeps on average (plus `fixed_write` units that never scale: the index's).
fn throughput_usd(load: &TableLoad, billing: Billing, class: TableClass, fixed_write: f64) -> f64 {
    let p = class_prices(class);
    match (&load.capacity, billing) {
        (Some(c), Billing::Provisioned { .. }) => {
            HOURS_PER_MONTH * ((c.mean_write + fixed_write) * p.write_capacity_unit_hour + c.mean_read * p.read_capacity_unit_hour)
        }
        _ => {
            SECONDS_PER_MONTH / 1e6
                * (load.mean_write_units * p.write_request_units_per_million + load.mean_read_units * p.read_request_units_per_million)
        }
    }
}

fn billing_name(billing: Billing) -> String {
    match billing {
        Billing::OnDemand => "on-demand".into(),
        Billing::Provisioned { target } => format!("provisioned at {}% target", num(target * 100.0, 0)),
    }
}

/// The DynamoDB lines: throughput of both tables, storage with point-in-time recovery.
fn dynamodb(config: &Config, tables: &TablesPlan) -> [ServiceCost; 2] {
    let index_fixed = match (&tables.events.capacity, config.index) {
        (Some(c), true) => c.max_write as f64,
        _ => 0.0,
    };
    let events = throughput_usd(&tables.events, config.events_billing, config.events_class, index_fixed);
    let aggregates = throughput_usd(&tables.aggregates, config.aggregates_billing, config.aggregates_class, 0.0);
    let throughput = ServiceCost {
        service: "DynamoDB throughput",
        usd_per_month: events + aggregates,
        basis: format!(
            "events table {} ({} WRU/s mean{}) ${}; aggregates table {} ({} WRU/s, {} RRU/s mean) ${}",
            billing_name(config.events_billing),
            num(tables.events.mean_write_units, 0),
            if config.index { ", with the index" } else { "" },
            num(events, 2),
            billing_name(config.aggregates_billing),
            num(tables.aggregates.mean_write_units, 0),
            num(tables.aggregates.mean_read_units, 0),
            num(aggregates, 2)
        ),
    };
    let events_class = class_prices(config.events_class);
    let aggregates_class = class_prices(config.aggregates_class);
    let table_gb = tables.events.stored_gb + tables.index_stored_gb;
    let pitr_gb = if config.pitr { tables.events.stored_gb + tables.aggregates.stored_gb } else { 0.0 };
    let storage = ServiceCost {
        service: "DynamoDB storage",
        usd_per_month: table_gb * events_class.storage_gb_month
            + tables.aggregates.stored_gb * aggregates_class.storage_gb_month
            + pitr_gb * DYNAMODB_PITR_GB_MONTH_USD,
        basis: format!(
            "{} GB of events{} × ${} + {} GB of partial aggregates × ${}{}",
            int(table_gb.round() as u64),
            if config.index { " and index entries" } else { "" },
            price(events_class.storage_gb_month),
            int(tables.aggregates.stored_gb.round() as u64),
            price(aggregates_class.storage_gb_month),
            if config.pitr {
                format!(" + {} GB × ${} point-in-time recovery", int(pitr_gb.round() as u64), price(DYNAMODB_PITR_GB_MONTH_USD))
            } else {
                String::new()
            }
        ),
    };
    [throughput, storage]
}

/// Every service's monthly cost.
pub fn monthly_costs(
    config: &Config,
    ingest: &IngestPlan,
    stream: &StreamPlan,
    processor: &ProcessorPlan,
    tables: &TablesPlan,
    archive: &ArchivePlan,
) -> Vec<ServiceCost> {
    let per_month = |per_s: f64| per_s * SECONDS_PER_MONTH;
    let shard_hours = stream.shards as f64 * HOURS_PER_MONTH;
    let put_units = per_month(stream.mean_put_units_per_s);
    let gb_seconds = per_month(processor.mean_invocations_per_s * processor.mean_invocation_seconds) * processor.memory_mb as f64 / 1024.0;
    let invocations = per_month(processor.mean_invocations_per_s);
    let requests = per_month(ingest.mean_requests_per_s);
    let [throughput, storage] = dynamodb(config, tables);
    vec![
        ServiceCost {
            service: "API Gateway",
            usd_per_month: requests / 1e6 * API_GATEWAY_REST_REQUESTS_PER_MILLION_USD,
            basis: if ingest.through_api {
                format!("{} million requests × ${} per million (REST, first tier)", num(requests / 1e6, 1), price(API_GATEWAY_REST_REQUESTS_PER_MILLION_USD))
            } else {
                "none: producers write KPL-aggregated records to Kinesis".into()
            },
        },
        ServiceCost {
            service: "Kinesis Data Streams",
            usd_per_month: shard_hours * KINESIS_SHARD_HOUR_USD + put_units / 1e6 * KINESIS_PUT_UNITS_PER_MILLION_USD,
            basis: format!(
                "{} shard-hours × ${KINESIS_SHARD_HOUR_USD} + {} million PUT payload units × ${KINESIS_PUT_UNITS_PER_MILLION_USD} per million",
                int(shard_hours as u64),
                num(put_units / 1e6, 1)
            ),
        },
        ServiceCost {
            service: "Lambda (processor)",
            usd_per_month: gb_seconds * LAMBDA_ARM_GB_SECOND_USD + invocations / 1e6 * LAMBDA_REQUESTS_PER_MILLION_USD,
            basis: format!(
                "{} GB-s × ${LAMBDA_ARM_GB_SECOND_USD} (arm64) + {} million invocations × ${} per million",
                int(gb_seconds.round() as u64),
                num(invocations / 1e6, 1),
                price(LAMBDA_REQUESTS_PER_MILLION_USD)
            ),
        },
        throughput,
        storage,
        ServiceCost {
            service: "Firehose",
            usd_per_month: archive.ingested_gb_per_month * (FIREHOSE_INGEST_GB_USD + FIREHOSE_DYNAMIC_PARTITIONING_GB_USD),
            basis: format!(
                "{} GB ingested × (${} + ${} dynamic partitioning)",
                int(archive.ingested_gb_per_month.round() as u64),
                price(FIREHOSE_INGEST_GB_USD),
                price(FIREHOSE_DYNAMIC_PARTITIONING_GB_USD)
            ),
        },
        ServiceCost {
            service: "S3 (archive)",
            usd_per_month: archive.archived_gb_per_month * S3_STANDARD_GB_MONTH_USD,
            basis: format!(
                "{} GB a month (gzip ~{ARCHIVE_GZIP_RATIO}×) in Standard for its first 30 days × ${S3_STANDARD_GB_MONTH_USD}",
                int(archive.archived_gb_per_month.round() as u64)
            ),
        },
    ]
}

/// The default quotas the plan exceeds.
pub fn quota_increases(
    ingest: &IngestPlan,
    stream: &StreamPlan,
    processor: &ProcessorPlan,
    tables: &TablesPlan,
    archive: &ArchivePlan,
) -> Vec<QuotaIncrease> {
    let mut increases = Vec::new();
    if stream.shards > stream.shard_quota {
        increases.push(QuotaIncrease {
            quota: "Kinesis Data Streams: shards per region",
            default: int(stream.shard_quota),
            request: format!("at least {} shards", int(stream.shards)),
        });
    }
    let concurrency = processor.reserved_concurrency + LAMBDA_UNRESERVED_MINIMUM;
    if concurrency > LAMBDA_CONCURRENCY_QUOTA {
        increases.push(QuotaIncrease {
            quota: "Lambda: concurrent executions",
            default: int(LAMBDA_CONCURRENCY_QUOTA),
            request: format!(
                "at least {} (the processor's {} reserved + {LAMBDA_UNRESERVED_MINIMUM} unreserved for the other functions)",
                int(concurrency),
                int(processor.reserved_concurrency)
            ),
        });
    }
    let table_units = [&tables.events, &tables.aggregates]
        .iter()
        .map(|t| t.capacity.as_ref().map_or(t.peak_write_units * HEADROOM, |c| c.max_write as f64))
        .fold(tables.index_write_units * HEADROOM, f64::max);
    if table_units > DYNAMODB_TABLE_THROUGHPUT_QUOTA {
        increases.push(QuotaIncrease {
            quota: "DynamoDB: table-level write throughput (per table and index)",
            default: format!("{} WRU/s", num(DYNAMODB_TABLE_THROUGHPUT_QUOTA, 0)),
            request: format!("at least {} WRU/s", int(ceil_count(table_units))),
        });
    }
    let provisioned: f64 = [&tables.events, &tables.aggregates].iter().filter_map(|t| t.capacity.as_ref()).map(|c| c.max_write as f64).sum();
    let index_capacity = tables.events.capacity.as_ref().filter(|_| tables.gsi_write_shards.is_some()).map_or(0.0, |c| c.max_write as f64);
    if provisioned + index_capacity > DYNAMODB_ACCOUNT_PROVISIONED_QUOTA {
        increases.push(QuotaIncrease {
            quota: "DynamoDB: account-level provisioned write capacity (all tables of the region)",
            default: format!("{} WCU", num(DYNAMODB_ACCOUNT_PROVISIONED_QUOTA, 0)),
            request: format!("at least {} WCU (the tables' auto scaling maxima)", int(ceil_count(provisioned + index_capacity))),
        });
    }
    if archive.streams_needed > archive.stream_count {
        let per_stream = archive.bytes_per_s * HEADROOM / archive.stream_count as f64 / MIB;
        increases.push(QuotaIncrease {
            quota: "Firehose: Direct PUT throughput per delivery stream",
            default: format!("{} MiB/s", num(archive.direct_put_bytes_per_s / MIB, 0)),
            request: format!(
                "at least {} MiB/s on each of the {} streams ({} would be needed at the default)",
                ceil_count(per_stream),
                archive.stream_count,
                archive.streams_needed
            ),
        });
    }
    let requests = ingest.requests_per_s * HEADROOM;
    if requests > API_ACCOUNT_REQUESTS_PER_S {
        increases.push(QuotaIncrease {
            quota: "API Gateway: throttle rate per account and region",
            default: format!("{} requests/s", num(API_ACCOUNT_REQUESTS_PER_S, 0)),
            request: format!("at least {} requests/s", int(ceil_count(requests))),
        });
    }
    increases
}
