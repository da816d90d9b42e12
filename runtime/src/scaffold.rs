//! `molecule-runtime new`: writes a working skill folder or a self-contained workspace folder
//! from templates compiled into the binary, so a new author starts from something that runs.
//!
//! A Rust skill depends on the guest SDK by path; the path written is absolute (the SDK of
//! this build's source checkout, `MOLECULE_GUEST_SDK`, or `--sdk`), so the new folder works
//! wherever it is created or copied to.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// Skill languages `new skill` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkillLang {
    /// A Rust component crate built by the runtime's builder.
    Rust,
    /// Python source (`app.py`) run on the shared interpreter component: no build step.
    Python,
    /// JavaScript source (`app.js`, an ES module) run on the shared JavaScript engine
    /// component: no build step; `npm test` tests it under Node with the SDK's fake host.
    JavaScript,
}

/// One file of a template: its path inside the new folder and its text.
type TemplateFile = (&'static str, &'static str);

const RUST_SKILL: [TemplateFile; 3] = [
    ("SKILL.md", include_str!("../templates/rust-skill/SKILL.md")),
    (
        "Cargo.toml",
        include_str!("../templates/rust-skill/Cargo.toml.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../templates/rust-skill/src/lib.rs"),
    ),
];

const PYTHON_SKILL: [TemplateFile; 3] = [
    (
        "SKILL.md",
        include_str!("../templates/python-skill/SKILL.md"),
    ),
    ("app.py", include_str!("../templates/python-skill/app.py")),
    (
        "test_app.py",
        include_str!("../templates/python-skill/test_app.py"),
    ),
];

const JS_SKILL: [TemplateFile; 5] = [
    ("SKILL.md", include_str!("../templates/js-skill/SKILL.md")),
    (
        ".gitignore",
        include_str!("../templates/js-skill/.gitignore"),
    ),
    ("app.js", include_str!("../templates/js-skill/app.js")),
    (
        "app.test.js",
        include_str!("../templates/js-skill/app.test.js"),
    ),
    (
        "package.json",
        include_str!("../templates/js-skill/package.json"),
    ),
];

/// The demo workspace (`demo/` of the source tree): config, offline model, prompt and its
/// two skills with their sources.
const WORKSPACE: [TemplateFile; 11] = [
    ("config.yaml", include_str!("../../demo/config.yaml")),
    (
        "model-script.yaml",
        include_str!("../../demo/model-script.yaml"),
    ),
    (
        "system-prompt.md",
        include_str!("../../demo/system-prompt.md"),
    ),
    (
        "skills/json-query/SKILL.md",
        include_str!("../../demo/skills/json-query/SKILL.md"),
    ),
    (
        "skills/json-query/Cargo.toml",
        include_str!("../../demo/skills/json-query/Cargo.toml"),
    ),
    (
        "skills/json-query/Cargo.lock",
        include_str!("../../demo/skills/json-query/Cargo.lock"),
    ),
    (
        "skills/json-query/src/lib.rs",
        include_str!("../../demo/skills/json-query/src/lib.rs"),
    ),
    (
        "skills/notes/SKILL.md",
        include_str!("../../demo/skills/notes/SKILL.md"),
    ),
    (
        "skills/notes/Cargo.toml",
        include_str!("../../demo/skills/notes/Cargo.toml"),
    ),
    (
        "skills/notes/Cargo.lock",
        include_str!("../../demo/skills/notes/Cargo.lock"),
    ),
    (
        "skills/notes/src/lib.rs",
        include_str!("../../demo/skills/notes/src/lib.rs"),
    ),
];

/// How the demo skills' manifests name the SDK, relative to `demo/skills/<id>/`.
const DEMO_SDK_DEP: &str = "path = \"../../../guest-sdk\"";

