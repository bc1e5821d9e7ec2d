//! Campaign attribution and referer classification on fixture events (DESIGN section 3).

use crate::common;

use common::*;
use pipeline::{CoreConfig, Enrichments};
use pipeline::enrichments::lookup::TableBudget;
use pipeline::{BadRowType, Outcome};
use serde_json::{Value, json};

fn embedded() -> CoreConfig {
    CoreConfig::embedded().unwrap()
}

fn campaign(url: &str) -> Value {
    pipeline_of(&embedded(), &pageview(url, ""))["campaign"].clone()
}

fn referer(url: &str, referrer: &str) -> Value {
    pipeline_of(&embedded(), &pageview(url, referrer))["referer"].clone()
}

#[test]
fn every_utm_parameter_and_a_click_id() {
    let url = "https://shop.example.com/p?utm_source=newsletter&utm_medium=email&utm_campaign=winter_sale&utm_term=boots&utm_content=hero&gclid=Cj0KCQ";
    assert_eq!(
        campaign(url),
        json!({"source": "newsletter", "medium": "email", "name": "winter_sale", "term": "boots", "content": "hero",
               "click_id": {"param": "gclid", "value": "Cj0KCQ"}})
    );
}

#[test]
fn each_parameter_alone() {
    for (param, key) in [("utm_source", "source"), ("utm_medium", "medium"), ("utm_campaign", "name"), ("utm_term", "term"), ("utm_content", "content")] {
        assert_eq!(campaign(&format!("https://a.com/?x=1&{param}=v")), json!({key: "v"}), "{param}");
    }
    for click in ["gclid", "fbclid", "msclkid"] {
        assert_eq!(campaign(&format!("https://a.com/?{click}=id-1")), json!({"click_id": {"param": click, "value": "id-1"}}));
    }
}

