//! Module resolution and loading: the skill's own files under `/skill`, addressed by their
//! path relative to it (`app.js`, `lib/util.js`, so stacks name the author's files), and the
//! embedded authoring package `molecule-skill`.
//!
//! Only relative specifiers (`./x.js`, `../x.js`) and `molecule-skill` can be imported; a
//! relative import may not leave the skill folder. npm packages must be bundled into it.

use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::{Ctx, Error, Module, Result};

/// The authoring package's module name; its files are `molecule-skill/<file>.js`.
pub const SDK: &str = "molecule-skill";
/// The package's entry file.
const SDK_INDEX: &str = "molecule-skill/index.js";
/// Most bytes of one module's source.
const MAX_MODULE_BYTES: u64 = 8 * 1024 * 1024;

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
        let wanted = if name == SDK { SDK_INDEX } else { name };
        if wanted.starts_with("molecule-skill/") {
            let (_, source) = SDK_MODULES
                .iter()
                .find(|(n, _)| *n == wanted)
                .ok_or_else(|| Error::new_loading_message(name, "no such SDK module"))?;
            return Module::declare(ctx.clone(), name, *source);
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
        let source =
            std::fs::read(&path).map_err(|e| Error::new_loading_message(name, reason(&e)))?;
        Module::declare(ctx.clone(), name, source)
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
