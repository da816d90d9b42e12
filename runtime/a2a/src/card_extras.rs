//! What the server adds to the operator's agent card from its own settings, so the card
//! declares exactly what is served and enforced: `capabilities.pushNotifications` (push
//! delivery on), `capabilities.extendedAgentCard` (an extended card configured), and the HTTP
//! bearer security scheme with its requirement when an inbound secret is set (A2A 1.0
//! §"Agent Card": `securitySchemes`, `securityRequirements`; the requirement covers every
//! interface in `supportedInterfaces`, all served behind the same check). Also the extended
//! card (`GetExtendedAgentCard`): the public card plus what the operator configured.

use std::collections::HashMap;

use serde_json::Value;

use crate::types::{AgentCard, AgentInterface, AgentSkill, HttpAuthSecurityScheme, SecurityScheme};

/// Binding name of the gRPC interface in `supportedInterfaces`.
pub const BINDING_GRPC: &str = "GRPC";

/// The `supportedInterfaces` entry of a gRPC binding served at `target`, a `host:port`
/// (a2a.proto: "For gRPC, the address should be in the format `hostname:port`"), protocol
/// version 1.0. Re-exported as `grpc::interface`.
pub fn grpc_interface(target: &str) -> AgentInterface {
    let mut i = AgentInterface::new(target.to_string(), BINDING_GRPC);
    i.protocol_version = crate::types::PROTOCOL_VERSION.to_string();
    i
}

/// Name of the bearer scheme in `securitySchemes`.
pub(crate) const BEARER_SCHEME: &str = "bearer";

/// What an operator adds to the card for authenticated callers (`a2a.extended_card`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExtendedCard {
    /// Replaces the card's `description` when set.
    pub description: Option<String>,
    /// Skills added after the public card's.
    pub skills: Vec<AgentSkill>,
}

/// The server's settings that show on the card.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extras {
    /// Push delivery is on.
    pub(crate) push: bool,
    /// An inbound bearer secret is enforced.
    pub(crate) bearer: bool,
    /// The extended card, when configured.
    pub(crate) extended: Option<ExtendedCard>,
    /// The gRPC binding's `host:port`, when served (listed in `supportedInterfaces`).
    pub(crate) grpc: Option<String>,
}

/// Writes `extras` into `card`: the capabilities, and the bearer scheme and requirement when
/// a secret is enforced (removed otherwise, so the card never claims what is not checked).
pub(crate) fn apply(card: &mut AgentCard, extras: &Extras) {
    card.capabilities.push_notifications = Some(extras.push);
    card.capabilities.extended_agent_card = extras.extended.is_some().then_some(true);
    if let Some(target) = &extras.grpc {
        card.supported_interfaces
            .retain(|i| i.protocol_binding != BINDING_GRPC);
        card.supported_interfaces.push(grpc_interface(target));
    }
    let mut schemes = card.security_schemes.take().unwrap_or_default();
    let mut requirements = card.security_requirements.take().unwrap_or_default();
    schemes.remove(BEARER_SCHEME);
    requirements.retain(|r| !r.contains_key(BEARER_SCHEME));
    if extras.bearer {
        schemes.insert(
            BEARER_SCHEME.into(),
            SecurityScheme::HttpAuth(HttpAuthSecurityScheme {
                scheme: "Bearer".into(),
                description: Some(
                    "`Authorization: Bearer <a2a.inbound_secret>` on every A2A call".into(),
                ),
                bearer_format: None,
            }),
        );
        requirements.push(HashMap::from([(BEARER_SCHEME.to_string(), Vec::new())]));
    }
    card.security_schemes = (!schemes.is_empty()).then_some(schemes);
    card.security_requirements = (!requirements.is_empty()).then_some(requirements);
}

/// The extended card as 1.0 JSON: `card` (already with its extras) with `extended` applied.
pub(crate) fn extended_json(card: &AgentCard, extended: &ExtendedCard) -> Value {
    let mut card = card.clone();
    if let Some(d) = &extended.description {
        card.description = d.clone();
    }
    for skill in &extended.skills {
        card.skills.retain(|s| s.id != skill.id);
        card.skills.push(skill.clone());
    }
    serde_json::to_value(&card).unwrap_or(Value::Null)
}
