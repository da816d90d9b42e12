//! The one place the system prompt is assembled, in the contract's order: platform
//! instructions, `prompt_files`, plugin rules and guidelines, plugin fragments + coordinator
//! section, skills, memory/A2A instructions, peers. Empty sections are omitted; the output is
//! deterministic (skills and peers are sorted by name).

use std::path::Path;

use crate::plugins::Plugin;

/// A skill as it appears in the prompt; SKILL.md parsing is the caller's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptSkill {
    /// The skill's name.
    pub name: String,
    /// Its one-line description.
    pub description: String,
    /// Its Markdown body (the part of SKILL.md after the frontmatter).
    pub body: String,
}

impl<N: Into<String>, D: Into<String>, B: Into<String>> From<(N, D, B)> for PromptSkill {
    fn from((name, description, body): (N, D, B)) -> Self {
        PromptSkill {
            name: name.into(),
            description: description.into(),
            body: body.into(),
        }
    }
}

/// A peer workspace as listed in the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptPeer {
    /// Workspace id (what delegation tools take).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role, if any.
    pub role: Option<String>,
    /// Status (`online`, `offline`, …), if known.
    pub status: Option<String>,
}

/// Everything the system prompt is built from. Start with [`PromptParts::new`] and set fields.
#[derive(Debug, Clone)]
pub struct PromptParts<'a> {
    /// The platform's own instructions (first).
    pub platform_instructions: &'a str,
    /// Where `prompt_files` are read from.
    pub config_dir: &'a Path,
    /// Files under `config_dir` (missing or unreadable ones are skipped; preflight warns).
    pub prompt_files: &'a [String],
    /// Loaded plugins: their rules, guidelines and fragments.
    pub plugins: &'a [Plugin],
    /// The coordinator section, when this workspace coordinates children.
    pub coordinator: Option<&'a str>,
    /// Skills, rendered under "## Your Skills".
    pub skills: &'a [PromptSkill],
    /// Memory tool instructions.
    pub memory_instructions: &'a str,
    /// A2A / delegation instructions.
    pub a2a_instructions: &'a str,
    /// Peers, rendered under "## Your Peers".
    pub peers: &'a [PromptPeer],
}

impl<'a> PromptParts<'a> {
    /// Parts with nothing but the config dir set.
    pub fn new(config_dir: &'a Path) -> Self {
        PromptParts {
            platform_instructions: "",
            config_dir,
            prompt_files: &[],
            plugins: &[],
            coordinator: None,
            skills: &[],
            memory_instructions: "",
            a2a_instructions: "",
            peers: &[],
        }
    }
}

/// A `## heading` followed by `items`, or nothing when every item is empty.
fn titled<'s>(heading: &str, items: impl IntoIterator<Item = &'s str>) -> String {
    let body = joined(items);
    if body.is_empty() {
        String::new()
    } else {
        format!("## {heading}\n\n{body}")
    }
}

/// Non-empty trimmed items separated by blank lines.
fn joined<'s>(items: impl IntoIterator<Item = &'s str>) -> String {
    items
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn skill_text(skill: &PromptSkill) -> String {
    let mut out = format!("### {}", skill.name.trim());
    for part in [skill.description.trim(), skill.body.trim()] {
        if !part.is_empty() {
            out.push_str("\n\n");
            out.push_str(part);
        }
    }
    out
}

fn peer_line(peer: &PromptPeer) -> String {
    let mut line = format!("- {} (id `{}`)", peer.name.trim(), peer.id.trim());
    for extra in [&peer.role, &peer.status].into_iter().flatten() {
        if !extra.trim().is_empty() {
            line.push_str(" — ");
            line.push_str(extra.trim());
        }
    }
    line
}

/// Assembles the system prompt from `parts`.
pub fn system_prompt(parts: &PromptParts<'_>) -> String {
    let files: Vec<String> = parts
        .prompt_files
        .iter()
        .filter_map(|f| std::fs::read_to_string(parts.config_dir.join(f)).ok())
        .collect();
    let plugin_texts = |pick: fn(&Plugin) -> &Vec<crate::plugins::PromptText>| -> Vec<&str> {
        parts
            .plugins
            .iter()
            .flat_map(|p| pick(p).iter().map(|t| t.text.as_str()))
            .collect()
    };
    let mut skills: Vec<&PromptSkill> = parts.skills.iter().collect();
    skills.sort_by(|a, b| a.name.cmp(&b.name));
    let skills: Vec<String> = skills.into_iter().map(skill_text).collect();
    let mut peers: Vec<&PromptPeer> = parts.peers.iter().collect();
    peers.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    let peers: Vec<String> = peers.into_iter().map(peer_line).collect();

    let sections = [
        parts.platform_instructions.trim().to_string(),
        joined(files.iter().map(String::as_str)),
        titled("Platform Rules", plugin_texts(|p| &p.rules)),
        titled("Platform Guidelines", plugin_texts(|p| &p.guidelines)),
        joined(
            plugin_texts(|p| &p.prompt_fragments)
                .into_iter()
                .chain(parts.coordinator),
        ),
        titled("Your Skills", skills.iter().map(String::as_str)),
        joined([parts.memory_instructions, parts.a2a_instructions]),
        if peers.is_empty() {
            String::new()
        } else {
            format!("## Your Peers\n\n{}", peers.join("\n"))
        },
    ];
    let mut out = joined(sections.iter().map(String::as_str));
    if !out.is_empty() {
        out.push('\n');
    }
    out
}
