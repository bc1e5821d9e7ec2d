//! `loadtest`: open-loop load for the pipeline, and an end-to-end conservation check.
//!
//! It sends the reference workload (`pipeline::workload`, the generator the benches and tests
//! use) as batches to `POST /v1/events` of `pipeline up` or a deployed stack (or straight to a
//! Kinesis stream with `--kinesis`, KPL-aggregated with `--aggregate`: [`producer::kinesis`]),
//! at a fixed rate whatever the latency, and reports what was
//! accepted and the latency percentiles; `--verify` then checks that every accepted event of
//! the run was stored or became a bad row.
//!
//! # Design
//! - **Open loop** ([`schedule`]): batch `k` is due at a fixed time from the start (rate and
//!   ramp); latency is measured from that due time into an HDR histogram ([`report`]), so a
//!   batch that waited for a connection counts its wait ("no coordinated omission").
//! - **Cheap sending**: a generator thread ([`batches`]) makes and serialises batches ahead of
//!   schedule into a bounded queue (about a second of load); `--connections` worker tasks on
//!   one async thread (two with `--kinesis`, where the AWS SDK signs every body) take the next batch, sleep until it is due and post the ready bytes over
//!   a kept-alive connection ([`producer::http`]; hyper, HTTP/1.1, rustls for https).
//! - **Retries** ([`producer`]): records with an `ErrorCode` in a `200` answer, `429`/`503`
//!   (after `Retry-After`), timeouts and `5xx` are resent with exponential backoff and jitter;
//!   event ids are fixed, so a resend after a lost answer writes the same item.
//! - **The generator's own limit**: when a batch is due before the generator has made it, the
//!   run counts a generator stall; stalls over 250 ms make the run exit 1 with a message
//!   saying the numbers are the generator's, and its speed on this machine.
//! - **Verification** ([`verify`]): each run has a random 64-bit run id. User ids are
//!   `lt-<run id>-<n>` over `--users`, and each `event_id` encodes the run id and the event's
//!   index ([`pipeline::workload::run_event_id`]); both survive the workload's mutations into
//!   invalid events (they change the type, the version or one field). After the run it waits
//!   until local mode's `/health` shows no lag (or, where there is none, until counts stop
//!   growing), then reads every page of the run's users' events (`GET /v1/users/{id}/events`)
//!   and the bad rows since the run's start (`GET /v1/bad-rows`, or the `bad-rows/` objects
//!   of `--bad-rows-bucket` for a deployed stack) whose payload names the run. Found ids are
//!   matched against the set of acknowledged indices, each once: `missing = accepted - stored -
//!   bad_rows`. With `--archive-dir` (local) or `--archive-bucket` (S3) it also reads the
//!   archive written since the run's start ([`archive`]): every valid accepted event must be
//!   there too (`archive_missing`). Local mode's keys-only pages (`fields=event_id`, up to
//!   100,000 ids) keep a 60M-event check within a couple of minutes. It gives up after
//!   `--verify-timeout` without progress.
//!
//! The report's fields are defined on [`report::Report`] and in `loadtest --help`.
//!
//! The central types: [`Args`] (the command line), [`run()`], which sends the load and
//! verifies it, and the [`Outcome`] it returns: the [`Report`] (with its [`VerifyReport`])
//! and the problems that make the run exit 1.
//!
//! # Example
//!
//! ```sh
//! # 20,000 events/s for 20 s against `pipeline up`, then the conservation check
//! loadtest --target http://127.0.0.1:8080 --api-key $KEY --read-key $READ_KEY \
//!   --rate 20000 --duration 20s --batch-size 250 --verify --archive-dir data/archive --report lt.json
//! ```
//!
//! The same from a program:
//!
//! ```no_run
//! use clap::Parser;
//!
//! let args = loadtest::Args::parse_from(["loadtest", "--target", "http://127.0.0.1:8080", "--api-key", "k",
//!     "--rate", "1000", "--duration", "5s"]);
//! args.check().map_err(anyhow::Error::msg)?; // the messages main prints for bad flags
//! let outcome = loadtest::run(&args)?;
//! print!("{}", outcome.summary());
//! assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
//! # Ok::<(), anyhow::Error>(())
//! ```

#![warn(missing_docs)]

pub mod archive;
pub mod args;
pub mod batches;
pub mod bitset;
pub mod producer;
pub mod progress;
pub mod report;
pub mod run;
pub mod schedule;
pub mod verify;

pub use args::Args;
pub use report::{Report, VerifyReport};
pub use run::{Outcome, run};
