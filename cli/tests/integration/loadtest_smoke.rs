//! `loadtest` (its library, in process) against the real `pipeline up` binary: a short run
//! with --verify conserves every accepted event, the report file has the documented fields,
//! and a wrong API key is a clear error; the smoke run of retention and the archive check
//! (a small verified load whose events then expire). No timing assertions: the machine may
//! be busy.

use std::time::{Duration, Instant};

use clap::Parser;
use pipeline_testing::{free_port, local::{KEY, READ_KEY, finished_archive_files}, up};

fn args(extra: &[&str]) -> loadtest::Args {
    loadtest::Args::try_parse_from(["loadtest", "--quiet"].iter().chain(extra)).unwrap()
}

#[test]
fn a_short_verified_run_conserves_every_accepted_event() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = up!(dir.path(), free_port());
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
    let pipeline = up!(dir.path(), free_port());
    let e = loadtest::run(&args(&["--target", &pipeline.base, "--api-key", "wrong", "--rate", "100", "--duration", "1s"])).unwrap_err();
    let text = format!("{e:#}");
    assert!(text.contains("refused the API key (403") && text.contains("--api-key"), "{text}");
}

#[test]
fn verify_with_the_ingest_key_is_refused_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = up!(dir.path(), free_port());
    #[rustfmt::skip]
    let e = loadtest::run(&args(&[
        "--target", &pipeline.base, "--api-key", KEY, "--read-key", KEY, "--rate", "100", "--duration", "1s", "--verify",
    ]))
    .unwrap_err();
    let text = format!("{e:#}");
    assert!(text.contains("refused the read key (403") && text.contains("--read-key"), "{text}");
}

/// Events of `user` the query API returns (at most 1,000).
fn queried(base: &str, user: &str) -> usize {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().into();
    let mut resp = agent.get(&format!("{base}/v1/users/{user}/events?limit=1000")).header("x-api-key", READ_KEY).call().unwrap();
    resp.body_mut().read_json::<serde_json::Value>().unwrap()["events"].as_array().unwrap().len()
}

/// Lines of `pipeline store events` whatever their age: what the store's files still hold.
fn events_on_disk(data: &std::path::Path) -> usize {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["store", "--data-dir", data.to_str().unwrap(), "--retention", "3650d", "events"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().count()
}

/// The CI smoke run of retention and the archive check: a small load verified in the store
/// and the archive, whose events then leave the queries and the disk after `--retention`
/// while the archive keeps them (no `--archive-retention`).
#[test]
fn smoke_a_small_verified_load_is_archived_then_expires_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let pipeline = up!(data, free_port(), &["--retention", "40s"]);
    let archive = data.join("archive");
    let users = 20;
    #[rustfmt::skip]
    let a = args(&[
        "--target", &pipeline.base, "--api-key", KEY, "--read-key", READ_KEY, "--rate", "1000", "--duration", "2s",
        "--batch-size", "50", "--connections", "4", "--users", &users.to_string(), "--verify", "--verify-timeout", "120s",
        "--archive-dir", archive.to_str().unwrap(),
    ]);
    let outcome = loadtest::run(&a).expect("the run");
    let v = outcome.report.verify.expect("verify");
    assert_eq!((v.accepted, v.missing), (2_000, 0), "{}", outcome.summary());
    assert_eq!((v.archived, v.archive_missing), (Some(v.stored), Some(0)), "{}", outcome.summary());
    let user = |n: u64| format!("{}{n}", loadtest::verify::user_prefix(outcome.run_id));
    let before: usize = (0..users).map(|n| queried(&pipeline.base, &user(n))).sum();
    assert_eq!(before as u64, v.stored);
    let on_disk = events_on_disk(data);
    assert!(on_disk as u64 >= v.stored, "{on_disk} on disk, {} stored", v.stored);

    // Past the retention: gone from every query, then from the disk (whole partitions).
    let started = Instant::now();
    while (0..users).any(|n| queried(&pipeline.base, &user(n)) > 0) || events_on_disk(data) > 0 {
        assert!(started.elapsed() < Duration::from_secs(180), "the run's events did not expire within 180 s");
        std::thread::sleep(Duration::from_millis(500));
    }
    // New events are still stored and archived after the expiry, and the archive still
    // holds the expired ones.
    let again = loadtest::run(&args(&[
        "--target", &pipeline.base, "--api-key", KEY, "--read-key", READ_KEY, "--rate", "200", "--duration", "1s", "--users", "5",
        "--verify", "--verify-timeout", "120s", "--archive-dir", archive.to_str().unwrap(),
    ]))
    .expect("the run after the expiry");
    let w = again.report.verify.unwrap();
    assert_eq!((w.accepted, w.missing, w.archive_missing), (200, 0, Some(0)), "{}", again.summary());
    let archived_lines = archived_event_lines(data);
    assert!(archived_lines as u64 >= v.stored + w.stored, "{archived_lines} archived, {} + {} stored", v.stored, w.stored);
}

/// Events in the finished archive files (gzip NDJSON, one event a line).
fn archived_event_lines(data: &std::path::Path) -> usize {
    use std::io::Read;
    finished_archive_files(data)
        .iter()
        .map(|path| {
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
            text.lines().count()
        })
        .sum()
}
