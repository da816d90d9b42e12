//! The remaining platform calls: discovery, peers, workspace info, memories, secrets, notify,
//! activity (the direct call; the non-blocking queue is in `activity.rs`) and external
//! workspace creation.

use reqwest::Method;
use serde_json::{json, Value};

use crate::activity::Activity;
use crate::backoff::Backoff;
use crate::client::{decode, PlatformClient};
use crate::error::PlatformError;
use crate::types::{
    Discovered, MemoryCreated, MemoryEntry, MemoryScope, NewMemory, Peer, RegisterRequest,
    RegisterResponse, Secrets, WorkspaceInfo,
};

impl PlatformClient {
    /// `GET /registry/discover/{id}` → `{id, url, name}`.
    pub async fn discover(&self, id: &str) -> Result<Discovered, PlatformError> {
        let path = format!("/registry/discover/{}", seg(id));
        self.call::<(), _>("discover", Method::GET, &path, None)
            .await
    }

    /// `GET /registry/{own id}/peers`: siblings, children and parent.
    pub async fn peers(&self) -> Result<Vec<Peer>, PlatformError> {
        let path = format!("/registry/{}/peers", seg(self.workspace_id()));
        self.call::<(), _>("peers", Method::GET, &path, None).await
    }

    /// `GET /workspaces/{id}` (use our own id for parent and name).
    pub async fn workspace(&self, id: &str) -> Result<WorkspaceInfo, PlatformError> {
        let path = format!("/workspaces/{}", seg(id));
        self.call::<(), _>("get workspace", Method::GET, &path, None)
            .await
    }

    /// `POST /workspaces/{id}/activity`, awaited. Prefer
    /// [`ActivityReporter`](crate::ActivityReporter), which never blocks.
    pub async fn post_activity(&self, activity: &Activity) -> Result<(), PlatformError> {
        let path = format!("/workspaces/{}/activity", seg(self.workspace_id()));
        let body = activity.to_wire(self.workspace_id());
        let _: Value = self
            .call("activity", Method::POST, &path, Some(&body))
            .await?;
        Ok(())
    }

    /// `POST /workspaces/{id}/memories` → `{id, scope, namespace}`. Redact secrets first.
    pub async fn commit_memory(&self, memory: &NewMemory) -> Result<MemoryCreated, PlatformError> {
        let path = format!("/workspaces/{}/memories", seg(self.workspace_id()));
        self.call("commit memory", Method::POST, &path, Some(memory))
            .await
    }

    /// `GET /workspaces/{id}/memories?q=&scope=&limit=`. Accepts a bare list or `{memories:[…]}`.
    pub async fn search_memories(
        &self,
        query: &str,
        scope: Option<MemoryScope>,
        limit: Option<usize>,
    ) -> Result<Vec<MemoryEntry>, PlatformError> {
        let mut path = format!(
            "/workspaces/{}/memories?q={}",
            seg(self.workspace_id()),
            seg(query)
        );
        if let Some(s) = scope {
            path.push_str(&format!("&scope={}", s.as_str()));
        }
        if let Some(l) = limit {
            path.push_str(&format!("&limit={l}"));
        }
        let v: Value = self
            .call::<(), _>("search memories", Method::GET, &path, None)
            .await?;
        let list = match v {
            Value::Object(mut m) => m.remove("memories").unwrap_or(Value::Array(vec![])),
            other => other,
        };
        serde_json::from_value(list).map_err(|e| PlatformError::Decode {
            call: "search memories",
            detail: e.to_string(),
        })
    }

    /// `GET /workspaces/{id}/secrets` → `{KEY: value}`, kept in this client's memory (never put
    /// into the process environment). Later calls to [`PlatformClient::secrets`] return them.
    pub async fn fetch_secrets(&self) -> Result<Secrets, PlatformError> {
        let path = format!("/workspaces/{}/secrets", seg(self.workspace_id()));
        let secrets: Secrets = self
            .call::<(), _>("secrets", Method::GET, &path, None)
            .await?;
        tracing::info!(count = secrets.len(), "secrets pulled from the platform");
        *self.inner.secrets.write().expect("secrets lock") = secrets.clone();
        Ok(secrets)
    }

    /// The secrets pulled by the last [`PlatformClient::fetch_secrets`].
    pub fn secrets(&self) -> Secrets {
        self.inner.secrets.read().expect("secrets lock").clone()
    }

    /// `POST /workspaces/{id}/notify` with `{message, attachments?}`.
    pub async fn notify(&self, message: &str, attachments: &[Value]) -> Result<(), PlatformError> {
        let path = format!("/workspaces/{}/notify", seg(self.workspace_id()));
        let mut body = json!({ "message": message });
        if !attachments.is_empty() {
            body["attachments"] = Value::Array(attachments.to_vec());
        }
        let _: Value = self
            .call("notify", Method::POST, &path, Some(&body))
            .await?;
        Ok(())
    }

    /// External workspace: the first registration, authenticated with the admin token because
    /// no workspace token exists yet; the token in the answer (shown once) is persisted.
    pub async fn register_external(
        &self,
        admin_token: &str,
        req: &RegisterRequest,
    ) -> Result<RegisterResponse, PlatformError> {
        let bearer = match self.tokens().get() {
            Some(_) => None,
            None => Some(admin_token),
        };
        self.register_with(req, bearer, self.inner.register_backoff)
            .await
    }
}

/// External workspace mode: `POST {platform_url}/workspaces` with the admin token and `body`
/// (`{name, runtime: "external", external: true, url, parent_id?}`) → the new workspace id.
/// Then build a [`PlatformClient`] for that id and call
/// [`PlatformClient::register_external`], which saves the once-shown token.
pub async fn create_workspace(
    platform_url: &str,
    admin_token: &str,
    body: &Value,
) -> Result<String, PlatformError> {
    let base = platform_url.trim_end_matches('/');
    let url = format!("{base}/workspaces");
    let http = reqwest::Client::new();
    let mut attempt = 0;
    let backoff = Backoff {
        attempts: 3,
        ..Backoff::REGISTER
    };
    let resp = loop {
        let r = http
            .post(&url)
            .bearer_auth(admin_token)
            .json(body)
            .send()
            .await;
        match r {
            Ok(r) => break r,
            Err(e) if attempt + 1 < backoff.attempts => {
                tracing::warn!(error = %e, "create workspace: platform unreachable, retrying");
                tokio::time::sleep(backoff.delay(attempt)).await;
                attempt += 1;
            }
            Err(e) => {
                return Err(PlatformError::Transport {
                    call: "create workspace",
                    url,
                    detail: e.to_string(),
                })
            }
        }
    };
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let v: Value = decode(
        "create workspace",
        crate::client::RawAnswer {
            status,
            retry_after: None,
            body: text,
        },
    )?;
    v.get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| PlatformError::Decode {
            call: "create workspace",
            detail: "the answer has no \"id\"".into(),
        })
}

/// Percent-encodes a path segment or query value.
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
