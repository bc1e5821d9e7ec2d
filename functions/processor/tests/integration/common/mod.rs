//! Test helpers of the processor's own types: the fixture event, a Kinesis batch, and calls
//! of the query Lambda's handler (the AWS set-up is in `pipeline-testing`).

use processor::KinesisBatch;

const FIXTURE: &str = include_str!("../../fixtures/kinesis_event.json");
/// Valid events in the fixture, and its bad rows by type.
pub const FIXTURE_VALID: usize = 5;
pub const FIXTURE_BAD: [(&str, usize); 4] =
    [("schema_violation", 1), ("unknown_event_type", 1), ("unknown_schema_version", 1), ("malformed", 1)];

/// The fixture event (`tests/fixtures/kinesis_event.json`).
pub fn fixture_event() -> KinesisBatch {
    KinesisBatch::from_json(FIXTURE).expect("fixture is a Kinesis event")
}

/// A Lambda Kinesis event carrying `records`.
pub fn kinesis_event(records: &[pipeline::Record]) -> KinesisBatch {
    KinesisBatch::from_json(&pipeline_testing::records::kinesis_event_json(records).to_string()).unwrap()
}

/// The query Lambda's handler over the stack's tables.
pub fn query_api(aws: &aws_config::SdkConfig, config: &pipeline_aws::ProcessorConfig) -> query::QueryApi {
    let tables = pipeline_aws::TablesConfig { events_table: config.events_table.clone(), aggregates_table: config.aggregates_table.clone() };
    let query = pipeline_aws::QueryConfig { tables, gsi_write_shards: config.gsi_write_shards };
    query::QueryApi::new(aws_sdk_dynamodb::Client::new(aws), &query, &pipeline::SchemaRegistry::embedded().unwrap())
}

/// An API Gateway `GET path?params`.
fn get(path: &str, params: &[(&str, &str)]) -> aws_lambda_events::event::apigw::ApiGatewayProxyRequest {
    let mut request = aws_lambda_events::event::apigw::ApiGatewayProxyRequest::default();
    request.http_method = aws_lambda_events::http::Method::GET;
    request.path = Some(path.to_owned());
    request.query_string_parameters =
        params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<std::collections::HashMap<_, _>>().into();
    request
}

/// The query handler's status and JSON body for `GET path?params`.
pub async fn call(api: &query::QueryApi, path: &str, params: &[(&str, &str)]) -> (i64, serde_json::Value) {
    let response = api.respond(&get(path, params)).await;
    let body = match response.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => serde_json::from_str(&t).unwrap(),
        other => panic!("unexpected body {other:?}"),
    };
    (response.status_code, body)
}
