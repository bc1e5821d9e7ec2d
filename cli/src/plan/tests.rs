//! The planner's arithmetic against worked examples, its refusals, and its properties
//! (monotonic in the rate, the cheapest never above the default, the levers' savings adding
//! up to the difference, tfvars the stack accepts: cli/tests/integration/terraform/variables.rs).

use proptest::prelude::*;

use super::config::*;
use super::deployment::deployment;
use super::format::usd;
use super::need::*;
use super::optimise::{Comparison, compare};
use super::render;
use super::sections::sections;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

fn goal() -> Need {
    Need { query_days: 7, ..Need::new(100_000, 600) }
}

/// The goal: 100,000 events/s of 600 B, per-user queries kept 7 days, at most
/// $100,000 a month, every lever one the stack has.
#[test]
fn the_goal_plan_is_at_most_100k_a_month() {
    let c = compare(&goal()).unwrap();
    let cheapest = c.cheapest.monthly_total_usd();
    assert!(cheapest <= 100_000.0, "cheapest {}", usd(cheapest));
    assert!(c.default.monthly_total_usd() > 2.0 * cheapest, "the default stack costs far more: {}", usd(c.default.monthly_total_usd()));
    let config = &c.cheapest.config;
    assert_eq!(config.ttl_days, 7);
    assert!(!config.index, "no per-type queries were asked for");
    assert!(matches!(config.events_billing, Billing::Provisioned { .. }), "steady load: provisioned");
    assert!(!config.pitr, "the archive keeps every event: no point-in-time recovery needed");
    // A 600 B event is just over 1 KB as an item: compressed, one unit.
    let item = &c.cheapest.tables.item;
    assert!(item.compressed && item.write_units == 1 && item.text_write_units == 2, "{item:?}");
    assert_eq!(c.cheapest.stream.shards, 125, "records bind: 100 shards' worth × 1.25");
}

#[test]
fn keeping_point_in_time_recovery_costs_what_the_lever_saved() {
    let without = compare(&goal()).unwrap();
    let with = compare(&Need { pitr: true, ..goal() }).unwrap();
    assert!(with.cheapest.config.pitr);
    let step = without.steps.iter().find(|s| s.lever == Lever::NoPointInTimeRecovery).unwrap();
    assert_eq!(step.used, Some(true));
    assert!(close(with.cheapest.monthly_total_usd() - without.cheapest.monthly_total_usd(), step.saving_usd));
}

#[test]
fn the_index_stays_on_where_per_type_queries_are_needed_and_doubles_the_writes() {
    let c = compare(&Need { type_queries: true, ..goal() }).unwrap();
    assert!(c.default.config.index && c.cheapest.config.index);
    let t = &c.cheapest.tables;
    assert_eq!(t.gsi_write_shards, Some(75), "ceil(60,000 ÷ 1,000 × 1.25)");
    assert!(close(t.index_write_units, 100_000.0));
    assert!(c.cheapest.monthly_total_usd() > compare(&goal()).unwrap().cheapest.monthly_total_usd());
}

#[test]
fn kept_types_shrink_the_table_but_not_the_archive() {
    let all = compare(&goal()).unwrap();
    let some = compare(&Need { query_event_types: Some(vec!["purchase".into()]), ..goal() }).unwrap();
    assert!(close(some.cheapest.tables.kept_share, 0.10));
    assert!(some.cheapest.tables.events.stored_gb < all.cheapest.tables.events.stored_gb * 0.11);
    assert_eq!(some.cheapest.archive, all.cheapest.archive, "the archive keeps every event");
    assert!(some.cheapest.monthly_total_usd() < all.cheapest.monthly_total_usd());
}

