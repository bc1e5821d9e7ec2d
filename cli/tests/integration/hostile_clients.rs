//! Network clients that misbehave, against the real `pipeline up` binary (issue: no input
//! can stall the pipeline): slow headers, slow bodies, idle keep-alive connections,
//! thousands of idle sockets, unauthenticated and oversized uploads, and a SIGTERM with
//! half-sent requests. Each asserts what a real client relies on: the bad connection is
//! closed, the good client is answered, memory stays bounded, nothing acknowledged is lost.
//! Limits are made small with flags so the tests stay short; bounds are generous, as the
//! machine may be busy.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use pipeline_testing::{free_port, local::{KEY, READ_KEY, Up}, up};

const EVENT: &str = r#"{"event_type": "pageview", "user_id": 7}"#;

fn small_limits(data: &std::path::Path) -> Up {
    up!(data, free_port(), &["--header-timeout", "2s", "--body-timeout", "2s", "--drain-timeout", "2s"])
}

fn addr(up: &Up) -> String {
    up.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or `within` passes); returns what came.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (bool, String) {
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return (true, String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return (true, String::from_utf8_lossy(&got).into_owned()),
        }
    }
    (false, String::from_utf8_lossy(&got).into_owned())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(20))).build().into()
}

/// A real client's request, and how long its answer took.
fn real_client(base: &str) -> (u16, Duration) {
    let start = Instant::now();
    let resp = agent()
        .post(&format!("{base}/v1/events"))
        .header("x-api-key", KEY)
        .header("content-type", "application/json")
        .send(format!("[{EVENT}]").as_bytes())
        .unwrap();
    (resp.status().as_u16(), start.elapsed())
}

/// Raises this process's soft open-files limit to the hard one, which it returns.
fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain calls with a pointer to a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    limit.rlim_max as u64
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn headers_sent_a_byte_at_a_time_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let up = small_limits(dir.path());
    let mut slow = TcpStream::connect(addr(&up)).unwrap();
    let start = Instant::now();
    let header = format!("POST /v1/events HTTP/1.1\r\nHost: x\r\nx-api-key: {KEY}\r\nX-Slow: ");
    slow.write_all(header.as_bytes()).unwrap();
    // A byte every 300 ms would keep a connection without a header timeout open for ever.
    let mut closed = false;
    while start.elapsed() < Duration::from_secs(20) {
        if slow.write_all(b"a").is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        let (gone, _) = read_until_closed(&mut slow, Duration::from_millis(10));
        if gone {
            closed = true;
            break;
        }
    }
    assert!(closed, "a client dripping its headers was not disconnected within 20 s");
    assert!(start.elapsed() >= Duration::from_millis(1500), "cut off before the 2 s header timeout");
    assert_eq!(real_client(&up.base).0, 200);
}

#[test]
fn a_body_that_does_not_arrive_is_answered_408_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let up = small_limits(dir.path());
    let mut slow = TcpStream::connect(addr(&up)).unwrap();
    let head = format!("POST /v1/events HTTP/1.1\r\nHost: x\r\nx-api-key: {KEY}\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n[{EVENT}");
    slow.write_all(head.as_bytes()).unwrap();
    let (closed, reply) = read_until_closed(&mut slow, Duration::from_secs(20));
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains(r#"{"message":"#), "a JSON error body: {reply}");
    assert!(closed, "the connection stays open after the body timeout");
    assert_eq!(real_client(&up.base).0, 200);
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let up = small_limits(dir.path());
    let mut idle = TcpStream::connect(addr(&up)).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let start = Instant::now();
    let (closed, reply) = read_until_closed(&mut idle, Duration::from_secs(20));
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(closed, "an idle keep-alive connection stayed open for 20 s");
    assert!(start.elapsed() >= Duration::from_millis(1500), "closed before the idle time was up");
}

