//! `pipeline up`: the whole pipeline on this machine (see crate `pipeline-local`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use pipeline_local::LocalConfig;

#[derive(Args)]
#[command(
    about = "Run the pipeline locally: ingest API, durable stream, processing, stores, query API",
    long_about = "Run the whole pipeline on this machine, with no cloud account: the ingest API \
(POST /v1/events, /v1/event), a durable stream log in DATA_DIR/stream/, the same batch flow as \
the AWS processor, the events and bad-row store in DATA_DIR/store/ (its catalog, the \
checkpoints and the aggregates in DATA_DIR/pipeline.db; `pipeline store` reads it), the \
archive in DATA_DIR/archive/, aggregates merged every --aggregate-interval, and the query API \
(GET /v1/users/{user_id}/events, /v1/aggregates, /v1/bad-rows; open: /health, /metrics). \
Events and bad rows are kept for --retention after they arrived (30 days by default). \
With --kinesis-listen ADDR it also answers the Kinesis API for one stream (--stream-name), so \
producers written for Kinesis (KPL aggregated records included) can write to it.

Two keys: producers send the ingest key (--api-key) to the POST routes; the query routes take \
only the read key (--read-key), so a key shipped inside an app cannot read anyone's events. \
Both are made and stored in DATA_DIR on first start when not given.

Stop with Ctrl-C or SIGTERM: it stops accepting, lets requests in flight finish for at most \
--drain-timeout, processes what was accepted, and exits."
)]
pub struct UpArgs {
    /// Where the stream, the database, the archive and the API key live.
    #[arg(long, value_name = "DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Address to listen on (loopback by default).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Shards of the local stream (events of one user_id stay in order within a shard).
    #[arg(long, value_name = "N", default_value_t = 4)]
    shards: u32,
    /// The ingest key producers send as x-api-key (default: stored in DATA_DIR/api_key, made on first start).
    #[arg(long, value_name = "KEY", env = "PIPELINE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The read key of the query routes (default: stored in DATA_DIR/read_key, made on first start).
    #[arg(long, value_name = "KEY", env = "PIPELINE_READ_KEY", hide_env_values = true)]
    read_key: Option<String>,
    /// Connections served at once (default 10000, fewer when the open-files limit is lower).
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Time a client has to send a request's headers; also how long a keep-alive connection may idle.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// Time a client has to send a request's body.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    body_timeout: Duration,
    /// On shutdown, how long requests in flight may take before their connections are closed.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse_duration)]
    drain_timeout: Duration,
    /// How often partial aggregates are merged into the minute..month rows of GET /v1/aggregates
    /// (sooner, within about a second, whenever every accepted event is processed).
    #[arg(long, value_name = "DUR", default_value = "60s", value_parser = parse_duration)]
    aggregate_interval: Duration,
    /// A schemas directory replacing the built-in ones.
    #[arg(long = "schemas", value_name = "DIR", env = "SCHEMAS_DIR")]
    schemas: Option<PathBuf>,
    /// An enrichments directory (one JSON file per enrichment, and their lookup tables)
    /// replacing the built-in ones; check it first with `pipeline validate --enrichments DIR`.
    #[arg(long = "enrichments", value_name = "DIR", env = "ENRICHMENTS_DIR")]
    enrichments: Option<PathBuf>,
    /// Seconds between progress lines (0 for none).
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    progress: u64,
    /// How long events and bad rows are kept after they arrived (as EVENT_TTL_DAYS on AWS);
    /// the query API never returns older ones, and they leave the disk a partition at a time.
    #[arg(long, value_name = "DUR", default_value = "30d", value_parser = parse_duration)]
    retention: Duration,
    /// How long finished archive files are kept after they were written (default: for ever).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    archive_retention: Option<Duration>,
    /// Start the consumers only after this long, so that a backlog builds up: for measuring
    /// how fast they drain one (see docs/PERFORMANCE.md).
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = parse_duration)]
    pause_consumers: Duration,
    /// Also answer the Kinesis API (AWS JSON 1.1: PutRecord, PutRecords, DescribeStreamSummary,
    /// ListShards, DescribeStream) on ADDR, e.g. 127.0.0.1:4567, for producers written for
    /// Kinesis (the KPL, an AWS SDK with AWS_ENDPOINT_URL=http://ADDR). Off by default. Records
    /// go to the same durable stream as POST /v1/events; KPL aggregated records are
    /// deaggregated. No signature is checked (any SigV4 signature is accepted): keep it on
    /// loopback (a warning is printed otherwise).
    #[arg(long, value_name = "ADDR")]
    kinesis_listen: Option<SocketAddr>,
    /// The one stream the Kinesis endpoint serves (requests naming another get
    /// ResourceNotFoundException).
    #[arg(long, value_name = "NAME", default_value = pipeline_local::kinesis::DEFAULT_STREAM_NAME, requires = "kinesis_listen")]
    stream_name: String,
}

/// `500ms`, `60s`, `5m`, `1h` (any humantime duration), or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(text).map_err(|e| format!("{text:?} is not a duration like 500ms, 60s, 5m or 1h ({e})"))
}

pub fn run(args: &UpArgs) -> Result<ExitCode> {
    let config = LocalConfig {
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        shards: args.shards,
        api_key: args.api_key.clone(),
        read_key: args.read_key.clone(),
        max_connections: args.max_connections,
        header_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
        drain_timeout: args.drain_timeout,
        schemas_dir: args.schemas.clone(),
        enrichments_dir: args.enrichments.clone(),
        progress_every: Duration::from_secs(args.progress),
        aggregate_interval: args.aggregate_interval,
        retention: args.retention,
        archive_retention: args.archive_retention,
        pause_consumers: args.pause_consumers,
        kinesis_listen: args.kinesis_listen,
        stream_name: args.stream_name.clone(),
    };
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(pipeline_local::run(config))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 fortnights").is_err());
    }
}
