//! HTTP plumbing shared by the network providers: the reqwest client, sending with retries
//! (exponential backoff + jitter, `Retry-After`), error classification and redaction, and a
//! generic SSE stream driver that feeds a provider-specific [`StreamHandler`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response};
use tokio::sync::mpsc;

use crate::provider::stream_channel;
use crate::sse::{SseEvent, SseParser};
use crate::types::{ChatStream, LlmError, RetryPolicy, StreamEvent, Timeouts};

/// Longest provider message kept in an error.
const MAX_MESSAGE: usize = 600;

/// Builds the shared HTTP client (rustls, explicit connect timeout).
pub(crate) fn build_client(timeouts: &Timeouts) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(timeouts.connect)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("molecule-llm/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LlmError::Config(format!("cannot build HTTP client: {e}")))
}

/// Everything a network provider needs to talk HTTP.
pub(crate) struct HttpCore {
    /// Provider name for errors.
    pub provider: String,
    /// Shared client.
    pub client: reqwest::Client,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Time limits.
    pub timeouts: Timeouts,
    /// Strings never to show in an error (the credential).
    secrets: Vec<String>,
    /// Env var named when the provider rejects the credential.
    credential_env: Option<String>,
}

/// Builds a fresh request for each attempt.
pub(crate) type RequestFactory = Arc<dyn Fn() -> RequestBuilder + Send + Sync>;

impl HttpCore {
    /// A core for `provider`; `secret` is redacted from every error message.
    pub fn new(
        provider: &str,
        client: reqwest::Client,
        retry: RetryPolicy,
        timeouts: Timeouts,
        secret: Option<&str>,
        credential_env: Option<&str>,
    ) -> Self {
        Self {
            provider: provider.to_string(),
            client,
            retry,
            timeouts,
            secrets: secret
                .filter(|s| !s.is_empty())
                .map(|s| vec![s.to_string()])
                .unwrap_or_default(),
            credential_env: credential_env.map(str::to_string),
        }
    }

    /// Removes credentials from `text` and truncates it.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            out = out.replace(s.as_str(), "[REDACTED]");
        }
        truncate(&out, MAX_MESSAGE)
    }

    /// Sends until success or a non-retryable error; returns the successful response.
    pub async fn send(
        &self,
        state: &mut RetryState,
        streaming: bool,
        build: &(dyn Fn() -> RequestBuilder + Send + Sync),
    ) -> Result<Response, LlmError> {
        let timeout = if streaming {
            self.timeouts.stream_total
        } else {
            self.timeouts.request
        };
        loop {
            let (err, retry_after) = match build().timeout(timeout).send().await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => self.error_from_response(resp).await,
                Err(e) => (self.transport_error(&e), None),
            };
            self.backoff(state, err, retry_after).await?;
        }
    }

    /// Sends a non-streaming request and parses the JSON answer, retrying transient failures
    /// (including a body cut off mid-way).
    pub async fn send_json(
        &self,
        build: &(dyn Fn() -> RequestBuilder + Send + Sync),
    ) -> Result<serde_json::Value, LlmError> {
        let mut state = RetryState::new(self.retry);
        loop {
            let resp = self.send(&mut state, false, build).await?;
            match resp.bytes().await {
                Ok(body) => {
                    return serde_json::from_slice(&body).map_err(|e| {
                        LlmError::failed(
                            &self.provider,
                            format!("answer is not the expected JSON: {e}"),
                        )
                    })
                }
                Err(e) => {
                    let err = self.transport_error(&e);
                    self.backoff(&mut state, err, None).await?;
                }
            }
        }
    }

    /// Sleeps before the next attempt, or returns `err` when no retry is allowed.
    pub async fn backoff(
        &self,
        state: &mut RetryState,
        err: LlmError,
        retry_after: Option<Duration>,
    ) -> Result<(), LlmError> {
        match state.next_delay(&err, retry_after) {
            Some(delay) => {
                tracing::warn!(provider = %self.provider, attempt = state.attempts, ?delay,
                    error = %err, "transient model provider error; retrying");
                tokio::time::sleep(delay).await;
                Ok(())
            }
            None => Err(state.exhausted(err)),
        }
    }

    /// Maps a transport-level error (connect, timeout, body) to `Unavailable`.
    pub fn transport_error(&self, e: &reqwest::Error) -> LlmError {
        let what = if e.is_timeout() {
            "request timed out".to_string()
        } else if e.is_connect() {
            "cannot connect".to_string()
        } else {
            "transport error".to_string()
        };
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        LlmError::unavailable(&self.provider, self.redact(&format!("{what}: {detail}")))
    }

    /// Reads an error answer and classifies it; returns the error and the server's retry hint.
    async fn error_from_response(&self, resp: Response) -> (LlmError, Option<Duration>) {
        let status = resp.status().as_u16();
        let retry_after = retry_after(resp.headers());
        let body = resp.text().await.unwrap_or_default();
        (self.classify(status, &body), retry_after)
    }

    /// Turns a provider error status + body into an [`LlmError`].
    pub fn classify(&self, status: u16, body: &str) -> LlmError {
        let (kind, message) = parse_error_body(body);
        let text = match &kind {
            Some(k) if !message.contains(k.as_str()) => format!("{k}: {message}"),
            _ => message,
        };
        let text = self.redact(&text);
        let provider = self.provider.clone();
        let overloaded = kind.as_deref() == Some("overloaded_error");
        if status == 429 || (500..=599).contains(&status) || overloaded {
            LlmError::Unavailable {
                provider,
                status: Some(status),
                message: text,
            }
        } else if status == 401 || status == 403 {
            let hint = self
                .credential_env
                .as_deref()
                .map(|env| format!("; check {env}"))
                .unwrap_or_default();
            LlmError::Failed {
                provider,
                status: Some(status),
                message: format!("credentials rejected: {text}{hint}"),
            }
        } else if (400..=499).contains(&status) {
            LlmError::Rejected {
                provider,
                status,
                message: text,
            }
        } else {
            LlmError::Failed {
                provider,
                status: Some(status),
                message: text,
            }
        }
    }
}

