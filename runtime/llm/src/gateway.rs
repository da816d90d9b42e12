//! The [`Gateway`]: the host's single entry point for model calls. It resolves per-request
//! model overrides, builds providers lazily from [`Credentials`], and accumulates token usage
//! per caller-provided key (e.g. the task id).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::Instrument as _;

use crate::anthropic::{Anthropic, AnthropicAuth};
use crate::credentials::{self, set, Credentials};
use crate::gemini::Gemini;
use crate::generation;
use crate::openai::OpenAiCompatible;
use crate::provider::{stream_channel, HttpOptions, Provider};
use crate::scripted::ScriptedProvider;
use crate::selection::{ModelSelection, ProviderKind};
use crate::types::{ChatRequest, ChatResponse, ChatStream, LlmError, StreamEvent, Usage};

type UsageMap = Arc<Mutex<HashMap<String, Usage>>>;

/// The model gateway. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Gateway {
    default: ModelSelection,
    credentials: Credentials,
    options: HttpOptions,
    providers: Mutex<HashMap<String, Arc<dyn Provider>>>,
    usage: UsageMap,
    /// When set, only providers that need no network ([`ProviderKind::Scripted`]) are built.
    offline: bool,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("default", &self.default)
            .field("credentials", &self.credentials)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway whose default model is `default`, with default retries and timeouts. The
    /// default provider is built now, so missing credentials or a bad script fail here.
    pub fn new(default: ModelSelection, credentials: Credentials) -> Result<Self, LlmError> {
        Self::with_options(default, credentials, HttpOptions::default())
    }

    /// Like [`Gateway::new`] with explicit retry and timeout settings.
    pub fn with_options(
        default: ModelSelection,
        credentials: Credentials,
        options: HttpOptions,
    ) -> Result<Self, LlmError> {
        let gw = Self {
            default,
            credentials,
            options,
            providers: Mutex::new(HashMap::new()),
            usage: Arc::default(),
            offline: false,
        };
        gw.provider_for(&gw.default)?;
        Ok(gw)
    }

    /// A gateway that never opens a connection (smoke mode): only `scripted` models work;
    /// any other model — the default or a per-request override — fails at once with
    /// [`LlmError::Offline`], before a provider client is even built.
    pub fn offline(default: ModelSelection, credentials: Credentials) -> Result<Self, LlmError> {
        let gw = Self {
            default,
            credentials,
            options: HttpOptions::default(),
            providers: Mutex::new(HashMap::new()),
            usage: Arc::default(),
            offline: true,
        };
        gw.provider_for(&gw.default)?;
        Ok(gw)
    }

    /// A gateway that sends requests for `default.provider` to `provider` (for embedding and
    /// tests); other providers are built from empty credentials.
    pub fn with_provider(default: ModelSelection, provider: Arc<dyn Provider>) -> Self {
        let key = cache_key(&default);
        Self {
            default,
            credentials: Credentials::default(),
            options: HttpOptions::default(),
            providers: Mutex::new(HashMap::from([(key, provider)])),
            usage: Arc::default(),
            offline: false,
        }
    }

    /// The workspace's configured model.
    pub fn default_selection(&self) -> &ModelSelection {
        &self.default
    }

    /// The selection a request with `model` would use.
    pub fn resolve(&self, model: Option<&str>) -> Result<ModelSelection, LlmError> {
        match model {
            Some(m) => self.default.override_with(m),
            None => Ok(self.default.clone()),
        }
    }

    /// Runs a completion and adds its usage under `usage_key`.
    pub async fn complete(
        &self,
        usage_key: &str,
        request: ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        let sel = self.resolve(request.model.as_deref())?;
        let provider = self.provider_for(&sel)?;
        tracing::debug!(model = %sel, messages = request.messages.len(), "llm complete");
        let span = generation::span(&sel);
        let resp = provider
            .complete(&sel.model, &request)
            .instrument(span.clone())
            .await;
        match &resp {
            Ok(resp) => generation::record_response(&span, &sel, resp),
            Err(err) => generation::record_error(&span, err),
        }
        let resp = resp?;
        record(&self.usage, usage_key, resp.usage);
        Ok(resp)
    }

    /// Starts a streamed completion; the usage of its `Done` event is added under `usage_key`.
    pub async fn stream(
        &self,
        usage_key: &str,
        request: ChatRequest,
    ) -> Result<ChatStream, LlmError> {
        let sel = self.resolve(request.model.as_deref())?;
        let provider = self.provider_for(&sel)?;
        tracing::debug!(model = %sel, messages = request.messages.len(), "llm stream");
        // The span lasts until the stream's last event: its duration is the call's latency.
        let span = generation::span(&sel);
        let mut inner = match provider
            .stream(&sel.model, &request)
            .instrument(span.clone())
            .await
        {
            Ok(inner) => inner,
            Err(err) => {
                generation::record_error(&span, &err);
                return Err(err);
            }
        };
        let (tx, rx) = stream_channel();
        let usage = self.usage.clone();
        let key = usage_key.to_string();
        let task = async move {
            while let Some(item) = inner.recv().await {
                match &item {
                    Ok(StreamEvent::Done(r)) => {
                        record(&usage, &key, r.usage);
                        generation::record_response(&tracing::Span::current(), &sel, r);
                    }
                    Err(err) => generation::record_error(&tracing::Span::current(), err),
                    Ok(_) => {}
                }
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        };
        tokio::spawn(task.instrument(span));
        Ok(rx)
    }

    /// Tokens used so far under `key` (zero when unknown).
    pub fn usage_for(&self, key: &str) -> Usage {
        lock(&self.usage).get(key).copied().unwrap_or_default()
    }

    /// Returns and forgets the usage under `key` (call when a task ends).
    pub fn take_usage(&self, key: &str) -> Usage {
        lock(&self.usage).remove(key).unwrap_or_default()
    }

    /// Tokens used under every key still held.
    pub fn total_usage(&self) -> Usage {
        let mut total = Usage::default();
        for u in lock(&self.usage).values() {
            total.add(*u);
        }
        total
    }

    /// The provider serving `sel`, built on first use.
    fn provider_for(&self, sel: &ModelSelection) -> Result<Arc<dyn Provider>, LlmError> {
        if self.offline && sel.provider != ProviderKind::Scripted {
            return Err(LlmError::Offline {
                provider: sel.provider.name().to_owned(),
                model: sel.to_string(),
            });
        }
        let key = cache_key(sel);
        let mut map = lock(&self.providers);
        if let Some(p) = map.get(&key) {
            return Ok(p.clone());
        }
        let p = build_provider(sel, &self.credentials, &self.options)?;
        map.insert(key, p.clone());
        Ok(p)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn record(usage: &UsageMap, key: &str, u: Usage) {
    lock(usage).entry(key.to_string()).or_default().add(u);
}

/// Scripted providers are per file; every other kind has one instance.
fn cache_key(sel: &ModelSelection) -> String {
    match sel.provider {
        ProviderKind::Scripted if is_script_path(&sel.model) => format!("scripted:{}", sel.model),
        k => k.name().to_string(),
    }
}

fn is_script_path(model: &str) -> bool {
    model.ends_with(".yaml") || model.ends_with(".yml")
}

fn missing(kind: ProviderKind, env_var: &str) -> LlmError {
    LlmError::MissingCredentials {
        provider: kind.name().to_string(),
        env_var: env_var.to_string(),
    }
}

/// Builds the provider for `sel` from the credentials.
fn build_provider(
    sel: &ModelSelection,
    c: &Credentials,
    options: &HttpOptions,
) -> Result<Arc<dyn Provider>, LlmError> {
    let kind = sel.provider;
    let base = |over: &Option<String>| set(over).unwrap_or_else(|| kind.default_base_url().into());
    let compat = |key: Option<String>, env: Option<&str>, base_url: String| {
        OpenAiCompatible::new(kind.name(), &base_url, key, env, options)
            .map(|p| Arc::new(p) as Arc<dyn Provider>)
    };
    match kind {
        ProviderKind::Anthropic => {
            let (auth, env) = if let Some(k) = set(&c.anthropic_api_key) {
                (AnthropicAuth::ApiKey(k), credentials::ANTHROPIC_API_KEY)
            } else if let Some(t) = set(&c.claude_code_oauth_token) {
                (
                    AnthropicAuth::OAuth(t),
                    credentials::CLAUDE_CODE_OAUTH_TOKEN,
                )
            } else {
                return Err(missing(
                    kind,
                    "ANTHROPIC_API_KEY (or CLAUDE_CODE_OAUTH_TOKEN)",
                ));
            };
            let p = Anthropic::new(&base(&c.anthropic_base_url), auth, Some(env), options)?;
            Ok(Arc::new(p))
        }
        ProviderKind::OpenAi => {
            let custom = set(&c.openai_base_url);
            let key = set(&c.openai_api_key);
            if key.is_none() && custom.is_none() {
                return Err(missing(kind, credentials::OPENAI_API_KEY));
            }
            compat(
                key,
                Some(credentials::OPENAI_API_KEY),
                base(&c.openai_base_url),
            )
        }
        ProviderKind::OpenRouter | ProviderKind::Groq => {
            let env = if kind == ProviderKind::Groq {
                credentials::GROQ_API_KEY
            } else {
                credentials::OPENROUTER_API_KEY
            };
            let own = if kind == ProviderKind::Groq {
                &c.groq_api_key
            } else {
                &c.openrouter_api_key
            };
            let key = set(own)
                .or_else(|| set(&c.openai_api_key))
                .ok_or_else(|| missing(kind, env))?;
            compat(Some(key), Some(env), kind.default_base_url().into())
        }
        ProviderKind::Ollama => compat(None, None, base(&c.ollama_base_url)),
        ProviderKind::Gemini => {
            let key =
                set(&c.gemini_api_key).ok_or_else(|| missing(kind, credentials::GEMINI_API_KEY))?;
            Ok(Arc::new(Gemini::new(
                &base(&c.gemini_base_url),
                key,
                options,
            )?))
        }
        ProviderKind::Scripted => {
            let path = if is_script_path(&sel.model) {
                PathBuf::from(&sel.model)
            } else {
                c.scripted_file
                    .clone()
                    .ok_or_else(|| missing(kind, credentials::MOLECULE_LLM_SCRIPT))?
            };
            Ok(Arc::new(ScriptedProvider::from_file(&path)?))
        }
    }
}
