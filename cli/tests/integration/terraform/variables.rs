//! (e) tfvars: only declared variables, of their types, passing their validations.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use hcl::eval::{Context, Evaluate};
use hcl::{Expression, Value};

use super::stack::*;

pub struct Declared {
    pub type_expr: Expression,
    pub default: Option<Expression>,
    /// (condition, error message) of each validation block, in order.
    pub validations: Vec<(Expression, String)>,
}

/// The root module's variables.
pub fn declared_variables() -> BTreeMap<String, Declared> {
    declared_variables_of(&Module::load(&terraform()))
}

/// A module's variables.
pub fn declared_variables_of(module: &Module) -> BTreeMap<String, Declared> {
    module
        .blocks("variable")
        .map(|block| {
            let name = block.labels()[0].as_str().to_owned();
            let get = |key: &str| block.body().attributes().find(|a| a.key() == key).map(|a| a.expr().clone());
            let validations = block
                .body()
                .blocks()
                .filter(|b| b.identifier() == "validation")
                .map(|v| (attr(v, "condition").clone(), text(attr(v, "error_message")).unwrap_or_default().to_owned()))
                .collect();
            let type_expr = get("type").unwrap_or_else(|| panic!("variable {name} declares no type"));
            (name, Declared { type_expr, default: get("default"), validations })
        })
        .collect()
}

pub fn type_name(type_expr: &Expression) -> String {
    match type_expr {
        Expression::Variable(v) => v.as_str().to_owned(),
        Expression::FuncCall(call) => call.name.name.as_str().to_owned(),
        other => panic!("unexpected type expression {other:?}"),
    }
}

pub fn has_type(value: &Value, type_name: &str) -> bool {
    match (type_name, value) {
        (_, Value::Null) => true,
        ("number", Value::Number(_)) | ("string", Value::String(_)) | ("bool", Value::Bool(_)) => true,
        ("list" | "set" | "tuple", Value::Array(_)) | ("map" | "object", Value::Object(_)) => true,
        ("any", _) => true,
        _ => false,
    }
}
/// Whether a validation's condition holds with `var` set to `values`.
pub fn validation_holds(condition: &Expression, values: &hcl::Map<String, Value>) -> Result<bool, String> {
    let mut ctx = terraform_functions();
    ctx.declare_var("var", Value::Object(values.clone()));
    let mut condition = condition.clone();
    resolve_can(&mut condition, &ctx);
    match condition.evaluate(&ctx) {
        Ok(Value::Bool(holds)) => Ok(holds),
        Ok(other) => Err(format!("the condition is {other}, not a bool")),
        Err(e) => Err(e.to_string()),
    }
}

/// Everything wrong with a set of tfvars files applied in order (later files win), as
/// `terraform apply -var-file=... -var-file=...` would see them.
pub fn tfvars_problems(files: &[&Path]) -> Vec<String> {
    let declared = declared_variables();
    let empty = Context::new();
    let mut problems = Vec::new();
    let mut values: BTreeMap<String, Value> = BTreeMap::new();
    for file in files {
        for attribute in parse_file(file).attributes() {
            let name = attribute.key();
            let at = format!("{}: {name}", file.display());
            let Some(declaration) = declared.get(name) else {
                problems.push(format!("{at} is not declared in terraform/variables.tf"));
                continue;
            };
            match attribute.expr().evaluate(&empty) {
                Ok(value) if has_type(&value, &type_name(&declaration.type_expr)) => {
                    values.insert(name.to_owned(), value);
                }
                Ok(value) => problems.push(format!("{at} = {value} is not a {}", type_name(&declaration.type_expr))),
                Err(e) => problems.push(format!("{at}: {e}")),
            }
        }
    }
    let mut all = hcl::Map::new();
    for (name, declaration) in &declared {
        let value = match (values.get(name), &declaration.default) {
            (Some(value), _) => value.clone(),
            (None, Some(default)) => default.evaluate(&empty).unwrap(),
            (None, None) => {
                problems.push(format!("{name} has no default and is not set"));
                Value::Null
            }
        };
        all.insert(name.clone(), value);
    }
    for (name, declaration) in &declared {
        for (condition, message) in &declaration.validations {
            match validation_holds(condition, &all) {
                Ok(true) => {}
                Ok(false) => problems.push(format!("{name}: {message}")),
                Err(e) => problems.push(format!("{name}: the validation cannot be evaluated: {e}")),
            }
        }
    }
    problems
}