/// Attempts made so far against a [`RetryPolicy`].
pub(crate) struct RetryState {
    policy: RetryPolicy,
    attempts: u32,
    started: Instant,
}

impl RetryState {
    /// Starts counting now.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            attempts: 0,
            started: Instant::now(),
        }
    }

    /// Records a failed attempt; returns how long to wait before the next one, or `None` when
    /// `err` is not transient or the attempts or time budget are spent.
    pub fn next_delay(
        &mut self,
        err: &LlmError,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        self.attempts += 1;
        if !err.is_transient() || self.attempts >= self.policy.max_attempts.max(1) {
            return None;
        }
        let exp = self
            .policy
            .initial_backoff
            .saturating_mul(1u32 << (self.attempts - 1).min(20))
            .min(self.policy.max_backoff);
        let jittered = exp.mul_f64(0.5 + fastrand::f64() * 0.5);
        let delay = retry_after.unwrap_or(jittered);
        if self.started.elapsed() + delay > self.policy.max_elapsed {
            return None;
        }
        Some(delay)
    }

    /// Notes the attempts made in a transient error that ends the retries.
    pub fn exhausted(&self, err: LlmError) -> LlmError {
        match err {
            LlmError::Unavailable {
                provider,
                status,
                message,
            } if self.attempts > 1 => LlmError::Unavailable {
                provider,
                status,
                message: format!("{message} (gave up after {} attempts)", self.attempts),
            },
            other => other,
        }
    }
}

/// `retry-after-ms`, or `Retry-After` in seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

/// Extracts `(error type, message)` from the error bodies of Anthropic, OpenAI-compatible
/// servers and Gemini; falls back to the raw body.
pub(crate) fn parse_error_body(body: &str) -> (Option<String>, String) {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(body) else {
        let raw = body.trim();
        return (
            None,
            if raw.is_empty() {
                "no details".into()
            } else {
                raw.into()
            },
        );
    };
    if let Some(first) = v.as_array().and_then(|a| a.first()).cloned() {
        v = first;
    }
    let err = v.get("error").cloned().unwrap_or(v);
    if let Some(s) = err.as_str() {
        return (None, s.to_string());
    }
    let message = err
        .get("message")
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| err.to_string());
    let kind = ["type", "status", "code"]
        .iter()
        .find_map(|k| err.get(*k).and_then(|t| t.as_str()).map(str::to_string));
    (kind, message)
}

