//! The enriched bytes of whole workloads, pinned: the attribution and reference workloads
//! under the three enrichments (campaign, referer, lookups), and a seeded corpus of URL and
//! referrer shapes (cases, encodings, fragments, ports, unknown and internal hosts). A
//! change made for speed must leave every output byte and every grouped value as it was;
//! the hashes were computed on the code before the enrichments' fast paths.

use crate::common;

use chrono::{TimeZone, Utc};
use common::*;
use pipeline::workload::{Workload, WorkloadConfig};
use pipeline::{CoreConfig, Outcome, Record};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The benches' three enrichments, plus a lookup by `user_id` (integers and strings) with a
/// default, so scalar keys, misses and defaults are pinned too.
fn three_enrichments() -> CoreConfig {
    let mut products = String::from("sku,category,brand\n");
    for i in 0..100_000 {
        products.push_str(&format!("SKU-{:06},category-{},brand-{}\n", i * 10, i % 97, i % 13));
    }
    let mut accounts = String::new();
    for i in 0..3_000u32 {
        if i % 2 == 0 {
            accounts.push_str(&format!("{{\"user\":{},\"account\":\"acct-{i}\",\"seats\":{}}}\n", i * 3, i % 40));
        } else {
            accounts.push_str(&format!("{{\"user\":\"u-{:08}\",\"account\":\"acct-{i}\",\"vip\":true}}\n", i));
        }
    }
    let files = [
        ("campaign.json", include_str!("../../../enrichments/campaign.json")),
        ("referer.json", include_str!("../../../enrichments/referer.json")),
        (
            "products.json",
            r#"{"enrichment": "lookup", "name": "products", "enabled": true,
                "parameters": {"table": "products.csv", "key": "items[].sku", "event_types": ["purchase"]}}"#,
        ),
        ("products.csv", &products),
        (
            "accounts.json",
            r#"{"enrichment": "lookup", "name": "accounts", "enabled": true,
                "parameters": {"table": "accounts.ndjson", "key": "user_id", "key_column": "user", "default": {"account": "none"}}}"#,
        ),
        ("accounts.ndjson", &accounts),
    ];
    core(load(&files).unwrap())
}

/// FNV-1a over every outcome: an event's bytes and grouped values, a bad row's JSON.
fn hash_outcomes(core: &CoreConfig, records: &[Record]) -> (usize, u64) {
    let processed_at = Utc.with_ymd_and_hms(2026, 11, 27, 12, 30, 0).unwrap();
    let mut bytes = Vec::new();
    for outcome in pipeline::process_batch(core, records, processed_at) {
        match outcome {
            Outcome::Event(event) => {
                bytes.extend_from_slice(&event.json);
                for (field, value) in event.groups.iter() {
                    bytes.extend_from_slice(format!("\t{field}={value}").as_bytes());
                }
            }
            Outcome::Bad(row) => bytes.extend_from_slice(&serde_json::to_vec(&row).unwrap()),
        }
        bytes.push(b'\n');
    }
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (bytes.len(), hash)
}

fn workload(attribution: bool, n: usize) -> Vec<Record> {
    Workload::new(WorkloadConfig { attribution, ..WorkloadConfig::default() }).records(n, "shardId-000000000000")
}

#[test]
fn the_attribution_workload_enriches_to_the_same_bytes() {
    assert_eq!(hash_outcomes(&three_enrichments(), &workload(true, 20_000)), (21_051_169, 1_680_566_935_780_968_894));
}

#[test]
fn the_reference_workload_enriches_to_the_same_bytes() {
    assert_eq!(hash_outcomes(&three_enrichments(), &workload(false, 20_000)), (20_241_897, 7_885_186_490_288_989_764));
    assert_eq!(hash_outcomes(&CoreConfig::embedded().unwrap(), &workload(false, 5_000)), (4_071_547, 2_139_485_586_922_225_424));
}