/// The guest SDK folder: `explicit` (`--sdk`), else `$MOLECULE_GUEST_SDK`, else the
/// `guest-sdk/` of the source checkout this binary was built from. Errors when the folder
/// holds no `molecule-guest-sdk` crate, naming the flag and the variable.
pub fn guest_sdk(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let (dir, from) = match explicit {
        Some(dir) => (dir.to_owned(), "--sdk"),
        None => match std::env::var_os("MOLECULE_GUEST_SDK").filter(|v| !v.is_empty()) {
            Some(dir) => (PathBuf::from(dir), "MOLECULE_GUEST_SDK"),
            None => (
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk"),
                "the source checkout this binary was built from",
            ),
        },
    };
    let manifest = dir.join("Cargo.toml");
    let is_sdk = std::fs::read_to_string(&manifest)
        .is_ok_and(|text| text.contains("name = \"molecule-guest-sdk\""));
    if !is_sdk {
        bail!(
            "no molecule guest SDK at {} (from {from}): pass `--sdk DIR` or set \
             MOLECULE_GUEST_SDK to the `guest-sdk` folder of a molecule-runtime checkout",
            dir.display()
        );
    }
    dir.canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))
}

/// Writes a new skill folder at `dir` (a Rust crate, `app.py` plus `test_app.py` for Python,
/// or `app.js`, `app.test.js` and a `package.json` naming the JavaScript SDK by a `file:` path
/// for JavaScript) whose `hello` tool takes `{"name": string}` and
/// returns `{"greeting": string}`. The folder's name is the skill's name and must follow the
/// Agent Skills rules (1–64 of `a-z 0-9 -`, no leading, trailing or double `-`).
pub fn new_skill(dir: &Path, lang: SkillLang, sdk: &Path) -> anyhow::Result<()> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} does not end in a folder name", dir.display()))?;
    check_skill_name(name)?;
    let files: &[TemplateFile] = match lang {
        SkillLang::Rust => &RUST_SKILL,
        SkillLang::Python => &PYTHON_SKILL,
        SkillLang::JavaScript => &JS_SKILL,
    };
    let crate_name = name.replace('-', "_");
    let shown = dir.display().to_string();
    // A Python string literal (JSON's escapes are valid Python for a path).
    let sdk_python = serde_json::to_string(&sdk.join("python").to_string_lossy())?;
    // A JSON string for package.json: npm's `file:` spec of the JavaScript SDK (an absolute
    // path, so `npm install` links it offline wherever the skill folder is).
    let sdk_js = serde_json::to_string(&format!("file:{}", sdk.join("js").to_string_lossy()))?;
    let sdk = toml_string(sdk)?;
    write_folder(dir, files, |text| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{dir}}", &shown)
            .replace("{{sdk_python}}", &sdk_python)
            .replace("{{sdk_js}}", &sdk_js)
            .replace("{{sdk}}", &sdk)
    })
}

