//! Lookup tables on fixture events: hits, misses, defaults, keys inside arrays, typed
//! NDJSON rows, wrong key types, null keys and required lookups.

use crate::common;

use common::*;
use pipeline::{BadRowType, Outcome};
use serde_json::{Value, json};

const PRODUCTS_CSV: &str = "sku,category,brand\nSKU-1,shoes,Acme\nSKU-2,\"hats, caps\",Bolt\n";
const PLANS_NDJSON: &str = "{\"plan\":\"pro\",\"tier\":\"gold\",\"seats\":50,\"sso\":true}\n\n{\"plan\":\"free\",\"tier\":\"basic\",\"seats\":1,\"sso\":false}\n";
const ACCOUNTS_CSV: &str = "user_id,account\n123,acme-corp\nu-7,bolt-inc\n";

fn lookup_file(name: &str, parameters: Value, required: bool) -> String {
    json!({"enrichment": "lookup", "name": name, "enabled": true, "required": required, "parameters": parameters}).to_string()
}

fn purchase(skus: &[&str]) -> String {
    let items: Vec<Value> = skus.iter().map(|s| json!({"sku": s, "quantity": 1, "price": 1.0})).collect();
    json!({"event_type": "purchase", "user_id": 1, "order_id": "o-1", "amount": 1.0, "currency": "USD", "items": items}).to_string()
}

fn products(extra: Value, required: bool) -> pipeline::CoreConfig {
    let mut parameters = json!({"table": "products.csv", "key": "items[].sku"});
    parameters.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    core(load(&[("products.json", &lookup_file("products", parameters, required)), ("products.csv", PRODUCTS_CSV)]).unwrap())
}

#[test]
fn a_key_inside_an_array_gives_an_array_in_item_order() {
    let core = products(json!({}), false);
    let p = pipeline_of(&core, &purchase(&["SKU-2", "SKU-404", "SKU-1"]));
    assert_eq!(
        p["lookup"]["products"],
        json!([{"category": "hats, caps", "brand": "Bolt"}, null, {"category": "shoes", "brand": "Acme"}]),
        "a miss keeps its place as null"
    );
    assert_eq!(p.get("enrichment_errors"), None, "a miss is no error");
    let p = pipeline_of(&core, &purchase(&["SKU-404", "SKU-405"]));
    assert_eq!(p.get("lookup"), None, "no hit: nothing added");
}

#[test]
fn a_default_fills_misses_and_columns_pick_what_is_added() {
    let core = products(json!({"default": {"category": "unknown"}, "columns": ["category"]}), false);
    let p = pipeline_of(&core, &purchase(&["SKU-1", "SKU-404"]));
    assert_eq!(p["lookup"]["products"], json!([{"category": "shoes"}, {"category": "unknown"}]));
    let p = pipeline_of(&core, &purchase(&["SKU-404"]));
    assert_eq!(p["lookup"]["products"], json!([{"category": "unknown"}]));
}

