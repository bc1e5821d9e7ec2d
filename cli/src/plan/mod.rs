//! `pipeline plan`: the cheapest AWS deployment of the pipeline that meets a need, next to
//! the stack's defaults.
//!
//! - [`limits`]: AWS's limits, quotas and prices, dated, with their sources;
//! - [`measured`]: what this pipeline's own code costs (item sizes, compression, partial
//!   aggregates, CPU per event), measured, with the commands that reproduce each figure;
//! - [`need`] the request and its checks; [`config`] the levers' settings;
//! - [`sizing`], [`tables`], [`costs`], [`deployment`]: the arithmetic, pure;
//! - [`optimise`]: the cheapest configuration and each lever's saving in order;
//! - [`sections`], [`table_sections`], [`render`], [`format`](mod@format): text, Markdown, JSON, tfvars.

pub mod config;
pub mod costs;
pub mod deployment;
pub mod figure;
pub mod format;
pub mod limits;
pub mod measured;
pub mod need;
pub mod optimise;
pub mod render;
pub mod sections;
pub mod sizing;
pub mod table_sections;
pub mod tables;

#[cfg(test)]
mod tests;

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use need::{API_EVENTS_PER_REQUEST_DEFAULT, Need, QUERY_DAYS_DEFAULT, parse_mix};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text, a line of reasoning per figure.
    Text,
    /// Markdown tables (as in docs/DEPLOY.md).
    Markdown,
    /// JSON: the same figures, every number unrounded.
    Json,
}

#[derive(Args)]
#[command(
    about = "Plan the cheapest AWS deployment for an event rate and size, next to the stack's defaults; write its tfvars",
    long_about = "Size and price an AWS deployment of the pipeline for a need: the peak and mean event rate, \
spikes, the mean event size, and how far back per-user queries go. Prints the cheapest configuration that meets \
the need (Kinesis shards, processor batches and concurrency, DynamoDB items, capacity and storage, Firehose \
streams), the monthly cost of the stack's defaults and of the cheapest configuration side by side, each lever's \
saving in order (they add up to the difference), and the quota increases to request. Every figure comes with its \
reasoning; quotas and prices are dated assumptions, figures of this pipeline's own code are measured (see \
docs/DEPLOY.md, \"Capacity planning with `pipeline plan`\").\n\n\
Examples:\n  pipeline plan --rate 100000 --event-bytes 600 --query-days 7\n  \
pipeline plan --rate 100000 --mean-rate 40000 --burst 2 --event-bytes 600 --query-days 7 --out prod-plan.tfvars\n  \
pipeline plan --rate 1000 --event-bytes 600 --region eu-central-1 --environment dev --json"
)]
pub struct PlanArgs {
    /// Peak events per second, sustained for minutes: what capacity is sized for.
    #[arg(long, value_name = "EVENTS_PER_S")]
    rate: u64,
    /// Mean events per second over the month (default: the peak): what usage is billed for.
    #[arg(long = "mean-rate", value_name = "EVENTS_PER_S")]
    mean_rate: Option<u64>,
    /// How far seconds-long spikes go above the rate of the moment (1: none; 2: twice).
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0)]
    burst: f64,
    /// Mean size of one event's JSON, in bytes.
    #[arg(long = "event-bytes", value_name = "N")]
    event_bytes: u64,
    /// AWS region (Firehose and Kinesis default quotas depend on it).
    #[arg(long, value_name = "R", default_value = limits::DEFAULT_REGION)]
    region: String,
    /// Events per POST /v1/events the producers send (1-500).
    #[arg(long = "batch-size", value_name = "EVENTS", default_value_t = API_EVENTS_PER_REQUEST_DEFAULT)]
    batch_size: u64,
    /// Days per-user queries go back: the events table's TTL (event_ttl_days).
    #[arg(long = "query-days", alias = "event-ttl-days", value_name = "DAYS", default_value_t = QUERY_DAYS_DEFAULT)]
    query_days: u64,
    /// Event types per-user queries need, comma-separated (default: every type); the others
    /// reach the archive and the aggregates only.
    #[arg(long = "query-event-types", value_name = "TYPES", value_delimiter = ',')]
    query_event_types: Option<Vec<String>>,
    /// Per-type queries (GET /v1/events) are needed: the per-type index stays on.
    #[arg(long = "type-queries")]
    type_queries: bool,
    /// The tables keep point-in-time recovery (else the cheapest plan turns it off: the
    /// archive keeps every event).
    #[arg(long)]
    pitr: bool,
    /// Shares of the event types, e.g. pageview=60,click=25,purchase=10,identify=5 (the
    /// reference workload's).
    #[arg(long, value_name = "TYPE=WEIGHT,...")]
    mix: Option<String>,
    /// Producers write KPL-aggregated records to Kinesis: shards are sized by bytes, not by
    /// 1,000 records/s per shard (and the API is not planned for).
    #[arg(long)]
    aggregate: bool,
    /// The Terraform environment name written into the tfvars.
    #[arg(long, value_name = "ENV", default_value = "prod")]
    environment: String,
    /// Write the cheapest configuration's Terraform variables to this file.
    #[arg(long, value_name = "FILE.tfvars")]
    out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The same as --format json.
    #[arg(long)]
    json: bool,
}