/// Writes a self-contained copy of the demo workspace at `dir`: boot it with
/// `molecule-runtime run --config-dir DIR`.
pub fn new_workspace(dir: &Path, sdk: &Path) -> anyhow::Result<()> {
    let dep = format!("path = {}", toml_string(sdk)?);
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "My Workspace".into());
    // The demo's header comment and name become the new workspace's own.
    let shown = serde_json::to_string(&name).unwrap_or_else(|_| "\"My Workspace\"".into());
    write_folder(dir, &WORKSPACE, |text| {
        let text = text.replace(DEMO_SDK_DEP, &dep);
        if !text.starts_with("# The demo workspace:") {
            return text;
        }
        let body = text
            .lines()
            .skip_while(|l| l.starts_with('#'))
            .map(|l| {
                if l.starts_with("name: ") {
                    format!("name: {shown}")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        format!(
            "# A molecule-runtime workspace, started from the demo (`molecule-runtime new \
             workspace`):\n# the langgraph adapter, the offline scripted model \
             (model-script.yaml) and two skills.\n# Boot it with `molecule-runtime run \
             --config-dir <this folder>`.\n{body}\n"
        )
    })
}

/// The Agent Skills name rules (agentskills.io specification, `name` field).
pub fn check_skill_name(name: &str) -> anyhow::Result<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if name.is_empty()
        || name.len() > 64
        || !ok_chars
        || name.starts_with('-')
        || name.ends_with('-')
        || name.contains("--")
    {
        bail!(
            "`{name}` is not a valid skill name: use 1 to 64 lowercase letters, digits and \
             single hyphens, not starting or ending with a hyphen (e.g. `weather-lookup`)"
        );
    }
    Ok(())
}

/// `path` as a quoted TOML string.
fn toml_string(path: &Path) -> anyhow::Result<String> {
    let text = path
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", path.display()))?;
    Ok(toml::Value::String(text.to_owned()).to_string())
}

/// Creates `dir` (which must not exist, or be empty) and writes `files` through `fill`.
fn write_folder(
    dir: &Path,
    files: &[TemplateFile],
    fill: impl Fn(&str) -> String,
) -> anyhow::Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_none();
        if !empty {
            bail!(
                "{} already exists and is not empty; choose a new folder",
                dir.display()
            );
        }
    }
    for (rel, text) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, fill(text)).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_names_follow_agent_skills() {
        for ok in ["a", "hello", "web-fetch", "x1-2"] {
            check_skill_name(ok).unwrap();
        }
        for bad in [
            "",
            "Hello",
            "-a",
            "a-",
            "a--b",
            "a_b",
            "a.b",
            &"a".repeat(65),
        ] {
            assert!(check_skill_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_a_non_empty_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let err = new_workspace(dir.path(), Path::new("/sdk")).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
            "mine"
        );
    }

    #[test]
    fn workspace_manifests_point_at_the_sdk() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        new_workspace(&ws, Path::new("/opt/sdk \"x\"")).unwrap();
        for skill in ["json-query", "notes"] {
            let text =
                std::fs::read_to_string(ws.join("skills").join(skill).join("Cargo.toml")).unwrap();
            let doc: toml::Table = toml::from_str(&text).unwrap();
            let path = &doc["dependencies"]["molecule-guest-sdk"]["path"];
            assert_eq!(path.as_str(), Some("/opt/sdk \"x\""), "{text}");
        }
        let config = std::fs::read_to_string(ws.join("config.yaml")).unwrap();
        assert!(config.contains("name: \"ws\""), "{config}");
        assert!(!config.contains("Demo Workspace") && !config.contains("config-dir demo"));
    }

    #[test]
    fn js_skill_files_have_their_placeholders_filled() {
        let dir = tempfile::tempdir().unwrap();
        let skill = dir.path().join("greeter");
        new_skill(&skill, SkillLang::JavaScript, Path::new("/opt/sdk \"x\"")).unwrap();
        for (rel, _) in JS_SKILL {
            let text = std::fs::read_to_string(skill.join(rel)).unwrap();
            assert!(!text.contains("{{"), "{rel} keeps a placeholder:\n{text}");
        }
        let package: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(skill.join("package.json")).unwrap())
                .unwrap();
        assert_eq!(package["name"], "greeter");
        assert_eq!(package["type"], "module");
        assert_eq!(package["scripts"]["test"], "node --test");
        assert_eq!(
            package["devDependencies"]["molecule-skill"],
            "file:/opt/sdk \"x\"/js"
        );
        let card = std::fs::read_to_string(skill.join("SKILL.md")).unwrap();
        assert!(card.starts_with("---\nname: greeter\n"), "{card}");
        assert!(card.contains(&skill.display().to_string()), "{card}");
        let app = std::fs::read_to_string(skill.join("app.js")).unwrap();
        assert!(app.contains("export const hello = tool("), "{app}");
        assert!(app.contains("from \"molecule-skill\""), "{app}");
        let test = std::fs::read_to_string(skill.join("app.test.js")).unwrap();
        assert!(test.contains("from \"molecule-skill/testing\""), "{test}");
    }

    #[test]
    fn every_skill_template_is_filled() {
        for lang in [SkillLang::Rust, SkillLang::Python, SkillLang::JavaScript] {
            let dir = tempfile::tempdir().unwrap();
            let skill = dir.path().join("my-skill");
            new_skill(&skill, lang, Path::new("/sdk")).unwrap();
            let mut seen = 0;
            for entry in walk(&skill) {
                let text = std::fs::read_to_string(&entry).unwrap();
                assert!(
                    !text.contains("{{"),
                    "{lang:?}: {} keeps a placeholder",
                    entry.display()
                );
                seen += 1;
            }
            assert!(seen >= 3, "{lang:?}: {seen} files");
        }
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
        files
    }

    #[test]
    fn the_build_checkout_has_an_sdk() {
        let sdk = guest_sdk(None).unwrap();
        assert!(sdk.join("Cargo.toml").is_file());
        let err = guest_sdk(Some(Path::new("/no/such/sdk"))).unwrap_err();
        assert!(err.to_string().contains("--sdk"), "{err}");
    }
}
