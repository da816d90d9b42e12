//! The gRPC listener's connections under the A2A port's connection cap
//! (`ServeOptions::max_connections`, config.yaml `a2a.max_connections`): a connection is
//! accepted only once a permit is free, and gives it back when it closes, so past the cap new
//! connections wait in the kernel's listen backlog — the same rule as the HTTP listener
//! (`listen/`). Each accepted socket gets `TCP_NODELAY`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// One accepted connection holding a permit of the cap until it is dropped.
pub(super) struct Capped {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
}

/// The connections of `listener`, at most `max` open at once (`max` 0 is taken as 1).
/// An accept error (a descriptor limit, say) is yielded and the stream goes on, as tonic's
/// own incoming does; tonic logs it and keeps serving.
pub(super) fn capped(
    listener: TcpListener,
    max: usize,
) -> impl Stream<Item = io::Result<Capped>> + Send + 'static {
    let slots = Arc::new(Semaphore::new(max.max(1)));
    futures::stream::unfold((listener, slots), |(listener, slots)| async move {
        let permit = match slots.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return None, // never closed; ends the stream if it were
        };
        let item = listener.accept().await.map(|(io, _)| {
            let _ = io.set_nodelay(true);
            Capped {
                io,
                _permit: permit,
            }
        });
        Some((item, (listener, slots)))
    })
}

impl Connected for Capped {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.io.connect_info()
    }
}

impl AsyncRead for Capped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
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
