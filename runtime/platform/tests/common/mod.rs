//! Shared helpers for the molecule-platform tests: a registration body and a client builder
//! pointed at a fake platform with millisecond retries.
#![allow(dead_code)]

use std::path::Path;

use molecule_platform::fake::FakePlatform;
use molecule_platform::{
    AgentCard, CardCapabilities, CardSkill, PlatformClient, PlatformClientBuilder, RegisterRequest,
};

/// A registration body for `id` advertising `url`.
pub fn registration(id: &str, url: &str) -> RegisterRequest {
    RegisterRequest {
        id: id.into(),
        url: url.into(),
        agent_card: AgentCard {
            name: format!("Workspace {id}"),
            description: "test workspace".into(),
            version: "1.0.0".into(),
            url: url.into(),
            skills: vec![CardSkill {
                id: "json-query".into(),
                name: "JSON query".into(),
                description: "queries JSON".into(),
                tags: vec!["json".into()],
            }],
            capabilities: CardCapabilities {
                streaming: true,
                push_notifications: true,
            },
            ..AgentCard::default()
        },
        parent_id: None,
    }
}

/// A builder for `id` on `fake` with fast retries, token file in `dir`.
pub fn builder(fake: &FakePlatform, id: &str, dir: &Path) -> PlatformClientBuilder {
    PlatformClient::builder(fake.url(), id)
        .configs_dir(dir)
        .fast_retries()
}

/// A registered client for `id`.
pub async fn registered(fake: &FakePlatform, id: &str, dir: &Path) -> PlatformClient {
    let c = builder(fake, id, dir).build().expect("client");
    c.register(&registration(id, &format!("http://{id}.invalid/")))
        .await
        .expect("register");
    c
}
