//! Test helpers: enrichment directories written on the fly, and one event run through the core.

use chrono::{TimeZone, Utc};
use pipeline::enrichments::lookup::TableBudget;
use pipeline::{CoreConfig, EnrichmentError, Enrichments, Outcome, Record, SchemaRegistry, process_batch};

/// A directory holding `files` (name, contents).
pub fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// Enrichments loaded from `files`, with the local table budget.
pub fn load(files: &[(&str, &str)]) -> Result<Enrichments, EnrichmentError> {
    Enrichments::from_dir(dir_with(files).path(), TableBudget::local())
}

/// The core with the embedded schemas and `enrichments`.
pub fn core(enrichments: Enrichments) -> CoreConfig {
    CoreConfig { schemas: SchemaRegistry::embedded().unwrap().into(), enrichments }
}

/// The outcome of one event.
pub fn outcome(core: &CoreConfig, data: &str) -> Outcome {
    let record = Record {
        data: data.as_bytes().to_vec(),
        partition_key: "pk".into(),
        sequence_number: "1".into(),
        sub_sequence_number: 0,
        shard_id: "shardId-000000000000".into(),
        arrival: Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap(),
    };
    process_batch(core, &[record], Utc::now()).remove(0)
}

/// The enriched event's `_pipeline` object; panics on a bad row.
pub fn pipeline_of(core: &CoreConfig, data: &str) -> serde_json::Value {
    match outcome(core, data) {
        Outcome::Event(e) => {
            let text = std::str::from_utf8(&e.json).unwrap();
            assert!(!text.contains('\n'), "one line: {text}");
            let mut v: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
            v["_pipeline"].take()
        }
        Outcome::Bad(b) => panic!("{b:#?}"),
    }
}

/// A pageview on `url` (JSON-escaped by the caller where needed) from `referrer`.
pub fn pageview(url: &str, referrer: &str) -> String {
    format!(r#"{{"event_type":"pageview","user_id":1,"page":{{"url":"{url}","referrer":"{referrer}"}}}}"#)
}

/// Puts at `path`, in turn, each kind of file that is not a regular one (a directory, a
/// link to a device that never ends, a named pipe no one writes to) and calls `check`
/// with its kind; `path` is free again after.
#[cfg(unix)]
pub fn each_non_regular_file(path: &std::path::Path, mut check: impl FnMut(&str)) {
    std::fs::create_dir(path).unwrap();
    check("a directory");
    std::fs::remove_dir(path).unwrap();
    std::os::unix::fs::symlink("/dev/zero", path).unwrap();
    check("a link to a device");
    std::fs::remove_file(path).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo (coreutils)").success());
    check("a named pipe");
    std::fs::remove_file(path).unwrap();
}
