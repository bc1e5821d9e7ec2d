//! `pipeline recover` against a real `pipeline up`: events that became bad rows of three
//! kinds (a wrong currency case, a misspelt event type, a field a later schema version
//! allows) are recovered with a patch or a schema directory; each event is stored once, the
//! bad rows are marked, a second run changes nothing, `--again` stores nothing twice, the
//! aggregates include the recovered events; and bad input (an invalid patch, an unreachable
//! target, wrong keys) stops with a clear message before anything is written.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use pipeline_testing::{free_port, local::{KEY, READ_KEY}, text, up};
use serde_json::{Value, json};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn get(base: &str, path: &str) -> Value {
    let mut resp = agent().get(&format!("{base}{path}")).header("x-api-key", READ_KEY).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200, "GET {path}");
    serde_json::from_str(&resp.body_mut().with_config().limit(1 << 30).read_to_string().unwrap()).unwrap()
}

fn post_events(base: &str, events: &Value) {
    let resp = agent()
        .post(&format!("{base}/v1/events"))
        .header("x-api-key", KEY)
        .header("content-type", "application/json")
        .send(serde_json::to_vec(events).unwrap())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// Waits until `check` holds, reading again every 100 ms (30 s at most).
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn bad_rows(base: &str, query: &str) -> Vec<Value> {
    get(base, &format!("/v1/bad-rows?limit=1000{query}"))["bad_rows"].as_array().unwrap().clone()
}

fn recover(base: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["recover", "--target", base, "--api-key", KEY, "--read-key", READ_KEY])
        .args(args)
        .env_remove("SCHEMAS_DIR")
        .output()
        .unwrap()
}

