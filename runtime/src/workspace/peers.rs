//! Peers through the Molecule platform: the `a2a` backend (list peers, send, delegate, check a
//! delegation) over the platform's registry and A2A proxy. Self-delegation is refused; a
//! queued peer is QUEUED, not failed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use molecule_platform::{message_send, A2aOutcome, PlatformClient};
use serde_json::Value;

use crate::bindings::imports::molecule::runtime::a2a::{DelegationStatus, Peer, SendResult};
use crate::bindings::imports::molecule::runtime::types::{Message, Part, Role, TaskState};
use crate::bindings::HostError;
use crate::capabilities::a2a::A2aBackend;

/// The `a2a` backend of a workspace that joined a platform.
#[derive(Clone)]
pub struct PlatformPeers {
    client: PlatformClient,
    delegations: Arc<Mutex<HashMap<String, DelegationStatus>>>,
    /// `a2a.trusted_card_keys`: peers' cards must be signed by one of them (empty: unchecked).
    trusted_card_keys: Arc<Vec<molecule_a2a::card_signing::TrustedKey>>,
}

/// What a peer answered, reduced to state and text.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerAnswer {
    /// The task state (`completed` for a plain message reply, `submitted` when queued).
    pub state: TaskState,
    /// The answer text (artifacts, status message or reply message), or the queue id.
    pub text: String,
}

impl PlatformPeers {
    /// The platform client the peers are reached through.
    pub fn client(&self) -> &PlatformClient {
        &self.client
    }

    /// Peers reached through `client`.
    pub fn new(client: PlatformClient) -> Self {
        PlatformPeers {
            client,
            delegations: Arc::new(Mutex::new(HashMap::new())),
            trusted_card_keys: Arc::new(Vec::new()),
        }
    }

    /// Requires peers' cards to be signed by one of `keys` (`a2a.trusted_card_keys`).
    pub fn with_trusted_card_keys(
        mut self,
        keys: Vec<molecule_a2a::card_signing::TrustedKey>,
    ) -> Self {
        self.trusted_card_keys = Arc::new(keys);
        self
    }

    /// With trusted card keys, verifies `peer_id`'s card from the registry's peer list.
    async fn check_card(&self, peer_id: &str) -> Result<(), HostError> {
        if self.trusted_card_keys.is_empty() {
            return Ok(());
        }
        let peers = self
            .client
            .peers()
            .await
            .map_err(|e| HostError::Unavailable(format!("listing peers: {e}")))?;
        let card = peers
            .iter()
            .find(|p| p.id == peer_id)
            .map(|p| p.agent_card.clone())
            .unwrap_or(Value::Null);
        super::peer_cards::check_peer_card(peer_id, &card, &self.trusted_card_keys)
            .map_err(HostError::Denied)
    }

    /// True when any peer is a child of this workspace (it then coordinates).
    pub async fn has_children(&self) -> bool {
        let me = self.client.workspace_id().to_owned();
        match self.client.peers().await {
            Ok(peers) => peers.iter().any(|p| p.parent_id.as_deref() == Some(&me)),
            Err(_) => false,
        }
    }

    /// Sends `text` to `peer_id` and waits for its answer.
    pub async fn ask(&self, peer_id: &str, text: &str) -> Result<PeerAnswer, HostError> {
        if peer_id == self.client.workspace_id() {
            return Err(HostError::InvalidInput(
                "a workspace cannot delegate to itself; pick one of list_peers".into(),
            ));
        }
        self.check_card(peer_id).await?;
        let outcome = self
            .client
            .send_a2a(peer_id, &message_send(text))
            .await
            .map_err(|e| HostError::Unavailable(format!("sending to {peer_id}: {e}")))?;
        match outcome {
            A2aOutcome::Delivered(body) => answer_of(&body),
            A2aOutcome::Queued { queue_id } => Ok(PeerAnswer {
                state: TaskState::Submitted,
                text: queue_id,
            }),
            A2aOutcome::Busy { .. } => Err(HostError::Unavailable(format!(
                "{peer_id} is busy; try again later or pick another peer"
            ))),
        }
    }
}

