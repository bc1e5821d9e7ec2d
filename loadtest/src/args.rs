//! The command line, and the parsers of its values (durations, the event mix, ratios) with
//! errors that say what to write instead.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use pipeline::workload::EVENT_TYPES;

const ABOUT: &str = "Open-loop load for the pipeline's ingest API (or a Kinesis stream): the reference workload at a fixed rate, latency percentiles, and an end-to-end conservation check (--verify).";

const AFTER: &str = "\
Counts in the summary and in --report (JSON):
  sent                   events attempted (each event once, however often it was retried)
  accepted               events acknowledged with a SequenceNumber
  throttled              throttle answers seen, in events: each record with an ErrorCode and every
                         event of a 429/503 response (retried with backoff; counted per answer)
  failed                 events given up on (retries exhausted, a refused request, the run stopped)
  duration_s             the schedule's start to its end (--duration), or to the last response if later
  achieved_events_per_s  accepted / duration_s
  latency_ms             p50, p90, p99, p999, max: from each batch's SCHEDULED send time to the
                         response that settled its last event (retries included)
  verify                 with --verify: accepted, stored, bad_rows, missing (= accepted - stored -
                         bad_rows), over this run's events only; with --archive-dir or
                         --archive-bucket also archived and archive_missing (valid accepted
                         events found / not found in the archive)

