//! The configured enrichments (DESIGN section 3): one JSON file per enrichment in
//! `enrichments/` (embedded at build time, replaced by a directory at run time), each naming
//! the enrichment, whether it is on, whether it is required, and its parameters.
//!
//! [`campaign`] (UTM parameters and click ids), [`referer`] (medium, source, search term)
//! and [`lookup`] (CSV or NDJSON tables) write their fields into `_pipeline`; what fails
//! for an event goes into `_pipeline.enrichment_errors`, or makes the event an
//! `enrichment_failure` bad row where the enrichment is `required`.

pub mod campaign;
pub mod field_path;
mod length_set;
mod memo;
pub mod lookup;
pub mod referer;
mod row_table;
mod seen_hosts;
pub mod url_parts;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::bad_row::Violation;
use crate::json_text::push_json_str;
use crate::group::GroupValues;
use crate::root_members::RootMembers;
use campaign::{Campaign, CampaignParameters};
use lookup::{Lookup, LookupParameters, TableBudget, mib};
use referer::{Referer, RefererParameters};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_enrichments.rs"));
}

/// Memory lookup tables may take where the caller sets no limit (local mode, `validate`).
pub const DEFAULT_TABLE_BUDGET_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Share of a Lambda function's memory its lookup tables may take (the rest is for batches).
pub const LAMBDA_TABLE_SHARE: u64 = 4;

impl TableBudget {
    /// `bytes` for all tables together; `why` says where the limit comes from.
    pub fn new(bytes: u64, why: impl Into<String>) -> Self {
        Self { remaining: bytes, total: bytes, why: why.into() }
    }

    /// Local mode's and `pipeline validate`'s limit.
    pub fn local() -> Self {
        Self::new(DEFAULT_TABLE_BUDGET_BYTES, format!("{} for all lookup tables", mib(DEFAULT_TABLE_BUDGET_BYTES)))
    }

    /// A quarter of a Lambda function's memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, MiB).
    pub fn lambda(memory_mib: u64) -> Self {
        let bytes = memory_mib * 1024 * 1024 / LAMBDA_TABLE_SHARE;
        Self::new(bytes, format!("a quarter of the function's {memory_mib} MiB (AWS_LAMBDA_FUNCTION_MEMORY_SIZE): raise the function's memory"))
    }
}

/// A configuration that cannot be used; the message names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum EnrichmentError {
    /// An enrichments file or directory could not be read.
    #[error("cannot read enrichments from {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The read's error.
        source: std::io::Error,
    },
    /// A file that is not a usable enrichment (its JSON, parameters or lookup table).
    #[error("enrichment file {file}: {reason}")]
    Invalid {
        /// The file, as found.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    #[error(
        "no enrichment files (*.json) in {0}: put one file per enrichment there (see the project's enrichments/); \
         to turn one off, keep its file with \"enabled\": false"
    )]
    /// A directory with no enrichment file in it.
    Empty(String),
}

/// Which enrichment a file configures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// UTM parameters and click ids of the page URL, into `_pipeline.campaign`.
    Campaign,
    /// The referrer's medium, source and search term, into `_pipeline.referer`.
    Referer,
    /// The rows of a CSV table a field of the event names.
    Lookup,
}

impl Kind {
    /// The name a file gives in its `"enrichment"` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Campaign => "campaign",
            Kind::Referer => "referer",
            Kind::Lookup => "lookup",
        }
    }
}

/// What every enrichment file holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrichmentFile {
    enrichment: Kind,
    /// A lookup's name (`_pipeline.lookup.<name>`); campaign and referer need none.
    #[serde(default)]
    name: Option<String>,
    enabled: bool,
    /// A failure makes the event an `enrichment_failure` bad row instead of an entry in
    /// `_pipeline.enrichment_errors`.
    #[serde(default)]
    required: bool,
    #[serde(default)]
    #[allow(dead_code)] // for the people who read the file
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
}

/// One enrichment that is on.
#[derive(Debug)]
struct On<T> {
    enrichment: T,
    required: bool,
}

