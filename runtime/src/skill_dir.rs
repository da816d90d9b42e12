//! A skill folder: `SKILL.md` (Agent Skills frontmatter plus a Markdown body) and the tool
//! component: a prebuilt `.wasm` in the folder, a Rust crate the builder compiles, Python
//! source run on the shared interpreter, or none (an instructions-only skill).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

/// The frontmatter fields of `SKILL.md` that the runtime uses.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SkillMeta {
    /// Skill name: 1-64 characters of `[a-z0-9-]`, equal to the folder name.
    pub name: String,
    /// What the skill does and when to use it.
    pub description: String,
    /// Free-form tags for the Agent Card.
    pub tags: Vec<String>,
    /// Example prompts for the Agent Card.
    pub examples: Vec<String>,
    /// The skill's own version.
    pub version: Option<String>,
    /// SPDX license name.
    pub license: Option<String>,
    /// Anything else the author wants to carry.
    pub metadata: Option<serde_yaml::Value>,
    /// Adapters this skill is for (`runtime: langgraph` or a list); empty means all.
    #[serde(deserialize_with = "one_or_many")]
    pub runtime: Vec<String>,
}

impl SkillMeta {
    /// True when the skill should load under adapter `runtime`.
    pub fn runs_on(&self, runtime: &str) -> bool {
        self.runtime.is_empty() || self.runtime.iter().any(|r| r == runtime)
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// Where a skill's tool component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentSource {
    /// A prebuilt component file.
    Prebuilt(PathBuf),
    /// A Rust crate to build for wasm32-wasip2.
    Crate(PathBuf),
    /// A Python skill (the folder: `app.py` and/or `scripts/*.py`), run on the shared
    /// interpreter component (see [`crate::python`]).
    Python(PathBuf),
    /// A JavaScript skill (the folder: `app.js`), run on the shared engine component (see
    /// [`crate::javascript`]).
    JavaScript(PathBuf),
    /// Instructions only (an Agent Skill with just `SKILL.md` and resources): no component
    /// and no tools; it is on the Agent Card and in the system prompt.
    Instructions,
}

/// The largest `SKILL.md` read (bytes): the Agent Skills format keeps it short and points to
/// other files for long material; the runtime puts it on the card and in the prompt.
pub const MAX_SKILL_MD_BYTES: u64 = 256 * 1024;

/// A skill folder, read but not yet compiled.
#[derive(Debug, Clone)]
pub struct SkillDir {
    /// The folder name: the skill's id on the Agent Card.
    pub id: String,
    /// The folder.
    pub dir: PathBuf,
    /// Parsed frontmatter (empty when it was malformed; see `warnings`).
    pub meta: SkillMeta,
    /// The Markdown body after the frontmatter.
    pub body: String,
    /// The frontmatter's YAML text (capability requests are read from it).
    pub frontmatter: String,
    /// Problems that did not stop loading, each naming the file (and line when known).
    pub warnings: Vec<String>,
    /// The tool component.
    pub source: ComponentSource,
}

impl SkillDir {
    /// Reads the skill folder at `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<SkillDir> {
        let id = dir
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{} is not a usable skill folder name", dir.display()))?
            .to_owned();
        let skill_md = dir.join("SKILL.md");
        let size = std::fs::metadata(&skill_md)
            .with_context(|| format!("reading {}", skill_md.display()))?
            .len();
        anyhow::ensure!(
            size <= MAX_SKILL_MD_BYTES,
            "{} is {size} bytes, over the {MAX_SKILL_MD_BYTES}-byte limit for SKILL.md (it is \
             read into every Agent Card and system prompt); move long material into other files",
            skill_md.display()
        );
        let text = std::fs::read_to_string(&skill_md)
            .with_context(|| format!("reading {}", skill_md.display()))?;
        let (mut meta, body, mut warnings) = parse_skill_md(&skill_md, &text);
        let frontmatter = frontmatter_text(&text).unwrap_or_default().to_owned();
        if !meta.name.is_empty() && meta.name != id {
            warnings.push(name_mismatch(&skill_md, &frontmatter, &meta.name, &id));
            // The folder name is the one name of the skill everywhere, card included.
            meta.name = id.clone();
        }
        let source = find_source(dir);
        if matches!(source, ComponentSource::Python(_)) && crate::javascript::is_js_skill(dir) {
            warnings.push(format!(
                "{} has both Python (app.py or scripts/*.py) and JavaScript (app.js) tools; \
                 it runs as a Python skill and app.js is not served: keep one language per \
                 skill folder",
                dir.display()
            ));
        }
        Ok(SkillDir {
            id,
            dir: dir.to_owned(),
            meta,
            body,
            frontmatter,
            warnings,
            source,
        })
    }
}

