//! Clear errors for inputs that cannot work, before any load is sent.

use clap::Parser;
use pipeline_testing::free_port;

fn run(extra: &[&str]) -> String {
    let args = loadtest::Args::try_parse_from(["loadtest", "--quiet", "--rate", "100", "--duration", "1s"].iter().chain(extra)).unwrap();
    format!("{:#}", loadtest::run(&args).unwrap_err())
}

#[test]
fn an_unreachable_target_is_named_with_the_fix() {
    // A port nobody listens on.
    let port = free_port();
    let target = format!("http://127.0.0.1:{port}");
    let text = run(&["--target", &target, "--api-key", "k"]);
    assert!(text.contains(&format!("cannot reach {target}")) && text.contains("pipeline up"), "{text}");
}

#[test]
fn missing_target_key_or_a_bad_url_say_what_to_pass() {
    let text = run(&["--api-key", "k"]);
    assert!(text.contains("--target"), "{text}");
    let text = run(&["--target", "http://127.0.0.1:9"]);
    assert!(text.contains("--api-key"), "{text}");
    let text = run(&["--target", "localhost:8080", "--api-key", "k"]);
    assert!(text.contains("http://"), "{text}");
}
