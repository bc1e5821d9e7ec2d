//! The CI smoke test of the Kinesis path: `loadtest --kinesis events --verify` (the library, in
//! process, with AWS_ENDPOINT_URL at `pipeline up --kinesis-listen`), one event per record and
//! with `--aggregate`, conserves every accepted event. One test in this file: it sets the
//! process's environment.

use clap::Parser;
use pipeline_testing::{free_port, local::READ_KEY, up};

#[test]
fn loadtest_kinesis_verify_conserves_every_event_plain_and_aggregated() {
    let dir = tempfile::tempdir().unwrap();
    let kinesis = format!("127.0.0.1:{}", free_port());
    let pipeline = up!(dir.path(), free_port(), &["--kinesis-listen", &kinesis]);
    // SAFETY: the only test of this binary; nothing else reads the environment meanwhile.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", format!("http://{kinesis}"));
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    }
    for extra in [&[][..], &["--aggregate", "--batch-size", "2000"][..]] {
        #[rustfmt::skip]
        let args = loadtest::Args::try_parse_from(
            ["loadtest", "--quiet", "--kinesis", "events", "--target", &pipeline.base, "--read-key", READ_KEY, "--rate", "2000",
             "--duration", "2s", "--users", "50", "--verify", "--verify-timeout", "120s"].iter().chain(extra),
        )
        .unwrap();
        let outcome = loadtest::run(&args).expect("the run");
        assert!(outcome.problems.is_empty(), "{extra:?}: {:?}\n{}", outcome.problems, outcome.summary());
        let v = outcome.report.verify.expect("verify");
        assert_eq!((outcome.report.sent, v.accepted, v.missing), (4_000, 4_000, 0), "{extra:?}: {}", outcome.summary());
        assert!(v.bad_rows > 0 && v.stored > v.bad_rows, "{v:?}");
        assert_eq!(outcome.extras.misplaced, 0);
    }
}
