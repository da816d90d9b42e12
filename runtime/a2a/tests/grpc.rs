//! The gRPC binding (grpc/) driven by the generated tonic client: send, stream, get, list,
//! cancel, subscribe, errors with their gRPC codes and `ErrorInfo` details, bearer auth and
//! the `a2a-version` metadata.

mod common;

use std::time::Duration;

use common::{spawn, Setup, TestServer};
use futures::StreamExt;
use molecule_a2a::grpc::pb::{self, a2a_service_client::A2aServiceClient};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt as _;

/// The HTTP server of [`spawn`] plus the gRPC binding on a port of its own; both stop when
/// this is dropped.
struct GrpcServer {
    http: TestServer,
    target: String,
    _stop: oneshot::Sender<()>,
}

async fn spawn_grpc(setup: Setup) -> GrpcServer {
    let http = spawn(setup).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let (tx, rx) = oneshot::channel::<()>();
    let server = http.server.clone();
    tokio::spawn(async move {
        let _ = server
            .serve_grpc(listener, async move {
                let _ = rx.await;
            })
            .await;
    });
    GrpcServer {
        http,
        target: addr.to_string(),
        _stop: tx,
    }
}

async fn client(target: &str) -> A2aServiceClient<Channel> {
    let channel = Channel::from_shared(format!("http://{target}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    A2aServiceClient::new(channel)
}

fn user_message(text: &str) -> pb::Message {
    pb::Message {
        message_id: molecule_a2a::types::new_id(),
        role: pb::Role::User as i32,
        parts: vec![pb::Part {
            content: Some(pb::part::Content::Text(text.into())),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn send(text: &str) -> pb::SendMessageRequest {
    pb::SendMessageRequest {
        message: Some(user_message(text)),
        ..Default::default()
    }
}

fn task_of(resp: pb::SendMessageResponse) -> pb::Task {
    match resp.payload {
        Some(pb::send_message_response::Payload::Task(t)) => t,
        other => panic!("expected a task, got {other:?}"),
    }
}

fn state(t: &pb::Task) -> pb::TaskState {
    t.status
        .as_ref()
        .and_then(|s| pb::TaskState::try_from(s.state).ok())
        .unwrap_or(pb::TaskState::Unspecified)
}

fn text_of(parts: &[pb::Part]) -> String {
    parts
        .iter()
        .filter_map(|p| match &p.content {
            Some(pb::part::Content::Text(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

/// Asserts `st` has `code` and one ErrorInfo with `reason` in the A2A domain.
fn assert_status(st: &Status, code: Code, reason: &str) {
    assert_eq!(st.code(), code, "{st:?}");
    let info = st.get_details_error_info().expect("ErrorInfo detail");
    assert_eq!(info.reason, reason, "{st:?}");
    assert_eq!(info.domain, "a2a-protocol.org");
}

#[tokio::test]
async fn send_get_list_and_cancel() {
    let s = spawn_grpc(Setup::default()).await;
    let mut c = client(&s.target).await;
    let t = task_of(
        c.send_message(send("hello"))
            .await
            .expect("send")
            .into_inner(),
    );
    assert_eq!(state(&t), pb::TaskState::Completed, "{t:?}");
    assert_eq!(text_of(&t.artifacts[0].parts), "echo: hello");
    assert_eq!(t.history.len(), 2);
    // GetTask with history_length.
    let g = c
        .get_task(pb::GetTaskRequest {
            id: t.id.clone(),
            history_length: Some(1),
            ..Default::default()
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(g.history.len(), 1);
    assert_eq!(g.history[0].role, pb::Role::Agent as i32);
    // A second task in its own context; ListTasks filtered by context.
    let other = task_of(
        c.send_message(send("other"))
            .await
            .expect("send")
            .into_inner(),
    );
    let l = c
        .list_tasks(pb::ListTasksRequest {
            context_id: other.context_id.clone(),
            include_artifacts: Some(true),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(l.tasks.len(), 1, "{l:?}");
    assert_eq!(l.tasks[0].id, other.id);
    assert_eq!(l.total_size, 1);
    assert_eq!(text_of(&l.tasks[0].artifacts[0].parts), "echo: other");
    // Cancel a running task; a completed one cannot be canceled.
    let mut req = send("gated x");
    req.configuration = Some(pb::SendMessageConfiguration {
        return_immediately: true,
        ..Default::default()
    });
    let running = task_of(c.send_message(req).await.expect("send").into_inner());
    let canceled = c
        .cancel_task(pb::CancelTaskRequest {
            id: running.id.clone(),
            ..Default::default()
        })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(state(&canceled), pb::TaskState::Canceled);
    let err = c
        .cancel_task(pb::CancelTaskRequest {
            id: t.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("completed task");
    assert_status(&err, Code::FailedPrecondition, "TASK_NOT_CANCELABLE");
}

#[tokio::test]
async fn streams_send_and_subscribe() {
    let s = spawn_grpc(Setup::default()).await;
    let mut c = client(&s.target).await;
    let mut events = c
        .send_streaming_message(send("hello"))
        .await
        .expect("stream")
        .into_inner();
    let mut seen = Vec::new();
    while let Some(ev) = events.next().await {
        seen.push(ev.expect("event").payload.expect("payload"));
    }
    use pb::stream_response::Payload;
    assert!(matches!(seen.first(), Some(Payload::Task(_))), "{seen:?}");
    assert!(seen.iter().any(|p| matches!(p, Payload::ArtifactUpdate(_))));
    match seen.last() {
        Some(Payload::StatusUpdate(u)) => {
            assert_eq!(
                u.status.as_ref().map(|s| s.state),
                Some(pb::TaskState::Completed as i32)
            );
        }
        other => panic!("last event {other:?}"),
    }
    // Subscribe to a running task and follow it to the end.
    let mut req = send("gated y");
    req.configuration = Some(pb::SendMessageConfiguration {
        return_immediately: true,
        ..Default::default()
    });
    let running = task_of(c.send_message(req).await.expect("send").into_inner());
    let mut sub = c
        .subscribe_to_task(pb::SubscribeToTaskRequest {
            id: running.id.clone(),
            ..Default::default()
        })
        .await
        .expect("subscribe")
        .into_inner();
    let first = sub.next().await.expect("snapshot").expect("event");
    assert!(matches!(first.payload, Some(Payload::Task(ref t)) if t.id == running.id));
    s.http.executor.release();
    let mut last = None;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("stream ends")
    {
        last = ev.expect("event").payload;
    }
    match last {
        Some(Payload::StatusUpdate(u)) => assert_eq!(
            u.status.map(|s| s.state),
            Some(pb::TaskState::Completed as i32)
        ),
        other => panic!("last event {other:?}"),
    }
    // Subscribing to a finished task is refused as on the other bindings.
    let err = c
        .subscribe_to_task(pb::SubscribeToTaskRequest {
            id: running.id,
            ..Default::default()
        })
        .await
        .expect_err("terminal task");
    assert_status(&err, Code::FailedPrecondition, "UNSUPPORTED_OPERATION");
}

#[tokio::test]
async fn errors_have_codes_and_error_info() {
    let s = spawn_grpc(Setup::default()).await;
    let mut c = client(&s.target).await;
    let err = c
        .get_task(pb::GetTaskRequest {
            id: "no-such-task".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown task");
    assert_status(&err, Code::NotFound, "TASK_NOT_FOUND");
    assert!(err.message().contains("no-such-task"), "{err:?}");
    // No message: the same validation as JSON-RPC (-32602) answers INVALID_ARGUMENT.
    let err = c
        .send_message(pb::SendMessageRequest::default())
        .await
        .expect_err("no message");
    assert_status(&err, Code::InvalidArgument, "INVALID_PARAMS");
    let err = c
        .list_tasks(pb::ListTasksRequest {
            page_size: Some(500),
            ..Default::default()
        })
        .await
        .expect_err("page size");
    assert_status(&err, Code::InvalidArgument, "INVALID_PARAMS");
    assert!(err.message().contains("`pageSize`"), "{err:?}");
    let err = c
        .get_extended_agent_card(pb::GetExtendedAgentCardRequest::default())
        .await
        .expect_err("no extended card");
    assert_status(
        &err,
        Code::FailedPrecondition,
        "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
    );
    // a2a-version: 1.0 is served, 0.3 is not (0.3's gRPC is another proto package).
    let mut req = Request::new(pb::ListTasksRequest::default());
    req.metadata_mut()
        .insert("a2a-version", "1.0".parse().expect("ascii"));
    c.list_tasks(req).await.expect("1.0");
    let mut req = Request::new(pb::ListTasksRequest::default());
    req.metadata_mut()
        .insert("a2a-version", "0.3".parse().expect("ascii"));
    let err = c.list_tasks(req).await.expect_err("0.3");
    assert_status(&err, Code::FailedPrecondition, "VERSION_NOT_SUPPORTED");
}

#[tokio::test]
async fn bearer_auth_applies() {
    let s = spawn_grpc(Setup {
        secret: Some("s3cret".into()),
        ..Setup::default()
    })
    .await;
    let mut c = client(&s.target).await;
    let err = c.send_message(send("hello")).await.expect_err("no token");
    assert_status(&err, Code::Unauthenticated, "UNAUTHENTICATED");
    let mut req = Request::new(send("hello"));
    req.metadata_mut()
        .insert("authorization", "Bearer wrong".parse().expect("ascii"));
    let err = c.send_message(req).await.expect_err("wrong token");
    assert_status(&err, Code::Unauthenticated, "UNAUTHENTICATED");
    let mut req = Request::new(send("hello"));
    req.metadata_mut()
        .insert("authorization", "bearer s3cret".parse().expect("ascii"));
    let t = task_of(c.send_message(req).await.expect("authorized").into_inner());
    assert_eq!(state(&t), pb::TaskState::Completed);
}

#[test]
fn interface_names_the_grpc_binding() {
    let i = molecule_a2a::grpc::interface("127.0.0.1:50051");
    assert_eq!(i.protocol_binding, "GRPC");
    assert_eq!(i.protocol_version, "1.0");
    assert_eq!(i.url, "127.0.0.1:50051");
}