Exit status: 0 when the run went as asked; 1 on an error, when --verify finds events missing or
misplaced, or when the generator could not keep up with --rate (the numbers would describe this
machine's generator, not the target); 2 on a usage error.

Example: loadtest --target http://127.0.0.1:8080 --api-key KEY --read-key READ_KEY --rate 20000 --duration 20s --batch-size 250 --verify";

/// The command line of `loadtest`.
#[derive(Parser, Clone, Debug)]
#[command(name = "loadtest", version, about = ABOUT, after_help = AFTER)]
pub struct Args {
    /// Base URL of the pipeline's HTTP API (ingest, and the query API for --verify), e.g.
    /// http://127.0.0.1:8080 or an API Gateway stage URL.
    #[arg(long, env = "LOADTEST_TARGET")]
    pub target: Option<String>,

    /// The ingest key (header x-api-key of the POSTs).
    #[arg(long, env = "PIPELINE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// The read key (header x-api-key of the query routes), for --verify.
    #[arg(long, env = "PIPELINE_READ_KEY", hide_env_values = true)]
    pub read_key: Option<String>,

    /// Events per second to send (once ramped up).
    #[arg(long, value_parser = parse_rate)]
    pub rate: f64,

    /// How long to send, e.g. 500ms, 20s, 1m.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Duration,

    /// Events per request (1 to 500, the PutRecords limit; with --aggregate up to 10000, packed
    /// into as few aggregated records and PutRecords calls as fit).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=MAX_AGGREGATED_BATCH as i64))]
    pub batch_size: u32,

    /// Concurrent keep-alive connections (requests in flight at most). Needed: about rate x
    /// latency / batch size; `pipeline up` on 2 cores reached 86K events/s with 32 and 49K with 8.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub connections: u32,

    /// Climb linearly from 0 to --rate over this time, e.g. 5s.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub ramp: Duration,

    /// Relative weights of the event types; types left out get none.
    #[arg(long, default_value = "pageview=60,click=25,purchase=10,identify=5", value_parser = parse_mix)]
    pub mix: Mix,

    /// Share of events made invalid on purpose (they must become bad rows), 0 to 1.
    #[arg(long, default_value_t = 0.05, value_parser = parse_ratio)]
    pub invalid_ratio: f64,

    /// Seed of the workload generator (same seed, same events apart from the run's ids).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Distinct users of this run (`lt-<run id>-<n>`); --verify reads each user's events.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub users: u64,

    /// Send gzip bodies (Content-Encoding: gzip).
    #[arg(long)]
    pub gzip: bool,

    /// Write the JSON report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,

    /// After the run, wait for the pipeline to process what it accepted and check that every
    /// accepted event of this run is stored or a bad row.
    #[arg(long)]
    pub verify: bool,

    /// --verify gives up after this long without progress.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub verify_timeout: Duration,

    /// One request's time limit; a request over it is retried (same event ids).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Retries of a throttled or failed request before its events count as failed.
    #[arg(long, default_value_t = 8)]
    pub retries: usize,

    /// Send to this Kinesis stream with PutRecords instead of the HTTP API (AWS credentials and
    /// region from the environment; AWS_ENDPOINT_URL for an emulator). --verify then reads the
    /// query API at --target.
    #[arg(long)]
    pub kinesis: Option<String>,

    /// With --kinesis: pack each batch's events into KPL aggregated records (up to 1 MiB each,
    /// grouped by the shard of their partition key, as the Kinesis Producer Library does), so a
    /// stream takes events at its byte limit rather than its record limit. The pipeline
    /// deaggregates them.
    #[arg(long, requires = "kinesis")]
    pub aggregate: bool,

    /// --verify: read bad rows from this S3 bucket (a deployed stack) instead of GET /v1/bad-rows.
    #[arg(long)]
    pub bad_rows_bucket: Option<String>,

    /// --verify: the bad-row key prefix in --bad-rows-bucket (BAD_ROWS_PREFIX of the stack).
    #[arg(long, default_value = "bad-rows/")]
    pub bad_rows_prefix: String,

    /// --verify: also check that every valid accepted event is in this archive directory
    /// (`pipeline up`'s DATA_DIR/archive; finished files only).
    #[arg(long, value_name = "DIR", conflicts_with = "archive_bucket", requires = "verify")]
    pub archive_dir: Option<PathBuf>,

    /// --verify: also check the archive in this S3 bucket (a deployed stack's archive bucket).
    #[arg(long, value_name = "BUCKET", requires = "verify")]
    pub archive_bucket: Option<String>,

    /// --verify: the key prefix of the events layout in --archive-bucket.
    #[arg(long, default_value = "events/")]
    pub archive_prefix: String,

    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Events per request at most without --aggregate (the PutRecords and ingest API limit).
pub const MAX_BATCH: u32 = 500;
/// Events per request at most with --aggregate.
pub const MAX_AGGREGATED_BATCH: u32 = 10_000;

impl Args {
    /// Checks what clap cannot: a batch over [`MAX_BATCH`] needs --aggregate.
    pub fn check(&self) -> Result<(), String> {
        if self.batch_size > MAX_BATCH && !self.aggregate {
            return Err(format!(
                "--batch-size {} is over {MAX_BATCH} events per request (the ingest API's and PutRecords' limit): lower it, or pack events with --kinesis STREAM --aggregate",
                self.batch_size
            ));
        }
        Ok(())
    }
}

/// Weights of [`EVENT_TYPES`], in that order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix(pub [u32; 4]);

/// `20s`, `1m`, `500ms`, `1m30s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration ({e}): write a number with a unit, e.g. 500ms, 20s, 1m"))
}

/// `--rate`: events per second, a positive number (`_` separators allowed).
pub fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().replace('_', "").parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!("{text:?} is not a rate: write events per second as a positive number, e.g. 20000")),
    }
}

/// A fraction from 0 to 1 (`--invalid-ratio`).
pub fn parse_ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("{text:?} is not a ratio: write a number from 0 to 1, e.g. 0.05")),
    }
}

