//! Reading the stack: a Terraform module's blocks and attributes (hcl-rs), references and
//! literals in its expressions, and the few Terraform functions the tests evaluate.

use std::fs;
use std::path::{Path, PathBuf};

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::expr::{Operation, TemplateExpr, TraversalOperator};
use hcl::{Block, Body, Expression, ObjectKey, Value};

/// The functions of DESIGN.md section 1: Cargo binaries, cargo-lambda zips, Terraform modules.
pub const FUNCTIONS: [&str; 3] = ["processor", "aggregator", "query"];

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn terraform() -> PathBuf {
    repo().join("terraform")
}

/// A Terraform module: the blocks and attributes of all its .tf files, which Terraform reads
/// as one body.
pub struct Module {
    pub dir: PathBuf,
    pub body: Body,
}

impl Module {
    pub fn load(dir: &Path) -> Module {
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

    pub fn name(&self) -> String {
        self.dir.strip_prefix(repo()).unwrap_or(&self.dir).display().to_string()
    }

    pub fn blocks<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.body.blocks().filter(move |b| b.identifier() == kind)
    }

    /// The block `kind "label" "label"`, e.g. `resource "aws_lambda_function" "this"`.
    pub fn block<'a>(&'a self, kind: &'a str, labels: &[&str]) -> &'a Block {
        self.blocks(kind)
            .find(|b| b.labels().iter().map(|l| l.as_str()).eq(labels.iter().copied()))
            .unwrap_or_else(|| panic!("{}: no {kind} {labels:?}", self.name()))
    }

    /// The expression of `local.NAME`.
    pub fn local(&self, name: &str) -> &Expression {
        self.blocks("locals")
            .flat_map(|b| b.body().attributes())
            .find(|a| a.key() == name)
            .map(|a| a.expr())
            .unwrap_or_else(|| panic!("{}: no local {name}", self.name()))
    }
}

pub fn parse_file(path: &Path) -> Body {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hcl::parse(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

/// The root module and every module under terraform/modules.
pub fn all_modules() -> Vec<Module> {
    let mut dirs = vec![terraform()];
    let mut children: Vec<PathBuf> =
        fs::read_dir(terraform().join("modules")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    children.sort();
    dirs.extend(children);
    dirs.iter().map(|d| Module::load(d)).collect()
}

pub fn attr<'a>(block: &'a Block, name: &str) -> &'a Expression {
    block
        .body()
        .attributes()
        .find(|a| a.key() == name)
        .map(|a| a.expr())
        .unwrap_or_else(|| panic!("{} {:?} has no attribute {name}", block.identifier(), block.labels()))
}

pub fn nested<'a>(block: &'a Block, kind: &str) -> &'a Block {
    block
        .body()
        .blocks()
        .find(|b| b.identifier() == kind)
        .unwrap_or_else(|| panic!("{} {:?} has no {kind} block", block.identifier(), block.labels()))
}

/// `var.zip_path` as `["var", "zip_path"]`; None for anything but a plain attribute traversal.
pub fn reference(expr: &Expression) -> Option<Vec<String>> {
    let Expression::Traversal(traversal) = expr else { return None };
    let Expression::Variable(root) = &traversal.expr else { return None };
    let mut path = vec![root.as_str().to_owned()];
    for op in &traversal.operators {
        let TraversalOperator::GetAttr(name) = op else { return None };
        path.push(name.as_str().to_owned());
    }
    Some(path)
}

pub fn is_reference(expr: &Expression, path: &str) -> bool {
    reference(expr).is_some_and(|p| p.join(".") == path)
}

/// A string literal, or a quoted template's text (`"${var.name_prefix}-processor"`).
pub fn text(expr: &Expression) -> Option<&str> {
    match expr {
        Expression::String(s) => Some(s),
        Expression::TemplateExpr(t) => match t.as_ref() {
            TemplateExpr::QuotedString(s) => Some(s),
            TemplateExpr::Heredoc(h) => Some(&h.template),
        },
        _ => None,
    }
}

pub fn key_name(key: &ObjectKey) -> Option<&str> {
    match key {
        ObjectKey::Identifier(id) => Some(id.as_str()),
        ObjectKey::Expression(expr) => text(expr),
        _ => None,
    }
}


