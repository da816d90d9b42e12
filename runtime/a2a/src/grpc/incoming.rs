//! The gRPC listener's connections under the same limits as the A2A port's (`listen/`):
//!
//! - at most `ServeOptions::max_connections` open at once (config.yaml
//!   `a2a.max_connections`, default 1024): a connection is accepted only once a permit is
//!   free and gives it back when it closes, so past the cap new connections wait in the
//!   kernel's listen backlog;
//! - at most `ServeOptions::max_connections_per_client` from one client IP address
//!   (`a2a.max_connections_per_client`, default 64; counted by `listen::clients`, separately
//!   from the HTTP port's): past it, that address's new connections are closed at once, so
//!   one address cannot take every slot;
//! - a handshake deadline of `ServeOptions::header_timeout` (default 10 s) from the accept:
//!   a connection on which no request has arrived by then (no HTTP/2 preface, or a preface
//!   and no call) is closed, so silent sockets do not hold slots. Once a call has arrived
//!   (`admit.rs` marks it through [`ConnInfo`]) the connection has no such deadline; a dead
//!   peer is found by HTTP/2 PINGs (`serve_grpc`).
//!
//! Each accepted socket gets `TCP_NODELAY`.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tonic::transport::server::Connected;

use crate::listen::clients::{ClientSlot, Clients};
use crate::listen::ServeOptions;

/// One accepted connection holding a permit of the cap and its client's count until it is
/// dropped, with its handshake deadline until a request arrives.
pub(super) struct Capped {
    io: TcpStream,
    info: ConnInfo,
    /// Fires `header_timeout` after the accept; `None` once a request has arrived.
    deadline: Option<Pin<Box<Sleep>>>,
    header_timeout: Duration,
    _permit: OwnedSemaphorePermit,
    _client: ClientSlot,
}

/// What tonic puts in each request's extensions for a connection (its `ConnectInfo`): the
/// flag that ends the connection's handshake deadline.
#[derive(Debug, Clone)]
pub(super) struct ConnInfo {
    started: Arc<AtomicBool>,
}

impl ConnInfo {
    /// A request arrived on this connection: its handshake deadline no longer applies.
    pub(super) fn request_arrived(&self) {
        self.started.store(true, Ordering::Release);
    }
}

/// The connections of `listener` under the limits of `options` (see the module doc; caps of
/// 0 are taken as 1). An accept error (a descriptor limit, say) is yielded and the stream
/// goes on, as tonic's own incoming does; tonic logs it and keeps serving.
pub(super) fn capped(
    listener: TcpListener,
    options: ServeOptions,
) -> impl Stream<Item = io::Result<Capped>> + Send + 'static {
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let clients = Clients::new(options.max_connections_per_client.max(1));
    futures::stream::unfold(
        (listener, slots, clients),
        move |(listener, slots, clients)| async move {
            // never closed; would end the stream if it were
            let permit = slots.clone().acquire_owned().await.ok()?;
            let item = loop {
                match listener.accept().await {
                    Err(e) => break Err(e),
                    Ok((io, peer)) => match clients.admit(peer.ip()) {
                        Some(client) => {
                            break Ok(Capped::new(io, permit, client, options.header_timeout))
                        }
                        None => {
                            tracing::debug!(client = %peer.ip(), "a2a grpc: client at its connection cap; closing");
                            drop(io);
                        }
                    },
                }
            };
            Some((item, (listener, slots, clients)))
        },
    )
}

impl Capped {
    fn new(
        io: TcpStream,
        permit: OwnedSemaphorePermit,
        client: ClientSlot,
        header_timeout: Duration,
    ) -> Self {
        let _ = io.set_nodelay(true);
        Capped {
            io,
            info: ConnInfo {
                started: Arc::default(),
            },
            deadline: Some(Box::pin(tokio::time::sleep(header_timeout))),
            header_timeout,
            _permit: permit,
            _client: client,
        }
    }
}

impl Connected for Capped {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

impl AsyncRead for Capped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(deadline) = this.deadline.as_mut() {
            if this.info.started.load(Ordering::Acquire) {
                this.deadline = None;
            } else if deadline.as_mut().poll(cx).is_ready() {
                // hyper closes the connection on a failed read
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no gRPC request within the header timeout ({:?})",
                        this.header_timeout
                    ),
                )));
            }
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
