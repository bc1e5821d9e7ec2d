//! Retention as a black box: with a short `--retention`, events and bad rows older than
//! it disappear from the query API and then from the disk (a partition at a time), newer
//! ones stay, also across a restart; with `--archive-retention`, finished archive files
//! go once they are older than it. Times are generous: the machine may be busy.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pipeline_testing::{free_port, local::{KEY, READ_KEY, Up, finished_archive_files}, up};
use serde_json::json;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(10))).build().into()
}

fn post(base: &str, user: &str) {
    let events: Vec<_> = (0..50).map(|i| json!({"event_type": "pageview", "user_id": user, "event_id": format!("00000000-0000-4000-8000-{i:012}")})).collect();
    let mut all = events;
    all.push(json!({"event_type": "no_such_type", "user_id": user}));
    let resp = agent().post(&format!("{base}/v1/events")).header("x-api-key", KEY).send_json(&all).unwrap();
    assert_eq!(resp.status(), 200);
}

fn stored(base: &str, user: &str) -> usize {
    let mut resp = agent().get(&format!("{base}/v1/users/{user}/events?limit=1000")).header("x-api-key", READ_KEY).call().unwrap();
    resp.body_mut().read_json::<serde_json::Value>().unwrap()["events"].as_array().unwrap().len()
}

fn bad_rows_of(base: &str, user: &str) -> usize {
    let mut resp = agent().get(&format!("{base}/v1/bad-rows?limit=1000")).header("x-api-key", READ_KEY).call().unwrap();
    let body: serde_json::Value = resp.body_mut().read_json().unwrap();
    body["bad_rows"].as_array().unwrap().iter().filter(|r| r["partition_key"] == user).count()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Users with events on disk, whatever their age (`pipeline store` with a retention far
/// longer than the pipeline's shows what the files still hold).
fn users_on_disk(data: &Path) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_pipeline")).args(["store", "--data-dir", data.to_str().unwrap(), "--retention", "3650d", "events"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut users: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["user_id"].as_str().unwrap().to_owned()).collect();
    users.dedup();
    users
}

fn terminate(mut running: Up) {
    assert!(Command::new("kill").args(["-TERM", &running.child.id().to_string()]).status().unwrap().success());
    let started = Instant::now();
    while running.child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "no exit within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn expired_events_and_bad_rows_leave_the_queries_and_the_disk_and_the_rest_stays() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let running = up!(dir.path(), port, &["--retention", "12s"]);
    // Timed from before the post: their arrival (kept in whole seconds) is at most a second
    // before this, however long the store then takes to hold them.
    let posted_old = Instant::now();
    post(&running.base, "old");
    wait_for("the old events stored", Duration::from_secs(20), || stored(&running.base, "old") == 50 && bad_rows_of(&running.base, "old") == 1);
    std::thread::sleep(Duration::from_secs(6));
    post(&running.base, "new");
    wait_for("the new events stored", Duration::from_secs(20), || stored(&running.base, "new") == 50);

    // 12 s after their arrival the old ones are gone from every query; the new ones
    // (6 s younger) are not.
    wait_for("the old events expired from the queries", Duration::from_secs(30), || stored(&running.base, "old") == 0 && bad_rows_of(&running.base, "old") == 0);
    assert!(posted_old.elapsed() >= Duration::from_secs(11), "expired early, after {:?}", posted_old.elapsed());
    assert_eq!(stored(&running.base, "new"), 50, "newer events stay");
    assert_eq!(bad_rows_of(&running.base, "new"), 1);
    // And from the disk: their partition is removed whole.
    wait_for("the old events removed from the disk", Duration::from_secs(30), || !users_on_disk(dir.path()).contains(&"old".to_string()));

    // A restart (with a longer retention) keeps the rest.
    terminate(running);
    let again = up!(dir.path(), port, &["--retention", "1h"]);
    assert_eq!(stored(&again.base, "new"), 50);
    assert_eq!(stored(&again.base, "old"), 0);
    assert_eq!(users_on_disk(dir.path()), ["new"]);
}

#[test]
fn archive_files_older_than_the_archive_retention_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let running = up!(dir.path(), free_port(), &["--archive-retention", "3s"]);
    post(&running.base, "archived");
    // Finished once idle (about 5 s), then removed once 3 s old.
    wait_for("an archive file finished", Duration::from_secs(30), || !finished_archive_files(dir.path()).is_empty());
    wait_for("the archive file removed", Duration::from_secs(30), || finished_archive_files(dir.path()).is_empty());
    // The events themselves are kept (--retention is 30 days).
    assert_eq!(stored(&running.base, "archived"), 50);
}
