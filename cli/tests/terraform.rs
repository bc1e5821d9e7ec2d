//! Holds the Terraform of terraform/ (parsed with hcl-rs) against the code it deploys: the
//! processor function is given every environment variable its configuration reads, the
//! function artifacts are the binaries' names, the Kinesis event source mapping reports batch
//! item failures, no IAM statement allows a wildcard action, and every tfvars file (the
//! environments' and `pipeline plan`'s) sets only declared variables, with their declared
//! types and passing their validations.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::expr::{Operation, TemplateExpr, TraversalOperator};
use hcl::{Block, Body, Expression, ObjectKey, Value};

/// The functions of DESIGN.md section 1: Cargo binaries, cargo-lambda zips, Terraform modules.
const FUNCTIONS: [&str; 3] = ["processor", "aggregator", "query"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn terraform() -> PathBuf {
    repo().join("terraform")
}

/// A Terraform module: the blocks and attributes of all its .tf files, which Terraform reads
/// as one body.
struct Module {
    dir: PathBuf,
    body: Body,
}

impl Module {
    fn load(dir: &Path) -> Module {
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "tf"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no .tf file in {}", dir.display());
        let mut structures = Vec::new();
        for file in files {
            structures.extend(parse_file(&file).into_inner());
        }
        Module { dir: dir.to_path_buf(), body: Body(structures) }
    }

    fn name(&self) -> String {
        self.dir.strip_prefix(repo()).unwrap_or(&self.dir).display().to_string()
    }

    fn blocks<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.body.blocks().filter(move |b| b.identifier() == kind)
    }

    /// The block `kind "label" "label"`, e.g. `resource "aws_lambda_function" "this"`.
    fn block<'a>(&'a self, kind: &'a str, labels: &[&str]) -> &'a Block {
        self.blocks(kind)
            .find(|b| b.labels().iter().map(|l| l.as_str()).eq(labels.iter().copied()))
            .unwrap_or_else(|| panic!("{}: no {kind} {labels:?}", self.name()))
    }

    /// The expression of `local.NAME`.
    fn local(&self, name: &str) -> &Expression {
        self.blocks("locals")
            .flat_map(|b| b.body().attributes())
            .find(|a| a.key() == name)
            .map(|a| a.expr())
            .unwrap_or_else(|| panic!("{}: no local {name}", self.name()))
    }
}

fn parse_file(path: &Path) -> Body {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hcl::parse(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

/// The root module and every module under terraform/modules.
fn all_modules() -> Vec<Module> {
    let mut dirs = vec![terraform()];
    let mut children: Vec<PathBuf> =
        fs::read_dir(terraform().join("modules")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    children.sort();
    dirs.extend(children);
    dirs.iter().map(|d| Module::load(d)).collect()
}

fn attr<'a>(block: &'a Block, name: &str) -> &'a Expression {
    block
        .body()
        .attributes()
        .find(|a| a.key() == name)
        .map(|a| a.expr())
        .unwrap_or_else(|| panic!("{} {:?} has no attribute {name}", block.identifier(), block.labels()))
}

fn nested<'a>(block: &'a Block, kind: &str) -> &'a Block {
    block
        .body()
        .blocks()
        .find(|b| b.identifier() == kind)
        .unwrap_or_else(|| panic!("{} {:?} has no {kind} block", block.identifier(), block.labels()))
}

/// `var.zip_path` as `["var", "zip_path"]`; None for anything but a plain attribute traversal.
fn reference(expr: &Expression) -> Option<Vec<String>> {
    let Expression::Traversal(traversal) = expr else { return None };
    let Expression::Variable(root) = &traversal.expr else { return None };
    let mut path = vec![root.as_str().to_owned()];
    for op in &traversal.operators {
        let TraversalOperator::GetAttr(name) = op else { return None };
        path.push(name.as_str().to_owned());
    }
    Some(path)
}

fn is_reference(expr: &Expression, path: &str) -> bool {
    reference(expr).is_some_and(|p| p.join(".") == path)
}

/// A string literal, or a quoted template's text (`"${var.name_prefix}-processor"`).
fn text(expr: &Expression) -> Option<&str> {
    match expr {
        Expression::String(s) => Some(s),
        Expression::TemplateExpr(t) => match t.as_ref() {
            TemplateExpr::QuotedString(s) => Some(s),
            TemplateExpr::Heredoc(h) => Some(&h.template),
        },
        _ => None,
    }
}

