//! Producers send a batch (or the still-pending part of it) and say what became of each
//! event; [`deliver`] retries throttled and failed parts with exponential backoff and jitter
//! (backon) and keeps the counts.

pub mod http;
pub mod kinesis;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use pipeline::sync::MutexExt as _;

use crate::batches::Batch;
use crate::bitset::Bitset;
use crate::progress::Counters;
use crate::schedule::Timing;

/// What one request achieved.
#[derive(Debug, PartialEq)]
pub enum Attempt {
    /// One entry per pending event, in order: acknowledged (true) or throttled (false).
    Records(Vec<bool>),
    /// The whole request was throttled (`429`/`503`, a throttling exception).
    Throttled {
        /// The wait the target asked for (`Retry-After`), if it did.
        retry_after: Option<Duration>,
    },
    /// Worth retrying: a timeout, a lost connection, a `5xx`.
    Retry(String),
    /// The request can never succeed (a `4xx`): its events are failed.
    Refused(String),
    /// The run cannot go on (wrong key, wrong URL, no such stream).
    Fatal(String),
}

/// Where batches go: the ingest API, or a Kinesis stream.
pub enum Producer {
    /// `POST /v1/events` of `pipeline up` or a deployed stack.
    Http(Box<http::Api>),
    /// `PutRecords` to a Kinesis stream (`--kinesis`).
    Kinesis(kinesis::KinesisProducer),
    /// Answers from a script, then acknowledges everything (tests of the retry logic).
    #[cfg(test)]
    Scripted(Mutex<std::collections::VecDeque<Attempt>>),
}

impl Producer {
    /// Sends the events of `batch` at `pending` once; the answer says which were taken.
    pub async fn send(&self, batch: &Batch, pending: &[u32]) -> Attempt {
        match self {
            Producer::Http(api) => api.post_events(batch, pending).await,
            Producer::Kinesis(k) => k.put_records(batch, pending).await,
            #[cfg(test)]
            Producer::Scripted(script) => {
                let next = script.lock().unwrap().pop_front();
                next.unwrap_or_else(|| Attempt::Records(vec![true; pending.len()]))
            }
        }
    }
}

/// How a batch's unacknowledged events are sent again: exponential backoff with jitter, at most `retries` times.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Resends at most, after the first attempt.
    pub retries: usize,
    /// The first backoff step.
    pub min_delay: Duration,
    /// The largest backoff step (a `Retry-After` may ask for more).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { retries: 8, min_delay: Duration::from_millis(50), max_delay: Duration::from_secs(5) }
    }
}

/// What the senders share besides the counters.
pub struct Shared {
    /// The run's counts.
    pub counters: Counters,
    /// Events acknowledged, by index in the run.
    pub accepted: Bitset,
    /// Set when the run must stop (a fatal answer).
    pub stop: AtomicBool,
    /// The fatal answer that stopped the run, if one did.
    pub fatal: Mutex<Option<String>>,
    /// The first refusal and the last retried error, for the summary.
    pub first_refusal: Mutex<Option<String>>,
    /// The last error that was retried (see `first_refusal`).
    pub last_error: Mutex<Option<String>>,
}

impl Shared {
    /// The state of a run of `events` events.
    pub fn new(events: u64) -> Self {
        Self {
            counters: Counters::default(),
            accepted: Bitset::new(events),
            stop: AtomicBool::new(false),
            fatal: Mutex::new(None),
            first_refusal: Mutex::new(None),
            last_error: Mutex::new(None),
        }
    }

    /// Whether the run must stop.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn note(slot: &Mutex<Option<String>>, text: String, replace: bool) {
        let mut slot = slot.lock_ignoring_poison();
        if replace || slot.is_none() {
            *slot = Some(text);
        }
    }
}

