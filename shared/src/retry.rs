//! The one retry loop of every writer (feature `flow`): send a request, keep what the other
//! side did not take, wait (exponential backoff with full jitter, or the wait it asked
//! for), send that again, until everything is taken, the request is refused for good, or
//! the next wait would pass the deadline. The AWS adapters (DynamoDB, Firehose, S3,
//! Kinesis) and `pipeline recover` (the local ingest API) run their requests through it;
//! each says only how one attempt went ([`Answer`]).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// The waits between attempts: attempt `n` waits a uniformly random time in
/// `0..=min(max, base * 2^n)` ("full jitter", which spreads the retries of many writers
/// instead of synchronising them), or what the other side asked for, at most `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry's ceiling, doubled for each retry after it.
    pub base: Duration,
    /// The ceiling no wait goes past.
    pub max: Duration,
}

impl Backoff {
    /// The ceiling of the wait before attempt `retry` (0 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        self.base.saturating_mul(2u32.saturating_pow(retry.min(31))).min(self.max)
    }

    /// The wait before attempt `retry`: random up to the ceiling, or `asked` (at most `max`).
    fn wait(&self, retry: u32, asked: Option<Duration>) -> Duration {
        match asked {
            Some(asked) => asked.min(self.max),
            None => {
                let ceiling = self.ceiling(retry).as_nanos().min(u128::from(u64::MAX)) as u64;
                Duration::from_nanos(jitter(ceiling))
            }
        }
    }
}

/// A random number in `0..=ceiling` (xorshift over the clock: jitter needs spread, not
/// cryptographic quality).
fn jitter(ceiling: u64) -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0x9e37_79b9, |d| d.as_nanos() as u64) | 1,
        );
    }
    let mut x = STATE.with(Cell::get);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.with(|s| s.set(x));
    if ceiling == u64::MAX { x } else { x % (ceiling + 1) }
}

/// How one attempt went.
#[derive(Debug)]
pub enum Answer<E> {
    /// The other side answered: the items at these positions (of those the attempt was
    /// given) were not taken (throttled, unprocessed) and go again; none means all were.
    Left(Vec<usize>),
    /// Nothing was taken, and sending again may succeed (throttled as a whole, a server
    /// error, no answer at all); `after` is the wait the other side asked for.
    Again {
        /// The wait the other side asked for, if it did (a `Retry-After`).
        after: Option<Duration>,
    },
    /// Refused for good (access denied, a malformed request): no retry mends it.
    Refused(E),
}

/// What [`until_taken`] came to.
#[derive(Debug)]
pub struct Retried<T, E> {
    /// Items never taken: the write failed for them.
    pub left: Vec<T>,
    /// Attempts after the first.
    pub retries: usize,
    /// Why the other side refused for good, when it did.
    pub refused: Option<E>,
}

impl<T, E> Retried<T, E> {
    /// Whether every item was taken.
    pub fn all_taken(&self) -> bool {
        self.left.is_empty()
    }
}

/// Sends `items` with `attempt` until every one is taken, `attempt` answers
/// [`Answer::Refused`], or the next wait would end past `deadline`. `attempt` makes the
/// request from the items still pending and returns the future that sends it.
pub async fn until_taken<T, E, Fut: Future<Output = Answer<E>>>(
    backoff: Backoff,
    deadline: Instant,
    items: Vec<T>,
    mut attempt: impl FnMut(&[T]) -> Fut,
) -> Retried<T, E> {
    let mut pending = items;
    let mut retries = 0usize;
    loop {
        let asked = match attempt(&pending).await {
            Answer::Left(left) => {
                pending = keep(pending, &left);
                None
            }
            Answer::Again { after } => after,
            Answer::Refused(why) => return Retried { left: pending, retries, refused: Some(why) },
        };
        if pending.is_empty() {
            return Retried { left: pending, retries, refused: None };
        }
        let wait = backoff.wait(u32::try_from(retries).unwrap_or(u32::MAX), asked);
        if Instant::now() + wait >= deadline {
            return Retried { left: pending, retries, refused: None };
        }
        tokio::time::sleep(wait).await;
        retries += 1;
    }
}

/// The items of `items` at `positions`, in their order.
fn keep<T>(items: Vec<T>, positions: &[usize]) -> Vec<T> {
    if positions.is_empty() {
        return Vec::new();
    }
    let mut wanted = vec![false; items.len()];
    for &p in positions {
        if let Some(w) = wanted.get_mut(p) {
            *w = true;
        }
    }
    items.into_iter().zip(wanted).filter_map(|(item, w)| w.then_some(item)).collect()
}