/// The enrichments that are on, loaded (tables read), ready to run on events.
#[derive(Debug, Default)]
pub struct Enrichments {
    campaign: Option<On<Campaign>>,
    referer: Option<On<Referer>>,
    lookups: Vec<Lookup>,
    /// The event types some lookup reads, where every lookup names its types (`None`:
    /// some lookup reads every type): the other events skip the lookups at one test.
    lookup_types: Option<Vec<Box<str>>>,
    /// The referer's internal test reads the page URL from the fields campaign attribution
    /// reads it from (the defaults): the URL is found once per event.
    page_url_shared: bool,
    origin: String,
    /// One line per file, for `pipeline validate` and start-up logs.
    described: Vec<String>,
}

impl Enrichments {
    /// No enrichment at all.
    pub fn none() -> Self {
        Self { origin: "no enrichments".into(), ..Self::default() }
    }

    /// The files embedded in the binary at build time (`enrichments/`).
    pub fn embedded(budget: TableBudget) -> Result<Self, EnrichmentError> {
        let configs = embedded::EMBEDDED_ENRICHMENTS
            .iter()
            .filter(|(name, _)| name.ends_with(".json"))
            .map(|(name, bytes)| (*name, std::str::from_utf8(bytes).map(str::to_owned)));
        let table = |file: &str, name: &str, _: &TableBudget| {
            embedded::EMBEDDED_ENRICHMENTS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, bytes)| bytes.to_vec())
                .ok_or_else(|| EnrichmentError::Invalid { file: file.to_owned(), reason: format!("parameters.table {name:?} is not in enrichments/") })
        };
        Self::from_files("the embedded enrichments", configs, &table, budget)
    }

    /// `dir` when given (it replaces the embedded set), else the embedded enrichments.
    pub fn load(dir: Option<&Path>, budget: TableBudget) -> Result<Self, EnrichmentError> {
        match dir {
            Some(dir) => Self::from_dir(dir, budget),
            None => Self::embedded(budget),
        }
    }

    /// Every `*.json` file at the top of `dir`; tables are found relative to `dir`.
    pub fn from_dir(dir: &Path, budget: TableBudget) -> Result<Self, EnrichmentError> {
        let io = |source| EnrichmentError::Io { path: dir.to_path_buf(), source };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.is_file() && path.extension().is_some_and(|e| e == "json") {
                paths.push(path);
            }
        }
        paths.sort();
        let mut configs = Vec::new();
        for path in &paths {
            let text = std::fs::read(path).map_err(|source| EnrichmentError::Io { path: path.clone(), source })?;
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            configs.push((name, String::from_utf8(text).map_err(|e| e.utf8_error())));
        }
        let table = |file: &str, name: &str, budget: &TableBudget| {
            read_table(&dir.join(name), budget).map_err(|reason| EnrichmentError::Invalid { file: file.to_owned(), reason })
        };
        Self::from_files(&dir.display().to_string(), configs.iter().map(|(n, t)| (n.as_str(), t.clone())), &table, budget)
    }

    fn from_files<'n>(
        origin: &str,
        configs: impl Iterator<Item = (&'n str, Result<String, std::str::Utf8Error>)>,
        table: &dyn Fn(&str, &str, &TableBudget) -> Result<Vec<u8>, EnrichmentError>,
        mut budget: TableBudget,
    ) -> Result<Self, EnrichmentError> {
        let mut out = Self { origin: origin.to_owned(), ..Self::default() };
        let mut seen: Vec<(String, &str)> = Vec::new();
        let mut files = 0;
        for (file, text) in configs {
            files += 1;
            let invalid = |reason: String| EnrichmentError::Invalid { file: file.to_owned(), reason };
            let text = text.map_err(|e| invalid(format!("not UTF-8: {e}")))?;
            let config: EnrichmentFile = serde_json::from_str(&text).map_err(|e| match serde_json::from_str::<Value>(&text) {
                // serde's words for a JSON array or scalar here are about a struct's fields.
                Ok(value) if !value.is_object() => invalid(format!("holds {}, not a JSON object like {{\"enrichment\": \"campaign\", \"enabled\": true}}", json_kind(&value))),
                _ => invalid(e.to_string()),
            })?;
            let name = name_of(&config).map_err(invalid)?;
            if let Some((_, other)) = seen.iter().find(|(n, _)| *n == name) {
                return Err(invalid(format!("{other} already configures {name}: one file per enrichment")));
            }
            seen.push((name.clone(), file));
            let params = |value: Option<Value>| value.unwrap_or_else(|| Value::Object(Default::default()));
            let bad_params = |e: serde_json::Error| invalid(format!("parameters: {e}"));
            let state = if config.enabled { if config.required { "on, required" } else { "on" } } else { "off" };
            match config.enrichment {
                Kind::Campaign => {
                    let parameters: CampaignParameters = serde_json::from_value(params(config.parameters)).map_err(bad_params)?;
                    parameters.check().map_err(invalid)?;
                    out.described.push(format!("{file}: campaign ({state})"));
                    if config.enabled {
                        out.campaign = Some(On { enrichment: Campaign::new(parameters), required: config.required });
                    }
                }
                Kind::Referer => {
                    let parameters: RefererParameters = serde_json::from_value(params(config.parameters)).map_err(bad_params)?;
                    let referer = Referer::new(parameters).map_err(invalid)?;
                    out.described.push(format!("{file}: referer ({state}, {} sources)", referer.sources()));
                    if config.enabled {
                        out.referer = Some(On { enrichment: referer, required: config.required });
                    }
                }
                Kind::Lookup => {
                    let value = config.parameters.ok_or_else(|| invalid("parameters: a lookup needs at least table and key".into()))?;
                    let parameters: LookupParameters = serde_json::from_value(value).map_err(bad_params)?;
                    parameters.format().map_err(invalid)?;
                    if !config.enabled {
                        out.described.push(format!("{file}: {name} ({state}; table {} not read)", parameters.table));
                        continue;
                    }
                    let data = table(file, &parameters.table, &budget)?;
                    let table_name = config.name.as_deref().unwrap_or_default();
                    let lookup = Lookup::load(table_name, config.required, parameters, &data, &mut budget).map_err(invalid)?;
                    out.described.push(format!(
                        "{file}: {name} ({state}, {} row{} from {}, about {} in memory)",
                        lookup.rows(),
                        if lookup.rows() == 1 { "" } else { "s" },
                        lookup.table,
                        mib(lookup.bytes)
                    ));
                    out.lookups.push(lookup);
                }
            }
        }
        if files == 0 {
            return Err(EnrichmentError::Empty(origin.to_owned()));
        }
        out.page_url_shared = match (&out.campaign, &out.referer) {
            (Some(c), Some(r)) => c.enrichment.url_fields() == r.enrichment.page_fields(),
            _ => false,
        };
        out.lookup_types = out.lookups.iter().try_fold(Vec::new(), |mut all: Vec<Box<str>>, lookup| {
            for t in lookup.event_types.as_ref()? {
                if !all.iter().any(|a| **a == *t) {
                    all.push(t.as_str().into());
                }
            }
            Some(all)
        });
        Ok(out)
    }

    /// Where the configuration came from (a directory, or the embedded set).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// One line per file: which enrichment, on or off, table sizes.
    pub fn described(&self) -> &[String] {
        &self.described
    }

    /// Whether no enrichment is on.
    pub fn is_empty(&self) -> bool {
        self.campaign.is_none() && self.referer.is_none() && self.lookups.is_empty()
    }

    /// The enrichments as `event` sees them, called before the event is validated: decides
    /// whether the lookups read its type, and starts loading the lookup-table memory they
    /// will read, so that it arrives meanwhile (see `row_table`). Reads the event only.
    #[inline]
    pub fn for_event(&self, event: &RootMembers<'_>) -> EventEnrichments<'_> {
        let lookups_read = !self.lookups.is_empty() && self.prefetch_lookups(event);
        EventEnrichments { enrichments: self, lookups_read }
    }

    /// There is more than one lookup, so each tests an event's type against its own list
    /// (one lookup's list is the one [`for_event`](Self::for_event) decided by).
    fn each_lookup_checks_type(&self) -> bool {
        self.lookups.len() > 1
    }

    /// Whether the lookups read `event`'s type; if they do, starts loading their rows.
    /// Out of line: most deployments have no lookup, and pay one test for them.
    #[inline(never)]
    fn prefetch_lookups(&self, event: &RootMembers<'_>) -> bool {
        let lookups_read = match &self.lookup_types {
            None => true,
            Some(types) => event.get("event_type").and_then(|v| v.as_str()).is_some_and(|t| reads_type(types, t)),
        };
        if lookups_read {
            for lookup in &self.lookups {
                lookup.prefetch(event, self.each_lookup_checks_type());
            }
        }
        lookups_read
    }
}

