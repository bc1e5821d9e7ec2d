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

/// The `total` lines of the text: the default configuration's, then the cheapest's.
fn totals(text: &str) -> Vec<f64> {
    text.lines()
        .filter(|l| l.split_whitespace().next() == Some("total"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|v| v.strip_prefix('$'))
        .map(|v| v.replace(',', "").parse().unwrap())
        .collect()
}

#[test]
fn plans_the_goal_at_most_100k_a_month_next_to_the_default() {
    let out = pipeline(&["plan", "--rate", "100000", "--event-bytes", "600", "--query-days", "7"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Capacity plan: 100,000 events/s (steady) × 600 B in us-east-1"), "{text}");
    assert_eq!(figure(&text, "shards"), "125");
    assert_eq!(figure(&text, "parallelization factor"), "1");
    assert_eq!(figure(&text, "requests/s"), "400");
    assert_eq!(figure(&text, "item"), "835 B, 1 WRU");
    let [default, cheapest] = totals(&text)[..] else { panic!("two totals: {text}") };
    assert!(cheapest <= 100_000.0 && default > cheapest, "{default} {cheapest}");
    assert!(text.contains("Monthly cost, default configuration (us-east-1 list prices as of "), "{text}");
    assert!(text.contains("Monthly cost, cheapest configuration that meets the need"), "{text}");
    assert!(text.contains("Levers, in order: each saving on top of the ones before\n"), "{text}");
    assert!(text.contains("Quota increases to request before launch\n  DynamoDB"), "{text}");
    // --event-ttl-days is --query-days.
    let alias = pipeline(&["plan", "--rate", "100000", "--event-bytes", "600", "--event-ttl-days", "7"]);
    assert_eq!(stdout(&alias), text);
}

#[test]
fn writes_the_tfvars_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prod-plan.tfvars");
    let out = pipeline(&["plan", "--rate", "100000", "--event-bytes", "600", "--query-days", "7", "--out", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("Terraform variables written to {}", path.display())));
    let tfvars = std::fs::read_to_string(&path).unwrap();
    assert!(tfvars.contains("\nshard_count = 125\n"), "{tfvars}");
    assert!(tfvars.contains("event_ttl_days                      = 7\n"), "{tfvars}");
    assert!(tfvars.starts_with("# Written by `pipeline plan --rate 100000 --event-bytes 600 --region us-east-1 --batch-size 250 --query-days 7"), "{tfvars}");
}

#[test]
fn json_prints_the_same_figures_as_one_document() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.tfvars");
    let args = ["plan", "--rate", "100000", "--event-bytes", "600", "--query-days", "7"];
    let text = stdout(&pipeline(&args));
    let out = pipeline(&[&args[..], &["--json", "--out", path.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is one JSON document");
    assert!(stderr(&out).contains("Terraform variables written to"), "the note goes to stderr");
    let cents = |v: &serde_json::Value| (v.as_f64().unwrap() * 100.0).round() / 100.0;
    assert_eq!(vec![cents(&json["default"]["total_usd_per_month"]), cents(&json["cheapest"]["total_usd_per_month"])], totals(&text));
    assert_eq!(json["cheapest"]["tfvars"]["shard_count"], 125);
    assert_eq!(json["need"]["query_days"], 7);
    let levers = json["levers"].as_array().unwrap();
    let used: f64 = levers.iter().filter(|l| l["used"] == true).map(|l| l["saving_usd_per_month"].as_f64().unwrap()).sum();
    let difference = json["default"]["total_usd_per_month"].as_f64().unwrap() - json["cheapest"]["total_usd_per_month"].as_f64().unwrap();
    assert!((used - difference).abs() < 0.01, "the savings add up: {used} vs {difference}");
    let sections: Vec<&str> = json["cheapest"]["sections"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
    assert_eq!(sections, ["API Gateway (ingest)", "Kinesis Data Stream", "Processor (Lambda)", "DynamoDB", "Firehose and S3 (archive)"]);
}

#[test]
fn the_need_moves_the_plan() {
    let run = |extra: &[&str]| {
        let out = pipeline(&[&["plan", "--rate", "100000", "--event-bytes", "600", "--query-days", "7"][..], extra].concat());
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", stderr(&out));
        stdout(&out)
    };
    let base = totals(&run(&[]))[1];
    let pitr = run(&["--pitr"]);
    assert!(totals(&pitr)[1] > base && pitr.contains("point-in-time recovery on"), "keeping PITR costs more");
    let indexed = run(&["--type-queries"]);
    assert_eq!(figure(&indexed, "gsi_write_shards"), "75");
    assert!(totals(&indexed)[1] > base);
    let kept = run(&["--query-event-types", "purchase,identify"]);
    assert!(totals(&kept)[1] < base && kept.contains("keep only purchase, identify for per-user queries"), "{kept}");
    let kpl = run(&["--aggregate"]);
    assert!(figure(&kpl, "shards").replace(',', "").parse::<u64>().unwrap() < 125, "bytes bind with KPL");
    assert!(totals(&kpl)[1] < base);
    let spiky = run(&["--burst", "6"]);
    assert!(spiky.contains("events table on-demand"), "spikes of 6× stay on-demand");
    let mean = run(&["--mean-rate", "25000"]);
    assert_eq!(figure(&mean, "shards"), "125", "capacity for the peak");
    assert!(totals(&mean)[1] < base / 2.0, "usage billed for the mean");
}

#[test]
fn errors_name_the_limit_and_exit_2() {
    let cases: [(&[&str], &str); 11] = [
        (&["--rate", "0", "--event-bytes", "600"], "--rate must be at least 1"),
        (&["--rate", "1000", "--event-bytes", "0"], "--event-bytes must be at least 37"),
        (&["--rate", "1000", "--event-bytes", "2000000"], "Kinesis's limit of 1 MiB"),
        (&["--rate", "100000000", "--event-bytes", "600", "--type-queries"], "at most 1365333 events/s"),
        (&["--rate", "1000", "--event-bytes", "600", "--region", "moon-1"], "not an AWS region name"),
        (&["--rate", "1000", "--mean-rate", "2000", "--event-bytes", "600"], "--mean-rate 2000 must be 1 to the peak"),
        (&["--rate", "1000", "--burst", "0.5", "--event-bytes", "600"], "--burst 0.5"),
        (&["--rate", "1000", "--event-bytes", "600", "--query-days", "0"], "--query-days must be 1 to"),
        (&["--rate", "1000", "--event-bytes", "600", "--query-event-types", "pagevew"], "\"pagevew\", which is not a type of the mix"),
        (&["--rate", "1000", "--event-bytes", "600", "--mix", "pageview"], "--mix \"pageview\" is not TYPE=WEIGHT"),
        (&["--rate", "1000", "--event-bytes", "600", "--mix", "pageview=1", "--query-event-types", "click"], "not a type of the mix (pageview)"),
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