#[test]
fn a_scalar_key_from_properties_with_typed_ndjson_rows() {
    let file = lookup_file("plans", json!({"table": "plans.ndjson", "key": "properties.plan", "key_column": "plan"}), false);
    let core = core(load(&[("plans.json", &file), ("plans.ndjson", PLANS_NDJSON)]).unwrap());
    let event = |plan: Value| json!({"event_type": "identify", "user_id": 9, "properties": {"plan": plan}}).to_string();
    assert_eq!(pipeline_of(&core, &event(json!("pro")))["lookup"], json!({"plans": {"seats": 50, "sso": true, "tier": "gold"}}));
    assert_eq!(pipeline_of(&core, &event(json!("enterprise"))).get("lookup"), None, "a miss adds nothing");
    assert_eq!(pipeline_of(&core, r#"{"event_type":"identify","user_id":9}"#).get("lookup"), None, "no key field: nothing");
    let p = pipeline_of(&core, &event(Value::Null));
    assert_eq!((p.get("lookup"), p.get("enrichment_errors")), (None, None), "a null key is no key: nothing, and no error");
    let p = pipeline_of(&core, &event(json!({"name": "pro"})));
    assert_eq!(p.get("lookup"), None);
    assert_eq!(p["enrichment_errors"], json!([{"enrichment": "lookup", "name": "plans", "path": "/properties/plan",
        "message": "properties.plan is an object; lookup keys are strings or integers"}]));
}

#[test]
fn user_ids_as_integers_and_strings_and_event_types_chosen() {
    let file = lookup_file("account", json!({"table": "accounts.csv", "key": "user_id", "event_types": ["pageview", "identify"]}), false);
    let core = core(load(&[("accounts.json", &file), ("accounts.csv", ACCOUNTS_CSV)]).unwrap());
    let p = pipeline_of(&core, r#"{"event_type":"pageview","user_id":123}"#);
    assert_eq!(p["lookup"]["account"], json!({"account": "acme-corp"}), "the integer 123 is the key \"123\"");
    let p = pipeline_of(&core, r#"{"event_type":"identify","user_id":"u-7"}"#);
    assert_eq!(p["lookup"]["account"], json!({"account": "bolt-inc"}));
    let p = pipeline_of(&core, r#"{"event_type":"click","user_id":123,"element_id":"b","page_url":"https://a.com/"}"#);
    assert_eq!(p.get("lookup"), None, "click is not among the event types");
}

/// Null is no value, at the key field and inside an array: nothing (or `null` in the
/// element's place), never an error; a required lookup fails there as for a missing key.
#[test]
fn null_keys_are_missing_keys() {
    let file = |required| lookup_file("plans", json!({"table": "plans.ndjson", "key": "properties.plans[]", "key_column": "plan"}), required);
    let event = |plans: Value| json!({"event_type": "identify", "user_id": 9, "properties": {"plans": plans}}).to_string();
    let lenient = core(load(&[("plans.json", &file(false)), ("plans.ndjson", PLANS_NDJSON)]).unwrap());
    let p = pipeline_of(&lenient, &event(json!([null, "free"])));
    assert_eq!(p["lookup"]["plans"], json!([null, {"seats": 1, "sso": false, "tier": "basic"}]));
    assert_eq!(p.get("enrichment_errors"), None);
    let p = pipeline_of(&lenient, &event(json!([null, 1.5])));
    assert_eq!(p.get("lookup"), None);
    assert_eq!(p["enrichment_errors"][0]["path"], "/properties/plans/1", "the float is reported, the null is not: {p}");
    assert_eq!(p["enrichment_errors"].as_array().unwrap().len(), 1);

    let required = core(load(&[("plans.json", &file(true)), ("plans.ndjson", PLANS_NDJSON)]).unwrap());
    let Outcome::Bad(bad) = outcome(&required, &event(json!(["pro", null]))) else { panic!("a bad row") };
    assert_eq!(bad.kind, BadRowType::EnrichmentFailure);
    assert_eq!((bad.errors.len(), bad.errors[0].path.as_str()), (1, "/properties/plans/1"));
    assert!(bad.errors[0].message.contains("element 1 has no key"), "{}", bad.errors[0].message);
    let scalar = lookup_file("plan", json!({"table": "plans.ndjson", "key": "properties.plan", "key_column": "plan"}), true);
    let required = core(load(&[("plan.json", &scalar), ("plans.ndjson", PLANS_NDJSON)]).unwrap());
    let null_plan = json!({"event_type": "identify", "user_id": 9, "properties": {"plan": null}}).to_string();
    let Outcome::Bad(bad) = outcome(&required, &null_plan) else { panic!("a bad row") };
    assert!(bad.errors[0].message.contains("the event has no properties.plan"), "{}", bad.errors[0].message);
}

#[test]
fn several_tables_on_one_event() {
    let files = [
        ("products.json", lookup_file("products", json!({"table": "products.csv", "key": "items[].sku", "columns": ["brand"]}), false)),
        ("accounts.json", lookup_file("account", json!({"table": "accounts.csv", "key": "user_id"}), false)),
    ];
    let dir = dir_with(&[(files[0].0, &files[0].1), (files[1].0, &files[1].1), ("products.csv", PRODUCTS_CSV), ("accounts.csv", "user_id,account\n1,one\n")]);
    let core = core(pipeline::Enrichments::from_dir(dir.path(), pipeline::enrichments::lookup::TableBudget::local()).unwrap());
    let p = pipeline_of(&core, &purchase(&["SKU-1"]));
    assert_eq!(p["lookup"], json!({"account": {"account": "one"}, "products": [{"brand": "Acme"}]}));
}

/// Each of several lookups reads only its own event types (the types are tested once for
/// all of them, then by each against its own list), and one without a list reads every type.
#[test]
fn several_lookups_each_read_their_own_event_types() {
    let products = lookup_file("products", json!({"table": "products.csv", "key": "items[].sku", "columns": ["brand"], "event_types": ["purchase"]}), false);
    let accounts = lookup_file("account", json!({"table": "accounts.csv", "key": "user_id", "event_types": ["pageview", "identify"]}), false);
    let everyone = lookup_file("everyone", json!({"table": "everyone.csv", "key": "user_id"}), false);
    let both_typed = [("products.json", products.as_str()), ("accounts.json", &accounts), ("products.csv", PRODUCTS_CSV), ("accounts.csv", "user_id,account\n1,one\n")];
    let mut with_untyped = both_typed.to_vec();
    with_untyped.extend([("everyone.json", everyone.as_str()), ("everyone.csv", "user_id,seen\n1,yes\n")]);
    for (files, untyped) in [(both_typed.to_vec(), false), (with_untyped, true)] {
        let dir = dir_with(&files);
        let core = core(pipeline::Enrichments::from_dir(dir.path(), pipeline::enrichments::lookup::TableBudget::local()).unwrap());
        let untyped_row = |mut expected: Value| {
            if untyped {
                expected.as_object_mut().unwrap().insert("everyone".into(), json!({"seen": "yes"}));
            }
            expected
        };
        let p = pipeline_of(&core, &purchase(&["SKU-1"]));
        assert_eq!(p["lookup"], untyped_row(json!({"products": [{"brand": "Acme"}]})), "a purchase: products only");
        let p = pipeline_of(&core, r#"{"event_type":"pageview","user_id":1}"#);
        assert_eq!(p["lookup"], untyped_row(json!({"account": {"account": "one"}})), "a pageview: the account only");
        let p = pipeline_of(&core, r#"{"event_type":"click","user_id":1,"element_id":"b","page_url":"https://a.com/"}"#);
        assert_eq!(p.get("lookup").cloned(), untyped.then(|| json!({"everyone": {"seen": "yes"}})), "a click: none of the typed ones");
    }
}

#[test]
fn a_required_lookup_that_misses_is_an_enrichment_failure_bad_row() {
    let core = products(json!({}), true);
    assert!(matches!(outcome(&core, &purchase(&["SKU-1", "SKU-2"])), Outcome::Event(_)));
    let Outcome::Bad(bad) = outcome(&core, &purchase(&["SKU-1", "SKU-404"])) else { panic!("a bad row") };
    assert_eq!(bad.kind, BadRowType::EnrichmentFailure);
    assert_eq!(bad.errors.len(), 1);
    assert_eq!((bad.errors[0].path.as_str(), bad.errors[0].keyword.as_str()), ("/items/1/sku", "lookup"));
    assert!(bad.errors[0].message.contains("\"SKU-404\" is not in the table products"), "{}", bad.errors[0].message);
    // Other event types have no items: a required lookup fails there too unless its
    // event types are chosen.
    let Outcome::Bad(bad) = outcome(&core, r#"{"event_type":"pageview","user_id":1}"#) else { panic!("a bad row") };
    assert_eq!(bad.errors[0].path, "/items");
    let core = products(json!({"event_types": ["purchase"]}), true);
    assert!(matches!(outcome(&core, r#"{"event_type":"pageview","user_id":1}"#), Outcome::Event(_)));
    // With a default, a miss is no failure.
    let core = products(json!({"default": {"category": "unknown"}}), true);
    assert!(matches!(outcome(&core, &purchase(&["SKU-404"])), Outcome::Event(_)));
}

#[test]
fn failures_of_several_enrichments_are_all_listed() {
    let files = [
        ("plans.json", lookup_file("plans", json!({"table": "plans.ndjson", "key": "properties.plan", "key_column": "plan"}), false)),
        ("campaign.json", r#"{"enrichment": "campaign", "enabled": true}"#.to_owned()),
    ];
    let core = core(load(&[(files[0].0, &files[0].1), (files[1].0, &files[1].1), ("plans.ndjson", PLANS_NDJSON)]).unwrap());
    let data = r#"{"event_type":"pageview","user_id":1,"page":{"url":"https://a.com/?utm_source=%C0"},"properties":{"plan":1.5}}"#;
    let p = pipeline_of(&core, data);
    let errors = p["enrichment_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{p}");
    assert_eq!((errors[0]["enrichment"].as_str(), errors[1]["enrichment"].as_str()), (Some("campaign"), Some("lookup")));
}

#[test]
fn a_100000_row_table_loads_and_answers() {
    let mut csv = String::from("sku,category,brand\n");
    for i in 0..100_000 {
        csv.push_str(&format!("SKU-{i:06},category-{},brand-{}\n", i % 97, i % 13));
    }
    let file = lookup_file("products", json!({"table": "products.csv", "key": "items[].sku"}), false);
    let enrichments = load(&[("products.json", &file), ("products.csv", &csv)]).unwrap();
    assert!(enrichments.described()[0].contains("100000 rows"), "{:?}", enrichments.described());
    let core = core(enrichments);
    let p = pipeline_of(&core, &purchase(&["SKU-099999", "SKU-000042"]));
    assert_eq!(p["lookup"]["products"], json!([{"category": "category-89", "brand": "brand-3"}, {"category": "category-42", "brand": "brand-3"}]));
}
