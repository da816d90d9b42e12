//! The gRPC binding served by the real binary (`a2a.grpc_port`): the card lists the GRPC
//! interface, the generated tonic client sends a message behind the inbound bearer, and the
//! push-config and extended-card calls answer over gRPC.

#![cfg(unix)]

use std::process::Command;
use std::time::{Duration, Instant};

use molecule_a2a::grpc::pb::{self, a2a_service_client::A2aServiceClient};
use serde_json::Value;
use tonic::transport::Channel;
use tonic::{Code, Request};

mod common;
use common::repo;
use common::server::start;

const SECRET: &str = "grpc-test-secret";

fn authed<T>(msg: T) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {SECRET}").parse().unwrap());
    req
}

fn user_message(text: &str) -> pb::Message {
    pb::Message {
        message_id: format!("m-{text}"),
        role: pb::Role::User as i32,
        parts: vec![pb::Part {
            content: Some(pb::part::Content::Text(text.into())),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_port_serves_the_binding_listed_on_the_card() {
    let dir = tempfile::tempdir().unwrap();
    let adapter = repo().join("tests/guests/echo-adapter");
    let yaml = format!(
        "name: Grpc\nruntime: {}\nmodel: scripted:reply\n\
         a2a:\n  grpc_port: 0\n  inbound_secret: {SECRET}\n  push_notifications: true\n  \
         push: {{allow_hosts: [127.0.0.1]}}\n  \
         extended_card: {{description: extended over grpc, skills: [{{id: secret-skill}}]}}\n",
        adapter.display()
    );
    std::fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    std::fs::write(
        dir.path().join("model-script.yaml"),
        "turns:\n  - text: \"ok\"\n",
    )
    .unwrap();
    let (mut server, port) = start(dir.path());

    // The card lists the gRPC interface at the card URL's host.
    let card: Value = reqwest::get(format!(
        "http://127.0.0.1:{port}/.well-known/agent-card.json"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let grpc = card["supportedInterfaces"]
        .as_array()
        .expect("interfaces")
        .iter()
        .find(|i| i["protocolBinding"] == "GRPC")
        .unwrap_or_else(|| panic!("no GRPC interface: {card}"));
    let target = grpc["url"].as_str().unwrap().to_string();
    assert!(target.starts_with("127.0.0.1:"), "{target}");
    assert_ne!(target, format!("127.0.0.1:{port}"), "a port of its own");
    assert_eq!(grpc["protocolVersion"], "1.0");

    let channel = Channel::from_shared(format!("http://{target}"))
        .unwrap()
        .connect()
        .await
        .expect("connect to the gRPC port");
    let mut client = A2aServiceClient::new(channel);

    // The inbound bearer guards gRPC too.
    let send = || pb::SendMessageRequest {
        message: Some(user_message("plain echo")),
        ..Default::default()
    };
    let denied = client.send_message(Request::new(send())).await.unwrap_err();
    assert_eq!(denied.code(), Code::Unauthenticated, "{denied:?}");

    let resp = client
        .send_message(authed(send()))
        .await
        .expect("SendMessage over gRPC")
        .into_inner();
    let task = match resp.payload {
        Some(pb::send_message_response::Payload::Task(t)) => t,
        other => panic!("expected a task, got {other:?}"),
    };
    let state = task.status.as_ref().map(|s| s.state);
    assert_eq!(state, Some(pb::TaskState::Completed as i32), "{task:?}");
    assert!(!task.artifacts.is_empty(), "{task:?}");

    // Push-config operations over gRPC.
    let created = client
        .create_task_push_notification_config(authed(pb::TaskPushNotificationConfig {
            task_id: task.id.clone(),
            url: "http://127.0.0.1:9/hook".into(),
            token: "tok".into(),
            ..Default::default()
        }))
        .await
        .expect("CreateTaskPushNotificationConfig")
        .into_inner();
    assert_eq!(created.task_id, task.id);
    assert!(!created.id.is_empty());
    let got = client
        .get_task_push_notification_config(authed(pb::GetTaskPushNotificationConfigRequest {
            task_id: task.id.clone(),
            id: created.id.clone(),
            ..Default::default()
        }))
        .await
        .expect("GetTaskPushNotificationConfig")
        .into_inner();
    assert_eq!(got.url, "http://127.0.0.1:9/hook");
    assert_eq!(got.token, "tok");
    let listed = client
        .list_task_push_notification_configs(authed(pb::ListTaskPushNotificationConfigsRequest {
            task_id: task.id.clone(),
            ..Default::default()
        }))
        .await
        .expect("ListTaskPushNotificationConfigs")
        .into_inner();
    assert_eq!(listed.configs.len(), 1);
    client
        .delete_task_push_notification_config(authed(pb::DeleteTaskPushNotificationConfigRequest {
            task_id: task.id.clone(),
            id: created.id.clone(),
            ..Default::default()
        }))
        .await
        .expect("DeleteTaskPushNotificationConfig");
    let gone = client
        .get_task_push_notification_config(authed(pb::GetTaskPushNotificationConfigRequest {
            task_id: task.id.clone(),
            id: created.id,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");

    // The extended card over gRPC, authenticated only.
    let ext = client
        .get_extended_agent_card(authed(pb::GetExtendedAgentCardRequest::default()))
        .await
        .expect("GetExtendedAgentCard")
        .into_inner();
    assert_eq!(ext.description, "extended over grpc");
    assert!(ext.skills.iter().any(|s| s.id == "secret-skill"), "{ext:?}");
    let denied = client
        .get_extended_agent_card(Request::new(pb::GetExtendedAgentCardRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::Unauthenticated);

    // Graceful shutdown takes the gRPC listener down with the rest and exits 0.
    drop(client);
    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM failed");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit within 60 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(
        std::net::TcpStream::connect(&target).is_err(),
        "the gRPC port still accepts after shutdown"
    );
}
