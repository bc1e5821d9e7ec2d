//! (j) The cost levers reach the tables: billing mode with auto scaling, table class,
//! point-in-time recovery, the per-type index (on only where asked, with the key names and
//! the index name the code writes and reads), and the TTL the processor writes.

use hcl::eval::Evaluate;
use hcl::{Expression, Value};

use super::stack::*;

fn storage() -> Module {
    Module::load(&terraform().join("modules/storage"))
}

fn dynamic<'a>(block: &'a hcl::Block, label: &str) -> &'a hcl::Block {
    block
        .body()
        .blocks()
        .find(|b| b.identifier() == "dynamic" && b.labels().first().is_some_and(|l| l.as_str() == label))
        .unwrap_or_else(|| panic!("no dynamic {label}"))
}

#[test]
fn every_table_lever_is_a_variable_wired_into_both_tables() {
    let root = Module::load(&terraform());
    let call = root.block("module", &["storage"]);
    for (argument, variable) in [
        ("point_in_time_recovery", "var.table_point_in_time_recovery"),
        ("events_gsi_enabled", "var.events_gsi_enabled"),
        ("events_billing_mode", "var.events_table_billing_mode"),
        ("aggregates_billing_mode", "var.aggregates_table_billing_mode"),
        ("events_table_class", "var.events_table_class"),
        ("aggregates_table_class", "var.aggregates_table_class"),
        ("autoscaling_target_percent", "var.table_autoscaling_target_percent"),
    ] {
        assert!(is_reference(attr(call, argument), variable), "module.storage.{argument} = {variable}");
    }
    for table in ["events", "aggregates"] {
        let Expression::Object(capacity) = attr(call, &format!("{table}_capacity")) else { panic!("{table}_capacity") };
        for (field, bound) in [("min_read", "min_read"), ("max_read", "max_read"), ("min_write", "min_write"), ("max_write", "max_write")] {
            let (kind, unit) = bound.split_once('_').unwrap();
            let value = capacity.iter().find(|(k, _)| key_name(k) == Some(field)).unwrap().1;
            assert!(is_reference(value, &format!("var.{table}_table_{kind}_{unit}_capacity")), "{table}.{field}");
        }
    }

    let storage = storage();
    for table in ["events", "aggregates"] {
        let block = storage.block("resource", &["aws_dynamodb_table", table]);
        assert!(is_reference(attr(block, "billing_mode"), &format!("var.{table}_billing_mode")), "{table}");
        assert!(is_reference(attr(block, "table_class"), &format!("var.{table}_table_class")), "{table}");
        assert!(is_reference(attr(nested(block, "point_in_time_recovery"), "enabled"), "var.point_in_time_recovery"), "{table}");
        let ttl = nested(block, "ttl");
        assert_eq!((text(attr(ttl, "attribute_name")), attr(ttl, "enabled")), (Some("ttl"), &Expression::Bool(true)), "{table}");
        // Auto scaling owns provisioned capacity once the table exists.
        let ignored = format!("{:?}", attr(nested(block, "lifecycle"), "ignore_changes"));
        assert!(ignored.contains("read_capacity") && ignored.contains("write_capacity"), "{table}: {ignored}");
    }
    let policy = storage.block("resource", &["aws_appautoscaling_policy", "tables"]);
    assert_eq!(text(attr(policy, "policy_type")), Some("TargetTrackingScaling"));
    let tracking = nested(policy, "target_tracking_scaling_policy_configuration");
    assert!(is_reference(attr(tracking, "target_value"), "var.autoscaling_target_percent"));
}