pub fn plan_tfvars(dir: &Path, args: &[&str]) -> PathBuf {
    let out = dir.join(format!("plan-{}.tfvars", args.join("_").replace("--", "")));
    let output =
        Command::new(env!("CARGO_BIN_EXE_pipeline")).arg("plan").args(args).arg("--out").arg(&out).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    out
}

#[test]
pub fn the_environments_tfvars_set_only_declared_variables_that_validate() {
    for env in ["dev", "prod"] {
        let path = terraform().join(format!("envs/{env}.tfvars"));
        let problems = tfvars_problems(&[&path]);
        assert!(problems.is_empty(), "envs/{env}.tfvars:\n{}", problems.join("\n"));
    }
}

#[test]
pub fn pipeline_plans_tfvars_set_only_declared_variables_that_validate() {
    let dir = tempfile::tempdir().unwrap();
    let plans = [
        plan_tfvars(dir.path(), &["--rate", "100000", "--event-bytes", "600", "--query-days", "7"]),
        plan_tfvars(
            dir.path(),
            &["--rate", "1000", "--event-bytes", "600", "--region", "eu-central-1", "--environment", "dev"],
        ),
        // Over every default quota: streams capped at the stack's 50, the index at its 1,024 shards.
        plan_tfvars(dir.path(), &["--rate", "1365333", "--event-bytes", "2000", "--region", "ap-south-1", "--type-queries"]),
        plan_tfvars(dir.path(), &["--rate", "1", "--event-bytes", "1023599", "--batch-size", "1"]),
        // Every lever and need: index kept, some types, spikes, a mean under the peak, KPL, PITR.
        plan_tfvars(
            dir.path(),
            &[
                "--rate", "50000", "--mean-rate", "20000", "--burst", "2", "--event-bytes", "900", "--query-days", "14",
                "--query-event-types", "pageview,purchase", "--type-queries", "--pitr", "--aggregate",
            ],
        ),
        plan_tfvars(dir.path(), &["--rate", "100000", "--event-bytes", "600", "--burst", "8"]),
    ];
    for plan in &plans {
        let problems = tfvars_problems(&[plan]);
        assert!(
            problems.is_empty(),
            "{}:\n{}\n{}",
            plan.display(),
            problems.join("\n"),
            fs::read_to_string(plan).unwrap()
        );
    }
    // Applied after prod's own file, as docs/DEPLOY.md suggests.
    let prod = terraform().join("envs/prod.tfvars");
    let problems = tfvars_problems(&[&prod, &plans[0]]);
    assert!(problems.is_empty(), "envs/prod.tfvars + plan:\n{}", problems.join("\n"));
    let names: BTreeSet<String> = parse_file(&plans[0]).attributes().map(|a| a.key().to_owned()).collect();
    for expected in [
        "shard_count",
        "processor_parallelization_factor",
        "archive_stream_count",
        "event_ttl_days",
        "events_gsi_enabled",
        "events_table_billing_mode",
        "events_table_max_write_capacity",
        "table_autoscaling_target_percent",
        "table_point_in_time_recovery",
        "query_event_types",
    ] {
        assert!(names.contains(expected), "the plan's tfvars set {expected}");
    }
    assert!(!names.contains("gsi_write_shards"), "GSI_WRITE_SHARDS only where the index is on");
    let indexed: BTreeSet<String> = parse_file(&plans[2]).attributes().map(|a| a.key().to_owned()).collect();
    assert!(indexed.contains("gsi_write_shards"), "--type-queries keeps the index and sets its shards");
}

#[test]
pub fn the_tfvars_check_catches_undeclared_mistyped_and_invalid_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.tfvars");
    fs::write(
        &path,
        "environment = \"Prod\"\nshard_count = \"many\"\nshards = 3\nstream_mode = \"PROVISIONED\"\n\
         processor_parallelization_factor = 2\nprocessor_reserved_concurrency = 3\n",
    )
    .unwrap();
    let problems = tfvars_problems(&[&path]).join("\n");
    assert!(problems.contains("shards is not declared"), "{problems}");
    assert!(problems.contains("shard_count = \"many\" is not a number"), "{problems}");
    assert!(problems.contains("environment: environment must be 2-10 lowercase"), "{problems}");
    assert!(
        problems.contains("processor_reserved_concurrency: processor_reserved_concurrency must be null or at least"),
        "{problems}"
    );
}

