//! The per-connection timeouts of `listen`: what phase a connection is in (idle, reading a
//! request's headers, or serving requests), the socket wrapper that fails a read once the
//! idle or header deadline of that phase has passed, the request-body wrapper that fails once
//! the body deadline has passed, and the response-body wrapper that marks the end of a
//! request. A connection's first request has the header deadline from when it was accepted
//! (a client that connects and sends nothing does not hold a slot for the idle timeout), and
//! a write to a client that stops reading fails once it makes no progress for the write
//! deadline. A failed read or write makes hyper close the connection.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use axum::body::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The error a request body gives once its deadline has passed; the handlers answer it with
/// 408 (see `http::read_body`).
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub(crate) struct BodyTimedOut(pub(crate) Duration);

/// Where a connection is, as far as its timeouts are concerned.
struct PhaseState {
    /// Requests whose response has not been fully written.
    in_flight: usize,
    /// When the connection last became idle (no request in flight).
    idle_since: Instant,
    /// No request has started yet: the connection's first bytes are due within the header
    /// deadline from its accept, not the idle one.
    fresh: bool,
    /// When the first byte of the next request's headers arrived, while idle.
    head_started: Option<Instant>,
    /// The task of a read left pending without a deadline (a request was in flight): woken
    /// when the connection becomes idle, so the read arms the idle deadline.
    reader: Option<Waker>,
}

/// A connection's phase, shared by its socket wrapper and its service (both run on the
/// connection's task, so the lock is never contended).
pub(super) struct Phase {
    state: Mutex<PhaseState>,
    header_timeout: Duration,
    idle_timeout: Duration,
}

impl Phase {
    /// A connection accepted now, with these timeouts.
    pub(super) fn new(header_timeout: Duration, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Phase {
            state: Mutex::new(PhaseState {
                in_flight: 0,
                fresh: true,
                idle_since: Instant::now(),
                head_started: None,
                reader: None,
            }),
            header_timeout,
            idle_timeout,
        })
    }

    fn lock(&self) -> MutexGuard<'_, PhaseState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request's headers were read; the guard ends it when its response body is dropped.
    pub(super) fn request_started(self: &Arc<Self>) -> InFlight {
        let mut st = self.lock();
        st.in_flight += 1;
        st.fresh = false;
        st.head_started = None;
        InFlight(self.clone())
    }

    /// Bytes arrived from the client.
    fn bytes_read(&self) {
        let mut st = self.lock();
        if st.in_flight == 0 && st.head_started.is_none() {
            st.head_started = Some(Instant::now());
        }
    }

    /// When a read still pending must fail: the header deadline while a request's headers are
    /// arriving, the idle deadline while nothing is, none while a request is being served
    /// (its body has its own deadline, and a long response such as a stream is not idle).
    /// A read without a deadline registers `waker` to hear when one applies.
    fn read_deadline(&self, waker: &Waker) -> Option<Instant> {
        let mut st = self.lock();
        if st.in_flight > 0 {
            st.reader = Some(waker.clone());
            return None;
        }
        Some(match st.head_started {
            Some(at) => at + self.header_timeout,
            None if st.fresh => st.idle_since + self.header_timeout,
            None => st.idle_since + self.idle_timeout,
        })
    }
}

/// Marks one request as in flight until dropped.
pub(super) struct InFlight(Arc<Phase>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.in_flight = st.in_flight.saturating_sub(1);
        if st.in_flight == 0 {
            st.idle_since = Instant::now();
            if let Some(reader) = st.reader.take() {
                reader.wake();
            }
        }
    }
}

/// A socket whose reads fail with `TimedOut` once the deadline of the connection's phase has
/// passed while a read is pending, and whose writes fail with `TimedOut` once a write (or
/// flush) has stayed pending, with no byte taken, for the write limit.
pub(super) struct TimedIo<T> {
    inner: T,
    phase: Arc<Phase>,
    timer: Option<(Instant, Pin<Box<Sleep>>)>,
    write_limit: Duration,
    /// Armed when a write is first left pending; disarmed when bytes are taken.
    write_timer: Option<Pin<Box<Sleep>>>,
}

impl<T> TimedIo<T> {
    /// Wraps `inner`, reading the connection's phase from `phase`; a write making no progress
    /// for `write_limit` fails.
    pub(super) fn new(inner: T, phase: Arc<Phase>, write_limit: Duration) -> Self {
        TimedIo {
            inner,
            phase,
            timer: None,
            write_limit,
            write_timer: None,
        }
    }

    /// The outcome of a write-side poll: progress disarms the write deadline; pending arms
    /// it, and turns into `TimedOut` once it has passed.
    fn write_progress<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.write_timer = None;
            return polled;
        }
        let limit = self.write_limit;
        let timer = self
            .write_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the client read none of the response for {limit:?}"),
        )))
    }

    /// Ready once `deadline` has passed (re-arming the timer when the deadline moved).
    fn expired(&mut self, cx: &mut Context<'_>, deadline: Instant) -> bool {
        match &mut self.timer {
            Some((at, sleep)) if *at == deadline => sleep.as_mut().poll(cx).is_ready(),
            Some((at, sleep)) => {
                *at = deadline;
                sleep.as_mut().reset(deadline);
                sleep.as_mut().poll(cx).is_ready()
            }
            None => {
                let mut sleep = Box::pin(tokio::time::sleep_until(deadline));
                let done = sleep.as_mut().poll(cx).is_ready();
                self.timer = Some((deadline, sleep));
                done
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.phase.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some(deadline) = self.phase.read_deadline(cx.waker()) else {
                    return Poll::Pending;
                };
                if self.expired(cx, deadline) {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client sent no complete request in time",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.write_progress(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.write_progress(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.write_progress(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that fails with [`BodyTimedOut`] unless it ends within its time limit,
/// counted from when the request's headers were read.
pub(super) struct TimedBody<B> {
    inner: B,
    limit: Duration,
    deadline: Instant,
    /// Armed the first time the body is not ready, so a body that is already there costs no
    /// timer.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<B> TimedBody<B> {
    /// Wraps `inner`, which must end within `limit` from now.
    pub(super) fn new(inner: B, limit: Duration) -> Self {
        TimedBody {
            inner,
            limit,
            deadline: Instant::now() + limit,
            sleep: None,
        }
    }
}

impl<B> HttpBody for TimedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = self.deadline;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimedOut(self.limit)))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request in flight until it is dropped (hyper drops it
/// once the response is written, or the connection is gone).
pub(super) struct Tracked<B> {
    pub(super) inner: B,
    pub(super) _request: InFlight,
}

impl<B: HttpBody + Unpin> HttpBody for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
