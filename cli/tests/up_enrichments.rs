//! `pipeline up --enrichments DIR` end to end: campaign, referer and lookup fields in the
//! stored events and in the archive; a required lookup's failures as `enrichment_failure`
//! bad rows, counted in /metrics and /v1/stats; an unusable file stops the start.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

mod common;

use common::{KEY, READ_KEY, archived_events, free_port, terminate, up_with, wait_drained};

/// The project's campaign and referer files, a referer file with an internal domain, and
/// two lookups: accounts by `user_id` (CSV) and plans by `properties.plan` (NDJSON,
/// required for identify events).
fn enrichments_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../enrichments");
    std::fs::copy(root.join("campaign.json"), dir.path().join("campaign.json")).unwrap();
    let referer = json!({"enrichment": "referer", "enabled": true, "parameters": {"internal_domains": ["example.com"]}});
    std::fs::write(dir.path().join("referer.json"), referer.to_string()).unwrap();
    let accounts = json!({"enrichment": "lookup", "name": "account", "enabled": true, "parameters": {"table": "accounts.csv", "key": "user_id"}});
    std::fs::write(dir.path().join("accounts.json"), accounts.to_string()).unwrap();
    std::fs::write(dir.path().join("accounts.csv"), "user_id,account,region\nu-1,acme,eu\n").unwrap();
    let plans = json!({"enrichment": "lookup", "name": "plan", "enabled": true, "required": true,
        "parameters": {"table": "plans.ndjson", "key": "properties.plan", "key_column": "plan", "event_types": ["identify"]}});
    std::fs::write(dir.path().join("plans.json"), plans.to_string()).unwrap();
    std::fs::write(dir.path().join("plans.ndjson"), "{\"plan\": \"pro\", \"seats\": 50}\n").unwrap();
    dir
}

fn get(base: &str, path: &str) -> Value {
    ureq::get(&format!("{base}{path}")).header("x-api-key", READ_KEY).call().unwrap().body_mut().read_json().unwrap()
}

#[test]
fn enrichment_fields_reach_the_stored_events_the_archive_and_the_bad_rows() {
    let data = tempfile::tempdir().unwrap();
    let enrichments = enrichments_dir();
    let running = up_with(data.path(), free_port(), &["--enrichments", enrichments.path().to_str().unwrap()]);
    let events = json!([
        {"event_type": "pageview", "user_id": "u-1", "timestamp": "2026-11-27T12:00:00Z",
         "page": {"url": "https://shop.example.com/?utm_source=newsletter&utm_campaign=caf%C3%A9&gclid=abc",
                  "referrer": "https://www.bing.com/search?q=widget+pro"}},
        {"event_type": "pageview", "user_id": "u-2", "timestamp": "2026-11-27T12:00:01Z",
         "page": {"url": "https://shop.example.com/cart", "referrer": "https://checkout.example.com/"}},
        {"event_type": "identify", "user_id": "u-1", "timestamp": "2026-11-27T12:00:02Z", "properties": {"plan": "pro"}},
        {"event_type": "identify", "user_id": "u-3", "timestamp": "2026-11-27T12:00:03Z", "properties": {"plan": "legacy"}}
    ]);
    let response = ureq::post(&format!("{}/v1/events", running.base)).header("x-api-key", KEY).send_json(&events).unwrap();
    assert_eq!(response.status(), 200);
    wait_drained(&running.base);

    let stored = get(&running.base, "/v1/users/u-1/events")["events"].as_array().unwrap().clone();
    let pageview = stored.iter().find(|e| e["event_type"] == "pageview").unwrap();
    assert_eq!(pageview["_pipeline"]["campaign"], json!({"source": "newsletter", "name": "café", "click_id": {"param": "gclid", "value": "abc"}}));
    assert_eq!(pageview["_pipeline"]["referer"], json!({"medium": "search", "source": "Bing", "term": "widget pro"}));
    assert_eq!(pageview["_pipeline"]["lookup"], json!({"account": {"account": "acme", "region": "eu"}}));
    let identify = stored.iter().find(|e| e["event_type"] == "identify").unwrap();
    assert_eq!(identify["_pipeline"]["lookup"]["plan"], json!({"seats": 50}));
    let other = &get(&running.base, "/v1/users/u-2/events")["events"][0];
    assert_eq!(other["_pipeline"]["referer"], json!({"medium": "internal"}));
    assert_eq!(other["_pipeline"].get("lookup"), None, "u-2 is not in the accounts table: nothing added");

    let bad = get(&running.base, "/v1/bad-rows?type=enrichment_failure")["bad_rows"].as_array().unwrap().clone();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0]["errors"][0]["path"], "/properties/plan");
    assert!(bad[0]["payload"].as_str().unwrap().contains("legacy"));
    let metrics = ureq::get(&format!("{}/metrics", running.base)).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(metrics.lines().any(|l| l.contains("enrichment_failure") && l.trim_end().ends_with(" 1")), "{metrics}");
    let stats = ureq::get(&format!("{}/v1/stats", running.base)).call().unwrap().body_mut().read_json::<Value>().unwrap();
    let types = stats["bad_row_types"].as_array().unwrap();
    assert!(types.contains(&json!("enrichment_failure")), "{stats}");

    assert!(terminate(running).success());
    let archived = archived_events(data.path());
    assert_eq!(archived.len(), 3);
    let pageview = archived.iter().find(|e| e["user_id"] == "u-1" && e["event_type"] == "pageview").unwrap();
    assert_eq!(pageview["_pipeline"]["referer"]["source"], "Bing");
    assert_eq!(pageview["_pipeline"]["lookup"]["account"]["account"], "acme");
}

#[test]
fn an_enrichment_file_that_cannot_be_used_stops_the_start() {
    let data = tempfile::tempdir().unwrap();
    let enrichments = enrichments_dir();
    std::fs::write(enrichments.path().join("plans.json"), r#"{"enrichment": "lookup", "name": "plan", "enabled": true, "parameters": {"table": "missing.csv", "key": "x"}}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["up", "--data-dir", data.path().to_str().unwrap(), "--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--enrichments", enrichments.path().to_str().unwrap(), "--api-key", KEY, "--read-key", READ_KEY])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("enrichment file plans.json") && stderr.contains("missing.csv"), "{stderr}");
}
