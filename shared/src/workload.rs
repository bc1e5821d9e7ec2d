//! The reference workload: a deterministic, seeded generator of realistic events (the four
//! catalogue types, 300-800 bytes each) with a known share of every kind of bad row.
//! Benches, tests and `loadtest` all draw from it, so their figures describe the same work.

use std::fmt::Write as _;
use std::io::{self, Write};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

pub mod hostile;

use crate::bad_row::BadRowType;
use crate::record::{MAX_RECORD_BYTES, Record};

/// What the pipeline must make of a generated event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Valid: stored, archived and counted.
    Valid,
    /// A bad row of this type.
    Bad(BadRowType),
}

/// One generated event.
#[derive(Clone, Debug)]
pub struct GeneratedEvent {
    /// The event's bytes, as a producer would send them.
    pub data: Vec<u8>,
    /// Its type (for an invalid event, the type it was made from).
    pub event_type: &'static str,
    /// What the pipeline must make of it.
    pub expected: Expected,
}

/// The event types of the catalogue, in mix order.
pub const EVENT_TYPES: [&str; 4] = ["pageview", "click", "purchase", "identify"];

/// How the workload is made.
#[derive(Clone, Debug)]
pub struct WorkloadConfig {
    /// The random generator's seed: the same seed makes the same events.
    pub seed: u64,
    /// Relative weights of [`EVENT_TYPES`].
    pub mix: [u32; 4],
    /// Share of events that become bad rows, spread evenly over the bad-row kinds enabled.
    pub invalid_ratio: f64,
    /// Share of events over 1 MiB (`size_violation`), kept apart from `invalid_ratio`
    /// because each one weighs as much as two thousand normal events.
    pub oversize_ratio: f64,
    /// Whether to make bad rows that are not a JSON object (`malformed`, `size_violation`).
    /// An HTTP producer cannot send those: the ingest API refuses them with a 400.
    pub unparseable: bool,
    /// Distinct users events are spread over.
    pub users: u64,
    /// Event time of the first event; each next event is 1 ms later (see
    /// [`Workload::next_event_at`] for times of the caller's choice).
    pub start: DateTime<Utc>,
    /// `Some(prefix)`: every user id is the string `<prefix><n>` (the prefix must need no
    /// JSON escaping), so one producer's users can be told apart from everyone else's.
    /// `None`: a mix of integer ids and `u-<n>` strings.
    pub user_prefix: Option<String>,
    /// `Some(run)`: every event carries `event_id` = [`run_event_id`]`(run, index)`, so a
    /// resent event keeps its id and the events of a run can be found again.
    /// `None`: half the events carry a random `event_id`, the others none.
    pub event_id_run: Option<u64>,
    /// Whether page URLs carry campaign parameters (UTM, click ids) and referrers come from
    /// search, social, email, internal and unknown sites, for the enrichments. Drawn from a
    /// generator of its own: every other byte of every event is the same as without it.
    pub attribution: bool,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            mix: [60, 25, 10, 5],
            invalid_ratio: 0.05,
            oversize_ratio: 0.0001,
            unparseable: true,
            users: 100_000,
            start: Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).single().unwrap_or_default(),
            user_prefix: None,
            event_id_run: None,
            attribution: false,
        }
    }
}

const USER_AGENTS: [&str; 12] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
];
const PATHS: [&str; 8] = [
    "/", "/pricing", "/docs/getting-started", "/blog/2026/11/event-pipelines", "/products/widget-pro",
    "/checkout/cart", "/account/settings", "/search?q=rust+lambda&page=2",
];
const TITLES: [&str; 6] = [
    "Home | Example Store", "Pricing plans for teams of every size", "Getting started with the SDK",
    "How we process 100,000 events per second", "Widget Pro - fast, small, reliable", "Your cart",
];
const ELEMENTS: [&str; 6] = ["signup-button", "nav-pricing", "add-to-cart", "hero-cta", "footer-docs", "search-submit"];
const CURRENCIES: [&str; 4] = ["USD", "EUR", "GBP", "JPY"];
const LOCALES: [&str; 5] = ["en-US", "en-GB", "de-DE", "fr-FR", "ja-JP"];

