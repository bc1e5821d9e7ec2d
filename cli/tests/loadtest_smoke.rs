//! `loadtest` (its library, in process) against the real `pipeline up` binary: a short run
//! with --verify conserves every accepted event, the report file has the documented fields,
//! and a wrong API key is a clear error. No timing assertions: the machine may be busy.

mod common;

use clap::Parser;
use common::{KEY, READ_KEY, free_port, up};

fn args(extra: &[&str]) -> loadtest::Args {
    loadtest::Args::try_parse_from(["loadtest", "--quiet"].iter().chain(extra)).unwrap()
}

#[test]
fn a_short_verified_run_conserves_every_accepted_event() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = up(dir.path(), free_port());
    let report_path = dir.path().join("report.json");
    let report_arg = report_path.to_str().unwrap();
    let archive = dir.path().join("archive");
    #[rustfmt::skip]
    let a = args(&[
        "--target", &pipeline.base, "--api-key", KEY, "--read-key", READ_KEY, "--rate", "2000", "--duration", "2s",
        "--batch-size", "100", "--connections", "4", "--users", "50", "--verify", "--verify-timeout", "120s",
        "--archive-dir", archive.to_str().unwrap(), "--report", report_arg,
    ]);
    let outcome = loadtest::run(&a).expect("the run");
    assert!(outcome.problems.is_empty(), "{:?}\n{}", outcome.problems, outcome.summary());
    let r = &outcome.report;
    assert_eq!(r.sent, 4_000);
    assert!(r.accepted > 0 && r.accepted + r.failed == r.sent, "{r:?}");
    let v = r.verify.expect("verify");
    assert_eq!(v.accepted, r.accepted);
    assert_eq!(v.missing, 0, "{}", outcome.summary());
    assert_eq!(v.stored + v.bad_rows, v.accepted);
    // Every valid accepted event is in the archive too.
    assert_eq!((v.archived, v.archive_missing), (Some(v.stored), Some(0)), "{}", outcome.summary());
    // About 5% of the workload is invalid on purpose.
    assert!(v.bad_rows > 0 && v.bad_rows < v.accepted / 5, "{v:?}");
    assert_eq!(outcome.extras.misplaced, 0);

    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&json), ["accepted", "achieved_events_per_s", "duration_s", "failed", "latency_ms", "sent", "throttled", "verify"]);
    assert_eq!(keys(&json["latency_ms"]), ["max", "p50", "p90", "p99", "p999"]);
    assert_eq!(keys(&json["verify"]), ["accepted", "archive_missing", "archived", "bad_rows", "missing", "stored"]);
    assert_eq!(json["sent"], 4_000);
    assert_eq!(json["verify"]["missing"], 0);
    assert!(json["latency_ms"]["p99"].as_f64().unwrap() > 0.0);

    // A second run against the same pipeline counts only its own events.
    let again = loadtest::run(&args(&[
        "--target", &pipeline.base, "--api-key", KEY, "--read-key", READ_KEY, "--rate", "500", "--duration", "1s", "--users", "5", "--verify",
    ]))
    .expect("the second run");
    let v = again.report.verify.unwrap();
    assert_eq!((v.accepted, v.missing), (500, 0), "{}", again.summary());
}

#[test]
fn a_wrong_api_key_is_a_clear_error_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = up(dir.path(), free_port());
    let e = loadtest::run(&args(&["--target", &pipeline.base, "--api-key", "wrong", "--rate", "100", "--duration", "1s"])).unwrap_err();
    let text = format!("{e:#}");
    assert!(text.contains("refused the API key (403") && text.contains("--api-key"), "{text}");
}

#[test]
fn verify_with_the_ingest_key_is_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = up(dir.path(), free_port());
    #[rustfmt::skip]
    let e = loadtest::run(&args(&[
        "--target", &pipeline.base, "--api-key", KEY, "--read-key", KEY, "--rate", "100", "--duration", "1s", "--verify",
    ]))
    .unwrap_err();
    let text = format!("{e:#}");
    assert!(text.contains("refused the read key (403") && text.contains("--read-key"), "{text}");
}
