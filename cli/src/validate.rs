//! `pipeline validate`: checks NDJSON events against the schemas, as the processor would.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Args;
use pipeline::enrichments::lookup::TableBudget;
use pipeline::{BadRowType, CoreConfig, MAX_RECORD_BYTES, Outcome, Record, process_batch};

/// Lines checked per parallel batch: large enough for rayon, small enough to stream.
const LINES_PER_BATCH: usize = 8192;
/// Invalid lines the human summary lists before it points at `--json`.
const LISTED_INVALID: usize = 20;

#[derive(Args)]
#[command(
    about = "Check NDJSON events against the schemas and enrichments, exactly as the processor would",
    long_about = "Check NDJSON events (one event per line) against the schemas, exactly as the \
processor would: JSON shape, size, event type, schema version, every schema rule, and the \
enrichments marked required (enrichment_failure).\n\n\
Without FILE, only checks the configuration given with --schemas and --enrichments (every \
enrichment file, and every lookup table it names, loaded as `pipeline up` and the processor \
load them) and lists it.\n\n\
Exit status: 0 when every line is valid, 1 when any is not, 2 on a usage or I/O error or a \
configuration that cannot be loaded.\n\n\
Examples:\n  pipeline validate events.ndjson\n  pipeline validate --json - < events.ndjson\n  \
pipeline validate --schemas ./schemas events.ndjson\n  pipeline validate --enrichments ./enrichments"
)]
pub struct ValidateArgs {
    /// The NDJSON file to check, or `-` for standard input.
    #[arg(value_name = "FILE|-", required_unless_present_any = ["schemas", "enrichments"])]
    input: Option<String>,
    /// A schemas directory (<event_type>/<MODEL-REVISION-ADDITION>.json) replacing the built-in ones.
    #[arg(long = "schemas", value_name = "DIR", env = "SCHEMAS_DIR")]
    schemas: Option<PathBuf>,
    /// An enrichments directory (one JSON file per enrichment, and their lookup tables) replacing the built-in ones.
    #[arg(long = "enrichments", value_name = "DIR", env = "ENRICHMENTS_DIR")]
    enrichments: Option<PathBuf>,
    /// Print one JSON line per input line instead of a summary.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &ValidateArgs) -> Result<ExitCode> {
    let core = CoreConfig::load(args.schemas.as_deref(), args.enrichments.as_deref(), TableBudget::local())?;
    let Some(input_name) = &args.input else {
        let mut out = io::stdout().lock();
        writeln!(out, "schemas from {}: {}", core.schemas.origin(), core.schemas.keys().join(", "))?;
        writeln!(out, "enrichments from {}", core.enrichments)?;
        return Ok(ExitCode::SUCCESS);
    };
    let input: Box<dyn Read> = if input_name == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(input_name).with_context(|| format!("cannot read {input_name}"))?)
    };
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let stdout = io::stdout().lock();
    let mut out = BufWriter::new(stdout);
    let mut summary = Summary::default();
    let mut line_no = 0u64;
    loop {
        let lines = read_lines(&mut reader, LINES_PER_BATCH).with_context(|| format!("cannot read {input_name}"))?;
        if lines.is_empty() {
            break;
        }
        let first = line_no + 1;
        line_no += lines.len() as u64;
        let records: Vec<Record> = lines
            .iter()
            .enumerate()
            .map(|(i, line)| Record {
                // An over-long line is checked as the processor checks a record over 1 MiB:
                // its first bytes past the limit are enough to refuse it.
                data: line.bytes.clone(),
                partition_key: String::new(),
                sequence_number: (first + i as u64).to_string(),
                sub_sequence_number: 0,
                shard_id: "shardId-000000000000".into(),
                arrival: Utc::now(),
            })
            .collect();
        let mut outcomes = process_batch(&core, &records, Utc::now());
        for (line, outcome) in lines.iter().zip(&mut outcomes) {
            if let (Some(len), Outcome::Bad(bad)) = (line.cut_from, outcome) {
                bad.errors = vec![pipeline::Violation::new(
                    "",
                    "maxBytes",
                    format!("the line is {len} bytes; the limit is {MAX_RECORD_BYTES} bytes (1 MiB): send large content by reference instead"),
                )];
            }
        }
        for (i, outcome) in outcomes.iter().enumerate() {
            let line = first + i as u64;
            if args.json {
                write_json_line(&mut out, line, outcome)?;
            }
            summary.add(line, outcome);
        }
    }
    if !args.json {
        summary.print(&mut out, input_name, &core)?;
    }
    out.flush()?;
    Ok(if summary.invalid == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// One input line: its bytes (without the `\n`), at most one past the record limit.
struct Line {
    bytes: Vec<u8>,
    /// The whole line's length when it was longer than the limit (the rest was skipped).
    cut_from: Option<u64>,
}

/// Up to `max` lines; a last line without `\n` counts too. A line over the record limit
/// keeps only its first [`MAX_RECORD_BYTES`] + 1 bytes, so a file with no line break does
/// not have to fit in memory.
fn read_lines(reader: &mut impl BufRead, max: usize) -> io::Result<Vec<Line>> {
    let mut lines = Vec::new();
    while lines.len() < max {
        let Some(line) = read_line(reader)? else { break };
        lines.push(line);
    }
    Ok(lines)
}

fn read_line(reader: &mut impl BufRead) -> io::Result<Option<Line>> {
    let keep = MAX_RECORD_BYTES + 1;
    let mut bytes = Vec::new();
    let mut len = 0u64;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            if len == 0 {
                return Ok(None);
            }
            break;
        }
        let (chunk, done) = match memchr::memchr(b'\n', buf) {
            Some(at) => (&buf[..at], Some(at + 1)),
            None => (buf, None),
        };
        let room = keep.saturating_sub(bytes.len()).min(chunk.len());
        bytes.extend_from_slice(&chunk[..room]);
        len += chunk.len() as u64;
        let used = done.unwrap_or(buf.len());
        reader.consume(used);
        if done.is_some() {
            break;
        }
    }
    let cut_from = (len > MAX_RECORD_BYTES as u64).then_some(len);
    Ok(Some(Line { bytes, cut_from }))
}

