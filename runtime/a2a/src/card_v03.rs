//! The merged agent card: the 1.0 card JSON plus the A2A 0.3 fields 0.3 clients read, added
//! the way the reference a2a-python 1.3.0 server does (`agent_card_to_dict`: the 0.3 card
//! from `to_compat_agent_card` merged into the 1.0 dict, a key never replacing one the 1.0
//! card has). Served at the well-known path to requests without a 1.x version and answered to
//! 0.3 `agent/getAuthenticatedExtendedCard`; never part of the pure 1.0 card.
//!
//! The 0.3 fields: `url`, `preferredTransport`, `protocolVersion` (from the 0.3 JSON-RPC
//! interface, else the first JSON-RPC one), `supportsAuthenticatedExtendedCard` (only when `capabilities.extendedAgentCard`
//! is true, as the SDK drops a `false`), `security` (the 0.3 form of `securityRequirements`:
//! `[{"bearer": []}]`) and, inside each `securitySchemes` entry, the 0.3 `SecurityScheme`
//! members next to the 1.0 one-of (`{"httpAuthSecurityScheme": {…}, "type": "http",
//! "scheme": "Bearer"}`), so a 0.3 parser finds its discriminator and a 1.0 parser its one-of.

use serde_json::{Map, Value};

use crate::types::{BINDING_JSONRPC, LEGACY_PROTOCOL_VERSION};

/// Top-level members the merged card adds to the 1.0 card (a signature covers the 1.0 form,
/// so a verifier leaves them out).
pub(crate) const TOP_LEVEL: [&str; 6] = [
    "url",
    "preferredTransport",
    "protocolVersion",
    "additionalInterfaces",
    "security",
    "supportsAuthenticatedExtendedCard",
];

/// Members of a 1.0 `SecurityScheme` (its one-of); any other member of a `securitySchemes`
/// entry is a 0.3 field of the merged card.
pub(crate) const SCHEME_ONE_OF: [&str; 5] = [
    "apiKeySecurityScheme",
    "httpAuthSecurityScheme",
    "oauth2SecurityScheme",
    "openIdConnectSecurityScheme",
    "mtlsSecurityScheme",
];

/// Adds the 0.3 fields to the 1.0 card JSON `card` (see the module header). A card without a
/// JSON-RPC interface gets no `url`/`preferredTransport`/`protocolVersion` (a 0.3 client
/// could not call it); the other fields are added either way.
pub(crate) fn merge(card: &mut Value) {
    let Some(obj) = card.as_object_mut() else {
        return;
    };
    let url = obj
        .get("supportedInterfaces")
        .and_then(Value::as_array)
        .and_then(|ifaces| {
            let jsonrpc = |i: &&Value| {
                i.get("protocolBinding").and_then(Value::as_str) == Some(BINDING_JSONRPC)
            };
            let legacy = |i: &&Value| {
                i.get("protocolVersion")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.starts_with(LEGACY_PROTOCOL_VERSION))
            };
            // The 0.3 JSON-RPC interface when listed (as the SDK picks it), else the first.
            ifaces
                .iter()
                .filter(jsonrpc)
                .find(legacy)
                .or_else(|| ifaces.iter().find(jsonrpc))
        })
        .and_then(|i| i.get("url").cloned());
    let mut add = |key: &str, value: Value| {
        obj.entry(key.to_string()).or_insert(value);
    };
    if let Some(url) = url {
        add("url", url);
        add("preferredTransport", BINDING_JSONRPC.into());
        add(
            "protocolVersion",
            format!("{LEGACY_PROTOCOL_VERSION}.0").into(),
        );
    }
    let extended = obj
        .get("capabilities")
        .and_then(|c| c.get("extendedAgentCard"))
        .and_then(Value::as_bool)
        == Some(true);
    if extended {
        obj.entry("supportsAuthenticatedExtendedCard")
            .or_insert(Value::Bool(true));
    }
    if let Some(reqs) = obj.get("securityRequirements").and_then(Value::as_array) {
        let security: Vec<Value> = reqs.iter().map(requirement_to_v03).collect();
        if !security.is_empty() {
            obj.entry("security").or_insert(Value::Array(security));
        }
    }
    if let Some(Value::Object(schemes)) = obj.get_mut("securitySchemes") {
        for scheme in schemes.values_mut() {
            if let Value::Object(s) = scheme {
                for (k, v) in scheme_to_v03(s) {
                    s.entry(k).or_insert(v);
                }
            }
        }
    }
}