#[test]
fn only_provisioned_tables_are_auto_scaled_between_their_bounds() {
    let storage = storage();
    let capacity = |min_read: i64, max_read: i64, min_write: i64, max_write: i64| {
        Value::from_iter([
            ("min_read".to_owned(), Value::from(min_read)),
            ("max_read".to_owned(), Value::from(max_read)),
            ("min_write".to_owned(), Value::from(min_write)),
            ("max_write".to_owned(), Value::from(max_write)),
        ])
    };
    let scaled = |events: &str, aggregates: &str| {
        let mut vars = hcl::Map::new();
        vars.insert("name_prefix".to_owned(), Value::from("ep-prod"));
        vars.insert("events_billing_mode".to_owned(), Value::from(events));
        vars.insert("aggregates_billing_mode".to_owned(), Value::from(aggregates));
        vars.insert("events_table_class".to_owned(), Value::from("STANDARD"));
        vars.insert("aggregates_table_class".to_owned(), Value::from("STANDARD"));
        vars.insert("events_capacity".to_owned(), capacity(5, 100, 1_000, 150_000));
        vars.insert("aggregates_capacity".to_owned(), capacity(5, 50, 100, 5_000));
        vars.insert("events_max_write_request_units".to_owned(), Value::Null);
        vars.insert("aggregates_max_write_request_units".to_owned(), Value::Null);
        let mut ctx = terraform_functions();
        ctx.declare_var("var", Value::Object(vars.clone()));
        let tables = storage.local("tables").evaluate(&ctx).unwrap();
        let mut locals = hcl::Map::new();
        locals.insert("tables".to_owned(), tables);
        ctx.declare_var("local", Value::Object(locals));
        storage.local("scaled").evaluate(&ctx).unwrap_or_else(|e| panic!("local.scaled: {e}"))
    };
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert!(keys(&scaled("PAY_PER_REQUEST", "PAY_PER_REQUEST")).is_empty(), "on-demand tables are not scaled");
    let one = scaled("PROVISIONED", "PAY_PER_REQUEST");
    assert_eq!(keys(&one), ["events-read", "events-write"]);
    let write = one.as_object().unwrap()["events-write"].as_object().unwrap();
    let number = |k: &str| write[k].as_number().and_then(|n| n.as_i64());
    assert_eq!((number("min"), number("max")), (Some(1_000), Some(150_000)));
    assert_eq!(write["metric"].as_str(), Some("DynamoDBWriteCapacityUtilization"));
    assert_eq!(keys(&scaled("PROVISIONED", "PROVISIONED")).len(), 4);
    let target = storage.block("resource", &["aws_appautoscaling_target", "tables"]);
    assert!(is_reference(attr(target, "for_each"), "local.scaled"));
    assert_eq!(text(attr(target, "scalable_dimension")), Some("dynamodb:table:${each.value.scalable}"));
}

#[test]
fn the_per_type_index_exists_only_where_enabled_with_the_names_the_code_uses() {
    let storage = storage();
    let events = storage.block("resource", &["aws_dynamodb_table", "events"]);
    let index = dynamic(events, "global_secondary_index");
    let Expression::Conditional(on) = attr(index, "for_each") else { panic!("the index is conditional") };
    assert!(is_reference(&on.cond_expr, "var.events_gsi_enabled"));
    let attributes = dynamic(events, "attribute");
    let Expression::Conditional(keys) = attr(attributes, "for_each") else { panic!("its key attributes are conditional") };
    assert!(is_reference(&keys.cond_expr, "var.events_gsi_enabled"));
    let content = nested(index, "content");
    let (hash, range) = (text(attr(content, "hash_key")).unwrap(), text(attr(content, "range_key")).unwrap());

    // aws/src/event_item.rs writes these attributes and reads the index by this name.
    let code = std::fs::read_to_string(repo().join("aws/src/event_item.rs")).unwrap();
    for name in [hash, range] {
        assert!(code.contains(&format!("\"{name}\"")), "the processor writes {name}");
    }
    let name_var = storage.block("variable", &["events_gsi_name"]);
    let index_name = text(attr(name_var, "default")).unwrap();
    assert!(code.contains(&format!("pub const EVENTS_INDEX: &str = \"{index_name}\";")), "the query side reads index {index_name}");

    // Off by default (DESIGN section 6), and the query role may read the index only where it is on.
    let root = Module::load(&terraform());
    assert_eq!(attr(root.block("variable", &["events_gsi_enabled"]), "default"), &Expression::Bool(false));
    let query = root.block("module", &["query"]);
    let Expression::Conditional(name) = attr(query, "events_gsi_name") else { panic!("module.query.events_gsi_name") };
    assert!(is_reference(&name.cond_expr, "var.events_gsi_enabled") && name.false_expr == Expression::Null);
}

#[test]
fn the_ttl_the_processor_writes_is_the_environments_query_days() {
    let root = Module::load(&terraform());
    assert!(is_reference(attr(root.block("module", &["processor"]), "event_ttl_days"), "var.event_ttl_days"));
    let processor = Module::load(&terraform().join("modules/processor"));
    let source = format!("{:?}", processor.local("environment"));
    assert!(source.contains("EVENT_TTL_DAYS") && source.contains("event_ttl_days"), "{source}");
    for (env, days, pitr) in [("dev", 7, false), ("prod", 7, true)] {
        let tfvars = parse_file(&terraform().join(format!("envs/{env}.tfvars")));
        let get = |name: &str| tfvars.attributes().find(|a| a.key() == name).map(|a| a.expr().clone());
        assert_eq!(get("event_ttl_days"), Some(Expression::from(days)), "envs/{env}.tfvars: per-user queries kept {days} days");
        assert_eq!(get("table_point_in_time_recovery"), Some(Expression::Bool(pitr)), "envs/{env}.tfvars");
    }
}
