//! `pipeline up --kinesis-listen` with the Rust AWS SDK (aws-sdk-kinesis, endpoint set as
//! AWS_ENDPOINT_URL would): single, batched and KPL-aggregated records (the project's encoder
//! and a hand-made aggregate) come out of the query API once each; a damaged aggregate is one
//! malformed bad row; and the SDK sees Kinesis' errors, with nothing stored.

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use pipeline::kpl::{MAX_AGGREGATED_BYTES, aggregate};
use pipeline_testing::{free_port, kpl_fixture, local::READ_KEY, up};

async fn client(endpoint: &str) -> Client {
    let config = pipeline_aws::sdk::loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kinesis::config::Credentials::new("test", "test", None, None, "tests"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    Client::new(&config)
}

fn entry(data: Vec<u8>, key: &str) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder().data(Blob::new(data)).partition_key(key).build().unwrap()
}

fn get(base: &str, path: &str) -> serde_json::Value {
    let mut response = ureq::get(&format!("{base}{path}")).header("x-api-key", READ_KEY).call().unwrap();
    response.body_mut().read_json().unwrap()
}

fn events(base: &str, user: &str) -> Vec<serde_json::Value> {
    get(base, &format!("/v1/users/{user}/events?limit=1000"))["events"].as_array().unwrap().clone()
}

fn drained(base: &str) {
    let start = std::time::Instant::now();
    while get(base, "/health")["lag"] != 0 {
        assert!(start.elapsed() < std::time::Duration::from_secs(60), "the stream did not drain");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn pageview(user: &str, n: usize) -> Vec<u8> {
    format!(r#"{{"event_type":"pageview","user_id":"{user}","properties":{{"n":{n}}}}}"#).into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_sdk_puts_single_batched_and_aggregated_records() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let kinesis = format!("127.0.0.1:{}", free_port());
    let pipeline = up!(dir.path(), port, &["--kinesis-listen", &kinesis]);
    let k = client(&format!("http://{kinesis}")).await;

    let summary = k.describe_stream_summary().stream_name("events").send().await.unwrap();
    assert_eq!(summary.stream_description_summary().unwrap().open_shard_count(), 4);
    let shards = k.list_shards().stream_name("events").send().await.unwrap();
    assert_eq!(shards.shards().len(), 4);

    let out = k.put_record().stream_name("events").partition_key("sdk-single").data(Blob::new(pageview("sdk-single", 0))).send().await.unwrap();
    assert!(out.shard_id().starts_with("shardId-"));
    let batch: Vec<_> = (0..100).map(|n| entry(pageview("sdk-batched", n), "sdk-batched")).collect();
    let out = k.put_records().stream_name("events").set_records(Some(batch)).send().await.unwrap();
    assert_eq!((out.failed_record_count(), out.records().len()), (Some(0), 100));

    // 400 events of 4 users packed by the encoder loadtest uses, the hand-made aggregate, and
    // a damaged one, in one PutRecords.
    let users: Vec<(String, Vec<u8>)> = (0..400).map(|n| (format!("sdk-agg-{}", n % 4), pageview(&format!("sdk-agg-{}", n % 4), n))).collect();
    let packed = aggregate(users.iter().map(|(k, d)| (k.as_str(), None, d.as_slice())), 4 * 1024);
    assert!(packed.len() > 4 && packed.iter().all(|r| r.data.len() <= MAX_AGGREGATED_BYTES));
    let mut damaged = kpl_fixture::handmade_aggregate();
    damaged[20] ^= 0x55;
    let mut entries: Vec<_> = packed.iter().map(|r| entry(r.data.clone(), &r.partition_key)).collect();
    entries.push(entry(kpl_fixture::handmade_aggregate(), "alpha"));
    entries.push(entry(damaged.clone(), "damaged"));
    let out = k.put_records().stream_name("events").set_records(Some(entries)).send().await.unwrap();
    assert_eq!(out.failed_record_count(), Some(0), "a damaged aggregate is accepted, as Kinesis accepts any data");
    let damaged_at = out.records().last().unwrap().clone();

    let base = pipeline.base.clone();
    tokio::task::spawn_blocking(move || {
        drained(&base);
        assert_eq!(events(&base, "sdk-single").len(), 1);
        let mut ns: Vec<u64> = events(&base, "sdk-batched").iter().map(|e| e["properties"]["n"].as_u64().unwrap()).collect();
        ns.sort_unstable();
        assert_eq!(ns, (0..100).collect::<Vec<_>>());
        let mut ns: Vec<u64> = (0..4).flat_map(|u| events(&base, &format!("sdk-agg-{u}"))).map(|e| e["properties"]["n"].as_u64().unwrap()).collect();
        ns.sort_unstable();
        assert_eq!(ns, (0..400).collect::<Vec<_>>(), "every user record once");
        assert_eq!(events(&base, "alpha").len(), 1);
        let beta = events(&base, "beta");
        assert_eq!(beta.len(), 1);
        assert_eq!(beta[0]["_pipeline"]["sub_sequence_number"], 1);
        let bad = get(&base, "/v1/bad-rows?limit=1000")["bad_rows"].as_array().unwrap().clone();
        let of_damaged: Vec<_> = bad.iter().filter(|b| b["sequence_number"] == damaged_at.sequence_number().unwrap() && b["shard_id"] == damaged_at.shard_id().unwrap()).collect();
        assert_eq!(of_damaged.len(), 1, "{bad:?}");
        assert_eq!(of_damaged[0]["type"], "malformed");
        let handmade_bad: Vec<_> = bad.iter().filter(|b| b["partition_key"] == "alpha").collect();
        assert_eq!((handmade_bad.len(), handmade_bad[0]["sub_sequence_number"].as_u64()), (1, Some(2)));
    })
    .await
    .unwrap();

    // Kinesis' errors, as the SDK reads them.
    let e = k.put_record().stream_name("nope").partition_key("a").data(Blob::new(b"{}".to_vec())).send().await.unwrap_err();
    assert!(e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()), "{e:?}");
    let big = vec![b'x'; 1024 * 1024 - 100];
    let six: Vec<_> = (0..6).map(|_| entry(big.clone(), "a")).collect();
    let e = k.put_records().stream_name("events").set_records(Some(six)).send().await.unwrap_err();
    assert!(e.as_service_error().is_some_and(|s| s.is_invalid_argument_exception()), "{e:?}");
    let e = k.put_record().stream_name("events").partition_key("a".repeat(101)).data(Blob::new(big)).send().await.unwrap_err();
    assert_eq!(e.code(), Some("ValidationException"), "1 MiB counts data plus partition key: {e:?}");
    let metrics = ureq::get(&format!("{}/metrics", pipeline.base)).call().unwrap().body_mut().read_to_string().unwrap();
    let accepted = format!("pipeline_kinesis_records_accepted_total {}\n", 1 + 100 + packed.len() + 2);
    assert!(metrics.contains(&accepted), "only the good requests' records: {metrics}");
}