/// One of `items`.
fn pick<'a>(rng: &mut SmallRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// A page URL: hosts in any case, with ports and user info, queries with campaign
/// parameters in any case and encoding (valid, broken, not UTF-8), repeated and empty
/// values, fragments that hold `?` and parameters.
fn page_url(rng: &mut SmallRng) -> String {
    const HOSTS: [&str; 6] = ["shop.example.com", "SHOP.Example.com", "shop.example.com:8443", "user:pw@shop.example.com", "shop.example.com.", "[::1]:80"];
    const NAMES: [&str; 22] = [
        "utm_source", "UTM_SOURCE", "Utm_Medium", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "fbclid",
        "MSCLKID", "utm_sourcex", "xutm_source", "utm_", "clid", "q", "page", "ref", "utm_campaign", "utm_source", "dclid", "", "a",
    ];
    const VALUES: [&str; 18] = [
        "newsletter", "", "a+b", "brand%20search", "caf%C3%A9", "100%", "%zz%4", "bad%E9", "%0Aline%22q%5C", "x%2B%26y", "CPC",
        "%41%4a", "v=1", "\u{e9}t\u{e9}", "%F0%9F%98%80", "a|b", "%", "tab%09",
    ];
    let scheme = pick(rng, &["https://", "http://", "HTTPS://", "", "//"]);
    let mut url = format!("{scheme}{}{}", pick(rng, &HOSTS), pick(rng, &["", "/", "/p", "/a/b.html", "/s;x"]));
    if rng.random_bool(0.8) {
        url.push('?');
        for i in 0..rng.random_range(0..7) {
            if i > 0 {
                url.push_str(pick(rng, &["&", "&", "&&"]));
            }
            url.push_str(pick(rng, &NAMES));
            if rng.random_bool(0.9) {
                url.push('=');
                url.push_str(pick(rng, &VALUES));
            }
        }
    }
    if rng.random_bool(0.2) {
        url.push_str(pick(rng, &["#", "#frag", "#x?utm_source=frag", "#?gclid=f"]));
    }
    url
}

/// A referrer: every built-in medium, hosts with subdomains, case, ports and trailing dots,
/// wildcard domains under short and long second-level labels, the page's own host, unknown
/// hosts, hosts too long to look up, and search terms in any encoding.
fn referrer(rng: &mut SmallRng) -> String {
    const HOSTS: [&str; 36] = [
        "www.google.com", "google.co.uk", "www.google.com.au", "WWW.Google.DE", "google.example.com", "news.google.com",
        "mail.google.com", "uk.search.yahoo.com", "search.yahoo.co.jp", "mail.yahoo.com", "bing.com", "cn.bing.com",
        "www.bing.com:443", "duckduckgo.com.", "l.facebook.com", "t.co", "www.linkedin.com", "linkedin.com", "yandex.ru",
        "mail.yandex.com", "gmx.net", "navigator.gmx.net", "com.google.android.gm", "shop.example.com", "SHOP.example.com",
        "blog.example.org", "example", "a.b.c.d.e.f.example.net", "192.168.0.1", "[2001:db8::1]", "search.example.com",
        "find.co.jp", "www.find.io", "internal.test", "x.internal.test", "notinternal.test",
    ];
    if rng.random_bool(0.05) {
        return pick(rng, &["", "not a url", "urn:isbn:1", "https://", "ftp://", "/relative"]).to_owned();
    }
    let host = if rng.random_bool(0.02) { format!("{}example.com", "a.".repeat(130)) } else { pick(rng, &HOSTS).to_owned() };
    let mut url = format!("{}{}{}", pick(rng, &["https://", "http://", "android-app://"]), host, pick(rng, &["", "/", "/search", "/l.php"]));
    if rng.random_bool(0.7) {
        url.push('?');
        let terms = ["q", "p", "text", "wd", "Q", "query", "form", "u", "k"];
        for i in 0..rng.random_range(1..4) {
            if i > 0 {
                url.push('&');
            }
            url.push_str(pick(rng, &terms));
            url.push('=');
            url.push_str(pick(rng, &["example+widgets", "", "caf%C3%A9", "bad%FF", "a%22b", "plain", "%2B%2B"]));
        }
    }
    if rng.random_bool(0.1) {
        url.push_str("#q=frag");
    }
    url
}

