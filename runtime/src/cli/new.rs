//! `molecule-runtime new skill DIR` and `new workspace DIR`: start a skill or a workspace from
//! a template that works at once (see [`molecule_runtime::scaffold`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use molecule_runtime::scaffold::{guest_sdk, new_skill, new_workspace, SkillLang};

/// Arguments of `new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    #[command(subcommand)]
    pub what: NewWhat,
}

/// What `new` writes.
#[derive(Debug, Subcommand)]
pub enum NewWhat {
    /// A skill folder whose `hello` tool takes {"name": string} and returns {"greeting": …}.
    Skill {
        /// The folder to create; its name is the skill's name (e.g. `weather-lookup`).
        dir: PathBuf,
        /// The language of the tool.
        #[arg(long, value_enum, default_value = "rust")]
        lang: Lang,
        /// The guest SDK folder (default: $MOLECULE_GUEST_SDK, else this build's checkout).
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
    /// A self-contained workspace (the demo: offline scripted model, two skills) to make
    /// your own; boot it with `molecule-runtime run --config-dir DIR`.
    Workspace {
        /// The folder to create.
        dir: PathBuf,
        /// The guest SDK folder (default: $MOLECULE_GUEST_SDK, else this build's checkout).
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
}

/// Skill languages on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Lang {
    /// A Rust component crate.
    Rust,
    /// Python (`app.py`), run on the shared interpreter: no build step.
    Python,
    /// JavaScript (`app.js`, an ES module), run on the shared engine: no build step.
    #[value(alias = "javascript")]
    Js,
}

/// Runs `new`.
pub fn run(args: NewArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        NewWhat::Skill { dir, lang, sdk } => {
            let lang = match lang {
                Lang::Rust => SkillLang::Rust,
                Lang::Python => SkillLang::Python,
                Lang::Js => SkillLang::JavaScript,
            };
            new_skill(&dir, lang, &guest_sdk(sdk.as_deref())?)?;
            let shown = shell_quote(&dir.display().to_string());
            println!("wrote skill {shown}. Try:");
            println!("  molecule-runtime call {shown} hello --args '{{\"name\":\"Ada\"}}'");
            match lang {
                SkillLang::Rust => {
                    let manifest = shell_quote(&dir.join("Cargo.toml").display().to_string());
                    println!("  cargo test --manifest-path {manifest}");
                }
                SkillLang::Python => {
                    let test = shell_quote(&dir.join("test_app.py").display().to_string());
                    println!("  python3 {test}");
                    println!(
                        "(the first Python call builds the shared interpreter once, about a \
                         minute; `molecule-runtime build --python` does it ahead)"
                    );
                }
                SkillLang::JavaScript => {
                    println!("  cd {shown} && npm install && npm test   # Node 20+, no wasm");
                }
            }
            println!("Put it in a workspace's skills/ folder to serve it over A2A.");
        }
        NewWhat::Workspace { dir, sdk } => {
            new_workspace(&dir, &guest_sdk(sdk.as_deref())?)?;
            let shown = shell_quote(&dir.display().to_string());
            println!("wrote workspace {shown}. Boot it with:");
            println!("  molecule-runtime run --config-dir {shown} --bind 127.0.0.1");
            println!(
                "Add skills with `molecule-runtime new skill {}`; edit {} to pick a model \
                 and grants.",
                shell_quote(&dir.join("skills/NAME").display().to_string()),
                shell_quote(&dir.join("config.yaml").display().to_string())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` quoted for a POSIX shell when it holds anything but safe characters.
fn shell_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:,@%=".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("my-ws/skills"), "my-ws/skills");
        assert_eq!(shell_quote("with space"), "'with space'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