/// A 1.0 `SecurityRequirement` (`{"schemes": {"bearer": {"list": []}}}`) in its 0.3 form
/// (`{"bearer": []}`).
fn requirement_to_v03(req: &Value) -> Value {
    let mut out = Map::new();
    if let Some(schemes) = req.get("schemes").and_then(Value::as_object) {
        for (name, scopes) in schemes {
            let list = scopes
                .get("list")
                .cloned()
                .unwrap_or(Value::Array(Vec::new()));
            out.insert(name.clone(), list);
        }
    }
    Value::Object(out)
}

/// The 0.3 `SecurityScheme` members of a 1.0 `SecurityScheme` object (as the SDK's
/// `to_compat_security_scheme`): `type` and the fields of the one-of member that is set.
fn scheme_to_v03(s: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let copy = |out: &mut Map<String, Value>, inner: &Value, from: &str, to: &str| {
        if let Some(v) = inner.get(from).filter(|v| !is_empty(v)) {
            out.insert(to.to_string(), v.clone());
        }
    };
    if let Some(i) = s.get("httpAuthSecurityScheme") {
        out.insert("type".into(), "http".into());
        copy(&mut out, i, "scheme", "scheme");
        copy(&mut out, i, "bearerFormat", "bearerFormat");
        copy(&mut out, i, "description", "description");
    } else if let Some(i) = s.get("apiKeySecurityScheme") {
        out.insert("type".into(), "apiKey".into());
        copy(&mut out, i, "location", "in");
        copy(&mut out, i, "name", "name");
        copy(&mut out, i, "description", "description");
    } else if let Some(i) = s.get("oauth2SecurityScheme") {
        out.insert("type".into(), "oauth2".into());
        copy(&mut out, i, "flows", "flows");
        copy(&mut out, i, "oauth2MetadataUrl", "oauth2MetadataUrl");
        copy(&mut out, i, "description", "description");
    } else if let Some(i) = s.get("openIdConnectSecurityScheme") {
        out.insert("type".into(), "openIdConnect".into());
        copy(&mut out, i, "openIdConnectUrl", "openIdConnectUrl");
        copy(&mut out, i, "description", "description");
    } else if let Some(i) = s.get("mtlsSecurityScheme") {
        out.insert("type".into(), "mutualTLS".into());
        copy(&mut out, i, "description", "description");
    }
    out
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adds_the_03_fields_without_replacing_10_ones() {
        let mut card = json!({
            "name": "a",
            "supportedInterfaces": [
                {"url": "http://h/rest", "protocolBinding": "HTTP+JSON"},
                {"url": "http://h/", "protocolBinding": "JSONRPC", "protocolVersion": "0.3"}
            ],
            "capabilities": {"extendedAgentCard": true},
            "securitySchemes": {"bearer": {"httpAuthSecurityScheme": {"scheme": "Bearer"}}},
            "securityRequirements": [{"schemes": {"bearer": {"list": []}}}]
        });
        merge(&mut card);
        assert_eq!(card["url"], "http://h/");
        assert_eq!(card["preferredTransport"], "JSONRPC");
        assert_eq!(card["protocolVersion"], "0.3.0");
        assert_eq!(card["supportsAuthenticatedExtendedCard"], true);
        assert_eq!(card["security"], json!([{"bearer": []}]));
        assert_eq!(
            card["securitySchemes"]["bearer"],
            json!({"httpAuthSecurityScheme": {"scheme": "Bearer"},
                   "type": "http", "scheme": "Bearer"})
        );
    }

    #[test]
    fn no_extended_card_no_security_no_03_extras() {
        let mut card = json!({"capabilities": {"extendedAgentCard": false},
                              "supportedInterfaces": []});
        merge(&mut card);
        assert!(card.get("supportsAuthenticatedExtendedCard").is_none());
        assert!(card.get("security").is_none());
        assert!(card.get("url").is_none());
    }
}
