//! `pipeline up` as a black box: the real binary on a free port and a temporary data
//! directory. kill -9 during a load loses no acknowledged event; SIGTERM drains and exits 0.

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipeline_testing::{free_port, local::{KEY, archived_events, terminate, wait_drained}, up};
use serde_json::json;

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Posts batches of 100 events until `stop`; returns the event ids acknowledged with 200.
fn load(base: String, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<String>>>, first: u64) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(5))).build().into();
    let mut next = first;
    while !stop.load(Ordering::Relaxed) {
        let ids: Vec<String> = (next..next + 100).map(uuid).collect();
        next += 100;
        let events: Vec<_> = ids.iter().enumerate().map(|(i, id)| json!({"event_type": "pageview", "user_id": format!("u-{}", i % 17), "event_id": id})).collect();
        match agent.post(&format!("{base}/v1/events")).header("x-api-key", KEY).send_json(&events) {
            Ok(resp) if resp.status() == 200 => acked.lock().unwrap().extend(ids),
            _ => {}
        }
    }
}

/// The `event_id` of every stored event, as `pipeline store events` prints them.
fn stored_ids(data: &Path) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_pipeline")).args(["store", "--data-dir", data.to_str().unwrap(), "events"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["event_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn kill_9_during_a_load_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut first = up!(dir.path(), port);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let producer = {
        let (base, stop, acked) = (first.base.clone(), Arc::clone(&stop), Arc::clone(&acked));
        std::thread::spawn(move || load(base, stop, acked, 0))
    };
    std::thread::sleep(Duration::from_millis(1500));
    first.child.kill().unwrap(); // SIGKILL, mid-load
    first.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(acked.len() >= 100, "the load acknowledged only {} events", acked.len());

    let second = up!(dir.path(), port);
    wait_drained(&second.base);
    let stored = stored_ids(dir.path());
    let stored_set: HashSet<&String> = stored.iter().collect();
    assert_eq!(stored_set.len(), stored.len(), "an event is stored twice");
    let missing: Vec<&String> = acked.iter().filter(|id| !stored_set.contains(id)).collect();
    assert!(missing.is_empty(), "{} of {} acknowledged events lost, e.g. {:?}", missing.len(), acked.len(), missing.first());

    // After the restart the stream goes on: new events are stored too.
    let fresh = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (base, stop, fresh) = (second.base.clone(), Arc::clone(&stop), Arc::clone(&fresh));
        std::thread::spawn(move || load(base, stop, fresh, 10_000_000))
    };
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    wait_drained(&second.base);
    let stored: HashSet<String> = stored_ids(dir.path()).into_iter().collect();
    let fresh = fresh.lock().unwrap();
    assert!(!fresh.is_empty());
    assert!(fresh.iter().all(|id| stored.contains(id)), "events sent after the restart are lost");

    // The archive, finished at a clean stop, holds every stored event exactly once: the
    // batch replayed after the kill was not appended twice.
    terminate(second);
    let archived = archived_ids(dir.path());
    let archived_set: HashSet<&String> = archived.iter().collect();
    assert_eq!(archived_set.len(), archived.len(), "an event is archived twice");
    assert_eq!(archived_set, stored.iter().collect::<HashSet<_>>(), "the archive and the events table differ");
}

/// The `event_id` of every archived line (finished files only; none may be left open).
fn archived_ids(data: &Path) -> Vec<String> {
    archived_events(data).iter().map(|event| event["event_id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let running = up!(dir.path(), free_port());
    let events: Vec<_> = (0..300).map(|i| json!({"event_type": "pageview", "user_id": i, "event_id": uuid(i)})).collect();
    for chunk in events.chunks(100) {
        let resp = ureq::post(&format!("{}/v1/events", running.base)).header("x-api-key", KEY).send_json(chunk).unwrap();
        assert_eq!(resp.status(), 200);
    }
    let status = terminate(running);
    assert!(status.success(), "{status}");
    assert_eq!(stored_ids(dir.path()).len(), 300, "every accepted event processed before exit");
    assert_eq!(archived_ids(dir.path()).len(), 300, "every event archived, in finished files");
}

#[test]
fn a_port_in_use_is_a_clear_start_up_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["up", "--data-dir", dir.path().to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}"), "--api-key", KEY])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("cannot listen") && text.contains(&port.to_string()), "{text}");
}

#[test]
fn a_data_dir_in_use_is_a_clear_start_up_error_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let running = up!(dir.path(), free_port());
    let stream_files = || {
        let mut names: Vec<_> = std::fs::read_dir(dir.path().join("stream")).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        names
    };
    let before = stream_files();
    let mut second = Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["up", "--data-dir", dir.path().to_str().unwrap(), "--listen", &format!("127.0.0.1:{}", free_port()), "--api-key", KEY])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while second.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = second.kill();
    let out = second.wait_with_output().unwrap();
    assert!(!out.status.success(), "a second pipeline started on the same data directory");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("in use by another `pipeline up`") && text.contains(&format!("pid {}", running.child.id())), "{text}");
    assert_eq!(stream_files(), before, "the second start created or removed no stream file");
    assert_eq!(ureq::get(&format!("{}/health", running.base)).call().unwrap().status(), 200);
}

#[test]
fn an_unusable_data_dir_or_database_is_a_clear_start_up_error() {
    let start = |data: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_pipeline"))
            .args(["up", "--data-dir", data.to_str().unwrap(), "--listen", &format!("127.0.0.1:{}", free_port()), "--api-key", KEY])
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let text = start(&file.join("data"));
    assert!(text.contains("cannot create the data directory"), "{text}");

    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("pipeline.db"), vec![0x42u8; 8192]).unwrap();
    let text = start(&data);
    assert!(text.contains("pipeline.db") && text.contains("move it away"), "{text}");
}
