//! `pipeline-aws`: the operator's tools for a deployed stack, in a binary of its own so
//! that the local `pipeline` binary links no AWS SDK (and the Lambdas no CLI).
//!
//! - `pipeline-aws recover`: bad rows from the bad-rows bucket back into the Kinesis stream
//!   after a fix, each event once ([`recover`], over crate `pipeline-recover`).
//! - `pipeline-aws replay`: the batches Lambda gave up on, read again from the stream and
//!   written through the processor's own batch flow and sinks ([`replay`]).
//!
//! AWS credentials, region and `AWS_ENDPOINT_URL` come from the environment, as for every
//! AWS SDK client.
//!
//! ```sh
//! pipeline-aws recover --bad-rows-bucket BUCKET --kinesis STREAM --type schema_violation --patch fix.json --dry-run
//! # with the processor's environment (EVENTS_TABLE, ARCHIVE_STREAMS, BAD_ROWS_BUCKET, ...):
//! pipeline-aws replay --queue QUEUE --stream STREAM
//! ```
//!
//! `pipeline-aws recover --help` and `pipeline-aws replay --help` explain every flag.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bucket;
mod failure_record;
mod recover;
mod replay;
mod shard_reader;

#[derive(Parser)]
#[command(name = "pipeline-aws", version, about = "Operate a deployed event pipeline: recover bad rows into Kinesis, replay the batches Lambda skipped.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Recover(recover::RecoverCmd),
    Replay(replay::ReplayArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
    ).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Recover(cmd) => recover::run(cmd).await,
            Command::Replay(args) => replay::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The SDK configuration from the environment.
async fn sdk_config() -> aws_config::SdkConfig {
    pipeline_aws::sdk::load_from_env().await
}

/// Fails with what to do unless `stream` exists and can be reached.
async fn check_stream(client: &aws_sdk_kinesis::Client, stream: &str) -> anyhow::Result<()> {
    use pipeline_aws::retry::describe;
    match client.describe_stream_summary().stream_name(stream).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
            anyhow::bail!("the Kinesis stream {stream:?} does not exist (check the name and AWS_REGION)")
        }
        Err(e) => anyhow::bail!("cannot reach the Kinesis stream {stream:?}: {}. Check AWS credentials, AWS_REGION and AWS_ENDPOINT_URL", describe(&e)),
    }
}
