//! Module resolution and loading: the skill's own files under `/skill`, addressed by their
//! path relative to it (`app.js`, `lib/util.js`, so stacks name the author's files), and the
//! embedded authoring package `molecule-skill`.
//!
//! Only relative specifiers (`./x.js`, `../x.js`) and `molecule-skill` can be imported; a
//! relative import may not leave the skill folder. npm packages must be bundled into it.
//!
//! **Bytecode cache.** Parsing costs about 0.1 ms per KiB of source on every call (each call is
//! a fresh instance), so each module's QuickJS bytecode is kept in `/jscache`: a folder the
//! host mounts writable only for the one `describe` at load (which compiles the skill's own
//! files, with no outside input) and read-only for calls, per skill version and engine build.
//! A module with a `.qbc` file there is loaded from it; else it is compiled from source and
//! its bytecode written there if the folder is writable. Bytecode that does not read (another
//! QuickJS version) falls back to the source.

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::{Ctx, Error, Module, Result, WriteOptions};

/// The authoring package's module name; its files are `molecule-skill/<file>.js`.
pub const SDK: &str = "molecule-skill";
/// The package's entry file.
const SDK_INDEX: &str = "molecule-skill/index.js";
/// Most bytes of one module's source.
const MAX_MODULE_BYTES: u64 = 8 * 1024 * 1024;
/// Where the host mounts the bytecode cache (see the module docs).
const BYTECODE_DIR: &str = "/jscache";
/// Extensions of importable files: exactly the source files the host fingerprints and copies
/// into each version's snapshot, so what a version runs never changes under it.
const SOURCE_EXTENSIONS: [&str; 2] = [".js", ".mjs"];

/// `(module name, source)` of every embedded SDK file (from `build.rs`).
static SDK_MODULES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/sdk_modules.rs"));

/// Resolves and loads modules of the skill folder at `root` and of the SDK.
pub struct Files {
    root: &'static str,
}

impl Files {
    /// Modules of the skill folder mounted at `root`.
    pub fn new(root: &'static str) -> Self {
        Files { root }
    }
}

impl Resolver for Files {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<String> {
        if name == SDK {
            return Ok(SDK.into());
        }
        let relative = name.starts_with("./") || name.starts_with("../");
        if base.is_empty() && !relative {
            // The engine's own imports (the entry module).
            return normalize("", name).ok_or_else(|| outside(base, name));
        }
        if !relative {
            return Err(Error::new_resolving_message(
                base,
                name,
                format!(
                    "only relative imports (`./file.js`) and `{SDK}` can be imported; \
                     bundle npm packages into the skill folder"
                ),
            ));
        }
        let base = if base == SDK { SDK_INDEX } else { base };
        let dir = base.rfind('/').map_or("", |i| &base[..=i]);
        let resolved = normalize(dir, name).ok_or_else(|| outside(base, name))?;
        // The SDK's files may import each other but not the skill's, and vice versa.
        if base.starts_with("molecule-skill/") != resolved.starts_with("molecule-skill/") {
            return Err(outside(base, name));
        }
        Ok(resolved)
    }
}

impl Loader for Files {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> Result<Module<'js, Declared>> {
        let cached = format!("{BYTECODE_DIR}/{}.qbc", name.replace('%', "%25").replace('/', "%2F"));
        if let Some(module) = from_bytecode(ctx, &cached) {
            return Ok(module);
        }
        let module = Module::declare(ctx.clone(), name, self.source(name)?)?;
        if let Ok(bytes) = module.write(WriteOptions::default()) {
            store(&cached, &bytes);
        }
        Ok(module)
    }
}

impl Files {
    /// The source of module `name`: an embedded SDK file or a file of the skill folder.
    fn source(&self, name: &str) -> Result<Vec<u8>> {
        let wanted = if name == SDK { SDK_INDEX } else { name };
        if wanted.starts_with("molecule-skill/") {
            let (_, source) = SDK_MODULES
                .iter()
                .find(|(n, _)| *n == wanted)
                .ok_or_else(|| Error::new_loading_message(name, "no such SDK module"))?;
            return Ok(source.as_bytes().to_vec());
        }
        if !SOURCE_EXTENSIONS.iter().any(|x| name.ends_with(x)) {
            return Err(Error::new_loading_message(
                name,
                "only .js and .mjs files can be imported (put data in a module: \
                 `export default {...}`)",
            ));
        }
        let path = format!("{}/{name}", self.root);
        let size = std::fs::metadata(&path)
            .map_err(|e| Error::new_loading_message(name, reason(&e)))?
            .len();
        if size > MAX_MODULE_BYTES {
            return Err(Error::new_loading_message(
                name,
                format!("{size} bytes, over the {MAX_MODULE_BYTES}-byte limit for one module"),
            ));
        }
        std::fs::read(&path).map_err(|e| Error::new_loading_message(name, reason(&e)))
    }
}

/// The module in the bytecode file `path`, if there is one and it reads.
fn from_bytecode<'js>(ctx: &Ctx<'js>, path: &str) -> Option<Module<'js, Declared>> {
    let bytes = std::fs::read(path).ok()?;
    // QuickJS keeps pointers into the buffer it reads bytecode from (ROM data): it must
    // live as long as the runtime, which is this instance's one call.
    let bytes: &'static [u8] = Vec::leak(bytes);
    // SAFETY: the file was written by this engine build's own `Module::write` (the host
    // keys the folder by the engine build, and only `describe` may write to it, compiling
    // the skill's own files). Bytecode from elsewhere could at worst corrupt this instance's
    // own linear memory, which already runs the skill's code; the sandbox bounds it.
    match unsafe { Module::load(ctx.clone(), bytes) } {
        Ok(module) => Some(module),
        Err(_) => {
            // Unreadable (torn, or from another QuickJS): clear the pending exception and
            // compile the source instead; `describe` then rewrites the file.
            let _ = ctx.catch();
            None
        }
    }
}

/// Writes `bytes` to `path` through a temporary file of its own (loads of one version may run
/// at once), so readers see all of it or nothing; silently nothing when the folder is
/// read-only (every call but the load's `describe`).
fn store(path: &str, bytes: &[u8]) {
    let tmp = format!("{path}.{}.tmp", molecule_guest_sdk::new_id());
    if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

fn reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file in the skill folder".into(),
        _ => error.to_string(),
    }
}

fn outside(base: &str, name: &str) -> Error {
    Error::new_resolving_message(base, name, "the import leaves its folder")
}

/// `dir` + `name` with `.` and `..` segments folded; `None` when it climbs above the root.
fn normalize(dir: &str, name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in dir.split('/').chain(name.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}