fn key_name(key: &ObjectKey) -> Option<&str> {
    match key {
        ObjectKey::Identifier(id) => Some(id.as_str()),
        ObjectKey::Expression(expr) => text(expr),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// (a) The processor's environment
// ---------------------------------------------------------------------------------------

/// How the processor's configuration reads a variable: `required(` (must be set),
/// `number(` (has a default) or `lookup(` (optional).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Read {
    Required,
    Number,
    Lookup,
}

/// The names aws/src/config.rs reads: every `"NAME"` string literal passed first to
/// `required(`, `number(` or `lookup(` outside its tests, found by a plain scan of the source.
fn names_read_by_processor_config() -> BTreeMap<String, Read> {
    let source = fs::read_to_string(repo().join("aws/src/config.rs")).unwrap();
    let code = source.split("#[cfg(test)]").next().unwrap();
    let mut names = BTreeMap::new();
    for (call, read) in [("required(", Read::Required), ("number(", Read::Number), ("lookup(", Read::Lookup)] {
        let mut from = 0;
        while let Some(at) = code[from..].find(call) {
            let start = from + at;
            from = start + call.len();
            let preceded_by_ident = code[..start].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
            let argument = code[from..].trim_start();
            if preceded_by_ident || !argument.starts_with('"') {
                continue; // `from_lookup(`, `lookup(name)`: not a literal name
            }
            let name = &argument[1..argument[1..].find('"').unwrap() + 1];
            names.entry(name.to_owned()).and_modify(|r: &mut Read| *r = (*r).min(read)).or_insert(read);
        }
    }
    names
}

/// The keys an environment expression sets, each with whether it is set on every deployment
/// (false: only under a condition). Follows `local.` references, `merge(...)` and `? :`.
fn environment_keys(module: &Module, expr: &Expression, always: bool, keys: &mut BTreeMap<String, bool>) {
    match expr {
        Expression::Object(object) => {
            for key in object.keys() {
                let name = key_name(key).unwrap_or_else(|| panic!("an environment key that is not a name: {key:?}"));
                let entry = keys.entry(name.to_owned()).or_insert(always);
                *entry |= always;
            }
        }
        Expression::FuncCall(call) if call.name.name.as_str() == "merge" => {
            for arg in &call.args {
                environment_keys(module, arg, always, keys);
            }
        }
        Expression::Conditional(cond) => {
            environment_keys(module, &cond.true_expr, false, keys);
            environment_keys(module, &cond.false_expr, false, keys);
        }
        Expression::Parenthesis(inner) => environment_keys(module, inner, always, keys),
        _ => match reference(expr).as_deref() {
            Some([local, name]) if local == "local" => environment_keys(module, module.local(name), always, keys),
            _ => panic!("{}: cannot read the environment expression {expr:?}", module.name()),
        },
    }
}

#[test]
fn the_processor_function_gets_every_variable_its_configuration_reads() {
    let read = names_read_by_processor_config();
    // The scan must see what DESIGN.md section 8 names, or it is not following the code.
    for name in [
        "EVENTS_TABLE",
        "AGGREGATES_TABLE",
        "ARCHIVE_STREAMS",
        "BAD_ROWS_BUCKET",
        "BAD_ROWS_PREFIX",
        "EVENT_TTL_DAYS",
        "GSI_WRITE_SHARDS",
    ] {
        assert!(read.contains_key(name), "aws/src/config.rs no longer reads {name}? found {read:?}");
    }

    let processor = Module::load(&terraform().join("modules/processor"));
    let function_call = processor.block("module", &["function"]);
    assert_eq!(text(attr(function_call, "source")), Some("../function"));
    let mut keys = BTreeMap::new();
    environment_keys(&processor, attr(function_call, "environment"), true, &mut keys);

    // The shared function module passes that map to the Lambda function as it is.
    let function = Module::load(&terraform().join("modules/function"));
    let lambda = function.block("resource", &["aws_lambda_function", "this"]);
    assert!(is_reference(attr(nested(lambda, "environment"), "variables"), "var.environment"));

    for (name, how) in &read {
        let set = keys.get(name);
        assert!(set.is_some(), "the processor reads {name} ({how:?}) but modules/processor does not set it");
        if *how == Read::Required {
            assert_eq!(set, Some(&true), "{name} is required by the processor but only set under a condition");
        }
    }
    assert_eq!(keys.get("RUST_LOG"), Some(&true), "DESIGN.md section 8: RUST_LOG");
    let unread: Vec<_> = keys.keys().filter(|k| !read.contains_key(*k) && *k != "RUST_LOG").collect();
    assert!(unread.is_empty(), "modules/processor sets variables the processor does not read: {unread:?}");
}

#[test]
fn the_aggregator_and_query_functions_get_the_tables_they_read() {
    // Both read TablesConfig: EVENTS_TABLE and AGGREGATES_TABLE, required.
    let source = fs::read_to_string(repo().join("aws/src/config.rs")).unwrap();
    let tables = source.split("impl TablesConfig").nth(1).expect("aws/src/config.rs has TablesConfig").split("#[cfg(test)]").next().unwrap();
    let read: Vec<&str> = ["EVENTS_TABLE", "AGGREGATES_TABLE"].into_iter().filter(|n| tables.contains(&format!("required(\"{n}\""))).collect();
    assert_eq!(read, ["EVENTS_TABLE", "AGGREGATES_TABLE"], "TablesConfig reads both tables");
    for function in ["aggregator", "query"] {
        let main = fs::read_to_string(repo().join(format!("functions/{function}/src/lib.rs"))).unwrap();
        assert!(main.contains("TablesConfig::from_env()"), "functions/{function} reads TablesConfig");
        let module = Module::load(&terraform().join("modules").join(function));
        let mut keys = BTreeMap::new();
        environment_keys(&module, attr(module.block("module", &["function"]), "environment"), true, &mut keys);
        for name in &read {
            assert_eq!(keys.get(*name), Some(&true), "modules/{function} must always set {name}");
        }
    }
}

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
    let on_failure = nested(nested(mapping, "destination_config"), "on_failure");
    assert!(is_reference(attr(on_failure, "destination_arn"), "aws_sqs_queue.on_failure.arn"));
}

