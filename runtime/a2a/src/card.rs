//! The agent card: a swappable handle (the runtime rebuilds the card when skills reload) and
//! the `GET /.well-known/agent-card.json` answer with `Cache-Control`, `ETag`, `Last-Modified`
//! and `304 Not Modified` on a matching `If-None-Match`.
//!
//! Two forms of one card: the 1.0 card (valid against the 1.0 AgentCard schema, `schema/`),
//! served at [`AGENT_CARD_V1_PATH`] and at [`AGENT_CARD_PATH`] to requests that ask for 1.0
//! (`A2A-Version: 1.x` header or `?version=1.x`); and the merged card (the 1.0 card plus the
//! 0.3 fields, `card_v03.rs`: `url`, `preferredTransport`, `protocolVersion`, `security`, …),
//! served at [`AGENT_CARD_PATH`] to
//! requests without a version, which is how 0.3 clients fetch it (as the reference a2a-python
//! server does). With a signer (`card_signing.rs`) both carry the signature over the 1.0 form,
//! and so does the extended card.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::card_extras::Extras;
use crate::card_signing::CardSigner;
use crate::types::AgentCard;

/// Path of the public agent card.
pub(crate) const AGENT_CARD_PATH: &str = "/.well-known/agent-card.json";
/// Path that always serves the 1.0 card (no 0.3 fields).
pub(crate) const AGENT_CARD_V1_PATH: &str = "/.well-known/agent-card-1.0.json";

/// The card as served: the JSON body and its cache validators.
#[derive(Debug)]
pub(crate) struct ServedCard {
    pub(crate) card: Arc<AgentCard>,
    /// The card as the operator gave it, before the server's extras.
    source: AgentCard,
    body: String,
    etag: String,
    /// The 1.0 card (signed when a signer is set).
    body_v1: String,
    etag_v1: String,
    /// The 1.0 card before signing: a rebuild with the same card keeps the signature (ES256
    /// signatures differ at every signing), so the ETag stays.
    unsigned_v1: String,
    last_modified: DateTime<Utc>,
}

/// A shared, swappable agent card. Clones share the same card; [`CardHandle::set`] replaces it
/// for every server using the handle.
#[derive(Debug, Clone)]
pub struct CardHandle {
    inner: Arc<RwLock<Arc<ServedCard>>>,
    max_age: Duration,
    /// The server's settings shown on the card (`card_extras.rs`), applied at every build.
    extras: Arc<RwLock<Extras>>,
    /// Signs the served card (`a2a.card_signing`), `None`: unsigned.
    signer: Arc<RwLock<Option<Arc<CardSigner>>>>,
}

impl CardHandle {
    /// A handle serving `card`, cached by clients for 5 minutes.
    pub fn new(card: AgentCard) -> Self {
        CardHandle {
            inner: Arc::new(RwLock::new(Arc::new(build(
                card,
                &Extras::default(),
                None,
                None,
            )))),
            max_age: Duration::from_secs(300),
            extras: Arc::new(RwLock::new(Extras::default())),
            signer: Arc::new(RwLock::new(None)),
        }
    }

    /// Sets the `Cache-Control: max-age` clients may cache the card for.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Replaces the card (e.g. after a skill reload). `Last-Modified` and `ETag` change only
    /// when the served JSON changes.
    pub fn set(&self, card: AgentCard) {
        let extras = self
            .extras
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let signer = self
            .signer
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let next = build(card, &extras, signer.as_deref(), Some(&guard));
        *guard = Arc::new(next);
    }

    /// Signs the served card with `signer` from now on (`None`: serve it unsigned) and
    /// rebuilds it (A2A 1.0 §8.4).
    pub fn set_signer(&self, signer: Option<CardSigner>) {
        *self.signer.write().unwrap_or_else(|e| e.into_inner()) = signer.map(Arc::new);
        let source = self.served().source.clone();
        self.set(source);
    }

    /// Changes the server settings the card shows and rebuilds the card.
    pub(crate) fn update_extras(&self, f: impl FnOnce(&mut Extras)) {
        f(&mut self.extras.write().unwrap_or_else(|e| e.into_inner()));
        let source = self.served().source.clone();
        self.set(source);
    }

