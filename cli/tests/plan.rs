//! `pipeline plan` as an operator runs it: the printed plan, the tfvars file, the errors, and
//! the worked examples of docs/DEPLOY.md, which must be this command's output verbatim.

use std::path::Path;
use std::process::{Command, Output};

fn pipeline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipeline")).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// The value column of a figure in the text output: the line `  <name>  <value>  <why>`.
fn figure<'a>(text: &'a str, name: &str) -> &'a str {
    let line = text
        .lines()
        .find(|l| l.strip_prefix("  ").is_some_and(|rest| rest.starts_with(&format!("{name}  "))))
        .unwrap_or_else(|| panic!("no figure {name:?} in:\n{text}"));
    line[2 + name.len()..].trim_start().split("  ").next().unwrap()
}

#[test]
fn plans_the_prod_target_with_shards_and_a_monthly_total() {
    let out = pipeline(&["plan", "--rate", "100000", "--event-bytes", "600"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Capacity plan: 100,000 events/s × 600 B in us-east-1"), "{text}");
    assert_eq!(figure(&text, "shards"), "125");
    assert_eq!(figure(&text, "parallelization factor"), "1");
    assert_eq!(figure(&text, "gsi_write_shards"), "75");
    assert_eq!(figure(&text, "delivery streams"), "24");
    assert_eq!(figure(&text, "requests/s"), "400");
    let total = figure(&text, "total");
    assert!(total.starts_with('$') && total.len() > 4, "{total}");
    assert!(text.contains("Monthly cost (us-east-1 list prices as of "), "{text}");
    assert!(text.contains("Quota increases to request before launch\n  DynamoDB"), "{text}");
}

#[test]
fn writes_the_tfvars_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prod-plan.tfvars");
    let out = pipeline(&["plan", "--rate", "100000", "--event-bytes", "600", "--out", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("Terraform variables written to {}", path.display())));
    let tfvars = std::fs::read_to_string(&path).unwrap();
    assert!(tfvars.contains("\nshard_count = 125\n"), "{tfvars}");
    assert!(tfvars.contains("\narchive_stream_count = 24\n"), "{tfvars}");
}

#[test]
fn errors_name_the_limit_and_exit_2() {
    let cases: [(&[&str], &str); 5] = [
        (&["--rate", "0", "--event-bytes", "600"], "--rate must be at least 1"),
        (&["--rate", "1000", "--event-bytes", "0"], "--event-bytes must be at least 37"),
        (&["--rate", "1000", "--event-bytes", "2000000"], "Kinesis's limit of 1 MiB"),
        (&["--rate", "100000000", "--event-bytes", "600"], "at most 1365333 events/s"),
        (&["--rate", "1000", "--event-bytes", "600", "--region", "moon-1"], "not an AWS region name"),
    ];
    for (args, message) in cases {
        let out = pipeline(&[&["plan"], args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "no plan is printed on an error");
    }
    let dir = tempfile::tempdir().unwrap();
    let unwritable = dir.path().join("missing-dir").join("plan.tfvars");
    let out = pipeline(&["plan", "--rate", "1000", "--event-bytes", "600", "--out", unwritable.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("cannot write {}", unwritable.display())), "{}", stderr(&out));
    assert!(!unwritable.exists());
}

/// docs/DEPLOY.md shows each worked example between `<!-- pipeline plan ARGS -->` and
/// `<!-- end of pipeline plan -->`: exactly what `pipeline plan ARGS --format markdown` prints.
#[test]
fn the_worked_examples_in_the_docs_are_the_commands_output() {
    let docs_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/DEPLOY.md");
    let docs = std::fs::read_to_string(&docs_path).unwrap();
    const START: &str = "<!-- pipeline plan ";
    const END: &str = "<!-- end of pipeline plan -->";
    let mut examples = 0;
    let mut rest = docs.as_str();
    while let Some(at) = rest.find(START) {
        let after = &rest[at + START.len()..];
        let (args, body) = after.split_once(" -->\n").expect("an example marker ends with ` -->`");
        let (shown, next) = body.split_once(END).expect("an example ends with its end marker");
        let mut argv = vec!["plan"];
        argv.extend(args.split_whitespace());
        argv.extend(["--format", "markdown"]);
        let out = pipeline(&argv);
        assert_eq!(out.status.code(), Some(0), "{args}: {}", stderr(&out));
        assert_eq!(
            shown.trim(),
            stdout(&out).trim(),
            "docs/DEPLOY.md's example `pipeline plan {args}` differs from the command's output: regenerate it"
        );
        examples += 1;
        rest = next;
    }
    assert!(examples >= 2, "docs/DEPLOY.md shows {examples} worked examples of pipeline plan, expected 2");
}
