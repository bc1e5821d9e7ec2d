//! Lookup tables: a CSV or NDJSON file keyed by one column, loaded once into a hash map;
//! an event's key field (`user_id`, `properties.plan`, `items[].sku`) picks the row whose
//! other columns go under `_pipeline.lookup.<name>` (an array in item order for `[]`).

use serde::Deserialize;
use serde_json::{Map, Value};
use simd_json::StaticNode;

use super::field_path::{FieldPath, Found};
use super::row_table::{MAX_TABLE_TEXT_BYTES, Refused, RowTable};
use super::{Issues, MemberKey, ObjectWriter};
use crate::json_text::push_json_str;
use crate::json_tape::TapeValue;
use crate::root_members::RootMembers;

/// Memory counted for a row on top of its key's and columns' bytes: its share of the index
/// (16-byte slots, two to four a row) with room to spare. An estimate, stated so limits can
/// be planned.
pub const ROW_OVERHEAD_BYTES: u64 = 80;

/// Keys of one event whose rows are prefetched ([`Lookup::prefetch`]): a purchase's items,
/// not every element of a hostile array (which is walked once more to be enriched).
pub const PREFETCHED_KEYS: usize = 16;

/// The table's file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    /// A header line naming the columns, then one row a line; every value is a string.
    Csv,
    /// One JSON object a line; values keep their JSON types.
    Ndjson,
}

/// The `parameters` of a lookup file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupParameters {
    /// The table file, relative to the enrichments directory (or absolute).
    pub table: String,
    /// `csv` or `ndjson`; default: from the file's extension.
    #[serde(default)]
    pub format: Option<TableFormat>,
    /// The event field whose value is looked up.
    pub key: FieldPath,
    /// The table's key column; default: the first CSV column (required for NDJSON).
    #[serde(default)]
    pub key_column: Option<String>,
    /// The columns added; default: every column but the key.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// Added where the key is not in the table; default: nothing.
    #[serde(default)]
    pub default: Option<Map<String, Value>>,
    /// The event types looked up; default: every type.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
}

impl LookupParameters {
    pub(crate) fn format(&self) -> Result<TableFormat, String> {
        if let Some(f) = self.format {
            return Ok(f);
        }
        let lower = self.table.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Ok(TableFormat::Csv)
        } else if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
            Ok(TableFormat::Ndjson)
        } else {
            Err(format!("parameters.table {:?}: cannot tell the format from the name: set parameters.format to \"csv\" or \"ndjson\"", self.table))
        }
    }
}

/// Memory left for lookup tables, and where the limit comes from (for messages).
#[derive(Clone, Debug)]
pub struct TableBudget {
    /// Bytes still free for tables.
    pub remaining: u64,
    /// Bytes the tables may take in all.
    pub total: u64,
    /// Where `total` comes from (the Lambda's memory, or local mode's limit), for the message when a table does not fit.
    pub why: String,
}

/// Rows by key: each value is the row's columns as one JSON object's text.
type Rows = RowTable;

/// A lookup enrichment with its table loaded.
#[derive(Debug)]
pub struct Lookup {
    pub(crate) name: String,
    /// `name` as the member of `_pipeline.lookup`.
    member: MemberKey,
    pub(crate) required: bool,
    key: FieldPath,
    pub(crate) event_types: Option<Vec<String>>,
    rows: Rows,
    default: Option<Box<str>>,
    /// The table's estimated memory.
    pub(crate) bytes: u64,

    pub(crate) table: String,
}

impl Lookup {
    /// Builds the lookup from its parameters and the table file's bytes, within `budget`.
    pub(crate) fn load(name: &str, required: bool, parameters: LookupParameters, data: &[u8], budget: &mut TableBudget) -> Result<Self, String> {
        let format = parameters.format()?;
        let mut table = Table { rows: Rows::default(), bytes: 0, file: &parameters.table, budget };
        match format {
            TableFormat::Csv => table.read_csv(data, parameters.key_column.as_deref(), parameters.columns.as_deref())?,
            TableFormat::Ndjson => {
                let key_column = parameters.key_column.as_deref().ok_or("parameters.key_column: name the member of each NDJSON row that holds the key")?;
                table.read_ndjson(data, key_column, parameters.columns.as_deref())?;
            }
        }
        let (mut rows, bytes) = (table.rows, table.bytes);
        rows.shrink_to_fit();
        budget.remaining -= bytes;
        let default = parameters.default.map(|d| Value::Object(d).to_string().into_boxed_str());
        Ok(Self {
            name: name.to_owned(),
            member: MemberKey::new(name),
            required,
            key: parameters.key,
            event_types: parameters.event_types,
            rows,
            default,
            bytes,
            table: parameters.table,
        })
    }

