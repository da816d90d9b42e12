//! Plugins: folders under `<configs>/plugins/` (searched first) and `$PLUGINS_DIR/` holding
//! shared rules, guidelines, prompt fragments and extra skills. The first folder with a given
//! name wins; a plugin whose `runtimes` excludes the current runtime is skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::lenient::{field, Reader};
use crate::warning::Warning;

/// Root Markdown files that are documentation, not guidelines (compared case-insensitively).
const NOT_GUIDELINES: [&str; 4] = ["README", "CHANGELOG", "LICENSE", "CONTRIBUTING"];

/// Which search root a plugin came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginOrigin {
    /// `<configs>/plugins/<name>/`.
    Workspace,
    /// `$PLUGINS_DIR/<name>/`.
    Shared,
}

/// `plugin.yaml`; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginManifest {
    /// `name` (the folder name is what counts for precedence).
    pub name: Option<String>,
    /// `version`.
    pub version: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `skills`: extra skill folders, relative to the plugin or under its `skills/`.
    pub skills: Vec<String>,
    /// `rules`: extra rule files, relative to the plugin or under its `rules/`.
    pub rules: Vec<String>,
    /// `prompt_fragments`: Markdown files (relative to the plugin) appended to the prompt.
    pub prompt_fragments: Vec<String>,
    /// `runtimes`: the runtimes this plugin is for; empty means all.
    pub runtimes: Vec<String>,
}

/// Text destined for the system prompt, with the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptText {
    /// The file read.
    pub source: PathBuf,
    /// Its trimmed contents.
    pub text: String,
}

/// A loaded plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plugin {
    /// The folder name.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// Which root it came from.
    pub origin: PluginOrigin,
    /// `plugin.yaml` (defaults when absent).
    pub manifest: PluginManifest,
    /// `rules/*.md` (sorted) then manifest `rules` → "## Platform Rules".
    pub rules: Vec<PromptText>,
    /// Root `*.md` except README/CHANGELOG/LICENSE/CONTRIBUTING and files already used as
    /// rules or fragments → "## Platform Guidelines".
    pub guidelines: Vec<PromptText>,
    /// Manifest `prompt_fragments`, in manifest order.
    pub prompt_fragments: Vec<PromptText>,
    /// Extra skill folders: `skills/*/` (sorted) then manifest `skills`.
    pub skill_dirs: Vec<PathBuf>,
}

/// A plugin folder hidden by an earlier one with the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowed {
    /// The plugin name.
    pub name: String,
    /// The folder that won.
    pub used: PathBuf,
    /// The folder that was ignored.
    pub hidden: PathBuf,
}

/// A plugin that was found but not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedPlugin {
    /// The plugin name.
    pub name: String,
    /// Its folder.
    pub dir: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

/// Everything [`load_plugins`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginSet {
    /// Loaded plugins, sorted by name.
    pub plugins: Vec<Plugin>,
    /// Folders hidden by an earlier folder of the same name.
    pub shadowed: Vec<Shadowed>,
    /// Plugins skipped (e.g. for another runtime).
    pub skipped: Vec<SkippedPlugin>,
    /// Problems reading plugin files.
    pub warnings: Vec<Warning>,
}

/// Sorted subdirectories of `root` (a missing root has none).
fn subdirs(root: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    out.sort();
    out
}

/// Sorted `*.md` files directly in `dir`.
fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("md")))
        .collect();
    out.sort();
    out
}

/// Loads every plugin under `<config_dir>/plugins/` and `plugins_dir`, for `runtime`.
pub fn load_plugins(config_dir: &Path, plugins_dir: &Path, runtime: &str) -> PluginSet {
    let mut set = PluginSet::default();
    let mut chosen: BTreeMap<String, (PathBuf, PluginOrigin)> = BTreeMap::new();
    let roots = [
        (config_dir.join("plugins"), PluginOrigin::Workspace),
        (plugins_dir.to_path_buf(), PluginOrigin::Shared),
    ];
    for (root, origin) in roots {
        for (name, dir) in subdirs(&root) {
            match chosen.get(&name) {
                Some((used, _)) if *used == dir => {}
                Some((used, _)) => {
                    tracing::info!(plugin = %name, used = %used.display(), hidden = %dir.display(), "plugin shadowed");
                    set.shadowed.push(Shadowed {
                        name,
                        used: used.clone(),
                        hidden: dir,
                    });
                }
                None => {
                    chosen.insert(name, (dir, origin));
                }
            }
        }
    }
    for (name, (dir, origin)) in chosen {
        let manifest = read_manifest(&dir, &mut set.warnings);
        let for_us = manifest.runtimes.is_empty()
            || manifest
                .runtimes
                .iter()
                .any(|r| r.trim().eq_ignore_ascii_case(runtime));
        if !for_us {
            let reason = format!(
                "plugin.yaml runtimes [{}] excludes runtime `{runtime}`",
                manifest.runtimes.join(", ")
            );
            tracing::info!(plugin = %name, %reason, "plugin skipped");
            set.skipped.push(SkippedPlugin { name, dir, reason });
            continue;
        }
        set.plugins
            .push(load_one(name, dir, origin, manifest, &mut set.warnings));
    }
    set
}

