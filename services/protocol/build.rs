//! Embeds every `schemas/*.json` file into the crate, so that adding an item type is adding a
//! schema file: no list in the code has to be edited.

use std::{env, fs, path::Path};

fn main() {
    let dir =
        Path::new(&env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("schemas");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .expect("services/protocol/schemas must exist")
        .map(|entry| entry.expect("readable schemas directory").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    entries.sort();

    let mut out = String::from("/// `(item_type, schema source)` for every file in `schemas/`.\n");
    out.push_str("pub(crate) const EMBEDDED: &[(&str, &str)] = &[\n");
    for path in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_stem().and_then(|stem| stem.to_str()).expect("schema file names are UTF-8");
        out.push_str(&format!("    ({name:?}, include_str!({:?})),\n", path.display().to_string()));
    }
    out.push_str("];\n");
    let target = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("schemas.rs");
    fs::write(target, out).expect("OUT_DIR is writable");
}