    /// Rows in the table.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Writes the rows of `event`'s keys into `lookup`; `event_type`: the event's, where
    /// this lookup must test it against its own types (not yet tested).
    pub(crate) fn apply(&self, event: &RootMembers<'_>, event_type: Option<&str>, lookup: &mut ObjectWriter<'_>, issues: &mut Issues<'_>) {
        if let (Some(types), Some(event_type)) = (&self.event_types, event_type) {
            if !types.iter().any(|t| t == event_type) {
                return;
            }
        }
        match self.key.find(event) {
            Found::Absent => {
                if self.required {
                    issues.push(self.key.pointer(None), format!("the event has no {}: the lookup {} is required", self.key, self.name));
                }
            }
            Found::One(value) => {
                if let Some(row) = self.row_of(value, None, issues) {
                    lookup.key(&self.member).push_str(row);
                }
            }
            Found::Each(values) => {
                // Written as the rows come, and taken back when none was found: no buffer
                // of rows per event.
                let before = lookup.checkpoint();
                let out = lookup.key(&self.member);
                out.push('[');
                let mut found = false;
                let mut missing = None;
                for (i, value) in values.enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let row = match value {
                        Some(value) => self.row_of(value, Some(i), issues),
                        None => {
                            missing = missing.or(Some(i));
                            None
                        }
                    };
                    found |= row.is_some();
                    out.push_str(row.unwrap_or("null"));
                }
                out.push(']');
                if !found {
                    lookup.rewind(before);
                }
                if let (true, Some(i)) = (self.required, missing) {
                    issues.push(self.key.pointer(Some(i)), format!("element {i} has no key: the lookup {} is required", self.name));
                }
            }
        }
    }

    /// Starts loading where the rows of `event`'s keys are looked up (the first
    /// [`PREFETCHED_KEYS`]), before the event is validated: by the time it is enriched, the
    /// look-ups need not wait for memory.
    /// `check_type`: the event's type is not yet tested against this lookup's types.
    pub(crate) fn prefetch(&self, event: &RootMembers<'_>, check_type: bool) {
        // The event's type is read only by a lookup limited to some types.
        if let (Some(types), true) = (&self.event_types, check_type) {
            let event_type = event.get("event_type").and_then(|v| v.as_str());
            if !event_type.is_some_and(|e| types.iter().any(|t| t == e)) {
                return;
            }
        }
        let key = |value: Option<TapeValue<'_>>| {
            if let Some(k) = value.and_then(|v| v.as_str()) {
                self.rows.prefetch(k);
            }
        };
        match self.key.find(event) {
            Found::Absent => {}
            Found::One(value) => key(Some(value)),
            Found::Each(values) => values.take(PREFETCHED_KEYS).for_each(key),
        }
    }

    /// The row (or the default) for one key value; a key of the wrong type, or a miss
    /// without a default in a required lookup, is reported.
    fn row_of(&self, value: TapeValue<'_>, index: Option<usize>, issues: &mut Issues<'_>) -> Option<&str> {
        let number;
        let key = match (value.as_str(), value.as_static()) {
            (Some(text), _) => text,
            (None, Some(StaticNode::U64(n))) => {
                number = n.to_string();
                number.as_str()
            }
            (None, Some(StaticNode::I64(n))) => {
                number = n.to_string();
                number.as_str()
            }
            _ => {
                issues.push(self.key.pointer(index), format!("{} is {}; lookup keys are strings or integers", self.key, value.type_name()));
                return None;
            }
        };
        let found = self.rows.get(key).or(self.default.as_deref());
        if found.is_none() && self.required {
            let mut shown = String::new();
            push_json_str(&mut shown, &key.chars().take(128).collect::<String>());
            issues.push(self.key.pointer(index), format!("{shown} is not in the table {} ({}) and the lookup is required", self.name, self.table));
        }
        found
    }
}

/// A table being read, with its memory counted against the budget as rows arrive.
struct Table<'a> {
    rows: Rows,
    bytes: u64,
    file: &'a str,
    budget: &'a TableBudget,
}