/// How much one request may carry: at most `items` items and `bytes` bytes (an item over
/// the bytes goes alone). DynamoDB's BatchWriteItem takes 25 items, Firehose's
/// PutRecordBatch 500 records and 4 MiB, Kinesis' PutRecords 500 records and 5 MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    /// Items per request at most.
    pub items: usize,
    /// Bytes per request at most.
    pub bytes: usize,
}

impl RequestLimits {
    /// `items` cut into requests within the limits, in order; `size` is an item's bytes.
    pub fn split<T>(&self, items: impl IntoIterator<Item = T>, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
        let mut requests: Vec<Vec<T>> = Vec::new();
        let mut bytes = 0usize;
        for item in items {
            let n = size(&item);
            let full = requests.last().is_none_or(|r| r.len() >= self.items || (!r.is_empty() && bytes + n > self.bytes));
            if full {
                requests.push(Vec::new());
                bytes = 0;
            }
            bytes += n;
            if let Some(request) = requests.last_mut() {
                request.push(item);
            }
        }
        requests
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Backoff = Backoff { base: Duration::from_millis(1), max: Duration::from_millis(4) };

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn what_is_left_goes_again_until_taken() {
        let mut calls = Vec::new();
        let out: Retried<u32, ()> = until_taken(FAST, far(), vec![1, 2, 3, 4], |pending: &[u32]| {
            calls.push(pending.to_vec());
            let answer = match calls.len() {
                1 => Answer::Left(vec![1, 3]),
                2 => Answer::Again { after: None },
                _ => Answer::Left(Vec::new()),
            };
            async move { answer }
        })
        .await;
        assert!(out.all_taken());
        assert_eq!((out.retries, out.refused), (2, None));
        assert_eq!(calls, [vec![1, 2, 3, 4], vec![2, 4], vec![2, 4]]);
    }

    #[tokio::test]
    async fn a_refusal_stops_at_once_and_keeps_what_was_left() {
        let out = until_taken(FAST, far(), vec!["a", "b"], |_: &[&str]| async { Answer::Refused("denied") }).await;
        assert_eq!((out.left, out.retries, out.refused), (vec!["a", "b"], 0, Some("denied")));
    }

    #[tokio::test]
    async fn waits_stop_before_the_deadline() {
        let start = Instant::now();
        let backoff = Backoff { base: Duration::from_millis(25), max: Duration::from_secs(2) };
        let out: Retried<u8, ()> =
            until_taken(backoff, start + Duration::from_secs(1), vec![1], |_: &[u8]| async { Answer::Again { after: None } }).await;
        assert_eq!(out.left, [1]);
        // Ceilings 25, 50, 100, 200, 400 ms add up to 775 ms: at least five waits fit.
        assert!(out.retries >= 5, "{} retries in 1 s", out.retries);
        assert!(Instant::now() < start + Duration::from_secs(1) + Duration::from_millis(200));
    }

    #[tokio::test]
    async fn the_wait_asked_for_is_kept_within_the_maximum() {
        let start = Instant::now();
        let out: Retried<u8, ()> = until_taken(FAST, far(), vec![1], |_: &[u8]| async move {
            if start.elapsed() < Duration::from_millis(30) { Answer::Again { after: Some(Duration::from_secs(3600)) } } else { Answer::Left(vec![]) }
        })
        .await;
        assert!(out.all_taken() && out.retries >= 1);
        assert!(start.elapsed() < Duration::from_secs(5), "an hour's Retry-After was not capped");
    }

    #[test]
    fn requests_keep_within_items_and_bytes_in_order() {
        let limits = RequestLimits { items: 3, bytes: 10 };
        let sizes = [4, 4, 4, 1, 1, 1, 1, 20, 2];
        let requests = limits.split(sizes, |n| *n);
        assert_eq!(requests, vec![vec![4, 4], vec![4, 1, 1], vec![1, 1], vec![20], vec![2]]);
        assert!(limits.split(Vec::<usize>::new(), |n| *n).is_empty());
    }

    #[test]
    fn ceilings_double_up_to_the_maximum() {
        let b = Backoff { base: Duration::from_millis(25), max: Duration::from_secs(2) };
        let ceilings: Vec<u64> = (0..9).map(|n| b.ceiling(n).as_millis() as u64).collect();
        assert_eq!(ceilings, [25, 50, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(b.ceiling(1_000), Duration::from_secs(2));
        for n in 0..1000 {
            assert!(b.wait(3, None) <= Duration::from_millis(200), "{n}");
        }
    }
}