/// One `--json` line: `{"line": N, "valid": true}` or with the bad-row type and errors.
#[derive(serde::Serialize)]
struct LineReport<'a> {
    line: u64,
    valid: bool,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<BadRowType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [pipeline::Violation]>,
}

fn write_json_line(out: &mut impl Write, line: u64, outcome: &Outcome) -> io::Result<()> {
    let bad = outcome.as_bad_row();
    let report = LineReport {
        line,
        valid: bad.is_none(),
        kind: bad.map(|b| b.kind),
        errors: bad.map(|b| b.errors.as_slice()),
    };
    serde_json::to_writer(&mut *out, &report)?;
    out.write_all(b"\n")
}

#[derive(Default)]
struct Summary {
    valid: u64,
    invalid: u64,
    by_type: [u64; BadRowType::COUNT],
    listed: Vec<String>,
}

impl Summary {
    fn add(&mut self, line: u64, outcome: &Outcome) {
        let Outcome::Bad(bad) = outcome else {
            self.valid += 1;
            return;
        };
        self.invalid += 1;
        self.by_type[bad.kind.index()] += 1;
        if self.listed.len() < LISTED_INVALID {
            let schema = bad.schema.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
            let mut text = format!("  line {line}: {}{schema}", bad.kind);
            for e in &bad.errors {
                let path = if e.path.is_empty() { "(event)" } else { &e.path };
                text.push_str(&format!("\n    {path}: {} [{}]", e.message, e.keyword));
            }
            self.listed.push(text);
        }
    }

    fn print(&self, out: &mut impl Write, input: &str, core: &CoreConfig) -> io::Result<()> {
        let total = self.valid + self.invalid;
        let name = if input == "-" { "standard input" } else { input };
        let (schemas, enrichments) = (core.schemas.origin(), core.enrichments.origin());
        writeln!(out, "checked {total} events from {name} against {schemas}, with enrichments from {enrichments}")?;
        writeln!(out, "  valid:   {}", self.valid)?;
        writeln!(out, "  invalid: {}", self.invalid)?;
        for (kind, count) in BadRowType::ALL.iter().zip(self.by_type) {
            if count > 0 {
                writeln!(out, "    {kind}: {count}")?;
            }
        }
        if !self.listed.is_empty() {
            writeln!(out, "\ninvalid lines:")?;
            for text in &self.listed {
                writeln!(out, "{text}")?;
            }
            if self.invalid > self.listed.len() as u64 {
                writeln!(out, "  ... and {} more (use --json to list every line)", self.invalid - self.listed.len() as u64)?;
            }
        }
        Ok(())
    }
}
