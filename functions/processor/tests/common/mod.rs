//! Test helpers: the fixture event, and AWS resources on moto_server.
#![allow(dead_code)]

use processor::KinesisBatch;

pub const FIXTURE: &str = include_str!("../fixtures/kinesis_event.json");
/// Valid events in the fixture, and its bad rows by type.
pub const FIXTURE_VALID: usize = 5;
pub const FIXTURE_BAD: [(&str, usize); 4] =
    [("schema_violation", 1), ("unknown_event_type", 1), ("unknown_schema_version", 1), ("malformed", 1)];

pub fn fixture_event() -> KinesisBatch {
    KinesisBatch::from_json(FIXTURE).expect("fixture is a Kinesis event")
}

#[path = "../../../testing/moto.rs"]
mod moto;
#[path = "../../../testing/stack.rs"]
mod stack;
#[allow(unused_imports)] // not every test file uses them all
pub use moto::{create_table_with_index, endpoint, sdk_config};
#[allow(unused_imports)]
pub use stack::*;

/// A Lambda Kinesis event carrying `records`.
pub fn kinesis_event(records: &[pipeline::Record]) -> KinesisBatch {
    KinesisBatch::from_json(&kinesis_event_json(records).to_string()).unwrap()
}

/// The JSON Lambda sends for a Kinesis batch of `records`.
pub fn kinesis_event_json(records: &[pipeline::Record]) -> serde_json::Value {
    use base64::Engine as _;
    serde_json::json!({
        "Records": records.iter().map(|r| serde_json::json!({
            "eventID": format!("{}:{}", r.shard_id, r.sequence_number),
            "eventSource": "aws:kinesis",
            "kinesis": {
                "data": base64::engine::general_purpose::STANDARD.encode(&r.data),
                "partitionKey": r.partition_key,
                "sequenceNumber": r.sequence_number,
                "approximateArrivalTimestamp": r.arrival.timestamp_millis() as f64 / 1000.0,
            }
        })).collect::<Vec<_>>()
    })
}

/// The query Lambda's handler over the stack's tables.
pub fn query_api(aws: &aws_config::SdkConfig, config: &pipeline_aws::ProcessorConfig) -> query::QueryApi {
    let tables = pipeline_aws::TablesConfig { events_table: config.events_table.clone(), aggregates_table: config.aggregates_table.clone() };
    let query = pipeline_aws::QueryConfig { tables, gsi_write_shards: config.gsi_write_shards };
    query::QueryApi::new(aws_sdk_dynamodb::Client::new(aws), &query, &pipeline::SchemaRegistry::embedded().unwrap())
}

pub fn get(path: &str, params: &[(&str, &str)]) -> aws_lambda_events::event::apigw::ApiGatewayProxyRequest {
    let mut request = aws_lambda_events::event::apigw::ApiGatewayProxyRequest::default();
    request.http_method = aws_lambda_events::http::Method::GET;
    request.path = Some(path.to_owned());
    request.query_string_parameters =
        params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<std::collections::HashMap<_, _>>().into();
    request
}

pub async fn call(api: &query::QueryApi, path: &str, params: &[(&str, &str)]) -> (i64, serde_json::Value) {
    let response = api.respond(&get(path, params)).await;
    let body = match response.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => serde_json::from_str(&t).unwrap(),
        other => panic!("unexpected body {other:?}"),
    };
    (response.status_code, body)
}


/// `n` records of `shard` from `workload`, 700 ms of event time apart from 12:00 on
/// 27 November 2026 (several minutes), in sequence order.
pub fn timed_records(shard: &str, n: usize, workload: pipeline::workload::WorkloadConfig) -> Vec<pipeline::Record> {
    let start = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 27, 12, 0, 0).unwrap();
    let mut workload = pipeline::workload::Workload::new(workload);
    (0..n)
        .map(|i| {
            let time = start + chrono::Duration::milliseconds(700 * i as i64);
            pipeline::Record {
                data: workload.next_event_at(time).data,
                partition_key: format!("pk-{i}"),
                sequence_number: format!("{:056}", 49_650_000_000_000_000_000u128 + 1_000 * i as u128),
                sub_sequence_number: 0,
                shard_id: shard.to_owned(),
                arrival: time,
            }
        })
        .collect()
}