impl PlanArgs {
    fn need(&self) -> Result<Need, need::PlanError> {
        let mut need = Need::new(self.rate, self.event_bytes);
        need.mean_rate = self.mean_rate.unwrap_or(self.rate);
        need.burst = self.burst;
        need.region = self.region.clone();
        need.events_per_request = self.batch_size;
        need.kpl_aggregation = self.aggregate;
        need.query_days = self.query_days;
        need.query_event_types = self.query_event_types.as_ref().map(|t| t.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect());
        need.type_queries = self.type_queries;
        need.pitr = self.pitr;
        if let Some(mix) = &self.mix {
            need.mix = parse_mix(mix)?;
        }
        need.environment = self.environment.clone();
        Ok(need)
    }

    /// The command that reproduces this plan (written into the tfvars).
    fn command(&self) -> String {
        let mut parts = vec![format!("pipeline plan --rate {} --event-bytes {}", self.rate, self.event_bytes)];
        if let Some(mean) = self.mean_rate {
            parts.push(format!("--mean-rate {mean}"));
        }
        if self.burst != 1.0 {
            parts.push(format!("--burst {}", self.burst));
        }
        parts.push(format!("--region {} --batch-size {} --query-days {}", self.region, self.batch_size, self.query_days));
        if let Some(types) = &self.query_event_types {
            parts.push(format!("--query-event-types {}", types.join(",")));
        }
        for (set, flag) in [(self.type_queries, "--type-queries"), (self.pitr, "--pitr"), (self.aggregate, "--aggregate")] {
            if set {
                parts.push(flag.into());
            }
        }
        if let Some(mix) = &self.mix {
            parts.push(format!("--mix {mix}"));
        }
        parts.push(format!("--environment {}", self.environment));
        parts.join(" ")
    }
}

pub fn run(args: &PlanArgs) -> Result<ExitCode> {
    let comparison = optimise::compare(&args.need()?)?;
    if let Some(path) = &args.out {
        fs::write(path, render::tfvars(&comparison, &args.command())).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let format = if args.json { Format::Json } else { args.format };
    match format {
        Format::Text => print!("{}", render::text(&comparison)),
        Format::Markdown => print!("{}", render::markdown(&comparison)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&render::json(&comparison))?),
    }
    if let Some(path) = &args.out {
        // On stderr with --json, so stdout stays one JSON document.
        let note = format!("Terraform variables written to {} (terraform -chdir=terraform apply -var-file=...)", path.display());
        if format == Format::Json { eprintln!("{note}") } else { println!("\n{note}") }
    }
    Ok(ExitCode::SUCCESS)
}
