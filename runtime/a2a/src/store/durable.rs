//! [`Durable`]: what a task write returns — a future that resolves once the write is
//! committed to the database file (or failed), which any number of waiters can share: the
//! reply that names the task, and each stream whose next event carries the written state.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::{FutureExt as _, Shared};
use tokio::sync::oneshot;

use super::types::StoreError;

/// The store thread's side of one write: it sends the write's outcome once it is known.
pub(super) type Ack = oneshot::Sender<Result<(), StoreError>>;

/// Resolves once a queued task write is committed (`Ok`), or with the error that kept it
/// from being stored (`StoreError::Write` naming the task and the file, or `Closed`).
/// Cheap to clone; every clone resolves the same way. A write superseded by a newer write of
/// the same task in the same transaction resolves with the newer write's outcome.
#[derive(Clone)]
pub struct Durable {
    outcome: Shared<Outcome>,
}

/// The receiving end of an [`Ack`], with the store's path for the "store closed" error.
struct Outcome {
    rx: oneshot::Receiver<Result<(), StoreError>>,
    path: std::sync::Arc<str>,
}

impl Future for Outcome {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|r| {
            r.unwrap_or_else(|_| {
                Err(StoreError::Closed {
                    path: self.path.to_string(),
                })
            })
        })
    }
}

impl Durable {
    /// A pending write (the store thread answers on the returned [`Ack`]) of the store at
    /// `path`.
    pub(super) fn pending(path: std::sync::Arc<str>) -> (Ack, Durable) {
        let (tx, rx) = oneshot::channel();
        let durable = Durable {
            outcome: Outcome { rx, path }.shared(),
        };
        (tx, durable)
    }

    /// A write whose outcome is already known.
    pub(super) fn done(path: std::sync::Arc<str>, outcome: Result<(), StoreError>) -> Durable {
        let (tx, durable) = Durable::pending(path);
        let _ = tx.send(outcome);
        durable
    }
}

impl Future for Durable {
    type Output = Result<(), StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.outcome).poll(cx)
    }
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durable")
            .field("known", &self.outcome.peek().is_some())
            .finish()
    }
}
