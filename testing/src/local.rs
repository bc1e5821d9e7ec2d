//! `pipeline up` as a black box: started on a port with a temporary data dir and known
//! keys, waited for, stopped with SIGTERM, and what it archived read back.
//!
//! The binary is the calling package's: [`up!`](crate::up) names it with
//! `env!("CARGO_BIN_EXE_pipeline")`, which cargo sets only while it builds that package's
//! tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The ingest key of every `pipeline up` the tests start.
pub const KEY: &str = "k";
/// The read key of every `pipeline up` the tests start.
pub const READ_KEY: &str = "r";

/// How long a starting pipeline may take to answer `/health`.
const START_WITHIN: Duration = Duration::from_secs(30);

/// A running `pipeline up`, killed when dropped.
pub struct Up {
    /// The process.
    pub child: Child,
    /// Its HTTP API, `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Up {
    /// Starts `binary up` on `port` with `data`, [`KEY`], [`READ_KEY`] and `extra` flags, and
    /// waits until `/health` answers.
    pub fn start(binary: &str, data: &Path, port: u16, extra: &[&str]) -> Self {
        let child = Command::new(binary)
            .args(["up", "--data-dir", data.to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}"), "--api-key", KEY, "--read-key", READ_KEY, "--progress", "0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        wait_for_health(&base);
        Up { child, base }
    }
}

/// Starts the package's `pipeline up` on a port with a data dir (and more flags): [`Up::start`]
/// with `env!("CARGO_BIN_EXE_pipeline")`, so only in an integration test of the crate that
/// builds `pipeline` (`pipeline-cli`); hence not compiled as a doc test here:
///
/// ```ignore
/// let running = pipeline_testing::up!(dir.path(), pipeline_testing::free_port());
/// let with_kinesis = pipeline_testing::up!(dir.path(), port, &["--kinesis-listen", &at]);
/// ```
#[macro_export]
macro_rules! up {
    ($data:expr, $port:expr) => {
        $crate::local::Up::start(env!("CARGO_BIN_EXE_pipeline"), $data, $port, &[])
    };
    ($data:expr, $port:expr, $extra:expr) => {
        $crate::local::Up::start(env!("CARGO_BIN_EXE_pipeline"), $data, $port, $extra)
    };
}

/// Waits until `base`'s `/health` answers (local mode started, in this process or another).
pub fn wait_for_health(base: &str) {
    let start = Instant::now();
    while ureq::get(&format!("{base}/health")).call().is_err() {
        assert!(start.elapsed() < START_WITHIN, "local mode did not start: {base}/health does not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, then the exit within 15 s.
pub fn terminate(mut running: Up) -> std::process::ExitStatus {
    let pid = running.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let start = Instant::now();
    loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "no exit within 15 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every archived event (finished files only; none may be left open).
pub fn archived_events(data: &Path) -> Vec<serde_json::Value> {
    use std::io::Read;
    let mut events = Vec::new();
    let mut dirs = vec![data.join("archive/events")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            assert!(name.ends_with(".jsonl.gz") && !name.starts_with('.'), "an archive file left unfinished: {}", path.display());
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap()).read_to_string(&mut text).unwrap();
            for line in text.lines() {
                events.push(serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: {e}: {line:?}", path.display())));
            }
        }
    }
    events
}

/// Waits until every accepted event is processed (`/health` reports no lag).
pub fn wait_drained(base: &str) {
    let start = Instant::now();
    loop {
        let lag = ureq::get(&format!("{base}/health")).call().ok().and_then(|mut r| r.body_mut().read_json::<serde_json::Value>().ok()).and_then(|v| v["lag"].as_u64());
        if lag == Some(0) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the stream did not drain: lag {lag:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
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
