//! The response body handed to the guest: hyper's incoming body with a cap on its total size
//! and a bound on the silence between two chunks.

//! [`CappedBody`]: a response body that ends in an error past a size cap or a read timeout.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{sleep, Instant, Sleep};
use wasmtime_wasi_http::Error;

/// Wraps hyper's incoming body: at most `cap` bytes of data, and no more than `idle` between
/// two frames. Past the cap the guest reads `HTTP-response-body-size`; after a silence,
/// `connection-read-timeout`.
pub struct CappedBody {
    inner: hyper::body::Incoming,
    cap: u64,
    seen: u64,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    done: bool,
}

impl CappedBody {
    /// Wraps `inner` with a size cap and an idle bound.
    pub fn new(inner: hyper::body::Incoming, cap: u64, idle: Duration) -> Self {
        CappedBody {
            inner,
            cap,
            seen: 0,
            idle,
            timer: Box::pin(sleep(idle)),
            done: false,
        }
    }
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(err))) => {
                this.done = true;
                let err = if err.is_timeout() {
                    Error::HttpResponseTimeout
                } else {
                    Error::Hyper(err)
                };
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.cap {
                        this.done = true;
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(this.cap)))));
                    }
                }
                let deadline = Instant::now() + this.idle;
                this.timer.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                this.done = true;
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
