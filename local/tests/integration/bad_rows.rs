//! Bad rows over HTTP, in process: listed by failure time with every filter and a cursor,
//! marked recovered with `POST /v1/bad-rows/recovered` (the read key; idempotent), and
//! then carrying `recovered_at` and selected by `recovered=true|false`.

use std::time::{Duration, Instant};

use pipeline_local::{LocalConfig, run};
use pipeline_testing::free_port;
use pipeline_testing::local::wait_for_health;
use serde_json::{Value, json};

const KEY: &str = "ingest-key";
const READ_KEY: &str = "read-key";

struct Local {
    base: String,
    _dir: tempfile::TempDir,
}

fn start() -> Local {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = LocalConfig {
        api_key: Some(KEY.into()),
        read_key: Some(READ_KEY.into()),
        ..LocalConfig::new(dir.path(), format!("127.0.0.1:{port}").parse().unwrap())
    };
    std::thread::spawn(move || tokio::runtime::Runtime::new().unwrap().block_on(run(config)).unwrap());
    let base = format!("http://127.0.0.1:{port}");
    wait_for_health(&base);
    Local { base, _dir: dir }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn send(base: &str, path: &str, key: &str, body: &str) -> (u16, Value) {
    let mut resp = agent().post(&format!("{base}{path}")).header("x-api-key", key).header("content-type", "application/json").send(body).unwrap();
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&resp.body_mut().read_to_string().unwrap_or_default()).unwrap_or(Value::Null))
}

fn get(base: &str, path: &str) -> (u16, Value) {
    let mut resp = agent().get(&format!("{base}{path}")).header("x-api-key", READ_KEY).call().unwrap();
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap_or(Value::Null))
}

fn rows(base: &str, query: &str) -> Vec<Value> {
    let (status, body) = get(base, &format!("/v1/bad-rows{query}"));
    assert_eq!(status, 200, "{body}");
    body["bad_rows"].as_array().unwrap().clone()
}

fn id(row: &Value) -> Value {
    json!({"shard_id": row["shard_id"], "sequence_number": row["sequence_number"], "sub_sequence_number": row["sub_sequence_number"]})
}

#[test]
fn bad_rows_are_marked_recovered_once_and_filtered_by_it() {
    let local = start();
    let b = &local.base;
    // Three kinds of bad rows over several users (so several shards), and valid events.
    let mut events = Vec::new();
    for i in 0..30 {
        events.push(json!({"event_type": "purchase", "user_id": i, "order_id": "o", "amount": 1, "currency": "usd", "items": [{"sku": "a", "quantity": 1, "price": 1}]}));
        events.push(json!({"event_type": "pagevew", "user_id": i}));
        events.push(json!({"event_type": "pageview", "schema_version": "9-9-9", "user_id": i}));
        events.push(json!({"event_type": "pageview", "user_id": i}));
    }
    assert_eq!(send(b, "/v1/events", KEY, &serde_json::to_string(&events).unwrap()).0, 200);
    let started = Instant::now();
    while rows(b, "?limit=1000").len() < 90 {
        assert!(started.elapsed() < Duration::from_secs(30), "the bad rows were not stored");
        std::thread::sleep(Duration::from_millis(50));
    }
    let all = rows(b, "?limit=1000");
    assert_eq!(all.len(), 90);
    assert!(all.iter().all(|r| r.get("recovered_at").is_none()));
    assert_eq!(rows(b, "?type=unknown_event_type").len(), 30);
    assert_eq!(rows(b, "?recovered=false&limit=1000").len(), 90);
    assert!(rows(b, "?recovered=true").is_empty());

    // A cursor walks every row once, in order.
    let mut seen = Vec::new();
    let mut path = "/v1/bad-rows?limit=7".to_string();
    loop {
        let (_, page) = get(b, &path);
        seen.extend(page["bad_rows"].as_array().unwrap().iter().map(id));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/bad-rows?limit=7&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, all.iter().map(id).collect::<Vec<_>>());

    // Mark the schema violations, plus one row that does not exist and one twice.
    let violations: Vec<Value> = rows(b, "?type=schema_violation&limit=1000").iter().map(id).collect();
    assert_eq!(violations.len(), 30);
    let mut ask = violations.clone();
    ask.push(violations[0].clone());
    ask.push(json!({"shard_id": "shardId-000000000000", "sequence_number": "99999999999999999999", "sub_sequence_number": 0}));
    let body = json!({"bad_rows": ask}).to_string();
    assert_eq!(send(b, "/v1/bad-rows/recovered", KEY, &body).0, 403, "the ingest key cannot mark");
    let (status, reply) = send(b, "/v1/bad-rows/recovered", READ_KEY, &body);
    // Of the 32 ids asked, 31 name a bad row (one twice) and one names none.
    assert_eq!((status, reply), (200, json!({"marked": 31, "not_found": 1})));
    let (status, reply) = send(b, "/v1/bad-rows/recovered", READ_KEY, &body);
    assert_eq!((status, reply), (200, json!({"marked": 31, "not_found": 1})), "idempotent");

    let recovered = rows(b, "?recovered=true&limit=1000");
    assert_eq!(recovered.iter().map(id).collect::<Vec<_>>(), violations);
    let at = recovered[0]["recovered_at"].as_str().unwrap();
    assert!(pipeline::time_format::parse_rfc3339(at).is_some(), "{at}");
    assert!(recovered.iter().all(|r| r["recovered_at"] == at), "one request marks at one time");
    let rest = rows(b, "?recovered=false&limit=1000");
    assert_eq!(rest.len(), 60);
    assert!(rest.iter().all(|r| r["type"] != "schema_violation" && r.get("recovered_at").is_none()));
    assert_eq!(rows(b, "?recovered=true&type=unknown_event_type").len(), 0);

    // Refused requests name the fix.
    for (query, status) in [("?recovered=yes", 400), ("?type=nope", 400), ("?cursor=zz", 400)] {
        let (got, body) = get(b, &format!("/v1/bad-rows{query}"));
        assert_eq!(got, status, "{query}: {body}");
        assert!(body["message"].is_string());
    }
    for bad_body in ["not json", "{}", r#"{"bad_rows": [{"shard_id": 1}]}"#, r#"{"bad_rows": [], "extra": 1}"#] {
        let (status, body) = send(b, "/v1/bad-rows/recovered", READ_KEY, bad_body);
        assert_eq!(status, 400, "{bad_body}: {body}");
        assert!(body["message"].as_str().unwrap().contains("bad_rows"), "{body}");
    }
}
