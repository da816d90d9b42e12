//! What an unauthenticated or hostile client can do to the gRPC port (grpc/incoming.rs,
//! grpc/admit.rs, grpc/codec.rs): silent sockets from one address cannot take every
//! connection slot (`max_connections_per_client`), a connection with no call is closed after
//! `header_timeout`, and every call is authenticated before its message is decoded.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use common::{spawn, Setup, TestServer};
use hyper_util::rt::TokioIo;
use molecule_a2a::grpc::pb::{self, a2a_service_client::A2aServiceClient};
use molecule_a2a::ServeOptions;
use prost::bytes::{Buf as _, BufMut as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::http::Uri;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};
use tonic_types::StatusExt as _;

/// Bound on every wait of these tests (a hang means the behaviour under test is missing).
const BOUND: Duration = Duration::from_secs(30);

/// The HTTP server of [`spawn`] plus the gRPC binding; both stop when this is dropped.
struct GrpcServer {
    _http: TestServer,
    addr: SocketAddr,
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
        _http: http,
        addr,
        _stop: tx,
    }
}

/// Dials from 127.0.0.2 (another client address than the tests' 127.0.0.1; the loopback /8
/// is local on Linux) and counts the connections it made.
#[derive(Clone, Default)]
struct OtherAddress(Arc<AtomicUsize>);

impl tower_service::Service<Uri> for OtherAddress {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let target: SocketAddr = format!(
                "{}:{}",
                uri.host().unwrap_or_default(),
                uri.port_u16().unwrap_or(80)
            )
            .parse()
            .map_err(std::io::Error::other)?;
            let socket = TcpSocket::new_v4()?;
            socket.bind("127.0.0.2:0".parse().expect("addr"))?;
            Ok(TokioIo::new(socket.connect(target).await?))
        })
    }
}

async fn client_from_other_address(
    addr: SocketAddr,
    dialer: OtherAddress,
) -> A2aServiceClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_with_connector(dialer)
        .await
        .expect("connect from 127.0.0.2");
    A2aServiceClient::new(channel)
}

