//! [`PlatformClient`]: one authenticated HTTP client per workspace. Every call carries
//! `Authorization: Bearer <token>` when a token is known (the Python runtime forgets it on
//! several calls) and `X-Workspace-ID: <own id>`. This file holds construction, the request
//! plumbing, registration (with retry), heartbeat and update-card; `calls.rs` holds the rest.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{watch, Notify};

use crate::backoff::Backoff;
use crate::error::{snippet, PlatformError};
use crate::token::TokenStore;
use crate::types::{
    AgentCard, Heartbeat, HeartbeatResponse, RegisterRequest, RegisterResponse, Secrets,
};

/// Header naming the calling workspace.
pub const WORKSPACE_HEADER: &str = "X-Workspace-ID";

/// Builds a [`PlatformClient`].
#[derive(Debug, Clone)]
pub struct PlatformClientBuilder {
    base_url: String,
    workspace_id: String,
    configs_dir: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    env_token: Option<String>,
    register_backoff: Backoff,
    a2a_backoff: Backoff,
    retry_after_cap: Duration,
    request_timeout: Duration,
}

impl PlatformClientBuilder {
    /// The config directory (usually `WORKSPACE_CONFIG_PATH`). Without a
    /// [`data_dir`](Self::data_dir) it holds `.auth_token`; with one, a `.auth_token` here is
    /// a legacy copy that is read but never written.
    pub fn configs_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.configs_dir = Some(dir.into());
        self
    }
    /// The writable data directory (`MOLECULE_DATA_DIR`): a minted token is saved to its
    /// `.auth_token`, so a read-only config directory (a ConfigMap mount) works.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }
    /// The `MOLECULE_WORKSPACE_TOKEN` fallback.
    pub fn env_token(mut self, token: Option<String>) -> Self {
        self.env_token = token;
        self
    }
    /// Registration retry schedule (default [`Backoff::REGISTER`]).
    pub fn register_backoff(mut self, b: Backoff) -> Self {
        self.register_backoff = b;
        self
    }
    /// A2A proxy retry schedule (default [`Backoff::A2A_PROXY`]).
    pub fn a2a_backoff(mut self, b: Backoff) -> Self {
        self.a2a_backoff = b;
        self
    }
    /// Longest `Retry-After` honoured on a busy peer (default 30 s).
    pub fn retry_after_cap(mut self, d: Duration) -> Self {
        self.retry_after_cap = d;
        self
    }
    /// Per-request timeout (default 10 s).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }
    /// Shrinks every retry schedule to milliseconds instead of seconds (tests).
    pub fn fast_retries(self) -> Self {
        let ms = Duration::from_millis(1);
        self.register_backoff(Backoff::REGISTER.scaled(ms))
            .a2a_backoff(Backoff::A2A_PROXY.scaled(ms))
            .retry_after_cap(Duration::from_millis(50))
    }

    /// Builds the client.
    pub fn build(self) -> Result<PlatformClient, PlatformError> {
        let base = self.base_url.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(PlatformError::Config(format!(
                "PLATFORM_URL {base:?} must start with http:// or https://"
            )));
        }
        if self.workspace_id.trim().is_empty() {
            return Err(PlatformError::Config(
                "WORKSPACE_ID is empty; set it when PLATFORM_URL is set".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(self.request_timeout)
            .connect_timeout(self.request_timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| PlatformError::Config(format!("HTTP client: {e}")))?;
        let (secret_tx, _) = watch::channel(None);
        Ok(PlatformClient {
            inner: Arc::new(Inner {
                http,
                base,
                id: self.workspace_id.trim().to_string(),
                tokens: match &self.data_dir {
                    Some(data) => TokenStore::with_legacy(
                        Some(data),
                        self.configs_dir.as_deref(),
                        self.env_token,
                    ),
                    None => TokenStore::new(self.configs_dir.as_deref(), self.env_token),
                },
                configs_dir: self.configs_dir,
                register_backoff: self.register_backoff,
                a2a_backoff: self.a2a_backoff,
                retry_after_cap: self.retry_after_cap,
                registration: Mutex::new(None),
                env_parent: RwLock::new(None),
                registered: std::sync::atomic::AtomicBool::new(false),
                inbound_secret: secret_tx,
                secrets: RwLock::new(Secrets::default()),
                auth_lost: Notify::new(),
            }),
        })
    }
}

/// The platform client of one workspace. Cheap to clone (shared state).
#[derive(Clone, Debug)]
pub struct PlatformClient {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) id: String,
    pub(crate) tokens: TokenStore,
    pub(crate) configs_dir: Option<PathBuf>,
    pub(crate) register_backoff: Backoff,
    pub(crate) a2a_backoff: Backoff,
    pub(crate) retry_after_cap: Duration,
    registration: Mutex<Option<RegisterRequest>>,
    /// `PARENT_ID`, applied afresh by every re-registration (`parent.rs`).
    pub(crate) env_parent: RwLock<Option<String>>,
    /// Set once the platform has accepted a registration (never cleared).
    registered: std::sync::atomic::AtomicBool,
    inbound_secret: watch::Sender<Option<String>>,
    pub(crate) secrets: RwLock<Secrets>,
    /// Signalled when a call other than `register` or `heartbeat` answered 401: the platform no longer
    /// accepts our token (e.g. it restarted with empty state); the heartbeat loop registers
    /// again (with backoff) instead of every caller failing on its own.
    pub(crate) auth_lost: Notify,
}

