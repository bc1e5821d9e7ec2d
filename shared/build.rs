//! Embeds `schemas/<event_type>/<version>.json` from the workspace into the crate, so a
//! binary needs no schema fetch at start-up. The registry checks names and contents.

use std::{env, fs, path::Path};

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("../schemas");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries = Vec::new();
    if let Ok(types) = fs::read_dir(&dir) {
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
    fs::write(Path::new(&env::var("OUT_DIR").unwrap()).join("embedded_schemas.rs"), out).unwrap();
}