/// The enrichments as one event sees them ([`Enrichments::for_event`]): whether its type
/// is one the lookups read is decided once, before validation, for both the prefetch and
/// the enrichment. Made from the event it enriches (its `event_type` is the schema's).
#[derive(Clone, Copy, Debug)]
pub struct EventEnrichments<'e> {
    enrichments: &'e Enrichments,
    /// Some lookup reads the event's type.
    lookups_read: bool,
}

impl EventEnrichments<'_> {
    /// Writes the enrichments' fields of `event` (members of `_pipeline`, each after a
    /// comma) into `out`. `Err`: a required enrichment failed; every failure is listed.
    /// The values of the fields aggregates are grouped by go into `groups`.
    pub(crate) fn apply(&self, event: &RootMembers<'_>, event_type: &str, out: &mut String, groups: &mut GroupValues) -> Result<(), Vec<Violation>> {
        let this = self.enrichments;
        if this.is_empty() {
            return Ok(());
        }
        let mut issues = Issues::default();
        let mut output = Output(out);
        let mut page_url = None;
        if let Some(c) = &this.campaign {
            issues.now(None, c.required, Kind::Campaign);
            let url = c.enrichment.apply(event, &mut output, &mut issues, groups);
            page_url = this.page_url_shared.then_some(url);
        }
        if let Some(r) = &this.referer {
            issues.now(None, r.required, Kind::Referer);
            r.enrichment.apply(event, page_url, &mut output, &mut issues, groups);
        }
        if self.lookups_read {
            let mut object = output.object("lookup");
            for lookup in &this.lookups {
                issues.now(Some(&lookup.name), lookup.required, Kind::Lookup);
                lookup.apply(event, this.each_lookup_checks_type().then_some(event_type), &mut object, &mut issues);
            }
        }
        issues.finish(output.0)
    }
}

