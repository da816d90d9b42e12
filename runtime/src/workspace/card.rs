//! The Agent Card: built from the workspace config and the skills' `SKILL.md` metadata
//! (card skill = `{id: folder name, name, description, tags, examples}`), rebuilt whenever
//! the skill snapshot changes.

use molecule_a2a::types::{
    standard_interfaces, AgentCapabilities, AgentCard, AgentProvider, AgentSkill,
};

use crate::skill_dir::SkillDir;

/// What the card says about the workspace itself.
#[derive(Debug, Clone)]
pub struct CardInfo {
    /// Workspace name.
    pub name: String,
    /// Workspace description.
    pub description: String,
    /// Workspace version.
    pub version: String,
    /// The URL that answers `POST /`.
    pub url: String,
    /// Whether SSE streaming is offered.
    pub streaming: bool,
}

/// The card skill of one skill folder.
pub fn card_skill(dir: &SkillDir) -> AgentSkill {
    let meta = &dir.meta;
    AgentSkill {
        id: dir.id.clone(),
        name: if meta.name.is_empty() {
            dir.id.clone()
        } else {
            meta.name.clone()
        },
        description: meta.description.clone(),
        tags: meta.tags.clone(),
        examples: (!meta.examples.is_empty()).then(|| meta.examples.clone()),
        input_modes: None,
        output_modes: None,
        security_requirements: None,
    }
}

/// Builds the card from `info` and the skill folders, in id order.
pub fn build_card<'a>(
    info: &CardInfo,
    skills: impl IntoIterator<Item = &'a SkillDir>,
) -> AgentCard {
    let mut skills: Vec<AgentSkill> = skills.into_iter().map(card_skill).collect();
    skills.sort_by(|a, b| a.id.cmp(&b.id));
    AgentCard {
        name: info.name.clone(),
        description: info.description.clone(),
        version: info.version.clone(),
        supported_interfaces: standard_interfaces(&info.url),
        capabilities: AgentCapabilities {
            streaming: Some(info.streaming),
            push_notifications: Some(false),
            extensions: None,
            extended_agent_card: Some(false),
        },
        default_input_modes: vec!["text/plain".into(), "application/json".into()],
        default_output_modes: vec!["text/plain".into(), "application/json".into()],
        skills,
        provider: Some(AgentProvider {
            organization: "Molecule AI".into(),
            url: "https://molecule.ai".into(),
        }),
        documentation_url: None,
        icon_url: None,
        security_schemes: None,
        security_requirements: None,
        signatures: None,
    }
}