/// Campaign parameters added to page URLs with [`WorkloadConfig::attribution`].
const CAMPAIGNS: [&str; 6] = [
    "utm_source=newsletter&utm_medium=email&utm_campaign=winter_sale",
    "utm_source=google&utm_medium=cpc&utm_campaign=brand%20search&utm_term=event+pipeline&gclid=Cj0KCQiA5rGuBhCnARIsAN11vgR",
    "utm_source=facebook&utm_medium=social&utm_campaign=launch&utm_content=video_ad&fbclid=IwAR2F4",
    "utm_source=partner-blog&utm_medium=referral&utm_campaign=caf%C3%A9_week",
    "utm_source=bing&utm_medium=cpc&utm_campaign=generic&msclkid=5b7a1c",
    "gclid=EAIaIQobChMI",
];
/// Referrers with [`WorkloadConfig::attribution`]: search (with and without terms), social,
/// email, the shop itself, and sites the table does not know.
const REFERRERS: [&str; 12] = [
    "https://www.google.com/search?q=example+widgets",
    "https://www.google.co.uk/",
    "https://www.bing.com/search?q=widget+pro&form=QBLH",
    "https://duckduckgo.com/",
    "https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example.com%2F",
    "https://t.co/x7Yb2",
    "https://www.linkedin.com/feed/",
    "https://mail.google.com/mail/u/0/",
    "https://shop.example.com/products/widget-pro",
    "https://shop.example.com/",
    "https://blog.example.org/2026/11/widgets",
    "https://news.example.net/tech",
];

/// The seeded generator.
pub struct Workload {
    config: WorkloadConfig,
    rng: SmallRng,
    /// Draws for [`WorkloadConfig::attribution`] only, so the main stream is unchanged.
    attribution_rng: SmallRng,
    index: u64,
}

impl Workload {
    /// A generator at the first event of `config`'s sequence.
    pub fn new(config: WorkloadConfig) -> Self {
        Self {
            rng: SmallRng::seed_from_u64(config.seed),
            attribution_rng: SmallRng::seed_from_u64(config.seed ^ 0xa77e_1b07_10a5_eed5),
            config,
            index: 0,
        }
    }

    /// `url` with campaign parameters on some events, and `referrer` (when it is not empty)
    /// replaced by one of [`REFERRERS`].
    fn attributed(&mut self, url: String, referrer: String) -> (String, String) {
        if !self.config.attribution {
            return (url, referrer);
        }
        let rng = &mut self.attribution_rng;
        let url = if rng.random_bool(0.3) {
            let campaign = CAMPAIGNS[rng.random_range(0..CAMPAIGNS.len())];
            let join = if url.contains('?') { '&' } else { '?' };
            format!("{url}{join}{campaign}")
        } else {
            url
        };
        let referrer = if referrer.is_empty() { referrer } else { REFERRERS[rng.random_range(0..REFERRERS.len())].to_owned() };
        (url, referrer)
    }

    /// The next event, at `start` + 1 ms per event made before it.
    pub fn next_event(&mut self) -> GeneratedEvent {
        let time = self.config.start + Duration::milliseconds(self.index as i64);
        self.next_event_at(time)
    }

    /// The next event, with event time `time` (a load generator's send time).
    pub fn next_event_at(&mut self, time: DateTime<Utc>) -> GeneratedEvent {
        let index = self.index;
        self.index += 1;
        let event_type = self.pick_type();
        let roll: f64 = self.rng.random();
        if self.config.unparseable && roll < self.config.oversize_ratio {
            return self.oversize(event_type);
        }
        let invalid = self.config.invalid_ratio;
        let kinds: &[BadRowType] = if self.config.unparseable {
            &[
                BadRowType::Malformed,
                BadRowType::UnknownEventType,
                BadRowType::UnknownSchemaVersion,
                BadRowType::SchemaViolation,
            ]
        } else {
            &[BadRowType::UnknownEventType, BadRowType::UnknownSchemaVersion, BadRowType::SchemaViolation]
        };
        let roll: f64 = self.rng.random();
        if roll < invalid {
            let kind = kinds[((roll / invalid) * kinds.len() as f64) as usize % kinds.len()];
            return self.invalid(index, time, event_type, kind);
        }
        let data = self.valid_event(index, time, event_type, None).into_bytes();
        GeneratedEvent { data, event_type, expected: Expected::Valid }
    }

    /// `n` records of one shard, with increasing sequence numbers and arrival times.
    pub fn records(&mut self, n: usize, shard_id: &str) -> Vec<Record> {
        (0..n)
            .map(|i| {
                let event = self.next_event();
                Record {
                    data: event.data,
                    partition_key: format!("pk-{i}"),
                    sequence_number: format!("{:056}", 49_650_000_000_000_000_000u128 + self.index as u128),
                    sub_sequence_number: 0,
                    shard_id: shard_id.to_owned(),
                    arrival: self.config.start + Duration::milliseconds(self.index as i64),
                }
            })
            .collect()
    }