#[test]
fn kpl_aggregation_sizes_shards_by_bytes_and_skips_the_api() {
    let plain = compare(&goal()).unwrap();
    let kpl = compare(&Need { kpl_aggregation: true, ..goal() }).unwrap();
    let s = &kpl.cheapest.stream;
    assert_eq!(s.events_per_record, 82.0, "51,200 B ÷ (600 + 20) B");
    assert_eq!(s.bound, super::sizing::ShardBound::Bytes);
    assert!(s.shards < plain.cheapest.stream.shards, "{} shards instead of {}", s.shards, plain.cheapest.stream.shards);
    assert_eq!(kpl.cheapest.cost("API Gateway"), 0.0);
    let (shards, total) = kpl.without_aggregation.unwrap();
    assert_eq!(shards, plain.cheapest.stream.shards, "the difference is shown against the plain plan");
    assert!(total > kpl.cheapest.monthly_total_usd());
    assert!(render::text(&kpl).contains("without aggregation"));
    assert!(kpl.cheapest.cost("Kinesis Data Streams") < plain.cheapest.cost("Kinesis Data Streams") / 5.0);
}

#[test]
fn a_small_deployment_outside_the_large_regions_needs_two_streams_and_no_quota() {
    let c = compare(&Need { region: "eu-central-1".into(), ..Need::new(1_000, 600) }).unwrap();
    assert_eq!(c.cheapest.archive.stream_count, 2, "1 MiB/s per stream outside the large regions");
    assert!(c.cheapest.quota_increases.is_empty());
}

#[test]
fn spikes_lower_the_autoscaling_target_and_extreme_ones_keep_on_demand() {
    assert_eq!(autoscaling_target(1.0), Some(0.8));
    assert_eq!(autoscaling_target(2.0), Some(0.5));
    assert_eq!(autoscaling_target(6.0), None, "below 20 %: provisioned cannot take such spikes");
    let c = compare(&Need { burst: 6.0, ..goal() }).unwrap();
    assert!(matches!(c.cheapest.config.events_billing, Billing::OnDemand));
    assert_eq!(c.steps.iter().find(|s| s.lever == Lever::EventsProvisioned).unwrap().used, None);
}

#[test]
fn refuses_what_cannot_be_planned_and_names_the_limit() {
    let err = |need: Need| compare(&need).unwrap_err();
    assert_eq!(err(Need::new(0, 600)), PlanError::ZeroRate);
    assert_eq!(err(Need::new(1, 36)), PlanError::EventTooSmall(36));
    assert!(compare(&Need::new(1, MIN_EVENT_BYTES)).is_ok());
    assert_eq!(err(Need::new(1, 1_048_577)), PlanError::OverKinesisRecordLimit(1_048_577));
    assert!(err(Need::new(1, 1_048_576)).to_string().contains("1,000 KiB"));
    assert!(compare(&Need::new(1, 1_023_657)).is_ok(), "the largest event the archive takes: 1,024,000 − 1 − 342");
    assert!(matches!(err(Need::new(1, 1_023_658)), PlanError::OverFirehoseRecordLimit { max: 1_023_657, .. }));
    assert_eq!(err(Need { mean_rate: 2, ..Need::new(1, 600) }), PlanError::MeanRate { mean: 2, rate: 1 });
    assert_eq!(err(Need { mean_rate: 0, ..Need::new(1, 600) }), PlanError::MeanRate { mean: 0, rate: 1 });
    for burst in [0.5, 10.5, f64::NAN] {
        assert!(matches!(err(Need { burst, ..Need::new(1, 600) }), PlanError::Burst(_)), "{burst}");
    }
    for days in [0, QUERY_DAYS_MAX + 1] {
        assert_eq!(err(Need { query_days: days, ..Need::new(1, 600) }), PlanError::QueryDays(days));
    }
    assert!(matches!(err(Need { query_event_types: Some(vec!["pagevew".into()]), ..Need::new(1, 600) }), PlanError::UnknownType(..)));
    for batch in [0, 501] {
        assert_eq!(err(Need { events_per_request: batch, ..Need::new(1, 600) }), PlanError::BatchSize(batch));
    }
    assert!(compare(&Need { type_queries: true, ..Need::new(1_365_333, 600) }).is_ok());
    assert!(matches!(err(Need { type_queries: true, ..Need::new(1_365_334, 600) }), PlanError::RateTooHigh { shards: 1_025, .. }));
    assert!(compare(&Need::new(10_000_000, 600)).is_ok(), "without the index there is no such bound");
    for region in ["", "us-east", "US-EAST-1", "useast1"] {
        assert!(matches!(err(Need { region: region.into(), ..Need::new(1, 600) }), PlanError::Region(_)), "{region}");
    }
    for environment in ["p", "Prod", "1prod", "production1"] {
        assert!(matches!(err(Need { environment: environment.into(), ..Need::new(1, 600) }), PlanError::Environment(_)));
    }
}