/// The campaign and referer reading free-form fields (where a URL need not be a valid URI),
/// with parameter names, internal domains and sources of the file's own.
fn free_form_enrichments() -> CoreConfig {
    let files = [
        (
            "campaign.json",
            r#"{"enrichment": "campaign", "enabled": true, "parameters": {"url_fields": ["properties.url", "page.url"],
                "source": ["utm_source", "src"], "name": ["utm_campaign", "campaign", "c"], "click_ids": ["gclid", "dclid", "clid"]}}"#,
        ),
        (
            "referer.json",
            r#"{"enrichment": "referer", "enabled": true, "parameters": {"field": "properties.ref", "page_fields": ["properties.url"],
                "internal_domains": ["example.org", "internal.test"],
                "sources": [{"source": "Example Search", "medium": "search", "domains": ["search.example.com", "find.*"], "term_parameters": ["k", "q"]},
                            {"source": "Google News", "medium": "social", "domains": ["news.google.com"]}]}}"#,
        ),
    ];
    core(load(&files).unwrap())
}

#[test]
fn a_corpus_of_url_and_referrer_shapes_enriches_to_the_same_bytes() {
    let mut rng = SmallRng::seed_from_u64(18);
    let arrival = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
    let records: Vec<Record> = (0..8_000)
        .map(|i| {
            let (url, referrer, other) = (page_url(&mut rng), referrer(&mut rng), referrer(&mut rng));
            let properties = if i % 5 == 4 { serde_json::json!({"url": other, "ref": url}) } else { serde_json::json!({"url": url, "ref": referrer}) };
            let event = match i % 3 {
                0 => serde_json::json!({"event_type": "pageview", "user_id": i, "page": {"url": url, "referrer": referrer}, "properties": properties}),
                1 => serde_json::json!({"event_type": "click", "user_id": format!("u-{i:08}"), "element_id": "e", "page_url": url, "properties": properties}),
                _ => serde_json::json!({"event_type": "pageview", "user_id": 3 * i, "page": {"url": other, "referrer": referrer}, "properties": properties}),
            };
            Record {
                data: serde_json::to_vec(&event).unwrap(),
                partition_key: format!("pk-{i}"),
                sequence_number: format!("{:056}", i),
                sub_sequence_number: 0,
                shard_id: "shardId-000000000000".into(),
                arrival,
            }
        })
        .collect();
    assert_eq!(hash_outcomes(&three_enrichments(), &records), (6_302_530, 4_390_002_327_790_062_544));
    assert_eq!(hash_outcomes(&free_form_enrichments(), &records), (6_263_531, 16_836_610_899_840_258_295));
    // The corpus reaches every branch: each medium, campaigns, search terms, errors.
    let (mut media, mut campaigns, mut terms, mut errors) = (std::collections::BTreeSet::new(), 0, 0, 0);
    for outcome in pipeline::process_batch(&free_form_enrichments(), &records, Utc::now()) {
        let Outcome::Event(event) = outcome else { continue };
        media.extend(event.groups.get(pipeline::group::GroupField::RefererMedium).map(str::to_owned));
        campaigns += usize::from(event.groups.get(pipeline::group::GroupField::CampaignSource).is_some());
        let text = String::from_utf8(event.json).unwrap();
        terms += usize::from(text.contains("\"term\":"));
        errors += usize::from(text.contains("\"enrichment_errors\":"));
    }
    assert_eq!(media.into_iter().collect::<Vec<_>>(), ["email", "internal", "search", "social", "unknown"]);
    assert!(campaigns > 500 && terms > 500 && errors > 100, "{campaigns} campaigns, {terms} terms, {errors} with errors");
}
