//! (a) Each function is given exactly the environment its configuration reads: every
//! variable it requires on every deployment, the optional ones where they apply (the
//! per-type index's `GSI_WRITE_SHARDS` only where the index is on, `QUERY_EVENT_TYPES` only
//! where some types are dropped), and nothing it does not read.

use std::collections::BTreeMap;
use std::fs;

use hcl::Expression;

use super::sdk_calls::{code_only, matching_brace};
use super::stack::*;

/// How a configuration reads a variable: `required(` (must be set), `number(` (has a
/// default) or `lookup(` (optional).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Read {
    Required,
    Number,
    Lookup,
}

/// The text of `impl <name> { ... }` in `code` (literals kept: the block is found on the
/// text with literals blanked, then cut from the original).
fn impl_block<'a>(source: &'a str, name: &str) -> &'a str {
    let code = code_only(source);
    let start = code.find(&format!("impl {name} {{")).unwrap_or_else(|| panic!("aws/src/config.rs has no impl {name}"));
    let open = start + code[start..].find('{').unwrap();
    &source[open..matching_brace(&code, open)]
}

/// The names the configuration struct `name` of aws/src/config.rs reads: every `"NAME"`
/// literal passed first to `required(`, `number(` or `lookup(` in its impl, and those of the
/// configurations it reads in turn (`TablesConfig::from_lookup`).
fn names_read_by(name: &str) -> BTreeMap<String, Read> {
    let source = fs::read_to_string(repo().join("aws/src/config.rs")).unwrap();
    let code = impl_block(&source, name);
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
    for nested in regex::Regex::new(r"\b([A-Z][A-Za-z]*Config)::from_lookup").unwrap().captures_iter(code) {
        if &nested[1] != name {
            for (n, r) in names_read_by(&nested[1]) {
                names.entry(n).and_modify(|old: &mut Read| *old = (*old).min(r)).or_insert(r);
            }
        }
    }
    names
}

/// The configuration a function's crate reads: its `<Name>Config::from_env()`.
fn configuration_of(function: &str) -> String {
    let lib = fs::read_to_string(repo().join(format!("functions/{function}/src/lib.rs"))).unwrap();
    let found: Vec<String> =
        regex::Regex::new(r"\b([A-Z][A-Za-z]*Config)::from_env\(\)").unwrap().captures_iter(&lib).map(|c| c[1].to_owned()).collect();
    assert_eq!(found.len(), 1, "functions/{function} reads one configuration: {found:?}");
    found.into_iter().next().unwrap()
}

/// Names a function's own source reads with `env::var("NAME")` or `env::var_os("NAME")`.
fn names_read_directly(function: &str) -> Vec<String> {
    let read = regex::Regex::new(r#"\bvar(?:_os)?\(\s*"([A-Z0-9_]+)"\s*\)"#).unwrap();
    let dir = repo().join(format!("functions/{function}/src"));
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let text = fs::read_to_string(entry.unwrap().path()).unwrap();
        names.extend(read.captures_iter(&text).map(|c| c[1].to_owned()));
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

/// The environment modules/<function> gives its function: name -> set on every deployment.
fn environment_of(function: &str) -> BTreeMap<String, bool> {
    let module = Module::load(&terraform().join("modules").join(function));
    let call = module.block("module", &["function"]);
    assert_eq!(text(attr(call, "source")), Some("../function"));
    let mut keys = BTreeMap::new();
    environment_keys(&module, attr(call, "environment"), true, &mut keys);
    keys
}

#[test]
fn each_function_gets_exactly_the_variables_its_configuration_reads() {
    // The shared function module passes the map to the Lambda function as it is.
    let function = Module::load(&terraform().join("modules/function"));
    let lambda = function.block("resource", &["aws_lambda_function", "this"]);
    assert!(is_reference(attr(nested(lambda, "environment"), "variables"), "var.environment"));

    for function in FUNCTIONS {
        let config = configuration_of(function);
        let mut read = names_read_by(&config);
        for name in names_read_directly(function) {
            read.entry(name).or_insert(Read::Lookup);
        }
        let keys = environment_of(function);
        for (name, how) in &read {
            let set = keys.get(name);
            if *how == Read::Required {
                assert_eq!(set, Some(&true), "functions/{function} requires {name} ({config}): modules/{function} must always set it");
            }
        }
        assert_eq!(keys.get("RUST_LOG"), Some(&true), "DESIGN.md section 8: RUST_LOG ({function})");
        let unread: Vec<_> = keys.keys().filter(|k| !read.contains_key(*k) && *k != "RUST_LOG").collect();
        assert!(unread.is_empty(), "modules/{function} sets variables functions/{function} does not read: {unread:?}");
    }
}

#[test]
fn the_processor_reads_the_design_names_and_gets_the_optional_ones_under_their_conditions() {
    let read = names_read_by("ProcessorConfig");
    // The scan must see what DESIGN.md section 8 names, or it is not following the code.
    for name in ["EVENTS_TABLE", "AGGREGATES_TABLE", "ARCHIVE_STREAMS", "BAD_ROWS_BUCKET", "BAD_ROWS_PREFIX", "EVENT_TTL_DAYS"] {
        assert!(read.contains_key(name), "aws/src/config.rs no longer reads {name}? found {read:?}");
    }
    for name in ["GSI_WRITE_SHARDS", "QUERY_EVENT_TYPES", "SCHEMAS_DIR"] {
        assert_eq!(read.get(name), Some(&Read::Lookup), "{name} is optional for the processor");
    }
    let keys = environment_of("processor");
    for name in ["GSI_WRITE_SHARDS", "QUERY_EVENT_TYPES", "SCHEMAS_DIR"] {
        assert_eq!(keys.get(name), Some(&false), "{name} is set only under its condition");
    }
    assert_eq!(names_read_by("QueryConfig").get("GSI_WRITE_SHARDS"), Some(&Read::Lookup));
    assert_eq!(environment_of("query").get("GSI_WRITE_SHARDS"), Some(&false));

    // The conditions: the index's shards only where the index is on, the kept types as set.
    let root = Module::load(&terraform());
    for module in ["processor", "query"] {
        let call = root.block("module", &[module]);
        let Expression::Conditional(cond) = attr(call, "gsi_write_shards") else { panic!("module.{module}.gsi_write_shards") };
        assert!(is_reference(&cond.cond_expr, "var.events_gsi_enabled"), "{module}");
        assert!(is_reference(&cond.true_expr, "var.gsi_write_shards") && cond.false_expr == Expression::Null, "{module}");
    }
    let processor = root.block("module", &["processor"]);
    assert!(is_reference(attr(processor, "query_event_types"), "var.query_event_types"));
    let module = Module::load(&terraform().join("modules/processor"));
    let source = format!("{:?}", module.local("environment"));
    assert!(source.contains("join") && source.contains("query_event_types"), "QUERY_EVENT_TYPES is the kept types, comma-joined");
}