/// Sends `batch` until every event is acknowledged or given up on; returns its timing.
pub async fn deliver(producer: &Producer, batch: &Batch, due: Instant, policy: RetryPolicy, shared: &Shared) -> Timing {
    let c = &shared.counters;
    let started = Instant::now();
    Counters::add(&c.sent, batch.events.len() as u64);
    let mut pending: Vec<u32> = (0..batch.events.len() as u32).collect();
    let mut backoff = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_max_times(policy.retries)
        .with_jitter()
        .build();
    loop {
        Counters::add(&c.requests, 1);
        let mut wait_at_least = Duration::ZERO;
        match producer.send(batch, &pending).await {
            Attempt::Records(results) if results.len() == pending.len() => {
                let mut throttled = Vec::new();
                for (&i, ok) in pending.iter().zip(results) {
                    if ok {
                        shared.accepted.insert(batch.slot.first_event + u64::from(i));
                    } else {
                        throttled.push(i);
                    }
                }
                Counters::add(&c.accepted, (pending.len() - throttled.len()) as u64);
                Counters::add(&c.throttled, throttled.len() as u64);
                pending = throttled;
            }
            Attempt::Records(results) => {
                Counters::add(&c.errors, 1);
                let text = format!("the response holds {} results for {} events", results.len(), pending.len());
                Shared::note(&shared.last_error, text, true);
            }
            Attempt::Throttled { retry_after } => {
                Counters::add(&c.throttled, pending.len() as u64);
                wait_at_least = retry_after.unwrap_or_default();
            }
            Attempt::Retry(text) => {
                Counters::add(&c.errors, 1);
                Shared::note(&shared.last_error, text, true);
            }
            Attempt::Refused(text) => {
                Counters::add(&c.failed, pending.len() as u64);
                Shared::note(&shared.first_refusal, text, false);
                break;
            }
            Attempt::Fatal(text) => {
                Counters::add(&c.failed, pending.len() as u64);
                Shared::note(&shared.fatal, text, false);
                shared.stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        if pending.is_empty() {
            break;
        }
        match backoff.next() {
            Some(delay) if !shared.stopped() => tokio::time::sleep(delay.max(wait_at_least)).await,
            _ => {
                Counters::add(&c.failed, pending.len() as u64);
                break;
            }
        }
    }
    Timing { due, started, done: Instant::now() }
}

/// An error and its causes on one line (hyper's own message is only "client error (Connect)").
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::schedule::Slot;

    fn batch() -> Batch {
        let raw = Bytes::from_static(br#"[{"a":1},{"a":2},{"a":3}]"#);
        let slot = Slot { first_event: 10, events: 3, due: Duration::ZERO };
        Batch { index: 0, slot, body: raw.clone(), raw, events: vec![(1, 8), (9, 16), (17, 24)], gzip: false }
    }

    fn scripted(attempts: Vec<Attempt>) -> Producer {
        Producer::Scripted(Mutex::new(attempts.into()))
    }

    fn fast(retries: usize) -> RetryPolicy {
        RetryPolicy { retries, min_delay: Duration::from_millis(1), max_delay: Duration::from_millis(2) }
    }

    #[tokio::test]
    async fn throttled_records_and_errors_are_retried_until_acknowledged() {
        let shared = Shared::new(20);
        let producer = scripted(vec![
            Attempt::Records(vec![true, false, false]),
            Attempt::Throttled { retry_after: Some(Duration::from_millis(5)) },
            Attempt::Retry("connection reset".into()),
            Attempt::Records(vec![false, true]),
        ]);
        let due = Instant::now();
        let timing = deliver(&producer, &batch(), due, fast(8), &shared).await;
        let c = &shared.counters;
        let got = [&c.sent, &c.accepted, &c.throttled, &c.failed, &c.errors, &c.requests].map(Counters::get);
        // sent 3; accepted 1 + 1 + 1; throttled 2 (records) + 2 (429) + 1 (record).
        assert_eq!(got, [3, 3, 5, 0, 1, 5]);
        assert!((10..13).all(|i| shared.accepted.contains(i)) && shared.accepted.count() == 3);
        assert!(timing.latency() >= Duration::from_millis(5), "the Retry-After wait counts");
    }

    #[tokio::test]
    async fn events_are_failed_when_retries_run_out_or_the_request_is_refused() {
        let shared = Shared::new(20);
        let producer = scripted((0..3).map(|_| Attempt::Throttled { retry_after: None }).collect());
        deliver(&producer, &batch(), Instant::now(), fast(2), &shared).await;
        let c = &shared.counters;
        assert_eq!([&c.accepted, &c.throttled, &c.failed, &c.requests].map(Counters::get), [0, 9, 3, 3]);

        let shared = Shared::new(20);
        let producer = scripted(vec![Attempt::Refused("413".into())]);
        deliver(&producer, &batch(), Instant::now(), fast(2), &shared).await;
        assert_eq!(Counters::get(&shared.counters.failed), 3);
        assert_eq!(shared.first_refusal.lock().unwrap().as_deref(), Some("413"));
        assert!(!shared.stopped());
    }

    #[tokio::test]
    async fn a_fatal_answer_stops_the_run() {
        let shared = Shared::new(20);
        let producer = scripted(vec![Attempt::Fatal("403".into())]);
        deliver(&producer, &batch(), Instant::now(), fast(2), &shared).await;
        assert!(shared.stopped());
        assert_eq!(shared.fatal.lock().unwrap().as_deref(), Some("403"));
        assert_eq!(Counters::get(&shared.counters.failed), 3);
    }
}
