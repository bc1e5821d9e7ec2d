//! (b) The function artifacts are the binaries cargo-lambda builds; (c) the event source mapping.

use std::fs;

use hcl::Expression;

use super::stack::*;
// ---------------------------------------------------------------------------------------
// (b) Function artifacts
// ---------------------------------------------------------------------------------------

#[test]
fn function_artifacts_are_the_binary_names() {
    let root = Module::load(&terraform());
    for function in FUNCTIONS {
        let zip_variable = root.block("variable", &[&format!("{function}_zip_path")]);
        assert_eq!(
            text(attr(zip_variable, "default")),
            Some(format!("../target/lambda/{function}/bootstrap.zip").as_str()),
            "cargo lambda build --output-format zip writes target/lambda/<binary>/bootstrap.zip"
        );
        let call = root.block("module", &[function]);
        assert_eq!(text(attr(call, "source")), Some(format!("./modules/{function}").as_str()));
        assert!(is_reference(attr(call, "zip_path"), &format!("var.{function}_zip_path")), "{function}");

        let module = Module::load(&terraform().join("modules").join(function));
        let name = text(module.local("function_name")).unwrap_or_default();
        assert_eq!(name, format!("${{var.name_prefix}}-{function}"), "the function is named after its binary");
        let function_call = module.block("module", &["function"]);
        assert!(is_reference(attr(function_call, "function_name"), "local.function_name"), "{function}");
        assert!(is_reference(attr(function_call, "zip_path"), "var.zip_path"), "{function}");
    }

    let function = Module::load(&terraform().join("modules/function"));
    let lambda = function.block("resource", &["aws_lambda_function", "this"]);
    assert!(is_reference(attr(lambda, "filename"), "var.zip_path"));
    assert_eq!(text(attr(lambda, "handler")), Some("bootstrap"), "cargo-lambda's executable");
    assert_eq!(text(attr(lambda, "runtime")), Some("provided.al2023"));
    let Expression::Array(architectures) = attr(lambda, "architectures") else { panic!("architectures") };
    assert_eq!(architectures.iter().map(|a| text(a)).collect::<Vec<_>>(), [Some("arm64")]);

    // Each binary exists under that name; the deploy script builds all three.
    for function in FUNCTIONS {
        let cargo = fs::read_to_string(repo().join(format!("functions/{function}/Cargo.toml"))).unwrap();
        let bin = cargo.split("[[bin]]").nth(1).unwrap_or_else(|| panic!("functions/{function} declares a [[bin]]"));
        assert!(bin.lines().any(|l| l.trim() == format!("name = \"{function}\"")), "{bin}");
    }
    let deploy = fs::read_to_string(repo().join("scripts/deploy.sh")).unwrap();
    assert!(deploy.contains(&format!("functions=({})", FUNCTIONS.join(" "))), "scripts/deploy.sh builds {FUNCTIONS:?}");
}

// ---------------------------------------------------------------------------------------
// (c) The event source mapping
// ---------------------------------------------------------------------------------------

#[test]
fn the_event_source_mapping_reports_batch_item_failures_and_bisects() {
    let processor = Module::load(&terraform().join("modules/processor"));
    let mapping = processor.block("resource", &["aws_lambda_event_source_mapping", "kinesis"]);
    let Expression::Array(types) = attr(mapping, "function_response_types") else { panic!("function_response_types") };
    assert!(types.iter().any(|t| text(t) == Some("ReportBatchItemFailures")), "{types:?}");
    assert_eq!(attr(mapping, "bisect_batch_on_function_error"), &Expression::Bool(true));
    assert!(is_reference(attr(mapping, "maximum_retry_attempts"), "var.maximum_retry_attempts"));
    // Issue 14: from the oldest retained record, so nothing producers wrote before the mapping
    // existed (or while it was replaced) is skipped; writes are idempotent.
    assert_eq!(text(attr(mapping, "starting_position")), Some("TRIM_HORIZON"));
    let on_failure = nested(nested(mapping, "destination_config"), "on_failure");
    assert!(is_reference(attr(on_failure, "destination_arn"), "aws_sqs_queue.on_failure.arn"));
}

