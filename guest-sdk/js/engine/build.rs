//! Embeds the authoring package's modules (`../src/*.js`, minus the Node-only `testing.js`)
//! into the engine: writes `$OUT_DIR/sdk_modules.rs`, a table of (module name, source).
use std::path::Path;

fn main() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src");
    println!("cargo:rerun-if-changed={}", src.display());
    let mut files: Vec<_> = std::fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("reading {}: {e}", src.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "js"))
        .filter(|p| p.file_name().is_some_and(|n| n != "testing.js"))
        .collect();
    files.sort();
    let mut table = String::from("&[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let file = path.file_name().unwrap().to_string_lossy();
        table.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            format!("molecule-skill/{file}"),
            path.canonicalize().unwrap().display().to_string()
        ));
    }
    table.push(']');
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("sdk_modules.rs");
    std::fs::write(&out, table).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