#[test]
fn mixes_parse_to_shares_and_refuse_nonsense() {
    let mix = parse_mix("pageview=3, click=1").unwrap();
    assert_eq!((mix[0].share, mix[1].share), (0.75, 0.25));
    for bad in ["", "pageview", "pageview=x", "pageview=-1", "Page=1", "a=0", "a=1,a=2"] {
        assert!(matches!(parse_mix(bad), Err(PlanError::Mix(_))), "{bad}");
    }
}

#[test]
fn every_figure_is_printed_with_its_reasoning_in_text_markdown_and_json() {
    for need in [goal(), Need { region: "eu-central-1".into(), ..Need::new(1_000, 600) }, Need { type_queries: true, burst: 2.0, mean_rate: 50_000, ..goal() }] {
        let c = compare(&need).unwrap();
        let (text, markdown, json) = (render::text(&c), render::markdown(&c), render::json(&c));
        for section in sections(&c) {
            assert!(text.contains(&format!("\n{}\n", section.title)), "{}", section.title);
            assert!(markdown.contains(&format!("**{}**", section.title)), "{}", section.title);
            for f in &section.figures {
                assert!(!f.why.is_empty(), "{} has no reasoning", f.name);
                assert!(text.lines().any(|l| l.contains(&f.name) && l.contains(&f.value) && l.contains(&f.why)), "{}", f.name);
                assert!(markdown.contains(&format!("| {} | {} | {} |", f.name, f.value, f.why)), "{}", f.name);
            }
        }
        let totals = text.lines().filter(|l| l.split_whitespace().next() == Some("total") && l.split_whitespace().nth(1).is_some_and(|v| v.starts_with('$'))).count();
        assert_eq!(totals, 2, "each configuration's cost ends with its total:\n{text}");
        assert!(close(json["default"]["total_usd_per_month"].as_f64().unwrap(), c.default.monthly_total_usd()));
        assert!(close(json["cheapest"]["total_usd_per_month"].as_f64().unwrap(), c.cheapest.monthly_total_usd()));
        assert!(close(json["total_saving_usd_per_month"].as_f64().unwrap(), c.total_saving_usd()));
        assert_eq!(json["cheapest"]["sections"].as_array().unwrap().len(), 5);
        assert!(json["cheapest"]["tfvars"]["shard_count"].is_u64());
    }
}

#[test]
fn tfvars_set_the_cheapest_configuration() {
    let c = compare(&goal()).unwrap();
    let text = render::tfvars(&c, "pipeline plan --rate 100000 --event-bytes 600 --query-days 7");
    let assignments: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split_once(" = ").map(|(k, v)| (k.trim_end(), v)).unwrap())
        .collect();
    let get = |name: &str| assignments.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    assert_eq!(get("shard_count"), Some("125"));
    assert_eq!(get("event_ttl_days"), Some("7"));
    assert_eq!(get("events_gsi_enabled"), Some("false"));
    assert_eq!(get("gsi_write_shards"), None, "only where the index is on");
    assert_eq!(get("events_table_billing_mode"), Some("\"PROVISIONED\""));
    assert_eq!(get("table_point_in_time_recovery"), Some("false"));
    assert_eq!(get("query_event_types"), Some("[]"));
    assert!(get("events_table_max_write_capacity").unwrap().parse::<u64>().unwrap() > 100_000);
    assert!(text.starts_with("# Written by `pipeline plan --rate 100000"), "{text}");
}

