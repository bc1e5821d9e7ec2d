//! The schema registry: every event type's schemas by version, compiled once.
//!
//! Schemas live in `schemas/<event_type>/<MODEL-REVISION-ADDITION>.json` (draft 2020-12) and
//! are embedded at build time; a directory given at run time replaces the embedded set.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use jsonschema::{Draft, Validator};
use serde_json::Value;

use crate::bad_row::Violation;
use crate::json_tape::{TapeJson, TapeValue};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_schemas.rs"));
}

/// The `$schema` every schema file must declare (or leave out).
pub const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// A SchemaVer version, `MODEL-REVISION-ADDITION` (e.g. `1-0-0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaVer {
    /// Changes that can break readers of old data.
    pub model: u32,
    /// Changes that may break some old data.
    pub revision: u32,
    /// Changes every old event still meets (a new optional field).
    pub addition: u32,
}

impl FromStr for SchemaVer {
    type Err = ();

    /// Strict: positive model, no leading zeros, no signs or spaces.
    fn from_str(s: &str) -> Result<Self, ()> {
        fn part(p: &str) -> Result<u32, ()> {
            let ok = !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p == "0" || !p.starts_with('0'));
            if ok { p.parse().map_err(|_| ()) } else { Err(()) }
        }
        let mut parts = s.split('-');
        let (Some(m), Some(r), Some(a), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(());
        };
        let version = SchemaVer { model: part(m)?, revision: part(r)?, addition: part(a)? };
        if version.model == 0 { Err(()) } else { Ok(version) }
    }
}

impl fmt::Display for SchemaVer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.model, self.revision, self.addition)
    }
}

/// Whether `name` is a valid event type: `^[a-z][a-z0-9_]{0,63}$`.
pub fn is_valid_event_type(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

/// A schema file that could not be loaded; the message names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A schema file or directory could not be read.
    #[error("cannot read schemas from {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The read's error.
        source: std::io::Error,
    },
    /// A schema file that is not a usable schema (its name, JSON, `$schema`, `event_type` or compilation).
    #[error("schema file {file}: {reason}")]
    Invalid {
        /// The file, as found.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    #[error(
        "no schemas found in {0}: expected files named <event_type>/<MODEL-REVISION-ADDITION>.json, \
         e.g. pageview/1-0-0.json"
    )]
    /// A directory with no schema file in it.
    Empty(String),
}

/// One compiled schema.
pub struct CompiledSchema {
    event_type: Arc<str>,
    version: SchemaVer,
    /// `event_type/version`, as written into enriched events and bad rows.
    key: Arc<str>,
    validator: Validator<TapeJson>,
}

impl fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledSchema").field("key", &self.key).finish()
    }
}

impl CompiledSchema {
    /// The event type it is for (`pageview`).
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// Its SchemaVer.
    pub fn version(&self) -> SchemaVer {
        self.version
    }

    /// `pageview/1-0-0`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The key, shared rather than copied (one per enriched event).
    pub fn key_shared(&self) -> Arc<str> {
        Arc::clone(&self.key)
    }

    /// The event type, shared rather than copied.
    pub fn event_type_shared(&self) -> Arc<str> {
        Arc::clone(&self.event_type)
    }

    /// Every violation of this schema by `event`, with its JSON pointer (empty when valid).
    pub fn violations(&self, event: TapeValue<'_>) -> Vec<Violation> {
        if self.validator.is_valid(event) {
            return Vec::new();
        }
        self.validator
            .iter_errors(event)
            .map(|e| Violation::new(e.instance_path().to_string(), e.kind().keyword(), e.to_string()))
            .collect()
    }
}

/// Why no schema could be chosen for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolveError {
    /// No schema for the event's `event_type`: an `unknown_event_type` bad row.
    UnknownEventType,
    /// The type is known but not the `schema_version` asked for: an `unknown_schema_version` bad row.
    UnknownSchemaVersion,
}

/// All event types' schemas, each type's versions sorted oldest first.
pub struct SchemaRegistry {
    types: HashMap<String, Vec<CompiledSchema>>,
    origin: String,
}

impl fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistry").field("origin", &self.origin).field("schemas", &self.keys()).finish()
    }
}

impl SchemaRegistry {
    /// The schemas embedded in the binary at build time.
    pub fn embedded() -> Result<Self, SchemaError> {
        let sources = embedded::EMBEDDED_SCHEMAS.iter().map(|(name, text)| ((*name).to_owned(), (*text).to_owned()));
        Self::from_sources("the embedded schemas", sources)
    }

    /// `dir` when given (it replaces the embedded set), else the embedded schemas.
    pub fn load(dir: Option<&Path>) -> Result<Self, SchemaError> {
        match dir {
            Some(dir) => Self::from_dir(dir),
            None => Self::embedded(),
        }
    }

