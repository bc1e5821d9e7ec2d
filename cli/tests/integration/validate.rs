//! `pipeline validate` as producers run it in their CI: output shapes and exit statuses.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// `pipeline ARGS` with every stream piped.
fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(args)
        .env_remove("SCHEMAS_DIR")
        .env_remove("ENRICHMENTS_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn pipeline(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = spawn(args);
    // A child that fails before reading its input (a usage error) closes the pipe first.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const VALID: &str = r#"{"event_type": "pageview", "user_id": 123}"#;

#[test]
fn json_mode_prints_one_line_per_input_line() {
    let input = format!("{VALID}\n{{\"event_type\": \"purchase\", \"user_id\": 1, \"order_id\": \"o\", \"amount\": -3, \"currency\": \"USD\", \"items\": [{{\"sku\": \"a\", \"quantity\": 1, \"price\": 1}}]}}\n\nnot json\n{VALID}");
    let out = pipeline(&["validate", "--json", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 5, "a last line without a newline counts; an empty line is a record");
    assert_eq!(lines[0], serde_json::json!({"line": 1, "valid": true}));
    assert_eq!(
        lines[1],
        serde_json::json!({"line": 2, "valid": false, "type": "schema_violation",
            "errors": [{"path": "/amount", "keyword": "minimum", "message": "-3 is less than the minimum of 0"}]})
    );
    assert_eq!(lines[2]["type"], "malformed");
    assert_eq!(lines[3]["type"], "malformed");
    assert_eq!(lines[4], serde_json::json!({"line": 5, "valid": true}));
}

#[test]
fn all_valid_exits_zero_with_a_summary() {
    let out = pipeline(&["validate", "-"], format!("{VALID}\n{VALID}\n").as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("checked 2 events") && text.contains("valid:   2"), "{text}");
}

#[test]
fn summary_lists_invalid_lines_by_type() {
    let out = pipeline(&["validate", "-"], b"{\"event_type\": \"signup\", \"user_id\": 1}\n");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unknown_event_type: 1") && text.contains("line 1: unknown_event_type"), "{text}");
}

#[test]
fn usage_and_io_errors_exit_two() {
    assert_eq!(pipeline(&["validate"], b"").status.code(), Some(2));
    let missing = pipeline(&["validate", "/nonexistent/events.ndjson"], b"");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/events.ndjson"));
    let bad_schemas = pipeline(&["validate", "--schemas", "/nonexistent/schemas", "-"], VALID.as_bytes());
    assert_eq!(bad_schemas.status.code(), Some(2));
}

#[test]
fn a_schemas_directory_replaces_the_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("signup")).unwrap();
    std::fs::write(
        dir.path().join("signup/1-0-0.json"),
        r#"{"type": "object", "properties": {"event_type": {"const": "signup"}, "user_id": {"type": "integer"}}, "required": ["user_id"]}"#,
    )
    .unwrap();
    let schemas = dir.path().to_str().unwrap();
    let input = format!("{{\"event_type\": \"signup\", \"user_id\": 1}}\n{VALID}\n");
    let out = pipeline(&["validate", "--json", "--schemas", schemas, "-"], input.as_bytes());
    let lines = json_lines(&out);
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[1]["type"], "unknown_event_type");
}

#[test]
fn the_example_file_has_the_documented_outcomes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/events.ndjson");
    let out = pipeline(&["validate", "--json", path], b"");
    let kinds: Vec<String> = json_lines(&out).iter().map(|l| l["type"].as_str().unwrap_or("valid").to_owned()).collect();
    assert_eq!(
        kinds,
        ["valid", "valid", "valid", "valid", "valid", "schema_violation", "unknown_event_type", "unknown_schema_version", "malformed"]
    );
}

#[test]
fn a_line_of_any_length_is_one_size_violation_in_bounded_memory() {
    // 256 MiB without a line break, then a valid line: the long one is refused with its real
    // length, the next one still checked, and the process never holds the long line.
    let long = 256usize << 20;
    let mut child = spawn(&["validate", "--json", "-"]);
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..(long >> 20) {
            stdin.write_all(&chunk).unwrap();
        }
        stdin.write_all(format!("\n{VALID}\n").as_bytes()).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lines[0]["type"], "size_violation");
    assert_eq!(lines[0]["errors"][0]["keyword"], "maxBytes");
    assert!(lines[0]["errors"][0]["message"].as_str().unwrap().contains(&long.to_string()), "{}", lines[0]);
    assert_eq!(lines[1], serde_json::json!({"line": 2, "valid": true}));
    #[cfg(target_os = "linux")]
    {
        // The largest child this test process has waited for (other tests' children are small).
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
        let peak_mib = usage.ru_maxrss / 1024;
        assert!(peak_mib < 128, "validate held {peak_mib} MiB for a {} MiB line", long >> 20);
    }
}

#[test]
fn a_reader_that_goes_away_stops_it_quietly() {
    // `pipeline validate --json big.ndjson | head -1`
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, format!("{VALID}\n").repeat(200_000)).unwrap();
    let mut child = spawn(&["validate", "--json", file.to_str().unwrap()]);
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "no panic, no error: {stderr}");
    assert_ne!(out.status.code(), Some(101), "a panic's exit status");
}

/// An enrichments directory with a required lookup of purchase items' skus.
fn required_lookup_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("products.json"),
        r#"{"enrichment": "lookup", "name": "products", "enabled": true, "required": true,
            "parameters": {"table": "products.csv", "key": "items[].sku", "event_types": ["purchase"]}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("products.csv"), "sku,category\nW-1,widgets\n").unwrap();
    std::fs::write(dir.path().join("campaign.json"), r#"{"enrichment": "campaign", "enabled": false}"#).unwrap();
    dir
}

#[test]
fn enrichments_alone_are_checked_and_listed() {
    let dir = required_lookup_dir();
    let out = pipeline(&["validate", "--enrichments", dir.path().to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("campaign.json: campaign (off)"), "{text}");
    assert!(text.contains("products.json: lookup products (on, required, 1 row from products.csv"), "{text}");

    std::fs::write(dir.path().join("products.csv"), "sku,category\nW-1,widgets\nW-1,again\n").unwrap();
    let out = pipeline(&["validate", "--enrichments", dir.path().to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("enrichment file products.json: products.csv line 3: the key \"W-1\" is in the table twice"), "{err}");

    let out = pipeline(&["validate"], b"");
    assert_eq!(out.status.code(), Some(2), "no input and nothing to check is a usage error");
}

#[test]
fn a_required_enrichment_that_fails_is_an_enrichment_failure() {
    let dir = required_lookup_dir();
    let purchase = |sku: &str| format!(r#"{{"event_type": "purchase", "user_id": 1, "order_id": "o", "amount": 1, "currency": "USD", "items": [{{"sku": "{sku}", "quantity": 1, "price": 1}}]}}"#);
    let input = format!("{}\n{}\n{VALID}\n", purchase("W-1"), purchase("W-9"));
    let out = pipeline(&["validate", "--json", "--enrichments", dir.path().to_str().unwrap(), "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[1]["type"], "enrichment_failure");
    assert_eq!(lines[1]["errors"][0]["path"], "/items/0/sku");
    assert_eq!(lines[1]["errors"][0]["keyword"], "lookup");
    assert_eq!(lines[2]["valid"], true);
    let out = pipeline(&["validate", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "the embedded enrichments require nothing");
}
