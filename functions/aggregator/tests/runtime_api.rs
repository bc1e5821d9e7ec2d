//! The real `aggregator` binary through the Lambda Runtime API: partial aggregates are
//! written to moto_server's DynamoDB as the processor writes them, cargo-lambda's emulator
//! serves the API, and `cargo lambda invoke` sends an EventBridge scheduled event.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use pipeline::sink::AggregateStore;
use pipeline::workload::{Workload, WorkloadConfig};
use pipeline_aws::aggregates::DynamoAggregateStore;

use pipeline_testing::moto;
use pipeline_testing::runtime_emulator::{Emulator, Running};
use pipeline_testing::text;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs moto_server and cargo-lambda: scripts/test.sh provides both and runs the ignored tests"]
async fn a_scheduled_event_merges_the_partials_into_rows() {
    let dynamo = aws_sdk_dynamodb::Client::new(&moto::sdk_config().await);
    let table = format!("aggregator-runtime-{}", std::process::id());
    moto::create_table(&dynamo, &table).await;

    // One processed batch's partials, as the processor writes them.
    let core = pipeline::CoreConfig::embedded().unwrap();
    let records = Workload::new(WorkloadConfig { users: 50, oversize_ratio: 0.0, ..WorkloadConfig::default() })
        .records(400, "shardId-000000000000");
    let outcomes = pipeline::batch::process_batch(&core, &records, chrono::Utc::now());
    let partials = pipeline::aggregate::batch_partials(
        outcomes.iter().enumerate().filter_map(|(i, o)| o.as_event().map(|event| (i, &records[i], event))),
    );
    let windows: BTreeSet<_> = partials.iter().map(|p| p.window.clone()).collect();
    // One minute row per window and group value (a grouped series has one per value).
    let minute_rows: BTreeSet<_> = partials.iter().map(|p| (p.window.clone(), pipeline::group::split_grouped_key(&p.key).1.map(str::to_owned))).collect();
    let written = DynamoAggregateStore::new(dynamo.clone(), &table)
        .put_partials(&partials, tokio::time::Instant::now() + std::time::Duration::from_secs(60))
        .await;
    assert!(written.failed.is_empty(), "{written:?}");
    // Stored data that cannot be merged must not hold up the rest: a partial whose sketch
    // is garbage, in a minute of its own, and a marker whose minute is not a time.
    let unmergeable = "2001-01-01T00:00:00Z";
    let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_owned());
    let put = |item: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>| {
        let request = dynamo.put_item().table_name(&table).set_item(Some(item.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
        async move { request.send().await.unwrap() }
    };
    put(vec![
        ("pk", s(&format!("PARTIAL#pageview#{unmergeable}"))),
        ("sk", s("shardId-000000000009#1")),
        ("count", aws_sdk_dynamodb::types::AttributeValue::N("3".into())),
        ("users", aws_sdk_dynamodb::types::AttributeValue::B(vec![0xff, 0xfe, 0xfd].into())),
        ("revenue", s("{}")),
    ])
    .await;
    let dirty_pk = format!("DIRTY#{}", pipeline_aws::dynamodb::stable_hash(&format!("pageview#{unmergeable}")) % 16);
    put(vec![("pk", s(&dirty_pk)), ("sk", s(&format!("{unmergeable}#pageview"))), ("event_type", s("pageview")), ("minute", s(unmergeable)), ("token", s("1"))]).await;
    put(vec![("pk", s("DIRTY#3")), ("sk", s("garbage#pageview")), ("event_type", s("pageview")), ("minute", s("+10000-01-01T00:00:00Z")), ("token", s("1"))]).await;

    let emulator = Emulator::start();
    let _function = Running(
        emulator
            .function(env!("CARGO_BIN_EXE_aggregator"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AGGREGATES_TABLE", &table)
            .env("EVENTS_TABLE", "unused-by-the-aggregator")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let fixture = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/scheduled_event.json"));
    let summary = emulator.invoke(fixture);
    assert_eq!(summary["windows"], windows.len() + 1, "{summary}");
    assert_eq!(summary["rows"]["minute"], minute_rows.len(), "{summary}");
    assert_eq!(summary["skipped"], 2, "the garbage partial's minute and the unreadable marker: {summary}");

    // The event types' minute rows (not their groups') add up to the batch's valid events.
    let items = dynamo.scan().table_name(&table).send().await.unwrap().items.unwrap_or_default();
    let minute_counts: u64 = items
        .iter()
        .filter(|i| i["pk"].as_s().unwrap().starts_with("AGG#minute#") && !i["pk"].as_s().unwrap().contains('/'))
        .map(|i| i["count"].as_n().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(minute_counts, outcomes.iter().filter(|o| o.as_event().is_some()).count() as u64);

    // Nothing is left to merge: a second invocation finds no window.
    let again = emulator.invoke(fixture);
    assert_eq!(again["windows"], 0, "{again}");
}

#[test]
fn a_missing_setting_stops_init_with_its_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_aggregator")).env_clear().env("EVENTS_TABLE", "events").output().unwrap();
    assert!(!out.status.success());
    let text = text(&out);
    assert!(text.contains("AGGREGATES_TABLE"), "{text}");
}
