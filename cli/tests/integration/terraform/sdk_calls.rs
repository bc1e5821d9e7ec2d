//! The AWS SDK operations a function's code can call, found by a plain scan of the Rust
//! sources (no build): every `client.<operation>(` in aws/src and functions/<f>/src, kept
//! when its function can be reached from the Lambda crate by name.
//!
//! Reachability is by name, over-approximating: a Lambda crate reaches every function of
//! aws/ whose name it calls, then every name those call, and so on. When the crate hands
//! adapters to the core's batch flow (`BatchFlow`) or merge (`roll_up`), the core calls
//! every method of the port traits (shared/src/sink.rs, shared/src/rollup.rs), so those
//! names are reached too. The scan checks itself: every `.send()` in a scanned file must be
//! the end of a call it recognised, or it fails (a new way of calling the SDK must be
//! taught to it, not missed).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::stack::repo;

/// Source text with comments, string literals and char literals blanked (same length), so
/// braces and names inside them do not count.
pub fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut out[from..to.min(bytes.len())] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                blank(&mut out, i, end);
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..].find("*/").map_or(bytes.len(), |n| i + 2 + n + 2);
                blank(&mut out, i, end);
                i = end;
            }
            b'r' if matches!(bytes.get(i + 1), Some(b'"' | b'#')) && (i == 0 || !is_ident(bytes[i - 1])) => {
                let hashes = bytes[i + 1..].iter().take_while(|&&b| b == b'#').count();
                if bytes.get(i + 1 + hashes) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let start = i + 2 + hashes;
                let end = text[start..].find(&close).map_or(bytes.len(), |n| start + n + close.len());
                blank(&mut out, i + 1, end);
                i = end;
            }
            b'"' => {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j] != b'"' {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                blank(&mut out, i + 1, j);
                i = j + 1;
            }
            // A char literal ('x', 'é', '\n', '\u{7f}'), not a lifetime ('a).
            b'\'' => {
                let mut rest = text[i + 1..].chars();
                let end = match (rest.next(), rest.next()) {
                    (Some('\\'), _) => text[i + 3..].find('\'').map(|n| i + 3 + n),
                    (Some(c), Some('\'')) => Some(i + 1 + c.len_utf8()),
                    _ => None,
                };
                match end {
                    Some(end) => {
                        blank(&mut out, i + 1, end);
                        i = end + 1;
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    String::from_utf8(out).expect("blanking keeps UTF-8")
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// One `fn` with a body: where it is, its name and its body (code only).
#[derive(Clone, Debug)]
pub struct FnBody {
    pub file: PathBuf,
    pub name: String,
    pub body: String,
}

/// The functions with bodies of one source file.
pub fn functions_in(path: &Path) -> Vec<FnBody> {
    let code = code_only(&fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    let bytes = code.as_bytes();
    let name = regex::Regex::new(r"\bfn\s+([a-z_][a-z0-9_]*)").unwrap();
    let mut found = Vec::new();
    for m in name.captures_iter(&code) {
        let after = m.get(0).unwrap().end();
        // The body starts at the first `{` outside the signature's parentheses; a `;` first
        // means a declaration without a body (a trait's).
        let mut depth = 0i32;
        let mut open = None;
        for (k, &b) in bytes.iter().enumerate().skip(after) {
            match b {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                b';' if depth == 0 => break,
                b'{' if depth == 0 => {
                    open = Some(k);
                    break;
                }
                _ => {}
            }
        }
        let Some(open) = open else { continue };
        let close = matching_brace(&code, open);
        found.push(FnBody { file: path.to_path_buf(), name: m[1].to_owned(), body: code[open..close].to_owned() });
    }
    found
}

/// The offset of the `}` closing the `{` at `open` (in code without literals), or the end.
pub fn matching_brace(code: &str, open: usize) -> usize {
    let mut level = 0;
    for (k, b) in code.bytes().enumerate().skip(open) {
        match b {
            b'{' => level += 1,
            b'}' => {
                level -= 1;
                if level == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// Names called in a body: `name(`, `.name(`, `Type::name(`, `name::<T>(`.
pub fn called_names(body: &str) -> BTreeSet<String> {
    let call = regex::Regex::new(r"\b([a-z_][a-z0-9_]*)\s*(?:::<[^>]*>)?\s*\(").unwrap();
    call.captures_iter(body).map(|c| c[1].to_owned()).collect()
}

/// SDK operations called in a body: `client.<operation>(` (the clients are named `client`).
pub fn sdk_operations(body: &str) -> Vec<String> {
    let call = regex::Regex::new(r"\bclient\s*\.\s*([a-z_][a-z0-9_]*)\s*\(").unwrap();
    call.captures_iter(body).map(|c| c[1].to_owned()).filter(|op| op != "clone").collect()
}

/// The SDK a file calls: its one `use aws_sdk_<service>::Client`.
fn service_of(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).unwrap();
    let import = regex::Regex::new(r"use aws_sdk_([a-z0-9]+)::Client\b").unwrap();
    let services: BTreeSet<String> = import.captures_iter(&text).map(|c| c[1].to_owned()).collect();
    assert!(services.len() <= 1, "{} imports several SDK clients {services:?}: the scan cannot tell their calls apart", path.display());
    services.into_iter().next()
}

/// `batch_write_item` as the IAM action `dynamodb:BatchWriteItem`.
pub fn iam_action(service: &str, operation: &str) -> String {
    let pascal: String = operation
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    format!("{service}:{pascal}")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The method names of the traits in a core file (`pub trait X { fn a(...); ... }`).
fn trait_methods(path: &Path, traits: &[&str]) -> BTreeSet<String> {
    let code = code_only(&fs::read_to_string(path).unwrap());
    let mut names = BTreeSet::new();
    for name in traits {
        let start = code.find(&format!("trait {name}")).unwrap_or_else(|| panic!("{} has no trait {name}", path.display()));
        let open = start + code[start..].find('{').unwrap();
        let end = matching_brace(&code, open);
        let method = regex::Regex::new(r"\bfn\s+([a-z_][a-z0-9_]*)").unwrap();
        let found: Vec<String> = method.captures_iter(&code[open..end]).map(|c| c[1].to_owned()).collect();
        assert!(!found.is_empty(), "trait {name} in {} has no methods?", path.display());
        names.extend(found);
    }
    names
}

/// The IAM actions of the SDK calls `functions/<function>` can reach, each with one path.
pub fn reachable_sdk_calls(function: &str) -> BTreeMap<String, String> {
    let own_files = rust_files(&repo().join("functions").join(function).join("src"));
    let aws_files = rust_files(&repo().join("aws/src"));
    let mut check_files = own_files.clone();
    check_files.extend(aws_files.iter().cloned());
    for file in &check_files {
        let code = code_only(&fs::read_to_string(file).unwrap());
        let sends = regex::Regex::new(r"\.\s*send\s*\(\s*\)").unwrap().find_iter(&code).count();
        let calls = sdk_operations(&code).len();
        assert_eq!(sends, calls, "{}: {sends} .send() but {calls} client.<operation>( calls the scan recognises", file.display());
        if calls > 0 {
            assert!(service_of(file).is_some(), "{} calls an SDK but imports no aws_sdk_*::Client", file.display());
        }
    }

    let own: Vec<FnBody> = own_files.iter().flat_map(|f| functions_in(f)).collect();
    let aws: Vec<FnBody> = aws_files.iter().flat_map(|f| functions_in(f)).collect();
    let own_text: String = own_files.iter().map(|f| code_only(&fs::read_to_string(f).unwrap())).collect();

    // Names reached, each with the name that reached it.
    let mut reached: BTreeMap<String, String> = BTreeMap::new();
    let mut queue: Vec<String> = Vec::new();
    let mut reach = |name: String, from: String, queue: &mut Vec<String>| {
        if !reached.contains_key(&name) {
            reached.insert(name.clone(), from);
            queue.push(name);
        }
    };
    for f in &own {
        for name in called_names(&f.body) {
            reach(name, format!("functions/{function}: {}", f.name), &mut queue);
        }
    }
    let shared = repo().join("shared/src");
    if own_text.contains("BatchFlow") {
        for name in trait_methods(&shared.join("sink.rs"), &["EventStore", "Archive", "BadRowStore", "AggregateStore"]) {
            reach(name, "the batch flow (shared/src/sink.rs ports)".into(), &mut queue);
        }
    }
    if own_text.contains("roll_up") {
        for name in trait_methods(&shared.join("rollup.rs"), &["AggregateTable"]) {
            reach(name, "the merge (shared/src/rollup.rs AggregateTable)".into(), &mut queue);
        }
    }
    while let Some(name) = queue.pop() {
        for f in aws.iter().filter(|f| f.name == name) {
            for called in called_names(&f.body) {
                reach(called, name.clone(), &mut queue);
            }
        }
    }

    let mut actions = BTreeMap::new();
    for f in own.iter().chain(aws.iter().filter(|f| reached.contains_key(&f.name))) {
        let Some(service) = service_of(&f.file) else { continue };
        for operation in sdk_operations(&f.body) {
            let mut chain = vec![f.name.clone()];
            let mut at = f.name.clone();
            while let Some(from) = reached.get(&at) {
                chain.push(from.clone());
                if from.contains(' ') || chain.len() > 12 {
                    break;
                }
                at = from.clone();
            }
            chain.reverse();
            let file = f.file.strip_prefix(repo()).unwrap_or(&f.file).display().to_string();
            actions.entry(iam_action(&service, &operation)).or_insert_with(|| format!("{} ({file})", chain.join(" -> ")));
        }
    }
    actions
}

#[test]
fn the_scan_blanks_literals_and_comments_and_finds_calls() {
    let code = code_only("let a = \"fn x() { client.query() }\"; // client.scan()\nlet b = '{'; let c = r#\"}\"#; let d = '\\''; fn y<'a>() {}\n");
    assert!(!code.contains("query") && !code.contains("scan"), "{code}");
    assert_eq!((code.matches('{').count(), code.matches('}').count()), (1, 1), "{code}");
    assert!(code.contains("fn y<'a>() {}"), "{code}");
    let source = "fn outer(&self) -> u8 { self.client\n  .batch_write_item()\n .send().await; helper(1); Foo::bar::<u8>(2) }\nfn decl(&self);\n";
    let fns: Vec<FnBody> = {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.rs");
        fs::write(&path, source).unwrap();
        functions_in(&path)
    };
    assert_eq!(fns.len(), 1, "a declaration has no body");
    assert_eq!(sdk_operations(&fns[0].body), ["batch_write_item"]);
    let names = called_names(&fns[0].body);
    assert!(names.contains("helper") && names.contains("bar") && names.contains("batch_write_item"), "{names:?}");
    assert_eq!(iam_action("dynamodb", "batch_write_item"), "dynamodb:BatchWriteItem");
    assert_eq!(iam_action("s3", "put_object"), "s3:PutObject");
}