    /// The extended card (1.0 JSON), `None` when none is configured. Signed like the public
    /// card when a signer is set ([`CardHandle::set_signer`]): a JWS over its own 1.0 form.
    pub(crate) fn extended_json(&self) -> Option<Value> {
        let mut value = {
            let extras = self.extras.read().unwrap_or_else(|e| e.into_inner());
            let extended = extras.extended.as_ref()?;
            crate::card_extras::extended_json(&self.get(), extended)
        };
        let signer = self
            .signer
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(signer) = signer {
            match signer.signature_for(&value) {
                Ok(sig) => {
                    if let Some(obj) = value.as_object_mut() {
                        obj.insert("signatures".into(), Value::Array(vec![sig]));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "extended agent card left unsigned"),
            }
        }
        Some(value)
    }

    /// The current card.
    pub fn get(&self) -> Arc<AgentCard> {
        self.served().card.clone()
    }

    /// The current card as JSON, exactly as served.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.served().body).unwrap_or(Value::Null)
    }

    /// The current 1.0 card as JSON (no 0.3 fields), exactly as served to 1.0 clients.
    pub fn json_v1(&self) -> Value {
        serde_json::from_str(&self.served().body_v1).unwrap_or(Value::Null)
    }

    /// True when the card declares streaming.
    pub(crate) fn streaming(&self) -> bool {
        self.get().capabilities.streaming == Some(true)
    }

    pub(crate) fn served(&self) -> Arc<ServedCard> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Answers a card request: the 1.0 card when `v1` (the 1.0-only path, or the client asked
    /// for 1.0), else the merged card. `Vary: A2A-Version` either way.
    pub(crate) fn respond(&self, headers: &HeaderMap, v1: bool) -> Response {
        let served = self.served();
        let (body, etag) = if v1 {
            (&served.body_v1, &served.etag_v1)
        } else {
            (&served.body, &served.etag)
        };
        let mut out = HeaderMap::new();
        let cache = format!("public, max-age={}", self.max_age.as_secs());
        let last_modified = served
            .last_modified
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        for (name, value) in [
            (header::CACHE_CONTROL, cache),
            (header::ETAG, etag.clone()),
            (header::LAST_MODIFIED, last_modified),
            (header::VARY, "A2A-Version".to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                out.insert(name, v);
            }
        }
        let not_modified = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .map(|t| t.trim().trim_start_matches("W/"))
                    .any(|t| t == "*" || t == etag)
            });
        if not_modified {
            return (StatusCode::NOT_MODIFIED, out).into_response();
        }
        out.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        (StatusCode::OK, out, body.clone()).into_response()
    }
}

/// True when the request asks for the 1.0 card: `A2A-Version: 1.x` or `?version=1.x`
/// (A2A 1.0 §3.6 version negotiation; the query form is for clients that cannot set headers).
pub(crate) fn wants_v1(headers: &HeaderMap, query: Option<&str>) -> bool {
    let is_v1 = |v: &str| {
        let v = v.trim();
        v == "1" || v.starts_with("1.")
    };
    let header = headers
        .get("a2a-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_v1);
    let query = query.unwrap_or("").split('&').any(|kv| {
        kv.split_once('=')
            .is_some_and(|(k, v)| k == "version" && is_v1(v))
    });
    header || query
}

fn build(
    source: AgentCard,
    extras: &Extras,
    signer: Option<&CardSigner>,
    previous: Option<&Arc<ServedCard>>,
) -> ServedCard {
    let mut card = source.clone();
    crate::card_extras::apply(&mut card, extras);
    let mut value = serde_json::to_value(&card).unwrap_or(Value::Null);
    let unsigned_v1 = value.to_string();
    if let Some(signer) = signer {
        let reused = previous
            .filter(|p| p.unsigned_v1 == unsigned_v1)
            .and_then(|p| serde_json::from_str::<Value>(&p.body_v1).ok())
            .and_then(|p| p.get("signatures").cloned());
        let sigs = match reused {
            Some(s) => Some(s),
            None => match signer.signature_for(&value) {
                Ok(sig) => Some(Value::Array(vec![sig])),
                Err(e) => {
                    tracing::warn!(error = %e, "agent card left unsigned");
                    None
                }
            },
        };
        if let (Some(obj), Some(sigs)) = (value.as_object_mut(), sigs) {
            obj.insert("signatures".into(), sigs);
        }
    }
    let body_v1 = value.to_string();
    // 0.3 clients find the endpoint through `url`, the auth through `security`; 1.0 clients
    // ignore these fields.
    crate::card_v03::merge(&mut value);
    let body = value.to_string();
    let etag = etag_of(&body);
    let etag_v1 = etag_of(&body_v1);
    let last_modified = match previous {
        Some(p) if p.etag == etag && p.etag_v1 == etag_v1 => p.last_modified,
        _ => truncate_to_seconds(Utc::now()),
    };
    ServedCard {
        card: Arc::new(card),
        source,
        body,
        etag,
        body_v1,
        etag_v1,
        unsigned_v1,
        last_modified,
    }
}

fn etag_of(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    format!("\"{}\"", hex::encode(&digest[..12]))
}

fn truncate_to_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}