// ---------------------------------------------------------------------------------------
// (d) IAM: no wildcard action outside an explicit Deny
// ---------------------------------------------------------------------------------------

/// What the IAM scan saw in a module: every statement and every problem.
#[derive(Default, Debug)]
struct IamScan {
    /// (where, effect, actions) of each statement.
    statements: Vec<(String, String, Vec<String>)>,
    problems: Vec<String>,
}

impl IamScan {
    fn statement(&mut self, at: String, effect: String, actions: Vec<String>, not_actions: bool) {
        if effect != "Deny" {
            for action in actions.iter().filter(|a| a.contains('*')) {
                self.problems.push(format!("{at}: {effect} statement with the wildcard action {action:?}"));
            }
            if not_actions {
                self.problems.push(format!("{at}: {effect} statement with not_actions (everything else)"));
            }
        }
        self.statements.push((at, effect, actions));
    }
}

/// Action strings of `actions = [...]` or `local.NAME`; None when they are not literal.
fn literal_strings(module: &Module, expr: &Expression) -> Option<Vec<String>> {
    match expr {
        Expression::Array(items) => items.iter().map(|i| text(i).map(str::to_owned)).collect(),
        Expression::String(_) | Expression::TemplateExpr(_) => text(expr).map(|s| vec![s.to_owned()]),
        _ => match reference(expr).as_deref() {
            Some([local, name]) if local == "local" => literal_strings(module, module.local(name)),
            _ => None,
        },
    }
}

