//! Picking the model and the provider (environment over config.yaml over defaults), and
//! matching a model against `runtime_config.models[].id`.

use super::config::{Origin, DEFAULT_MODEL};
use crate::env::Env;
use crate::sections::RuntimeConfig;

/// The model and its origin: `MOLECULE_MODEL` > `MODEL` > `model` > `runtime_config.model` >
/// [`DEFAULT_MODEL`] (blank values in the file are skipped).
pub(super) fn pick_model(env: &Env, yaml: Option<String>, rc: &RuntimeConfig) -> (String, Origin) {
    let yaml = yaml.filter(|m| !m.trim().is_empty());
    if let Some(m) = &env.molecule_model {
        (
            m.clone(),
            Origin::Env {
                var: "MOLECULE_MODEL",
            },
        )
    } else if let Some(m) = &env.model {
        (m.clone(), Origin::Env { var: "MODEL" })
    } else if let Some(m) = yaml {
        (m, Origin::File { key: "model" })
    } else if let Some(m) = rc.model.clone().filter(|m| !m.trim().is_empty()) {
        (
            m,
            Origin::File {
                key: "runtime_config.model",
            },
        )
    } else {
        (DEFAULT_MODEL.to_string(), Origin::Default)
    }
}

/// The provider and its origin: `LLM_PROVIDER` > `provider` > `runtime_config.provider` > the
/// model's prefix (blank values in the file are skipped).
pub(super) fn pick_provider(
    env: &Env,
    yaml: Option<String>,
    rc: &RuntimeConfig,
    model: &str,
) -> (Option<String>, Origin) {
    let nonempty = |s: Option<String>| s.filter(|p| !p.trim().is_empty());
    if let Some(p) = &env.llm_provider {
        (
            Some(p.clone()),
            Origin::Env {
                var: "LLM_PROVIDER",
            },
        )
    } else if let Some(p) = nonempty(yaml) {
        (Some(p), Origin::File { key: "provider" })
    } else if let Some(p) = nonempty(rc.provider.clone()) {
        (
            Some(p),
            Origin::File {
                key: "runtime_config.provider",
            },
        )
    } else {
        match model_prefix(model) {
            Some(p) => (Some(p.to_string()), Origin::ModelPrefix),
            None => (None, Origin::Default),
        }
    }
}

/// The provider prefix of a model: the text before the first `:` or `/` (`openai:gpt-4.1` → `openai`).
pub fn model_prefix(model: &str) -> Option<&str> {
    let i = model.find([':', '/'])?;
    Some(&model[..i]).filter(|p| !p.is_empty())
}

/// Whether `models[].id` names `model`: case-insensitively equal to the whole model or to the
/// part after its provider prefix (`claude-opus-4-7` matches `anthropic:claude-opus-4-7`).
pub fn model_matches(id: &str, model: &str) -> bool {
    let id = id.trim();
    let bare = model_prefix(model).map_or(model, |p| &model[p.len() + 1..]);
    id.eq_ignore_ascii_case(model.trim()) || id.eq_ignore_ascii_case(bare.trim())
}
