//! A comparison printed: aligned text, Markdown tables (docs/DEPLOY.md), JSON (the same
//! figures and every number unrounded), and the cheapest configuration's Terraform
//! variables (only ones terraform/variables.tf declares, laid out as `terraform fmt` would).

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::plan::config::{Billing, Config};
use crate::plan::deployment::Deployment;
use crate::plan::format::{int, num};
use crate::plan::limits::PRICES_AS_OF;
use crate::plan::need::Need;
use crate::plan::optimise::Comparison;
use crate::plan::sections::sections;

/// The plan's opening lines: what was planned and how old the assumptions are.
fn heading(need: &Need) -> [String; 2] {
    let load = if need.mean_rate == need.rate && need.burst <= 1.0 {
        format!("{} events/s (steady)", int(need.rate))
    } else {
        format!("{} events/s peak, {} mean, spikes × {}", int(need.rate), int(need.mean_rate), num(need.burst, 2))
    };
    let queries = match &need.query_event_types {
        None => "every type".to_owned(),
        Some(types) => types.join(", "),
    };
    [
        format!(
            "Capacity plan: {load} × {} B in {}, environment {}; per-user queries of {queries} for {} days{}{}{}",
            int(need.event_bytes),
            need.region,
            need.environment,
            need.query_days,
            if need.type_queries { ", per-type queries" } else { "" },
            if need.pitr { ", point-in-time recovery kept" } else { "" },
            if need.kpl_aggregation { ", KPL-aggregated producers" } else { "" },
        ),
        format!(
            "Quotas and prices as of {PRICES_AS_OF} (prices: us-east-1 list prices): assumptions to check in the account's Service Quotas and the AWS price list. The sizing below is the cheapest configuration's."
        ),
    ]
}