/// A `jsonencode`d (or literal JSON) policy: `{Statement = [{Effect, Action|NotAction}]}`.
fn scan_policy_object(scan: &mut IamScan, at: &str, object: &hcl::Object<ObjectKey, Expression>) {
    let Some(statements) = object.iter().find(|(k, _)| key_name(k) == Some("Statement")).map(|(_, v)| v) else {
        return;
    };
    let statements: Vec<&Expression> = match statements {
        Expression::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    for (i, statement) in statements.into_iter().enumerate() {
        let at = format!("{at} Statement[{i}]");
        let Expression::Object(fields) = statement else {
            scan.problems.push(format!("{at}: not an object"));
            continue;
        };
        let field = |name: &str| fields.iter().find(|(k, _)| key_name(k) == Some(name)).map(|(_, v)| v);
        let effect = field("Effect").and_then(text).unwrap_or("Allow").to_owned();
        let actions = match field("Action") {
            None => Some(Vec::new()),
            Some(Expression::Array(items)) => items.iter().map(|i| text(i).map(str::to_owned)).collect(),
            Some(single) => text(single).map(|s| vec![s.to_owned()]),
        };
        match actions {
            Some(actions) => scan.statement(at, effect, actions, field("NotAction").is_some()),
            None => scan.problems.push(format!("{at}: actions that are not literal strings cannot be checked")),
        }
    }
}

fn json_to_expression(value: &serde_json::Value) -> Expression {
    hcl::to_expression(value).unwrap()
}

/// Looks through every attribute (in nested blocks too) for `jsonencode({Statement = ...})`
/// and for literal JSON policies.
fn scan_expression(scan: &mut IamScan, at: &str, expr: &Expression) {
    match expr {
        Expression::FuncCall(call) => {
            if call.name.name.as_str() == "jsonencode"
                && let Some(Expression::Object(object)) = call.args.first()
            {
                scan_policy_object(scan, &format!("{at} jsonencode"), object);
            }
            for arg in &call.args {
                scan_expression(scan, at, arg);
            }
        }
        Expression::Object(object) => {
            for value in object.values() {
                scan_expression(scan, at, value);
            }
        }
        Expression::Array(items) => items.iter().for_each(|i| scan_expression(scan, at, i)),
        Expression::Parenthesis(inner) => scan_expression(scan, at, inner),
        Expression::Conditional(cond) => {
            scan_expression(scan, at, &cond.true_expr);
            scan_expression(scan, at, &cond.false_expr);
        }
        Expression::String(_) | Expression::TemplateExpr(_) => {
            let literal = text(expr).unwrap_or_default();
            if literal.contains("\"Statement\"")
                && let Ok(json) = serde_json::from_str::<serde_json::Value>(literal)
                && let Expression::Object(object) = json_to_expression(&json)
            {
                scan_policy_object(scan, &format!("{at} JSON"), &object);
            } else if literal.contains("\"Statement\"") {
                scan.problems.push(format!("{at}: a policy string that is not plain JSON cannot be checked"));
            }
        }
        _ => {}
    }
}

/// Attributes that hold a policy document must name a document this scan checks.
const POLICY_ATTRIBUTES: [&str; 3] = ["policy", "assume_role_policy", "policy_json"];

fn scan_block(scan: &mut IamScan, module: &Module, at: &str, block: &Block) {
    let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
    let at = format!("{at} {} {}", block.identifier(), labels.join("."));
    for attribute in block.body().attributes() {
        scan_expression(scan, &format!("{at}.{}", attribute.key()), attribute.expr());
        if POLICY_ATTRIBUTES.contains(&attribute.key()) {
            let expr = attribute.expr();
            let document = reference(expr).is_some_and(|path| match path.as_slice() {
                [data, kind, name, json] if data == "data" && kind == "aws_iam_policy_document" && json == "json" => {
                    module
                        .blocks("data")
                        .any(|b| b.labels().iter().map(|l| l.as_str()).eq(["aws_iam_policy_document", name.as_str()]))
                }
                // The function module's own input: its callers pass their documents (checked here).
                [var, name] => var == "var" && name == "policy_json",
                _ => false,
            });
            let encoded = matches!(expr, Expression::FuncCall(call) if call.name.name.as_str() == "jsonencode");
            let literal_json = text(expr).is_some_and(|literal| {
                serde_json::from_str::<serde_json::Value>(literal).is_ok_and(|json| json.get("Statement").is_some())
            });
            if !document && !encoded && !literal_json {
                scan.problems.push(format!("{at}.{}: a policy this test cannot check: {expr:?}", attribute.key()));
            }
        }
    }
    if block.identifier() == "data" && labels.first() == Some(&"aws_iam_policy_document") {
        for (i, statement) in block.body().blocks().filter(|b| b.identifier() == "statement").enumerate() {
            let at = format!("{at} statement[{i}]");
            let field = |name: &str| statement.body().attributes().find(|a| a.key() == name).map(|a| a.expr());
            // Terraform's default effect is Allow.
            let effect = field("effect").map_or(Some("Allow"), text).map(str::to_owned);
            let actions = field("actions").map_or(Some(Vec::new()), |e| literal_strings(module, e));
            match (effect, actions) {
                (Some(effect), Some(actions)) => scan.statement(at, effect, actions, field("not_actions").is_some()),
                _ => scan.problems.push(format!("{at}: an effect or actions that are not literal cannot be checked")),
            }
        }
    }
    for inner in block.body().blocks() {
        scan_block(scan, module, &at, inner);
    }
}

fn scan_iam(modules: &[Module]) -> IamScan {
    let mut scan = IamScan::default();
    for module in modules {
        for attribute in module.body.attributes() {
            scan_expression(&mut scan, &module.name(), attribute.expr());
        }
        for block in module.body.blocks() {
            scan_block(&mut scan, module, &module.name(), block);
        }
    }
    scan
}

#[test]
fn no_iam_statement_allows_a_wildcard_action() {
    let scan = scan_iam(&all_modules());
    assert!(scan.problems.is_empty(), "IAM problems:\n{}", scan.problems.join("\n"));
    // The scan must have seen the stack's statements, including the one allowed wildcard.
    assert!(scan.statements.len() >= 25, "only {} IAM statements found", scan.statements.len());
    assert!(
        scan.statements.iter().any(|(_, effect, actions)| effect == "Deny" && actions == &["s3:*"]),
        "the archive bucket's TLS-only Deny s3:* statement was not seen"
    );
    let kms = scan.statements.iter().find(|(at, _, _)| at.contains("aws_iam_policy_document.key statement[0]"));
    assert!(kms.is_some_and(|(_, _, actions)| actions.len() > 20), "local.account_key_actions was not followed");
}

#[test]
fn the_iam_scan_finds_wildcards_in_documents_and_jsonencode() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("main.tf"),
        r#"
locals {
  broad = ["s3:GetObject", "dynamodb:*"]
}
data "aws_iam_policy_document" "bad" {
  statement {
    actions   = local.broad
    resources = ["*"]
  }
  statement {
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = ["*"]
  }
  statement {
    effect      = "Allow"
    not_actions = ["iam:PassRole"]
    resources   = ["*"]
  }
}
resource "aws_iam_role_policy" "inline" {
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "*", Resource = "*" }, { Effect = "Deny", Action = ["kms:*"], Resource = "*" }]
  })
}
resource "aws_iam_role_policy" "literal" {
  policy = "{\"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"sqs:*\", \"Resource\": \"*\"}]}"
}
resource "aws_iam_role_policy" "opaque" {
  policy = file("policy.json")
}
"#,
    )
    .unwrap();
    let scan = scan_iam(&[Module::load(dir.path())]);
    let problems = scan.problems.join("\n");
    assert!(problems.contains("wildcard action \"dynamodb:*\""), "{problems}");
    assert!(problems.contains("not_actions"), "{problems}");
    assert!(problems.contains("jsonencode Statement[0]: Allow statement with the wildcard action \"*\""), "{problems}");
    assert!(problems.contains("JSON Statement[0]: Allow statement with the wildcard action \"sqs:*\""), "{problems}");
    assert!(problems.contains("aws_iam_role_policy.opaque.policy: a policy this test cannot check"), "{problems}");
    assert!(!problems.contains("s3:*") && !problems.contains("kms:*"), "Deny statements may use wildcards: {problems}");
    assert_eq!(scan.problems.len(), 5, "{problems}");
}