#[test]
fn thousands_of_idle_connections_do_not_stop_a_real_client() {
    let dir = tempfile::tempdir().unwrap();
    // The default header timeout (10 s): the idle sockets stay for the whole test.
    let up = up!(dir.path(), free_port(), &[]);
    // This process holds the client ends: it needs the descriptors as much as the server.
    let hard = raise_open_files_limit();
    let n = 3_000.min(hard / 4) as usize;
    let mut idle = Vec::new();
    for i in 0..n {
        match TcpStream::connect(addr(&up)) {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connection {i} refused: {e}"),
        }
        if i % 2 == 0 {
            // Half of them start a request and never finish it.
            let _ = idle.last_mut().unwrap().write_all(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n");
        }
    }
    let opened = Instant::now();
    let (status, took) = real_client(&up.base);
    eprintln!("{n} idle connections; the real client took {took:?}, {:?} after the last was opened", opened.elapsed());
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(10), "the real client waited {took:?} behind {n} idle connections");
    let health = agent().get(&format!("{}/health", up.base)).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    drop(idle);
}

#[test]
fn beyond_the_connection_cap_clients_wait_and_are_then_served() {
    let dir = tempfile::tempdir().unwrap();
    let up = up!(dir.path(), free_port(), &["--max-connections", "20", "--header-timeout", "2s"]);
    let idle: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr(&up)).unwrap()).collect();
    // The cap is reached: the next client waits in the backlog until the idle ones time out.
    let (status, took) = real_client(&up.base);
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(15), "{took:?}");
    drop(idle);
}

