//! Local mode over HTTP, in process: the ingest API's statuses and shapes, the shard rule,
//! gzip, processing into the stores, queries with cursors, and conservation.

use std::time::{Duration, Instant};

use pipeline_local::{LocalConfig, run};
use pipeline_testing::free_port;
use pipeline_testing::local::wait_for_health;
use serde_json::{Value, json};

const KEY: &str = "test-key";
const READ_KEY: &str = "test-read-key";

struct Local {
    base: String,
    _dir: tempfile::TempDir,
}

fn start() -> Local {
    start_with(Duration::from_millis(200))
}

fn start_with(aggregate_interval: Duration) -> Local {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = LocalConfig {
        api_key: Some(KEY.into()),
        read_key: Some(READ_KEY.into()),
        aggregate_interval,
        ..LocalConfig::new(dir.path(), format!("127.0.0.1:{port}").parse().unwrap())
    };
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(run(config)).unwrap();
    });
    let base = format!("http://127.0.0.1:{port}");
    wait_for_health(&base);
    Local { base, _dir: dir }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn post(base: &str, path: &str, key: Option<&str>, body: Vec<u8>, gzip: bool) -> (u16, Value, Option<String>) {
    let mut req = agent().post(&format!("{base}{path}")).header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    if gzip {
        req = req.header("content-encoding", "gzip");
    }
    let mut resp = req.send(&body[..]).unwrap();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), retry)
}

fn get(base: &str, path: &str) -> (u16, Value) {
    let mut resp = agent().get(&format!("{base}{path}")).header("x-api-key", READ_KEY).call().unwrap();
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null))
}

#[test]
fn ingest_statuses_and_shapes() {
    let local = start();
    let b = &local.base;
    let events = json!([{"event_type": "pageview", "user_id": 123}, {"event_type": "click", "user_id": "u-1"}]);
    let body = serde_json::to_vec(&events).unwrap();

    let (status, reply, _) = post(b, "/v1/events", None, body.clone(), false);
    assert_eq!((status, reply), (403, json!({"message": "Forbidden"})));
    let (status, _, _) = post(b, "/v1/events", Some("wrong"), body.clone(), false);
    assert_eq!(status, 403);

    let (status, reply, _) = post(b, "/v1/events", Some(KEY), body.clone(), false);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["FailedRecordCount"], 0);
    let records = reply["Records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    // MD5("123") starts with bits 00: shard 0 of 4.
    assert_eq!(records[0]["ShardId"], "shardId-000000000000");
    assert!(records[0]["SequenceNumber"].is_string());

    let (status, reply, _) = post(b, "/v1/event", Some(KEY), br#"{"event_type": "pageview", "user_id": 123}"#.to_vec(), false);
    assert_eq!(status, 200);
    assert_eq!(reply["ShardId"], "shardId-000000000000");
    assert!(reply["SequenceNumber"].as_str().unwrap() > records[0]["SequenceNumber"].as_str().unwrap(), "sequence numbers increase");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &body).unwrap();
    let (status, reply, _) = post(b, "/v1/events", Some(KEY), gz.finish().unwrap(), true);
    assert_eq!(status, 200, "{reply}");

    for bad in [&b"not json"[..], b"{}", b"[]", b"[1, 2]", b"[{\"a\": 1}, \"x\"]"] {
        let (status, reply, _) = post(b, "/v1/events", Some(KEY), bad.to_vec(), false);
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(bad));
        assert!(reply["message"].is_string());
    }
    let many: Vec<Value> = (0..501).map(|i| json!({"event_type": "pageview", "user_id": i})).collect();
    let (status, _, _) = post(b, "/v1/events", Some(KEY), serde_json::to_vec(&many).unwrap(), false);
    assert_eq!(status, 400);
    let big = json!([{"event_type": "pageview", "user_id": 1, "properties": {"x": "y".repeat(1_100_000)}}]);
    let (status, _, _) = post(b, "/v1/events", Some(KEY), serde_json::to_vec(&big).unwrap(), false);
    assert_eq!(status, 400, "a record over 1 MiB");
    let huge = json!([{"event_type": "pageview", "user_id": 1, "properties": {"x": "y".repeat(6 * 1024 * 1024)}}]);
    let (status, _, _) = post(b, "/v1/events", Some(KEY), serde_json::to_vec(&huge).unwrap(), false);
    assert_eq!(status, 413);
}

