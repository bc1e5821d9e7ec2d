//! (f) The stack's IAM roles: each trust policy has the shape its service documents, and
//! each role holds exactly the actions its code calls (scanned, see `sdk_calls`) plus the
//! actions AWS documents for what the service does on the role's behalf, each listed here
//! with where it is documented. A missing action fails at run time in AWS; an extra one is
//! a privilege nobody uses.

use std::collections::{BTreeMap, BTreeSet};

use hcl::Expression;

use super::sdk_calls::reachable_sdk_calls;
use super::stack::*;

/// `statement { effect, actions, principals, condition }` of a policy document, as written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Statement {
    pub effect: String,
    pub actions: Vec<String>,
    /// (type, identifiers) of each principals block.
    pub principals: Vec<(String, Vec<String>)>,
    /// (test, variable, values as written) of each condition block.
    pub conditions: Vec<(String, String, Vec<String>)>,
}

fn strings(module: &Module, expr: &Expression) -> Vec<String> {
    match expr {
        Expression::Array(items) => items.iter().map(|i| expression_text(i)).collect(),
        _ => match reference(expr).as_deref() {
            Some([local, name]) if local == "local" => strings(module, module.local(name)),
            _ => vec![expression_text(expr)],
        },
    }
}

/// A literal's text, or the expression as written (`data.aws_caller_identity.current.account_id`).
fn expression_text(expr: &Expression) -> String {
    text(expr).map(str::to_owned).or_else(|| reference(expr).map(|p| p.join("."))).unwrap_or_else(|| format!("{expr}"))
}

