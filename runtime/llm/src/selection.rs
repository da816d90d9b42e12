//! Model selection: which provider serves a model name. Parses `provider:model` and
//! `provider/model`, knows the provider name aliases (`google_genai`, `claude-code`, …) and the
//! Claude model aliases of the claude-code adapter (`sonnet`, `opus`, `haiku`).

use std::fmt;

use crate::types::LlmError;

/// Model aliases of the claude-code adapter and their current Claude model ids.
pub const CLAUDE_ALIASES: &[(&str, &str)] = &[
    ("opus", "claude-opus-4-7"),
    ("sonnet", "claude-sonnet-4-6"),
    ("haiku", "claude-haiku-4-5"),
];

/// A model backend family. OpenRouter, Groq and Ollama speak the OpenAI wire format with their
/// own default base URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// Anthropic Messages API.
    Anthropic,
    /// OpenAI chat completions (or any compatible server via `OPENAI_BASE_URL`, e.g. vLLM).
    OpenAi,
    /// OpenRouter (OpenAI-compatible).
    OpenRouter,
    /// Groq (OpenAI-compatible).
    Groq,
    /// Ollama's OpenAI-compatible endpoint.
    Ollama,
    /// Google Gemini API.
    Gemini,
    /// Offline replay of a YAML script.
    Scripted,
}

impl ProviderKind {
    /// Every kind, in documentation order.
    pub const ALL: [ProviderKind; 7] = [
        ProviderKind::Anthropic,
        ProviderKind::OpenAi,
        ProviderKind::OpenRouter,
        ProviderKind::Groq,
        ProviderKind::Ollama,
        ProviderKind::Gemini,
        ProviderKind::Scripted,
    ];

    /// Looks up a provider name, case-insensitively; accepts the usual aliases
    /// (`claude`, `claude-code`, `google`, `google_genai`, `vllm`, …).
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase().replace('-', "_");
        Some(match n.as_str() {
            "anthropic" | "claude" | "claude_code" => ProviderKind::Anthropic,
            "openai" | "openai_compatible" | "vllm" => ProviderKind::OpenAi,
            "openrouter" => ProviderKind::OpenRouter,
            "groq" => ProviderKind::Groq,
            "ollama" => ProviderKind::Ollama,
            "gemini" | "google" | "google_genai" | "googleai" => ProviderKind::Gemini,
            "scripted" => ProviderKind::Scripted,
            _ => return None,
        })
    }

    /// Canonical lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::OpenAi => "openai",
            ProviderKind::OpenRouter => "openrouter",
            ProviderKind::Groq => "groq",
            ProviderKind::Ollama => "ollama",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Scripted => "scripted",
        }
    }

    /// Default API base URL (`""` for `Scripted`).
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "https://api.anthropic.com",
            ProviderKind::OpenAi => "https://api.openai.com/v1",
            ProviderKind::OpenRouter => "https://openrouter.ai/api/v1",
            ProviderKind::Groq => "https://api.groq.com/openai/v1",
            ProviderKind::Ollama => "http://localhost:11434/v1",
            ProviderKind::Gemini => "https://generativelanguage.googleapis.com",
            ProviderKind::Scripted => "",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A resolved `{provider, model}`: the model id is what the provider's API expects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelSelection {
    /// Provider family.
    pub provider: ProviderKind,
    /// Model id without provider prefix, aliases resolved.
    pub model: String,
}

impl ModelSelection {
    /// Parses `provider:model` / `provider/model` (the prefix before the first `:` or `/`
    /// picks the provider when it names one), or a bare model whose provider is evident
    /// (`claude-*`, `sonnet`/`opus`/`haiku`, `gpt-*`, `o1`/`o3`/`o4*`, `gemini-*`).
    pub fn parse(spec: &str) -> Result<Self, LlmError> {
        Self::resolve(None, spec)
    }

    /// Resolves like the runtime contract: an explicit `provider` (from `LLM_PROVIDER` or the
    /// YAML `provider` key) wins over the model's prefix; a prefix naming the same provider is
    /// stripped, any other text is kept as the model id (OpenRouter ids contain `/`).
    pub fn resolve(provider: Option<&str>, model: &str) -> Result<Self, LlmError> {
        let spec = model.trim();
        if spec.is_empty() {
            return Err(LlmError::InvalidInput("model name is empty".into()));
        }
        let split = split_prefix(spec);
        let explicit = provider.map(str::trim).filter(|p| !p.is_empty());
        let (kind, rest) = match explicit {
            Some(p) => {
                let kind = ProviderKind::from_name(p).ok_or_else(|| unknown_provider(p))?;
                match split {
                    Some((k, rest)) if k == kind => (kind, rest),
                    _ => (kind, spec),
                }
            }
            None => match split {
                Some((k, rest)) => (k, rest),
                None => (infer(spec).ok_or_else(|| uninferable(spec))?, spec),
            },
        };
        if rest.is_empty() {
            return Err(LlmError::InvalidInput(format!(
                "model `{spec}` names provider {kind} but no model"
            )));
        }
        Ok(Self {
            provider: kind,
            model: resolve_alias(kind, rest),
        })
    }

