//! `pipeline-testing`: what the workspace's tests share, as one dev-dependency.
//!
//! Real parts, not mocks: AWS resources on moto_server ([`moto`], [`stack`], [`kinesis`],
//! [`sqs`]), the Lambda Runtime API of cargo-lambda ([`runtime_emulator`]), `pipeline up` as
//! a black box ([`local`], started with [`up!`]), records and the Lambda event that carries
//! them ([`records`]), and the hand-made KPL aggregate ([`kpl_fixture`]).
//!
//! ```no_run
//! use pipeline::workload::WorkloadConfig;
//!
//! # async fn example() {
//! // In a test of a package with AWS resources (moto_server at AWS_ENDPOINT_URL):
//! let aws = pipeline_testing::moto::sdk_config().await;
//! let stack = pipeline_testing::stack::create_stack(&aws, "my-test").await;
//! let stream = pipeline_testing::kinesis::create_stream(&aws, "my-test", 2).await;
//! let records = pipeline_testing::records::timed_records("shardId-000000000000", 10, WorkloadConfig::default());
//! pipeline_testing::kinesis::put_records(&aws, &stream, &records).await;
//! assert_eq!(pipeline_testing::kinesis::read_stream(&aws, &stream).await.len(), records.len());
//! # let _ = stack;
//! # }
//! ```
//!
//! It is a dev-dependency only; nothing here is linked into a binary.

#![warn(missing_docs)]

pub mod kinesis;
pub mod kpl_fixture;
pub mod local;
pub mod moto;
pub mod records;
pub mod runtime_emulator;
pub mod sqs;
pub mod stack;

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A finished process's stdout then stderr, as text (for assertions and their messages).
pub fn text(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