fn read_manifest(dir: &Path, warnings: &mut Vec<Warning>) -> PluginManifest {
    let file = dir.join("plugin.yaml");
    let Ok(text) = std::fs::read_to_string(&file) else {
        return PluginManifest::default();
    };
    let value = match serde_yaml::from_str::<Value>(&text) {
        Ok(v) => v,
        Err(e) => {
            let mut w = Warning::in_file(
                &file,
                "",
                format!("is not valid YAML ({e}); loading the plugin without it"),
            );
            w.line = e.location().map(|l| l.line());
            warnings.push(w);
            return PluginManifest::default();
        }
    };
    let mut r = Reader::new(&file);
    let mut list = |key: &str| r.string_list(field(&value, key), key).unwrap_or_default();
    let (skills, rules, prompt_fragments, runtimes) = (
        list("skills"),
        list("rules"),
        list("prompt_fragments"),
        list("runtimes"),
    );
    let manifest = PluginManifest {
        name: r.opt_string(field(&value, "name"), "name"),
        version: r.opt_string(field(&value, "version"), "version"),
        description: r.opt_string(field(&value, "description"), "description"),
        skills,
        rules,
        prompt_fragments,
        runtimes,
    };
    warnings.extend(r.warnings);
    manifest
}

fn read_text(path: &Path, warnings: &mut Vec<Warning>) -> Option<PromptText> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => None,
        Ok(text) => Some(PromptText {
            source: path.to_path_buf(),
            text: text.trim().to_string(),
        }),
        Err(e) => {
            warnings.push(Warning::in_file(
                path,
                "",
                format!("cannot be read ({e}); skipping it"),
            ));
            None
        }
    }
}

/// Resolves a manifest entry: relative to the plugin, else under `sub/`.
fn resolve(dir: &Path, sub: &str, entry: &str, want_dir: bool) -> Option<PathBuf> {
    [dir.join(entry), dir.join(sub).join(entry)]
        .into_iter()
        .find(|p| if want_dir { p.is_dir() } else { p.is_file() })
}

fn load_one(
    name: String,
    dir: PathBuf,
    origin: PluginOrigin,
    manifest: PluginManifest,
    warnings: &mut Vec<Warning>,
) -> Plugin {
    let manifest_file = dir.join("plugin.yaml");
    let mut missing = |key: &str, i: usize, entry: &str, what: &str| {
        warnings.push(Warning::in_file(
            &manifest_file,
            format!("{key}[{i}]"),
            format!(
                "{what} `{entry}` not found in {}; fix or remove the entry",
                dir.display()
            ),
        ));
    };
    let mut rule_files = markdown_files(&dir.join("rules"));
    let mut skill_dirs: Vec<PathBuf> = subdirs(&dir.join("skills"))
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let mut fragment_files = Vec::new();
    for (i, entry) in manifest.rules.iter().enumerate() {
        match resolve(&dir, "rules", entry, false) {
            Some(p) if !rule_files.contains(&p) => rule_files.push(p),
            Some(_) => {}
            None => missing("rules", i, entry, "rule file"),
        }
    }
    for (i, entry) in manifest.skills.iter().enumerate() {
        match resolve(&dir, "skills", entry, true) {
            Some(p) if !skill_dirs.contains(&p) => skill_dirs.push(p),
            Some(_) => {}
            None => missing("skills", i, entry, "skill folder"),
        }
    }
    for (i, entry) in manifest.prompt_fragments.iter().enumerate() {
        match resolve(&dir, "prompt_fragments", entry, false) {
            Some(p) => fragment_files.push(p),
            None => missing("prompt_fragments", i, entry, "prompt fragment"),
        }
    }
    let guideline_files: Vec<PathBuf> = markdown_files(&dir)
        .into_iter()
        .filter(|p| {
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            !NOT_GUIDELINES.iter().any(|n| n.eq_ignore_ascii_case(stem))
                && !rule_files.contains(p)
                && !fragment_files.contains(p)
        })
        .collect();
    let mut read_all = |files: Vec<PathBuf>| -> Vec<PromptText> {
        files
            .iter()
            .filter_map(|p| read_text(p, warnings))
            .collect()
    };
    Plugin {
        rules: read_all(rule_files),
        guidelines: read_all(guideline_files),
        prompt_fragments: read_all(fragment_files),
        name,
        dir,
        origin,
        manifest,
        skill_dirs,
    }
}