impl Table<'_> {
    fn insert(&mut self, line: u64, key: &str, row: String) -> Result<(), String> {
        if key.is_empty() {
            return Err(format!("{} line {line}: the key is empty", self.file));
        }
        self.bytes += key.len() as u64 + row.len() as u64 + ROW_OVERHEAD_BYTES;
        if self.bytes > self.budget.remaining {
            return Err(format!(
                "{} is too large: after {} rows (line {line}) it already takes about {} in memory, more than the {} left for lookup tables ({}): shrink the table (only the columns you need) or raise the limit",
                self.file,
                self.rows.len(),
                mib(self.bytes),
                mib(self.budget.remaining),
                self.budget.why
            ));
        }
        match self.rows.insert(key, &row) {
            Ok(()) => Ok(()),
            Err(Refused::Duplicate) => {
                let mut shown = String::new();
                push_json_str(&mut shown, key);
                Err(format!("{} line {line}: the key {shown} is in the table twice: keep one row per key", self.file))
            }
            Err(Refused::TooLarge) => Err(format!(
                "{} is too large: at line {line} its rows pass {}, the most one table holds: split it, or keep only the columns you need",
                self.file,
                mib(MAX_TABLE_TEXT_BYTES as u64)
            )),
        }
    }

    fn read_csv(&mut self, data: &[u8], key_column: Option<&str>, columns: Option<&[String]>) -> Result<(), String> {
        let file = self.file;
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(data);
        let headers = reader.headers().map_err(|e| format!("{file}: cannot read the header line: {e}"))?.clone();
        let position = |name: &str| headers.iter().position(|h| h == name);
        let known = || headers.iter().collect::<Vec<_>>().join(", ");
        let key_at = match key_column {
            None => 0,
            Some(k) => position(k).ok_or_else(|| format!("{file}: no column {k:?} for parameters.key_column; the columns are {}", known()))?,
        };
        if headers.is_empty() {
            return Err(format!("{file}: the header line names no columns"));
        }
        let chosen: Vec<(usize, &str)> = match columns {
            Some(names) => names
                .iter()
                .map(|n| position(n).map(|i| (i, n.as_str())).ok_or_else(|| format!("{file}: no column {n:?} for parameters.columns; the columns are {}", known())))
                .collect::<Result<_, _>>()?,
            None => headers.iter().enumerate().filter(|(i, _)| *i != key_at).collect(),
        };
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(format!("{file}: {e}")),
            }
            let line = record.position().map_or(0, |p| p.line());
            let mut row = String::with_capacity(record.as_slice().len() + 16 * chosen.len());
            row.push('{');
            for (n, (i, name)) in chosen.iter().enumerate() {
                if n > 0 {
                    row.push(',');
                }
                push_json_str(&mut row, name);
                row.push(':');
                push_json_str(&mut row, record.get(*i).unwrap_or_default());
            }
            row.push('}');
            self.insert(line, record.get(key_at).unwrap_or_default(), row)?;
        }
        Ok(())
    }

    fn read_ndjson(&mut self, data: &[u8], key_column: &str, columns: Option<&[String]>) -> Result<(), String> {
        let file = self.file;
        let text = std::str::from_utf8(data).map_err(|e| format!("{file}: not UTF-8 ({e})"))?;
        for (n, line) in text.lines().enumerate() {
            let line_no = n as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            let mut object: Map<String, Value> = serde_json::from_str(line).map_err(|e| format!("{file} line {line_no}: not a JSON object: {e}"))?;
            let key = match object.remove(key_column) {
                Some(Value::String(s)) => s,
                Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
                Some(other) => return Err(format!("{file} line {line_no}: the key {key_column:?} is {other}; keys are strings or integers")),
                None => return Err(format!("{file} line {line_no}: no {key_column:?} member (parameters.key_column)")),
            };
            let row = match columns {
                None => Value::Object(object).to_string(),
                Some(names) => {
                    let picked: Map<String, Value> = names.iter().filter_map(|c| object.remove(c).map(|v| (c.clone(), v))).collect();
                    Value::Object(picked).to_string()
                }
            };
            self.insert(line_no, &key, row)?;
        }
        Ok(())
    }
}

/// `12.3 MiB` (`512.0 KiB` below a MiB), for messages.
pub(crate) fn mib(bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}