fn send(text: &str) -> pb::SendMessageRequest {
    pb::SendMessageRequest {
        message: Some(pb::Message {
            message_id: molecule_a2a::types::new_id(),
            role: pb::Role::User as i32,
            parts: vec![pb::Part {
                content: Some(pb::part::Content::Text(text.into())),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn authorized<T>(msg: T) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().expect("ascii"));
    req
}

/// Reads (and discards) until the server closes `sock`; returns once it has.
async fn closed_by_server(mut sock: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let options = ServeOptions {
        max_connections: 8,
        max_connections_per_client: 4,
        header_timeout: Duration::from_secs(600), // only the per-client cap acts here
        ..ServeOptions::default()
    };
    let s = spawn_grpc(Setup {
        secret: Some("s3cret".into()),
        serve_options: Some(options),
        ..Setup::default()
    })
    .await;
    // 12 silent sockets from 127.0.0.1: 4 are kept, the other 8 closed at once. Without the
    // per-client cap 8 would hold every slot and nothing would be closed.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..12 {
        let sock = TcpStream::connect(s.addr).await.expect("connect");
        let tx = tx.clone();
        tokio::spawn(async move {
            closed_by_server(sock).await;
            let _ = tx.send(i);
        });
    }
    for _ in 0..8 {
        tokio::time::timeout(BOUND, rx.recv())
            .await
            .expect("sockets over the per-client cap are closed")
            .expect("sender alive");
    }
    // A call from another address is served while 127.0.0.1 holds its 4.
    let mut c = client_from_other_address(s.addr, OtherAddress::default()).await;
    let resp = tokio::time::timeout(BOUND, c.send_message(authorized(send("hello"))))
        .await
        .expect("the call is served, not left waiting for a slot")
        .expect("authorized call");
    assert!(resp.into_inner().payload.is_some());
    assert!(
        rx.try_recv().is_err(),
        "the 4 connections within the cap stay open"
    );
}

#[tokio::test]
async fn a_connection_without_a_call_is_closed_after_the_header_timeout() {
    let options = ServeOptions {
        header_timeout: Duration::from_millis(500),
        ..ServeOptions::default()
    };
    let s = spawn_grpc(Setup {
        serve_options: Some(options),
        ..Setup::default()
    })
    .await;
    // Nothing sent at all.
    let silent = TcpStream::connect(s.addr).await.expect("connect");
    tokio::time::timeout(BOUND, closed_by_server(silent))
        .await
        .expect("a silent socket is closed");
    // The HTTP/2 preface and SETTINGS, then no call.
    let mut preface = TcpStream::connect(s.addr).await.expect("connect");
    preface
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .expect("write preface");
    tokio::time::timeout(BOUND, closed_by_server(preface))
        .await
        .expect("a connection with a preface and no call is closed");
    // A connection that made a call is not held to the deadline: a second call after it has
    // passed uses the same connection.
    let dialer = OtherAddress::default();
    let mut c = client_from_other_address(s.addr, dialer.clone()).await;
    c.send_message(send("one")).await.expect("first call");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    c.send_message(send("two")).await.expect("second call");
    assert_eq!(
        dialer.0.load(Ordering::SeqCst),
        1,
        "one connection for both"
    );
}

/// Sends raw bytes as the request message and reads the reply's bytes.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

/// One unary call of `path` with `body` as its message; the error status it gets.
async fn raw_call(addr: SocketAddr, path: &'static str, body: Vec<u8>, token: bool) -> Status {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let req = if token {
        authorized(body)
    } else {
        Request::new(body)
    };
    tokio::time::timeout(BOUND, grpc.unary(req, PathAndQuery::from_static(path), Raw))
        .await
        .expect("answered")
        .expect_err("refused")
}

fn assert_reason(st: &Status, code: Code, reason: &str) {
    assert_eq!(st.code(), code, "{st:?}");
    let info = st.get_details_error_info().expect("ErrorInfo detail");
    assert_eq!(info.reason, reason, "{st:?}");
}

#[tokio::test]
async fn calls_are_authenticated_before_their_message_is_decoded() {
    let s = spawn_grpc(Setup {
        secret: Some("s3cret".into()),
        body_limit: Some(1 << 20),
        ..Setup::default()
    })
    .await;
    const GET: &str = "/lf.a2a.v1.A2AService/GetTask";
    // field 1 (id), length 5, one byte of it: not a GetTaskRequest
    let malformed = vec![0x0a, 0x05, b'a'];
    let huge = vec![0u8; 5 << 20];
    for (path, body) in [
        (GET, malformed.clone()),
        ("/lf.a2a.v1.A2AService/SendMessage", huge.clone()),
        ("/lf.a2a.v1.A2AService/NoSuchMethod", Vec::new()),
        ("/no.such.Service/Call", Vec::new()),
    ] {
        let st = raw_call(s.addr, path, body, false).await;
        assert_reason(&st, Code::Unauthenticated, "UNAUTHENTICATED");
    }
    // With the token: a message that does not decode is the caller's error.
    let st = raw_call(s.addr, GET, malformed, true).await;
    assert_reason(&st, Code::InvalidArgument, "INVALID_PARAMS");
    assert!(st.message().contains("GetTaskRequest"), "{st:?}");
    // Over the body limit: tonic's OUT_OF_RANGE naming the size and the limit.
    let st = raw_call(s.addr, "/lf.a2a.v1.A2AService/SendMessage", huge, true).await;
    assert_eq!(st.code(), Code::OutOfRange, "{st:?}");
    assert!(st.message().contains("1048576"), "{st:?}");
    let st = raw_call(
        s.addr,
        "/lf.a2a.v1.A2AService/NoSuchMethod",
        Vec::new(),
        true,
    )
    .await;
    assert_eq!(st.code(), Code::Unimplemented, "{st:?}");
}
