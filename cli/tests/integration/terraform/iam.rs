//! (d) IAM: no wildcard action outside an explicit Deny.

use std::fs;

use hcl::{Block, Expression, ObjectKey};

use super::stack::*;
// ---------------------------------------------------------------------------------------
// (d) IAM: no wildcard action outside an explicit Deny
// ---------------------------------------------------------------------------------------

/// What the IAM scan saw in a module: every statement and every problem.
#[derive(Default, Debug)]
pub struct IamScan {
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
pub fn literal_strings(module: &Module, expr: &Expression) -> Option<Vec<String>> {
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
pub fn scan_policy_object(scan: &mut IamScan, at: &str, object: &hcl::Object<ObjectKey, Expression>) {
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

pub fn json_to_expression(value: &serde_json::Value) -> Expression {
    hcl::to_expression(value).unwrap()
}

/// Looks through every attribute (in nested blocks too) for `jsonencode({Statement = ...})`
/// and for literal JSON policies.
pub fn scan_expression(scan: &mut IamScan, at: &str, expr: &Expression) {
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
pub const POLICY_ATTRIBUTES: [&str; 3] = ["policy", "assume_role_policy", "policy_json"];

pub fn scan_block(scan: &mut IamScan, module: &Module, at: &str, block: &Block) {
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

pub fn scan_iam(modules: &[Module]) -> IamScan {
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
pub fn no_iam_statement_allows_a_wildcard_action() {
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
pub fn the_iam_scan_finds_wildcards_in_documents_and_jsonencode() {
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

