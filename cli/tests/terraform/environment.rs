//! (a) Each function is given the environment its configuration reads.

use std::collections::BTreeMap;
use std::fs;

use hcl::Expression;

use crate::stack::*;
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
        // Nothing the function does not read (DESIGN section 8: GSI_WRITE_SHARDS only where
        // the index is read).
        let own = names_read_directly(function);
        let unread: Vec<_> =
            keys.keys().filter(|k| !read.contains(&k.as_str()) && !own.contains(*k) && *k != "RUST_LOG").collect();
        assert!(unread.is_empty(), "modules/{function} sets variables functions/{function} does not read: {unread:?}");
    }
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

