//! Enrichment files that cannot be used stop the load with the file and the reason.

use crate::common;

use common::*;
use pipeline::Enrichments;
use pipeline::enrichments::lookup::TableBudget;

/// The load error's message for `files`.
fn error(files: &[(&str, &str)]) -> String {
    load(files).expect_err("the configuration must be refused").to_string()
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
}

const LOOKUP: &str = r#"{"enrichment": "lookup", "name": "products", "enabled": true, "parameters": {"table": "products.csv", "key": "items[].sku"}}"#;

#[test]
fn file_level_mistakes_name_the_file() {
    assert_mentions(&error(&[("campaign.json", "{not json")]), &["enrichment file campaign.json", "key must be a string"]);
    assert_mentions(&error(&[("c.json", r#"{"enrichment": "campaign", "enabeld": true}"#)]), &["c.json", "unknown field `enabeld`"]);
    assert_mentions(&error(&[("c.json", r#"{"enrichment": "campaign"}"#)]), &["c.json", "missing field `enabled`"]);
    assert_mentions(&error(&[("g.json", r#"{"enrichment": "geoip", "enabled": true}"#)]), &["g.json", "unknown variant `geoip`", "campaign", "referer", "lookup"]);
    assert_mentions(&error(&[("c.json", r#"{"enrichment": "campaign", "enabled": "yes"}"#)]), &["c.json", "expected a boolean"]);
    assert_mentions(&error(&[("c.json", "[]")]), &["c.json", "holds an array, not a JSON object like {\"enrichment\""]);
    assert_mentions(&error(&[("c.json", " \"campaign\"\n")]), &["c.json", "holds a string, not a JSON object"]);
    assert_mentions(
        &error(&[("a.json", r#"{"enrichment": "campaign", "enabled": true}"#), ("b.json", r#"{"enrichment": "campaign", "enabled": false}"#)]),
        &["b.json", "a.json already configures campaign"],
    );
    assert_mentions(&error(&[("c.json", r#"{"enrichment": "campaign", "name": "utm", "enabled": true}"#)]), &["c.json", "only lookups have names"]);
}

#[test]
fn parameter_mistakes_name_the_parameter() {
    assert_mentions(&error(&[("c.json", r#"{"enrichment": "campaign", "enabled": true, "parameters": {"clickids": []}}"#)]), &["c.json", "parameters", "unknown field `clickids`"]);
    assert_mentions(&error(&[("c.json", r#"{"enrichment": "campaign", "enabled": true, "parameters": {"url_fields": []}}"#)]), &["url_fields is empty"]);
    assert_mentions(&error(&[("c.json", r#"{"enrichment": "campaign", "enabled": true, "parameters": {"url_fields": ["items[].url"]}}"#)]), &["items[].url", "array"]);
    assert_mentions(&error(&[("c.json", r#"{"enrichment": "campaign", "enabled": true, "parameters": {"source": ["a=b"]}}"#)]), &["parameters.source", "\"a=b\""]);
    assert_mentions(&error(&[("c.json", r#"{"enrichment": "campaign", "enabled": false, "parameters": {"click_ids": "gclid"}}"#)]), &["c.json", "expected a sequence"]);
    assert_mentions(&error(&[("r.json", r#"{"enrichment": "referer", "enabled": true, "parameters": {"internal_domains": ["https://example.com"]}}"#)]), &["r.json", "internal_domains", "no scheme"]);
    assert_mentions(
        &error(&[("r.json", r#"{"enrichment": "referer", "enabled": true, "parameters": {"sources": [{"source": "X", "medium": "search", "domains": ["Example.com"]}]}}"#)]),
        &["parameters.sources[0] (X)", "\"Example.com\""],
    );
    assert_mentions(
        &error(&[("r.json", r#"{"enrichment": "referer", "enabled": true, "parameters": {"sources": [{"source": "X", "medium": "paid", "domains": ["x.com"]}]}}"#)]),
        &["r.json", "unknown variant `paid`", "search", "social", "email"],
    );
    assert_mentions(&error(&[("r.json", r#"{"enrichment": "referer", "enabled": true, "parameters": {"field": "page..referrer"}}"#)]), &["r.json", "page..referrer", "not a field name"]);
}

#[test]
fn lookup_mistakes_name_the_table_and_line() {
    let csv = "sku,category\nSKU-1,shoes\n";
    assert_mentions(&error(&[("l.json", r#"{"enrichment": "lookup", "enabled": true, "parameters": {"table": "t.csv", "key": "sku"}}"#)]), &["l.json", "needs a name"]);
    assert_mentions(&error(&[("l.json", r#"{"enrichment": "lookup", "name": "Bad-Name", "enabled": true, "parameters": {"table": "t.csv", "key": "sku"}}"#)]), &["\"Bad-Name\"", "^[a-z]"]);
    assert_mentions(&error(&[("l.json", r#"{"enrichment": "lookup", "name": "t", "enabled": true}"#)]), &["l.json", "needs at least table and key"]);
    assert_mentions(&error(&[("l.json", LOOKUP)]), &["l.json", "cannot read the table", "products.csv"]);
    assert_mentions(&error(&[("l.json", &LOOKUP.replace("products.csv", "products.xlsx")), ("products.xlsx", csv)]), &["cannot tell the format", "parameters.format"]);
    assert_mentions(&error(&[("l.json", &LOOKUP.replace("items[].sku", "a[].b[].c")), ("products.csv", csv)]), &["more than one []"]);
    assert_mentions(&error(&[("l.json", LOOKUP), ("products.csv", "sku,category\nSKU-1,shoes\nSKU-1,hats\n")]), &["products.csv line 3", "\"SKU-1\" is in the table twice"]);
    assert_mentions(&error(&[("l.json", LOOKUP), ("products.csv", "sku,category\nSKU-1,shoes,extra\n")]), &["products.csv", "line: 2", "3 fields"]);
    assert_mentions(&error(&[("l.json", LOOKUP), ("products.csv", "sku,category\n,shoes\n")]), &["products.csv line 2", "key is empty"]);
    let keyed = LOOKUP.replace("\"key\": \"items[].sku\"", "\"key\": \"items[].sku\", \"key_column\": \"id\"");
    assert_mentions(&error(&[("l.json", &keyed), ("products.csv", csv)]), &["no column \"id\"", "the columns are sku, category"]);
    let picked = LOOKUP.replace("\"key\": \"items[].sku\"", "\"key\": \"items[].sku\", \"columns\": [\"colour\"]");
    assert_mentions(&error(&[("l.json", &picked), ("products.csv", csv)]), &["no column \"colour\""]);
    let ndjson = LOOKUP.replace("products.csv", "products.ndjson");
    assert_mentions(&error(&[("l.json", &ndjson), ("products.ndjson", "{\"sku\": \"a\"}\n")]), &["key_column"]);
    let ndjson = ndjson.replace("\"key\": \"items[].sku\"", "\"key\": \"items[].sku\", \"key_column\": \"sku\"");
    assert_mentions(&error(&[("l.json", &ndjson), ("products.ndjson", "{\"sku\": \"a\"}\n[1]\n")]), &["products.ndjson line 2", "not a JSON object"]);
    assert_mentions(&error(&[("l.json", &ndjson), ("products.ndjson", "{\"sku\": 1.5}\n")]), &["products.ndjson line 1", "keys are strings or integers"]);
    assert_mentions(&error(&[("l.json", &ndjson), ("products.ndjson", "{\"id\": \"a\"}\n")]), &["products.ndjson line 1", "no \"sku\" member"]);
    // A disabled lookup is checked, but its table is not read.
    let off = LOOKUP.replace("\"enabled\": true", "\"enabled\": false");
    let e = load(&[("l.json", &off)]).unwrap();
    assert!(e.is_empty() && e.described()[0].contains("not read"), "{:?}", e.described());
}

#[test]
fn a_table_too_large_for_the_memory_is_refused_with_its_size() {
    let mut csv = String::from("sku,category\n");
    for i in 0..20_000 {
        csv.push_str(&format!("SKU-{i:06},category-{i}\n"));
    }
    let dir = dir_with(&[("l.json", LOOKUP), ("products.csv", &csv)]);
    // Smaller on disk than the limit, larger once in memory.
    let message = Enrichments::from_dir(dir.path(), TableBudget::new(csv.len() as u64 + 1000, "the test's limit")).unwrap_err().to_string();
    assert_mentions(&message, &["l.json", "products.csv is too large", "in memory", "the test's limit"]);
    // Larger on disk than the limit: refused before it is read.
    let message = Enrichments::from_dir(dir.path(), TableBudget::new(1000, "the test's limit")).unwrap_err().to_string();
    let on_disk = format!("products.csv is {:.1} KiB on disk", csv.len() as f64 / 1024.0);
    assert_mentions(&message, &[&on_disk, "1.0 KiB left", "the test's limit"]);
    // A Lambda function of 128 MiB leaves 32 MiB: this table fits.
    assert!(Enrichments::from_dir(dir.path(), TableBudget::lambda(128)).is_ok());
    let message = Enrichments::from_dir(dir.path(), TableBudget::lambda(1)).unwrap_err().to_string();
    assert_mentions(&message, &["a quarter of the function's 1 MiB (AWS_LAMBDA_FUNCTION_MEMORY_SIZE)"]);
}

/// A table that is not a regular file (a device that never ends, a named pipe no one
/// writes to, a directory, a link to a device) is refused at once with its path, never
/// read without end or waited on.
#[cfg(unix)]
#[test]
fn a_table_that_is_not_a_regular_file_is_refused() {
    let dir = dir_with(&[("l.json", &LOOKUP.replace("products.csv", "/dev/zero").replace("\"key\"", "\"format\": \"csv\", \"key\""))]);
    let message = Enrichments::from_dir(dir.path(), TableBudget::local()).unwrap_err().to_string();
    assert_mentions(&message, &["l.json", "/dev/zero is not a regular file"]);
    std::fs::write(dir.path().join("l.json"), LOOKUP).unwrap();
    each_non_regular_file(&dir.path().join("products.csv"), |what| {
        let message = Enrichments::from_dir(dir.path(), TableBudget::local()).unwrap_err().to_string();
        assert!(message.contains("l.json") && message.contains("products.csv is not a regular file"), "{what}: {message}");
    });
}

#[test]
fn directories_that_cannot_be_used() {
    let empty = tempfile::tempdir().unwrap();
    assert_mentions(&Enrichments::from_dir(empty.path(), TableBudget::local()).unwrap_err().to_string(), &["no enrichment files", "\"enabled\": false"]);
    let missing = empty.path().join("nope");
    assert_mentions(&Enrichments::from_dir(&missing, TableBudget::local()).unwrap_err().to_string(), &["cannot read enrichments from", "nope"]);
    // Files other than *.json (tables, notes) are not configurations.
    let e = load(&[("campaign.json", r#"{"enrichment": "campaign", "enabled": true}"#), ("README.md", "notes"), ("t.csv", "a\n1\n")]).unwrap();
    assert_eq!(e.described().len(), 1);
}

#[test]
fn the_example_directory_loads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/enrichments");
    let e = Enrichments::from_dir(&dir, TableBudget::local()).unwrap();
    let described = e.described().join("\n");
    for part in ["campaign (on)", "referer (on", "lookup products (on, 3 rows", "lookup plan (on, 2 rows"] {
        assert!(described.contains(part), "{part:?} missing from {described}");
    }
}
