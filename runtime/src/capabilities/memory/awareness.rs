//! The awareness memory backend (`AWARENESS_URL`): `POST {url}/api/v1/namespaces/{ns}/memories`
//! `{content, scope}` → `{id}`, and `GET …/memories?q=&scope=` → a list or `{memories: [...]}`.
//! Every request has a 10 s timeout.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_scope, scope_name, MemoryBackend};
use crate::bindings::imports::molecule::runtime::memory::{MemoryEntry, Scope};
use crate::bindings::HostError;

/// Memory kept by the awareness service, in one namespace.
pub struct AwarenessMemory {
    client: reqwest::Client,
    base: String,
    namespace: String,
}

impl AwarenessMemory {
    /// A backend for `namespace` (e.g. `workspace:ws-123`) at `url`.
    pub fn new(url: &str, namespace: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(AwarenessMemory {
            client,
            base: url.trim_end_matches('/').to_owned(),
            namespace: namespace.to_owned(),
        })
    }

    fn url(&self) -> String {
        format!(
            "{}/api/v1/namespaces/{}/memories",
            self.base,
            urlencode(&self.namespace)
        )
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unreachable(e: reqwest::Error) -> HostError {
    HostError::Unavailable(format!("awareness memory: {e}"))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Listing {
    Bare(Vec<Value>),
    Wrapped { memories: Vec<Value> },
}

#[async_trait]
impl MemoryBackend for AwarenessMemory {
    async fn commit(&self, content: &str, scope: Scope) -> Result<String, HostError> {
        let resp = self
            .client
            .post(self.url())
            .json(&json!({"content": content, "scope": scope_name(scope)}))
            .send()
            .await
            .map_err(unreachable)?;
        if !resp.status().is_success() {
            return Err(HostError::Failed(format!(
                "awareness memory answered {}",
                resp.status()
            )));
        }
        let body: Value = resp.json().await.map_err(unreachable)?;
        Ok(match &body["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    async fn search(
        &self,
        query: &str,
        scope: Option<Scope>,
        limit: u32,
    ) -> Result<Vec<MemoryEntry>, HostError> {
        let mut params = vec![("q", query.to_owned())];
        if let Some(scope) = scope {
            params.push(("scope", scope_name(scope).to_owned()));
        }
        let resp = self
            .client
            .get(self.url())
            .query(&params)
            .send()
            .await
            .map_err(unreachable)?;
        if !resp.status().is_success() {
            return Err(HostError::Failed(format!(
                "awareness memory answered {}",
                resp.status()
            )));
        }
        let rows = match resp.json::<Listing>().await.map_err(unreachable)? {
            Listing::Bare(rows) | Listing::Wrapped { memories: rows } => rows,
        };
        Ok(rows
            .into_iter()
            .take(limit as usize)
            .map(|row| MemoryEntry {
                id: row["id"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| row["id"].to_string()),
                content: row["content"].as_str().unwrap_or_default().to_owned(),
                scope: row["scope"]
                    .as_str()
                    .and_then(parse_scope)
                    .unwrap_or(Scope::Local),
                created_at: row["created_at"].as_str().unwrap_or_default().to_owned(),
                score: row["similarity_score"].as_f64().or(row["score"].as_f64()),
            })
            .collect())
    }
}
