//! Provider credentials and endpoints, filled by the host (usually from the process
//! environment via [`Credentials::from_env`]). Providers never read the environment themselves.
//! `Debug` never prints a secret.

use std::fmt;
use std::path::PathBuf;

/// Env var of the Anthropic API key (`x-api-key`).
pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";
/// Env var of the Claude Code OAuth token (`Authorization: Bearer`).
pub const CLAUDE_CODE_OAUTH_TOKEN: &str = "CLAUDE_CODE_OAUTH_TOKEN";
/// Env var of the OpenAI API key.
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
/// Env var of the OpenRouter API key (falls back to `OPENAI_API_KEY`).
pub const OPENROUTER_API_KEY: &str = "OPENROUTER_API_KEY";
/// Env var of the Groq API key (falls back to `OPENAI_API_KEY`).
pub const GROQ_API_KEY: &str = "GROQ_API_KEY";
/// Env var of the Gemini API key (`GOOGLE_API_KEY` is accepted too).
pub const GEMINI_API_KEY: &str = "GEMINI_API_KEY";
/// Env var overriding the Anthropic base URL.
pub const ANTHROPIC_BASE_URL: &str = "ANTHROPIC_BASE_URL";
/// Env var overriding the OpenAI base URL (vLLM and other compatible servers).
pub const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";
/// Env var overriding the Ollama base URL.
pub const OLLAMA_BASE_URL: &str = "OLLAMA_BASE_URL";
/// Env var overriding the Gemini base URL.
pub const GEMINI_BASE_URL: &str = "GEMINI_BASE_URL";
/// Env var naming the script file of the `scripted` provider.
pub const MOLECULE_LLM_SCRIPT: &str = "MOLECULE_LLM_SCRIPT";

/// Secrets and endpoints for every provider. Empty strings count as unset.
#[derive(Clone, Default)]
pub struct Credentials {
    /// `ANTHROPIC_API_KEY`; preferred over the OAuth token when both are set.
    pub anthropic_api_key: Option<String>,
    /// `CLAUDE_CODE_OAUTH_TOKEN`.
    pub claude_code_oauth_token: Option<String>,
    /// `OPENAI_API_KEY`.
    pub openai_api_key: Option<String>,
    /// `OPENROUTER_API_KEY`.
    pub openrouter_api_key: Option<String>,
    /// `GROQ_API_KEY`.
    pub groq_api_key: Option<String>,
    /// `GEMINI_API_KEY` (or `GOOGLE_API_KEY`).
    pub gemini_api_key: Option<String>,
    /// `ANTHROPIC_BASE_URL`, without `/v1`.
    pub anthropic_base_url: Option<String>,
    /// `OPENAI_BASE_URL`, including `/v1`; when set, `OPENAI_API_KEY` becomes optional.
    pub openai_base_url: Option<String>,
    /// `OLLAMA_BASE_URL`, including `/v1`.
    pub ollama_base_url: Option<String>,
    /// `GEMINI_BASE_URL`, without `/v1beta`.
    pub gemini_base_url: Option<String>,
    /// `MOLECULE_LLM_SCRIPT`: the `scripted` provider's YAML file.
    pub scripted_file: Option<PathBuf>,
}

impl Credentials {
    /// Reads every field from the process environment (for the host only).
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads every field through `get` (an env-like lookup), ignoring empty values.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Self {
            anthropic_api_key: var(ANTHROPIC_API_KEY),
            claude_code_oauth_token: var(CLAUDE_CODE_OAUTH_TOKEN),
            openai_api_key: var(OPENAI_API_KEY),
            openrouter_api_key: var(OPENROUTER_API_KEY),
            groq_api_key: var(GROQ_API_KEY),
            gemini_api_key: var(GEMINI_API_KEY).or_else(|| var("GOOGLE_API_KEY")),
            anthropic_base_url: var(ANTHROPIC_BASE_URL),
            openai_base_url: var(OPENAI_BASE_URL),
            ollama_base_url: var(OLLAMA_BASE_URL),
            gemini_base_url: var(GEMINI_BASE_URL),
            scripted_file: var(MOLECULE_LLM_SCRIPT).map(PathBuf::from),
        }
    }
}

/// Returns a non-empty trimmed value.
pub(crate) fn set(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |v: &Option<String>| if set(v).is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("Credentials")
            .field("anthropic_api_key", &s(&self.anthropic_api_key))
            .field("claude_code_oauth_token", &s(&self.claude_code_oauth_token))
            .field("openai_api_key", &s(&self.openai_api_key))
            .field("openrouter_api_key", &s(&self.openrouter_api_key))
            .field("groq_api_key", &s(&self.groq_api_key))
            .field("gemini_api_key", &s(&self.gemini_api_key))
            .field("anthropic_base_url", &self.anthropic_base_url)
            .field("openai_base_url", &self.openai_base_url)
            .field("ollama_base_url", &self.ollama_base_url)
            .field("gemini_base_url", &self.gemini_base_url)
            .field("scripted_file", &self.scripted_file)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_empty_and_debug_hides_secrets() {
        let c = Credentials::from_lookup(|k| match k {
            "ANTHROPIC_API_KEY" => Some("sk-ant-secret".into()),
            "OPENAI_API_KEY" => Some("  ".into()),
            "GOOGLE_API_KEY" => Some("g-key".into()),
            _ => None,
        });
        assert_eq!(c.anthropic_api_key.as_deref(), Some("sk-ant-secret"));
        assert_eq!(c.openai_api_key, None);
        assert_eq!(c.gemini_api_key.as_deref(), Some("g-key"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("sk-ant-secret") && dbg.contains("<set>"));
    }
}