    /// Every `<event_type>/<version>.json` below `dir`. Other files at the top are ignored;
    /// a badly named `.json` file inside a type's folder is an error, not skipped.
    pub fn from_dir(dir: &Path) -> Result<Self, SchemaError> {
        let io = |source| SchemaError::Io { path: dir.to_path_buf(), source };
        let mut sources = Vec::new();
        for ty in std::fs::read_dir(dir).map_err(io)? {
            let ty = ty.map_err(io)?;
            if !ty.path().is_dir() {
                continue;
            }
            let type_name = ty.file_name().to_string_lossy().into_owned();
            let io = |source| SchemaError::Io { path: ty.path(), source };
            for file in std::fs::read_dir(ty.path()).map_err(io)? {
                let path = file.map_err(io)?.path();
                if path.extension().is_some_and(|e| e == "json") {
                    let name = format!("{type_name}/{}", path.file_name().unwrap_or_default().to_string_lossy());
                    let read_error = |source| SchemaError::Io { path: path.clone(), source };
                    // Looked at before it is read: a named pipe would wait for a writer, a
                    // device (a link to /dev/zero) never end.
                    if !std::fs::metadata(&path).map_err(read_error)?.is_file() {
                        return Err(SchemaError::Invalid { file: name, reason: "is not a regular file: a schema is a JSON file".into() });
                    }
                    let text = std::fs::read_to_string(&path).map_err(read_error)?;
                    sources.push((name, text));
                }
            }
        }
        Self::from_sources(&dir.display().to_string(), sources)
    }

    /// Compiles `(relative file name, schema text)` pairs; `origin` names where they came from.
    pub fn from_sources(
        origin: &str,
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SchemaError> {
        let mut types: HashMap<String, Vec<CompiledSchema>> = HashMap::new();
        for (name, text) in sources {
            let schema = compile(&name, &text)?;
            types.entry(schema.event_type.to_string()).or_default().push(schema);
        }
        if types.is_empty() {
            return Err(SchemaError::Empty(origin.to_owned()));
        }
        for versions in types.values_mut() {
            versions.sort_by_key(|s| s.version);
        }
        Ok(Self { types, origin: origin.to_owned() })
    }

    /// Where the schemas came from (a directory, or the embedded set).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Every `event_type/version`, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.types.values().flatten().map(|s| s.key.to_string()).collect();
        keys.sort();
        keys
    }

    /// Every event type, sorted.
    pub fn event_types(&self) -> Vec<&str> {
        let mut types: Vec<&str> = self.types.keys().map(String::as_str).collect();
        types.sort_unstable();
        types
    }

    /// The schema for `event_type` at `version`, or its newest when `version` is `None`.
    pub fn resolve(&self, event_type: &str, version: Option<&str>) -> Result<&CompiledSchema, ResolveError> {
        let versions = self.types.get(event_type).ok_or(ResolveError::UnknownEventType)?;
        match version {
            None => versions.last().ok_or(ResolveError::UnknownEventType),
            Some(v) => {
                let wanted: SchemaVer = v.parse().map_err(|()| ResolveError::UnknownSchemaVersion)?;
                versions
                    .binary_search_by(|s| s.version.cmp(&wanted))
                    .map(|i| &versions[i])
                    .map_err(|_| ResolveError::UnknownSchemaVersion)
            }
        }
    }

    /// The versions known for `event_type`, oldest first, for messages.
    pub fn versions(&self, event_type: &str) -> Vec<SchemaVer> {
        self.types.get(event_type).map(|v| v.iter().map(|s| s.version).collect()).unwrap_or_default()
    }
}

fn compile(name: &str, text: &str) -> Result<CompiledSchema, SchemaError> {
    let invalid = |reason: String| SchemaError::Invalid { file: name.to_owned(), reason };
    let (event_type, file) = name
        .split_once('/')
        .ok_or_else(|| invalid("expected a path <event_type>/<MODEL-REVISION-ADDITION>.json".into()))?;
    if !is_valid_event_type(event_type) {
        return Err(invalid(format!(
            "folder name {event_type:?} is not a valid event type (^[a-z][a-z0-9_]{{0,63}}$)"
        )));
    }
    let version: SchemaVer = file.strip_suffix(".json").and_then(|v| v.parse().ok()).ok_or_else(|| {
        invalid(format!("file name {file:?} is not a SchemaVer version: name it like 1-0-0.json"))
    })?;
    let schema: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    match schema.get("$schema") {
        None => {}
        Some(Value::String(s)) if s.trim_end_matches('#') == DRAFT_2020_12 => {}
        Some(other) => {
            return Err(invalid(format!(
                "declares $schema {other}; schemas here must be draft 2020-12 ({DRAFT_2020_12})"
            )));
        }
    }
    jsonschema::draft202012::meta::validate(&schema)
        .map_err(|e| invalid(format!("not a valid draft 2020-12 schema: {e} at {}", e.instance_path())))?;
    if let Some(declared) = schema.pointer("/properties/event_type/const") {
        if declared.as_str() != Some(event_type) {
            return Err(invalid(format!(
                "properties.event_type.const is {declared}, but the file is in the folder {event_type:?}"
            )));
        }
    }
    let validator = jsonschema::options_for::<TapeJson>()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| invalid(format!("cannot compile: {e}")))?;
    Ok(CompiledSchema {
        key: format!("{event_type}/{version}").into(),
        event_type: event_type.into(),
        version,
        validator,
    })
}