/// The warning for a frontmatter `name` that is not the folder name. The Agent Skills format
/// requires them to be equal; [`SkillDir::load`] then uses the folder name for everything.
fn name_mismatch(skill_md: &Path, frontmatter: &str, name: &str, id: &str) -> String {
    // The file's line of the top-level `name:` key (the frontmatter starts on line 2).
    let line = frontmatter
        .lines()
        .position(|l| l.starts_with("name:"))
        .map_or(String::new(), |i| format!(":{}", i + 2));
    format!(
        "{}{line}: name `{name}` differs from the folder name `{id}` (the Agent Skills format \
         requires them to be equal); the skill is loaded as `{id}`: that is its id and its name \
         on the Agent Card, its heading in the system prompt and its key in config.yaml \
         (`skills`, `grants.skills.{id}`), and `{name}` is not used; rename the folder or fix \
         `name`",
        skill_md.display()
    )
}

/// A `SKILL.md` split at its frontmatter delimiters by [`split_frontmatter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkillMdParts<'a> {
    /// The YAML between the opening and closing delimiter lines (may be empty). It starts on
    /// line 2 of the file.
    pub yaml: &'a str,
    /// Everything after the closing delimiter line (its line ending included in neither).
    pub body: &'a str,
}

/// Why a `SKILL.md` has no frontmatter to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontmatterError {
    /// The first line (after an optional BOM) is not a `---` delimiter.
    Missing,
    /// No later line is a `---` delimiter.
    Unclosed,
}

/// Splits `SKILL.md` text into frontmatter and body, per the Agent Skills format: an optional
/// UTF-8 byte-order mark, then a delimiter line, the YAML, and the next delimiter line; lines
/// end in LF or CRLF. A delimiter line is exactly `---`, optionally followed by spaces or tabs
/// (YAML allows whitespace after its `---` marker). Only a whole line counts: `----`, `--- x`
/// or an indented `---` inside the YAML do not end it (YAML forbids a `---` line inside a
/// quoted or block scalar, so the first delimiter line really is the end). The one splitter
/// behind both [`parse_skill_md`] and [`frontmatter_text`].
pub fn split_frontmatter(text: &str) -> Result<SkillMdParts<'_>, FrontmatterError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let opening = lines.next().ok_or(FrontmatterError::Missing)?;
    if !is_delimiter(opening) {
        return Err(FrontmatterError::Missing);
    }
    let start = opening.len();
    let mut end = start;
    for line in lines {
        if is_delimiter(line) {
            return Ok(SkillMdParts {
                yaml: &text[start..end],
                body: &text[end + line.len()..],
            });
        }
        end += line.len();
    }
    Err(FrontmatterError::Unclosed)
}

/// Whether `line` (with or without its LF / CRLF ending) is a `---` delimiter line.
fn is_delimiter(line: &str) -> bool {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    line.strip_prefix("---")
        .is_some_and(|rest| rest.chars().all(|c| c == ' ' || c == '\t'))
}

/// Splits `SKILL.md` into frontmatter and body (see [`split_frontmatter`]). Missing or
/// malformed frontmatter yields empty metadata and a warning naming the file and line; without
/// frontmatter the body is the whole text (minus a BOM).
pub fn parse_skill_md(path: &Path, text: &str) -> (SkillMeta, String, Vec<String>) {
    let mut warnings = Vec::new();
    let parts = match split_frontmatter(text) {
        Ok(parts) => parts,
        Err(err) => {
            warnings.push(match err {
                FrontmatterError::Missing => format!(
                    "{}:1: no frontmatter (a `---` line, YAML, a `---` line)",
                    path.display()
                ),
                FrontmatterError::Unclosed => format!(
                    "{}:1: frontmatter has no closing `---` line",
                    path.display()
                ),
            });
            let body = text.strip_prefix('\u{feff}').unwrap_or(text);
            return (SkillMeta::default(), body.to_owned(), warnings);
        }
    };
    let meta = match serde_yaml::from_str::<Option<SkillMeta>>(parts.yaml) {
        Ok(meta) => meta.unwrap_or_default(),
        Err(err) => {
            // Line numbers in the YAML error count from the frontmatter; the file has one
            // `---` line before it.
            let line = err.location().map(|l| l.line() + 1).unwrap_or(2);
            warnings.push(format!(
                "{}:{line}: malformed frontmatter, loading with empty metadata: {err}",
                path.display()
            ));
            SkillMeta::default()
        }
    };
    if meta.description.trim().is_empty() && warnings.is_empty() {
        warnings.push(format!(
            "{}: frontmatter has no `description`",
            path.display()
        ));
    }
    (meta, parts.body.to_owned(), warnings)
}