// ---------------------------------------------------------------------------------------
// (e) tfvars: only declared variables, of their types, passing their validations
// ---------------------------------------------------------------------------------------

struct Declared {
    type_expr: Expression,
    default: Option<Expression>,
    validations: Vec<(Expression, String)>,
}

fn declared_variables() -> BTreeMap<String, Declared> {
    let root = Module::load(&terraform());
    root.blocks("variable")
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

fn type_name(type_expr: &Expression) -> String {
    match type_expr {
        Expression::Variable(v) => v.as_str().to_owned(),
        Expression::FuncCall(call) => call.name.name.as_str().to_owned(),
        other => panic!("unexpected type expression {other:?}"),
    }
}

fn has_type(value: &Value, type_name: &str) -> bool {
    match (type_name, value) {
        (_, Value::Null) => true,
        ("number", Value::Number(_)) | ("string", Value::String(_)) | ("bool", Value::Bool(_)) => true,
        ("list" | "set" | "tuple", Value::Array(_)) | ("map" | "object", Value::Object(_)) => true,
        ("any", _) => true,
        _ => false,
    }
}

/// Terraform's functions that the validations use, for hcl-rs's evaluator.
fn terraform_functions() -> Context<'static> {
    fn contains(args: FuncArgs) -> Result<Value, String> {
        let list = args[0].as_array().ok_or("contains: not a list")?;
        Ok(Value::Bool(list.contains(&args[1])))
    }
    fn coalesce(args: FuncArgs) -> Result<Value, String> {
        args.into_values().into_iter().find(|v| !v.is_null()).ok_or_else(|| "coalesce: every argument is null".into())
    }
    fn regex(args: FuncArgs) -> Result<Value, String> {
        let pattern = regex::Regex::new(args[0].as_str().unwrap()).map_err(|e| e.to_string())?;
        let subject = args[1].as_str().unwrap();
        pattern.find(subject).map(|m| Value::from(m.as_str())).ok_or_else(|| format!("{subject:?} does not match"))
    }
    let mut ctx = Context::new();
    ctx.declare_func("contains", FuncDef::new(contains, [ParamType::Any, ParamType::Any]));
    ctx.declare_func("coalesce", FuncDef::builder().variadic_param(ParamType::Any).build(coalesce));
    ctx.declare_func("regex", FuncDef::new(regex, [ParamType::String, ParamType::String]));
    ctx
}

