//! The Lambda Runtime API for the functions' tests: cargo-lambda's emulator on a free port, a
//! function binary wired to it and to moto_server, and `cargo lambda invoke`.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills a child process when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Runtime API emulator alone (`cargo lambda watch --only-lambda-apis`): the tests run
/// the binary cargo already built, so the emulator need not build it (and wait on cargo's
/// lock held by this very test run).
pub struct Emulator {
    /// Where the emulator listens, on 127.0.0.1.
    pub port: u16,
    _process: Running,
}

impl Emulator {
    /// Starts the emulator and waits until it listens.
    pub fn start() -> Self {
        let port = crate::free_port();
        let process = Running(
            Command::new("cargo")
                .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cargo lambda is installed (pip install cargo-lambda)"),
        );
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(60), "the runtime emulator did not start on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { port, _process: process }
    }

    /// `binary` as the emulator's function (`_`), talking to moto ([`crate::moto::process_env`]);
    /// add its own settings with `.env(...)` and spawn it.
    pub fn function(&self, binary: &str) -> Command {
        let mut command = Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{}/.rt", self.port))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .envs(crate::moto::process_env());
        command
    }

    /// `cargo lambda invoke` with the event in `fixture`; the function's JSON answer.
    pub fn invoke(&self, fixture: &Path) -> serde_json::Value {
        let invoke = Command::new("cargo")
            .args(["lambda", "invoke", "-A", "127.0.0.1", "-P", &self.port.to_string(), "--data-file"])
            .arg(fixture)
            .output()
            .unwrap();
        assert!(invoke.status.success(), "invoke failed: {}", String::from_utf8_lossy(&invoke.stderr));
        serde_json::from_slice(&invoke.stdout).unwrap()
    }
}
