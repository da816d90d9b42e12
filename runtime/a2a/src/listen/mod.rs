//! Serving a router over HTTP/1.1 with the limits a server exposed to any client needs: at
//! most [`ServeOptions::max_connections`] connections at once (further clients wait in the
//! listen backlog), and deadlines for a request's headers, its body, and an idle keep-alive
//! connection, so a client that trickles bytes, or sends nothing, cannot hold a connection
//! forever. How the deadlines are kept is in `timed.rs`. Shutdown stops accepting, asks every
//! connection to finish its in-flight request and close, and returns once all have.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_service::Service as _;

pub(crate) mod clients;
mod timed;

use clients::{ClientSlot, Clients};
pub(crate) use timed::BodyTimedOut;
use timed::{Phase, TimedBody, TimedIo, Tracked};

/// The connection limits and timeouts of [`serve`]. Every duration must be above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// Time allowed for a request's headers, from their first byte (default 10 s). A client
    /// that has not sent them all by then has its connection closed. On the gRPC port: the
    /// time from the accept to the connection's first call (`grpc/incoming.rs`).
    pub header_timeout: Duration,
    /// Time allowed for a request's whole body, from when its headers were read (default
    /// 30 s). A body still arriving then is answered HTTP 408 and the connection closed.
    /// Also how long a client may read none of a response (then the connection is closed;
    /// on the gRPC port the stream ends with `RESOURCE_EXHAUSTED`: `grpc/slow.rs`).
    pub body_timeout: Duration,
    /// How long a connection may stay open with no request in progress, before its first
    /// request or between keep-alive requests (default 75 s, longer than the 60 s idle
    /// timeout of common load balancers, so they close first).
    pub idle_timeout: Duration,
    /// Connections open at once (default 1024). Past it, new connections are not accepted
    /// until one closes; they wait in the kernel's listen backlog.
    pub max_connections: usize,
    /// Connections open at once from one client IP address (default 64), so one address
    /// cannot take every slot. Past it, that address's new connections are closed at once.
    /// The gRPC port applies it too, counting its own connections.
    pub max_connections_per_client: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_connections: 1024,
            max_connections_per_client: 64,
        }
    }
}

/// Serves `router` on `listener` with `options` until `shutdown` resolves, then stops
/// accepting, lets each connection finish its in-flight request, and returns once every
/// connection is closed (a caller with long-lived streams ends them in `shutdown`).
///
/// Errors: none once listening; a failed accept (for example too many open files) is logged
/// and retried after a short pause.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let clients = Clients::new(options.max_connections_per_client.max(1));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match clients.admit(peer.ip()) {
                    Some(client) => (stream, client),
                    None => {
                        tracing::debug!(client = %peer.ip(), "a2a server: client at its connection cap; closing");
                        continue;
                    }
                },
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        spawn_connection(stream, router.clone(), options, &graceful, (slot, client));
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Serves `router` on `stream` (HTTP/1.1, keep-alive) under the deadlines of `options`, on a
/// task of its own that holds `slot` (and the client's count) until the connection closes.
fn spawn_connection(
    stream: TcpStream,
    router: Router,
    options: ServeOptions,
    graceful: &GracefulShutdown,
    slot: (OwnedSemaphorePermit, ClientSlot),
) {
    let _ = stream.set_nodelay(true);
    let phase = Phase::new(options.header_timeout, options.idle_timeout);
    let io = TokioIo::new(TimedIo::new(stream, phase.clone(), options.body_timeout));
    let body_timeout = options.body_timeout;
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let request = phase.request_started();
        let req = req.map(|b| Body::new(TimedBody::new(b, body_timeout)));
        // A Router is always ready (its `poll_ready` returns at once), so it is called
        // without waiting for readiness, as axum's own server does.
        let answer = router.clone().call(req);
        async move {
            let resp = answer.await?;
            Ok::<_, Infallible>(resp.map(|inner| {
                Body::new(Tracked {
                    inner,
                    _request: request,
                })
            }))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "a2a connection ended with an error");
        }
        drop(slot);
    });
}

/// Logs a failed accept; pauses on errors of the listener itself (such as running out of
/// file descriptors), not on those of one client's connection.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind as K;
    if matches!(
        e.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::ConnectionRefused | K::Interrupted
    ) {
        return;
    }
    tracing::warn!(error = %e, "a2a server: accepting a connection failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