/// `pageview=60,click=25,purchase=10,identify=5`.
pub fn parse_mix(text: &str) -> Result<Mix, String> {
    let mut mix = [0u32; 4];
    let mut seen = [false; 4];
    let example = "e.g. pageview=60,click=25,purchase=10,identify=5";
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part.split_once('=').ok_or_else(|| format!("{part:?} in --mix is not TYPE=WEIGHT: {example}"))?;
        let name = name.trim();
        let i = EVENT_TYPES
            .iter()
            .position(|t| *t == name)
            .ok_or_else(|| format!("{name:?} in --mix is not an event type: use {}", EVENT_TYPES.join(", ")))?;
        if std::mem::replace(&mut seen[i], true) {
            return Err(format!("{name} appears twice in --mix"));
        }
        mix[i] = weight
            .trim()
            .parse()
            .map_err(|_| format!("the weight {weight:?} of {name} in --mix is not a whole number >= 0: {example}"))?;
    }
    if mix.iter().all(|&w| w == 0) {
        return Err(format!("--mix {text:?} gives no event type a weight above 0: {example}"));
    }
    Ok(Mix(mix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        let e = parse_duration("20").unwrap_err();
        assert!(e.contains("\"20\" is not a duration") && e.contains("20s"), "{e}");
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn mixes_name_the_types_and_their_weights() {
        assert_eq!(parse_mix("pageview=60,click=25,purchase=10,identify=5"), Ok(Mix([60, 25, 10, 5])));
        assert_eq!(parse_mix("click=1"), Ok(Mix([0, 1, 0, 0])));
        assert_eq!(parse_mix(" purchase = 3 , pageview=1 "), Ok(Mix([1, 0, 3, 0])));
        let e = parse_mix("pageviews=60").unwrap_err();
        assert!(e.contains("not an event type") && e.contains("pageview, click, purchase, identify"), "{e}");
        assert!(parse_mix("pageview:60").unwrap_err().contains("not TYPE=WEIGHT"));
        assert!(parse_mix("pageview=-1").unwrap_err().contains("whole number"));
        assert!(parse_mix("click=1,click=2").unwrap_err().contains("twice"));
        assert!(parse_mix("click=0").unwrap_err().contains("no event type"));
    }

    #[test]
    fn rates_and_ratios_are_checked() {
        assert_eq!(parse_rate("100000"), Ok(100_000.0));
        assert_eq!(parse_rate("100_000"), Ok(100_000.0));
        assert!(parse_rate("0").is_err() && parse_rate("-5").is_err() && parse_rate("lots").is_err());
        assert_eq!(parse_ratio("0.05"), Ok(0.05));
        assert!(parse_ratio("5").unwrap_err().contains("from 0 to 1"));
    }

    #[test]
    fn the_command_line_parses_with_defaults_and_refuses_bad_values() {
        let a = Args::try_parse_from(["loadtest", "--target", "http://x", "--api-key", "k", "--rate", "2000", "--duration", "2s"]).unwrap();
        assert_eq!((a.batch_size, a.connections, a.ramp, a.mix, a.invalid_ratio), (100, 32, Duration::ZERO, Mix([60, 25, 10, 5]), 0.05));
        let e = Args::try_parse_from(["loadtest", "--rate", "10", "--duration", "10"]).unwrap_err().to_string();
        assert!(e.contains("not a duration"), "{e}");
        let e = Args::try_parse_from(["loadtest", "--rate", "10", "--duration", "1s", "--batch-size", "501"]).unwrap().check().unwrap_err();
        assert!(e.contains("501") && e.contains("--aggregate"), "{e}");
        let a = Args::try_parse_from(["loadtest", "--rate", "10", "--duration", "1s", "--batch-size", "5000", "--kinesis", "s", "--aggregate"]).unwrap();
        assert!(a.check().is_ok());
        assert!(Args::try_parse_from(["loadtest", "--rate", "10", "--duration", "1s", "--batch-size", "10001", "--kinesis", "s", "--aggregate"]).is_err());
        assert!(Args::try_parse_from(["loadtest", "--rate", "10", "--duration", "1s", "--aggregate"]).is_err(), "--aggregate needs --kinesis");
        let e = Args::try_parse_from(["loadtest", "--rate", "10", "--duration", "1s", "--mix", "view=1"]).unwrap_err().to_string();
        assert!(e.contains("not an event type"), "{e}");
    }
}