/// Terraform's functions, with Terraform's semantics (lengths count characters; `substr`
/// takes -1 for "to the end").
fn string(value: &Value, function: &str) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("{function}: {other} is not a string")),
    }
}
fn number(value: &Value, function: &str) -> Result<i64, String> {
    value.as_number().and_then(|n| n.as_i64()).ok_or_else(|| format!("{function}: {value} is not a whole number"))
}
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
fn startswith(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(string(&args[0], "startswith")?.starts_with(&string(&args[1], "startswith")?)))
}
fn endswith(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Bool(string(&args[0], "endswith")?.ends_with(&string(&args[1], "endswith")?)))
}
fn length(args: FuncArgs) -> Result<Value, String> {
    let n = match &args[0] {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        other => return Err(format!("length: {other} has no length")),
    };
    Ok(Value::from(n as u64))
}
fn substr(args: FuncArgs) -> Result<Value, String> {
    let text: Vec<char> = string(&args[0], "substr")?.chars().collect();
    let offset = usize::try_from(number(&args[1], "substr")?).map_err(|_| "substr: negative offset")?;
    let length = number(&args[2], "substr")?;
    let end = if length < 0 { text.len() } else { (offset + length as usize).min(text.len()) };
    Ok(Value::from(text.get(offset.min(text.len())..end).unwrap_or_default().iter().collect::<String>()))
}
fn sha1(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(sha1_smol::Sha1::from(string(&args[0], "sha1")?).digest().to_string()))
}
fn regexall(args: FuncArgs) -> Result<Value, String> {
    let pattern = regex::Regex::new(args[0].as_str().unwrap()).map_err(|e| e.to_string())?;
    let subject = string(&args[1], "regexall")?;
    Ok(Value::Array(pattern.find_iter(&subject).map(|m| Value::from(m.as_str())).collect()))
}
fn alltrue(args: FuncArgs) -> Result<Value, String> {
    let list = args[0].as_array().ok_or("alltrue: not a list")?;
    Ok(Value::Bool(list.iter().all(|v| v == &Value::Bool(true))))
}
fn merge(args: FuncArgs) -> Result<Value, String> {
    let mut out = hcl::Map::new();
    for arg in args.iter() {
        match arg {
            Value::Object(o) => out.extend(o.clone()),
            Value::Null => {}
            other => return Err(format!("merge: {other} is not a map")),
        }
    }
    Ok(Value::Object(out))
}
fn tostring(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::from(string(&args[0], "tostring")?))
}
fn range(args: FuncArgs) -> Result<Value, String> {
    let values: Vec<i64> = args.iter().map(|a| number(a, "range")).collect::<Result<_, _>>()?;
    let (start, end, step) = match values.as_slice() {
        [end] => (0, *end, 1),
        [start, end] => (*start, *end, 1),
        [start, end, step] if *step != 0 => (*start, *end, *step),
        _ => return Err("range: one to three numbers, a step other than 0".into()),
    };
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < end) || (step < 0 && i > end) {
        out.push(Value::from(i));
        i += step;
    }
    Ok(Value::Array(out))
}

/// The Terraform functions the stack's validations and names use, for hcl-rs's evaluator,
/// with Terraform's semantics (lengths count characters; `substr` takes -1 for "to the end").
pub fn terraform_functions() -> Context<'static> {
    let mut ctx = Context::new();
    ctx.declare_func("contains", FuncDef::new(contains, [ParamType::Any, ParamType::Any]));
    ctx.declare_func("coalesce", FuncDef::builder().variadic_param(ParamType::Any).build(coalesce));
    ctx.declare_func("regex", FuncDef::new(regex, [ParamType::String, ParamType::String]));
    ctx.declare_func("startswith", FuncDef::new(startswith, [ParamType::Any, ParamType::Any]));
    ctx.declare_func("endswith", FuncDef::new(endswith, [ParamType::Any, ParamType::Any]));
    ctx.declare_func("length", FuncDef::new(length, [ParamType::Any]));
    ctx.declare_func("substr", FuncDef::new(substr, [ParamType::Any, ParamType::Any, ParamType::Any]));
    ctx.declare_func("sha1", FuncDef::new(sha1, [ParamType::Any]));
    ctx.declare_func("tostring", FuncDef::new(tostring, [ParamType::Any]));
    ctx.declare_func("regexall", FuncDef::new(regexall, [ParamType::String, ParamType::Any]));
    ctx.declare_func("alltrue", FuncDef::new(alltrue, [ParamType::Any]));
    ctx.declare_func("merge", FuncDef::builder().variadic_param(ParamType::Any).build(merge));
    ctx.declare_func("range", FuncDef::builder().variadic_param(ParamType::Any).build(range));
    ctx
}

/// `can(X)` is true when X evaluates: decided here, before hcl-rs (which evaluates arguments
/// eagerly) sees the call.
pub fn resolve_can(expr: &mut Expression, ctx: &Context) {
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
