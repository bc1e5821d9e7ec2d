//! Test helpers: `pipeline up` as a black box on a free port and a temporary data dir.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The ingest key of every `pipeline up` the tests start.
pub const KEY: &str = "k";
/// The read key of every `pipeline up` the tests start.
pub const READ_KEY: &str = "r";

/// A running `pipeline up`, killed when dropped.
pub struct Up {
    pub child: Child,
    pub base: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `pipeline up` on `port` with `data` and waits until `/health` answers.
pub fn up(data: &Path, port: u16) -> Up {
    up_with(data, port, &[])
}

/// [`up`] with more flags.
pub fn up_with(data: &Path, port: u16, extra: &[&str]) -> Up {
    let child = Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["up", "--data-dir", data.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}"), "--api-key", KEY, "--read-key", READ_KEY, "--progress", "0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while ureq::get(&format!("{base}/health")).call().is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "pipeline up did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Up { child, base }
}

/// The finished archive files under `data`'s `archive/events/` (not the hidden open ones).
pub fn finished_archive_files(data: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![data.join("archive/events")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if !entry.file_name().to_string_lossy().starts_with('.') {
                files.push(path);
            }
        }
    }
    files
}
