//! The processor's archive routing against Firehose on moto_server: a backfill's
//! partitions (event type and hour far from the records' arrival) each go to one delivery
//! stream, so the streams share the partitions instead of each seeing all of them
//! (Firehose takes 500 active partitions per stream by default).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use pipeline_testing::moto::sdk_config;
use pipeline_testing::stack::{create_stack_with_streams, objects};
use processor::Processor;
use tokio::time::Instant;

#[tokio::test]
#[ignore = "needs moto_server: scripts/test.sh starts it and runs the ignored tests"]
async fn a_backfill_sends_each_partition_to_one_stream_and_archives_every_event() {
    let aws = sdk_config().await;
    let config = create_stack_with_streams(&aws, "routing", 3).await;
    let processor = Processor::new(&config, &aws).unwrap();

    let arrival: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
    let mut records = Vec::new();
    let mut push = |data: String| {
        let n = records.len();
        records.push(pipeline::Record {
            data: data.into_bytes(),
            partition_key: "backfill-user".into(),
            sequence_number: format!("{:056}", 49_700_000_000u64 + n as u64),
            sub_sequence_number: 0,
            shard_id: "shardId-000000000000".into(),
            arrival,
        });
    };
    // 40 hours of October, two types, two events per partition; and live events.
    for hour in 0..40 {
        let day = 1 + hour / 24;
        let time = format!("2026-10-{day:02}T{:02}:15:00Z", hour % 24);
        for event_type in ["pageview", "pageview", "identify", "identify"] {
            push(format!(r#"{{"event_type": "{event_type}", "user_id": "backfill-user", "timestamp": "{time}"}}"#));
        }
    }
    for minute in 0..5 {
        push(format!(r#"{{"event_type": "pageview", "user_id": 7, "timestamp": "2026-11-27T11:{minute:02}:00Z"}}"#));
    }
    let (response, report, _) = processor.answer(&kinesis_event(&records), Instant::now() + Duration::from_secs(30)).await;
    assert!(response.batch_item_failures.is_empty(), "{report:#?}");
    assert_eq!(report.counts.valid, records.len());

    // Which stream delivered each archived event's partition.
    let mut streams_of: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    let mut archived = 0;
    for (key, body) in objects(&aws, &config.bad_rows_bucket, "events/").await {
        let stream = key.trim_start_matches("events/").split('/').next().unwrap().to_owned();
        for line in String::from_utf8(body).unwrap().lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            let partition = |k: &str| event["_pipeline"][k].as_str().unwrap().to_owned();
            streams_of
                .entry((event["event_type"].as_str().unwrap().to_owned(), partition("dt"), partition("hr")))
                .or_default()
                .insert(stream.clone());
            archived += 1;
        }
    }
    assert_eq!(archived, records.len(), "every event archived once");
    let backfill: Vec<_> = streams_of.iter().filter(|((_, dt, _), _)| dt.starts_with("2026-10")).collect();
    assert_eq!(backfill.len(), 80, "40 hours x 2 types");
    for (partition, streams) in &backfill {
        assert_eq!(streams.len(), 1, "{partition:?} went to {streams:?}: one stream per late partition");
    }
    let used: BTreeSet<&String> = backfill.iter().flat_map(|(_, s)| s.iter()).collect();
    assert_eq!(used.len(), 3, "80 partitions spread over all 3 streams: {used:?}");
}
