//! A gRPC stream whose client stops reading (grpc/slow.rs): the server keeps at most
//! `GRPC_STREAM_BUFFER` of its events waiting and ends the stream with `RESOURCE_EXHAUSTED`
//! once the client has taken nothing for `body_timeout`, instead of queueing every event the
//! task produces for as long as the client keeps the stream open.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::card;
use futures::StreamExt;
use molecule_a2a::grpc::pb::{self, a2a_service_client::A2aServiceClient};
use molecule_a2a::types::{Artifact, Part, TaskState};
use molecule_a2a::{
    A2aServer, AgentExecutor, CardHandle, EventSink, RequestContext, Retention, ServeOptions,
    TaskStore,
};
use tokio::sync::oneshot;
use tonic::transport::Endpoint;
use tonic::Code;

/// Artifact chunks the executor sends, of [`CHUNK`] bytes each: 6.4 MB in all, far more than
/// the client's 64 KiB flow-control window and the server's send buffers.
const CHUNKS: usize = 400;
const CHUNK: usize = 16 * 1024;

/// Answers every message with [`CHUNKS`] artifacts, then completes.
struct Chatty;

#[async_trait::async_trait]
impl AgentExecutor for Chatty {
    async fn execute(&self, _ctx: RequestContext, events: EventSink) -> Result<(), String> {
        events
            .status(TaskState::Working, None)
            .map_err(|e| e.to_string())?;
        for i in 0..CHUNKS {
            let art = Artifact {
                artifact_id: format!("a{i}"),
                name: None,
                description: None,
                parts: vec![Part::text("x".repeat(CHUNK))],
                metadata: None,
                extensions: None,
            };
            events
                .artifact(art, false, true)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn cancel(&self, _task_id: &str) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test]
async fn a_stream_the_client_stops_reading_is_ended() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("addr");
    let store = TaskStore::in_memory(Retention::default()).expect("store");
    let server = A2aServer::new(
        CardHandle::new(card(&format!("http://{addr}"), true)),
        Arc::new(Chatty),
        store,
    )
    .with_serve_options(ServeOptions {
        body_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let s2 = server.clone();
    tokio::spawn(async move {
        let _ = s2
            .serve_grpc(listener, async move {
                let _ = stopped.await;
            })
            .await;
    });
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .expect("connect");
    let mut c = A2aServiceClient::new(channel);
    let req = pb::SendMessageRequest {
        message: Some(pb::Message {
            message_id: molecule_a2a::types::new_id(),
            role: pb::Role::User as i32,
            parts: vec![pb::Part {
                content: Some(pb::part::Content::Text("go".into())),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut stream = c
        .send_streaming_message(req)
        .await
        .expect("stream opened")
        .into_inner();
    // Read nothing while the task runs to its end, and for a while after (well past the
    // 300 ms the server waits for a reader).
    for _ in 0..600 {
        if server.active_tasks() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.active_tasks(), 0, "the task finished");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut artifacts = 0;
    let mut end = None;
    while let Some(item) = tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("the stream moves")
    {
        match item {
            Ok(pb::StreamResponse {
                payload: Some(pb::stream_response::Payload::ArtifactUpdate(_)),
            }) => artifacts += 1,
            Ok(_) => {}
            Err(st) => {
                end = Some(st);
                break;
            }
        }
    }
    let end = end.expect("the stream ends with an error, not the whole task");
    assert_eq!(end.code(), Code::ResourceExhausted, "{end:?}");
    assert!(end.message().contains("body_timeout"), "{end:?}");
    assert!(
        artifacts < CHUNKS,
        "events past the buffers were dropped, got {artifacts}"
    );
    let _ = stop.send(());
}
