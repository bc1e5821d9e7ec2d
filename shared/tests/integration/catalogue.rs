//! The catalogue of DESIGN section 2 and every bad-row type of section 3, event by event.

use chrono::{TimeZone, Utc};
use pipeline::{BadRowType, CoreConfig, Outcome, Record, process_batch};

fn registry() -> CoreConfig {
    CoreConfig::embedded().expect("embedded schemas and enrichments load")
}

fn record(data: &[u8]) -> Record {
    Record {
        data: data.to_vec(),
        partition_key: "pk".into(),
        sequence_number: "49650000000000000000000000000000000000000000000000000001".into(),
        sub_sequence_number: 0,
        shard_id: "shardId-000000000003".into(),
        arrival: Utc.with_ymd_and_hms(2026, 11, 27, 23, 59, 58).unwrap(),
    }
}

fn outcome(data: &str) -> Outcome {
    let processed = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 1).unwrap();
    process_batch(&registry(), &[record(data.as_bytes())], processed).remove(0)
}

#[track_caller]
fn assert_valid(data: &str) {
    match outcome(data) {
        Outcome::Event(_) => {}
        Outcome::Bad(bad) => panic!("expected valid: {data}\n got {bad:#?}"),
    }
}

/// Asserts the bad-row type and that one reported violation is at `path`.
#[track_caller]
fn assert_bad(data: &str, kind: BadRowType, path: &str) {
    match outcome(data) {
        Outcome::Event(_) => panic!("expected {kind}: {data}"),
        Outcome::Bad(bad) => {
            assert_eq!(bad.kind, kind, "{data}: {bad:#?}");
            assert!(bad.errors.iter().any(|e| e.path == path), "{data}: no error at {path:?}: {:#?}", bad.errors);
        }
    }
}