    /// Resolves a per-request `model` against this default: a known provider prefix switches
    /// provider, anything else is another model of the default provider.
    pub fn override_with(&self, spec: &str) -> Result<Self, LlmError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Ok(self.clone());
        }
        match split_prefix(spec) {
            Some(_) => Self::resolve(None, spec),
            None => Ok(Self {
                provider: self.provider,
                model: resolve_alias(self.provider, spec),
            }),
        }
    }
}

impl fmt::Display for ModelSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.provider, self.model)
    }
}

/// Splits off a prefix before the first `:` or `/` when it names a provider.
fn split_prefix(spec: &str) -> Option<(ProviderKind, &str)> {
    let pos = spec.find([':', '/'])?;
    let kind = ProviderKind::from_name(&spec[..pos])?;
    Some((kind, spec[pos + 1..].trim()))
}

/// Claude aliases map to full ids for Anthropic; other providers keep the name.
fn resolve_alias(kind: ProviderKind, model: &str) -> String {
    if kind == ProviderKind::Anthropic {
        if let Some((_, id)) = CLAUDE_ALIASES
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(model))
        {
            return (*id).to_string();
        }
    }
    model.to_string()
}

fn infer(model: &str) -> Option<ProviderKind> {
    let m = model.to_ascii_lowercase();
    if m.starts_with("claude") || CLAUDE_ALIASES.iter().any(|(a, _)| *a == m) {
        Some(ProviderKind::Anthropic)
    } else if m.starts_with("gpt-")
        || m.starts_with("chatgpt")
        || ["o1", "o3", "o4"].iter().any(|p| m.starts_with(p))
    {
        Some(ProviderKind::OpenAi)
    } else if m.starts_with("gemini") {
        Some(ProviderKind::Gemini)
    } else {
        None
    }
}

fn known() -> String {
    ProviderKind::ALL.map(|k| k.name()).join(", ")
}

fn unknown_provider(p: &str) -> LlmError {
    LlmError::InvalidInput(format!("unknown model provider `{p}` (known: {})", known()))
}

fn uninferable(spec: &str) -> LlmError {
    LlmError::InvalidInput(format!(
        "cannot tell which provider serves model `{spec}`; write it as provider:model \
         (providers: {})",
        known()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(p: Option<&str>, m: &str) -> (ProviderKind, String) {
        let s = ModelSelection::resolve(p, m).expect("resolves");
        (s.provider, s.model)
    }

    #[test]
    fn prefixes_and_aliases() {
        use ProviderKind::*;
        assert_eq!(
            sel(None, "anthropic:claude-opus-4-7"),
            (Anthropic, "claude-opus-4-7".into())
        );
        assert_eq!(
            sel(None, "openai/gpt-4.1-mini"),
            (OpenAi, "gpt-4.1-mini".into())
        );
        assert_eq!(
            sel(None, "openrouter/anthropic/claude-3.5-sonnet"),
            (OpenRouter, "anthropic/claude-3.5-sonnet".into())
        );
        assert_eq!(
            sel(None, "groq:llama-3.3-70b"),
            (Groq, "llama-3.3-70b".into())
        );
        assert_eq!(
            sel(None, "ollama:llama3.1:8b"),
            (Ollama, "llama3.1:8b".into())
        );
        assert_eq!(
            sel(None, "google_genai:gemini-2.5-flash"),
            (Gemini, "gemini-2.5-flash".into())
        );
        assert_eq!(sel(None, "sonnet"), (Anthropic, "claude-sonnet-4-6".into()));
        assert_eq!(
            sel(Some("anthropic"), "Opus"),
            (Anthropic, "claude-opus-4-7".into())
        );
        assert_eq!(sel(None, "gpt-4o"), (OpenAi, "gpt-4o".into()));
        assert_eq!(
            sel(Some("openrouter"), "anthropic/claude-3.5-sonnet"),
            (OpenRouter, "anthropic/claude-3.5-sonnet".into())
        );
        assert_eq!(
            sel(Some("OpenAI"), "openai:gpt-4o"),
            (OpenAi, "gpt-4o".into())
        );
        assert_eq!(sel(None, "scripted:demo"), (Scripted, "demo".into()));
    }

    #[test]
    fn errors_and_overrides() {
        assert!(ModelSelection::parse("mystery-model").is_err());
        assert!(ModelSelection::parse("").is_err());
        assert!(ModelSelection::parse("openai:").is_err());
        assert!(ModelSelection::resolve(Some("nope"), "x").is_err());
        let d = ModelSelection::parse("anthropic:claude-opus-4-7").expect("parses");
        assert_eq!(
            d.override_with("haiku").expect("ok").model,
            "claude-haiku-4-5"
        );
        let o = d.override_with("groq:llama3").expect("ok");
        assert_eq!(
            (o.provider, o.model.as_str()),
            (ProviderKind::Groq, "llama3")
        );
        assert_eq!(d.override_with("").expect("ok"), d);
    }
}
