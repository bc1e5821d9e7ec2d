//! The reference workload says what each event should become; the core must agree.

use chrono::Utc;
use pipeline::workload::{Expected, Workload, WorkloadConfig};
use pipeline::{BadRowType, CoreConfig, Outcome, Record, process_batch};

#[test]
fn generated_events_get_the_outcome_the_generator_intends() {
    let core = CoreConfig::embedded().unwrap();
    let mut workload = Workload::new(WorkloadConfig { oversize_ratio: 0.001, ..WorkloadConfig::default() });
    let events: Vec<_> = (0..5_000).map(|_| workload.next_event()).collect();
    let records: Vec<Record> = events
        .iter()
        .enumerate()
        .map(|(i, e)| Record {
            data: e.data.clone(),
            partition_key: "pk".into(),
            sequence_number: i.to_string(),
            sub_sequence_number: 0,
            shard_id: "shardId-000000000000".into(),
            arrival: Utc::now(),
        })
        .collect();
    let outcomes = process_batch(&core, &records, Utc::now());
    let mut seen = std::collections::HashMap::new();
    for (event, outcome) in events.iter().zip(&outcomes) {
        let got = match outcome {
            Outcome::Event(_) => Expected::Valid,
            Outcome::Bad(b) => Expected::Bad(b.kind),
        };
        assert_eq!(got, event.expected, "{}\n{outcome:#?}", String::from_utf8_lossy(&event.data[..event.data.len().min(2000)]));
        *seen.entry(format!("{got:?}")).or_insert(0) += 1;
    }
    // Enrichment failures depend on the enrichments configured, not on the workload.
    for kind in BadRowType::ALL.into_iter().filter(|k| *k != BadRowType::EnrichmentFailure) {
        assert!(seen.contains_key(&format!("{:?}", Expected::Bad(kind))), "no {kind} in {seen:?}");
    }
    let invalid = outcomes.iter().filter(|o| matches!(o, Outcome::Bad(_))).count() as f64 / outcomes.len() as f64;
    assert!((0.03..0.08).contains(&invalid), "invalid share {invalid}");
}

#[test]
fn the_workload_is_deterministic_and_realistically_sized() {
    let make = || {
        let mut w = Workload::new(WorkloadConfig::default());
        let mut out = Vec::new();
        w.write_ndjson(2_000, &mut out).unwrap();
        out
    };
    let a = make();
    assert_eq!(a, make(), "same seed, same bytes");
    let mut other = Workload::new(WorkloadConfig { seed: 7, ..WorkloadConfig::default() });
    let mut b = Vec::new();
    other.write_ndjson(2_000, &mut b).unwrap();
    assert_ne!(a, b);
    let lines: Vec<&[u8]> = a.split(|&c| c == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2_000);
    let normal: Vec<usize> = lines.iter().map(|l| l.len()).filter(|&n| n < 10_000).collect();
    let mean = normal.iter().sum::<usize>() / normal.len();
    assert!((300..=800).contains(&mean), "mean size {mean}");
    let in_range = normal.iter().filter(|&&n| (250..=900).contains(&n)).count();
    assert!(in_range * 100 >= normal.len() * 95, "{in_range} of {} in range", normal.len());
}

#[test]
fn http_safe_workloads_are_all_json_objects() {
    let mut w = Workload::new(WorkloadConfig { unparseable: false, ..WorkloadConfig::default() });
    for _ in 0..2_000 {
        let e = w.next_event();
        let v: serde_json::Value = serde_json::from_slice(&e.data).expect("JSON");
        assert!(v.is_object());
        assert!(!matches!(e.expected, Expected::Bad(BadRowType::Malformed | BadRowType::SizeViolation)));
    }
}

#[test]
fn run_scoped_workloads_tag_every_event_with_its_run_and_the_given_time() {
    use chrono::TimeZone;
    use pipeline::workload::{run_event_id, run_event_index};
    let run = 0x1234_5678_9abc_def0;
    let time = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
    let config = WorkloadConfig {
        unparseable: false,
        users: 50,
        user_prefix: Some("lt-run1-".into()),
        event_id_run: Some(run),
        ..WorkloadConfig::default()
    };
    let mut w = Workload::new(config);
    let mut invalid = 0;
    for i in 0..3_000u64 {
        let e = w.next_event_at(time);
        invalid += usize::from(e.expected != Expected::Valid);
        // Invalid events too keep the run's user and event ids: verification finds their bad rows.
        let v: serde_json::Value = serde_json::from_slice(&e.data).expect("JSON");
        let user = v["user_id"].as_str().expect("a string user id");
        let n: u64 = user.strip_prefix("lt-run1-").expect("the prefix").parse().unwrap();
        assert!(n < 50);
        let id: uuid::Uuid = v["event_id"].as_str().expect("an event id").parse().unwrap();
        assert_eq!(id.get_version_num(), 4);
        assert_eq!(run_event_index(run, &id), Some(i));
        assert_eq!(run_event_index(run + 1, &id), None);
        if let Some(t) = v["timestamp"].as_str() {
            assert_eq!(chrono::DateTime::parse_from_rfc3339(t).unwrap(), time);
        }
    }
    assert!(invalid > 50, "{invalid} invalid events");
    let far = (1u64 << 62) - 1;
    assert_eq!(run_event_index(7, &run_event_id(7, far)), Some(far));
}

#[test]
fn attribution_changes_only_page_urls_and_referrers() {
    let events = |attribution: bool| {
        let mut w = Workload::new(WorkloadConfig { attribution, ..WorkloadConfig::default() });
        (0..3_000).map(|_| w.next_event()).collect::<Vec<_>>()
    };
    let (plain, attributed) = (events(false), events(true));
    let (mut campaigns, mut referrers) = (0, std::collections::BTreeSet::new());
    for (a, b) in plain.iter().zip(&attributed) {
        assert_eq!(a.expected, b.expected);
        let (Ok(mut a), Ok(mut b)) = (serde_json::from_slice::<serde_json::Value>(&a.data), serde_json::from_slice::<serde_json::Value>(&b.data)) else {
            continue;
        };
        if !a.is_object() {
            continue;
        }
        for url in ["/page/url", "/page_url"] {
            if let (Some(x), Some(y)) = (a.pointer_mut(url), b.pointer_mut(url)) {
                let (x, y) = (x.take(), y.take());
                assert!(y.as_str().unwrap().starts_with(x.as_str().unwrap()), "{x} {y}");
                campaigns += usize::from(y.as_str().unwrap().contains("utm_") || y.as_str().unwrap().contains("clid="));
            }
        }
        if let (Some(x), Some(y)) = (a.pointer_mut("/page/referrer"), b.pointer_mut("/page/referrer")) {
            assert_eq!(x.as_str() == Some(""), y.as_str() == Some(""), "an empty referrer stays empty");
            referrers.insert(y.take().as_str().unwrap().to_owned());
            x.take();
        }
        assert_eq!(a, b, "every other field is the same");
    }
    assert!(campaigns > 300, "{campaigns} campaign URLs");
    assert!(referrers.len() > 10, "{referrers:?}");
}

/// The seed-42 workload is what every figure in docs/PERFORMANCE.md was measured on: its
/// bytes must not change (FNV-1a of the first 20,000 events as written by `workload`).
#[test]
fn the_seed_42_workload_keeps_its_bytes() {
    let mut out = Vec::new();
    Workload::new(WorkloadConfig::default()).write_ndjson(20_000, &mut out).unwrap();
    let hash = out.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    assert_eq!((out.len(), hash), (11_460_408, 659_658_000_751_196_537));
}
