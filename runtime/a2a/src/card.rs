//! The agent card: a swappable handle (the runtime rebuilds the card when skills reload) and
//! the `GET /.well-known/agent-card.json` answer with `Cache-Control`, `ETag`, `Last-Modified`
//! and `304 Not Modified` on a matching `If-None-Match`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::card_extras::Extras;
use crate::types::{AgentCard, BINDING_JSONRPC, LEGACY_PROTOCOL_VERSION};

/// Path of the public agent card.
pub(crate) const AGENT_CARD_PATH: &str = "/.well-known/agent-card.json";

/// The card as served: the JSON body and its cache validators.
#[derive(Debug)]
pub(crate) struct ServedCard {
    pub(crate) card: Arc<AgentCard>,
    /// The card as the operator gave it, before the server's extras.
    source: AgentCard,
    body: String,
    etag: String,
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
}

impl CardHandle {
    /// A handle serving `card`, cached by clients for 5 minutes.
    pub fn new(card: AgentCard) -> Self {
        CardHandle {
            inner: Arc::new(RwLock::new(Arc::new(build(card, &Extras::default(), None)))),
            max_age: Duration::from_secs(300),
            extras: Arc::new(RwLock::new(Extras::default())),
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
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let next = build(card, &extras, Some(&guard));
        *guard = Arc::new(next);
    }

    /// Changes the server settings the card shows and rebuilds the card.
    pub(crate) fn update_extras(&self, f: impl FnOnce(&mut Extras)) {
        f(&mut self.extras.write().unwrap_or_else(|e| e.into_inner()));
        let source = self.served().source.clone();
        self.set(source);
    }

    /// The extended card (1.0 JSON), `None` when none is configured.
    pub(crate) fn extended_json(&self) -> Option<Value> {
        let extras = self.extras.read().unwrap_or_else(|e| e.into_inner());
        let extended = extras.extended.as_ref()?;
        Some(crate::card_extras::extended_json(&self.get(), extended))
    }

    /// The current card.
    pub fn get(&self) -> Arc<AgentCard> {
        self.served().card.clone()
    }

    /// The current card as JSON, exactly as served.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.served().body).unwrap_or(Value::Null)
    }

    /// True when the card declares streaming.
    pub(crate) fn streaming(&self) -> bool {
        self.get().capabilities.streaming == Some(true)
    }

    pub(crate) fn served(&self) -> Arc<ServedCard> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Answers a card request.
    pub(crate) fn respond(&self, headers: &HeaderMap) -> Response {
        let served = self.served();
        let mut out = HeaderMap::new();
        let cache = format!("public, max-age={}", self.max_age.as_secs());
        let last_modified = served
            .last_modified
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        for (name, value) in [
            (header::CACHE_CONTROL, cache),
            (header::ETAG, served.etag.clone()),
            (header::LAST_MODIFIED, last_modified),
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
                    .any(|t| t == "*" || t == served.etag)
            });
        if not_modified {
            return (StatusCode::NOT_MODIFIED, out).into_response();
        }
        out.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        (StatusCode::OK, out, served.body.clone()).into_response()
    }
}

fn build(source: AgentCard, extras: &Extras, previous: Option<&Arc<ServedCard>>) -> ServedCard {
    let mut card = source.clone();
    crate::card_extras::apply(&mut card, extras);
    let mut value = serde_json::to_value(&card).unwrap_or(Value::Null);
    // 0.3 clients find the endpoint through `url`; 1.0 clients ignore these fields.
    let legacy = card
        .supported_interfaces
        .iter()
        .find(|i| i.protocol_binding == BINDING_JSONRPC);
    if let (Some(obj), Some(iface)) = (value.as_object_mut(), legacy) {
        obj.insert("url".into(), Value::String(iface.url.clone()));
        obj.insert("preferredTransport".into(), BINDING_JSONRPC.into());
        obj.insert(
            "protocolVersion".into(),
            format!("{LEGACY_PROTOCOL_VERSION}.0").into(),
        );
    }
    let body = value.to_string();
    let digest = Sha256::digest(body.as_bytes());
    let etag = format!("\"{}\"", hex::encode(&digest[..12]));
    let last_modified = match previous {
        Some(p) if p.etag == etag => p.last_modified,
        _ => truncate_to_seconds(Utc::now()),
    };
    ServedCard {
        card: Arc::new(card),
        source,
        body,
        etag,
        last_modified,
    }
}

fn truncate_to_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}