/// A raw answer: status, `Retry-After` (seconds, when present) and body text.
pub(crate) struct RawAnswer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl PlatformClient {
    /// Starts a builder for `workspace_id` on the platform at `base_url`.
    pub fn builder(
        base_url: impl Into<String>,
        workspace_id: impl Into<String>,
    ) -> PlatformClientBuilder {
        PlatformClientBuilder {
            base_url: base_url.into(),
            workspace_id: workspace_id.into(),
            configs_dir: None,
            data_dir: None,
            env_token: None,
            register_backoff: Backoff::REGISTER,
            a2a_backoff: Backoff::A2A_PROXY,
            retry_after_cap: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
        }
    }

    /// A builder from the captured environment: `PLATFORM_URL`, `WORKSPACE_ID`,
    /// `WORKSPACE_CONFIG_PATH` and `MOLECULE_WORKSPACE_TOKEN`. `None` when no platform is set.
    pub fn from_env(
        env: &molecule_config::Env,
    ) -> Result<Option<PlatformClientBuilder>, PlatformError> {
        let Some(url) = env.platform_url.clone() else {
            return Ok(None);
        };
        let id = env.workspace_id.clone().ok_or_else(|| {
            PlatformError::Config("PLATFORM_URL is set but WORKSPACE_ID is not; set both".into())
        })?;
        Ok(Some(
            PlatformClient::builder(url, id)
                .configs_dir(env.config_path.clone())
                .env_token(env.workspace_token.clone()),
        ))
    }

    /// Our workspace id.
    pub fn workspace_id(&self) -> &str {
        &self.inner.id
    }
    /// The platform base URL (no trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }
    /// The config directory, when known.
    pub fn configs_dir(&self) -> Option<&Path> {
        self.inner.configs_dir.as_deref()
    }
    /// The token store (lookup order memory → file → env).
    pub fn tokens(&self) -> &TokenStore {
        &self.inner.tokens
    }
    /// True once the platform has accepted a registration of this workspace (a 2xx answer to
    /// `POST /registry/register`, first or re-registration); it stays true after that, also
    /// while the platform is unreachable. `/readyz` reports it.
    pub fn has_registered(&self) -> bool {
        self.inner
            .registered
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// The latest `platform_inbound_secret` from register or heartbeat answers.
    pub fn inbound_secret(&self) -> watch::Receiver<Option<String>> {
        self.inner.inbound_secret.subscribe()
    }
    /// The registration body last sent (with later card updates applied).
    pub fn last_registration(&self) -> Option<RegisterRequest> {
        self.inner
            .registration
            .lock()
            .expect("registration lock")
            .clone()
    }

    /// Applies `edit` to the saved registration body; a no-op before any registration.
    pub(crate) fn edit_registration(&self, edit: impl FnOnce(&mut RegisterRequest)) {
        let mut saved = self.inner.registration.lock().expect("registration lock");
        if let Some(req) = saved.as_mut() {
            edit(req);
        }
    }

    fn note_secret(&self, secret: &Option<String>) {
        if let Some(s) = secret.as_ref().filter(|s| !s.is_empty()) {
            self.inner.inbound_secret.send_if_modified(|cur| {
                let changed = cur.as_deref() != Some(s.as_str());
                if changed {
                    *cur = Some(s.clone());
                }
                changed
            });
        }
    }

    /// Sends one request with auth and workspace headers; maps transport failures only.
    pub(crate) async fn raw<B: Serialize + ?Sized>(
        &self,
        call: &'static str,
        method: Method,
        path: &str,
        body: Option<&B>,
        bearer: Option<&str>,
    ) -> Result<RawAnswer, PlatformError> {
        let url = format!("{}{}", self.inner.base, path);
        let mut req = self
            .inner
            .http
            .request(method, &url)
            .header(WORKSPACE_HEADER, &self.inner.id);
        let token = bearer
            .map(str::to_string)
            .or_else(|| self.inner.tokens.get());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| PlatformError::Transport {
            call,
            url: url.clone(),
            detail: flatten_error(&e),
        })?;
        let status = resp.status().as_u16();
        // The heartbeat loop handles its own 401s; any other call's 401 tells it to re-register.
        if status == 401 && call != "register" && call != "heartbeat" {
            self.inner.auth_lost.notify_one();
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let body = resp.text().await.map_err(|e| PlatformError::Transport {
            call,
            url,
            detail: flatten_error(&e),
        })?;
        Ok(RawAnswer {
            status,
            retry_after,
            body,
        })
    }

    /// Sends a request and decodes a 2xx JSON answer (an empty body decodes as `{}`).
    pub(crate) async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        call: &'static str,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, PlatformError> {
        let ans = self.raw(call, method, path, body, None).await?;
        decode(call, ans)
    }