impl fmt::Display for Enrichments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        for line in &self.described {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

/// Whether `event_type` is one of `types`.
fn reads_type(types: &[Box<str>], event_type: &str) -> bool {
    types.iter().any(|t| crate::word_scan::same_bytes(t.as_bytes(), event_type.as_bytes()))
}

/// The bytes of the lookup table at `path`, read only if it is a regular file that fits
/// what `budget` has left, and no further than that should it grow meanwhile.
fn read_table(path: &Path, budget: &TableBudget) -> Result<Vec<u8>, String> {
    let cannot_read = |e: std::io::Error| format!("cannot read the table {}: {e}", path.display());
    // Looked at before it is opened: opening a named pipe waits for a writer. A device or a
    // pipe has no size to check and may never end (/dev/zero).
    let metadata = std::fs::metadata(path).map_err(cannot_read)?;
    if !metadata.is_file() {
        return Err(format!("the table {} is not a regular file: name a CSV or NDJSON file", path.display()));
    }
    let too_large = |size: String| {
        format!(
            "the table {} is {size} on disk, more than the {} left for lookup tables ({}): shrink it (only the columns you need)",
            path.display(),
            mib(budget.remaining),
            budget.why
        )
    };
    if metadata.len() > budget.remaining {
        return Err(too_large(mib(metadata.len())));
    }
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    let mut data = Vec::with_capacity(metadata.len() as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(file, budget.remaining + 1), &mut data).map_err(cannot_read)?;
    if data.len() as u64 > budget.remaining {
        return Err(too_large(format!("over {}", mib(budget.remaining))));
    }
    Ok(data)
}

/// What a JSON value is, for messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A lookup's name, or the kind's for campaign and referer.
fn name_of(config: &EnrichmentFile) -> Result<String, String> {
    let kind = config.enrichment.as_str();
    match (config.enrichment, &config.name) {
        (Kind::Lookup, None) => Err("a lookup needs a name (its fields go under _pipeline.lookup.<name>), e.g. \"name\": \"products\"".into()),
        (Kind::Lookup, Some(name)) if !crate::schema_registry::is_valid_event_type(name) => {
            Err(format!("name {name:?}: a lookup's name matches ^[a-z][a-z0-9_]{{0,63}}$ (it becomes a field name)"))
        }
        (Kind::Lookup, Some(name)) => Ok(format!("lookup {name}")),
        (_, Some(name)) if name != kind => Err(format!("name {name:?}: only lookups have names; leave it out, or write {kind:?}")),
        _ => Ok(kind.to_owned()),
    }
}

/// A member name rendered once as JSON, with its colon (`"source":`): written for many
/// events, it is copied, not escaped again.
#[derive(Debug)]
pub(crate) struct MemberKey(Box<str>);

impl MemberKey {
    pub(crate) fn new(name: &str) -> Self {
        let mut json = String::with_capacity(name.len() + 3);
        push_json_str(&mut json, name);
        json.push(':');
        Self(json.into())
    }

