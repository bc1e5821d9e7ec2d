"""Fixtures for the web tests: `pipeline up` (the real binary) on a free port with a fresh
data directory and known keys, stopped (SIGTERM) at the end."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

INGEST_KEY = "web-test-ingest-key"
READ_KEY = "web-test-read-key"


def pipeline_binary():
    """The binary `cargo build --workspace` made (PIPELINE_BIN overrides)."""
    if os.environ.get("PIPELINE_BIN"):
        return os.environ["PIPELINE_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "target"))
    path = os.path.join(target, "debug", "pipeline")
    if not os.path.exists(path):
        pytest.exit(f"no pipeline binary at {path}: run `cargo build --workspace` (or set PIPELINE_BIN)", returncode=2)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pipeline:
    def __init__(self, base, data_dir, process):
        self.base, self.data_dir, self.process = base, data_dir, process

    def request(self, method, path, body=None, key=None):
        request = urllib.request.Request(self.base + path, data=body, method=method)
        if key:
            request.add_header("x-api-key", key)
        if body is not None:
            request.add_header("content-type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()

    def metric(self, name):
        _, text = self.request("GET", "/metrics")
        for line in text.decode().splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
        raise AssertionError(f"no metric {name}")


@pytest.fixture
def pipeline(tmp_path):
    data_dir = tmp_path / "data"
    port = free_port()
    log = open(tmp_path / "pipeline.log", "w")
    process = subprocess.Popen(
        [pipeline_binary(), "up", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}",
         "--api-key", INGEST_KEY, "--read-key", READ_KEY, "--progress", "0", "--aggregate-interval", "1s"],
        stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/health", timeout=2).read()
            break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                raise AssertionError("pipeline up did not start: " + open(tmp_path / "pipeline.log").read())
            time.sleep(0.1)
    yield Pipeline(base, data_dir, process)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
