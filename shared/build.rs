//! Embeds `schemas/<event_type>/<version>.json` and the files of `enrichments/` from the
//! workspace into the crate, so a binary needs no fetch at start-up. The registry and the
//! enrichments check names and contents.

use std::{env, fs, path::Path};

fn main() {
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("..");
    let out = Path::new(&env::var("OUT_DIR").unwrap()).to_path_buf();
    fs::write(out.join("embedded_schemas.rs"), schemas(&root.join("schemas"))).unwrap();
    fs::write(out.join("embedded_enrichments.rs"), enrichments(&root.join("enrichments"))).unwrap();
}

fn schemas(dir: &Path) -> String {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries = Vec::new();
    if let Ok(types) = fs::read_dir(dir) {
        for ty in types.flatten().filter(|e| e.path().is_dir()) {
            println!("cargo:rerun-if-changed={}", ty.path().display());
            for file in fs::read_dir(ty.path()).unwrap().flatten() {
                let path = file.path();
                if path.extension().is_some_and(|e| e == "json") {
                    let name = format!(
                        "{}/{}",
                        ty.file_name().to_string_lossy(),
                        file.file_name().to_string_lossy()
                    );
                    entries.push((name, path.canonicalize().unwrap()));
                }
            }
        }
    }
    entries.sort();
    let mut out = String::from("pub(crate) static EMBEDDED_SCHEMAS: &[(&str, &str)] = &[\n");
    for (name, path) in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        out.push_str(&format!("    ({name:?}, include_str!({:?})),\n", path.display().to_string()));
    }
    out.push_str("];\n");
    out
}

/// Every file at the top of `enrichments/`: the `*.json` configurations and the tables
/// they name.
fn enrichments(dir: &Path) -> String {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries = Vec::new();
    if let Ok(files) = fs::read_dir(dir) {
        for file in files.flatten().filter(|e| e.path().is_file()) {
            entries.push((file.file_name().to_string_lossy().into_owned(), file.path().canonicalize().unwrap()));
        }
    }
    entries.sort();
    let mut out = String::from("pub(crate) static EMBEDDED_ENRICHMENTS: &[(&str, &[u8])] = &[\n");
    for (name, path) in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        out.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", path.display().to_string()));
    }
    out.push_str("];\n");
    out
}
