//! The schema registry: the embedded catalogue, overrides, version resolution, fail-fast loading.

use std::fs;
use std::path::Path;

use pipeline::SchemaRegistry;
use pipeline::schema_registry::{ResolveError, SchemaError};

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn embedded_catalogue_is_the_design_catalogue() {
    let registry = SchemaRegistry::embedded().unwrap();
    assert_eq!(registry.keys(), ["click/1-0-0", "identify/1-0-0", "pageview/1-0-0", "purchase/1-0-0"]);
}

#[test]
fn every_schema_file_is_a_valid_draft_2020_12_schema() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    let mut checked = 0;
    for ty in fs::read_dir(&dir).unwrap().flatten().filter(|e| e.path().is_dir()) {
        for file in fs::read_dir(ty.path()).unwrap().flatten() {
            let schema: serde_json::Value = serde_json::from_slice(&fs::read(file.path()).unwrap()).unwrap();
            assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{:?}", file.path());
            if let Err(e) = jsonschema::draft202012::meta::validate(&schema) {
                panic!("{:?}: {e}", file.path());
            }
            assert_eq!(schema["additionalProperties"], false, "{:?}: the schema is the tracking plan", file.path());
            checked += 1;
        }
    }
    assert!(checked >= 4);
    // The files on disk are the ones embedded.
    assert_eq!(SchemaRegistry::from_dir(&dir).unwrap().keys(), SchemaRegistry::embedded().unwrap().keys());
}

const SIGNUP_V1: &str = r#"{"type": "object", "properties": {"event_type": {"const": "signup"}, "user_id": {}, "plan": {"type": "string"}}, "required": ["event_type", "user_id"]}"#;
const SIGNUP_V2: &str = r#"{"type": "object", "properties": {"event_type": {"const": "signup"}, "user_id": {}, "plan": {"enum": ["free", "pro"]}}, "required": ["event_type", "user_id", "plan"]}"#;

#[test]
fn a_directory_replaces_the_embedded_set_and_versions_resolve() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "signup/1-0-0.json", SIGNUP_V1);
    write(dir.path(), "signup/1-1-0.json", SIGNUP_V2);
    write(dir.path(), "signup/1-0-10.json", SIGNUP_V1);
    write(dir.path(), "README.md", "ignored");
    let registry = SchemaRegistry::from_dir(dir.path()).unwrap();
    assert_eq!(registry.keys(), ["signup/1-0-0", "signup/1-0-10", "signup/1-1-0"]);
    assert_eq!(registry.resolve("signup", None).unwrap().key(), "signup/1-1-0", "absent = newest");
    assert_eq!(registry.resolve("signup", Some("1-0-10")).unwrap().key(), "signup/1-0-10");
    assert_eq!(registry.resolve("signup", Some("1-0-2")).unwrap_err(), ResolveError::UnknownSchemaVersion);
    assert_eq!(registry.resolve("signup", Some("01-0-0")).unwrap_err(), ResolveError::UnknownSchemaVersion);
    assert_eq!(registry.resolve("pageview", None).unwrap_err(), ResolveError::UnknownEventType);
}

#[track_caller]
fn load_error(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), name, text);
    let err = SchemaRegistry::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, SchemaError::Invalid { .. }), "{err}");
    err.to_string()
}

#[test]
fn broken_schema_files_fail_fast_naming_the_file_and_the_reason() {
    let e = load_error("signup/1-0-0.json", "{\"type\": ");
    assert!(e.contains("signup/1-0-0.json") && e.contains("not valid JSON"), "{e}");
    let e = load_error("signup/1-0-0.json", r#"{"type": "objekt"}"#);
    assert!(e.contains("signup/1-0-0.json") && e.contains("draft 2020-12"), "{e}");
    let e = load_error("signup/1-0-0.json", r#"{"$schema": "http://json-schema.org/draft-07/schema#"}"#);
    assert!(e.contains("draft 2020-12"), "{e}");
    let e = load_error("signup/v1.json", SIGNUP_V1);
    assert!(e.contains("signup/v1.json") && e.contains("SchemaVer"), "{e}");
    let e = load_error("Sign-Up/1-0-0.json", SIGNUP_V1);
    assert!(e.contains("not a valid event type"), "{e}");
    let e = load_error("login/1-0-0.json", SIGNUP_V1);
    assert!(e.contains("login"), "{e}");
}

/// A schema "file" that is a directory, a link to a device or a named pipe is refused with
/// its name at once: never read without end or waited on.
#[cfg(unix)]
#[test]
fn a_schema_that_is_not_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "signup/1-0-0.json", SIGNUP_V1);
    crate::common::each_non_regular_file(&dir.path().join("signup/1-0-1.json"), |what| {
        let err = SchemaRegistry::from_dir(dir.path()).unwrap_err();
        assert!(matches!(err, SchemaError::Invalid { .. }), "{what}: {err}");
        assert!(err.to_string().contains("signup/1-0-1.json: is not a regular file"), "{what}: {err}");
    });
    assert!(SchemaRegistry::from_dir(dir.path()).is_ok());
}

#[test]
fn an_empty_or_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(SchemaRegistry::from_dir(dir.path()), Err(SchemaError::Empty(_))));
    assert!(matches!(SchemaRegistry::from_dir(&dir.path().join("nope")), Err(SchemaError::Io { .. })));
}