/// `can(X)` is true when X evaluates: decided here, before hcl-rs (which evaluates arguments
/// eagerly) sees the call.
fn resolve_can(expr: &mut Expression, ctx: &Context) {
    match expr {
        Expression::FuncCall(call) if call.name.name.as_str() == "can" => {
            *expr = Expression::Bool(call.args[0].evaluate(ctx).is_ok());
        }
        Expression::FuncCall(call) => call.args.iter_mut().for_each(|a| resolve_can(a, ctx)),
        Expression::Parenthesis(inner) => resolve_can(inner, ctx),
        Expression::Conditional(cond) => {
            resolve_can(&mut cond.cond_expr, ctx);
            resolve_can(&mut cond.true_expr, ctx);
            resolve_can(&mut cond.false_expr, ctx);
        }
        Expression::Operation(op) => match op.as_mut() {
            Operation::Unary(unary) => resolve_can(&mut unary.expr, ctx),
            Operation::Binary(binary) => {
                resolve_can(&mut binary.lhs_expr, ctx);
                resolve_can(&mut binary.rhs_expr, ctx);
            }
        },
        Expression::Array(items) => items.iter_mut().for_each(|i| resolve_can(i, ctx)),
        _ => {}
    }
}

/// Everything wrong with a set of tfvars files applied in order (later files win), as
/// `terraform apply -var-file=... -var-file=...` would see them.
fn tfvars_problems(files: &[&Path]) -> Vec<String> {
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
    let mut ctx = terraform_functions();
    ctx.declare_var("var", Value::Object(all));
    for (name, declaration) in &declared {
        for (condition, message) in &declaration.validations {
            let mut condition = condition.clone();
            resolve_can(&mut condition, &ctx);
            match condition.evaluate(&ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(_) => problems.push(format!("{name}: {message}")),
                Err(e) => problems.push(format!("{name}: the validation cannot be evaluated: {e}")),
            }
        }
    }
    problems
}

fn plan_tfvars(dir: &Path, args: &[&str]) -> PathBuf {
    let out = dir.join(format!("plan-{}.tfvars", args.join("_").replace("--", "")));
    let output =
        Command::new(env!("CARGO_BIN_EXE_pipeline")).arg("plan").args(args).arg("--out").arg(&out).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    out
}

#[test]
fn the_environments_tfvars_set_only_declared_variables_that_validate() {
    for env in ["dev", "prod"] {
        let path = terraform().join(format!("envs/{env}.tfvars"));
        let problems = tfvars_problems(&[&path]);
        assert!(problems.is_empty(), "envs/{env}.tfvars:\n{}", problems.join("\n"));
    }
}

#[test]
fn pipeline_plans_tfvars_set_only_declared_variables_that_validate() {
    let dir = tempfile::tempdir().unwrap();
    let plans = [
        plan_tfvars(dir.path(), &["--rate", "100000", "--event-bytes", "600"]),
        plan_tfvars(
            dir.path(),
            &["--rate", "1000", "--event-bytes", "600", "--region", "eu-central-1", "--environment", "dev"],
        ),
        // Over every default quota: streams capped at the stack's 50, the index at its 1,024 shards.
        plan_tfvars(dir.path(), &["--rate", "1365333", "--event-bytes", "2000", "--region", "ap-south-1"]),
        plan_tfvars(dir.path(), &["--rate", "1", "--event-bytes", "1023599", "--batch-size", "1"]),
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
    for expected in ["shard_count", "processor_parallelization_factor", "gsi_write_shards", "archive_stream_count"] {
        assert!(names.contains(expected), "the plan's tfvars set {expected}");
    }
}

#[test]
fn the_tfvars_check_catches_undeclared_mistyped_and_invalid_values() {
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
