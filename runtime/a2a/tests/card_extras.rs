//! The extended agent card (`GetExtendedAgentCard` on JSON-RPC and `GET /extendedAgentCard`,
//! authenticated, with what the operator configured) and the security declaration on the card
//! (the HTTP bearer scheme and requirement present exactly while an inbound secret is set).

mod common;

use common::{rpc, spawn, Setup};
use molecule_a2a::types::AgentSkill;
use molecule_a2a::ExtendedCard;
use serde_json::{json, Value};

async fn public_card(url: &str) -> Value {
    reqwest::get(format!("{url}/.well-known/agent-card.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn extended() -> ExtendedCard {
    ExtendedCard {
        description: Some("Echo agent, with the admin skills".into()),
        skills: vec![AgentSkill {
            id: "admin".into(),
            name: "Admin".into(),
            description: "Operator-only tools".into(),
            tags: vec!["ops".into()],
            examples: None,
            input_modes: None,
            output_modes: None,
            security_requirements: None,
        }],
    }
}

#[tokio::test]
async fn extended_card_not_configured_is_32007() {
    let s = spawn(Setup::default()).await;
    let (_, v) = rpc(&s.url, Some("1.0"), "GetExtendedAgentCard", json!({})).await;
    assert_eq!(v["error"]["code"], -32007, "{v}");
    assert_eq!(
        v["error"]["data"][0]["reason"],
        "EXTENDED_AGENT_CARD_NOT_CONFIGURED"
    );
    let card = public_card(&s.url).await;
    assert_ne!(card["capabilities"]["extendedAgentCard"], true);
}

#[tokio::test]
async fn extended_card_served_to_authenticated_callers_on_both_bindings() {
    let s = spawn(Setup {
        secret: Some("s3cret".into()),
        ..Setup::default()
    })
    .await;
    let server = s.server.clone().with_extended_card(Some(extended()));
    assert_eq!(
        public_card(&s.url).await["capabilities"]["extendedAgentCard"],
        true
    );
    let http = reqwest::Client::new();
    // Without the bearer: 401 on both bindings.
    let r = http
        .get(format!("{}/extendedAgentCard", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{}/", s.url))
        .header("A2A-Version", "1.0")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "GetExtendedAgentCard"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // With it: the public card plus the configured description and skill.
    let rest: Value = http
        .get(format!("{}/extendedAgentCard", s.url))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["description"], "Echo agent, with the admin skills");
    let ids: Vec<&str> = rest["skills"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["echo", "admin"]);
    let rpc_card: Value = http
        .post(format!("{}/", s.url))
        .header("A2A-Version", "1.0")
        .bearer_auth("s3cret")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "GetExtendedAgentCard"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rpc_card["result"], rest);
    // Unconfigured again: the capability goes.
    let _ = server.with_extended_card(None);
    assert_ne!(
        public_card(&s.url).await["capabilities"]["extendedAgentCard"],
        true
    );
}

#[tokio::test]
async fn bearer_declared_iff_a_secret_is_set() {
    let open = spawn(Setup::default()).await;
    let card = public_card(&open.url).await;
    assert!(card.get("securitySchemes").is_none(), "{card}");
    assert!(card.get("securityRequirements").is_none(), "{card}");

    let closed = spawn(Setup {
        secret: Some("s3cret".into()),
        ..Setup::default()
    })
    .await;
    let card = public_card(&closed.url).await;
    let description = "`Authorization: Bearer <a2a.inbound_secret>` on every A2A call";
    // The 1.0 card: the 1.0 `SecurityScheme` one-of only.
    assert_eq!(
        closed.server.card().json_v1()["securitySchemes"]["bearer"],
        json!({"httpAuthSecurityScheme": {"scheme": "Bearer", "description": description}})
    );
    // The merged card (no version: 0.3 clients) adds the 0.3 members, as the SDK's merge does.
    assert_eq!(
        card["securitySchemes"]["bearer"],
        json!({"httpAuthSecurityScheme": {"scheme": "Bearer", "description": description},
               "type": "http", "scheme": "Bearer", "description": description})
    );
    assert_eq!(card["security"], json!([{"bearer": []}]));
    // The 1.0 proto JSON of `SecurityRequirement {map<string, StringList> schemes}`.
    assert_eq!(
        card["securityRequirements"],
        json!([{"schemes": {"bearer": {"list": []}}}])
    );
    // Every interface is behind the same check: a call on each binding without it is 401.
    for iface in card["supportedInterfaces"].as_array().unwrap() {
        let url = iface["url"].as_str().unwrap();
        let r = reqwest::Client::new()
            .get(format!("{url}/tasks"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{iface}");
    }
    // Removing the secret removes the declaration.
    closed.server.set_bearer_secret(None);
    let card = public_card(&closed.url).await;
    assert!(card.get("securitySchemes").is_none(), "{card}");
    assert!(card.get("securityRequirements").is_none(), "{card}");
    assert!(card.get("security").is_none(), "{card}");
}