#[test]
fn accepted_events_are_processed_and_queryable_with_cursors() {
    let local = start();
    let b = &local.base;
    let mut events: Vec<Value> = (0..25)
        .map(|i| json!({"event_type": "pageview", "user_id": "u-7", "timestamp": format!("2026-11-27T12:00:{i:02}Z")}))
        .collect();
    events.push(json!({"event_type": "purchase", "user_id": "u-7", "amount": -1}));
    events.push(json!({"event_type": "nope", "user_id": "u-8"}));
    let (status, _, _) = post(b, "/v1/events", Some(KEY), serde_json::to_vec(&events).unwrap(), false);
    assert_eq!(status, 200);

    let start = Instant::now();
    loop {
        let (_, bad) = get(b, "/v1/bad-rows");
        let (_, page) = get(b, "/v1/users/u-7/events?limit=100");
        if bad["bad_rows"].as_array().map_or(0, Vec::len) == 2 && page["events"].as_array().map_or(0, Vec::len) == 25 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "not processed: {bad} {page}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Newest first, 10 a page, every event once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/users/u-7/events?limit=10&cursor={c}"),
            None => "/v1/users/u-7/events?limit=10".to_owned(),
        };
        let (status, page) = get(b, &path);
        assert_eq!(status, 200);
        for e in page["events"].as_array().unwrap() {
            seen.push(e["timestamp"].as_str().unwrap().to_owned());
            assert!(e["_pipeline"]["schema"] == "pageview/1-0-0");
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first");

    let mut resp = agent().get(&format!("{b}/metrics")).call().unwrap();
    let text = resp.body_mut().read_to_string().unwrap();
    assert!(text.contains("pipeline_events_accepted_total 27"), "{text}");
    assert!(text.contains("pipeline_bad_rows_total{type=\"unknown_event_type\"} 1"), "{text}");
    for shard in 0..4 {
        assert!(text.contains(&format!("pipeline_stream_lag_records{{shard=\"shardId-00000000000{shard}\"}} 0")), "{text}");
    }
    assert!(text.contains("# TYPE pipeline_batch_duration_seconds summary") && text.contains("pipeline_batch_duration_seconds_count "), "{text}");
    let (_, bad) = get(b, "/v1/bad-rows?type=unknown_event_type");
    assert_eq!(bad["bad_rows"].as_array().unwrap().len(), 1);
    assert_eq!(get(b, "/v1/bad-rows?type=bogus").0, 400);
    assert_eq!(get(b, "/v1/users/u-7/events?limit=0").0, 400);
    assert_eq!(get(b, "/v1/users/u-7/events?from=yesterday").0, 400);
    assert_eq!(get(b, "/v1/users/u-7/events?cursor=garbage").0, 400);
    let (_, window) = get(b, "/v1/users/u-7/events?from=2026-11-27T12:00:05Z&to=2026-11-27T12:00:09Z");
    assert_eq!(window["events"].as_array().unwrap().len(), 5);
    assert_eq!(get(b, &format!("/v1/users/{}/events", "u".repeat(129))).0, 400, "no user id is that long");
    assert_eq!(get(b, "/v1/aggregates?event_type=").0, 400);
    assert_eq!(get(b, "/v1/bad-rows?order=sideways").0, 400);
}

