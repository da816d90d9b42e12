//! The response body handed to the guest: hyper's incoming body with a cap on its total size
//! and a bound on the silence between two chunks.

//! [`CappedBody`]: a response body that ends in an error past a size cap, a read timeout or the
//! call's byte budget. [`MeteredBody`]: a request body counted against that budget.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{sleep, Instant, Sleep};
use wasmtime_wasi_http::Error;

use crate::budget::CallBudget;

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
    budget: Option<(CallBudget, Arc<str>)>,
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
            budget: None,
        }
    }

    /// Also counts the data against `budget` (of the component labelled `component`): a
    /// frame past it ends the body with the budget's error instead of arriving.
    pub fn with_budget(mut self, budget: CallBudget, component: &str) -> Self {
        self.budget = Some((budget, component.into()));
        self
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
                    if let Some((budget, component)) = &this.budget {
                        if let Err(err) = budget.take_bytes(component, data.len() as u64) {
                            this.done = true;
                            return Poll::Ready(Some(Err(err)));
                        }
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

/// A request body whose data is counted against the call's [`CallBudget`]: a frame past the
/// budget ends the body with the budget's error (hyper then abandons the request), and the
/// refusal text is kept in [`MeteredBody::refused`] for the error the guest gets.
pub struct MeteredBody<B> {
    inner: B,
    budget: CallBudget,
    component: Arc<str>,
    refused: Arc<OnceLock<String>>,
}

impl<B> MeteredBody<B> {
    /// Counts `inner`'s data against `budget` of the component labelled `component`.
    pub fn new(inner: B, budget: CallBudget, component: &str) -> Self {
        MeteredBody {
            inner,
            budget,
            component: component.into(),
            refused: Arc::default(),
        }
    }

    /// Set to the refusal text once the budget stopped this body.
    pub fn refused(&self) -> Arc<OnceLock<String>> {
        self.refused.clone()
    }
}

impl<B: Body<Data = Bytes, Error = Error> + Unpin> Body for MeteredBody<B> {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.refused.get().is_some() {
            return Poll::Ready(None);
        }
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame {
            if let Some(data) = frame.data_ref() {
                if let Err(err) = this.budget.take_bytes(&this.component, data.len() as u64) {
                    if let Error::InternalError(Some(text)) = &err {
                        let _ = this.refused.set(text.clone());
                    }
                    return Poll::Ready(Some(Err(err)));
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.refused.get().is_some() || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