    /// `POST /registry/register`, retried on transport errors and 5xx per the register backoff
    /// (8 attempts, min(2ⁿ, 30) s); a 4xx fails at once. A token in the answer is persisted.
    pub async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, PlatformError> {
        self.register_with(req, None, self.inner.register_backoff)
            .await
    }

    /// One registration attempt with the last registration body (used after the platform
    /// forgot the workspace). With `PARENT_ID` set ([`Self::set_env_parent`]) the platform's
    /// record is read first and the parent rule applied afresh (`parent.rs`).
    pub async fn reregister(&self) -> Result<RegisterResponse, PlatformError> {
        let mut req = self.last_registration().ok_or_else(|| {
            PlatformError::Config("re-register before any register: call register first".into())
        })?;
        if self.env_parent().is_some() {
            req.parent_id = self.parent_for_reregistration(req.parent_id).await;
        }
        let once = Backoff {
            attempts: 1,
            ..self.inner.register_backoff
        };
        self.register_with(&req, None, once).await
    }

    pub(crate) async fn register_with(
        &self,
        req: &RegisterRequest,
        bearer: Option<&str>,
        backoff: Backoff,
    ) -> Result<RegisterResponse, PlatformError> {
        *self.inner.registration.lock().expect("registration lock") = Some(req.clone());
        let attempts = backoff.attempts.max(1);
        let mut attempt = 0;
        loop {
            let result = match self
                .raw(
                    "register",
                    Method::POST,
                    "/registry/register",
                    Some(req),
                    bearer,
                )
                .await
            {
                Ok(ans) => decode::<RegisterResponse>("register", ans),
                Err(e) => Err(e),
            };
            match result {
                Ok(resp) => {
                    if let Some(t) = resp.auth_token.as_ref().filter(|t| !t.is_empty()) {
                        self.inner.tokens.persist(t)?;
                        tracing::info!(workspace = %self.inner.id, "workspace token received and saved");
                    }
                    self.note_secret(&resp.platform_inbound_secret);
                    self.inner
                        .registered
                        .store(true, std::sync::atomic::Ordering::Release);
                    return Ok(resp);
                }
                Err(e) if e.is_retryable() && attempt + 1 < attempts => {
                    let wait = backoff.delay(attempt);
                    tracing::warn!(attempt = attempt + 1, of = attempts, ?wait, error = %e, "register failed, retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `POST /registry/heartbeat`. A 404 or an "unknown workspace" answer is
    /// [`PlatformError::UnknownWorkspace`], a 401/403 a [`PlatformError::Status`] for which
    /// [`PlatformError::needs_registration`] holds: either way the caller must register again.
    pub async fn heartbeat(&self, beat: &Heartbeat) -> Result<HeartbeatResponse, PlatformError> {
        let ans = self
            .raw(
                "heartbeat",
                Method::POST,
                "/registry/heartbeat",
                Some(beat),
                None,
            )
            .await?;
        let unknown = ans.status == 404
            || (ans.status >= 400 && ans.body.to_ascii_lowercase().contains("unknown workspace"));
        if unknown {
            return Err(PlatformError::UnknownWorkspace {
                workspace_id: self.inner.id.clone(),
            });
        }
        let resp: HeartbeatResponse = decode("heartbeat", ans)?;
        self.note_secret(&resp.platform_inbound_secret);
        Ok(resp)
    }

    /// `POST /registry/update-card` with `{workspace_id, agent_card}`; also sent when the URL
    /// changes (tunnels). Later re-registrations use this card, even when this call fails (a
    /// platform that missed the update learns the card when the workspace registers again).
    pub async fn update_card(&self, card: &AgentCard) -> Result<(), PlatformError> {
        if let Some(reg) = self
            .inner
            .registration
            .lock()
            .expect("registration lock")
            .as_mut()
        {
            reg.agent_card = card.clone();
            if !card.url.is_empty() {
                reg.url = card.url.clone();
            }
        }
        let body = serde_json::json!({
            "workspace_id": self.inner.id,
            "url": card.url,
            "agent_card": card,
        });
        let _: serde_json::Value = self
            .call(
                "update-card",
                Method::POST,
                "/registry/update-card",
                Some(&body),
            )
            .await?;
        Ok(())
    }
}

/// Checks the status and decodes the body.
pub(crate) fn decode<T: DeserializeOwned>(
    call: &'static str,
    ans: RawAnswer,
) -> Result<T, PlatformError> {
    if !(200..300).contains(&ans.status) {
        return Err(PlatformError::Status {
            call,
            status: ans.status,
            body: snippet(&ans.body),
        });
    }
    let text = if ans.body.trim().is_empty() {
        "{}"
    } else {
        ans.body.as_str()
    };
    serde_json::from_str(text).map_err(|e| PlatformError::Decode {
        call,
        detail: format!("{e} in {}", snippet(&ans.body)),
    })
}

fn flatten_error(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}
