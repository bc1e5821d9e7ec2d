//! Events that used to stall or poison the pipeline, against the real `pipeline up`
//! binary: timestamps at the edge of the representable range, a stored aggregate window
//! that cannot be merged, and wide objects just under 1 MiB ahead of a canary event.

use std::time::{Duration, Instant};

use pipeline_testing::{free_port, local::{KEY, READ_KEY, Up}, up};
use serde_json::{Value, json};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(30))).build().into()
}

fn post(up: &Up, events: &Value) {
    let mut resp = agent().post(&format!("{}/v1/events", up.base)).header("x-api-key", KEY).send(&serde_json::to_vec(events).unwrap()[..]).unwrap();
    let status = resp.status().as_u16();
    assert_eq!(status, 200, "{}", resp.body_mut().read_to_string().unwrap_or_default());
}

fn get(up: &Up, path: &str) -> Value {
    let mut resp = agent().get(&format!("{}{path}", up.base)).header("x-api-key", READ_KEY).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{path}");
    serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap()
}

/// Polls `path` until `done` holds for its body (at most `within`).
fn wait_for(up: &Up, path: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let body = get(up, path);
        if done(&body) {
            return body;
        }
        assert!(start.elapsed() < within, "{path} did not get there within {within:?}: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn count(aggregates: &Value) -> u64 {
    aggregates["aggregates"].as_array().unwrap().iter().map(|r| r["count"].as_u64().unwrap()).sum()
}

#[test]
fn edge_timestamps_are_bad_rows_and_aggregates_keep_coming() {
    let dir = tempfile::tempdir().unwrap();
    let up = up!(dir.path(), free_port(), &["--aggregate-interval", "1s"]);
    let outside = ["9999-12-31T23:59:59-00:01", "0000-01-01T00:00:00+00:01", "0000-06-01T00:00:00Z", "9999-12-31T23:59:59.9999Z"];
    let events: Vec<Value> = outside.iter().map(|t| json!({"event_type": "pageview", "user_id": "edge", "timestamp": t})).collect();
    post(&up, &Value::from(events));
    // The last representable instant is valid, and lands in the windows of December 9999.
    post(&up, &json!([{"event_type": "pageview", "user_id": "edge", "timestamp": "9999-12-31T23:59:59.999Z"}]));
    post(&up, &json!([{"event_type": "click", "user_id": "canary", "element_id": "b", "page_url": "https://e.com", "timestamp": "2026-11-27T12:00:00Z"}]));

    let bad = wait_for(&up, "/v1/bad-rows?type=schema_violation", Duration::from_secs(30), |b| b["bad_rows"].as_array().unwrap().len() == outside.len());
    for row in bad["bad_rows"].as_array().unwrap() {
        assert_eq!(row["errors"][0]["path"], "/timestamp", "{row}");
        assert_eq!(row["errors"][0]["keyword"], "format", "{row}");
    }
    let canary = "/v1/aggregates?event_type=click&granularity=day&from=2026-11-27T00:00:00Z&to=2026-11-27T23:59:59Z";
    assert_eq!(count(&wait_for(&up, canary, Duration::from_secs(30), |a| count(a) == 1)), 1);
    for (granularity, from) in [("minute", "9999-12-31T23:00:00Z"), ("hour", "9999-12-31T00:00:00Z"), ("day", "9999-12-01T00:00:00Z"), ("month", "9999-01-01T00:00:00Z")] {
        let path = format!("/v1/aggregates?event_type=pageview&granularity={granularity}&from={from}&to=9999-12-31T23:59:59Z");
        assert_eq!(count(&wait_for(&up, &path, Duration::from_secs(30), |a| count(a) == 1)), 1, "{granularity}");
    }
    let events = get(&up, "/v1/users/edge/events");
    assert_eq!(events["events"].as_array().unwrap().len(), 1, "the last instant is queryable: {events}");
}

#[test]
fn a_stored_window_that_cannot_be_merged_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let up = up!(dir.path(), free_port(), &["--aggregate-interval", "1s"]);
    post(&up, &json!([{"event_type": "click", "user_id": "a", "element_id": "b", "page_url": "https://e.com", "timestamp": "2026-11-27T12:00:00Z"}]));
    let first = "/v1/aggregates?event_type=click&granularity=day&from=2026-11-27T00:00:00Z&to=2026-11-27T23:59:59Z";
    wait_for(&up, first, Duration::from_secs(30), |a| count(a) == 1);
    // Damage the store: a partial whose sketch does not read back, and a marker whose
    // minute is not a time, both waiting to be merged.
    let db = rusqlite::Connection::open(dir.path().join("pipeline.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute_batch(
        "INSERT INTO aggregate_partials (event_type, minute, batch, count, users, revenue)
             VALUES ('click', '2026-11-27T13:00:00Z', 'damaged', 3, x'fffefd', '{}');
         INSERT INTO aggregate_dirty (event_type, minute, token) VALUES ('click', '2026-11-27T13:00:00Z', 'damaged');
         INSERT INTO aggregate_dirty (event_type, minute, token) VALUES ('click', 'not a time', 'damaged');",
    )
    .unwrap();
    drop(db);
    // Events after the damage are still merged.
    post(&up, &json!([{"event_type": "click", "user_id": "b", "element_id": "b", "page_url": "https://e.com", "timestamp": "2026-11-27T14:00:00Z"}]));
    wait_for(&up, first, Duration::from_secs(30), |a| count(a) == 2);
    // The count is added when the merge run ends, just after its rows are stored.
    let start = Instant::now();
    loop {
        let metrics = agent().get(&format!("{}/metrics", up.base)).call().unwrap().body_mut().read_to_string().unwrap();
        let skipped: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("pipeline_aggregate_windows_skipped_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no skipped-windows metric: {metrics}"));
        if skipped >= 2 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "skipped windows not counted: {skipped}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn wide_events_do_not_hold_up_the_canary_behind_them() {
    let dir = tempfile::tempdir().unwrap();
    let up = up!(dir.path(), free_port(), &[]);
    // Four events of ~1 MiB with 85,000 distinct keys each, then a canary on the same shard.
    let wide = |n: usize| {
        let keys: serde_json::Map<String, Value> = (0..85_000).map(|i| (format!("k{i}"), Value::from(i % 10))).collect();
        json!({"event_type": "pageview", "user_id": "wide", "event_id": format!("00000000-0000-4000-8000-{n:012}"), "properties": keys})
    };
    for n in 0..4 {
        let event = wide(n);
        let size = serde_json::to_vec(&event).unwrap().len();
        assert!((900_000..=1 << 20).contains(&size), "{size}");
        post(&up, &json!([event]));
    }
    let posted = Instant::now();
    post(&up, &json!([{"event_type": "pageview", "user_id": "wide", "event_id": "00000000-0000-4000-8000-999999999999"}]));
    wait_for(&up, "/v1/users/wide/events?limit=10", Duration::from_secs(60), |b| b["events"].as_array().unwrap().len() == 5);
    // Quadratic key checks took 11-13 s per such event: a minute for these four.
    assert!(posted.elapsed() < Duration::from_secs(30), "the canary took {:?}", posted.elapsed());
}