/// Aligned text, one figure and its reasoning per line.
pub fn text(c: &Comparison) -> String {
    let mut out = String::new();
    for line in heading(&c.default.need) {
        out.push_str(&line);
        out.push('\n');
    }
    for section in sections(c) {
        let name_width = section.figures.iter().map(|f| f.name.chars().count()).max().unwrap_or(0);
        let value_width = section.figures.iter().map(|f| f.value.chars().count()).max().unwrap_or(0);
        let _ = writeln!(out, "\n{}", section.title);
        for f in &section.figures {
            let line = format!(
                "  {}{}  {}{}  {}",
                f.name,
                " ".repeat(name_width - f.name.chars().count()),
                f.value,
                " ".repeat(value_width - f.value.chars().count()),
                f.why
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Markdown: a table per section.
pub fn markdown(c: &Comparison) -> String {
    let [title, assumptions] = heading(&c.default.need);
    let mut out = format!("{title}. {assumptions}\n");
    for section in sections(c) {
        let _ = writeln!(out, "\n**{}**\n\n| figure | value | reasoning |\n|---|---|---|", section.title);
        for f in &section.figures {
            let cell = |s: &str| s.replace('|', "\\|");
            let _ = writeln!(out, "| {} | {} | {} |", cell(&f.name), cell(&f.value), cell(&f.why));
        }
    }
    out
}

fn config_json(config: &Config) -> Value {
    let billing = |b: Billing| match b {
        Billing::OnDemand => json!({"mode": "PAY_PER_REQUEST"}),
        Billing::Provisioned { target } => json!({"mode": "PROVISIONED", "target_utilisation": target}),
    };
    json!({
        "index": config.index,
        "ttl_days": config.ttl_days,
        "kept_types": config.kept_types,
        "events_billing": billing(config.events_billing),
        "aggregates_billing": billing(config.aggregates_billing),
        "events_table_class": config.events_class.terraform(),
        "aggregates_table_class": config.aggregates_class.terraform(),
        "point_in_time_recovery": config.pitr,
    })
}

fn deployment_json(d: &Deployment) -> Value {
    json!({
        "configuration": config_json(&d.config),
        "costs": d.costs,
        "total_usd_per_month": d.monthly_total_usd(),
        "quota_increases": d.quota_increases,
    })
}

/// The same figures as the text, and every number unrounded.
pub fn json(c: &Comparison) -> Value {
    let need = &c.default.need;
    let mut cheapest = deployment_json(&c.cheapest);
    cheapest["sections"] = json!(sections(c).into_iter().take(5).collect::<Vec<_>>());
    cheapest["tfvars"] = Value::Object(tfvar_values(&c.cheapest).into_iter().collect());
    json!({
        "need": {
            "rate": need.rate, "mean_rate": need.mean_rate, "burst": need.burst, "event_bytes": need.event_bytes,
            "region": need.region, "batch_size": need.events_per_request, "kpl_aggregation": need.kpl_aggregation,
            "query_days": need.query_days, "query_event_types": need.query_event_types, "type_queries": need.type_queries,
            "pitr": need.pitr, "environment": need.environment,
            "mix": need.mix.iter().map(|t| (t.event_type.clone(), json!(t.share))).collect::<serde_json::Map<_, _>>(),
        },
        "prices_as_of": PRICES_AS_OF,
        "default": deployment_json(&c.default),
        "cheapest": cheapest,
        "levers": c.steps.iter().map(|s| json!({
            "lever": s.lever.describe(need), "used": s.used, "saving_usd_per_month": s.saving_usd,
        })).collect::<Vec<_>>(),
        "total_saving_usd_per_month": c.total_saving_usd(),
    })
}

/// The cheapest configuration's Terraform variables, in groups, as JSON values.
type Vars = Vec<(String, Value)>;

fn vars<const N: usize>(pairs: [(&str, Value); N]) -> Vars {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn tfvar_groups(d: &Deployment) -> Vec<(&'static str, Vars)> {
    let (need, config, t) = (&d.need, &d.config, &d.tables);
    let mut tables = vars([
        ("event_ttl_days", json!(config.ttl_days)),
        ("query_event_types", json!(config.kept_types.clone().unwrap_or_default())),
        ("events_gsi_enabled", json!(config.index)),
    ]);
    if let Some(shards) = t.gsi_write_shards {
        tables.push(("gsi_write_shards".into(), json!(shards)));
    }
    tables.push(("table_point_in_time_recovery".into(), json!(config.pitr)));
    let mut target = None;
    for (table, load, billing, class) in [
        ("events", &t.events, config.events_billing, config.events_class),
        ("aggregates", &t.aggregates, config.aggregates_billing, config.aggregates_class),
    ] {
        let (mode, capacity) = match (billing, &load.capacity) {
            (Billing::Provisioned { target: p }, Some(c)) => {
                target = Some(p);
                ("PROVISIONED", Some(c))
            }
            _ => ("PAY_PER_REQUEST", None),
        };
        let name = |suffix: &str| format!("{table}_table_{suffix}");
        tables.push((name("billing_mode"), json!(mode)));
        tables.push((name("class"), json!(class.terraform())));
        if let Some(c) = capacity {
            for (suffix, value) in [("min_write_capacity", c.min_write), ("max_write_capacity", c.max_write), ("min_read_capacity", c.min_read), ("max_read_capacity", c.max_read)] {
                tables.push((name(suffix), json!(value)));
            }
        }
    }
    if let Some(target) = target {
        tables.push(("table_autoscaling_target_percent".into(), json!((target * 100.0).round() as u64)));
    }
    vec![
        ("", vars([("environment", json!(need.environment)), ("aws_region", json!(need.region))])),
        (
            "Kinesis: ceil(max(bytes/s ÷ 1 MB/s, records/s ÷ 1,000) × 1.25).",
            vars([("stream_mode", json!("PROVISIONED")), ("shard_count", json!(d.stream.shards))]),
        ),
        (
            "Processor: concurrency = shards × parallelization factor.",
            vars([
                ("processor_memory_mb", json!(d.processor.memory_mb)),
                ("processor_batch_size", json!(d.processor.batch_size)),
                ("processor_batching_window_seconds", json!(d.processor.batching_window_s)),
                ("processor_parallelization_factor", json!(d.processor.parallelization_factor)),
                ("processor_reserved_concurrency", json!(d.processor.reserved_concurrency)),
            ]),
        ),
        ("Per-user queries and the tables (the cheapest configuration that meets the need).", tables),
        ("Firehose delivery streams.", vars([("archive_stream_count", json!(d.archive.stream_count))])),
        (
            "API usage plan: twice the planned requests/s.",
            vars([
                ("api_throttle_rate_limit", json!(d.ingest.throttle_rate_limit)),
                ("api_throttle_burst_limit", json!(d.ingest.throttle_burst_limit)),
            ]),
        ),
    ]
}

fn tfvar_values(d: &Deployment) -> Vars {
    tfvar_groups(d).into_iter().flat_map(|(_, vars)| vars).collect()
}

/// The tfvars file.
pub fn tfvars(c: &Comparison, command: &str) -> String {
    let mut out = format!(
        "# Written by `{command}`\n\
         # (quotas and prices as of {PRICES_AS_OF}): the cheapest configuration that meets the need; the reasoning:\n\
         # docs/DEPLOY.md, \"Capacity planning\". Use alone or after an environment's file: -var-file=envs/prod.tfvars -var-file=THIS.\n"
    );
    for (comment, vars) in tfvar_groups(&c.cheapest) {
        out.push('\n');
        if !comment.is_empty() {
            let _ = writeln!(out, "# {comment}");
        }
        let width = vars.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        for (name, value) in vars {
            let text = match &value {
                Value::Array(items) => format!("[{}]", items.iter().map(Value::to_string).collect::<Vec<_>>().join(", ")),
                other => other.to_string(),
            };
            let _ = writeln!(out, "{name:<width$} = {text}");
        }
    }
    out
}