/// Truncates on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Turns provider SSE events into [`StreamEvent`]s.
pub(crate) trait StreamHandler: Send + 'static {
    /// Handles one event; the returned events are forwarded in order. A `Done` ends the stream.
    fn on_event(&mut self, ev: SseEvent) -> Result<Vec<StreamEvent>, LlmError>;
    /// The body ended without a `Done`: return the final events, or an error.
    fn on_end(&mut self) -> Result<Vec<StreamEvent>, LlmError>;
}

/// Reads SSE events from a response with an idle timeout.
struct SseReader {
    resp: Response,
    parser: SseParser,
    pending: VecDeque<SseEvent>,
    ended: bool,
    idle: Duration,
}

impl SseReader {
    async fn next(&mut self, core: &HttpCore) -> Result<Option<SseEvent>, LlmError> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Ok(Some(ev));
            }
            if self.ended {
                return Ok(None);
            }
            match tokio::time::timeout(self.idle, self.resp.chunk()).await {
                Err(_) => {
                    return Err(LlmError::unavailable(
                        &core.provider,
                        format!("stream stalled: no data for {}s", self.idle.as_secs()),
                    ))
                }
                Ok(Err(e)) => return Err(core.transport_error(&e)),
                Ok(Ok(None)) => {
                    self.ended = true;
                    self.pending.extend(self.parser.finish());
                }
                Ok(Ok(Some(bytes))) => self.pending.extend(self.parser.feed(&bytes)),
            }
        }
    }
}

/// Sends a streaming request (with retries) and spawns a task that feeds the SSE body through
/// a fresh handler from `new_handler`. A transient error before anything was emitted (e.g. an
/// `overloaded_error` event right after `message_start`) re-sends the request within the
/// retry budget.
pub(crate) async fn start_stream<H, F>(
    core: Arc<HttpCore>,
    build: RequestFactory,
    new_handler: F,
) -> Result<ChatStream, LlmError>
where
    H: StreamHandler,
    F: Fn() -> H + Send + 'static,
{
    let mut state = RetryState::new(core.retry);
    let first = core.send(&mut state, true, &*build).await?;
    let (tx, rx) = stream_channel();
    tokio::spawn(async move {
        let mut resp = first;
        loop {
            let mut emitted = false;
            let err = match drive(&core, resp, new_handler(), &tx, &mut emitted).await {
                Ok(()) => return,
                Err(e) => e,
            };
            if emitted {
                let _ = tx.send(Err(err)).await;
                return;
            }
            if let Err(e) = core.backoff(&mut state, err, None).await {
                let _ = tx.send(Err(e)).await;
                return;
            }
            resp = match core.send(&mut state, true, &*build).await {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
        }
    });
    Ok(rx)
}

/// Pumps one response through `handler`; `Ok` when `Done` was sent or the receiver left.
async fn drive<H: StreamHandler>(
    core: &HttpCore,
    resp: Response,
    mut handler: H,
    tx: &mpsc::Sender<Result<StreamEvent, LlmError>>,
    emitted: &mut bool,
) -> Result<(), LlmError> {
    let mut reader = SseReader {
        resp,
        parser: SseParser::default(),
        pending: VecDeque::new(),
        ended: false,
        idle: core.timeouts.stream_idle,
    };
    loop {
        let events = match reader.next(core).await? {
            Some(ev) => handler.on_event(ev)?,
            None => {
                let evs = handler.on_end()?;
                if evs.is_empty() {
                    return Err(LlmError::unavailable(
                        &core.provider,
                        "stream ended before the response was complete",
                    ));
                }
                evs
            }
        };
        for ev in events {
            let done = matches!(ev, StreamEvent::Done(_));
            *emitted = true;
            if tx.send(Ok(ev)).await.is_err() || done {
                return Ok(());
            }
        }
    }
}
