//! Many archive partitions in one batch, as a black box: a backfill of one user over 2,000
//! distinct hours (4 requests of 500 events) is processed promptly, with the pipeline's
//! open file descriptors bounded, and so is the same backfill replayed after a kill -9.
//! On a clean stop every archive file is finished and holds each event once.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pipeline_testing::{free_port, local::{KEY, READ_KEY, Up}, up};
use serde_json::json;

const HOURS: u64 = 2_000;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(30))).build().into()
}

/// Posts the backfill: one event per hour for `HOURS` hours before 2026-01-01, in 4 requests.
fn post_backfill(base: &str) {
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc();
    let events: Vec<_> = (0..HOURS)
        .map(|h| {
            let t = start - chrono::Duration::hours(h as i64 + 1);
            json!({"event_type": "pageview", "user_id": "backfill", "timestamp": t.to_rfc3339(), "event_id": format!("00000000-0000-4000-8000-{h:012}")})
        })
        .collect();
    for chunk in events.chunks(500) {
        let resp = agent().post(&format!("{base}/v1/events")).header("x-api-key", KEY).send_json(chunk).unwrap();
        assert_eq!(resp.status(), 200);
    }
}

/// Events of `user` the query API returns (keys only, one page).
fn stored(base: &str, user: &str) -> usize {
    let mut resp = agent().get(&format!("{base}/v1/users/{user}/events?fields=event_id&limit=10000")).header("x-api-key", READ_KEY).call().unwrap();
    let body: serde_json::Value = resp.body_mut().read_json().unwrap();
    body["events"].as_array().map_or(0, Vec::len)
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Waits until the backfill and a canary sent after it are stored; returns the most file
/// descriptors seen open meanwhile.
fn wait_stored(running: &Up) -> usize {
    let canary = [json!({"event_type": "click", "user_id": "canary", "element_id": "b", "page_url": "https://example.com/"})];
    assert_eq!(agent().post(&format!("{}/v1/events", running.base)).header("x-api-key", KEY).send_json(&canary).unwrap().status(), 200);
    let started = Instant::now();
    let mut most = 0;
    while stored(&running.base, "backfill") < HOURS as usize || stored(&running.base, "canary") < 1 {
        most = most.max(open_descriptors(running.child.id()));
        assert!(started.elapsed() < Duration::from_secs(90), "the backfill was not processed within 90 s: {} of {HOURS} stored", stored(&running.base, "backfill"));
        std::thread::sleep(Duration::from_millis(100));
    }
    most
}

fn terminate(mut running: Up) {
    assert!(Command::new("kill").args(["-TERM", &running.child.id().to_string()]).status().unwrap().success());
    let started = Instant::now();
    loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no exit within 60 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The archive's partitions of the backfill and the ids in them (finished files only).
fn archived(data: &Path) -> (usize, Vec<String>) {
    use std::io::Read;
    let root = data.join("archive/events/event_type=pageview");
    let mut hours = HashSet::new();
    let mut ids = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!name.starts_with('.'), "an archive file left unfinished: {}", path.display());
            hours.insert(path.parent().unwrap().to_path_buf());
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap()).read_to_string(&mut text).unwrap();
            ids.extend(text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event_id"].as_str().unwrap().to_owned()));
        }
    }
    (hours.len(), ids)
}

fn assert_archive_whole(data: &Path) {
    let (hours, ids) = archived(data);
    assert_eq!(hours, HOURS as usize, "one archive partition per hour");
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (HOURS as usize, HOURS as usize), "each event archived once");
}

#[test]
fn a_backfill_over_2000_hours_is_processed_promptly_with_bounded_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let running = up!(dir.path(), free_port());
    let before = open_descriptors(running.child.id());
    post_backfill(&running.base);
    let most = wait_stored(&running);
    // 4 shards x 64 archive files at most, the store's files, and the test's connections.
    assert!(most <= before + 4 * 64 + 64, "{most} descriptors open (from {before}): the archive's are not bounded");
    terminate(running);
    assert_archive_whole(dir.path());
}

#[test]
fn a_backfill_replayed_after_kill_9_is_processed_promptly_and_archived_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Nothing is processed before the kill: the restart does all of it.
    let mut first = up!(dir.path(), port, &["--pause-consumers", "1h"]);
    post_backfill(&first.base);
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    drop(first);
    let again = up!(dir.path(), port);
    wait_stored(&again);
    terminate(again);
    assert_archive_whole(dir.path());
}