    /// The name as JSON, with its colon.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The fields written so far into `_pipeline`.
pub(crate) struct Output<'b>(&'b mut String);

impl Output<'_> {
    /// A member object of `_pipeline`, written only once it gets a first key.
    pub(crate) fn object(&mut self, name: &'static str) -> ObjectWriter<'_> {
        ObjectWriter { out: self.0, name, open: false }
    }
}

/// What an [`ObjectWriter`] had written at one point.
#[derive(Clone, Copy)]
pub(crate) struct Checkpoint {
    len: usize,
    open: bool,
}

/// An object written as its keys come; closed when dropped (absent when it got none).
pub(crate) struct ObjectWriter<'b> {
    out: &'b mut String,
    name: &'static str,
    open: bool,
}

impl ObjectWriter<'_> {
    /// Starts member `key` and returns the buffer for its value.
    pub(crate) fn key(&mut self, key: &MemberKey) -> &mut String {
        self.next_member();
        self.out.push_str(key.as_str());
        self.out
    }
}

impl ObjectWriter<'_> {
    /// Adds members already written as JSON (`"medium":"search","source":"Google"`).
    pub(crate) fn members(&mut self, json: &str) {
        self.next_member();
        self.out.push_str(json);
    }

    /// Where the object stands, to [`rewind`](Self::rewind) to.
    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint { len: self.out.len(), open: self.open }
    }

    /// Takes back what was written since `checkpoint`.
    pub(crate) fn rewind(&mut self, checkpoint: Checkpoint) {
        self.out.truncate(checkpoint.len);
        self.open = checkpoint.open;
    }

    /// Opens the object before its first member, or separates the next one.
    fn next_member(&mut self) {
        if self.open {
            self.out.push(',');
        } else {
            self.out.push_str(",\"");
            self.out.push_str(self.name);
            self.out.push_str("\":{");
            self.open = true;
        }
    }
}

impl Drop for ObjectWriter<'_> {
    fn drop(&mut self) {
        if self.open {
            self.out.push('}');
        }
    }
}

/// One failure of one enrichment for one event.
struct Issue<'e> {
    kind: Kind,
    /// A lookup's name.
    name: Option<&'e str>,
    required: bool,
    path: String,
    message: String,
}

/// The failures of one event's enrichments, and which enrichment is running.
#[derive(Default)]
pub(crate) struct Issues<'e> {
    list: Vec<Issue<'e>>,
    now: Option<(Option<&'e str>, bool, Kind)>,
}

impl<'e> Issues<'e> {
    fn now(&mut self, name: Option<&'e str>, required: bool, kind: Kind) {
        self.now = Some((name, required, kind));
    }

    /// Failures so far.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn push(&mut self, path: String, message: String) {
        let (name, required, kind) = self.now.unwrap_or((None, false, Kind::Lookup));
        self.list.push(Issue { kind, name, required, path, message });
    }

    /// `Err` with every failure when one is of a required enrichment, else the failures
    /// written as `enrichment_errors`.
    fn finish(self, out: &mut String) -> Result<(), Vec<Violation>> {
        if self.list.is_empty() {
            return Ok(());
        }
        if self.list.iter().any(|i| i.required) {
            return Err(self
                .list
                .into_iter()
                .map(|i| {
                    let who = i.name.map_or_else(|| i.kind.as_str().to_owned(), |n| format!("lookup {n}"));
                    Violation::new(i.path, i.kind.as_str(), format!("{who} (required): {}", i.message))
                })
                .collect());
        }
        out.push_str(",\"enrichment_errors\":[");
        for (n, issue) in self.list.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str("{\"enrichment\":");
            push_json_str(out, issue.kind.as_str());
            if let Some(name) = issue.name {
                out.push_str(",\"name\":");
                push_json_str(out, name);
            }
            out.push_str(",\"path\":");
            push_json_str(out, &issue.path);
            out.push_str(",\"message\":");
            push_json_str(out, &issue.message);
            out.push('}');
        }
        out.push(']');
        Ok(())
    }
}
