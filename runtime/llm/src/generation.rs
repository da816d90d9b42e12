//! The `tracing` span of one model call, shaped as an OpenTelemetry GenAI client span so that
//! trace backends (Langfuse among them) show it as a *generation*: model, provider, token
//! usage, and the call's latency as the span's duration.
//!
//! Attributes follow the OpenTelemetry semantic conventions for generative AI
//! (<https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/>): `gen_ai.operation.name`
//! (`chat`), `gen_ai.provider.name` and its older name `gen_ai.system`,
//! `gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.input_tokens`,
//! `gen_ai.usage.output_tokens`, `gen_ai.response.finish_reasons`, and `error.type` on failure;
//! the span is named `chat {model}` and has kind CLIENT (`tracing-opentelemetry`'s `otel.*`
//! fields). Only names and counts are recorded: never prompts, answers, credentials or
//! headers.

use crate::selection::{ModelSelection, ProviderKind};
use crate::types::{ChatResponse, LlmError};

/// The longest model id put in a span attribute, in bytes (a guest may name the model).
const MAX_MODEL_ATTR_BYTES: usize = 200;

/// The `gen_ai.provider.name` of a provider: the semantic conventions' well-known value where
/// one exists (`anthropic`, `openai`, `gcp.gemini`, `groq`), else the gateway's own name.
pub fn provider_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Gemini => "gcp.gemini",
        other => other.name(),
    }
}

/// An INFO span `chat {model}` (kind CLIENT) for a call to `sel`, with the usage and response
/// fields declared empty; [`record_response`] / [`record_error`] fill them in.
pub fn span(sel: &ModelSelection) -> tracing::Span {
    let model = bounded(&sel.model);
    let provider = provider_name(sel.provider);
    tracing::info_span!(
        "llm_generation",
        otel.name = %format!("chat {model}"),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = provider,
        gen_ai.system = provider,
        gen_ai.request.model = %model,
        gen_ai.response.model = tracing::field::Empty,
        gen_ai.response.finish_reasons = tracing::field::Empty,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        langfuse.observation.type = "generation",
        error.type = tracing::field::Empty,
    )
}

/// Records a finished call: the model that answered (the gateway keeps no provider-echoed
/// id, so this is the model the request went to), the stop reason and the token counts.
pub fn record_response(span: &tracing::Span, sel: &ModelSelection, response: &ChatResponse) {
    span.record("gen_ai.response.model", bounded(&sel.model));
    if !response.stop_reason.is_empty() {
        span.record(
            "gen_ai.response.finish_reasons",
            bounded(&response.stop_reason),
        );
    }
    span.record(
        "gen_ai.usage.input_tokens",
        u64::from(response.usage.input_tokens),
    );
    span.record(
        "gen_ai.usage.output_tokens",
        u64::from(response.usage.output_tokens),
    );
}

/// Records a failed call: `error.type` is the error's class (never its text, which may quote
/// a provider's answer), and the span's status is ERROR.
pub fn record_error(span: &tracing::Span, error: &LlmError) {
    span.record("error.type", error_type(error));
    span.record("otel.status_code", "ERROR");
}

/// A low-cardinality class for `error.type`.
fn error_type(error: &LlmError) -> &'static str {
    match error {
        LlmError::InvalidInput(_) => "invalid_input",
        LlmError::MissingCredentials { .. } => "missing_credentials",
        LlmError::Unavailable { .. } => "unavailable",
        LlmError::Rejected { .. } => "rejected",
        LlmError::Offline { .. } => "offline",
        LlmError::Config(_) => "config",
        LlmError::Failed { .. } => "failed",
    }
}

/// `text` cut to [`MAX_MODEL_ATTR_BYTES`] at a character boundary.
fn bounded(text: &str) -> &str {
    if text.len() <= MAX_MODEL_ATTR_BYTES {
        return text;
    }
    let mut end = MAX_MODEL_ATTR_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_model_ids_are_cut_at_a_char_boundary() {
        let long = "é".repeat(150);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_MODEL_ATTR_BYTES);
        assert!(long.starts_with(cut));
        assert_eq!(bounded("claude"), "claude");
    }

    #[test]
    fn provider_names_follow_the_conventions() {
        assert_eq!(provider_name(ProviderKind::Gemini), "gcp.gemini");
        assert_eq!(provider_name(ProviderKind::Anthropic), "anthropic");
        assert_eq!(provider_name(ProviderKind::Scripted), "scripted");
    }
}