/// The YAML between the opening and closing `---` lines, if any (see [`split_frontmatter`]).
pub fn frontmatter_text(text: &str) -> Option<&str> {
    split_frontmatter(text).ok().map(|parts| parts.yaml)
}

/// Finds the component: `tool.wasm` or `<folder>.wasm`, else a `Cargo.toml` crate, else a
/// Python skill (`app.py` or `scripts/*.py`), else a JavaScript skill (`app.js`), else
/// [`ComponentSource::Instructions`].
fn find_source(dir: &Path) -> ComponentSource {
    let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or("tool");
    for name in ["tool.wasm".to_owned(), format!("{folder}.wasm")] {
        let path = dir.join(&name);
        if path.is_file() {
            return ComponentSource::Prebuilt(path);
        }
    }
    if dir.join("Cargo.toml").is_file() {
        return ComponentSource::Crate(dir.to_owned());
    }
    if crate::python::is_python_skill(dir) {
        return ComponentSource::Python(dir.to_owned());
    }
    if crate::javascript::is_js_skill(dir) {
        return ComponentSource::JavaScript(dir.to_owned());
    }
    ComponentSource::Instructions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_frontmatter_and_body() {
        let text =
            "---\nname: notes\ndescription: Keeps notes\ntags: [memory]\n---\n# Notes\nUse it.\n";
        let (meta, body, warnings) = parse_skill_md(Path::new("SKILL.md"), text);
        assert_eq!(meta.name, "notes");
        assert_eq!(meta.tags, vec!["memory"]);
        assert_eq!(body, "# Notes\nUse it.\n");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn malformed_frontmatter_warns_with_line() {
        let text = "---\nname: notes\ndescription: [unclosed\n---\nbody\n";
        let (meta, body, warnings) = parse_skill_md(Path::new("skills/notes/SKILL.md"), text);
        assert_eq!(meta, SkillMeta::default());
        assert_eq!(body, "body\n");
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("skills/notes/SKILL.md:"),
            "{warnings:?}"
        );
        assert!(warnings[0].contains("malformed frontmatter"));
    }

    /// Both entry points see the same split (there is one splitter).
    fn split(text: &str) -> (SkillMeta, String, Vec<String>) {
        let parsed = parse_skill_md(Path::new("s/SKILL.md"), text);
        let parts = split_frontmatter(text).expect("frontmatter");
        assert_eq!(frontmatter_text(text), Some(parts.yaml));
        assert_eq!(parsed.1, parts.body);
        parsed
    }

    #[test]
    fn an_oversized_skill_md_is_refused_naming_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let skill = dir.path().join("big");
        std::fs::create_dir_all(&skill).unwrap();
        let body = "x".repeat(MAX_SKILL_MD_BYTES as usize);
        std::fs::write(
            skill.join("SKILL.md"),
            format!("---\nname: big\n---\n{body}"),
        )
        .unwrap();
        let err = format!("{:#}", SkillDir::load(&skill).unwrap_err());
        assert!(err.contains("byte limit for SKILL.md"), "{err}");
    }

    #[test]
    fn a_folder_with_python_and_javascript_says_which_one_runs() {
        let dir = tempfile::tempdir().unwrap();
        let skill = dir.path().join("both");
        std::fs::create_dir_all(&skill).unwrap();
        std::fs::write(
            skill.join("SKILL.md"),
            "---\nname: both\ndescription: d\n---\n",
        )
        .unwrap();
        std::fs::write(skill.join("app.js"), "export const x = 1;").unwrap();
        let loaded = SkillDir::load(&skill).unwrap();
        assert!(matches!(loaded.source, ComponentSource::JavaScript(_)));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        std::fs::write(skill.join("app.py"), "x = 1").unwrap();
        let loaded = SkillDir::load(&skill).unwrap();
        assert!(matches!(loaded.source, ComponentSource::Python(_)));
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.contains("app.js is not served")),
            "{:?}",
            loaded.warnings
        );
    }

    #[test]
    fn a_bom_before_the_frontmatter_is_skipped() {
        let (meta, body, warnings) =
            split("\u{feff}---\nname: s\ndescription: With a BOM\n---\nBody\n");
        assert_eq!(meta.description, "With a BOM");
        assert_eq!(body, "Body\n");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn crlf_line_endings_are_read() {
        let text =
            "---\r\nname: s\r\ndescription: Windows\r\ntags: [a]\r\n---\r\n# Body\r\nmore\r\n";
        let (meta, body, warnings) = split(text);
        assert_eq!(meta.description, "Windows");
        assert_eq!(meta.tags, ["a"]);
        assert_eq!(body, "# Body\r\nmore\r\n");
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn only_a_whole_dashes_line_closes_the_frontmatter() {
        // A quoted multi-line description with a `----` line used to cut the frontmatter at
        // `\n---` and lose all metadata.
        let text = "---\nname: s\ndescription: \"First paragraph.\n----\nSecond.\"\n\
                    tags: [x]\n---\n# Body\n---\nafter a rule\n";
        let (meta, body, warnings) = split(text);
        assert_eq!(meta.description, "First paragraph. ---- Second.");
        assert_eq!(meta.tags, ["x"]);
        assert_eq!(meta.name, "s");
        assert_eq!(body, "# Body\n---\nafter a rule\n");
        assert!(warnings.is_empty(), "{warnings:?}");
        // `--- x` is a line with content, not a delimiter.
        let err = split_frontmatter("---\nname: s\n--- x\n");
        assert_eq!(err, Err(FrontmatterError::Unclosed));
    }

    #[test]
    fn delimiters_may_carry_trailing_spaces_and_tabs() {
        let text = "--- \t\nname: s\ndescription: d\n---  \r\nBody";
        let (meta, body, _) = split(text);
        assert_eq!(meta.description, "d");
        assert_eq!(body, "Body");
    }

    #[test]
    fn the_body_starts_right_after_the_closing_line() {
        let (_, body, _) = split("---\ndescription: d\n---\n\n## Usage\n");
        assert_eq!(body, "\n## Usage\n");
        let (_, body, _) = split("---\ndescription: d\n---");
        assert_eq!(body, "");
        let (meta, _, warnings) = split("---\n---\nbody\n");
        assert_eq!(meta, SkillMeta::default());
        assert!(warnings[0].contains("no `description`"), "{warnings:?}");
    }

    #[test]
    fn missing_or_unclosed_frontmatter_warns_and_keeps_the_text_as_body() {
        let (meta, body, warnings) = parse_skill_md(Path::new("SKILL.md"), "# Just markdown\n");
        assert_eq!(meta, SkillMeta::default());
        assert_eq!(body, "# Just markdown\n");
        assert!(warnings[0].contains("no frontmatter"), "{warnings:?}");
        assert_eq!(frontmatter_text("# Just markdown\n"), None);
        let (_, _, warnings) = parse_skill_md(Path::new("SKILL.md"), "---\nname: s\n");
        assert!(warnings[0].contains("no closing"), "{warnings:?}");
        assert_eq!(frontmatter_text("---\nname: s\n"), None);
    }

    #[test]
    fn a_name_other_than_the_folder_is_replaced_by_the_folder_name_everywhere() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("json-query");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(
            dir.join("SKILL.md"),
            "---\ndescription: Query JSON\nname: JSON Query\n---\nbody\n",
        )
        .expect("write");
        std::fs::write(dir.join("tool.wasm"), b"\0asm").expect("write");
        let skill = SkillDir::load(&dir).expect("load");
        let warning = &skill.warnings[0];
        let file = dir.join("SKILL.md");
        assert!(
            warning.starts_with(&format!("{}:3: name `JSON Query`", file.display())),
            "{warning}"
        );
        assert!(
            warning.contains("loaded as `json-query`")
                && warning.contains("name on the Agent Card")
                && warning.contains("grants.skills.json-query"),
            "{warning}"
        );
        // What the message says is what happens: the card shows the folder name.
        assert_eq!(skill.id, "json-query");
        assert_eq!(skill.meta.name, "json-query");
        let card = crate::workspace::card::card_skill(&skill);
        assert_eq!(
            (card.id.as_str(), card.name.as_str()),
            ("json-query", "json-query")
        );
    }
}