fn report(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The events store's keys: (pk, sk) per stored event, in key order (`pipeline store
/// events --keys`).
fn stored(data: &Path) -> Vec<(String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_pipeline")).args(["store", "--data-dir", data.to_str().unwrap(), "events", "--keys"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["pk"].as_str().unwrap().to_owned(), v["sk"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// The event type's count over every day from 27 November 2026 to now (events without a
/// timestamp count on the day they arrived).
fn day_count(base: &str, event_type: &str) -> u64 {
    let body = get(base, &format!("/v1/aggregates?granularity=day&event_type={event_type}&from=2026-11-27T00:00:00Z"));
    body["aggregates"].as_array().unwrap().iter().map(|r| r["count"].as_u64().unwrap()).sum()
}

/// A schema directory: the built-in schemas plus click 1-0-1, which allows `button`.
fn newer_schemas(dir: &Path) {
    for t in ["pageview", "click", "purchase", "identify"] {
        std::fs::create_dir_all(dir.join(t)).unwrap();
        let file = format!("{}/../schemas/{t}/1-0-0.json", env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(&file, dir.join(t).join("1-0-0.json")).unwrap();
    }
    let mut click: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("click/1-0-0.json")).unwrap()).unwrap();
    click["$id"] = json!("https://schemas.event-pipeline.dev/click/1-0-1.json");
    click["properties"]["button"] = json!({"enum": ["left", "middle", "right"]});
    std::fs::write(dir.join("click/1-0-1.json"), serde_json::to_vec_pretty(&click).unwrap()).unwrap();
}

const CURRENCY_FIX: &str = r#"[{"op": "test", "path": "/currency", "value": "usd"}, {"op": "replace", "path": "/currency", "value": "USD"}]"#;
const EVENT_TYPE_FIX: &str = r#"[{"op": "test", "path": "/event_type", "value": "pagevew"}, {"op": "replace", "path": "/event_type", "value": "pageview"}]"#;

fn purchase(user: &str, currency: &str, amount: f64, own_identity: bool) -> Value {
    let mut e = json!({"event_type": "purchase", "user_id": user, "order_id": format!("o-{user}"), "amount": amount, "currency": currency,
        "items": [{"sku": "s-1", "quantity": 1, "price": amount}]});
    if own_identity {
        e["event_id"] = json!(uuid_of(user));
        e["timestamp"] = json!("2026-11-27T10:00:00Z");
    }
    e
}

fn uuid_of(user: &str) -> String {
    let n: u64 = user.bytes().map(u64::from).sum();
    format!("7d3c6a52-0000-4000-8000-{n:012}")
}

#[test]
fn three_kinds_of_bad_rows_are_recovered_once_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let schemas = dir.path().join("schemas");
    newer_schemas(&schemas);
    let port = free_port();
    let mut events = vec![
        // Kind 1: a lower-case currency (schema_violation); two with their own id and time.
        purchase("buyer-1", "usd", 10.25, true),
        purchase("buyer-2", "usd", 5.5, false),
        purchase("buyer-3", "usd", 1.0, false),
        // A violation the currency patch is not for.
        purchase("buyer-4", "eur", 2.0, false),
        // Kind 3: a field that click 1-0-1 allows (schema_violation under 1-0-0).
        json!({"event_type": "click", "user_id": "clicker-1", "element_id": "buy", "page_url": "https://shop.example/", "button": "left"}),
        json!({"event_type": "click", "user_id": "clicker-2", "element_id": "buy", "page_url": "https://shop.example/", "button": "left", "timestamp": "2026-11-27T11:00:00Z"}),
        // Something still wrong with a later schema too.
        json!({"event_type": "click", "user_id": "clicker-3", "element_id": "buy", "page_url": "https://shop.example/", "button": "thumb", "timestamp": "2026-11-27T11:00:00Z"}),
        // A valid event, counted once all along.
        json!({"event_type": "pageview", "user_id": "viewer-0", "timestamp": "2026-11-27T09:00:00Z"}),
    ];
    // Kind 2: a misspelt event type (unknown_event_type).
    for i in 1..=3 {
        events.push(json!({"event_type": "pagevew", "user_id": format!("viewer-{i}"), "timestamp": "2026-11-27T09:30:00Z"}));
    }
    {
        let up = up!(&data, port);
        post_events(&up.base, &Value::Array(events));
        wait_for("10 bad rows", || bad_rows(&up.base, "").len() == 10);
    }
    // The target must accept what recover sends: it now runs with the newer schemas.
    let up = up!(&data, port, &["--schemas", schemas.to_str().unwrap(), "--aggregate-interval", "1s"]);
    let b = &up.base;
    let before = stored(&data);
    assert_eq!(before.len(), 1);
    let patch_dir = tempfile::tempdir().unwrap();
    let currency = patch_dir.path().join("currency.json");
    std::fs::write(&currency, CURRENCY_FIX).unwrap();
    let event_type = patch_dir.path().join("event_type.json");
    std::fs::write(&event_type, EVENT_TYPE_FIX).unwrap();
    let report_file = patch_dir.path().join("report.json");

    // The dry run counts and sends nothing.
    let out = recover(b, &["--type", "schema_violation", "--patch", currency.to_str().unwrap(), "--dry-run", "--report", report_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let r = report(&report_file);
    let sv = &r["types"]["schema_violation"];
    assert_eq!((sv["selected"].as_u64(), sv["fixed"].as_u64(), sv["not_matching"].as_u64()), (Some(7), Some(3), Some(4)), "{r}");
    assert!(text(&out).contains("would fix") && text(&out).contains("cannot be checked"), "{}", text(&out));
    assert_eq!(stored(&data), before);
    assert!(bad_rows(b, "&recovered=true").is_empty());

    // Kind 1 with the patch; kind 2 with its patch; kind 3 with the newer schemas.
    let out = recover(b, &["--type", "schema_violation", "--patch", currency.to_str().unwrap(), "--report", report_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report(&report_file)["totals"]["recovered"], 3, "{}", text(&out));
    let out = recover(b, &["--type", "unknown_event_type", "--patch", event_type.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = recover(b, &["--event-type", "click", "--schemas", schemas.to_str().unwrap(), "--report", report_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let r = report(&report_file);
    assert_eq!((r["totals"]["recovered"].as_u64(), r["totals"]["still_failing"].as_u64()), (Some(2), Some(1)), "{r}");
    assert_eq!(r["types"]["schema_violation"]["first_errors"][0]["errors"][0]["path"], "/button", "{r}");

    // Every recovered event stored once, under the key it would have had.
    wait_for("9 stored events", || stored(&data).len() == 9);
    let after = stored(&data);
    assert!(after.contains(&("USER#buyer-1".to_owned(), format!("2026-11-27T10:00:00.000Z#{}", uuid_of("buyer-1")))), "{after:?}");
    let marked = bad_rows(b, "&recovered=true");
    assert_eq!(marked.len(), 8);
    assert!(marked.iter().all(|r| r["recovered_at"].is_string()));
    let left: Vec<String> = bad_rows(b, "&recovered=false").iter().map(|r| r["payload"].as_str().unwrap().to_owned()).collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().any(|p| p.contains("buyer-4")) && left.iter().any(|p| p.contains("clicker-3")));
    wait_for("the aggregates", || day_count(b, "purchase") == 3 && day_count(b, "pageview") == 4 && day_count(b, "click") == 2);

    // A second run changes nothing; --again stores nothing twice.
    let out = recover(b, &["--patch", currency.to_str().unwrap(), "--report", report_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let r = report(&report_file);
    assert_eq!((r["totals"]["recovered"].as_u64(), r["totals"]["selected"].as_u64()), (Some(0), Some(2)), "{r}");
    let out = recover(b, &["--type", "schema_violation", "--patch", currency.to_str().unwrap(), "--again", "--report", report_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report(&report_file)["totals"]["recovered"], 3);
    // Give the pipeline time to process what was posted again: still one item per event.
    std::thread::sleep(Duration::from_secs(2));
    wait_for("the stream to drain", || get(b, "/health")["lag"] == 0);
    assert_eq!(stored(&data), after);
}

#[test]
fn bad_input_stops_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let up = up!(&data, free_port());
    let b = &up.base;
    post_events(b, &json!([{"event_type": "pagevew", "user_id": 1}]));
    wait_for("the bad row", || bad_rows(b, "").len() == 1);
    let files = tempfile::tempdir().unwrap();
    for (name, patch, expected) in [
        ("not-json.json", "[{\"op\": ", "not JSON"),
        ("unknown-op.json", r#"[{"op": "rename", "path": "/event_type", "value": "pageview"}]"#, "operation 0"),
        ("no-path.json", r#"[{"op": "replace", "value": "pageview"}]"#, "operation 0"),
        ("object.json", r#"{"op": "replace", "path": "/event_type", "value": "pageview"}"#, "not an array"),
    ] {
        let path = files.path().join(name);
        std::fs::write(&path, patch).unwrap();
        let out = recover(b, &["--patch", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        assert!(text(&out).contains(expected) && text(&out).contains(name), "{name}: {}", text(&out));
    }
    let out = recover(b, &["--patch", files.path().join("missing.json").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cannot read the patch file"), "{}", text(&out));

    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let out = recover(&nowhere, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cannot reach the pipeline") && text(&out).contains("--target"), "{}", text(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_pipeline")).args(["recover", "--target", b, "--api-key", "wrong", "--read-key", READ_KEY]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--api-key"), "{}", text(&out));
    let out = Command::new(env!("CARGO_BIN_EXE_pipeline")).args(["recover", "--target", b, "--api-key", KEY, "--read-key", KEY]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--read-key"), "{}", text(&out));
    let out = recover(b, &["--type", "schema-violation"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("schema_violation"), "{}", text(&out));

    // Nothing was posted or marked.
    assert!(bad_rows(b, "&recovered=true").is_empty());
    assert!(stored(&data).is_empty());
}

#[test]
fn large_bad_rows_page_through_and_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let up = up!(&data, free_port());
    let b = &up.base;
    // 15 events of ~900 KB with a field the schema does not allow: 13 MB of bad rows, more
    // than one page and more than a default client's body limit.
    let filler = "x".repeat(900_000);
    for chunk in 0..5 {
        let events: Vec<Value> = (0..3)
            .map(|i| json!({"event_type": "pageview", "user_id": format!("big-{}", chunk * 3 + i), "timestamp": "2026-11-27T10:00:00Z", "blob": filler}))
            .collect();
        post_events(b, &Value::Array(events));
    }
    wait_for("15 bad rows", || bad_rows(b, "").len() == 15);
    let patch = dir.path().join("drop-blob.json");
    std::fs::write(&patch, r#"[{"op": "test", "path": "/event_type", "value": "pageview"}, {"op": "remove", "path": "/blob"}]"#).unwrap();
    let report_file = dir.path().join("report.json");
    let out = recover(b, &["--patch", patch.to_str().unwrap(), "--report", report_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(report(&report_file)["totals"]["recovered"], 15, "{}", text(&out));
    wait_for("15 stored events", || stored(&data).len() == 15);
}