#[test]
fn bad_rows_page_oldest_or_newest_first() {
    let local = start();
    let b = &local.base;
    for i in 0..5 {
        let event = json!([{"event_type": format!("nope_{i}"), "user_id": i}]);
        assert_eq!(post(b, "/v1/events", Some(KEY), serde_json::to_vec(&event).unwrap(), false).0, 200);
        // Distinct failure seconds, so the order is by time and not only by key.
        std::thread::sleep(Duration::from_millis(1100));
    }
    let start = Instant::now();
    while get(b, "/v1/bad-rows").1["bad_rows"].as_array().map_or(0, Vec::len) < 5 {
        assert!(start.elapsed() < Duration::from_secs(30), "bad rows not stored");
        std::thread::sleep(Duration::from_millis(100));
    }
    let types = |path: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}&cursor={c}"),
                None => path.to_owned(),
            };
            let (status, page) = get(b, &url);
            assert_eq!(status, 200, "{page}");
            out.extend(page["bad_rows"].as_array().unwrap().iter().map(|r| r["event_type"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    };
    let oldest = types("/v1/bad-rows?limit=2");
    assert_eq!(oldest, ["nope_0", "nope_1", "nope_2", "nope_3", "nope_4"]);
    let newest = types("/v1/bad-rows?order=newest&limit=2");
    assert_eq!(newest, ["nope_4", "nope_3", "nope_2", "nope_1", "nope_0"]);
}

/// Sums `count` over every row of one granularity, and the month rows' unique users per type.
fn aggregate_totals(b: &str, granularity: &str) -> (u64, Vec<(String, u64)>) {
    let (status, reply) = get(b, &format!("/v1/aggregates?granularity={granularity}&from=2026-10-01T00:00:00Z&to=2027-01-01T00:00:00Z"));
    assert_eq!(status, 200, "{reply}");
    let rows = reply["aggregates"].as_array().unwrap();
    let total = rows.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    let users = rows.iter().map(|r| (format!("{}@{}", r["event_type"].as_str().unwrap(), r["window_start"].as_str().unwrap()), r["unique_users"].as_u64().unwrap())).collect();
    (total, users)
}

#[test]
fn aggregates_add_up_to_the_events_accepted_at_every_granularity() {
    let local = start();
    let b = &local.base;
    // 2,000 events over two months, 3 event types, 150 users; 20 of them invalid.
    let mut accepted_valid = 0u64;
    let mut revenue_cents = 0u64;
    let mut exact_users: std::collections::BTreeMap<String, std::collections::HashSet<String>> = Default::default();
    for chunk in 0..4 {
        let events: Vec<Value> = (0..500)
            .map(|i| {
                let n = chunk * 500 + i;
                let time = format!("2026-{}-{:02}T{:02}:{:02}:07Z", if n % 2 == 0 { 11 } else { 12 }, n % 28 + 1, n % 24, n % 60);
                match n % 101 {
                    0 => json!({"event_type": "pageview", "user_id": -1}),
                    r if r % 3 == 0 => json!({"event_type": "purchase", "user_id": format!("u-{}", n % 150), "timestamp": time,
                        "order_id": format!("o-{n}"), "amount": 12.34, "currency": "EUR", "items": [{"sku": "a", "quantity": 1, "price": 12.34}]}),
                    r if r % 3 == 1 => json!({"event_type": "click", "user_id": format!("u-{}", n % 150), "timestamp": time, "element_id": "b", "page_url": "https://example.com/"}),
                    _ => json!({"event_type": "pageview", "user_id": format!("u-{}", n % 150), "timestamp": time}),
                }
            })
            .collect();
        for e in &events {
            if e["user_id"] != -1 {
                accepted_valid += 1;
                let month = &e["timestamp"].as_str().unwrap()[..7];
                let key = format!("{}@{month}-01T00:00:00Z", e["event_type"].as_str().unwrap());
                exact_users.entry(key).or_default().insert(e["user_id"].as_str().unwrap().to_owned());
                if e["event_type"] == "purchase" {
                    revenue_cents += 1234;
                }
            }
        }
        let (status, reply, _) = post(b, "/v1/events", Some(KEY), serde_json::to_vec(&events).unwrap(), false);
        assert_eq!((status, reply["FailedRecordCount"].as_u64()), (200, Some(0)), "{reply}");
    }
    // Merged every 200 ms: wait until the month rows hold every valid event.
    let start = Instant::now();
    while aggregate_totals(b, "month").0 < accepted_valid {
        assert!(start.elapsed() < Duration::from_secs(60), "aggregates did not catch up: {:?}", aggregate_totals(b, "month").0);
        std::thread::sleep(Duration::from_millis(100));
    }
    for granularity in ["minute", "hour", "day", "month"] {
        // Minute rows over three months are more than one request may span: ask per day.
        let total = if granularity == "minute" {
            let mut sum = 0;
            for month in [11, 12] {
                for day in 1..=28 {
                    let (status, reply) = get(b, &format!("/v1/aggregates?granularity=minute&from=2026-{month}-{day:02}T00:00:00Z&to=2026-{month}-{day:02}T23:59:59Z"));
                    assert_eq!(status, 200, "{reply}");
                    sum += reply["aggregates"].as_array().unwrap().iter().map(|r| r["count"].as_u64().unwrap()).sum::<u64>();
                }
            }
            sum
        } else {
            aggregate_totals(b, granularity).0
        };
        assert_eq!(total, accepted_valid, "{granularity} rows add up to the valid events");
    }
    // Under 128 users a sketch keeps every user's hash: the figures are exact.
    let (_, users) = aggregate_totals(b, "month");
    let expected: Vec<(String, u64)> = exact_users.iter().map(|(k, v)| (k.clone(), v.len() as u64)).collect();
    let mut users = users;
    users.sort();
    assert_eq!(users, expected);
    let (_, reply) = get(b, "/v1/aggregates?granularity=month&event_type=purchase&from=2026-10-01T00:00:00Z&to=2027-01-01T00:00:00Z");
    let eur: f64 = reply["aggregates"].as_array().unwrap().iter().map(|r| r["revenue"]["EUR"].as_f64().unwrap()).sum();
    assert!((eur - revenue_cents as f64 / 100.0).abs() < 1e-6, "{eur} vs {}", revenue_cents as f64 / 100.0);

    let (status, reply) = get(b, "/v1/aggregates?granularity=week");
    assert_eq!(status, 400);
    assert!(reply["message"].as_str().unwrap().contains("minute, hour, day, month"));
    let (status, _) = get(b, "/v1/aggregates?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z");
    assert_eq!(status, 400);
}

#[test]
fn aggregates_follow_the_events_once_the_stream_has_caught_up() {
    // An interval of an hour: only the merge that follows a caught-up stream can show these.
    let local = start_with(Duration::from_secs(3600));
    let b = &local.base;
    let events: Vec<Value> = (0..50).map(|i| json!({"event_type": "click", "user_id": i % 7, "element_id": "b", "page_url": "https://example.com/"})).collect();
    let (status, _, _) = post(b, "/v1/events", Some(KEY), serde_json::to_vec(&events).unwrap(), false);
    assert_eq!(status, 200);
    let start = Instant::now();
    loop {
        let (_, reply) = get(b, "/v1/aggregates?granularity=day&event_type=click");
        let rows = reply["aggregates"].as_array().cloned().unwrap_or_default();
        if rows.iter().map(|r| r["count"].as_u64().unwrap()).sum::<u64>() == 50 {
            assert_eq!(rows.iter().map(|r| r["unique_users"].as_u64().unwrap()).max(), Some(7));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "aggregates did not follow: {reply}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_old_event_is_kept_for_the_retention_from_its_arrival() {
    let local = start();
    let b = &local.base;
    let old = json!([{"event_type": "pageview", "user_id": "u-old", "timestamp": "2020-01-01T00:00:00Z"}]);
    let (status, _, _) = post(b, "/v1/events", Some(KEY), serde_json::to_vec(&old).unwrap(), false);
    assert_eq!(status, 200);
    let start = Instant::now();
    while get(b, "/v1/users/u-old/events").1["events"].as_array().map_or(0, Vec::len) == 0 {
        assert!(start.elapsed() < Duration::from_secs(30), "the event was not stored");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Retention counts from arrival: an event six years old by its own time is kept (and
    // returned) like a new one.
}

#[test]
fn bad_rows_are_marked_recovered_with_the_read_key_and_filtered() {
    let local = start();
    let b = &local.base;
    let events: Vec<Value> = (0..5).map(|i| json!({"event_type": "nope", "user_id": format!("u-{i}")})).collect();
    assert_eq!(post(b, "/v1/events", Some(KEY), serde_json::to_vec(&events).unwrap(), false).0, 200);
    let start = Instant::now();
    let rows = loop {
        let (_, bad) = get(b, "/v1/bad-rows");
        let rows = bad["bad_rows"].as_array().cloned().unwrap_or_default();
        if rows.len() == 5 {
            break rows;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "not processed: {bad}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(rows.iter().all(|r| r.get("recovered_at").is_none()));
    let id = |r: &Value| json!({"shard_id": r["shard_id"], "sequence_number": r["sequence_number"], "sub_sequence_number": r["sub_sequence_number"]});
    let two = serde_json::to_vec(&json!({"bad_rows": [id(&rows[0]), id(&rows[3]), {"shard_id": "shardId-000000000000", "sequence_number": "1"}]})).unwrap();

    // The ingest key cannot mark; the read key can, and again changes nothing.
    assert_eq!(post(b, "/v1/bad-rows/recovered", Some(KEY), two.clone(), false).0, 403);
    assert_eq!(post(b, "/v1/bad-rows/recovered", None, two.clone(), false).0, 403);
    let (status, reply, _) = post(b, "/v1/bad-rows/recovered", Some(READ_KEY), two.clone(), false);
    assert_eq!((status, reply), (200, json!({"marked": 2, "not_found": 1})));
    let (_, marked) = get(b, "/v1/bad-rows?recovered=true");
    let marked = marked["bad_rows"].as_array().unwrap().clone();
    assert_eq!(marked.len(), 2);
    let first_time = marked[0]["recovered_at"].as_str().unwrap().to_owned();
    assert!(pipeline::time_format::parse_rfc3339(&first_time).is_some(), "{first_time}");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(post(b, "/v1/bad-rows/recovered", Some(READ_KEY), two, false).1["marked"], 2);
    let (_, again) = get(b, "/v1/bad-rows?recovered=true&type=unknown_event_type");
    assert_eq!(again["bad_rows"][0]["recovered_at"], first_time.as_str(), "a second mark keeps the first time");
    let (_, left) = get(b, "/v1/bad-rows?recovered=false&limit=2");
    assert_eq!(left["bad_rows"].as_array().unwrap().len(), 2);
    let cursor = left["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = get(b, &format!("/v1/bad-rows?recovered=false&limit=2&cursor={cursor}"));
    assert_eq!(rest["bad_rows"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let (_, newest) = get(b, "/v1/bad-rows?recovered=true&order=newest");
    assert_eq!(newest["bad_rows"].as_array().unwrap().len(), 2);

    // Refusals: a bad filter, a body of the wrong shape, too many ids at once.
    assert_eq!(get(b, "/v1/bad-rows?recovered=yes").0, 400);
    let as_float = serde_json::to_vec(&json!({"bad_rows": [{"shard_id": rows[1]["shard_id"], "sequence_number": rows[1]["sequence_number"], "sub_sequence_number": 0.0}]})).unwrap();
    assert_eq!(post(b, "/v1/bad-rows/recovered", Some(READ_KEY), as_float, false).1["marked"], 1, "0.0 is the integer 0");
    for body in [
        &b"not json"[..],
        b"{}",
        b"{\"bad_rows\": [{\"shard_id\": 1}]}",
        b"[]",
        b"{\"bad_rows\": [{\"shard_id\": \"s\", \"sequence_number\": \"1\", \"sub_sequence_number\": 1.5}]}",
        b"{\"bad_rows\": [{\"shard_id\": \"s\", \"sequence_number\": \"1\", \"sub_sequence_number\": -1}]}",
        b"{\"bad_rows\": [], \"more\": 1}",
        b"{\"bad_rows\": [{\"shard_id\": \"s\", \"sequence_number\": \"1\", \"sub_sequence_number\": null}]}",
    ] {
        let (status, reply, _) = post(b, "/v1/bad-rows/recovered", Some(READ_KEY), body.to_vec(), false);
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(body));
        assert!(reply["message"].as_str().unwrap().contains("bad_rows"), "{reply}");
    }
    let many: Vec<Value> = (0..10_001).map(|i| json!({"shard_id": "s", "sequence_number": i.to_string()})).collect();
    let (status, _, _) = post(b, "/v1/bad-rows/recovered", Some(READ_KEY), serde_json::to_vec(&json!({"bad_rows": many})).unwrap(), false);
    assert_eq!(status, 400);
}

#[test]
fn one_types_events_page_newest_first_across_users() {
    let local = start();
    let b = &local.base;
    // 30 pageviews of three users, two users at each second (ties broken by user), and
    // clicks in between that a pageview query must not return.
    let mut events: Vec<Value> = (0..30)
        .map(|i| json!({"event_type": "pageview", "user_id": format!("u-{}", i % 3), "timestamp": format!("2026-11-27T12:00:{:02}Z", i / 2)}))
        .collect();
    events.extend((0..10).map(|i| json!({"event_type": "click", "user_id": "u-1", "element_id": "buy", "page_url": "https://example.com/", "timestamp": format!("2026-11-27T12:00:{i:02}Z")})));
    assert_eq!(post(b, "/v1/events", Some(KEY), serde_json::to_vec(&events).unwrap(), false).0, 200);
    let start = Instant::now();
    while get(b, "/v1/events?event_type=click&limit=100").1["events"].as_array().map_or(0, Vec::len) < 10
        || get(b, "/v1/events?event_type=pageview&limit=100").1["events"].as_array().map_or(0, Vec::len) < 30
    {
        assert!(start.elapsed() < Duration::from_secs(30), "not processed");
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut seen: Vec<(String, String)> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/events?event_type=pageview&limit=7&cursor={c}"),
            None => "/v1/events?event_type=pageview&limit=7".to_owned(),
        };
        let (status, page) = get(b, &path);
        assert_eq!(status, 200, "{page}");
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= 7);
        for e in events {
            assert_eq!(e["event_type"], "pageview");
            seen.push((e["timestamp"].as_str().unwrap().to_owned(), e["event_id"].as_str().unwrap().to_owned()));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 30, "every pageview once: {seen:?}");
    let ids: std::collections::HashSet<&String> = seen.iter().map(|(_, id)| id).collect();
    assert_eq!(ids.len(), 30, "no event twice");
    assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "newest first: {seen:?}");

    let (_, window) = get(b, "/v1/events?event_type=pageview&from=2026-11-27T12:00:05Z&to=2026-11-27T12:00:09Z");
    assert_eq!(window["events"].as_array().unwrap().len(), 10, "two a second, both ends included");
    assert_eq!(get(b, "/v1/events?event_type=purchase").1["events"], json!([]));

    // The contract's refusals, as the query Lambda's.
    let (status, body) = get(b, "/v1/events");
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("event_type is required"), "{body}");
    assert!(get(b, "/v1/events?event_type=signup").1["message"].as_str().unwrap().contains("not one of the schemas' types"));
    let (_, first) = get(b, "/v1/events?event_type=pageview&limit=1");
    let pageview_cursor = first["next_cursor"].as_str().unwrap();
    let (status, body) = get(b, &format!("/v1/events?event_type=click&cursor={pageview_cursor}"));
    assert_eq!(status, 400, "a cursor of another type: {body}");
    assert_eq!(get(b, "/v1/events?event_type=pageview&cursor=garbage").0, 400);
    assert_eq!(get(b, "/v1/events?event_type=pageview&limit=1001").0, 400);

    // A read route: the ingest key does not open it, and POST stays the ingest key's.
    let resp = agent().get(&format!("{b}/v1/events?event_type=pageview")).header("x-api-key", KEY).call().unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let body = serde_json::to_vec(&json!([{"event_type": "pageview", "user_id": "u-9"}])).unwrap();
    assert_eq!(post(b, "/v1/events", Some(READ_KEY), body.clone(), false).0, 403);
    assert_eq!(post(b, "/v1/events", Some(KEY), body, false).0, 200);
}
