//! The real `query` binary through the Lambda Runtime API: cargo-lambda's emulator serves
//! the API, `cargo lambda invoke` sends an API Gateway proxy event, and the binary reads
//! moto_server's DynamoDB.

use std::process::{Command, Stdio};

use aws_sdk_dynamodb::types::AttributeValue;

use pipeline_testing::moto;
use pipeline_testing::runtime_emulator::{Emulator, Running};
use pipeline_testing::text;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server and cargo-lambda: scripts/test.sh provides both and runs the ignored tests"]
async fn the_binary_answers_an_api_gateway_proxy_event() {
    let aws = moto::sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let suffix = std::process::id();
    let (events, aggregates) = (format!("query-events-{suffix}"), format!("query-aggregates-{suffix}"));
    moto::create_table(&dynamo, &events).await;
    moto::create_table(&dynamo, &aggregates).await;
    for second in 1..=3 {
        let sk = format!("2026-11-27T12:00:0{second}.000Z#e{second}");
        let payload = format!(r#"{{"event_type":"pageview","user_id":"u-7","timestamp":"2026-11-27T12:00:0{second}.000Z","event_id":"e{second}"}}"#);
        dynamo
            .put_item()
            .table_name(&events)
            .item("pk", AttributeValue::S("USER#u-7".into()))
            .item("sk", AttributeValue::S(sk))
            .item("event_type", AttributeValue::S("pageview".into()))
            .item("payload", AttributeValue::S(payload))
            .send()
            .await
            .unwrap();
    }

    let emulator = Emulator::start();
    let _function = Running(
        emulator
            .function(env!("CARGO_BIN_EXE_query"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("EVENTS_TABLE", &events)
            .env("AGGREGATES_TABLE", &aggregates)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let response = emulator.invoke(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/apigw_user_events.json")));
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    let ids: Vec<&str> = body["events"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["e3", "e2", "e1"], "newest first");
    assert_eq!(body["next_cursor"], serde_json::Value::Null);
}

#[test]
fn a_missing_setting_stops_init_with_its_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_query")).env_clear().env("EVENTS_TABLE", "events").output().unwrap();
    assert!(!out.status.success());
    let text = text(&out);
    assert!(text.contains("AGGREGATES_TABLE"), "{text}");
}