    /// Writes `n` events as NDJSON (one event per line).
    pub fn write_ndjson(&mut self, n: usize, out: &mut impl Write) -> io::Result<()> {
        for _ in 0..n {
            let event = self.next_event();
            out.write_all(&event.data)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn pick_type(&mut self) -> &'static str {
        let total: u32 = self.config.mix.iter().sum::<u32>().max(1);
        let mut roll = self.rng.random_range(0..total);
        for (weight, name) in self.config.mix.iter().zip(EVENT_TYPES) {
            if roll < *weight {
                return name;
            }
            roll -= weight;
        }
        EVENT_TYPES[0]
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn user(&mut self) -> String {
        // Skewed: half the traffic from a tenth of the users, as real products see.
        let hot = (self.config.users / 10).max(1);
        let id = if self.rng.random_bool(0.5) { self.rng.random_range(0..hot) } else { self.rng.random_range(0..self.config.users.max(1)) };
        match &self.config.user_prefix {
            Some(prefix) => format!("\"{prefix}{id}\""),
            None if id % 3 == 0 => id.to_string(),
            None => format!("\"u-{id:08}\""),
        }
    }

    fn uuid(&mut self) -> String {
        let bits: u128 = self.rng.random();
        uuid::Builder::from_random_bytes(bits.to_le_bytes()).into_uuid().to_string()
    }

    /// A valid event of `event_type`; `tweak` replaces one field's JSON (for invalid ones).
    fn valid_event(&mut self, index: u64, time: DateTime<Utc>, event_type: &str, tweak: Option<(&str, &str)>) -> String {
        let mut e = String::with_capacity(800);
        let _ = write!(e, "{{\"event_type\":\"{event_type}\"");
        if self.rng.random_bool(0.3) {
            e.push_str(",\"schema_version\":\"1-0-0\"");
        }
        let user = self.user();
        let _ = write!(e, ",\"user_id\":{user}");
        if self.rng.random_bool(0.9) {
            let _ = write!(e, ",\"timestamp\":\"{}\"", crate::time_format::format_millis(time));
        }
        let with_id = self.rng.random_bool(0.5);
        if let Some(run) = self.config.event_id_run {
            let _ = write!(e, ",\"event_id\":\"{}\"", run_event_id(run, index));
        } else if with_id {
            let id = self.uuid();
            let _ = write!(e, ",\"event_id\":\"{id}\"");
        }
        let session = self.rng.random_range(0..1_000_000u32);
        let _ = write!(e, ",\"session_id\":\"s-{session:07}\"");
        let path = self.pick(&PATHS);
        let locale = self.pick(&LOCALES);
        match event_type {
            "pageview" => {
                let title = self.pick(&TITLES);
                let ua = self.pick(&USER_AGENTS);
                let (w, h) = self.pick(&[(1920, 1080), (390, 844), (1440, 900), (412, 915)]);
                let referrer = if self.rng.random_bool(0.3) { String::new() } else { format!("https://www.google.com/search?q=example+{session}") };
                let (url, referrer) = self.attributed(format!("https://shop.example.com{path}"), referrer);
                let _ = write!(
                    e,
                    ",\"page\":{{\"url\":\"{url}\",\"title\":\"{title}\",\"referrer\":\"{referrer}\"}},\"device\":{{\"user_agent\":\"{ua}\",\"screen\":{{\"w\":{w},\"h\":{h}}}}}"
                );
            }
            "click" => {
                let element = self.pick(&ELEMENTS);
                let (x, y) = (self.rng.random_range(0..1920u32), self.rng.random_range(0..3000u32));
                let (url, _) = self.attributed(format!("https://shop.example.com{path}"), String::new());
                let _ = write!(e, ",\"element_id\":\"{element}\",\"page_url\":\"{url}\",\"x\":{x},\"y\":{y}");
                let _ = write!(e, ",\"context\":{{\"locale\":\"{locale}\",\"library\":{{\"name\":\"analytics-js\",\"version\":\"4.2.1\"}},\"page_title\":\"{}\"}}", self.pick(&TITLES));
            }
            "purchase" => {
                let currency = self.pick(&CURRENCIES);
                let n = self.rng.random_range(1..=3);
                let mut total = 0.0;
                let mut items = String::new();
                for i in 0..n {
                    let qty = self.rng.random_range(1..=4u32);
                    let cents = self.rng.random_range(199..=19_999u32);
                    let price = f64::from(cents) / 100.0;
                    total += price * f64::from(qty);
                    if i > 0 {
                        items.push(',');
                    }
                    let _ = write!(items, "{{\"sku\":\"SKU-{:06}\",\"quantity\":{qty},\"price\":{price:.2}}}", self.rng.random_range(0..1_000_000u32));
                }
                let order = self.rng.random_range(0..100_000_000u64);
                let _ = write!(e, ",\"order_id\":\"ord-{order:09}\",\"amount\":{total:.2},\"currency\":\"{currency}\",\"items\":[{items}]");
                let _ = write!(e, ",\"properties\":{{\"coupon\":null,\"payment_method\":\"card\",\"shipping\":\"standard\"}}");
            }
            _ => {
                let _ = write!(e, ",\"email\":\"user{session}@example.com\",\"traits\":{{\"plan\":\"pro\",\"locale\":\"{locale}\",\"company\":\"Example Ltd\",\"signup_path\":\"{path}\",\"seats\":{}}}", session % 50 + 1);
                let _ = write!(e, ",\"context\":{{\"library\":{{\"name\":\"analytics-js\",\"version\":\"4.2.1\"}},\"ip\":\"203.0.113.{}\"}}", session % 255);
            }
        }
        if let Some((field, value)) = tweak {
            let _ = write!(e, ",\"{field}\":{value}");
        }
        e.push('}');
        e
    }

    fn invalid(&mut self, index: u64, time: DateTime<Utc>, event_type: &'static str, kind: BadRowType) -> GeneratedEvent {
        let data = match kind {
            BadRowType::Malformed => {
                let valid = self.valid_event(index, time, event_type, None);
                match self.rng.random_range(0..4) {
                    0 => valid[..valid.len() / 2].as_bytes().to_vec(),
                    1 => format!("[{valid}]").into_bytes(),
                    2 => {
                        let mut bytes = valid.into_bytes();
                        let at = bytes.len() / 3;
                        bytes[at] = 0xFF;
                        bytes
                    }
                    _ => {
                        let mut dup = valid;
                        dup.pop();
                        dup.push_str(",\"session_id\":\"again\"}");
                        dup.into_bytes()
                    }
                }
            }
            BadRowType::UnknownEventType => self.valid_event(index, time, event_type, None).replacen(event_type, "checkout_started_v2", 1).into_bytes(),
            BadRowType::UnknownSchemaVersion => {
                let e = self.valid_event(index, time, event_type, None);
                let e = e.replacen(",\"schema_version\":\"1-0-0\"", "", 1);
                e.replacen(&format!("\"event_type\":\"{event_type}\""), &format!("\"event_type\":\"{event_type}\",\"schema_version\":\"9-0-0\""), 1).into_bytes()
            }
            BadRowType::SchemaViolation => {
                let tweak = match event_type {
                    "pageview" => ("referral_code", "\"not-declared\""),
                    "click" => ("x", "-5"),
                    "purchase" => ("coupon_code", "\"SAVE10\""),
                    _ => ("email_verified", "\"yes\""),
                };
                // The duplicate would be malformed: replace fields by name where they exist.
                let e = self.valid_event(index, time, event_type, None);
                if event_type == "click" {
                    let at = e.find(",\"x\":").unwrap_or(e.len() - 1);
                    let end = e[at + 1..].find(',').map_or(e.len() - 1, |i| at + 1 + i);
                    format!("{}{}{}", &e[..at], ",\"x\":-5", &e[end..]).into_bytes()
                } else {
                    let mut e = e;
                    e.pop();
                    let _ = write!(e, ",\"{}\":{}}}", tweak.0, tweak.1);
                    e.into_bytes()
                }
            }
            BadRowType::SizeViolation => return self.oversize(event_type),
            BadRowType::EnrichmentFailure => unreachable!("the workload makes no enrichment failures: they depend on the enrichments configured"),
        };
        GeneratedEvent { data, event_type, expected: Expected::Bad(kind) }
    }

    fn oversize(&mut self, event_type: &'static str) -> GeneratedEvent {
        let pad = "x".repeat(MAX_RECORD_BYTES);
        let data = format!("{{\"event_type\":\"{event_type}\",\"user_id\":1,\"properties\":{{\"blob\":\"{pad}\"}}}}").into_bytes();
        GeneratedEvent { data, event_type, expected: Expected::Bad(BadRowType::SizeViolation) }
    }
}

/// The `event_id` of event `index` of run `run` (with [`WorkloadConfig::event_id_run`]): a
/// version-4-shaped UUID whose first 8 bytes come from `run` and last 8 from `index`
/// (`index` below 2^62), so [`run_event_index`] can read both back.
pub fn run_event_id(run: u64, index: u64) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(((u128::from(run) << 64) | u128::from(index)).to_be_bytes()).into_uuid()
}

/// The event index in `id` when `id` is an [`run_event_id`] of `run`, else `None`.
pub fn run_event_index(run: u64, id: &uuid::Uuid) -> Option<u64> {
    let bits = id.as_u128();
    (bits >> 64 == run_event_id(run, 0).as_u128() >> 64).then_some(bits as u64 & ((1 << 62) - 1))
}
