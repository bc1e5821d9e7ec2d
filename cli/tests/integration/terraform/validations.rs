//! (h) Every variable validation of the stack, held at its edges: a value just inside passes,
//! a value just outside fails, evaluated with hcl-rs's evaluator and the Terraform functions
//! the conditions use (terraform cannot run here). A rule without an entry below fails the
//! completeness check, so a new rule comes with its boundaries.

use std::collections::{BTreeMap, BTreeSet};

use hcl::eval::{Context, Evaluate};
use hcl::Value;

use super::stack::*;
use super::variables::{Declared, declared_variables_of, validation_holds};

/// One validation rule's boundaries: `module` ("" for the root), the variable, the rule's
/// index among its validation blocks, values (HCL) that must pass and values that must fail,
/// and other variables' values the rule reads.
struct Edge {
    module: &'static str,
    variable: &'static str,
    rule: usize,
    inside: &'static [&'static str],
    outside: &'static [&'static str],
    with: &'static [(&'static str, &'static str)],
}

const fn edge(variable: &'static str, inside: &'static [&'static str], outside: &'static [&'static str]) -> Edge {
    Edge { module: "", variable, rule: 0, inside, outside, with: &[] }
}

const EDGES: &[Edge] = &[
    edge("project", &[r#""ab""#, r#""a2345678901234567890123x""#, r#""event-pipeline""#, r#""a-b""#], &[
        r#""a""#,
        r#""a2345678901234567890123xy""#,
        r#""ab-""#,
        r#""1ab""#,
        r#""Ab""#,
        r#""a_b""#,
    ]),
    Edge { rule: 1, ..edge("project", &[r#""xn-a""#, r#""sthree""#, r#""amzn-s3-demo""#], &[r#""xn--a""#, r#""sthree-x""#, r#""amzn-s3-demo-x""#]) },
    edge("environment", &[r#""ab""#, r#""a123456789""#], &[r#""a""#, r#""a1234567890""#, r#""Prod""#, r#""1ab""#, r#""a-b""#]),
    edge("aws_region", &[r#""us-east-1""#, r#""us-gov-west-1""#, r#""ap-southeast-5""#], &[
        r#""us-east""#,
        r#""US-EAST-1""#,
        r#""useast1""#,
        r#""u-east-1""#,
        r#""""#,
    ]),
    edge("stream_mode", &[r#""ON_DEMAND""#, r#""PROVISIONED""#], &[r#""on_demand""#, r#""""#]),
    edge("shard_count", &["1"], &["0"]),
    edge("stream_retention_hours", &["24", "8760"], &["23", "8761"]),
    edge("event_ttl_days", &["1"], &["0"]),
    edge("gsi_write_shards", &["1", "1024"], &["0", "1025"]),
    edge("events_gsi_projection_type", &[r#""KEYS_ONLY""#, r#""ALL""#], &[r#""INCLUDE""#]),
    Edge { module: "modules/storage", ..edge("events_gsi_projection_type", &[r#""KEYS_ONLY""#, r#""ALL""#], &[r#""INCLUDE""#]) },
    edge("archive_bucket_name", &[r#""""#, r#""abc""#, r#""a.b-c1""#, "\"a234567890123456789012345678901234567890123456789012345678901z3\""], &[
        r#""ab""#,
        "\"a2345678901234567890123456789012345678901234567890123456789012z4\"",
        r#""Abc""#,
        r#""abc-""#,
        r#"".abc""#,
        r#""a_bc""#,
    ]),
    edge("bad_rows_prefix", &[r#""bad-rows/""#, r#""b/""#], &[r#""bad-rows""#, r#""/bad/""#, r#""bad/rows/""#, r#""-bad/""#]),
    edge("archive_transition_ia_days", &["30"], &["29"]),
    Edge { with: &[("archive_transition_ia_days", "30")], ..edge("archive_transition_glacier_days", &["60", "365"], &["59", "31"]) },
    Edge {
        with: &[("archive_transition_glacier_days", "90")],
        ..edge("archive_expiration_days", &["0", "91"], &["90", "1"])
    },
    edge("archive_stream_count", &["1", "50"], &["0", "51"]),
    edge("archive_buffering_size_mb", &["64", "128"], &["63", "129"]),
    edge("archive_buffering_interval_seconds", &["60", "900"], &["59", "901"]),
    edge("lambda_tracing_mode", &[r#""PassThrough""#, r#""Active""#], &[r#""active""#]),
    edge("log_retention_days", &["1", "14", "3653"], &["0", "2", "15", "3654"]),
    edge("processor_memory_mb", &["128", "10240"], &["127", "10241"]),
    edge("processor_timeout_seconds", &["3", "900"], &["2", "901"]),
    Edge {
        with: &[("stream_mode", r#""PROVISIONED""#), ("shard_count", "128"), ("processor_parallelization_factor", "2")],
        ..edge("processor_reserved_concurrency", &["256", "null", "1000"], &["255", "1"])
    },
    edge("processor_batch_size", &["1", "10000"], &["0", "10001"]),
    edge("processor_batching_window_seconds", &["0", "300"], &["-1", "301"]),
    edge("processor_parallelization_factor", &["1", "10"], &["0", "11"]),
    edge("processor_maximum_retry_attempts", &["0", "10000"], &["-1", "10001"]),
    Edge { with: &[("stream_retention_hours", "8760")], ..edge("processor_maximum_record_age_seconds", &["60", "604800"], &["59", "604801"]) },
    Edge {
        rule: 1,
        with: &[("stream_retention_hours", "24")],
        ..edge("processor_maximum_record_age_seconds", &["86399", "60"], &["86400", "604800"])
    },
    edge("aggregator_memory_mb", &["128", "10240"], &["127", "10241"]),
    edge("aggregator_timeout_seconds", &["15", "900"], &["14", "901"]),
    edge("query_memory_mb", &["128", "10240"], &["127", "10241"]),
    edge("query_timeout_seconds", &["1", "29"], &["0", "30"]),
    edge("api_stage_name", &[r#""live""#, r#""v_1-a""#], &[r#""""#, r#""a b""#, r#""a/b""#]),
    edge("api_throttle_rate_limit", &["1"], &["0"]),
    edge("api_throttle_burst_limit", &["1", "5000"], &["0"]),
    edge("api_quota_limit_per_day", &["null", "1"], &["0"]),
    edge("api_execution_logging_level", &[r#""OFF""#, r#""ERROR""#, r#""INFO""#], &[r#""DEBUG""#]),
    edge("alarm_email_addresses", &["[]", r#"["ops@example.com", "a.b+c@x.io"]"#], &[r#"["ops"]"#, r#"["ops@example.com", "a@b"]"#, r#"["a b@c.d"]"#]),
    edge("iterator_age_alarm_threshold_ms", &["1000"], &["999"]),
    Edge {
        with: &[("archive_buffering_interval_seconds", "300")],
        ..edge("firehose_freshness_alarm_threshold_seconds", &["301"], &["300"])
    },
    Edge { module: "modules/stream", ..edge("stream_mode", &[r#""ON_DEMAND""#, r#""PROVISIONED""#], &[r#""PROVISIONED ""#]) },
    edge("query_event_types", &["[]", r#"["pageview", "purchase"]"#, r#"["a_1"]"#], &[r#"["Pageview"]"#, r#"["pageview", "page view"]"#, r#"["1click"]"#]),
    edge("events_table_class", &[r#""STANDARD""#, r#""STANDARD_INFREQUENT_ACCESS""#], &[r#""INFREQUENT_ACCESS""#]),
    edge("aggregates_table_class", &[r#""STANDARD""#, r#""STANDARD_INFREQUENT_ACCESS""#], &[r#""standard""#]),
    edge("events_table_billing_mode", &[r#""PAY_PER_REQUEST""#, r#""PROVISIONED""#], &[r#""ON_DEMAND""#]),
    edge("aggregates_table_billing_mode", &[r#""PAY_PER_REQUEST""#, r#""PROVISIONED""#], &[r#""ON_DEMAND""#]),
    edge("events_table_min_write_capacity", &["1"], &["0"]),
    Edge { with: &[("events_table_min_write_capacity", "100")], ..edge("events_table_max_write_capacity", &["100", "200000"], &["99"]) },
    edge("events_table_min_read_capacity", &["1"], &["0"]),
    Edge { with: &[("events_table_min_read_capacity", "10")], ..edge("events_table_max_read_capacity", &["10"], &["9"]) },
    edge("aggregates_table_min_write_capacity", &["1"], &["0"]),
    Edge { with: &[("aggregates_table_min_write_capacity", "50")], ..edge("aggregates_table_max_write_capacity", &["50"], &["49"]) },
    edge("aggregates_table_min_read_capacity", &["1"], &["0"]),
    Edge { with: &[("aggregates_table_min_read_capacity", "5")], ..edge("aggregates_table_max_read_capacity", &["5"], &["4"]) },
    edge("table_autoscaling_target_percent", &["20", "90"], &["19", "91"]),
];

fn value(hcl_literal: &str) -> Value {
    let body = hcl::parse(&format!("v = {hcl_literal}\n")).unwrap_or_else(|e| panic!("{hcl_literal}: {e}"));
    body.attributes().next().unwrap().expr().evaluate(&Context::new()).unwrap()
}

fn module_variables(module: &str) -> BTreeMap<String, Declared> {
    let dir = if module.is_empty() { terraform() } else { terraform().join(module) };
    declared_variables_of(&Module::load(&dir))
}

/// The values a rule is evaluated with: defaults (null where there is none), `with`, the candidate.
fn values_for(declared: &BTreeMap<String, Declared>, edge: &Edge, candidate: &str) -> hcl::Map<String, Value> {
    let mut values: hcl::Map<String, Value> = declared
        .iter()
        .map(|(name, d)| (name.clone(), d.default.as_ref().map_or(Value::Null, |e| e.evaluate(&Context::new()).unwrap())))
        .collect();
    for (name, literal) in edge.with {
        assert!(declared.contains_key(*name), "{} {}: with {name}: not declared", edge.module, edge.variable);
        values.insert((*name).to_owned(), value(literal));
    }
    values.insert(edge.variable.to_owned(), value(candidate));
    values
}

#[test]
fn every_validation_passes_just_inside_and_fails_just_outside() {
    let mut problems = Vec::new();
    let mut modules: BTreeMap<&str, BTreeMap<String, Declared>> = BTreeMap::new();
    for edge in EDGES {
        let declared = modules.entry(edge.module).or_insert_with(|| module_variables(edge.module));
        let at = format!("{}variable {} rule {}", if edge.module.is_empty() { String::new() } else { format!("{} ", edge.module) }, edge.variable, edge.rule);
        let Some(rule) = declared.get(edge.variable).and_then(|d| d.validations.get(edge.rule)) else {
            problems.push(format!("{at}: no such validation"));
            continue;
        };
        for (candidates, expected) in [(edge.inside, true), (edge.outside, false)] {
            assert!(!candidates.is_empty(), "{at}: values on both sides");
            for candidate in candidates {
                match validation_holds(&rule.0, &values_for(declared, edge, candidate)) {
                    Ok(holds) if holds == expected => {}
                    Ok(holds) => problems.push(format!("{at}: {candidate} {}, it should {}", pass(holds), if expected { "pass" } else { "fail" })),
                    Err(e) => problems.push(format!("{at}: {candidate}: cannot be evaluated: {e}")),
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

fn pass(holds: bool) -> &'static str {
    if holds { "passes" } else { "fails" }
}

#[test]
fn every_validation_rule_of_the_stack_has_its_edges_listed() {
    let listed: BTreeSet<(String, String, usize)> =
        EDGES.iter().map(|e| (e.module.to_owned(), e.variable.to_owned(), e.rule)).collect();
    let mut unlisted = Vec::new();
    for module in all_modules() {
        let name = module.name().trim_start_matches("terraform").trim_start_matches('/').to_owned();
        for (variable, declared) in declared_variables_of(&module) {
            for rule in 0..declared.validations.len() {
                if !listed.contains(&(name.clone(), variable.clone(), rule)) {
                    unlisted.push(format!("{} variable {variable} rule {rule}", if name.is_empty() { "terraform/" } else { &name }));
                }
            }
        }
    }
    assert!(unlisted.is_empty(), "validations without boundary values in EDGES:\n{}", unlisted.join("\n"));
}