#[test]
fn timestamps_outside_years_1_to_9999_in_utc_are_schema_violations() {
    for edge in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59+00:00", "0001-01-01T01:00:00+01:00"] {
        assert_valid(&format!(r#"{{"event_type": "pageview", "user_id": 1, "timestamp": "{edge}"}}"#));
    }
    for outside in [
        "9999-12-31T23:59:59-00:01",
        "0000-01-01T00:00:00+00:01",
        "0000-12-31T23:59:59Z",
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59.9999Z",
        "9999-12-31T23:59:60Z",
    ] {
        let data = format!(r#"{{"event_type": "pageview", "user_id": 1, "timestamp": "{outside}"}}"#);
        let Outcome::Bad(bad) = outcome(&data) else { panic!("{outside} was accepted") };
        assert_eq!(bad.kind, BadRowType::SchemaViolation, "{outside}");
        assert_eq!((bad.errors[0].path.as_str(), bad.errors[0].keyword.as_str()), ("/timestamp", "format"), "{outside}: {bad:?}");
    }
}

#[test]
fn pageview() {
    assert_valid(r#"{"event_type": "pageview", "user_id": 123}"#);
    assert_valid(r#"{"event_type": "pageview", "user_id": "u-1", "schema_version": "1-0-0",
        "timestamp": "2026-11-27T12:00:00+01:00", "event_id": "0b9f3f0e-52a8-4c57-9c5a-3a1d1e4b2f10",
        "session_id": "s1", "page": {"url": "https://example.com/a?b=c", "title": "A", "referrer": ""},
        "device": {"user_agent": "x", "screen": {"w": 1920, "h": 20000}},
        "properties": {"anything": [1, {"goes": true}]}, "context": {}}"#);
    assert_valid(r#"{"event_type": "pageview", "user_id": 0, "page": {"url": "https://e.com", "referrer": "https://google.com/"}}"#);
    assert_bad(r#"{"event_type": "pageview", "user_id": 1, "page": {"title": "no url"}}"#, BadRowType::SchemaViolation, "/page");
    assert_bad(r#"{"event_type": "pageview", "user_id": 1, "page": {"url": "not a uri"}}"#, BadRowType::SchemaViolation, "/page/url");
    assert_bad(r#"{"event_type": "pageview", "user_id": 1, "page": {"url": "https://e.com", "referrer": "nope"}}"#, BadRowType::SchemaViolation, "/page/referrer");
    let long_title = "t".repeat(513);
    assert_bad(&format!(r#"{{"event_type": "pageview", "user_id": 1, "page": {{"url": "https://e.com", "title": "{long_title}"}}}}"#), BadRowType::SchemaViolation, "/page/title");
    assert_bad(r#"{"event_type": "pageview", "user_id": 1, "device": {"screen": {"w": 20001, "h": -1}}}"#, BadRowType::SchemaViolation, "/device/screen/w");
    let long_ua = "u".repeat(1025);
    assert_bad(&format!(r#"{{"event_type": "pageview", "user_id": 1, "device": {{"user_agent": "{long_ua}"}}}}"#), BadRowType::SchemaViolation, "/device/user_agent");
    assert_bad(r#"{"event_type": "pageview", "user_id": 1, "extra": 1}"#, BadRowType::SchemaViolation, "");
}

#[test]
fn envelope() {
    assert_bad(r#"{"event_type": "pageview"}"#, BadRowType::SchemaViolation, "");
    assert_bad(r#"{"user_id": 1}"#, BadRowType::SchemaViolation, "");
    assert_bad(r#"{"event_type": 7, "user_id": 1}"#, BadRowType::SchemaViolation, "/event_type");
    assert_bad(r#"{"event_type": "pageview", "user_id": ""}"#, BadRowType::SchemaViolation, "/user_id");
    assert_bad(r#"{"event_type": "pageview", "user_id": -1}"#, BadRowType::SchemaViolation, "/user_id");
    assert_bad(r#"{"event_type": "pageview", "user_id": 1.5}"#, BadRowType::SchemaViolation, "/user_id");
    assert_bad(&format!(r#"{{"event_type": "pageview", "user_id": "{}"}}"#, "u".repeat(129)), BadRowType::SchemaViolation, "/user_id");
    assert_bad(r#"{"event_type": "pageview", "user_id": 1, "timestamp": "yesterday"}"#, BadRowType::SchemaViolation, "/timestamp");
    assert_bad(r#"{"event_type": "pageview", "user_id": 1, "timestamp": "2026-13-01T00:00:00Z"}"#, BadRowType::SchemaViolation, "/timestamp");
    assert_bad(r#"{"event_type": "pageview", "user_id": 1, "event_id": "not-a-uuid"}"#, BadRowType::SchemaViolation, "/event_id");
    assert_bad(r#"{"event_type": "pageview", "user_id": 1, "session_id": ""}"#, BadRowType::SchemaViolation, "/session_id");
    assert_bad(r#"{"event_type": "pageview", "user_id": 1, "properties": []}"#, BadRowType::SchemaViolation, "/properties");
    assert_bad(r#"{"event_type": "pageview", "user_id": 1, "context": "x"}"#, BadRowType::SchemaViolation, "/context");
    assert_bad(r#"{"event_type": "pageview", "user_id": 1, "schema_version": 1}"#, BadRowType::SchemaViolation, "/schema_version");
}

#[test]
fn click() {
    assert_valid(r#"{"event_type": "click", "user_id": "u", "element_id": "buy", "page_url": "https://e.com/p", "x": 0, "y": 10}"#);
    assert_bad(r#"{"event_type": "click", "user_id": "u", "page_url": "https://e.com/p"}"#, BadRowType::SchemaViolation, "");
    assert_bad(r#"{"event_type": "click", "user_id": "u", "element_id": "", "page_url": "https://e.com/p"}"#, BadRowType::SchemaViolation, "/element_id");
    assert_bad(r#"{"event_type": "click", "user_id": "u", "element_id": "b", "page_url": "relative/path"}"#, BadRowType::SchemaViolation, "/page_url");
    assert_bad(r#"{"event_type": "click", "user_id": "u", "element_id": "b", "page_url": "https://e.com", "x": -1}"#, BadRowType::SchemaViolation, "/x");
    assert_bad(r#"{"event_type": "click", "user_id": "u", "element_id": "b", "page_url": "https://e.com", "y": 1.5}"#, BadRowType::SchemaViolation, "/y");
}

#[test]
fn purchase() {
    let ok = r#"{"event_type": "purchase", "user_id": 9, "order_id": "o-1", "amount": 0, "currency": "EUR",
        "items": [{"sku": "A", "quantity": 1, "price": 0.5}]}"#;
    assert_valid(ok);
    assert_bad(&ok.replace(r#""amount": 0"#, r#""amount": -3"#), BadRowType::SchemaViolation, "/amount");
    assert_bad(&ok.replace("EUR", "eur"), BadRowType::SchemaViolation, "/currency");
    assert_bad(&ok.replace(r#""quantity": 1"#, r#""quantity": 0"#), BadRowType::SchemaViolation, "/items/0/quantity");
    assert_bad(&ok.replace(r#""sku": "A", "#, ""), BadRowType::SchemaViolation, "/items/0");
    assert_bad(&ok.replace(r#"[{"sku": "A", "quantity": 1, "price": 0.5}]"#, "[]"), BadRowType::SchemaViolation, "/items");
    let many: Vec<String> = (0..101).map(|i| format!(r#"{{"sku": "s{i}", "quantity": 1, "price": 1}}"#)).collect();
    assert_bad(&ok.replace(r#"[{"sku": "A", "quantity": 1, "price": 0.5}]"#, &format!("[{}]", many.join(","))), BadRowType::SchemaViolation, "/items");
    assert_bad(r#"{"event_type": "purchase", "user_id": 9}"#, BadRowType::SchemaViolation, "");
}

#[test]
fn every_violation_is_reported_with_its_pointer() {
    let Outcome::Bad(bad) = outcome(
        r#"{"event_type": "purchase", "user_id": 9, "order_id": "", "amount": -3, "currency": "usd",
            "items": [{"sku": "A", "quantity": 0, "price": -1}]}"#,
    ) else {
        panic!("expected a bad row")
    };
    let mut paths: Vec<&str> = bad.errors.iter().map(|e| e.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["/amount", "/currency", "/items/0/price", "/items/0/quantity", "/order_id"]);
    let amount = bad.errors.iter().find(|e| e.path == "/amount").unwrap();
    assert_eq!(amount.keyword, "minimum");
    assert_eq!(amount.message, "-3 is less than the minimum of 0");
    assert_eq!(bad.schema.as_deref(), Some("purchase/1-0-0"));
    assert_eq!(bad.event_type.as_deref(), Some("purchase"));
}

#[test]
fn identify() {
    assert_valid(r#"{"event_type": "identify", "user_id": "u", "email": "a@example.com", "traits": {"plan": "pro"}}"#);
    assert_bad(r#"{"event_type": "identify", "user_id": "u", "email": "not an email"}"#, BadRowType::SchemaViolation, "/email");
    let traits: Vec<String> = (0..51).map(|i| format!("\"t{i}\": {i}")).collect();
    assert_bad(&format!(r#"{{"event_type": "identify", "user_id": "u", "traits": {{{}}}}}"#, traits.join(",")), BadRowType::SchemaViolation, "/traits");
}

#[test]
fn unknown_types_and_versions() {
    assert_bad(r#"{"event_type": "signup", "user_id": 1}"#, BadRowType::UnknownEventType, "/event_type");
    assert_bad(r#"{"event_type": "Page View", "user_id": 1}"#, BadRowType::UnknownEventType, "/event_type");
    assert_bad(r#"{"event_type": "pageview", "schema_version": "2-0-0", "user_id": 1}"#, BadRowType::UnknownSchemaVersion, "/schema_version");
    assert_bad(r#"{"event_type": "pageview", "schema_version": "1.0", "user_id": 1}"#, BadRowType::UnknownSchemaVersion, "/schema_version");
}

#[test]
fn malformed_and_oversized() {
    for data in ["", "not json", "{\"event_type\": \"pageview\"", "[]", "[{\"event_type\": \"pageview\", \"user_id\": 1}]", "null", "\"text\"",
        r#"{"event_type": "pageview", "user_id": 1, "user_id": 2}"#] {
        assert_bad(data, BadRowType::Malformed, "");
    }
    let deep = format!("{{\"event_type\": \"pageview\", \"user_id\": 1, \"properties\": {}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert_bad(&deep, BadRowType::Malformed, "");
    let big = format!(r#"{{"event_type": "pageview", "user_id": 1, "properties": {{"b": "{}"}}}}"#, "x".repeat(5 * 1024 * 1024));
    assert_bad(&big, BadRowType::SizeViolation, "");
}

#[test]
fn invalid_utf8_is_kept_in_base64() {
    let data = b"{\"event_type\": \"pageview\", \"user_id\": \"\xC3\x28\"}";
    let processed = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 1).unwrap();
    let Outcome::Bad(bad) = process_batch(&registry(), &[record(data)], processed).remove(0) else {
        panic!("expected a bad row")
    };
    assert_eq!(bad.kind, BadRowType::Malformed);
    assert_eq!(bad.payload, None);
    assert_eq!(bad.payload_bytes().unwrap(), data);
}

#[test]
fn bad_row_has_the_design_shape() {
    let data = r#"{"event_type": "purchase", "user_id": 9, "order_id": "o", "amount": -3, "currency": "USD", "items": [{"sku": "A", "quantity": 1, "price": 1}]}"#;
    let Outcome::Bad(bad) = outcome(data) else { panic!() };
    let json = serde_json::to_value(&bad).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "type": "schema_violation", "event_type": "purchase", "schema": "purchase/1-0-0",
            "errors": [{"path": "/amount", "keyword": "minimum", "message": "-3 is less than the minimum of 0"}],
            "payload": data,
            "shard_id": "shardId-000000000003",
            "sequence_number": "49650000000000000000000000000000000000000000000000000001",
            "sub_sequence_number": 0,
            "partition_key": "pk",
            "ingested_at": "2026-11-27T23:59:58.000Z",
            "failed_at": "2026-11-28T00:00:01Z"
        })
    );
}

#[test]
fn a_valid_event_too_big_to_archive_once_enriched_is_a_size_violation() {
    // Under the 1 MiB record limit, but over the archive's 1,000 KiB once enriched.
    let pad = "x".repeat(1_030_000);
    let data = format!(r#"{{"event_type": "pageview", "user_id": 1, "properties": {{"b": "{pad}"}}}}"#);
    assert!(data.len() <= pipeline::MAX_RECORD_BYTES);
    let Outcome::Bad(bad) = outcome(&data) else { panic!("expected a bad row") };
    assert_eq!(bad.kind, BadRowType::SizeViolation);
    assert_eq!(bad.schema.as_deref(), Some("pageview/1-0-0"));
    let ok = format!(r#"{{"event_type": "pageview", "user_id": 1, "properties": {{"b": "{}"}}}}"#, "x".repeat(1_000_000));
    assert_valid(&ok);
}

#[test]
fn integers_beyond_64_bits_are_json_not_malformed() {
    assert_valid(r#"{"event_type": "pageview", "user_id": 1, "properties": {"n": 18446744073709551616, "m": -99999999999999999999}}"#);
}