fn arb_need() -> impl Strategy<Value = Need> {
    (
        1u64..2_000_000,
        MIN_EVENT_BYTES..20_000,
        1u64..=90,
        prop::bool::ANY,
        prop::bool::ANY,
        prop::bool::ANY,
        1.0f64..4.0,
        0.05f64..=1.0,
        prop::sample::select(vec!["us-east-1", "eu-central-1", "ap-south-1"]),
    )
        .prop_map(|(rate, bytes, days, pitr, kpl, some_types, burst, mean, region)| Need {
            mean_rate: ((rate as f64 * mean) as u64).max(1),
            burst,
            query_days: days,
            pitr,
            kpl_aggregation: kpl,
            query_event_types: some_types.then(|| vec!["pageview".into(), "purchase".into()]),
            region: region.into(),
            ..Need::new(rate, bytes)
        })
}

fn totals(c: &Comparison) -> (f64, f64) {
    (c.default.monthly_total_usd(), c.cheapest.monthly_total_usd())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_cheapest_never_costs_more_and_the_savings_add_up(need in arb_need()) {
        let c = compare(&need).unwrap();
        let (default, cheapest) = totals(&c);
        prop_assert!(cheapest <= default + 1e-6, "cheapest {cheapest} > default {default}");
        prop_assert!(close(c.total_saving_usd(), default - cheapest), "savings {} vs {}", c.total_saving_usd(), default - cheapest);
        for step in c.steps.iter().filter(|s| s.used == Some(true)) {
            // In order, a lever may cost a little where it only pays off with a later one;
            // then leaving it out of the cheapest combination must cost more.
            if step.saving_usd <= 0.0 {
                let others: Vec<_> = c.steps.iter().filter(|s| s.used == Some(true) && s.lever != step.lever).map(|s| s.lever).collect();
                let start = Config::stack_default(&need);
                let rest = others.iter().fold(start, |config, lever| lever.apply(&config, &need).unwrap_or(config));
                prop_assert!(
                    deployment(&need, &rest).unwrap().monthly_total_usd() >= cheapest - 1e-6,
                    "{:?} is used, saves {} in order, and the plan is no dearer without it",
                    step.lever, step.saving_usd
                );
            }
        }
        // The cheapest is the cheapest: no single lever more or less beats it.
        for lever in LEVERS {
            if let Some(other) = lever.apply(&c.cheapest.config, &need) {
                prop_assert!(deployment(&need, &other).unwrap().monthly_total_usd() >= cheapest - 1e-6, "{lever:?} beats it");
            }
        }
        prop_assert!(c.cheapest.config.pitr || !need.pitr);
        prop_assert!(c.cheapest.config.ttl_days == need.query_days);
    }

    #[test]
    fn costs_and_capacity_grow_with_the_rate(need in arb_need(), factor in 1.0f64..4.0) {
        let more = Need {
            rate: ((need.rate as f64 * factor) as u64).max(need.rate),
            mean_rate: ((need.mean_rate as f64 * factor) as u64).max(need.mean_rate),
            ..need.clone()
        };
        let (a, b) = (compare(&need).unwrap(), compare(&more).unwrap());
        prop_assert!(totals(&b).0 >= totals(&a).0 - 1e-6, "default {} then {}", totals(&a).0, totals(&b).0);
        prop_assert!(totals(&b).1 >= totals(&a).1 - 1e-6, "cheapest {} then {}", totals(&a).1, totals(&b).1);
        let config = Config::stack_default(&need);
        let (da, db) = (deployment(&need, &config).unwrap(), deployment(&more, &config).unwrap());
        prop_assert!(db.stream.shards >= da.stream.shards);
        prop_assert!(db.archive.stream_count >= da.archive.stream_count);
        prop_assert!(db.tables.events.stored_gb >= da.tables.events.stored_gb);
        for (x, y) in da.costs.iter().zip(&db.costs) {
            prop_assert!(y.usd_per_month >= x.usd_per_month - 1e-6, "{} fell: {} then {}", x.service, x.usd_per_month, y.usd_per_month);
        }
    }
}
