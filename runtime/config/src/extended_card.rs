//! `a2a.extended_card`: what `GetExtendedAgentCard` (A2A 1.0 §7.10) adds to the public card
//! for authenticated callers. Lenient: a skill without an `id` warns and is skipped.
//!
//! ```yaml
//! a2a:
//!   extended_card:
//!     description: The full description for signed-in callers.
//!     skills: [{id: audit, name: Audit, description: Reads the audit log, tags: [ops]}]
//! ```

use serde_yaml::Value;

use crate::lenient::{field, Reader};

/// `a2a.extended_card`: `description` (replaces the card's) and `skills` (added), each
/// skill `{id, name, description, tags}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtendedCardConfig {
    /// Replaces the public card's description when set.
    pub description: Option<String>,
    /// Skills added to the public card's.
    pub skills: Vec<ExtendedSkill>,
}

/// One skill of `a2a.extended_card.skills`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtendedSkill {
    /// `id` (required; an item without it warns and is skipped).
    pub id: String,
    /// `name` (default: the id).
    pub name: String,
    /// `description` (default: empty).
    pub description: String,
    /// `tags` (default: none).
    pub tags: Vec<String>,
}

/// `a2a.extended_card`.
pub(crate) fn extended_card(r: &mut Reader<'_>, v: Option<&Value>) -> Option<ExtendedCardConfig> {
    let card = r.mapping(v, "a2a.extended_card")?;
    let description = r.opt_string(field(card, "description"), "a2a.extended_card.description");
    let mut skills = Vec::new();
    for (i, item) in r
        .items(field(card, "skills"), "a2a.extended_card.skills")
        .iter()
        .enumerate()
    {
        let key = format!("a2a.extended_card.skills[{i}]");
        let Some(id) = r.opt_string(field(item, "id"), &format!("{key}.id")) else {
            r.warn(&key, "a skill needs an `id`; skipping it");
            continue;
        };
        let name = r.string(field(item, "name"), &format!("{key}.name"), &id);
        let description = r.string(
            field(item, "description"),
            &format!("{key}.description"),
            "",
        );
        let tags = r
            .string_list(field(item, "tags"), &format!("{key}.tags"))
            .unwrap_or_default();
        skills.push(ExtendedSkill {
            id,
            name,
            description,
            tags,
        });
    }
    Some(ExtendedCardConfig {
        description,
        skills,
    })
}