/// The statements of `data "aws_iam_policy_document" "<name>"` in `module`.
pub fn document(module: &Module, name: &str) -> Vec<Statement> {
    let block = module.block("data", &["aws_iam_policy_document", name]);
    block
        .body()
        .blocks()
        .filter(|b| b.identifier() == "statement")
        .map(|s| {
            let field = |key: &str| s.body().attributes().find(|a| a.key() == key).map(|a| a.expr());
            let nested = |kind: &'static str| s.body().blocks().filter(move |b| b.identifier() == kind);
            Statement {
                effect: field("effect").and_then(text).unwrap_or("Allow").to_owned(),
                actions: field("actions").map(|e| strings(module, e)).unwrap_or_default(),
                principals: nested("principals")
                    .map(|p| (expression_text(attr(p, "type")), strings(module, attr(p, "identifiers"))))
                    .collect(),
                conditions: nested("condition")
                    .map(|c| {
                        (expression_text(attr(c, "test")), expression_text(attr(c, "variable")), strings(module, attr(c, "values")))
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The document a policy attribute names: `data.aws_iam_policy_document.<name>.json`.
fn document_name(expr: &Expression) -> String {
    match reference(expr).as_deref() {
        Some([data, kind, name, json]) if data == "data" && kind == "aws_iam_policy_document" && json == "json" => name.clone(),
        _ => panic!("a policy that is not a data.aws_iam_policy_document: {expr:?}"),
    }
}

fn allowed_actions(statements: &[Statement]) -> BTreeSet<String> {
    statements.iter().filter(|s| s.effect == "Allow").flat_map(|s| s.actions.iter().cloned()).collect()
}

// ---------------------------------------------------------------------------------------
// Trust policies
// ---------------------------------------------------------------------------------------

/// Every role of the stack: (module, role) -> the service principal that assumes it, the
/// condition its trust policy must have (none, or one exactly) and where the shape is documented.
type Trust = (&'static str, &'static str, &'static str, Option<(&'static str, &'static str, &'static str)>, &'static str);
const TRUSTS: &[Trust] = &[
    (
        "modules/function",
        "this",
        "lambda.amazonaws.com",
        None,
        "Lambda developer guide, 'Defining Lambda function permissions with an execution role'",
    ),
    (
        "modules/api",
        "kinesis",
        "apigateway.amazonaws.com",
        None,
        "API Gateway developer guide, 'Tutorial: Create a REST API as an Amazon Kinesis proxy' (the service principal, no condition: API Gateway sends no aws:SourceAccount for AWS integrations, aws-solutions-library-samples/accelerated-intelligent-document-processing-on-aws PR #479)",
    ),
    (
        "modules/api",
        "account_logging",
        "apigateway.amazonaws.com",
        None,
        "API Gateway developer guide, 'Set up CloudWatch logging for REST APIs' (AmazonAPIGatewayPushToCloudWatchLogs role)",
    ),
    (
        "modules/archive",
        "firehose",
        "firehose.amazonaws.com",
        Some(("StringEquals", "sts:ExternalId", "local.account_id")),
        "Firehose developer guide, 'Grant Firehose access to an Amazon S3 destination' (sts:ExternalId = the account id)",
    ),
];

#[test]
fn every_role_trusts_its_service_in_the_documented_shape() {
    let expected: BTreeMap<(String, String), _> = TRUSTS
        .iter()
        .map(|(module, role, service, condition, source)| (((*module).to_owned(), (*role).to_owned()), (*service, *condition, *source)))
        .collect();
    let mut seen = BTreeSet::new();
    for module in all_modules() {
        let name = module.name().trim_start_matches("terraform/").to_owned();
        for role in module.blocks("resource").filter(|b| b.labels()[0].as_str() == "aws_iam_role") {
            let label = role.labels()[1].as_str().to_owned();
            let key = (name.clone(), label.clone());
            let Some((service, condition, source)) = expected.get(&key) else {
                panic!("{name}: role {label} is not in TRUSTS: add its documented trust shape and source");
            };
            let statements = document(&module, &document_name(attr(role, "assume_role_policy")));
            assert_eq!(statements.len(), 1, "{name} {label}: one trust statement ({source})");
            let trust = &statements[0];
            assert_eq!(trust.effect, "Allow", "{name} {label}");
            assert_eq!(trust.actions, ["sts:AssumeRole"], "{name} {label} ({source})");
            assert_eq!(trust.principals, [("Service".to_owned(), vec![(*service).to_owned()])], "{name} {label} ({source})");
            let want: Vec<(String, String, Vec<String>)> = condition
                .iter()
                .map(|(test, variable, value)| ((*test).to_owned(), (*variable).to_owned(), vec![(*value).to_owned()]))
                .collect();
            assert_eq!(trust.conditions, want, "{name} {label}: the documented conditions only ({source})");
            seen.insert(key);
        }
    }
    let missing: Vec<_> = expected.keys().filter(|k| !seen.contains(*k)).collect();
    assert!(missing.is_empty(), "TRUSTS lists roles the stack no longer has: {missing:?}");
}

// ---------------------------------------------------------------------------------------
// Exactly the actions the code calls, plus the documented ones
// ---------------------------------------------------------------------------------------

const LOGS: &str = "Lambda developer guide, execution role: AWSLambdaBasicExecutionRole (the log group itself is made by Terraform)";
const XRAY: &str = "Lambda developer guide, 'Visualize Lambda function invocations using AWS X-Ray': AWSXRayDaemonWriteAccess";
const KINESIS_ESM: &str =
    "Lambda developer guide, 'Using Lambda with Kinesis', execution role permissions (AWSLambdaKinesisExecutionRole): the event source mapping polls the stream as the function's role";
const KINESIS_SSE: &str = "Kinesis developer guide, 'Permissions to use user-generated KMS keys': consumers need kms:Decrypt";
const ON_FAILURE_SQS: &str =
    "Lambda developer guide, 'Capturing discarded batches for a Kinesis event source' (an SQS on-failure destination needs sqs:SendMessage)";
const DLQ_SQS: &str = "Lambda developer guide, 'Dead-letter queues' (asynchronous invocation; the execution role needs sqs:SendMessage)";
const DYNAMODB_CMK: &str =
    "DynamoDB developer guide, 'Encryption at rest: how it works' (a customer managed key: the caller's principal uses it through DynamoDB)";
const SQS_SSE: &str = "SQS developer guide, 'Key management': producers of an encrypted queue need kms:GenerateDataKey and kms:Decrypt";
const S3_SSE_KMS: &str = "S3 user guide, 'Using server-side encryption with AWS KMS keys': PutObject needs kms:GenerateDataKey";

/// The documented actions of each function's role (beyond its SDK calls).
fn documented_actions(function: &str) -> Vec<(&'static str, &'static str)> {
    let mut actions = vec![
        ("logs:CreateLogStream", LOGS),
        ("logs:PutLogEvents", LOGS),
        ("xray:PutTraceSegments", XRAY),
        ("xray:PutTelemetryRecords", XRAY),
    ];
    match function {
        "processor" => actions.extend([
            ("kinesis:DescribeStream", KINESIS_ESM),
            ("kinesis:DescribeStreamSummary", KINESIS_ESM),
            ("kinesis:GetRecords", KINESIS_ESM),
            ("kinesis:GetShardIterator", KINESIS_ESM),
            ("kinesis:ListShards", KINESIS_ESM),
            ("kinesis:ListStreams", KINESIS_ESM),
            ("sqs:SendMessage", ON_FAILURE_SQS),
            ("kms:Decrypt", KINESIS_SSE),
            ("kms:DescribeKey", DYNAMODB_CMK),
            ("kms:Encrypt", DYNAMODB_CMK),
            ("kms:GenerateDataKey", S3_SSE_KMS),
        ]),
        "aggregator" => actions.extend([
            ("sqs:SendMessage", DLQ_SQS),
            ("kms:Decrypt", DYNAMODB_CMK),
            ("kms:DescribeKey", DYNAMODB_CMK),
            ("kms:Encrypt", DYNAMODB_CMK),
            ("kms:GenerateDataKey", SQS_SSE),
        ]),
        "query" => actions.extend([("kms:Decrypt", DYNAMODB_CMK), ("kms:DescribeKey", DYNAMODB_CMK)]),
        other => panic!("no documented actions for {other}"),
    }
    actions
}

/// Every action the role of `functions/<function>` holds: the shared runtime document of
/// modules/function and the document modules/<function> passes it.
fn function_role_actions(function: &str) -> BTreeSet<String> {
    let shared = Module::load(&terraform().join("modules/function"));
    let runtime = shared.block("resource", &["aws_iam_role_policy", "runtime"]);
    let mut actions = allowed_actions(&document(&shared, &document_name(attr(runtime, "policy"))));
    let passed = shared.block("resource", &["aws_iam_role_policy", "function"]);
    assert!(is_reference(attr(passed, "policy"), "var.policy_json"), "modules/function attaches what its caller passes");
    let module = Module::load(&terraform().join("modules").join(function));
    let call = module.block("module", &["function"]);
    actions.extend(allowed_actions(&document(&module, &document_name(attr(call, "policy_json")))));
    actions
}

fn difference_report(role: &str, held: &BTreeSet<String>, needed: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (action, why) in needed {
        if !held.contains(action) {
            problems.push(format!("{role} lacks {action}, needed by {why}"));
        }
    }
    for action in held {
        if !needed.contains_key(action) {
            problems.push(format!("{role} holds {action}, which no scanned call and no documented need uses: remove it or list its source"));
        }
    }
    problems
}

#[test]
fn each_function_role_holds_exactly_what_its_code_and_its_triggers_need() {
    let mut problems = Vec::new();
    for function in FUNCTIONS {
        let mut needed: BTreeMap<String, String> =
            reachable_sdk_calls(function).into_iter().map(|(a, via)| (a, format!("the code: {via}"))).collect();
        for (action, source) in documented_actions(function) {
            needed.entry(action.to_owned()).or_insert_with(|| format!("documented: {source}"));
        }
        problems.extend(difference_report(&format!("the {function} role"), &function_role_actions(function), &needed));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_scan_sees_the_sdk_calls_each_function_makes() {
    // What the scan must find, or it is not following the code (a rename, a new pattern).
    let processor = reachable_sdk_calls("processor");
    for action in ["dynamodb:BatchWriteItem", "firehose:PutRecordBatch", "s3:PutObject"] {
        assert!(processor.contains_key(action), "processor: {action} not found in {processor:?}");
    }
    let aggregator = reachable_sdk_calls("aggregator");
    for action in ["dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"] {
        assert!(aggregator.contains_key(action), "aggregator: {action} not found in {aggregator:?}");
    }
    let query = reachable_sdk_calls("query");
    let reads: Vec<&str> = query.keys().map(String::as_str).collect();
    assert_eq!(reads, ["dynamodb:BatchGetItem", "dynamodb:Query"], "the query function only reads: {query:?}");
}

/// The ingest integrations' role: the Kinesis actions the integrations call, a data key for
/// the encrypted stream; nothing else.
#[test]
fn the_api_gateway_role_holds_exactly_the_integrations_actions() {
    let api = Module::load(&terraform().join("modules/api"));
    let Expression::Object(routes) = api.local("ingest_routes") else { panic!("local.ingest_routes is an object") };
    let mut needed: BTreeMap<String, String> = BTreeMap::new();
    for (route, value) in routes {
        let Expression::Object(fields) = value else { panic!("ingest route {route:?}") };
        let action = fields.iter().find(|(k, _)| key_name(k) == Some("action")).and_then(|(_, v)| text(v)).unwrap();
        needed.insert(format!("kinesis:{action}"), format!("the {route:?} integration (uri .../kinesis:action/{action})"));
    }
    needed.insert(
        "kms:GenerateDataKey".into(),
        "documented: Kinesis developer guide, 'Permissions to use user-generated KMS keys' (producers need kms:GenerateDataKey)".into(),
    );
    let role_policy = api.block("resource", &["aws_iam_role_policy", "kinesis"]);
    assert!(is_reference(attr(role_policy, "role"), "aws_iam_role.kinesis.id"));
    let integration = api.block("resource", &["aws_api_gateway_integration", "ingest"]);
    assert!(is_reference(attr(integration, "credentials"), "aws_iam_role.kinesis.arn"), "the integrations act as this role");
    let held = allowed_actions(&document(&api, &document_name(attr(role_policy, "policy"))));
    let problems = difference_report("the API Gateway Kinesis role", &held, &needed);
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Firehose's role: the S3 destination permissions its guide lists, the key and the logs.
#[test]
fn the_firehose_role_holds_exactly_its_documented_destination_actions() {
    const S3_DESTINATION: &str = "Firehose developer guide, 'Grant Firehose access to an Amazon S3 destination'";
    let needed: BTreeMap<String, String> = [
        "s3:AbortMultipartUpload",
        "s3:GetBucketLocation",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:ListBucketMultipartUploads",
        "s3:PutObject",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "logs:PutLogEvents",
    ]
    .into_iter()
    .map(|a| (a.to_owned(), format!("documented: {S3_DESTINATION}")))
    .collect();
    let archive = Module::load(&terraform().join("modules/archive"));
    let policy = archive.block("resource", &["aws_iam_role_policy", "firehose"]);
    let held = allowed_actions(&document(&archive, &document_name(attr(policy, "policy"))));
    let problems = difference_report("the Firehose role", &held, &needed);
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_role_check_reports_missing_and_extra_actions() {
    let held: BTreeSet<String> = ["s3:PutObject", "s3:DeleteObject"].into_iter().map(str::to_owned).collect();
    let needed: BTreeMap<String, String> =
        [("s3:PutObject", "x"), ("sqs:SendMessage", "y")].into_iter().map(|(a, b)| (a.to_owned(), b.to_owned())).collect();
    let problems = difference_report("r", &held, &needed).join("\n");
    assert!(problems.contains("r lacks sqs:SendMessage, needed by y"), "{problems}");
    assert!(problems.contains("r holds s3:DeleteObject"), "{problems}");
}