/// Reads a 0.3 JSON-RPC answer (a Message or a Task).
fn answer_of(body: &Value) -> Result<PeerAnswer, HostError> {
    if let Some(err) = body.get("error") {
        return Err(HostError::Failed(format!(
            "the peer answered an error: {err}"
        )));
    }
    let result = &body["result"];
    let texts = |parts: &Value| -> Vec<String> {
        parts
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["text"].as_str().map(str::to_owned))
            .collect()
    };
    if result["kind"] == "message" || result.get("parts").is_some() {
        return Ok(PeerAnswer {
            state: TaskState::Completed,
            text: texts(&result["parts"]).join(""),
        });
    }
    let mut text: Vec<String> = result["artifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| texts(&a["parts"]))
        .collect();
    if text.is_empty() {
        text = texts(&result["status"]["message"]["parts"]);
    }
    let state = match result["status"]["state"].as_str().unwrap_or("") {
        "completed" | "TASK_STATE_COMPLETED" => TaskState::Completed,
        "failed" | "TASK_STATE_FAILED" => TaskState::Failed,
        "canceled" | "TASK_STATE_CANCELED" => TaskState::Canceled,
        "rejected" | "TASK_STATE_REJECTED" => TaskState::Rejected,
        "input-required" | "TASK_STATE_INPUT_REQUIRED" => TaskState::InputRequired,
        "submitted" | "TASK_STATE_SUBMITTED" => TaskState::Submitted,
        _ => TaskState::Working,
    };
    Ok(PeerAnswer {
        state,
        text: text.join(""),
    })
}

fn message_text(message: &Message) -> String {
    message
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[async_trait]
impl A2aBackend for PlatformPeers {
    async fn list_peers(&self) -> Result<Vec<Peer>, HostError> {
        let me = self.client.workspace_id().to_owned();
        let peers = self
            .client
            .peers()
            .await
            .map_err(|e| HostError::Unavailable(format!("listing peers: {e}")))?;
        Ok(peers
            .into_iter()
            .map(|p| Peer {
                skills: p.agent_card["skills"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["name"].as_str().map(str::to_owned))
                    .collect(),
                is_child: p.parent_id.as_deref() == Some(&me),
                id: p.id,
                name: p.name,
                role: p.role,
                status: p.status,
            })
            .collect())
    }

    async fn send(&self, peer_id: &str, message: Message) -> Result<SendResult, HostError> {
        let answer = self.ask(peer_id, &message_text(&message)).await?;
        Ok(match answer.state {
            TaskState::Submitted => SendResult::Queued(answer.text),
            _ => SendResult::Reply(Message {
                message_id: String::new(),
                role: Role::Agent,
                parts: vec![Part::Text(answer.text)],
                context_id: None,
                task_id: None,
                metadata: None,
            }),
        })
    }

    async fn delegate(&self, peer_id: &str, task: &str) -> Result<String, HostError> {
        if peer_id == self.client.workspace_id() {
            return Err(HostError::InvalidInput(
                "a workspace cannot delegate to itself".into(),
            ));
        }
        self.check_card(peer_id).await?;
        let id = format!("dlg-{}", molecule_a2a::types::new_id());
        let status = |state, result| DelegationStatus {
            id: id.clone(),
            peer_id: peer_id.to_owned(),
            state,
            result,
        };
        self.lock()
            .insert(id.clone(), status(TaskState::Working, None));
        let (this, peer, text, key) = (
            self.clone(),
            peer_id.to_owned(),
            task.to_owned(),
            id.clone(),
        );
        tokio::spawn(async move {
            let done = match this.ask(&peer, &text).await {
                Ok(answer) => (answer.state, Some(answer.text)),
                Err(e) => (TaskState::Failed, Some(format!("{e:?}"))),
            };
            if let Some(entry) = this.lock().get_mut(&key) {
                entry.state = done.0;
                entry.result = done.1;
            }
        });
        Ok(id)
    }

    async fn delegation_status(&self, id: &str) -> Result<DelegationStatus, HostError> {
        self.lock()
            .get(id)
            .cloned()
            .ok_or_else(|| HostError::InvalidInput(format!("no delegation `{id}`")))
    }
}

impl PlatformPeers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, DelegationStatus>> {
        self.delegations.lock().unwrap_or_else(|p| p.into_inner())
    }
}
