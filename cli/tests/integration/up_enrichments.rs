//! `pipeline up --enrichments DIR` end to end: campaign, referer and lookup fields in the
//! stored events and in the archive; a required lookup's failures as `enrichment_failure`
//! bad rows, counted in /metrics and /v1/stats; an unusable file stops the start.

use std::path::Path;
use std::process::Command;

use pipeline_testing::{free_port, local::{KEY, READ_KEY, archived_events, terminate, wait_drained}, up};
use serde_json::{Value, json};

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
    let running = up!(data.path(), free_port(), &["--enrichments", enrichments.path().to_str().unwrap()]);
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
    // The sixth type is counted like the other five (the dashboard reads these).
    assert_eq!(stats["bad_rows"]["enrichment_failure"], 1, "{stats}");
    assert_eq!(stats["bad_rows_total"], 1, "{stats}");

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

/// Page views from 12:00 on 27 November 2026, two seconds apart (eight minutes for 240),
/// with campaign sources of hostile shapes (a `|`, a `/` and `#`, percent-encoded UTF-8,
/// 300 bytes), every seventh without a campaign, and referrers of three mediums.
fn campaign_pageviews(from: usize, to: usize, hour: u32) -> Vec<Value> {
    let long = "x".repeat(300);
    let sources = ["google", "news%7Cletter", "caf%C3%A9", long.as_str(), "a%2Fb%23c"];
    let referrers = ["https://www.google.com/search?q=shoes", "https://www.facebook.com/", "https://mail.example.org/inbox"];
    (from..to)
        .map(|i| {
            let url = if i % 7 == 0 {
                "https://shop.example.com/".to_owned()
            } else {
                format!("https://shop.example.com/?utm_source={}&utm_medium=cpc", sources[i % sources.len()])
            };
            json!({"event_type": "pageview", "user_id": format!("u-{}", i % 17),
                   "timestamp": format!("2026-11-27T{hour}:{:02}:{:02}Z", (i * 2) / 60, (i * 2) % 60),
                   "page": {"url": url, "referrer": referrers[i % referrers.len()]}})
        })
        .collect()
}

/// What `campaign_pageviews` must count: (minute, source) → events.
fn expected_sources(from: usize, to: usize, hour: u32) -> std::collections::BTreeMap<(String, String), u64> {
    let sources = ["google".to_owned(), "news|letter".to_owned(), "café".to_owned(), "x".repeat(256), "a/b#c".to_owned()];
    let mut want = std::collections::BTreeMap::new();
    for i in (from..to).filter(|i| i % 7 != 0) {
        let minute = format!("2026-11-27T{hour}:{:02}:00Z", (i * 2) / 60);
        *want.entry((minute, sources[i % sources.len()].clone())).or_default() += 1;
    }
    want
}

/// The grouped minute rows of `by` in hour `hour`: (window start, group) → count.
fn grouped_minutes(base: &str, by: &str, hour: u32) -> std::collections::BTreeMap<(String, String), u64> {
    let body = get(base, &format!("/v1/aggregates?granularity=minute&event_type=pageview&by={by}&from=2026-11-27T{hour}:00:00Z&to=2026-11-27T{hour}:59:59Z"));
    body["aggregates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| ((r["window_start"].as_str().unwrap().to_owned(), r["group"].as_str().unwrap().to_owned()), r["count"].as_u64().unwrap()))
        .collect()
}

/// Polls until `read` gives `want` (the merge runs about a second after the stream drains).
fn eventually<T: PartialEq + std::fmt::Debug>(want: &T, read: impl Fn() -> T) {
    let start = std::time::Instant::now();
    loop {
        let got = read();
        if &got == want {
            return;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(60), "aggregates did not reach {want:?}: {got:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn aggregates_grouped_by_an_enrichment_field_count_each_event_once() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let running = up!(data.path(), port, &["--aggregate-interval", "1s"]);
    let post = |base: &str, events: Vec<Value>| {
        let response = ureq::post(&format!("{base}/v1/events")).header("x-api-key", KEY).send_json(&events).unwrap();
        assert_eq!(response.status(), 200);
    };
    post(&running.base, campaign_pageviews(0, 240, 12));
    wait_drained(&running.base);
    let want = expected_sources(0, 240, 12);
    eventually(&want, || grouped_minutes(&running.base, "campaign.source", 12));

    // Coarser windows hold the same groups, and the totals are unchanged.
    // (A merge stores minutes, then hours, then days: the day rows may follow a moment later.)
    let mediums = |base: &str| {
        let day = get(base, "/v1/aggregates?granularity=day&by=referer.medium&from=2026-11-27T00:00:00Z&to=2026-11-27T23:59:59Z");
        day["aggregates"].as_array().unwrap().iter().map(|r| (r["group"].as_str().unwrap().to_owned(), r["count"].as_u64().unwrap())).collect::<Vec<_>>()
    };
    eventually(&vec![("search".to_owned(), 80), ("social".to_owned(), 80), ("unknown".to_owned(), 80)], || mediums(&running.base));
    let totals = get(&running.base, "/v1/aggregates?granularity=day&from=2026-11-27T00:00:00Z&to=2026-11-27T23:59:59Z");
    assert_eq!(totals["aggregates"][0]["count"], 240, "{totals}");
    assert_eq!(totals["aggregates"][0].get("group"), None, "{totals}");

    // A restart (the stream and the partials reopened) changes no group.
    assert!(terminate(running).success());
    let running = up!(data.path(), port, &["--aggregate-interval", "1s"]);
    post(&running.base, campaign_pageviews(0, 120, 13));
    wait_drained(&running.base);
    eventually(&expected_sources(0, 120, 13), || grouped_minutes(&running.base, "campaign.source", 13));
    assert_eq!(grouped_minutes(&running.base, "campaign.source", 12), want, "a restart changes no group");
    let hours = |base: &str| {
        let hours = get(base, "/v1/aggregates?granularity=hour&by=campaign.medium&from=2026-11-27T00:00:00Z&to=2026-11-27T23:59:59Z");
        hours["aggregates"].as_array().unwrap().iter().map(|r| (r["group"].as_str().unwrap().to_owned(), r["count"].as_u64().unwrap())).collect::<Vec<_>>()
    };
    let campaigns = |n: usize| (0..n).filter(|i| i % 7 != 0).count() as u64;
    eventually(&vec![("cpc".to_owned(), campaigns(240)), ("cpc".to_owned(), campaigns(120))], || hours(&running.base));

    // A field that is not grouped answers 400 with the fields that are.
    for by in ["campaign.term", "referer", "lookup.account.region", "campaign.source%7C"] {
        let response = ureq::get(&format!("{}/v1/aggregates?by={by}", running.base)).header("x-api-key", READ_KEY).config().http_status_as_error(false).build().call().unwrap();
        assert_eq!(response.status(), 400, "by={by}");
        let message = response.into_body().read_json::<Value>().unwrap()["message"].as_str().unwrap().to_owned();
        assert!(message.contains("campaign.source, campaign.medium, campaign.name, referer.medium, referer.source"), "{message}");
    }
    assert!(terminate(running).success());
}