#[test]
fn unauthenticated_uploads_are_refused_before_their_bodies_are_held() {
    let dir = tempfile::tempdir().unwrap();
    let up = small_limits(dir.path());
    let pid = up.child.id();
    let before = rss_kib(pid);
    let body = vec![b' '; 20 << 20];
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let (base, body) = (up.base.clone(), body.clone());
            std::thread::spawn(move || {
                let key = if i % 2 == 0 { "wrong" } else { READ_KEY };
                let mut resp = agent().post(&format!("{base}/v1/events")).header("x-api-key", key).send(&body[..]).ok()?;
                Some((resp.status().as_u16(), resp.body_mut().read_to_string().unwrap_or_default()))
            })
        })
        .collect();
    let mut answered = 0;
    for t in threads {
        // A client may see its upload cut off past the lingering limit; one that is answered
        // gets the 403 of DESIGN section 4.
        if let Some((status, body)) = t.join().unwrap() {
            assert_eq!((status, body.as_str()), (403, r#"{"message":"Forbidden"}"#));
            answered += 1;
        }
    }
    assert!(answered > 0, "no client got its 403");
    let grew_mib = rss_kib(pid).saturating_sub(before) / 1024;
    assert!(grew_mib < 160, "the server grew by {grew_mib} MiB for 320 MiB of refused uploads");
    assert_eq!(real_client(&up.base).0, 200);
}

#[test]
fn every_413_has_the_json_body() {
    let dir = tempfile::tempdir().unwrap();
    let up = small_limits(dir.path());
    let big = format!("[{}]", vec![EVENT; 140_000].join(","));
    assert!(big.len() > 5 << 20);
    let post = |body: &[u8], gzip: bool| {
        let mut req = agent().post(&format!("{}/v1/events", up.base)).header("x-api-key", KEY);
        if gzip {
            req = req.header("content-encoding", "gzip");
        }
        let mut resp = req.send(body).unwrap();
        (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap_or_default())
    };
    // Over 5 MiB as sent.
    let (status, body) = post(big.as_bytes(), false);
    assert_eq!(status, 413);
    assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["message"].is_string(), "{body}");
    // Small once compressed, over 5 MiB once decompressed (a gzip bomb in miniature).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(big.as_bytes()).unwrap();
    gz.write_all(&vec![b' '; 50 << 20]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    let (status, body) = post(&bomb, true);
    assert_eq!(status, 413);
    assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["message"].is_string(), "{body}");
    // Over 5 MiB in chunks, with no Content-Length to refuse it by.
    let mut s = TcpStream::connect(addr(&up)).unwrap();
    s.write_all(format!("POST /v1/events HTTP/1.1\r\nHost: x\r\nx-api-key: {KEY}\r\ntransfer-encoding: chunked\r\n\r\n").as_bytes()).unwrap();
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..6 {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err() || s.write_all(&chunk).is_err() || s.write_all(b"\r\n").is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let (_, reply) = read_until_closed(&mut s, Duration::from_secs(20));
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains(r#"{"message":"#), "{reply}");
}

#[test]
fn each_key_opens_only_its_own_routes() {
    let dir = tempfile::tempdir().unwrap();
    let up = small_limits(dir.path());
    let call = |method: &str, path: &str, key: Option<&str>| {
        let url = format!("{}{path}", up.base);
        let resp = match (method, key) {
            ("GET", Some(k)) => agent().get(&url).header("x-api-key", k).call(),
            ("GET", None) => agent().get(&url).call(),
            (_, Some(k)) => agent().post(&url).header("x-api-key", k).header("content-type", "application/json").send(format!("[{EVENT}]").as_bytes()),
            (_, None) => agent().post(&url).send(format!("[{EVENT}]").as_bytes()),
        };
        resp.unwrap().status().as_u16()
    };
    let reads = ["/v1/users/7/events", "/v1/bad-rows", "/v1/aggregates?granularity=day"];
    for path in reads {
        assert_eq!(call("GET", path, Some(KEY)), 403, "the ingest key reads {path}");
        assert_eq!(call("GET", path, None), 403, "no key reads {path}");
        assert_eq!(call("GET", path, Some(READ_KEY)), 200, "the read key cannot read {path}");
    }
    for path in ["/v1/events", "/v1/event"] {
        assert_eq!(call("POST", path, Some(READ_KEY)), 403, "the read key posts to {path}");
        assert_eq!(call("POST", path, None), 403, "no key posts to {path}");
    }
    for path in ["/health", "/metrics"] {
        assert_eq!(call("GET", path, None), 200, "{path} is open");
    }
}

#[test]
fn sigterm_with_half_sent_requests_stops_within_the_drain_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = small_limits(dir.path());
    assert_eq!(real_client(&up.base).0, 200);
    // Requests stuck in their headers and in their bodies.
    let mut stuck = Vec::new();
    for i in 0..20 {
        let mut s = TcpStream::connect(addr(&up)).unwrap();
        let part = if i % 2 == 0 {
            "POST /v1/events HTTP/1.1\r\nHost: x\r\n".to_owned()
        } else {
            format!("POST /v1/events HTTP/1.1\r\nHost: x\r\nx-api-key: {KEY}\r\ncontent-length: 100000\r\n\r\n[")
        };
        s.write_all(part.as_bytes()).unwrap();
        stuck.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &up.child.id().to_string()]).status().unwrap().success());
    let status = loop {
        if let Some(status) = up.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no exit within 30 s of SIGTERM (drain time 2 s)");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    for s in &stuck {
        let _ = s.shutdown(Shutdown::Both);
    }
    // The acknowledged event is there after a restart.
    let again = up!(dir.path(), free_port(), &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut resp = agent().get(&format!("{}/v1/users/7/events", again.base)).header("x-api-key", READ_KEY).call().unwrap();
        let body: serde_json::Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        if body["events"].as_array().is_some_and(|e| e.len() == 1) {
            break;
        }
        assert!(Instant::now() < deadline, "the acknowledged event is missing: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `pipeline up` with small limits and the Kinesis endpoint on; returns it and the endpoint's
/// address.
fn small_limits_with_kinesis(data: &std::path::Path, extra: &[&str]) -> (Up, String) {
    let kinesis = format!("127.0.0.1:{}", free_port());
    let mut flags = vec!["--header-timeout", "2s", "--body-timeout", "2s", "--drain-timeout", "2s", "--kinesis-listen", &kinesis];
    flags.extend_from_slice(extra);
    let up = up!(data, free_port(), &flags);
    let start = Instant::now();
    while TcpStream::connect(&kinesis).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "the Kinesis endpoint did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (up, kinesis)
}

/// A `PutRecord` as an SDK sends it (no signature is needed locally); the status it got.
fn kinesis_put_record(kinesis: &str) -> u16 {
    let body = r#"{"StreamName": "events", "PartitionKey": "7", "Data": "eyJldmVudF90eXBlIjogInBhZ2V2aWV3IiwgInVzZXJfaWQiOiA3fQ=="}"#;
    agent()
        .post(&format!("http://{kinesis}/"))
        .header("x-amz-target", "Kinesis_20131202.PutRecord")
        .header("content-type", "application/x-amz-json-1.1")
        .send(body.as_bytes())
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn the_kinesis_endpoint_cuts_off_slow_clients_as_the_http_api_does() {
    let dir = tempfile::tempdir().unwrap();
    let (up, kinesis) = small_limits_with_kinesis(dir.path(), &[]);

    // A body that does not arrive: Kinesis' timeout error, then the connection closes.
    let mut slow_body = TcpStream::connect(&kinesis).unwrap();
    let head = "POST / HTTP/1.1\r\nHost: x\r\nx-amz-target: Kinesis_20131202.PutRecords\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: 10000\r\n\r\n{\"StreamName\": \"events\", \"Records\": [";
    slow_body.write_all(head.as_bytes()).unwrap();
    let (closed, reply) = read_until_closed(&mut slow_body, Duration::from_secs(20));
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains(r#""__type":"RequestTimeoutException""#), "a Kinesis-shaped error: {reply}");
    assert!(closed, "the connection stays open after the body timeout");

    // Headers dripped a byte at a time are cut off by the header timeout.
    let mut slow_head = TcpStream::connect(&kinesis).unwrap();
    let start = Instant::now();
    slow_head.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
    let mut cut = false;
    while start.elapsed() < Duration::from_secs(20) {
        if slow_head.write_all(b"a").is_err() || read_until_closed(&mut slow_head, Duration::from_millis(10)).0 {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(cut, "a client dripping its headers to the Kinesis endpoint was not disconnected within 20 s");
    assert!(start.elapsed() >= Duration::from_millis(1500), "cut off before the 2 s header timeout");

    // An idle keep-alive connection is closed too.
    let mut idle = TcpStream::connect(&kinesis).unwrap();
    idle.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nx-amz-target: Kinesis_20131202.ListStreams\r\ncontent-length: 2\r\n\r\n{}").unwrap();
    let (closed, reply) = read_until_closed(&mut idle, Duration::from_secs(20));
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(closed, "an idle keep-alive connection to the Kinesis endpoint stayed open for 20 s");

    // Neither listener was stalled by any of it.
    assert_eq!(kinesis_put_record(&kinesis), 200);
    assert_eq!(real_client(&up.base).0, 200);
}

#[test]
fn both_listeners_share_the_connection_cap_and_waiting_clients_are_then_served() {
    let dir = tempfile::tempdir().unwrap();
    let (up, kinesis) = small_limits_with_kinesis(dir.path(), &["--max-connections", "20"]);
    // Idle sockets on the Kinesis endpoint take every slot: the HTTP API's client waits in
    // the backlog until they time out, and so does a Kinesis client.
    let idle: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(&kinesis).unwrap()).collect();
    let (status, took) = real_client(&up.base);
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(15), "{took:?}");
    let idle_again: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr(&up)).unwrap()).collect();
    let start = Instant::now();
    assert_eq!(kinesis_put_record(&kinesis), 200);
    assert!(start.elapsed() < Duration::from_secs(15), "{:?}", start.elapsed());
    drop((idle, idle_again));
}

#[test]
fn a_kinesis_endpoint_off_loopback_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let kinesis_port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipeline"))
        .args(["up", "--data-dir", dir.path().to_str().unwrap(), "--listen", &format!("127.0.0.1:{port}"), "--api-key", KEY, "--read-key", READ_KEY])
        .args(["--progress", "0", "--kinesis-listen", &format!("0.0.0.0:{kinesis_port}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout).lines().map_while(Result::ok).take_while(|l| !l.starts_with("try:")).collect::<Vec<_>>()
    });
    let lines = lines.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let warning = lines.iter().find(|l| l.starts_with("warning:")).unwrap_or_else(|| panic!("no warning in {lines:#?}"));
    assert!(warning.contains("Kinesis endpoint") && warning.contains(&format!("0.0.0.0:{kinesis_port}")), "{warning}");
    assert!(warning.contains("--kinesis-listen 127.0.0.1:PORT"), "the warning says how to keep it local: {warning}");
    assert!(!lines.iter().any(|l| l.starts_with("warning:") && l.contains("HTTP API")), "the HTTP API is on loopback: {lines:#?}");
}