#[test]
fn no_campaign_where_the_url_carries_none() {
    let none = Value::Null;
    assert_eq!(campaign("https://a.com/"), none);
    assert_eq!(campaign("https://a.com/search?q=boots&page=2"), none);
    assert_eq!(campaign("https://a.com/?utm_source=&utm_medium="), none, "empty values are no values");
    assert_eq!(campaign("https://a.com/#utm_source=x"), none, "the fragment is not the query");
    assert_eq!(campaign("https://a.com/p#frag?utm_source=x"), none);
    assert_eq!(campaign("https://a.com/?utm_sourcex=a&xutm_source=b"), none, "names match whole");
    // The smallest pageview has no page at all.
    assert_eq!(pipeline_of(&embedded(), r#"{"event_type":"pageview","user_id":1}"#).get("campaign"), None);
}

#[test]
fn values_are_percent_decoded() {
    let c = campaign("https://a.com/?utm_source=news%20letter&utm_medium=e+mail&utm_campaign=caf%C3%A9%2B%26more&utm_term=100%25");
    assert_eq!(c["source"], "news letter");
    assert_eq!(c["medium"], "e mail", "+ is a space in a query");
    assert_eq!(c["name"], "café+&more", "encoded + and & are text");
    assert_eq!(c["term"], "100%");
    let c = campaign("https://a.com/?utm_source=line%0Abreak%22quote%5C");
    assert_eq!(c["source"], "line\nbreak\"quote\\", "decoded control characters and quotes are escaped in the output");
    // A URL in a free-form field need not be a valid URI: a % without two hex digits stays.
    let files = [("campaign.json", r#"{"enrichment": "campaign", "enabled": true, "parameters": {"url_fields": ["properties.landing"]}}"#)];
    let core = core(load(&files).unwrap());
    let data = r#"{"event_type":"pageview","user_id":1,"properties":{"landing":"https://a.com/?utm_source=%zz%4&utm_medium=50%"}}"#;
    assert_eq!(pipeline_of(&core, data)["campaign"], json!({"source": "%zz%4", "medium": "50%"}));
}

#[test]
fn repeated_parameters_take_the_first_and_names_ignore_case() {
    assert_eq!(campaign("https://a.com/?utm_source=first&utm_source=second")["source"], "first");
    assert_eq!(campaign("https://a.com/?utm_source=&utm_source=second")["source"], "second", "the first non-empty");
    assert_eq!(campaign("https://a.com/?UTM_Source=Mixed&Utm_Medium=CPC"), json!({"source": "Mixed", "medium": "CPC"}), "values keep their case");
    assert_eq!(campaign("https://a.com/?msclkid=m&gclid=g")["click_id"], json!({"param": "gclid", "value": "g"}), "click ids in configured order");
    assert_eq!(campaign("https://a.com/?fbclid=f&fbclid=g")["click_id"]["value"], "f");
}

#[test]
fn the_click_event_page_url_counts_too() {
    let data = r#"{"event_type":"click","user_id":1,"element_id":"buy","page_url":"https://a.com/x?utm_source=ads&utm_medium=cpc"}"#;
    assert_eq!(pipeline_of(&embedded(), data)["campaign"], json!({"source": "ads", "medium": "cpc"}));
}

#[test]
fn a_value_that_is_not_utf8_is_kept_and_reported() {
    let p = pipeline_of(&embedded(), &pageview("https://a.com/?utm_source=caf%E9", ""));
    assert_eq!(p["campaign"]["source"], "caf\u{FFFD}");
    assert_eq!(p["enrichment_errors"][0]["enrichment"], "campaign");
    assert_eq!(p["enrichment_errors"][0]["path"], "/page/url");
    assert!(p["enrichment_errors"][0]["message"].as_str().unwrap().contains("utm_source"), "{p}");
}

#[test]
fn a_required_campaign_that_fails_is_an_enrichment_failure_bad_row() {
    let files = [("campaign.json", r#"{"enrichment": "campaign", "enabled": true, "required": true}"#)];
    let core = core(load(&files).unwrap());
    let Outcome::Bad(bad) = outcome(&core, &pageview("https://a.com/?utm_source=%FF", "")) else { panic!("a bad row") };
    assert_eq!(bad.kind, BadRowType::EnrichmentFailure);
    assert_eq!(bad.schema.as_deref(), Some("pageview/1-0-0"));
    assert_eq!((bad.errors[0].path.as_str(), bad.errors[0].keyword.as_str()), ("/page/url", "campaign"));
    assert!(bad.payload.unwrap().contains("%FF"), "the event is kept whole");
    // Without a failure the required campaign is like any other.
    assert!(matches!(outcome(&core, &pageview("https://a.com/?utm_source=x", "")), Outcome::Event(_)));
    assert!(matches!(outcome(&core, &pageview("https://a.com/", "")), Outcome::Event(_)), "no campaign is no failure");
}

#[test]
fn parameter_names_and_click_ids_are_configurable() {
    let files = [(
        "campaign.json",
        r#"{"enrichment": "campaign", "enabled": true,
            "parameters": {"source": ["utm_source", "src"], "click_ids": ["ttclid", "gclid"], "url_fields": ["properties.landing"]}}"#,
    )];
    let core = core(load(&files).unwrap());
    let data = r#"{"event_type":"pageview","user_id":1,"page":{"url":"https://a.com/?utm_source=ignored"},
        "properties":{"landing":"https://a.com/?src=partner&gclid=g&ttclid=t&utm_medium=cpc"}}"#;
    assert_eq!(
        pipeline_of(&core, data)["campaign"],
        json!({"source": "partner", "medium": "cpc", "click_id": {"param": "ttclid", "value": "t"}})
    );
}

#[test]
fn search_referers_with_their_terms() {
    let page = "https://shop.example.com/";
    let cases = [
        ("https://www.google.com/search?q=rust+lambda&hl=en", "Google", Some("rust lambda")),
        ("https://www.google.co.uk/search?q=caf%C3%A9", "Google", Some("café")),
        ("https://google.com.au/", "Google", None),
        ("https://www.google.de/url?sa=t", "Google", None),
        ("https://www.bing.com/search?q=event+pipeline", "Bing", Some("event pipeline")),
        ("https://uk.search.yahoo.com/search?p=boots", "Yahoo!", Some("boots")),
        ("https://search.yahoo.co.jp/search?p=x", "Yahoo!", Some("x")),
        ("https://duckduckgo.com/", "DuckDuckGo", None),
        ("https://www.baidu.com/s?wd=%E9%9E%8B", "Baidu", Some("鞋")),
        ("https://yandex.ru/search/?text=a+b", "Yandex", Some("a b")),
        ("android-app://com.google.android.googlequicksearchbox/", "Google", None),
    ];
    for (referrer, source, term) in cases {
        let mut expected = json!({"medium": "search", "source": source});
        if let Some(term) = term {
            expected["term"] = json!(term);
        }
        assert_eq!(referer(page, referrer), expected, "{referrer}");
    }
}

#[test]
fn social_and_email_referers() {
    let page = "https://shop.example.com/";
    for (referrer, source) in [
        ("https://l.facebook.com/l.php?u=x", "Facebook"),
        ("https://t.co/abc", "X"),
        ("https://www.linkedin.com/feed/", "LinkedIn"),
        ("https://old.reddit.com/r/rust/", "Reddit"),
        ("https://www.pinterest.co.uk/pin/1", "Pinterest"),
        ("https://youtu.be/xyz", "YouTube"),
    ] {
        assert_eq!(referer(page, referrer), json!({"medium": "social", "source": source}), "{referrer}");
    }
    for (referrer, source) in [
        ("https://mail.google.com/mail/u/0/", "Gmail"),
        ("android-app://com.google.android.gm", "Gmail"),
        ("https://outlook.live.com/mail/0/inbox", "Outlook.com"),
        ("https://mail.yahoo.com/d/folders/1", "Yahoo! Mail"),
        ("https://mail.yandex.ru/", "Yandex Mail"),
    ] {
        assert_eq!(referer(page, referrer), json!({"medium": "email", "source": source}), "{referrer}");
    }
}

#[test]
fn internal_unknown_and_absent_referers() {
    let page = "https://shop.example.com/cart";
    assert_eq!(referer(page, "https://shop.example.com/products/1"), json!({"medium": "internal"}));
    assert_eq!(referer(page, "https://SHOP.example.com:443/"), json!({"medium": "internal"}), "host compared without case and port");
    assert_eq!(referer(page, "https://blog.example.org/post"), json!({"medium": "unknown"}));
    assert_eq!(referer(page, "https://google.evil.com/"), json!({"medium": "unknown"}), "google.* is Google's own domains, not a subdomain elsewhere");
    assert_eq!(referer(page, "https://notgoogle.com/"), json!({"medium": "unknown"}));
    assert_eq!(referer(page, "urn:isbn:0451450523"), json!({"medium": "unknown"}), "no host");
    assert_eq!(referer(page, ""), Value::Null, "an empty referrer is none");
    assert_eq!(pipeline_of(&embedded(), r#"{"event_type":"pageview","user_id":1,"page":{"url":"https://a.com/"}}"#).get("referer"), None);
}

/// The referer's internal test reads the page URL from its own `page_fields`, whether
/// campaign attribution reads the same fields (the URL is then found once per event), other
/// fields, or is off.
#[test]
fn the_internal_test_reads_the_referers_own_page_fields() {
    let event = |referrer: &str| {
        format!(
            r#"{{"event_type":"pageview","user_id":1,"page":{{"url":"https://shop.example.com/?utm_source=a","referrer":"{referrer}"}},"properties":{{"landing":"https://other.example.org/?utm_source=b"}}}}"#
        )
    };
    let campaign = |fields: Option<&str>| match fields {
        Some(f) => format!(r#"{{"enrichment": "campaign", "enabled": true, "parameters": {{"url_fields": {f}}}}}"#),
        None => r#"{"enrichment": "campaign", "enabled": false}"#.to_owned(),
    };
    let referer = |fields: &str| format!(r#"{{"enrichment": "referer", "enabled": true, "parameters": {{"page_fields": {fields}}}}}"#);
    let (page, landing) = (r#"["page.url", "page_url"]"#, r#"["properties.landing"]"#);
    for (campaign_fields, referer_fields, internal, external, source) in [
        (Some(page), page, "shop.example.com", "other.example.org", json!("a")),
        (Some(landing), page, "shop.example.com", "other.example.org", json!("b")),
        (Some(page), landing, "other.example.org", "shop.example.com", json!("a")),
        (Some(landing), landing, "other.example.org", "shop.example.com", json!("b")),
        (None, page, "shop.example.com", "other.example.org", Value::Null),
    ] {
        let core = core(load(&[("campaign.json", &campaign(campaign_fields)), ("referer.json", &referer(referer_fields))]).unwrap());
        for _ in 0..2 {
            let internal_one = pipeline_of(&core, &event(&format!("https://{internal}/x")));
            assert_eq!(internal_one["referer"], json!({"medium": "internal"}), "{campaign_fields:?} {referer_fields}");
            assert_eq!(internal_one["campaign"]["source"], source);
            let other = pipeline_of(&core, &event(&format!("https://{external}/x")));
            assert_eq!(other["referer"], json!({"medium": "unknown"}), "{campaign_fields:?} {referer_fields}");
        }
    }
}

#[test]
fn internal_domains_and_extra_sources_come_from_the_file() {
    let files = [(
        "referer.json",
        r#"{"enrichment": "referer", "enabled": true, "parameters": {
            "internal_domains": ["example.com"],
            "sources": [
              {"source": "Intranet Search", "medium": "search", "domains": ["search.corp.example.net"], "term_parameters": ["query"]},
              {"source": "Google Mail (ours)", "medium": "email", "domains": ["mail.google.com"]}
            ]}}"#,
    )];
    let core = core(load(&files).unwrap());
    let r = |referrer: &str| pipeline_of(&core, &pageview("https://shop.example.com/", referrer))["referer"].clone();
    assert_eq!(r("https://checkout.example.com/done"), json!({"medium": "internal"}), "a subdomain of an internal domain");
    assert_eq!(r("https://example.com/"), json!({"medium": "internal"}));
    assert_eq!(r("https://notexample.com/"), json!({"medium": "unknown"}));
    assert_eq!(r("https://search.corp.example.net/?query=vpn"), json!({"medium": "search", "source": "Intranet Search", "term": "vpn"}));
    assert_eq!(r("https://mail.google.com/"), json!({"medium": "email", "source": "Google Mail (ours)"}), "the file overrides the table");
    assert_eq!(r("https://www.bing.com/"), json!({"medium": "search", "source": "Bing"}), "the built-in table stays");

    let only_ours = [("referer.json", r#"{"enrichment": "referer", "enabled": true, "parameters": {"builtin_sources": false,
        "sources": [{"source": "Ours", "medium": "social", "domains": ["ours.*"]}]}}"#)];
    let core = self::core(load(&only_ours).unwrap());
    let r = |referrer: &str| pipeline_of(&core, &pageview("https://a.com/", referrer))["referer"].clone();
    assert_eq!(r("https://www.google.com/?q=x"), json!({"medium": "unknown"}));
    assert_eq!(r("https://ours.co.uk/"), json!({"medium": "social", "source": "Ours"}));
}

#[test]
fn enrichments_off_add_nothing() {
    let files = [
        ("campaign.json", r#"{"enrichment": "campaign", "enabled": false}"#),
        ("referer.json", r#"{"enrichment": "referer", "enabled": false}"#),
    ];
    let core = core(load(&files).unwrap());
    let p = pipeline_of(&core, &pageview("https://a.com/?utm_source=x", "https://www.google.com/?q=y"));
    assert_eq!((p.get("campaign"), p.get("referer")), (None, None));
    let none = self::core(pipeline::Enrichments::none());
    let p = pipeline_of(&none, &pageview("https://a.com/?utm_source=x", "https://www.google.com/?q=y"));
    assert_eq!((p.get("campaign"), p.get("referer")), (None, None));
}

#[test]
fn the_embedded_defaults_are_campaign_and_referer() {
    let e = pipeline::Enrichments::embedded(TableBudget::local()).unwrap();
    let described = e.described().join("\n");
    assert!(described.contains("campaign (on)") && described.contains("referer (on"), "{described}");
    assert!(!described.contains("lookup"), "{described}");
}

mod any_input {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Whatever a URL or referrer holds, the enriched event is one line of valid JSON
        /// with the producer's bytes first.
        #[test]
        fn output_is_valid_json(query in "[a-zA-Z0-9_%+&=#?./:\\\\\"\\-]{0,80}", host in "[a-zA-Z0-9.\\-:@\\[\\]]{0,40}") {
            let files = [
                ("campaign.json", r#"{"enrichment": "campaign", "enabled": true, "parameters": {"url_fields": ["properties.url"]}}"#),
                ("referer.json", r#"{"enrichment": "referer", "enabled": true, "parameters": {"field": "properties.ref", "page_fields": ["properties.url"]}}"#),
            ];
            let core = core(load(&files).unwrap());
            let props = json!({"url": format!("https://{host}/?{query}"), "ref": format!("https://{host}/?q={query}&p={query}")});
            let data = format!(r#"{{"event_type":"pageview","user_id":1,"properties":{props}}}"#);
            let _ = pipeline_of(&core, &data);
        }
    }
}

/// The values the aggregates are grouped by (`by=`) are those written into `_pipeline`,
/// on every event of the attribution workload, and on hostile ones.
#[test]
fn the_grouped_values_are_the_fields_written() {
    use pipeline::group::{GroupField, MAX_GROUP_VALUE_BYTES};
    use pipeline::workload::{Workload, WorkloadConfig};
    let core = embedded();
    let mut records = Workload::new(WorkloadConfig { attribution: true, ..WorkloadConfig::default() }).records(3_000, "shardId-000000000000");
    let long = "%C3%A9".repeat(200);
    for (i, url) in [format!("https://a.example/?utm_source={long}&utm_medium=a%7Cb"), "https://a.example/?utm_campaign=%FF%FE".to_owned()].iter().enumerate() {
        records[i].data = serde_json::to_vec(&json!({"event_type": "pageview", "user_id": "u", "page": {"url": url, "referrer": "ftp://"}})).unwrap();
    }
    let mut seen = [0usize; 5];
    for outcome in pipeline::process_batch(&core, &records, chrono::Utc::now()) {
        let Outcome::Event(event) = outcome else { continue };
        let json: Value = serde_json::from_slice(&event.json).unwrap();
        for field in GroupField::ALL {
            let (object, key) = field.as_str().split_once('.').unwrap();
            let written = json["_pipeline"][object][key].as_str();
            let kept = event.groups.get(field);
            match (written, kept) {
                (Some(w), Some(k)) => {
                    assert!(w.starts_with(k) && (k == w || k.len() > MAX_GROUP_VALUE_BYTES - 4), "{field}: {w:?} kept as {k:?}");
                    seen[field as usize] += 1;
                }
                (w, k) => assert_eq!(w, k, "{field} of {json}"),
            }
        }
    }
    assert!(seen.iter().all(|n| *n > 20), "every field seen on the workload: {seen:?}");
}

/// What an event gets from the enrichments, without the time it was processed at: its
/// `_pipeline` fields and group values, or its bad row.
fn answer(core: &CoreConfig, data: &str) -> String {
    match outcome(core, data) {
        Outcome::Event(event) => {
            let mut json: Value = serde_json::from_slice(&event.json).unwrap();
            json["_pipeline"]["processed_at"].take();
            format!("{} {:?}", json["_pipeline"], event.groups)
        }
        Outcome::Bad(bad) => format!("{:?} {:?}", bad.kind, bad.errors),
    }
}

/// Campaign and referer fields are remembered per thread for the page queries and
/// referrers seen: whatever came before on the same configuration, an event gets the
/// fields, group values and failures a fresh configuration gives it. The cases share
/// queries and referrers while what else decides the answer differs (the page's host,
/// failures, case, length).
#[test]
fn remembered_fields_are_the_fields_worked_out() {
    let long_query = format!("utm_source={}&utm_medium=x", "s".repeat(600));
    let long_referrer = format!("https://www.google.com/search?q={}", "w".repeat(600));
    let queries = ["utm_source=news&utm_medium=email&utm_campaign=w", "utm_source=caf%E9", "UTM_SOURCE=a&utm_source=b", "gclid=1&fbclid=2", "x=1", long_query.as_str()];
    let pages = ["https://shop.example.com/p", "https://other.example.org/", "https://t.co/"];
    let referrers = [
        "https://www.google.com/search?q=boots",
        "https://shop.example.com/cart",
        "https://SHOP.example.com:443/",
        "https://www.bing.com/search?q=caf%E9",
        "https://t.co/x",
        "urn:isbn:1",
        "https://blog.example.org/",
        "",
        long_referrer.as_str(),
    ];
    let mut events = Vec::new();
    for (i, referrer) in referrers.iter().enumerate() {
        for (j, query) in queries.iter().enumerate() {
            let page = pages[(i + j) % pages.len()];
            events.push(pageview(&format!("{page}?{query}"), referrer));
            events.push(format!(r#"{{"event_type":"click","user_id":1,"element_id":"b","page_url":"{}?{query}"}}"#, pages[j % pages.len()]));
        }
    }
    let required = || load(&[("campaign.json", r#"{"enrichment": "campaign", "enabled": true, "required": true}"#)]).unwrap();
    let embedded = || Enrichments::embedded(TableBudget::local()).unwrap();
    let schemas = self::embedded().schemas;
    let with = |enrichments| CoreConfig { schemas: schemas.clone(), enrichments };
    for make in [&embedded as &dyn Fn() -> Enrichments, &required] {
        let shared = with(make());
        let fresh: Vec<String> = events.iter().map(|e| answer(&with(make()), e)).collect();
        // Each round in another order, so each event comes after different ones.
        let n = events.len();
        let orders: [Vec<usize>; 4] = [(0..n).collect(), (0..n).rev().collect(), (0..n).map(|k| (k + n / 2) % n).collect(), (0..n).step_by(2).chain((1..n).step_by(2)).collect()];
        for (round, order) in orders.iter().enumerate() {
            for &i in order {
                assert_eq!(answer(&shared, &events[i]), fresh[i], "round {round}: {}", events[i]);
            }
        }
    }
    // The failure is reported each time, not only the first.
    let failing = pageview("https://a.com/?utm_source=%FF", "");
    let required = with(required());
    for _ in 0..3 {
        assert!(answer(&required, &failing).starts_with("EnrichmentFailure"), "{}", answer(&required, &failing));
    }
}

/// Two configurations used in turn on the same inputs each give their own fields.
#[test]
fn each_configuration_remembers_its_own_fields() {
    let ours = core(load(&[(
        "referer.json",
        r#"{"enrichment": "referer", "enabled": true, "parameters": {"internal_domains": ["google.com"],
            "sources": [{"source": "Ours", "medium": "social", "domains": ["www.bing.com"]}]}}"#,
    ), ("campaign.json", r#"{"enrichment": "campaign", "enabled": true, "parameters": {"source": ["src"]}}"#)]).unwrap());
    let default = embedded();
    let event = |referrer: &str| pageview("https://a.com/?src=s&utm_source=u", referrer);
    for _ in 0..5 {
        for (referrer, mine, theirs) in [
            ("https://www.google.com/search?q=x", json!({"medium": "internal"}), json!({"medium": "search", "source": "Google", "term": "x"})),
            ("https://www.bing.com/", json!({"medium": "social", "source": "Ours"}), json!({"medium": "search", "source": "Bing"})),
        ] {
            let (a, b) = (pipeline_of(&ours, &event(referrer)), pipeline_of(&default, &event(referrer)));
            assert_eq!((&a["referer"], &a["campaign"]), (&mine, &json!({"source": "s"})));
            assert_eq!((&b["referer"], &b["campaign"]), (&theirs, &json!({"source": "u"})));
        }
    }
}
