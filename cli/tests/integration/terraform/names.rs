//! (i) Resource names stay within AWS's limits for every project, environment and region the
//! variables accept: the longest of each (24 and 10 characters, a 14-character region) and a
//! few ordinary ones, evaluated from the modules' own name expressions.

use hcl::eval::Evaluate;
use hcl::{Expression, Value};

use super::stack::*;

/// (project, environment, region, account id): the longest the validations accept and two
/// ordinary ones.
const DEPLOYMENTS: [(&str, &str, &str, &str); 3] = [
    ("a2345678901234567890123x", "a123456789", "ap-southeast-5", "123456789012"),
    ("event-pipeline", "prod", "us-east-1", "123456789012"),
    ("ep", "dev", "eu-central-1", "000000000001"),
];

/// Evaluates `expr` in `module` with `var.*` and `local.*` (locals evaluated on demand, by name).
fn evaluate(module: &Module, expr: &Expression, vars: &hcl::Map<String, Value>, fixed_locals: &[(&str, Value)]) -> Value {
    let mut locals = hcl::Map::new();
    for (name, value) in fixed_locals {
        locals.insert((*name).to_owned(), value.clone());
    }
    // Locals refer to each other: evaluate each until all that can be are (a few passes).
    let names: Vec<String> = module.blocks("locals").flat_map(|b| b.body().attributes().map(|a| a.key().to_owned())).collect();
    for _ in 0..4 {
        for name in &names {
            if locals.contains_key(name) {
                continue;
            }
            let mut ctx = terraform_functions();
            ctx.declare_var("var", Value::Object(vars.clone()));
            ctx.declare_var("local", Value::Object(locals.clone()));
            if let Ok(value) = module.local(name).evaluate(&ctx) {
                locals.insert(name.clone(), value);
            }
        }
    }
    let mut ctx = terraform_functions();
    ctx.declare_var("var", Value::Object(vars.clone()));
    ctx.declare_var("local", Value::Object(locals));
    expr.evaluate(&ctx).unwrap_or_else(|e| panic!("{}: cannot evaluate {expr}: {e}", module.name()))
}

fn string(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("{value} is not a string")).to_owned()
}

#[test]
fn names_fit_aws_limits_for_every_accepted_deployment() {
    let mut problems = Vec::new();
    for (project, environment, region, account) in DEPLOYMENTS {
        let prefix = format!("{project}-{environment}");
        let name_vars = |extra: &[(&str, Value)]| {
            let mut vars = hcl::Map::new();
            vars.insert("name_prefix".to_owned(), Value::from(prefix.clone()));
            vars.insert("bucket_name".to_owned(), Value::from(""));
            vars.insert("stream_count".to_owned(), Value::from(50));
            vars.insert("events_prefix".to_owned(), Value::from("events/"));
            for (k, v) in extra {
                vars.insert((*k).to_owned(), v.clone());
            }
            vars
        };
        let aws = [("account_id", Value::from(account)), ("region", Value::from(region)), ("partition", Value::from("aws"))];

        // S3: 3-63 lowercase letters, digits, dots and hyphens (S3 user guide, bucket naming rules).
        let archive = Module::load(&terraform().join("modules/archive"));
        let bucket = string(&evaluate(&archive, archive.local("bucket_name"), &name_vars(&[]), &aws));
        let valid = regex::Regex::new(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$").unwrap();
        if !valid.is_match(&bucket) {
            problems.push(format!("bucket {bucket:?} ({} characters) is not a valid S3 bucket name", bucket.len()));
        }
        let descriptive = format!("{prefix}-archive-{account}-{region}");
        if descriptive.len() <= 63 && bucket != descriptive {
            problems.push(format!("bucket {bucket:?}: the descriptive name {descriptive:?} fits and is expected"));
        }
        // Firehose delivery streams: 64 (Firehose API reference, DeliveryStreamName).
        let streams = evaluate(&archive, archive.local("stream_names"), &name_vars(&[]), &aws);
        for stream in streams.as_array().unwrap() {
            check(&mut problems, "Firehose delivery stream", &string(stream), 64);
        }
        check(&mut problems, "IAM role (Firehose)", &format!("{prefix}-firehose"), 64);

        // Functions, their roles (named after them: 64) and queues (80).
        for function in FUNCTIONS {
            let module = Module::load(&terraform().join("modules").join(function));
            let name = string(&evaluate(&module, module.local("function_name"), &name_vars(&[]), &aws));
            check(&mut problems, "Lambda function and its IAM role", &name, 64);
            check(&mut problems, "EventBridge rule", &name, 64);
            for suffix in ["-on-failure", "-dlq"] {
                check(&mut problems, "SQS queue", &format!("{name}{suffix}"), 80);
            }
        }
        // The API's roles and policy: IAM roles 64, policies 128.
        let api = Module::load(&terraform().join("modules/api"));
        let api_name = string(&evaluate(&api, api.local("api_name"), &name_vars(&[]), &aws));
        for role in ["aws_iam_role.kinesis", "aws_iam_role.account_logging"] {
            let (kind, label) = role.split_once('.').unwrap();
            let block = api.block("resource", &[kind, label]);
            let name = string(&evaluate(&api, attr(block, "name"), &name_vars(&[]), &[("api_name", Value::from(api_name.clone()))]));
            check(&mut problems, "IAM role", &name, 64);
        }
        let policy = api.block("resource", &["aws_iam_policy", "query_read"]);
        let name = string(&evaluate(&api, attr(policy, "name"), &name_vars(&[]), &[("api_name", Value::from(api_name.clone()))]));
        check(&mut problems, "IAM policy", &name, 128);
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

fn check(problems: &mut Vec<String>, what: &str, name: &str, limit: usize) {
    if name.chars().count() > limit {
        problems.push(format!("{what} name {name:?} is {} characters, over AWS's {limit}", name.chars().count()));
    }
}
